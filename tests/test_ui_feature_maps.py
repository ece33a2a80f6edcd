"""The feature-map dock in the real main window: selecting a node shows its maps, hooks go with the selection,
clicks map to the right channel and pixel, the receptive field lands at the right place on the input image,
Grad-CAM and the gradient view arrive from the worker, pins, exports."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QApplication, QScrollArea

from explorer.core.activations import ActivationProbe
from explorer.core.mosaic import layout_for
from explorer.core.preprocess import Preprocessor
from explorer.core.results import Frame, FrameResult
from explorer.ui.feature_maps import MAX_PINS, FeatureMapsPanel
from explorer.ui.main_window import MainWindow, StartOptions
from explorer.ui.state import AppState

LOAD_TIMEOUT = 120_000
RESULT_TIMEOUT = 120_000


def _hooked(model: torch.nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if m._forward_hooks]


def _hook_total(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture
def window(qtbot):
    w = MainWindow(StartOptions(model="alexnet"))
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitUntil(lambda: w.state.graph is not None and w.state.result is not None, timeout=LOAD_TIMEOUT)
    return w


def _panel(window) -> FeatureMapsPanel:
    panel = window.panels["featureMapsDock"]
    assert isinstance(panel, FeatureMapsPanel)
    return panel


def _select(qtbot, window, layer: str) -> FeatureMapsPanel:
    fm = _panel(window)
    window.state.select_layer(layer)
    qtbot.waitUntil(lambda: fm.frame is not None and fm.frame.layer == layer, timeout=RESULT_TIMEOUT)
    return fm


def _click(qtbot, view, x: float, y: float) -> None:
    """A real mouse click on image pixel (x, y) of an ImageView."""
    qtbot.wait(30)  # let the view box apply its new range (it updates its transform lazily)
    scene = view.item.mapToScene(QPointF(x, y))
    pos = view.mapFromScene(scene)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_selecting_a_node_shows_its_maps_and_deselection_removes_hooks(qtbot, window):
    model = window.state.handle.model
    fm = _select(qtbot, window, "features.0")
    assert fm.mosaic.num_tiles == 64 == fm.frame.shape[0]           # C channels -> C tiles
    assert fm.frame.shape == (64, 55, 55)
    assert fm.mosaic_view.item.image.shape == fm.mosaic.rgba.shape   # one ImageItem draws the whole mosaic
    assert _hooked(model) == ["features.0"]                          # hooks on the selected layer only
    assert "64×55×55" in fm.layer_label.text()

    fm = _select(qtbot, window, "features.3")
    assert fm.mosaic.num_tiles == 192
    assert _hooked(model) == ["features.3"]

    window.state.select_layer("")
    assert _hook_total(model) == 0                                   # nothing left on any module
    assert fm.frame is None and not fm.mosaic_view.has_image()
    qtbot.waitUntil(lambda: window.inference_panel.engine_probes == [], timeout=5000)


def test_click_maps_to_channel_pixel_and_receptive_field(qtbot, window, sample_image_path):
    fm = _select(qtbot, window, "features.0")
    m = fm.mosaic
    channel, fy, fx = 37, 20, 30
    tile = m.tile_of_channel(channel)
    x0, y0 = m.tile_origin(tile)
    text = fm.describe(x0 + fx + 0.5, y0 + fy + 0.5)
    value = float(fm.frame.activation[channel, fy, fx])
    assert text.startswith(f"channel {channel}  (y {fy}, x {fx}) = {value:.4g}")

    _click(qtbot, fm.mosaic_view, x0 + fx + 0.5, y0 + fy + 0.5)      # click a channel: it opens large
    assert fm.channel == channel
    assert fm.large_view.item.image.shape[:2] == (55, 55)

    _click(qtbot, fm.large_view, fx + 0.5, fy + 0.5)                # click a pixel: its receptive field
    assert fm.feature_pixel == (fy, fx)
    # AlexNet conv1 (k 11, s 4, p 2): input rows 4i−2 .. 4i+8, i.e. [78, 89) × columns [118, 129), mapped back
    # through the ImageNet preset (resize shorter side to 256, centre crop 224) of the source photo
    image = window.state.frame.image
    prep = Preprocessor(window.state.handle.entry)(image)
    (sx, sy), (ox, oy) = prep.scale, prep.offset
    expect = ((118 + ox) / sx, (78 + oy) / sy, (129 + ox) / sx, (89 + oy) / sy)
    assert fm.overlay.field_box == pytest.approx(expect)
    rect = fm.overlay.field_item.rect()
    assert (rect.width() * sx, rect.height() * sy) == pytest.approx((11, 11))
    assert fm.overlay.field_item.isVisible()
    assert fm.overlay.view_box is window.inference_panel.view_box


def test_overlay_gradcam_and_gradient_view(qtbot, window):
    fm = _select(qtbot, window, "features.0")
    fm.overlay_check.setChecked(True)
    fm.select_channel(5)
    item = fm.overlay.channel_item
    assert item.isVisible() and item.image.shape[:2] == (220, 220)  # 55×55 upsampled ×4 (the stride)
    # the map covers the 224 crop in source pixels (first centre 3.5 − stride/2 = 1.5 .. 1.5 + 220)
    prep = Preprocessor(window.state.handle.entry)(window.state.frame.image)
    (sx, sy), (ox, oy) = prep.scale, prep.offset
    r = fm.overlay.channel_rect
    assert (r.x(), r.y(), r.width(), r.height()) == pytest.approx(((1.5 + ox) / sx, (1.5 + oy) / sy,
                                                                    220 / sx, 220 / sy))
    fm.opacity_slider.setValue(25)
    assert item.opacity() == pytest.approx(0.25)
    alpha = item.image[..., 3]                    # quiet places let the photo through, strong ones cover it
    assert alpha.max() == 255 and alpha.min() < 64   # (√t: 64 is t = 6 % of the way from quiet to strong)

    assert fm.target_combo.count() == 5                       # the top-5 classes of the result
    assert fm.request_gradcam()
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("Grad-CAM"), timeout=RESULT_TIMEOUT)
    best = window.state.result.topk[0]                        # named, not only numbered
    assert f"for class {best.index} ({best.label}): score" in fm.info_label.text()
    assert fm.overlay.heat_item.isVisible()
    assert fm.overlay.heat_item.image.shape[:2] == (224, 224)

    fm.gradient_check.setChecked(True)
    fm.select_feature_pixel(10, 12)
    marker = fm.pixel_marker.rect()                    # the clicked pixel is marked in the large map
    assert fm.pixel_marker.isVisible() and (marker.x(), marker.y(), marker.width()) == (12, 10, 1)
    assert fm.pixel_ring.isVisible() and fm.pixel_ring.data["x"][0] == 12.5 and fm.pixel_ring.data["y"][0] == 10.5
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("gradient"), timeout=RESULT_TIMEOUT)
    heat = fm.overlay.heat_item.image
    alpha = heat[..., 3] > 0
    ys, xs = np.nonzero(alpha)
    # the gradient's support is the 11×11 receptive field: rows 38..48, columns 46..56
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (38, 48, 46, 56)
    fm.clear_overlay()
    assert not fm.overlay.heat_item.isVisible() and not fm.overlay.field_item.isVisible()


def test_options_pins_and_exports(qtbot, window, tmp_path):
    model = window.state.handle.model
    fm = _select(qtbot, window, "features.0")
    fm.set_options(order="max", top_k=8, norm="layer", colormap="inferno")
    assert fm.mosaic.num_tiles == 8 and fm.mosaic.colormap == "inferno"
    maxs = fm.frame.activation.reshape(64, -1).amax(1)
    assert list(fm.mosaic.channels) == torch.argsort(maxs, descending=True, stable=True)[:8].tolist()
    assert np.allclose(fm.mosaic.lo, fm.mosaic.tile_min.min()) and np.allclose(fm.mosaic.hi, fm.mosaic.tile_max.max())
    fm.set_options(order="index", top_k=0, norm="fixed", fixed_range=(-1.0, 2.0))
    assert fm.mosaic.num_tiles == 64 and np.allclose(fm.mosaic.lo, -1) and np.allclose(fm.mosaic.hi, 2)
    fm.opacity_slider.setValue(35)
    # the next start shows the maps the same way: a new panel on the same settings file
    from types import SimpleNamespace

    again = FeatureMapsPanel(AppState(), SimpleNamespace(settings=window.settings))
    qtbot.addWidget(again)
    assert again.mosaic_options().order == "index" and again.mosaic_options().norm == "fixed"
    assert again.mosaic_options().fixed_range == (-1.0, 2.0) and again.colormap_combo.currentText() == "inferno"
    assert again.opacity_slider.value() == 35 and again.topk_spin.value() == 0

    png, npy = tmp_path / "mosaic.png", tmp_path / "acts.npy"
    assert fm.export_png(str(png)) and fm.export_npy(str(npy))
    written = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(written, fm.mosaic.image)
    np.testing.assert_array_equal(np.load(npy), fm.frame.activation.numpy())
    assert fm.export_png(str(tmp_path / "no_suffix")) and (tmp_path / "no_suffix.png").is_file()
    assert not fm.export_png(str(tmp_path / "mosaic.xyz"))    # no encoder: a message, not an exception
    assert "use .png" in window.statusBar().currentMessage()
    assert not fm.export_png(str(tmp_path / "no_such_folder" / "m.png"))
    assert "no such folder" in window.statusBar().currentMessage()
    assert fm.export_png(str(png))                             # the next try works: seen at once, not behind
    assert window.statusBar().currentMessage() == f"Mosaic written to {png}"   # the error of the failed one

    assert fm.pin_layer("features.0")
    _select(qtbot, window, "features.3")
    assert fm.pin_layer("features.6") and fm.pin_layer("features.8") and fm.pin_layer("features.10")
    assert not fm.pin_layer("features.12")                    # at most four
    assert len(fm.pins) == MAX_PINS
    qtbot.waitUntil(lambda: all(p.frame is not None for p in fm.pins.values()), timeout=RESULT_TIMEOUT)
    sizes = {layer: p.frame.shape for layer, p in fm.pins.items()}
    pin = fm.pins["features.0"]  # laid out for its own small view (its first mosaic came with the main view's)
    qtbot.waitUntil(lambda: pin.frame.mosaic.options.fit == (pin.view.width(), pin.view.height()), timeout=5000)
    m = pin.frame.mosaic
    assert m.shrink == layout_for(m.options, 64, 55, 55)[1] > 1 and pin.view.item.image.shape == m.rgba.shape
    assert sizes == {"features.0": (64, 55, 55), "features.6": (384, 13, 13), "features.8": (256, 13, 13),
                     "features.10": (256, 13, 13)}
    assert set(_hooked(model)) == {"features.0", "features.3", "features.6", "features.8", "features.10"}
    # four pins in a laptop-sized window: no sideways scrolling, titles cut with "…" rather than widening it
    window.resize(1229, 691)
    qtbot.wait(100)
    area = fm.parentWidget()
    while area is not None and not isinstance(area, QScrollArea):
        area = area.parentWidget()
    assert area is not None and area.horizontalScrollBar().maximum() == 0
    assert all(p.mapTo(fm, p.rect().topRight()).x() <= fm.width() for p in fm.pins.values())
    assert all(p.title.text().startswith(p.layer) for p in fm.pins.values())
    for layer in list(fm.pins):
        fm.unpin_layer(layer)
    window.state.select_layer("")
    assert _hook_total(model) == 0


def test_output_picker_for_a_multi_output_module(qtbot):
    """Without a window: a real probe on a real FPN, its frame delivered as the engine would."""
    import torchvision

    state = AppState()
    fm = FeatureMapsPanel(state, None)
    qtbot.addWidget(fm)
    fpn = torchvision.ops.FeaturePyramidNetwork([8, 16], 4).eval()

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fpn = fpn

        def forward(self, feats):
            return self.fpn(feats)

    model = Model().eval()
    feats = {"p3": torch.rand(1, 8, 16, 16), "p4": torch.rand(1, 16, 8, 8)}
    state.select_layer("fpn")
    probe = fm.probe
    assert isinstance(probe, ActivationProbe)

    def deliver() -> None:
        probe.attach(model)
        with torch.inference_mode():
            model(feats)
            frame = probe.collect(None)
        probe.detach()
        result = FrameResult(frame=Frame(np.zeros((4, 4, 3), np.uint8)), model_name="fpn", weights="random",
                             device="cpu", task="classification", extras={probe.name: frame})
        state.set_result(result)

    deliver()
    assert [fm.output_combo.itemText(i) for i in range(fm.output_combo.count())] == ["p3", "p4"]
    assert fm.frame.shape == (4, 16, 16)
    fm.set_output("p4")
    deliver()
    assert fm.frame.output_key == "p4" and fm.frame.shape == (4, 8, 8)
    assert "[p4]" in fm.layer_label.text()


def test_controls_fit_the_dock_hint_and_mosaic_shape(qtbot, window):
    """Every control is inside the ~860 px dock (no horizontal scrolling), the right pane explains itself
    until a channel is opened, and the mosaic's columns follow the view's shape."""
    from explorer.core.mosaic import best_columns

    fm = _select(qtbot, window, "features.0")
    assert fm.minimumSizeHint().width() <= 800
    area = fm.parentWidget()
    while area is not None and not isinstance(area, QScrollArea):
        area = area.parentWidget()
    if area is not None:
        assert area.horizontalScrollBar().maximum() == 0
    controls = (fm.order_combo, fm.topk_spin, fm.norm_combo, fm.colormap_combo, fm.pin_button,
                fm.export_png_button, fm.export_npy_button, fm.overlay_check, fm.opacity_slider,
                fm.gradient_check, fm.target_combo, fm.gradcam_button, fm.clear_button)
    for control in controls:
        assert control.isVisible()
        right = control.mapTo(fm, control.rect().bottomRight()).x()
        assert right <= fm.width(), control
    assert fm.large_stack.currentWidget() is fm.large_hint and "Click a channel" in fm.large_hint.text()
    fm.select_channel(3)
    assert fm.large_stack.currentWidget() is fm.large_view and fm.large_view.has_image()
    fm.select_channel(None)
    assert fm.large_stack.currentWidget() is fm.large_hint
    # 64 tiles of 55×55 in a wide, short view: more columns than rows, and the best count for the view
    view = fm.mosaic_view
    rows, cols = fm.mosaic.grid
    assert view.width() > view.height() and cols > rows
    assert cols == best_columns(64, 55, 55, view.width(), view.height())
    fm.set_options(norm="fixed")                       # the range boxes appear only when they apply
    assert fm.lo_spin.isVisible() and fm.hi_spin.isVisible()
    assert fm.export_npy_button.mapTo(fm, fm.export_npy_button.rect().bottomRight()).x() <= fm.width()


def test_live_maps_refresh_at_the_chosen_rate_and_catch_up_on_pause(qtbot, window, tmp_path):
    import time

    from tests.test_sources import write_video

    fm = _select(qtbot, window, "features.0")
    assert fm.live_rate == 10  # the default
    fm.rate_combo.setCurrentIndex(fm.rate_combo.findData(5))
    assert window.settings.value("featureMaps/liveRate") in (5, "5")  # remembered
    results = []
    window.state.resultReady.connect(results.append)
    video = write_video(tmp_path / "clip.avi", n=30, size=(96, 64), fps=30.0)
    panel = window.inference_panel
    assert panel.open_video(str(video), loop=True)
    t0 = time.perf_counter()
    qtbot.waitUntil(lambda: len(results) >= 12, timeout=RESULT_TIMEOUT)
    elapsed = time.perf_counter() - t0
    with_maps = [r for r in results if r.extras.get(fm.probe.name) is not None]
    assert fm.probe.min_interval_s == pytest.approx(0.2)
    assert len(with_maps) <= elapsed * 5 + 2          # at most 5 refreshes a second (+ the first ones)
    if len(results) > elapsed * 5 + 2:                  # results came faster than the rate: some were skipped
        assert len(with_maps) < len(results)
    # pause: the frame on screen gets its own maps, even if they had been skipped
    panel.toggle_pause()
    qtbot.waitUntil(lambda: fm.last_result is not None and fm.last_result is panel.result
                    and fm.last_result.extras.get(fm.probe.name) is fm.frame, timeout=RESULT_TIMEOUT)
    assert fm.probe.min_interval_s == 0.0               # paused: every frame (a step) gets its maps
    # every frame: each result brings maps
    fm.rate_combo.setCurrentIndex(fm.rate_combo.findData(0))
    panel.toggle_pause()
    count = len(results)
    qtbot.waitUntil(lambda: len(results) >= count + 6, timeout=RESULT_TIMEOUT)
    assert all(r.extras.get(fm.probe.name) is not None for r in results[count + 1:])
    panel.toggle_pause()


def _has_maps(fm: FeatureMapsPanel, result) -> bool:
    from explorer.core.activations import ActivationFrame

    return isinstance(result.extras.get(fm.probe.name), ActivationFrame)


def _settle(qtbot, panel, ms: int = 800) -> None:
    qtbot.wait(ms)
    qtbot.waitUntil(lambda: not panel.pending and not panel.worker.busy and panel.worker.slot.peek() is None,
                    timeout=RESULT_TIMEOUT)
    qtbot.wait(400)  # a catch-up run, if one was needed


@pytest.mark.parametrize("action", ["step", "pause"])
def test_stopping_right_after_a_collected_frame_still_shows_the_screen_frames_maps(qtbot, window, tmp_path,
                                                                                   action):
    """The frame right after a collected one is skipped for the rate; stopping on it must bring its maps."""
    from tests.test_sources import write_video

    fm = _select(qtbot, window, "features.0")
    fm.rate_combo.setCurrentIndex(fm.rate_combo.findData(5))
    panel = window.inference_panel
    assert panel.controller.open_video(str(write_video(tmp_path / "clip.avi", n=40, size=(96, 64), fps=30.0)),
                                       loop=True)
    fired = []

    def on_result(result) -> None:
        if not fired and panel.live and result.frame.index > 3 and _has_maps(fm, result):
            fired.append(result)
            (panel.step if action == "step" else panel.toggle_pause)()

    window.state.resultReady.connect(on_result)
    qtbot.waitUntil(lambda: bool(fired), timeout=RESULT_TIMEOUT)
    _settle(qtbot, panel)
    assert not panel.live and fm.probe.min_interval_s == 0.0
    assert fm.last_result is panel.result
    assert _has_maps(fm, panel.result), "the dock shows an earlier frame's maps"
    assert fm.frame is panel.result.extras[fm.probe.name]


def test_refresh_while_a_step_is_computed_never_goes_back_a_frame(qtbot, window, tmp_path):
    from tests.test_sources import write_video

    fm = _select(qtbot, window, "features.0")
    fm.rate_combo.setCurrentIndex(fm.rate_combo.findData(5))
    panel = window.inference_panel
    assert panel.controller.open_video(str(write_video(tmp_path / "clip.avi", n=40, size=(96, 64), fps=30.0)),
                                       loop=True)
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.frame.index > 3, timeout=RESULT_TIMEOUT)
    panel.toggle_pause()
    _settle(qtbot, panel)
    panel.step()
    qtbot.waitUntil(lambda: panel.pending, timeout=5000)  # the step's frame is on screen, being computed
    step_index = panel._pending_frame.index
    assert panel.refresh() is False                       # a result is coming: nothing older is sent
    _settle(qtbot, panel)
    assert panel.result.frame.index == step_index
    assert _has_maps(fm, panel.result)


def test_after_a_video_ends_the_panel_is_not_live_and_a_new_layer_shows_at_once(qtbot, window, tmp_path):
    from tests.test_sources import write_video

    fm = _select(qtbot, window, "features.0")
    panel = window.inference_panel
    live = []
    window.state.liveChanged.connect(live.append)
    assert panel.open_video(str(write_video(tmp_path / "clip.avi", n=8, size=(96, 64), fps=30.0)), loop=False)
    qtbot.waitUntil(lambda: panel.controller.capture.status == "ended", timeout=RESULT_TIMEOUT)
    qtbot.waitUntil(lambda: live[-1:] == [False], timeout=5000)
    assert live[0] is True and not panel.live
    _settle(qtbot, panel)
    assert fm.probe.min_interval_s == 0.0 and _has_maps(fm, panel.result)
    window.state.select_layer("features.3")  # a still again: the new probe re-runs the frame on screen
    qtbot.waitUntil(lambda: fm.frame is not None and fm.frame.layer == "features.3", timeout=RESULT_TIMEOUT)


def test_grad_cam_targets_of_a_segmentation_start_with_its_largest_class(qtbot, window):
    from explorer.core.results import Segmentation

    fm = _panel(window)
    labels = ["__background__", "aeroplane", "bicycle", "bird"]
    mask = np.zeros((10, 10), np.int64)
    mask[:, :7] = 3   # bird: 70 % of the pixels
    mask[0, 9] = 2    # bicycle: 1 %
    counts = np.bincount(mask.ravel(), minlength=4)
    present = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i]]
    seg = Segmentation(mask, [labels[i] for i in present], labels)
    fm._fill_targets(FrameResult(Frame(np.zeros((10, 10, 3), np.uint8), "x"), "fcn_resnet50", "random", "cpu",
                                 "segmentation", segmentation=seg))
    assert [fm.target_combo.itemText(i) for i in range(fm.target_combo.count())] == [
        "bird", "__background__", "bicycle"]
    assert fm.target_combo.currentData() == ("class", 3)


def test_grad_cam_explains_a_yolo_detection_by_its_cell_and_box(qtbot, tmp_path):
    """yolov1-tiny (bundled weights) on a synthetic scene: the targets are its detections, each explained by
    the score of the cell and box that predicted it."""
    import cv2

    from explorer.core.scenes import make_scene

    scene = make_scene(4242)
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
    w = MainWindow(StartOptions(model="yolov1-tiny", weights="bundled", image=str(path)))
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitUntil(lambda: w.state.graph is not None and w.state.result is not None
                    and bool(w.state.result.boxes), timeout=LOAD_TIMEOUT)
    fm = _select(qtbot, w, w.state.selected_layer)
    first = w.state.result.boxes[0]
    assert first.cell is not None and first.box_index is not None
    shown = [d for d in w.state.result.boxes if d.score >= w.inference_panel.detections.threshold]
    assert fm.target_combo.count() == min(20, len(shown)) > 0   # what the table lists, numbered as there
    assert fm.target_combo.itemText(0).startswith(f"#1 {first.label}")
    w.inference_panel.set_score_threshold(0.99)         # the table lists fewer: so does the target list, at once
    assert fm.target_combo.count() == len([d for d in w.state.result.boxes if d.score >= 0.99])
    w.inference_panel.set_score_threshold(0.5)
    assert fm.target_combo.count() == min(20, len(shown))
    assert fm.target_combo.currentData() == ("yolo", first.cell, first.class_index, first.box_index)
    assert fm.request_gradcam()
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("Grad-CAM"), timeout=RESULT_TIMEOUT)
    row, col = first.cell
    assert f"class {first.class_index} ({first.label}) at cell ({row}, {col}), box {first.box_index}" \
        in fm.info_label.text()
    assert fm.overlay.heat_item.isVisible()


def _wheel(view, x: float, y: float, steps: int = 3) -> None:
    """A real mouse-wheel turn over image pixel (x, y) of an ImageView: zoom in (steps > 0) or out."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    pos = view.mapFromScene(view.item.mapToScene(QPointF(x, y)))
    event = QWheelEvent(QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), QPoint(0, 0),
                        QPoint(0, 120 * steps), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view.viewport(), event)


def _double_click(view, pos) -> None:
    """A double click as a window system delivers it: press, release, double-click, release (qtbot's
    mouseDClick sends the double-click alone, which pyqtgraph's scene never completes)."""
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QMouseEvent

    viewport = view.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    for kind, buttons in ((QEvent.Type.MouseButtonPress, left), (QEvent.Type.MouseButtonRelease, none),
                          (QEvent.Type.MouseButtonDblClick, left), (QEvent.Type.MouseButtonRelease, none)):
        QApplication.sendEvent(viewport, QMouseEvent(kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), left,
                                                     buttons, Qt.KeyboardModifier.NoModifier))


def test_a_mosaic_larger_than_its_view_is_built_at_the_view_size(qtbot, window, tmp_path):
    """64 maps of 55×55 in a small dock: box averages at the size the view shows, clicks still exact; a zoom
    rebuilds every feature pixel at the same place; a double click fits again; the PNG has every pixel."""
    from dataclasses import replace

    from explorer.core.mosaic import build_mosaic, display_shrink

    fm = _select(qtbot, window, "features.0")
    window.resize(1000, 650)
    qtbot.waitUntil(lambda: fm.mosaic.shrink > 1, timeout=5000)
    view, m = fm.mosaic_view, fm.mosaic
    rows, cols = m.grid
    assert m.shrink == display_shrink(64, 55, 55, view.width(), view.height(), 1, cols)
    s = m.shrink
    t = -(-55 // s)  # ⌈55 / s⌉
    assert m.map_size == (55, 55) and m.tile_size == (t, t)
    assert (m.width, m.height) == (1 + cols * (t + 1), 1 + rows * (t + 1))
    assert view.item.image.shape == m.rgba.shape
    assert view.fitted and min(view.width() / m.width, view.height() / m.height) < 1.5  # not magnified much

    channel, fy, fx = 37, 20, 30
    tile = m.tile_of_channel(channel)
    x, y = m.point_of(tile, fy + 0.5, fx + 0.5)
    value = float(fm.frame.activation[channel, fy, fx])
    assert fm.describe(x, y).startswith(f"channel {channel}  (y {fy}, x {fx}) = {value:.4g}")
    _click(qtbot, view, x, y)
    assert fm.channel == channel

    def feature_position(mosaic, x: float, y: float) -> tuple[int, float, float]:
        """(channel, fy, fx) in feature pixels (fractional) at mosaic position (x, y)."""
        hit = mosaic.locate(x, y)
        ox, oy = mosaic.tile_origin(hit.tile)
        return hit.channel, (y - oy) * mosaic.shrink, (x - ox) * mosaic.shrink

    def centre(r) -> tuple[float, float]:
        (x0, x1), (y0, y1) = r
        return (x0 + x1) / 2, (y0 + y1) / 2

    # zoom in over that pixel: rebuilt with every feature pixel, the same place in the middle of the view
    ranges = []
    view.view_box.sigRangeChanged.connect(lambda _vb, r, *_: ranges.append([list(r[0]), list(r[1])]))
    screen = view.mapFromScene(view.item.mapToScene(QPointF(x, y)))
    fm._on_mosaic_hover(x, y)                           # the pointer rests there while the wheel turns
    _wheel(view, x, y)
    fm._refresh_hover()                                 # what the next frame does: the same feature pixel
    assert fm.info_label.text().startswith(f"channel {channel}  (y {fy}, x {fx}) = {value:.4g}")
    assert not view.fitted and fm.mosaic.shrink == 1 and fm.mosaic.tile_size == (55, 55)
    assert view.item.image.shape == fm.mosaic.rgba.shape
    zoomed = ranges[0]                     # the wheel's range, over the shrunk mosaic
    qtbot.wait(30)
    now = view.view_box.viewRange()        # carried over the full-size one
    assert now != zoomed
    before, after = feature_position(m, *centre(zoomed)), feature_position(fm.mosaic, *centre(now))
    assert after[0] == before[0]  # the same tile (the wheel zooms about the pointer: not always the clicked one)
    assert after[1:] == pytest.approx(before[1:], abs=0.05)
    # as many tiles across as before: (55 + 1) / (t + 1) mosaic pixels now for each one then
    assert (now[0][1] - now[0][0]) == pytest.approx((zoomed[0][1] - zoomed[0][0]) * 56 / (t + 1), rel=0.02)
    assert now[0][1] - now[0][0] < fm.mosaic.width / 2  # really zoomed in

    # zoomed in, a single click still opens its channel (once no second click can follow it)
    fm.select_channel(None)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=screen)
    qtbot.waitUntil(lambda: fm.channel == channel, timeout=5000)
    fm.select_channel(None)
    _double_click(view, screen)                     # fit again: built small again
    qtbot.waitUntil(lambda: view.fitted and fm.mosaic.shrink == s, timeout=5000)
    qtbot.wait(QApplication.doubleClickInterval() + 100)
    assert fm.channel is None                       # the double click's first half opened nothing

    png = tmp_path / "mosaic.png"
    assert fm.export_png(str(png))
    written = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    full = build_mosaic(fm.frame.activation, replace(fm.mosaic.options, shrink=1))
    assert written.shape == (1 + rows * 56, 1 + cols * 56, 3)
    np.testing.assert_array_equal(written, full.image)


def test_the_first_frame_of_a_layer_comes_from_the_worker_already_fitted(qtbot, window, monkeypatch):
    """The probe lays the mosaic out for the view where it is built, so selecting a layer never rebuilds it
    in the UI thread (a large layer's mosaic costs tens of milliseconds there)."""
    from explorer.ui import feature_maps as FM

    window.state.select_layer("")
    window.resize(1000, 650)
    qtbot.wait(300)
    rebuilt_here = []
    real = FM.build_mosaic  # the panel's own rebuilds; the worker's probe calls explorer.core.activations'

    def spy(*args, **kwargs):
        rebuilt_here.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(FM, "build_mosaic", spy)
    fm = _select(qtbot, window, "features.0")
    view = fm.mosaic_view
    assert fm.mosaic.options.fit == (view.width(), view.height()) and fm.mosaic.shrink > 1
    assert fm.mosaic.grid[1] == layout_for(fm.mosaic.options, 64, 55, 55)[0]
    assert rebuilt_here == []


def test_an_fpn_level_is_drawn_with_its_own_stride(qtbot):
    """fasterrcnn_mobilenet_v3_large_320_fpn's backbone.fpn gives levels "0", "1" (stride 32) and "pool" (stride
    64): the picker names the layer inside that produced each, and the overlay and receptive field of a level use
    that level's stride, the one its map size gives (padded backbone input width / stride = map width), not the
    stride of the module's last node ("pool") for every level."""
    w = MainWindow(StartOptions(model="fasterrcnn_mobilenet_v3_large_320_fpn"))
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitUntil(lambda: w.state.graph is not None and w.state.result is not None, timeout=LOAD_TIMEOUT)
    fm = _select(qtbot, w, "backbone.fpn")
    combo = fm.output_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["0 · layer_blocks.0.0", "1 · layer_blocks.1.0",
                                                                "pool · extra_blocks"]
    assert [combo.itemData(i) for i in range(combo.count())] == ["0", "1", "pool"]
    for key, stride in (("0", 32), ("pool", 64)):
        fm.set_output(key)
        qtbot.waitUntil(lambda key=key: fm.frame.output_key == key, timeout=RESULT_TIMEOUT)
        assert combo.currentData() == key
        c, h, width = fm.frame.shape
        bh, bw = fm._backbone_size()
        geo = fm._field_geometry()
        pad = w.state.handle.model.transform.size_divisible      # the batch is padded to a multiple of 32
        assert geo.stride == stride
        assert -(-bw // pad) * pad == width * stride and -(-bh // pad) * pad == h * stride
        node = w.state.graph.node(w.state.graph.modules["backbone.fpn"].outputs[key])
        fm.select_feature_pixel(0, 0)
        assert f"{node.receptive_field}×{node.receptive_field} input pixels" in fm.info_label.text()
        fm.overlay_check.setChecked(True)
        fm.select_channel(0)
        rect = fm._feature_rect()                              # the map laid over the image: the image's width
        x0, _, x1, _ = fm.frame.geometry.to_source((0.0, 0.0, float(width * stride), 1.0))
        assert rect.width() == pytest.approx(x1 - x0)


def test_image_view_filters_only_shrunk_images_and_a_zoom_out_past_the_image_fits_it(qtbot):
    """A 7×7 map enlarged keeps crisp pixels (a filtered enlargement is a blur); a mosaic larger than the view is
    filtered so its 1-pixel padding does not alias. Zooming out beyond the whole image fits it again, as a
    double click does, instead of leaving a small image in a large empty view."""
    from PySide6.QtGui import QPainter

    from explorer.ui.feature_maps import ImageView

    view = ImageView()
    qtbot.addWidget(view)
    view.resize(300, 300)
    view.show()
    qtbot.waitExposed(view)

    def smooth() -> bool:
        return bool(view.renderHints() & QPainter.RenderHint.SmoothPixmapTransform)

    view.set_image(np.zeros((7, 7, 4), np.uint8))
    qtbot.wait(30)
    assert view.view_box.viewPixelSize()[0] < 1 and not smooth()
    view.set_image(np.zeros((900, 900, 4), np.uint8))
    qtbot.wait(30)
    assert view.view_box.viewPixelSize()[0] > 1 and smooth()

    view.set_image(np.zeros((50, 80, 4), np.uint8))
    qtbot.wait(30)
    _wheel(view, 40, 25)                                   # zoom in: no longer fitted
    assert not view.fitted
    for _ in range(6):                                     # zoom out far past the image
        _wheel(view, 40, 25, steps=-1)
    qtbot.wait(30)
    assert view.fitted
    shown = view.view_box.viewRange()
    view.fit()
    assert shown[0] == pytest.approx(view.view_box.viewRange()[0])  # the same range as a fit gives


def test_elided_label_cuts_with_an_ellipsis_and_keeps_its_minimum_whatever_the_text(qtbot):
    """A long layer name ends in "…" at a narrow width instead of widening the dock; the minimum width does not
    follow the text, so a changing caption never moves the window's docks."""
    from explorer.ui.elided_label import ElidedLabel

    label = ElidedLabel("backbone.body.layer4.2.relu#2 [pool]: 2048×7×7, viridis", min_chars=6)
    qtbot.addWidget(label)
    minimum = label.minimumSizeHint().width()
    label.resize(120, 20)
    assert label.is_elided() and label.shown_text().endswith("…")
    assert label.fontMetrics().horizontalAdvance(label.shown_text()) <= 120
    label.setText("x")
    assert label.minimumSizeHint().width() == minimum and not label.is_elided()


def test_a_heat_map_goes_when_the_video_moves_on_and_hover_values_follow_the_frame(qtbot, window, tmp_path):
    """Grad-CAM explains the frame it was computed on: once the video shows another frame the map goes and the
    line below says why; a hovered value is read again from each new frame."""
    from tests.test_sources import write_video

    fm = _select(qtbot, window, "features.0")
    panel = window.inference_panel
    assert panel.open_video(str(write_video(tmp_path / "clip.avi", n=40, size=(96, 64), fps=30.0)), loop=True)
    qtbot.waitUntil(lambda: window.state.result is not None and window.state.result.frame.index > 1,
                    timeout=RESULT_TIMEOUT)
    panel.toggle_pause()
    qtbot.waitUntil(lambda: fm.last_result is panel.result and fm.frame is not None
                    and fm.last_result.extras.get(fm.probe.name) is fm.frame, timeout=RESULT_TIMEOUT)
    assert fm.request_gradcam()
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("Grad-CAM"), timeout=RESULT_TIMEOUT)
    assert fm.overlay.heat_item.isVisible()
    paused_on = fm.last_result.frame.index
    tile = fm.mosaic.tile_of_channel(3)
    x, y = fm.mosaic.point_of(tile, 2.5, 4.5)
    fm._on_mosaic_hover(x, y)                          # what a mouse move over the mosaic does
    panel.toggle_pause()                               # play on
    qtbot.waitUntil(lambda: not fm.overlay.heat_item.isVisible(), timeout=RESULT_TIMEOUT)
    assert f"frame {paused_on}" in fm.info_label.text() and "moved on" in fm.info_label.text()
    fm._on_mosaic_hover(x, y)
    shown = fm.frame
    qtbot.waitUntil(lambda: fm.frame is not shown, timeout=RESULT_TIMEOUT)
    value = float(fm.frame.activation[3, 2, 4])        # the new frame's value, not the hovered frame's
    assert fm.info_label.text().startswith(f"channel 3  (y 2, x 4) = {value:.4g}")
    panel.toggle_pause()


def test_a_fully_connected_layer_has_no_overlay_and_no_receptive_field(qtbot, window):
    """alexnet's classifier.1 (Linear, 4096 outputs as 1×1 maps) has no place on the image: Overlay draws
    nothing there and says why, a pixel outside its 1×1 maps is refused, and a Grad-CAM that cannot run there
    leaves its reason on the line under the maps (not only in the status bar)."""
    from explorer.ui.feature_maps import NO_PLACE

    fm = _select(qtbot, window, "classifier.1")
    assert fm.frame.shape == (4096, 1, 1)
    fm.overlay_check.setChecked(True)
    fm.select_channel(0)
    assert not fm.overlay.channel_item.isVisible() and fm.info_label.text() == NO_PLACE
    assert fm.select_feature_pixel(1, 1) is None and not fm.pixel_ring.isVisible()
    assert fm.request_gradcam()
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("Grad-CAM: "), timeout=RESULT_TIMEOUT)
    assert "feature maps" in fm.info_label.text()
