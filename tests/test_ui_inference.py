"""The live inference panel driven through pytest-qt: sources, results, overlays, errors, probes.

The panel is built as the window builds it, from an AppState and a SessionBridge (fixture `app_state`); models
and sources are opened through the bridge, as the menus do.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import pyqtgraph as pg
import pytest
import torch
from PySide6.QtCore import Qt

from explorer.core import zoo
from explorer.core.opening import ModelHandle
from explorer.core.results import Detection, Frame, FrameResult, Segmentation
from explorer.ui.inference_panel import InferencePanel, voc_palette
from tests.conftest import open_model_and_wait
from tests.test_sources import write_video


@pytest.fixture
def panel(qtbot, app_state):
    state, bridge = app_state
    p = InferencePanel(state, bridge)
    qtbot.addWidget(p)
    p.resize(800, 600)
    p.bridge = bridge
    return p


def fake_handle(name, weights="random"):
    """A handle with no model: for drawing tests that hand the panel a result directly."""
    return ModelHandle(name, zoo.get(name), None, weights, "cpu", seed=0 if weights == "random" else None)


def test_open_image_and_bad_path_keeps_previous(panel, qtbot, sample_image_path, tmp_path):
    state, bridge = panel.state, panel.bridge
    with qtbot.waitSignal(state.frameChanged, timeout=5000):
        assert bridge.open_image(str(sample_image_path)) is True
    shown = panel.image_item.image
    ref = cv2.cvtColor(cv2.imread(str(sample_image_path)), cv2.COLOR_BGR2RGB)
    assert np.array_equal(shown, ref)
    assert panel.source_label.text() == "image: chelsea.jpg"
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    for bad in (str(tmp_path / "missing.png"), str(tmp_path / "broken.jpg"), str(tmp_path)):
        with qtbot.waitSignal(state.error, timeout=5000) as blocker:
            assert bridge.open_image(bad) is False
        assert "\n" not in blocker.args[0]
        assert panel.image_item.image is shown and state.frame.source == str(sample_image_path)
        assert state.source.path == str(sample_image_path)
    with qtbot.waitSignal(state.error, timeout=5000) as blocker:
        assert bridge.open_camera(57) is False
    assert "no camera" in blocker.args[0]


class _ShapeProbe:
    name = "layer4"

    def attach(self, model):
        self.shape = None
        self.h = model.layer4.register_forward_hook(lambda m, i, o: setattr(self, "shape", tuple(o.shape)))

    def detach(self):
        self.h.remove()

    def collect(self, ctx):
        return self.shape


def test_classification_result_banner_table_and_weights_combo(panel, qtbot, sample_image_path):
    state, bridge = panel.state, panel.bridge
    bridge.open_image(str(sample_image_path))
    with qtbot.waitSignal(state.resultReady, timeout=60000) as blocker:
        open_model_and_wait(qtbot, state, bridge, "resnet18")
    result = blocker.args[0]
    assert len(result.topk) == 5 and result.weights == "random"
    assert not panel.banner.isHidden() and "seed 0" in panel.banner.text()
    assert [panel.table.item(r, 1).text() for r in range(5)] == [c.label for c in result.topk]
    assert panel.table.item(0, 2).text() == f"{result.topk[0].score:.3f}"
    assert "forward" in panel.timing_label.text() and "draw" in result.timing_ms
    # the weights combo: the entry's choices + File…
    items = [panel.weights_combo.itemText(i) for i in range(panel.weights_combo.count())]
    assert items == ["random", "pretrained", "File…"]
    # a probe added through the bridge reaches the engine and its data comes back with the still run again
    with qtbot.waitSignal(state.resultReady, timeout=60000) as blocker:
        bridge.add_probe(_ShapeProbe())
    assert blocker.args[0].extras["layer4"] == (1, 512, 7, 7)
    assert bridge.has_probe("layer4")
    bridge.remove_probe("layer4")
    assert not bridge.has_probe("layer4")


def test_a_weights_file_that_fails_leaves_the_model_its_weights_and_no_busy_state(panel, qtbot, sample_image_path,
                                                                                 tmp_path):
    """New-user trial: a weights file of another architecture left the Weights box on the failed choice, the
    status "Loading … weights…" for good and the table greyed "loading resnet18…" until another image."""
    state, bridge = panel.state, panel.bridge
    bridge.open_image(str(sample_image_path))
    with qtbot.waitSignal(state.resultReady, timeout=60000):
        open_model_and_wait(qtbot, state, bridge, "resnet18")
    bad = tmp_path / "alexnet_weights.pt"
    torch.save(zoo.build("alexnet").state_dict(), bad)
    stages = []
    state.stageChanged.connect(stages.append)
    with qtbot.waitSignal(state.modelFailed, timeout=60000) as blocker:
        panel.weights_combo.setCurrentIndex(1)
        bridge.set_weights(str(bad))
        assert "loading resnet18" in panel.timing_label.text()  # while it loads, the result is greyed
    assert "alexnet_weights.pt" in blocker.args[0]
    assert state.handle.weights == "random" and state.loading == ""
    assert panel.weights_combo.currentText() == "random"        # the weights in effect, not the failed ones
    assert panel.table.isEnabled() and "loading" not in panel.timing_label.text()
    assert "forward" in panel.timing_label.text()
    assert stages and stages[-1] == ""                          # no loading stage stays in sight
    assert not state.pending


def test_video_plays_through_resnet18(panel, qtbot, tmp_path):
    state, bridge = panel.state, panel.bridge
    video = write_video(tmp_path / "clip.avi", n=30, size=(96, 64), fps=30.0)
    open_model_and_wait(qtbot, state, bridge, "resnet18")
    results = []
    state.resultReady.connect(results.append)
    fps = []
    state.fpsChanged.connect(fps.append)
    assert bridge.open_video(str(video), loop=True)  # loops: a slow, shared CPU still sees several results
    assert state.live
    qtbot.waitUntil(lambda: len(results) >= 3, timeout=60000)
    stamps = [r.frame.timestamp for r in results]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # newer frames each time, in order
    assert all(r.topk and r.frame.image.shape == (64, 96, 3) for r in results)
    qtbot.waitUntil(lambda: bool(fps) and fps[-1] > 0, timeout=30000)
    assert "fps" in panel.timing_label.text()
    # pause freezes, step advances by exactly one frame
    with qtbot.waitSignal(state.liveChanged, timeout=5000):
        bridge.toggle_pause()
    assert state.source.status == "paused" and panel.pause_button.text() == "Resume"
    qtbot.wait(300)
    capture = bridge.session._capture
    frames_before = capture.frames_read
    bridge.step()
    qtbot.waitUntil(lambda: capture.frames_read == frames_before + 1, timeout=5000)
    qtbot.wait(150)
    assert capture.frames_read == frames_before + 1


def test_video_end_is_reported(panel, qtbot, tmp_path):
    state, bridge = panel.state, panel.bridge
    video = write_video(tmp_path / "short.avi", n=3, size=(32, 32), fps=100.0)
    with qtbot.waitSignal(state.message, timeout=10000) as blocker:
        bridge.open_video(str(video))
    assert "ended after 3 frames" in blocker.args[0]
    # nothing left to pause or step: the button offers to play it again, from its first frame
    qtbot.waitUntil(lambda: panel.pause_button.text() == "Replay", timeout=5000)
    assert panel.pause_button.isEnabled() and not panel.step_button.isEnabled()
    assert not panel.next_button.isEnabled()
    with qtbot.waitSignal(state.message, timeout=10000) as blocker:
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.pause_button.text() == "Pause", timeout=5000)
        assert panel.step_button.isEnabled()
    assert "ended after 3 frames" in blocker.args[0]


def test_folder_next_previous_and_bad_file(panel, qtbot, tmp_path):
    state, bridge = panel.state, panel.bridge
    for i, name in enumerate(("a.png", "c.png")):
        cv2.imwrite(str(tmp_path / name), np.full((10, 10, 3), 50 * (i + 1), np.uint8))
    (tmp_path / "b.png").write_bytes(b"nope")
    assert bridge.open_folder(str(tmp_path))
    assert panel.image_item.image[0, 0, 0] == 50
    assert panel.source_label.text() == "folder: a.png (1 of 3)"
    with qtbot.waitSignal(state.message, timeout=5000) as blocker:  # a note, not an error (e7d2685)
        bridge.next_item()
    assert "b.png" in blocker.args[0]
    qtbot.waitUntil(lambda: panel.image_item.image[0, 0, 0] == 100, timeout=5000)
    # new-user trial: "3 of 3" counted the file that cannot be decoded, and the user never saw a "2 of 3"
    assert panel.source_label.text() == "folder: c.png (2 of 2 · 1 skipped)"
    bridge.previous_item()
    qtbot.waitUntil(lambda: panel.image_item.image[0, 0, 0] == 50, timeout=5000)
    assert panel.source_label.text() == "folder: a.png (1 of 2 · 1 skipped)"


def _enabled(panel) -> dict[str, bool]:
    return {name: getattr(panel, f"{name}_button").isEnabled() for name in ("prev", "next", "step", "pause")}


def test_each_source_button_does_one_thing_for_one_kind_of_source(panel, qtbot, sample_image_path, tmp_path):
    """New-user trial: Step and Next ▶ both went to a folder's next image, and both stepped a video one frame.
    Prev/Next move in a folder, Step steps a video or camera one frame (pausing it), Pause is for streams."""
    state, bridge = panel.state, panel.bridge
    assert "folder only" in panel.next_button.toolTip() and "folder only" in panel.prev_button.toolTip()
    assert "frame" not in panel.next_button.toolTip()
    assert "video or camera only" in panel.step_button.toolTip() and "folder" not in panel.step_button.toolTip()
    assert "video or camera only" in panel.pause_button.toolTip()
    assert bridge.open_image(str(sample_image_path))
    assert _enabled(panel) == {"prev": False, "next": False, "step": False, "pause": False}
    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((10, 10, 3), 50 * (i + 1), np.uint8))
    assert bridge.open_folder(str(folder))
    assert _enabled(panel) == {"prev": True, "next": True, "step": False, "pause": False}
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: state.source.position == 1, timeout=5000)
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)  # disabled: no second way to the next image
    qtbot.wait(200)
    assert state.source.position == 1 and panel.source_label.text() == "folder: 1.png (2 of 3)"
    video = write_video(tmp_path / "clip.avi", n=30, size=(48, 32), fps=30.0)
    assert bridge.open_video(str(video), loop=True)
    qtbot.waitUntil(lambda: state.frame is not None and state.source.kind == "video", timeout=5000)
    assert _enabled(panel) == {"prev": False, "next": False, "step": True, "pause": True}
    capture = bridge.session._capture
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)  # one frame, and the video pauses
    qtbot.waitUntil(lambda: state.source.status == "paused", timeout=5000)
    qtbot.wait(300)
    before = capture.frames_read
    qtbot.mouseClick(panel.next_button, Qt.MouseButton.LeftButton)  # disabled: Step is the one way
    qtbot.wait(300)
    assert capture.frames_read == before
    qtbot.mouseClick(panel.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: capture.frames_read == before + 1, timeout=5000)
    assert panel.pause_button.text() == "Resume" and _enabled(panel)["step"]


def test_detection_boxes_and_threshold_slider(panel, qtbot):
    state, bridge = panel.state, panel.bridge
    scene = os.path.join(os.path.dirname(__file__), "..", "resources", "scenes", "scene_03.png")
    bridge.open_image(scene)
    with qtbot.waitSignal(state.resultReady, timeout=60000) as blocker:
        open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    result = blocker.args[0]
    h, w = state.frame.image.shape[:2]
    assert panel.threshold_row.isVisibleTo(panel)
    assert result.boxes  # the engine keeps every box above 0.05; the slider filters
    scores = sorted(d.score for d in result.boxes)
    mid = scores[len(scores) // 2]
    state.set_threshold(0.0)
    assert len(panel.detections.shown) == len(result.boxes)
    panel.threshold_slider.setValue(int(np.ceil(mid * 100)))
    assert state.threshold == panel.threshold_slider.value() / 100
    expected = [d for d in result.boxes if d.score >= state.threshold]
    assert panel.detections.shown == expected
    assert panel.table.rowCount() == max(1, len(expected))
    rect = panel.detections._paths[expected[0].class_index].path().boundingRect() if expected else None
    if expected:  # boxes are drawn in source pixels, inside the frame
        assert rect.left() >= 0 and rect.right() <= w and rect.bottom() <= h


def test_segmentation_overlay_colours_and_legend(panel, qtbot):
    mask = np.zeros((20, 30), np.int64)
    mask[5:10, 5:20] = 15  # person
    mask[12:18, 2:8] = 8   # cat
    labels = zoo.tv_weights_enum(zoo.get("fcn_resnet50")).meta["categories"]
    frame = Frame(np.zeros((20, 30, 3), np.uint8), "x.png")
    res = FrameResult(frame, "fcn_resnet50", "random", "cpu", "segmentation",
                      segmentation=Segmentation(mask, ["__background__", "cat", "person"], list(labels)))
    panel.state.set_model(fake_handle("fcn_resnet50"))
    assert panel.state.set_result(res)
    rgba = panel.segmentation.item.image
    assert tuple(rgba[7, 10, :3]) == (192, 128, 128)  # VOC's colour for person (VOCdevkit labelcolormap)
    assert tuple(rgba[15, 4, :3]) == (64, 0, 0)       # cat
    assert rgba[0, 0, 3] == 0 and rgba[7, 10, 3] > 100  # background transparent, classes semi-transparent
    assert tuple(voc_palette()[1]) == (128, 0, 0)
    names = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    assert names[:3] == ["__background__", "cat", "person"]
    assert panel.table.item(2, 2).text() == f"{100 * 75 / 600:.1f}%"


def test_screenshot(panel, qtbot, sample_image_path, tmp_path):
    """Renders the panel with a detection result; CNN_EXPLORER_SHOTS=folder keeps the picture."""
    state = panel.state
    panel.bridge.open_image(str(sample_image_path))
    qtbot.waitUntil(lambda: state.frame is not None, timeout=5000)
    frame = state.frame
    h, w = frame.image.shape[:2]
    res = FrameResult(frame, "fasterrcnn_resnet50_fpn", "random", "cpu", "detection",
                      boxes=[Detection((w * 0.2, h * 0.1, w * 0.8, h * 0.95), "cat", 0.91, 17),
                             Detection((5, 5, 60, 50), "remote", 0.55, 75)],
                      timing_ms={"capture": 1.0, "preprocess": 2.0, "forward": 30.0, "postprocess": 0.5})
    state.set_model(fake_handle("fasterrcnn_resnet50_fpn"))
    assert state.set_result(res)
    assert len(panel.detections.shown) == 2
    assert not panel.banner.isHidden() and panel.threshold_row.isVisibleTo(panel)
    pix = panel.grab()
    out = os.environ.get("CNN_EXPLORER_SHOTS") or str(tmp_path)
    assert pix.save(os.path.join(out, "inference_panel.png"))


def test_still_image_has_no_fps_and_model_change_resets_it(panel, qtbot, sample_image_path):
    """A rate between results of one still image means nothing: fps stays 0 ("–") for stills and after a
    model change; the timing line shows the forward time and no fps."""
    state, bridge = panel.state, panel.bridge
    fps = []
    state.fpsChanged.connect(fps.append)
    bridge.open_image(str(sample_image_path))
    with qtbot.waitSignal(state.resultReady, timeout=60000):
        open_model_and_wait(qtbot, state, bridge, "resnet18")
    with qtbot.waitSignal(state.resultReady, timeout=60000):
        bridge.add_probe(_ShapeProbe())  # re-runs the still: a second result a few ms later
    assert fps and all(v == 0.0 for v in fps)
    assert state.fps == 0.0
    assert "forward" in panel.timing_label.text() and "fps" not in panel.timing_label.text()
    bridge.remove_probe("layer4")
    fps.clear()
    open_model_and_wait(qtbot, state, bridge, "alexnet")
    assert state.fps == 0.0 and fps and fps[0] == 0.0


def test_pending_state_until_the_current_frames_result(panel, qtbot, sample_image_path, tmp_path):
    """After a new still frame the old predictions are greyed and the timing line says computing…; a late
    result of the previous frame is not drawn; the current frame's result clears the pending state."""
    state, bridge = panel.state, panel.bridge
    bridge.open_image(str(sample_image_path))
    with qtbot.waitSignal(state.resultReady, timeout=60000) as blocker:
        open_model_and_wait(qtbot, state, bridge, "resnet18")
    old = blocker.args[0]
    assert not state.pending and panel.table.isEnabled()
    img = (np.random.default_rng(1).random((64, 80, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "next.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    with qtbot.waitSignal(state.resultReady, timeout=60000) as blocker:
        bridge.open_image(str(tmp_path / "next.png"))
        qtbot.waitUntil(lambda: state.frame is not old.frame, timeout=5000)
        assert state.pending and not panel.table.isEnabled()
        assert panel.timing_label.text() == "computing…"
        assert np.array_equal(panel.image_item.image, img)   # the new frame is shown at once
        assert not state.set_result(old)                      # the previous frame's result, arriving late,
        assert state.pending and state.frame.source.endswith("next.png")  # ... is not drawn as the new one's
    new = blocker.args[0]
    assert new.frame.source.endswith("next.png") and state.result is new
    assert not state.pending and panel.table.isEnabled()
    assert [panel.table.item(r, 1).text() for r in range(5)] == [c.label for c in new.topk]
    assert "forward" in panel.timing_label.text()


def test_the_session_drops_an_older_stills_result(qtbot, app_state, sample_image_path, tmp_path):
    """Next in a folder while the previous image still computes: only the current image's result arrives."""
    state, bridge = app_state
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((300, 400, 3), 60 * i, np.uint8))
    open_model_and_wait(qtbot, state, bridge, "resnet18")
    results = []
    state.resultReady.connect(results.append)
    bridge.open_folder(str(tmp_path))
    bridge.next_item()
    bridge.next_item()
    qtbot.waitUntil(lambda: bool(results) and results[-1].frame.source.endswith("2.png"), timeout=60000)
    bridge.wait_idle(30)
    qtbot.wait(100)
    assert all(r.frame.source.endswith("2.png") or r is results[0] for r in results)
    assert state.result.frame is state.frame


@pytest.mark.parametrize("prefetch", [True, False])
def test_video_with_and_without_prefetch_gives_newer_frames(panel, qtbot, tmp_path, prefetch):
    """Both pipeline paths (preprocessing in the helper thread during the forward pass, or inline) deliver
    results for newer and newer frames; the auto choice picks one of them per machine."""
    state, bridge = panel.state, panel.bridge
    bridge.session.pipeline.prefetch = prefetch
    video = write_video(tmp_path / "clip.avi", n=30, size=(96, 64), fps=30.0)
    open_model_and_wait(qtbot, state, bridge, "resnet18")
    results = []
    state.resultReady.connect(results.append)
    assert bridge.open_video(str(video), loop=True)
    qtbot.waitUntil(lambda: len(results) >= 4, timeout=60000)
    stamps = [r.frame.timestamp for r in results]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert all(r.topk for r in results)
    # a prefetched frame reports the preprocessing time it took in the helper
    assert all(r.timing_ms["preprocess"] > 0 for r in results)


def test_only_the_pipeline_thread_computes_on_several_cores(panel, qtbot, sample_image_path):
    """explorer.core.threads: the pipeline thread uses torch's thread count, every other thread one."""
    import threading

    from explorer.core.threads import compute_threads

    state, bridge = panel.state, panel.bridge
    seen = {}

    class Spy:
        name = "threads-spy"

        def attach(self, model):
            pass

        def detach(self):
            pass

        def collect(self, ctx):
            seen["worker"] = (threading.current_thread().name, torch.get_num_threads())
            return None

    bridge.session.pipeline.prefetch = True
    open_model_and_wait(qtbot, state, bridge, "resnet18")
    bridge.add_probe(Spy())
    assert bridge.open_image(str(sample_image_path))
    qtbot.waitUntil(lambda: "worker" in seen, timeout=60000)
    assert seen["worker"] == ("pipeline", compute_threads())
    helper = {}
    t = threading.Thread(target=lambda: helper.update(n=_helper_threads()))
    t.start()
    t.join()
    assert helper["n"] == 1


def _helper_threads():
    from explorer.core.threads import use_one_thread

    use_one_thread()
    return torch.get_num_threads()


def test_the_results_table_names_its_columns_for_the_task_from_the_model_load_on(panel):
    for name, column in (("yolov1-tiny", "score"), ("resnet18", "probability")):
        panel.state.set_model(fake_handle(name))
        header = panel.table.horizontalHeaderItem(2).text()
        assert header == column and panel.state.result is None  # before any result


def test_detection_labels_of_overlapping_boxes_do_not_overlap(panel, qtbot):
    """Two detections of one shape (an NMS leftover) want the same corner: the better one keeps the place above
    the box, the other moves, and they stay apart after a zoom (the tags keep their screen size)."""
    panel.show()
    qtbot.waitExposed(panel)
    frame = Frame(np.zeros((224, 224, 3), np.uint8), "scene.png")
    res = FrameResult(frame, "fasterrcnn-tiny", "bundled", "cpu", "detection",
                      boxes=[Detection((20.0, 117.3, 61.5, 138.9), "triangle", 0.86, 3),
                             Detection((9.2, 119.2, 46.8, 137.6), "triangle", 0.66, 3),
                             Detection((20.0, 117.3, 61.5, 138.9), "cross", 0.55, 4)],
                      timing_ms={})
    panel.state.set_model(fake_handle("fasterrcnn-tiny", "bundled"))
    assert panel.state.set_result(res)
    texts = panel.detections._texts[:3]

    def check():
        shown = [t for t in texts if t.isVisible()]
        assert len(shown) == 3
        rects = [t.sceneBoundingRect() for t in shown]
        for i in range(3):
            for j in range(i + 1, 3):
                inter = rects[i].intersected(rects[j])
                assert inter.width() * inter.height() < 1e-6, (texts[i].toPlainText(), texts[j].toPlainText())
        # the best one sits above its box at its top-left corner: its bottom-left is the box's corner
        px, py = panel.view_box.viewPixelSize()
        best = texts[0]
        assert best.pos().x() == pytest.approx(20.0)
        assert best.pos().y() + best.boundingRect().height() * py == pytest.approx(117.3, abs=1e-6)

    check()
    panel.view_box.scaleBy((1.5, 1.5))   # zoom out: the tags grow in image pixels
    qtbot.wait(50)
    check()


def test_a_video_that_broke_can_be_replayed_and_says_what_happened(panel, qtbot, tmp_path):
    """A truncated file: the message says the file is damaged (not 'unplugged'), and Replay plays it again up to
    where it is cut (second-round trial: a video that broke could not be replayed)."""
    state, bridge = panel.state, panel.bridge
    data = write_video(tmp_path / "clip.avi", n=40, size=(64, 48), fps=200.0).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with qtbot.waitSignal(state.error, timeout=10000) as blocker:
        bridge.open_video(str(cut))
    assert "damaged or cut short" in blocker.args[0] and "unplugged" not in blocker.args[0]
    qtbot.waitUntil(lambda: panel.pause_button.text() == "Replay", timeout=5000)
    assert panel.pause_button.isEnabled()
    frames = []
    state.frameChanged.connect(frames.append)
    with qtbot.waitSignal(state.error, timeout=10000):
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert frames and frames[0].index < 10  # from its start again (frames shown at the screen's rate at most)


def test_a_frame_the_model_fails_on_is_not_computing_for_good(panel, qtbot, sample_image_path):
    """Code review: an inference failure (out of memory, a probe that breaks) left the frame 'computing…' and
    the table greyed for good."""
    state, bridge = panel.state, panel.bridge
    open_model_and_wait(qtbot, state, bridge, "resnet18")

    class Broken:
        name = "broken"

        def attach(self, model):
            pass

        def detach(self):
            pass

        def collect(self, ctx):
            raise RuntimeError("out of memory (a stand-in)")

    bridge.add_probe(Broken(), rerun=False)
    with qtbot.waitSignal(state.resultFailed, timeout=60000):
        bridge.open_image(str(sample_image_path))
    assert not state.pending and panel.table.isEnabled()
    assert panel.timing_label.text().startswith("no result: ") and "out of memory" in panel.timing_label.text()


def test_a_failed_model_open_keeps_the_boxes_of_the_model_that_stays(panel, qtbot, tmp_path):
    """Code review: a weights file that did not fit wiped the detector's boxes (greyed while loading, never drawn
    again)."""
    state, bridge = panel.state, panel.bridge
    scene = os.path.join(os.path.dirname(__file__), "..", "resources", "scenes", "scene_03.png")
    bridge.open_image(scene)
    with qtbot.waitSignal(state.resultReady, timeout=60000):
        open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    state.set_threshold(0.3)
    drawn = list(panel.detections.shown)
    assert drawn
    bad = tmp_path / "alexnet.pt"
    torch.save(zoo.build("alexnet").state_dict(), bad)
    with qtbot.waitSignal(state.modelFailed, timeout=60000):
        bridge.set_weights(str(bad))
    assert panel.detections.shown == drawn and panel.detections._paths
    assert not state.pending and state.handle.weights == "bundled"


def test_a_photo_shown_smaller_than_it_is_is_drawn_where_the_view_is(qtbot, app_state):
    """New-user trial: photos of 512 px and more stayed black. A shrunk frame is drawn 1:1 in device pixels, and
    the panel sits inside a window (a child widget paints into the window's backing store, offset): the frame
    must land in the view, not beside it."""
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    state, bridge = app_state
    outer = QWidget()
    layout = QVBoxLayout(outer)
    layout.setContentsMargins(120, 90, 10, 10)  # the panel well inside its window
    panel = InferencePanel(state, bridge)
    layout.addWidget(panel)
    qtbot.addWidget(outer)
    outer.resize(700, 800)
    outer.show()
    qtbot.waitExposed(outer)
    astronaut = os.path.join(os.path.dirname(__file__), "..", "resources", "images", "astronaut.jpg")
    assert bridge.open_image(astronaut)
    qtbot.wait(100)
    view = panel.graphics
    shot = outer.grab().toImage()  # the window, as the screen shows it (a grab of the view alone has no offset)
    image = state.frame.image
    # the frame is shrunk to fit: the view's centre shows the photo's centre (the black background is (32, 32, 32))
    middle = view.mapTo(outer, view.rect().center())
    centre = shot.pixelColor(middle.x(), middle.y())
    expected = image[image.shape[0] // 2, image.shape[1] // 2]
    assert max(abs(centre.red() - int(expected[0])), abs(centre.green() - int(expected[1])),
               abs(centre.blue() - int(expected[2]))) < 40, (centre.name(), expected)
    assert panel.image_item.mapRectToScene(panel.image_item.boundingRect()).width() < image.shape[1]  # shrunk


def test_a_selected_group_follows_a_model_change(qtbot, app_state):
    """New-user trial: alexnet's stage1 (ending at features.2) selected, then vgg16: the maps showed vgg16's
    features.2 (a convolution) while the graph marked vgg16's stage1, which ends at features.4."""
    state, bridge = app_state
    open_model_and_wait(qtbot, state, bridge, "alexnet")
    state.select("features.stage1")
    assert state.selection.layer == "features.2"
    layers = []
    state.layerSelected.connect(layers.append)
    open_model_and_wait(qtbot, state, bridge, "vgg16")
    assert state.selection.item == "features.stage1" and state.selection.layer == "features.4"
    assert layers == ["features.4"]


def test_the_source_line_says_which_frame_of_a_video_and_when_it_ended(panel, qtbot, tmp_path):
    """New-user trial: nothing showed the frame number while stepping, nor that the video ended."""
    state, bridge = panel.state, panel.bridge
    video = write_video(tmp_path / "clip.avi", n=6, size=(32, 32), fps=100.0)
    bridge.open_video(str(video))
    qtbot.waitUntil(lambda: state.source.status == "ended", timeout=10000)
    qtbot.wait(100)
    text = panel.source_label.text()
    assert text.startswith("video: clip.avi — ended · frame ") and text.endswith(" of 6"), text


def test_the_random_weights_banner_does_not_move_the_controls(panel, qtbot):
    """The banner shows with random weights and goes with others; the buttons stay where they were (they used
    to move down by the banner's height under the user's pointer: new-user trial)."""
    panel.show()
    qtbot.waitExposed(panel)

    def pause_y():
        panel.layout().activate()
        return panel.pause_button.mapTo(panel, panel.pause_button.rect().topLeft()).y()

    panel._on_model(fake_handle("resnet18", "pretrained"))
    assert panel.banner.isHidden()
    without = pause_y()
    panel._on_model(fake_handle("resnet18", "random"))
    assert panel.banner.isVisible() and panel.banner.height() > 10
    assert pause_y() == without
    banner_top = panel.banner.mapTo(panel, panel.banner.rect().topLeft()).y()
    assert banner_top > without  # under the controls, over the image


@pytest.mark.parametrize("zoom, live", [(1.0, False), (1.0, True), (4.0, False)])
def test_the_frame_is_painted_with_its_own_colours_shrunk_and_enlarged(panel, qtbot, tmp_path, zoom, live):
    """The frame is converted for the blit (RGB → the backing store's B, G, R, 255); a swapped channel would
    paint red as blue. Checked on the window's pixels, fitted (shrunk: smooth for a still, nearest while a
    stream plays) and zoomed in (enlarged)."""
    from explorer.core.sources import frame_from_array

    image = np.zeros((480, 640, 3), np.uint8)
    image[:, :320] = (200, 30, 40)
    image[:, 320:] = (20, 60, 210)
    panel.show()
    qtbot.waitExposed(panel)
    panel.image_item.set_fast(live)
    panel.state.set_frame(frame_from_array(image))
    if zoom != 1.0:
        panel.view_box.scaleBy((1 / zoom, 1 / zoom), center=(320, 240))
    qtbot.wait(50)
    shot = panel.graphics.grab().toImage()
    for x_src, colour in ((300, (200, 30, 40)), (340, (20, 60, 210))):
        scene = panel.view_box.mapViewToScene(pg.Point(x_src, 240))
        at = panel.graphics.mapFromScene(scene)
        pixel = shot.pixelColor(at.x(), at.y())
        assert (pixel.red(), pixel.green(), pixel.blue()) == pytest.approx(colour, abs=2)


def test_the_timing_line_says_when_the_model_is_still_warming_up(panel, qtbot, sample_image_path):
    """New-user trial: "forward 956 ms" right after a load, for a resnet18 that settles at 21–31 ms. The first
    passes at a size are marked, with the why in the tooltip; settled passes are not."""
    state, bridge = panel.state, panel.bridge
    open_model_and_wait(qtbot, state, bridge, "resnet18", "random", "cpu")
    assert bridge.open_image(str(sample_image_path))
    qtbot.waitUntil(lambda: state.result is not None, timeout=60000)
    assert state.result.warm_up
    assert panel.timing_label.text().startswith("warming up · ") and "set-up" in panel.timing_label.toolTip()
    from explorer.core.engine import WARM_UP_RUNS

    for _ in range(WARM_UP_RUNS):  # the same image again (a view asking for its probes does this)
        done = state.result
        assert bridge.rerun()
        qtbot.waitUntil(lambda d=done: state.result is not d, timeout=60000)
    assert not state.result.warm_up
    assert panel.timing_label.text().startswith("capture ") and panel.timing_label.toolTip() == ""
