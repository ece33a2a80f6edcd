"""explorer.core.sources: image, folder, video and camera sources; the latest-wins capture thread."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from explorer.core.errors import ImageLoadError, SourceError
from explorer.core.sources import (CameraSource, CaptureThread, EndOfStream, FolderSource, ImageSource,
                                   LatestSlot, VideoSource, open_source)


def write_video(path, n=40, size=(64, 48), fps=30.0, seed=0):
    """An MJPG .avi whose frame i has a gray top-left block of value 6·i (so frames can be told apart)."""
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    rng = np.random.default_rng(seed)
    for i in range(n):
        f = (rng.random((size[1], size[0], 3)) * 255).astype(np.uint8)
        f[:16, :16] = 6 * i  # gray: no chroma subsampling loss
        w.write(f)
    w.release()
    return path


def red_of(frame) -> int:
    return int(round(frame.image[4:12, 4:12, 0].mean()))


@pytest.fixture
def video(tmp_path):
    return write_video(tmp_path / "clip.avi")


def test_image_source(sample_image_path):
    src = ImageSource(sample_image_path)
    f = src.current()
    assert f.image.shape[2] == 3 and f.source == str(sample_image_path)


def test_folder_next_previous_skips_bad(tmp_path):
    for i, name in enumerate(["a.png", "c.png", "e.png"]):
        cv2.imwrite(str(tmp_path / name), np.full((4, 4, 3), 10 * (i + 1), np.uint8))
    (tmp_path / "b.png").write_bytes(b"not an image")
    (tmp_path / "d.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    skipped = []
    src = FolderSource(tmp_path, on_skip=skipped.append)
    assert len(src) == 5  # nothing tried but the first
    assert src.current().image[0, 0, 0] == 10
    assert src.next().image[0, 0, 0] == 20  # b.png skipped
    assert [s.path.name for s in skipped] == ["b.png"]
    # a file that cannot be decoded leaves the count when found: "n of N" counts images a user can step to
    assert (len(src), src.position) == (4, 1)
    assert src.next().image[0, 0, 0] == 30  # d.jpg skipped
    assert (len(src), src.position) == (3, 2)
    assert src.next().image[0, 0, 0] == 10  # wraps around
    assert src.previous().image[0, 0, 0] == 30
    assert {s.path.name for s in src.skipped} == {"b.png", "d.jpg"}
    assert all("\n" not in s.message for s in src.skipped)
    assert [(f.index, f.image[0, 0, 0]) for f in src] == [(0, 10), (1, 20), (2, 30)]


def test_folder_steps_backwards_over_bad_files_and_counts_what_decodes(tmp_path):
    """Stepping back from the first image wraps over two bad files at the end of the folder to the last image
    that decodes; iterating a fresh folder numbers the images 0, 1, 2 as the count says."""
    for name in ["a.png", "c.png", "e.png"]:
        cv2.imwrite(str(tmp_path / name), np.full((4, 4, 3), ord(name[0]), np.uint8))
    for name in ["b.png", "f.png", "g.png"]:
        (tmp_path / name).write_bytes(b"not an image")
    src = FolderSource(tmp_path)
    assert src.previous().image[0, 0, 0] == ord("e")  # g.png, f.png skipped on the way
    assert (len(src), src.position, sorted(s.path.name for s in src.skipped)) == (4, 3, ["f.png", "g.png"])
    fresh = FolderSource(tmp_path)
    assert [(f.index, f.image[0, 0, 0]) for f in fresh] == [(0, ord("a")), (1, ord("c")), (2, ord("e"))]
    assert len(fresh) == 3


def test_folder_errors(tmp_path):
    with pytest.raises(SourceError, match="no image files"):
        FolderSource(tmp_path)
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.raises(SourceError, match="could be decoded"):
        FolderSource(tmp_path)
    with pytest.raises(SourceError, match="not a folder"):
        FolderSource(tmp_path / "x.png")


def test_video_reads_every_frame_then_ends(video):
    src = VideoSource(video)
    assert src.fps == pytest.approx(30.0)
    reds = []
    with pytest.raises(EndOfStream, match="ended after 40 frames"):
        while True:
            reds.append(red_of(src.read()))
    assert len(reds) == 40
    assert abs(reds[5] - 30) <= 2 and abs(reds[39] - 234) <= 2  # MJPG is lossy


def test_video_broken_mid_stream(tmp_path, video):
    data = video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    src = VideoSource(cut)
    n = 0
    with pytest.raises(SourceError) as info:
        while True:
            src.read()
            n += 1
    assert not isinstance(info.value, EndOfStream)
    assert 0 < n < 40 and "damaged or cut short" in str(info.value)
    assert "unplugged" not in str(info.value)  # a file is not unplugged (second-round trial)


def test_video_bad_paths(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        VideoSource(tmp_path / "nope.mp4")
    (tmp_path / "x.mp4").write_bytes(b"not a video at all")
    with pytest.raises(SourceError, match="cannot open video"):
        VideoSource(tmp_path / "x.mp4")


def test_an_image_is_not_a_video_whatever_its_name(tmp_path, sample_image_path):
    """OpenCV opened a JPEG as a one-frame video that 'ended after 1 frames' (second-round trial)."""
    for name in ("photo.jpg", "photo.mp4"):
        (tmp_path / name).write_bytes(sample_image_path.read_bytes())
        with pytest.raises(SourceError, match="it is an image"):
            VideoSource(tmp_path / name)


def test_a_one_frame_video_ends_after_1_frame(tmp_path):
    src = VideoSource(write_video(tmp_path / "one.avi", n=1))
    src.read()
    with pytest.raises(EndOfStream, match="ended after 1 frame$"):
        src.read()


def test_camera_index_without_camera():
    with pytest.raises(SourceError, match="no camera at index 57"):
        CameraSource(57)


def test_opencv_and_ffmpeg_print_nothing_on_failures(tmp_path, video, capfd):
    """OpenCV's own log ("[ WARN:0@..] can't open camera by index") and its FFmpeg backend's ("moov atom not
    found", "overread") write straight to file descriptor 2: only capfd sees them. Each failure must be our one
    exception, nothing else on stderr."""
    from explorer.core.images import load_image

    capfd.readouterr()
    with pytest.raises(SourceError, match="no camera at index 99"):
        CameraSource(99)
    (tmp_path / "x.mp4").write_bytes(b"not a video at all")
    with pytest.raises(SourceError, match="cannot open video"):
        VideoSource(tmp_path / "x.mp4")
    data = video.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    src = VideoSource(tmp_path / "cut.avi")
    with pytest.raises(SourceError, match="cut short"):
        for _ in range(100):
            src.read()
    src.close()
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 100)  # OpenCV logs an [ERROR] for it
    with pytest.raises(ImageLoadError):
        load_image(tmp_path / "bad.png")
    assert capfd.readouterr().err == ""


def test_camera_stand_in_with_resolution(video):
    # A generated video file stands in for a camera (CI has none); the resolution request goes through the
    # same CAP_PROP_FRAME_WIDTH/HEIGHT calls (a file ignores it and reports its own size).
    cam = CameraSource(str(video), resolution=(320, 240))
    assert cam.size == (64, 48) and cam.requested_resolution == (320, 240)
    assert cam.read().image.shape == (48, 64, 3)
    cam.close()


def test_open_source_dispatch(tmp_path, video, sample_image_path):
    assert isinstance(open_source(str(sample_image_path)), ImageSource)
    assert isinstance(open_source(str(video)), VideoSource)
    assert isinstance(open_source(str(sample_image_path.parent)), FolderSource)
    with pytest.raises(SourceError, match="no camera"):
        open_source("57")
    with pytest.raises(SourceError, match="no such file"):
        open_source(str(tmp_path / "missing.png"))


def test_latest_slot_drops_stale():
    slot = LatestSlot()
    assert slot.take() is None
    assert slot.put(1) is False
    assert slot.put(2) is True and slot.put(3) is True
    assert slot.take() == 3 and slot.take() is None
    assert slot.dropped == 2
    threading.Timer(0.05, slot.put, args=(4,)).start()
    assert slot.take(timeout=2.0) == 4


def test_capture_thread_latest_wins_and_end(video):
    events = []
    th = CaptureThread(VideoSource(video), pace=False, on_event=lambda s, m: events.append((s, m)))
    th.start()
    th.join(5)
    assert th.status == "ended" and events and events[0][0] == "ended"
    assert th.frames_read == 40
    # nobody took frames: every frame but the last was dropped, and the slot holds the newest one
    assert th.dropped == 39
    assert red_of(th.slot.take()) == pytest.approx(234, abs=2)
    th.stop()


def test_capture_thread_pause_and_step(video):
    th = CaptureThread(VideoSource(video), pace=True)  # 30 fps: about 33 ms per frame
    th.pause()
    th.start()
    time.sleep(0.15)
    assert th.frames_read == 0 and th.slot.peek() is None
    th.step()
    first = th.slot.take(timeout=2.0)
    assert first is not None and first.index == 0
    time.sleep(0.15)
    assert th.frames_read == 1  # exactly one frame per step
    th.step()
    assert th.slot.take(timeout=2.0).index == 1
    th.resume()
    deadline = time.time() + 5
    while th.frames_read < 5 and time.time() < deadline:
        time.sleep(0.02)
    assert th.frames_read >= 5 and not th.paused
    th.stop()
    assert not th.is_alive()


def test_capture_thread_reports_broken_stream(tmp_path, video):
    data = video.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    th = CaptureThread(VideoSource(cut), pace=False)
    th.start()
    th.join(5)
    assert th.status == "error" and "cut short" in th.message


def test_capture_thread_loop(video):
    th = CaptureThread(VideoSource(video), pace=False, loop=True)
    th.start()
    deadline = time.time() + 10
    while th.frames_read < 60 and time.time() < deadline:
        time.sleep(0.01)
    th.stop()
    assert th.frames_read >= 60 and th.status != "ended"


def test_frames_reuse_memory_only_when_nobody_holds_them(tmp_path):
    """A video's frames decode into reused memory (FramePool), and a frame somebody still holds is never
    written again: the held frames keep their own pixels while later frames are read."""
    from explorer.core.sources import FramePool

    src = VideoSource(write_video(tmp_path / "v.avi", n=30, size=(64, 48)))
    held = [src.read() for _ in range(3)]
    copies = [f.image.copy() for f in held]
    for _ in range(10):
        src.read()  # not held: its memory comes back
    assert src.pool.reused >= 8 and src.pool.made <= 5
    for frame, copy in zip(held, copies):
        assert np.array_equal(frame.image, copy)
    pool = FramePool(limit=2)
    a = pool.get((2, 2, 3))
    view = a[:1]  # a view (or a tensor) over the array holds it too
    del a
    assert pool.get((2, 2, 3)) is not view.base


def test_camera_devices_are_the_video_nodes_linux_lists(tmp_path):
    """File > Open camera names the cameras the machine has (new-user trial: nothing said which exist), from
    /dev/videoN without opening them; a system without that folder says nothing."""
    from explorer.core.sources import camera_devices

    for name in ("video2", "video0", "video10", "videoX", "vbi0", "media0"):
        (tmp_path / name).write_text("")
    assert camera_devices(tmp_path) == [0, 2, 10]
    assert camera_devices(tmp_path / "missing") is None
    assert camera_devices(tmp_path / "video0") is None  # a file, not a folder
