"""Where frames come from: one image, a folder of images, a video file or a camera.

Still sources (ImageSource, FolderSource) hand out frames on request. Streaming sources (VideoSource,
CameraSource) wrap `cv2.VideoCapture` and are read by a CaptureThread that keeps only the newest frame in a
one-slot holder (LatestSlot): when the consumer (the inference worker, the display) is slower than the
source, stale frames are dropped and counted, never queued, so what is shown is always the latest capture
(the same policy as a camera driver with a one-buffer ring). Pause freezes the stream; `step()` reads exactly
one frame while paused. End of a video and read failures in the middle of a stream are reported, not raised
in the capture thread.

No Qt here: the Session (explorer.core.session) owns the current source and hands a stream's capture thread
its pipeline's slot.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, TypeVar

import cv2
import numpy as np

from explorer.core.errors import ImageLoadError, SourceError
from explorer.core.images import is_image_path, load_image, silence_opencv_log
from explorer.core.results import Frame

silence_opencv_log()  # VideoCapture's backends log "can't open camera by index" etc.; we raise SourceError

T = TypeVar("T")


class EndOfStream(SourceError):
    """A video file reached its last frame."""


# -- still sources --------------------------------------------------------------------------------------------
class ImageSource:
    """One image file."""

    kind = "image"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        t0 = time.perf_counter()
        image = load_image(self.path)
        self.frame = Frame(image, str(self.path), 0, time.perf_counter(), (time.perf_counter() - t0) * 1000)

    def current(self) -> Frame:
        return self.frame

    def close(self) -> None:  # nothing held open
        pass


@dataclass
class SkippedFile:
    path: Path
    message: str


class FolderSource:
    """The images of a folder in name order, stepped with next()/previous(); bad files are skipped and reported.

    `files` holds the files that decode or have not been tried yet: a file that fails to decode leaves it when it
    is found, so "3 of N" counts only images a user can step to. `skipped` lists every file that failed (with its
    one-sentence message); `on_skip` is called for each as it is found, so a UI can show it in the status bar.
    """

    kind = "folder"

    def __init__(self, path: str | os.PathLike, on_skip: Callable[[SkippedFile], None] | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise SourceError(f"cannot open folder '{self.path}': it is not a folder")
        try:
            entries = sorted(p for p in self.path.iterdir() if p.is_file() and is_image_path(p))
        except OSError as exc:
            raise SourceError(f"cannot list folder '{self.path}': {exc.strerror or exc}") from None
        if not entries:
            raise SourceError(f"folder '{self.path}' holds no image files")
        self.files: list[Path] = entries
        self.skipped: list[SkippedFile] = []
        self.on_skip = on_skip
        self.position = -1
        self.frame: Frame | None = None
        if self._move(+1, start=0) is None:
            raise SourceError(f"none of the {len(entries)} image files in '{self.path}' could be decoded")

    def __len__(self) -> int:
        return len(self.files)

    def _skip(self, path: Path, message: str) -> None:
        if path in self.files:  # out of the count; the file shown keeps its place
            index = self.files.index(path)
            del self.files[index]
            if index < self.position:
                self.position -= 1
        if all(s.path != path for s in self.skipped):
            item = SkippedFile(path, message)
            self.skipped.append(item)
            if self.on_skip:
                self.on_skip(item)

    def _move(self, step: int, start: int | None = None) -> Frame | None:
        """Go to the next decodable file in direction `step` (wrapping around); None when none decodes."""
        n = len(self.files)
        pos = (self.position + step) % n if start is None else start
        for _ in range(n):
            path = self.files[pos]
            t0 = time.perf_counter()
            try:
                image = load_image(path)
            except ImageLoadError as exc:
                self._skip(path, str(exc))  # out of `files`: forwards, the next file now has its index
                if not self.files:
                    return None
                pos = (pos if step > 0 else pos - 1) % len(self.files)
                continue
            self.position = pos
            self.frame = Frame(image, str(path), pos, time.perf_counter(), (time.perf_counter() - t0) * 1000)
            return self.frame
        return None

    def current(self) -> Frame:
        assert self.frame is not None
        return self.frame

    def next(self) -> Frame:
        return self._move(+1) or self.current()

    def previous(self) -> Frame:
        return self._move(-1) or self.current()

    def __iter__(self):
        """Every decodable image once, from the first (bad ones are skipped and recorded in `skipped`)."""
        pos = 0  # the index in `files`, which loses each bad file as it is found
        for path in list(self.files):
            t0 = time.perf_counter()
            try:
                image = load_image(path)
            except ImageLoadError as exc:
                self._skip(path, str(exc))
                continue
            yield Frame(image, str(path), pos, time.perf_counter(), (time.perf_counter() - t0) * 1000)
            pos += 1

    def close(self) -> None:
        pass


# -- streaming sources ----------------------------------------------------------------------------------------
class _CaptureSource:
    """A cv2.VideoCapture read frame by frame; `read()` returns an RGB Frame or raises SourceError/EndOfStream."""

    kind = "stream"
    live = False  # a camera: frames keep coming; a file: it ends

    def __init__(self, cap: cv2.VideoCapture, name: str) -> None:
        self.cap = cap
        self.name = name
        self.index = 0
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 < fps < 1000 else 0.0
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._lock = threading.Lock()  # VideoCapture is not thread-safe; read and release under this lock
        self._bgr: np.ndarray | None = None  # OpenCV decodes into this array again while its size stays
        self.pool = FramePool()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) reported by the capture."""
        return int(self.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def read(self) -> Frame:
        t0 = time.thread_time()  # the frame's capture cost: this thread's CPU time, not its wait to be scheduled
        with self._lock:
            if self.cap is None:
                raise SourceError(f"{self.name} is closed")
            try:
                ok, bgr = self.cap.read(self._bgr)
                if ok and bgr is not None:
                    self._bgr = bgr
            except cv2.error as exc:
                raise SourceError(f"reading {self.name} failed at frame {self.index}: {exc.err}") from None
        if not ok or bgr is None or bgr.size == 0:
            # a file that never gave a frame did not end: it cannot be decoded (OpenCV opens any file whose
            # name looks like an image sequence, and then reads nothing)
            frames = f"{self.index} frame" + ("" if self.index == 1 else "s")
            if not self.live and self.frame_count and 0 < self.index and self.index >= self.frame_count - 1:
                raise EndOfStream(f"{self.name} ended after {frames}")
            if not self.live and self.index > 0 and not self.frame_count:
                raise EndOfStream(f"{self.name} ended after {frames}")
            if not self.live and self.index == 0:
                raise SourceError(f"cannot open video '{self.name}': OpenCV read no frame from it")
            where = "the first frame" if self.index == 0 else f"frame {self.index}"
            if self.live:
                raise SourceError(f"reading {self.name} failed at {where}: the camera stopped sending frames "
                                  "(was it unplugged, or taken by another program?)")
            raise SourceError(f"reading {self.name} failed at {where} of {self.frame_count or '?'}: the file is "
                              "damaged or cut short there")
        rgb = self.pool.get((bgr.shape[0], bgr.shape[1], 3))
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB if bgr.ndim == 3 else cv2.COLOR_GRAY2RGB, dst=rgb)
        frame = Frame(rgb, self.name, self.index, time.perf_counter(), (time.thread_time() - t0) * 1000)
        self.index += 1
        return frame

    def close(self) -> None:
        with self._lock:
            if self.cap is not None:
                self.cap.release()
                self.cap = None

    def open_in_this_thread(self) -> None:
        """For a file: open the decoder again from the calling thread (before the first frame), so that the
        decoder threads FFmpeg starts for frame-threaded codecs (MPEG-4, H.264, HEVC) inherit this thread's CPU
        priority (the capture thread's: explorer.core.threads.lower_priority). A camera is left as it is."""


class VideoSource(_CaptureSource):
    """A video file decoded by OpenCV."""

    kind = "video"

    def __init__(self, path: str | os.PathLike) -> None:
        p = Path(path)
        if not p.exists():
            raise SourceError(f"cannot open video '{p}': no such file")
        if p.is_dir():
            raise SourceError(f"cannot open video '{p}': it is a folder")
        if _is_still_image(p):
            # OpenCV's FFmpeg backend opens a JPEG or PNG as a one-frame "video" that then "ends after 1 frame"
            raise SourceError(f"cannot open video '{p}': it is an image; open it as an image (File > Open image)")
        # OpenCV's FFmpeg backend takes a UTF-8 path string; reading from bytes is not possible for video.
        cap = cv2.VideoCapture(str(p))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open video '{p.name}': OpenCV cannot decode it")
        super().__init__(cap, p.name)
        self.path = p

    def open_in_this_thread(self) -> None:
        with self._lock:
            if self.cap is None or self.index:
                return
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():  # opened a moment ago: keep that one
                cap.release()
                return
            self.cap.release()
            self.cap = cap


class CameraSource(_CaptureSource):
    """A camera by index (or, for tests and IP cameras, a device path/URL), at a chosen resolution."""

    kind = "camera"
    live = True

    def __init__(self, index: int | str = 0, resolution: tuple[int, int] | None = None) -> None:
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"no camera at index {index}" if isinstance(index, int)
                              else f"cannot open camera '{index}'")
        # Latest wins down to the driver: a one-frame buffer (V4L2, DirectShow; ignored where unsupported), so a
        # frame read late is the newest, not one queued a few frames ago.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if resolution is not None:
            # A request: the driver picks its nearest mode; `size` reports what it chose.
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(resolution[0]))
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(resolution[1]))
        super().__init__(cap, f"camera:{index}")
        self.requested_resolution = resolution


class FramePool:
    """Pixel memory for frames, reused once nobody holds the frame any more.

    A frame's array is handed to the pipeline, the model's input (torch.from_numpy keeps a reference), a result
    and the view that paints it (which keeps it for as long as it shows it). So an array may be written again
    only when the pool's own reference is the last one: `sys.getrefcount` tells (a view or a tensor over it
    holds a reference to it too). Otherwise a new array is made; at most `limit` are kept.
    """

    def __init__(self, limit: int = 6) -> None:
        self.limit = limit
        self._arrays: list[np.ndarray] = []
        self.made = 0
        self.reused = 0

    def get(self, shape: tuple[int, ...], dtype: type = np.uint8) -> np.ndarray:
        import sys

        for i in range(len(self._arrays)):
            # 2: the list's reference and getrefcount's own argument: nobody else holds it
            if self._arrays[i].shape == shape and sys.getrefcount(self._arrays[i]) == 2:
                self.reused += 1
                return self._arrays[i]
        array = np.empty(shape, dtype)
        self.made += 1
        self._arrays.append(array)
        if len(self._arrays) > self.limit:
            self._arrays.pop(0)  # the oldest: whoever holds it keeps it; the pool forgets it
        return array


# -- the capture thread ---------------------------------------------------------------------------------------
class LatestSlot(Generic[T]):
    """A one-slot holder: `put` replaces whatever is waiting (counted in `dropped`); `take` empties it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._woken = False
        self.dropped = 0
        self.put_count = 0
        self.taken = 0

    def put(self, item: T) -> bool:
        """Store `item`; True when it replaced an item nobody had taken (a dropped, stale frame)."""
        with self._cond:
            replaced = self._item is not None
            if replaced:
                self.dropped += 1
            self._item = item
            self.put_count += 1
            self._cond.notify_all()
            return replaced

    def take(self, timeout: float | None = 0.0) -> T | None:
        """The waiting item (removing it), waiting up to `timeout` seconds (None = forever); None if nothing
        came, or when `wake` was called meanwhile."""
        with self._cond:
            if self._item is None and not self._woken and timeout != 0.0:
                self._cond.wait_for(lambda: self._item is not None or self._woken, timeout)
            self._woken = False
            item, self._item = self._item, None
            if item is not None:
                self.taken += 1  # with the consumer's own count of what it finished: what is in flight
            return item

    def wake(self) -> None:
        """Let a waiting `take` return now (with the item if there is one): the consumer has other work."""
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def peek(self) -> T | None:
        with self._cond:
            return self._item


class CaptureThread(threading.Thread):
    """Reads a streaming source in its own thread into a LatestSlot.

    pace: for video files, sleep to play at the file's own frame rate (a camera paces itself). Without pacing
    the file is read as fast as it decodes and the slot drops what the consumer cannot take.
    slot: where frames go; the Session passes its pipeline's, so a frame goes from this thread straight to
    the model's, with no thread in between.
    loop: restart a video file at its end instead of stopping.
    `status` is "running", "paused", "ended" or "error"; `message` says why it stopped; `on_event(status,
    message)` is called from this thread when it stops.
    """

    def __init__(self, source: _CaptureSource, *, pace: bool = True, loop: bool = False,
                 on_event: Callable[[str, str], None] | None = None, slot: LatestSlot | None = None) -> None:
        super().__init__(name=f"capture {source.name}", daemon=True)
        self.source = source
        # the consumer's own slot (the Session's pipeline takes frames straight from it), or one of its own
        self.slot: LatestSlot[Frame] = slot if slot is not None else LatestSlot()
        self.generation = 0  # stamped on every frame: the Session drops frames of a source it has closed
        self.pace = pace and not source.live and source.fps > 0
        self.loop = loop
        self.on_event = on_event
        self.status = "running"
        self.message = ""
        self.frames_read = 0
        self.last_frame: Frame | None = None
        self._stop_event = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._step_requests = 0
        self._lock = threading.Lock()

    # -- control, from any thread --
    @property
    def dropped(self) -> int:
        return self.slot.dropped

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def pause(self) -> None:
        self._resume.clear()
        if self.status == "running":
            self.status = "paused"

    def resume(self) -> None:
        if self.status == "paused":
            self.status = "running"
        self._resume.set()

    def toggle_pause(self) -> bool:
        """Pause or resume; returns True when now paused."""
        if self.paused:
            self.resume()
        else:
            self.pause()
        return self.paused

    def step(self) -> None:
        """While paused, read exactly one more frame (pauses first if running)."""
        if not self.paused:
            self.pause()
        with self._lock:
            self._step_requests += 1
        self._resume.set()  # wake the loop for one frame; it clears again after reading

    def stop(self, timeout: float = 2.0) -> None:
        self._stop_event.set()
        self._resume.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        self.source.close()

    # -- the loop --
    def run(self) -> None:
        from explorer.core.threads import CAPTURE_NICE, lower_priority

        lower_priority(CAPTURE_NICE)  # decode in the gaps the model's threads leave (explorer.core.threads)
        self.source.open_in_this_thread()  # and FFmpeg's decoder threads with it
        period = 1.0 / self.source.fps if self.pace else 0.0
        next_time = time.perf_counter()
        while not self._stop_event.is_set():
            self._resume.wait()
            if self._stop_event.is_set():
                break
            stepping = False
            with self._lock:
                if self._step_requests:
                    self._step_requests -= 1
                    stepping = True
            try:
                frame = self.source.read()
            except EndOfStream as exc:
                if self.loop and isinstance(self.source, VideoSource) and self.frames_read:
                    self._rewind()
                    continue
                self._finish("ended", str(exc))
                return
            except SourceError as exc:
                self._finish("error", str(exc))
                return
            frame.generation = self.generation
            self.frames_read += 1
            self.last_frame = frame
            self.slot.put(frame)
            if stepping:
                with self._lock:
                    if not self._step_requests:
                        self._resume.clear()
                next_time = time.perf_counter()
                continue
            if period:
                next_time += period
                delay = next_time - time.perf_counter()
                if delay > 0:
                    self._stop_event.wait(delay)
                else:
                    next_time = time.perf_counter()  # behind: do not try to catch up with a burst

    def _rewind(self) -> None:
        with self.source._lock:
            if self.source.cap is not None:
                self.source.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self.source.index = 0

    def _finish(self, status: str, message: str) -> None:
        self.status = status
        self.message = message
        on_event = self.on_event  # read once: the Session may clear it from another thread meanwhile
        if on_event is not None:
            on_event(status, message)


_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"II*\x00", b"MM\x00*")  # not GIF: it may move


def camera_devices(dev: Path = Path("/dev")) -> list[int] | None:
    """The indexes of the video devices Linux lists (/dev/videoN, what OpenCV's V4L2 backend opens for index N),
    without opening them (opening a camera can take seconds, or the device from another program); None where
    there is no such folder to look in (other systems: the index is tried when opened)."""
    if not dev.is_dir():
        return None
    found = []
    for entry in dev.glob("video*"):
        suffix = entry.name[len("video"):]
        if suffix.isdigit():
            found.append(int(suffix))
    return sorted(found)


def _is_still_image(path: Path) -> bool:
    """A still image by its first bytes (JPEG, PNG, BMP, TIFF; WebP's RIFF....WEBP), whatever its name."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def open_source(spec: str | int, resolution: tuple[int, int] | None = None):
    """A source from a command-line SOURCE: a camera index ("0"), a folder, a video file or an image file."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec), resolution)
    p = Path(spec)
    if p.is_dir():
        return FolderSource(p)
    if not p.exists():
        raise SourceError(f"cannot open '{spec}': no such file, folder or camera index")
    if is_image_path(p):
        return ImageSource(p)
    return VideoSource(p)


def frame_from_array(image: np.ndarray, name: str = "array", index: int = 0) -> Frame:
    """Wrap an RGB uint8 array as a Frame (used by tests and benchmarks)."""
    return Frame(np.ascontiguousarray(image), name, index, time.perf_counter(), 0.0)
