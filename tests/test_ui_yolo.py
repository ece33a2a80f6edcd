"""The YOLO grid overlay and panel on a real pyqtgraph ViewBox, driven through pytest-qt."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
import torch

from explorer.core import yolo as Y
from explorer.core.results import Frame, FrameResult
from explorer.ui.state import AppState, ModelHandle
from explorer.ui.yolo_view import YoloOverlay, YoloPanel, class_colour

S, B, C = 7, 2, 3
H, W = 350, 500


@pytest.fixture
def view(qtbot):
    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    vb = w.addViewBox()
    vb.invertY(True)
    vb.addItem(pg.ImageItem(np.zeros((H, W, 3), np.uint8), axisOrder="row-major"))
    w.resize(500, 400)
    w.show()
    yield vb
    w.close()


def hand_cells():
    t = np.zeros((S, S, B * 5 + C), np.float32)
    t[..., B * 5] = 1.0                                     # class 0 everywhere...
    t[2:5, 2:5, B * 5:] = (0.1, 0.8, 0.1)                   # ...class 1 in the middle
    t[3, 3, 0:5] = (0.5, 0.5, 0.6, 0.6, 0.9)                # a confident box centred in cell (3, 3)
    t[3, 4, 0:5] = (0.0, 0.5, 0.6, 0.6, 0.8)                # a neighbour overlapping it (same class)
    t[6, 0, 5:10] = (0.5, 0.5, 0.2, 0.2, 0.5)               # a small class-0 box in the corner cell, box 1
    return t


@pytest.fixture
def overlay(view):
    o = YoloOverlay()
    o.attach(view)
    o.set_model(S, B, C, "darknet", ["zero", "one", "two"])
    o.set_raw(Y.cells_to_flat(hand_cells(), S, B, C), (H, W))
    return o


def test_grid_lines_at_multiples_of_width_over_s(overlay):
    x, y = (np.asarray(v) for v in overlay.grid_lines.getData())
    vertical = x[: 2 * (S + 1)].reshape(-1, 2)
    horizontal = y[2 * (S + 1):].reshape(-1, 2)
    np.testing.assert_allclose(vertical[:, 0], [k * W / S for k in range(S + 1)])
    np.testing.assert_allclose(vertical[:, 1], vertical[:, 0])
    np.testing.assert_allclose(horizontal[:, 0], [k * H / S for k in range(S + 1)])


def test_class_tint_and_legend(overlay):
    img = overlay.tint.image                               # (S cols, S rows, RGBA)
    assert img.shape == (S, S, 4)
    assert tuple(img[3, 3, :3]) == class_colour(1) and tuple(img[0, 0, :3]) == class_colour(0)
    assert img[0, 0, 3] > img[3, 3, 3]                     # prob 1.0 is more opaque than 0.8
    rows = overlay.legend_rows
    assert [(rgb, text) for rgb, _, text in rows] == [(class_colour(0), "zero (40 cells)"),
                                                      (class_colour(1), "one (9 cells)")]
    html = overlay.legend_html()
    assert "zero (40 cells)" in html and "rgb(%d, %d, %d)" % class_colour(1) in html


def test_boxes_detections_and_owner_cells(overlay):
    drawn = sum(len(c.getData()[0]) // 5 for c in overlay.box_bins if c.isVisible())
    assert drawn == S * S * B
    ref = Y.detect(overlay.grid, W, H, overlay.score_thresh, overlay.nms_iou, ["zero", "one", "two"])
    assert [(d.cell, d.label) for d in overlay.detections] == [(d.cell, d.label) for d in ref]
    assert [d.cell for d in ref] == [(3, 3), (6, 0)]        # the neighbour was suppressed by NMS
    # owner cells: rectangles of exactly those cells
    x, y = (np.asarray(v) for v in overlay.owner_cells.getData())
    np.testing.assert_allclose(x[:5], [3 * W / S, 4 * W / S, 4 * W / S, 3 * W / S, 3 * W / S])
    np.testing.assert_allclose(y[5:10], [6 * H / S, 6 * H / S, 7 * H / S, 7 * H / S, 6 * H / S])
    dots = np.c_[overlay.owner_dots.data["x"], overlay.owner_dots.data["y"]]
    np.testing.assert_allclose(dots[0], [3.5 * W / S, 3.5 * H / S])
    texts = [t.textItem.toPlainText() for t in overlay.det_texts]
    assert texts[0] == "one 0.72"
    # thresholds: a higher score threshold leaves only the confident box; no NMS keeps the neighbour
    overlay.score_thresh = 0.7
    overlay.redraw()
    assert [d.cell for d in overlay.detections] == [(3, 3)]
    overlay.score_thresh, overlay.nms_iou = 0.2, 1.0
    overlay.redraw()
    assert [d.cell for d in overlay.detections] == [(3, 3), (3, 4), (6, 0)]


def test_panel_hover_bars_and_tensor_text(qtbot, view):
    from models.yolov1_tiny import yolov1_tiny

    torch.manual_seed(0)
    model = yolov1_tiny().eval()
    state = AppState()
    panel = YoloPanel(state, None)
    qtbot.addWidget(panel)
    panel.attach_to(view)
    state.set_model(ModelHandle("yolov1-tiny", None, model, "random", "cpu"))
    s, b, c = model.S, model.B, model.C
    d = b * 5 + c
    assert f"{s}×{s}×({b}·5+{c}) = {s}×{s}×{d}" in panel.tensor_info.text()
    with torch.inference_mode():
        raw = model(torch.rand(1, 3, 224, 224))
    img = np.zeros((H, W, 3), np.uint8)
    state.set_result(FrameResult(frame=Frame(img), model_name="yolov1-tiny", weights="random", device="cpu",
                                 task="detection", raw=raw))
    g = panel.overlay.grid
    assert g is not None and g.S == s
    np.testing.assert_allclose(g.cells, Y.flat_to_cells(raw, s, b, c))
    panel.overlay.hover(W * 1.5 / s, H * 0.5 / s)          # cell (0, 1)
    assert panel.overlay.hover_cell == (0, 1)
    assert "cell row 0, column 1" in panel.cell_info.text()
    assert f"confidence {g.conf[0, 1, 0]:.2f}" in panel.cell_info.text()
    np.testing.assert_allclose(panel.bars.opts["width"], g.probs[0, 1])
    assert len(panel.overlay.hover_texts) == b
    # the sliders set the thresholds
    panel.score.setValue(100)
    assert panel.overlay.score_thresh == 1.0 and "score ≥ 1.00" in panel.summary.text()
    panel.detach_overlay()
    assert all(item.scene() is None for item in panel.overlay._items)


def test_live_engine_feeds_the_overlay(qtbot):
    """Through the real inference panel and engine: YOLO's raw output is decoded over the frame."""
    from explorer.core import zoo
    from explorer.ui.inference_panel import InferencePanel

    state = AppState()
    inference = InferencePanel(state)
    qtbot.addWidget(inference)
    panel = YoloPanel(state, None)
    qtbot.addWidget(panel)
    try:
        panel.attach_to(inference)
        torch.manual_seed(0)
        model = zoo.build("yolov1-tiny")
        state.set_model(ModelHandle("yolov1-tiny", zoo.get("yolov1-tiny"), model, "random", "cpu"))
        with qtbot.waitSignal(state.resultReady, timeout=60000) as blocker:
            state.set_frame(Frame(np.zeros((H, W, 3), np.uint8)))
        result = blocker.args[0]
        assert inference.detections not in inference._overlays   # boxes are drawn once, by this panel
        g = panel.overlay.grid
        assert g is not None and panel.overlay.image_size == (H, W)
        np.testing.assert_allclose(g.cells, Y.flat_to_cells(result.raw, model.S, model.B, model.C))
        x, _ = panel.overlay.grid_lines.getData()
        np.testing.assert_allclose(np.asarray(x)[: 2 * (model.S + 1): 2], [k * W / model.S for k in range(model.S + 1)])
        panel.detach_overlay()
        assert inference.detections in inference._overlays
    finally:
        inference.shutdown()


def test_panel_without_a_yolo_model_hides_the_chart(qtbot, view):
    """A non-YOLO model: no empty bar chart, sliders or legend; the text says what the panel needs."""
    from models.yolov1_tiny import yolov1_tiny

    state = AppState()
    panel = YoloPanel(state, None)
    qtbot.addWidget(panel)
    panel.show()
    panel.attach_to(view)
    state.set_model(ModelHandle("alexnet2012", None, torch.nn.Linear(2, 2), "random", "cpu"))
    assert not panel.yolo_widgets.isVisible() and not panel.bars_plot.isVisible()
    assert "No YOLO model loaded" in panel.summary.text()
    assert not panel.overlay.grid_lines.isVisible()
    # a YOLO model brings them back, and a non-YOLO one hides them again
    state.set_model(ModelHandle("yolov1-tiny", None, yolov1_tiny().eval(), "random", "cpu"))
    assert panel.yolo_widgets.isVisible() and "No YOLO" not in panel.summary.text()
    state.set_model(ModelHandle("alexnet2012", None, torch.nn.Linear(2, 2), "random", "cpu"))
    assert not panel.yolo_widgets.isVisible()


def test_detection_tags_of_overlapping_boxes_do_not_overlap(view, qtbot):
    t = np.zeros((S, S, B * 5 + C), np.float32)
    t[..., B * 5] = 1.0                                     # class 0 everywhere (no box is confident there)
    t[3, 3, B * 5:] = (0.0, 1.0, 0.0)
    t[3, 4, B * 5:] = (0.0, 0.0, 1.0)                       # a different class: NMS keeps both boxes
    t[3, 3, 0:5] = (0.9, 0.5, 0.6, 0.6, 0.9)
    t[3, 4, 0:5] = (0.0, 0.5, 0.6, 0.6, 0.8)                # nearly the same box, so the same natural tag place
    o = YoloOverlay()
    o.attach(view)
    o.set_model(S, B, C, "darknet", ["zero", "one", "two"])
    o.set_raw(Y.cells_to_flat(t, S, B, C), (H, W))
    qtbot.wait(50)
    assert [d.cell for d in o.detections] == [(3, 3), (3, 4)]
    tags = o.det_texts[-2:]
    rects = [tag.sceneBoundingRect() for tag in tags]
    assert all(tag.isVisible() for tag in tags)
    assert not rects[0].intersects(rects[1])
    best = o.detections[0].box                              # the best keeps its natural place: above its box
    assert tags[0].pos().x() == pytest.approx(best[0]) and tags[0].pos().y() < best[1]


def test_detection_tags_are_placed_again_after_a_wheel_zoom(qtbot):
    """The bundled yolov1-tiny's detections on a sample scene: a mouse-wheel zoom changes the tags' size in image
    pixels (they keep their screen size), and the overlay lays them out again for the new scale."""
    import cv2
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from explorer.core.evaluate import load_detector
    from explorer.core.label_layout import place_labels
    from explorer.core.scenes import SAMPLES_DIR
    from explorer.ui.overlay_base import view_pixel_size

    image = cv2.cvtColor(cv2.imread(str(SAMPLES_DIR / "scene_01.png")), cv2.COLOR_BGR2RGB)
    model = load_detector("yolov1-tiny", "bundled")
    with torch.inference_mode():
        raw = model(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0)
    widget = pg.GraphicsLayoutWidget()      # as the inference panel's view: aspect locked, y down
    qtbot.addWidget(widget)
    vb = widget.addViewBox()
    vb.setAspectLocked(True)
    vb.invertY(True)
    vb.addItem(pg.ImageItem(image, axisOrder="row-major"))
    widget.resize(500, 400)
    widget.show()
    qtbot.waitExposed(widget)
    state = AppState()
    panel = YoloPanel(state, None)
    qtbot.addWidget(panel)
    panel.attach_to(vb)
    state.set_model(ModelHandle("yolov1-tiny", None, model, "bundled", "cpu"))
    state.set_result(FrameResult(frame=Frame(image), model_name="yolov1-tiny", weights="bundled", device="cpu",
                                 task="detection", raw=raw))
    o = panel.overlay
    assert len(o.detections) >= 3 and len(o.det_texts) == len(o.detections)
    qtbot.wait(50)

    def expected_places() -> list:
        px, py = view_pixel_size(vb)
        sizes = [(t.boundingRect().width() * px, t.boundingRect().height() * py) for t in o.det_texts]
        h, w = image.shape[:2]
        return place_labels([d.box for d in o.detections], sizes, (w, h), [d.score for d in o.detections])

    def check() -> None:
        for tag, place in zip(o.det_texts, expected_places()):
            assert tag.isVisible() == (place is not None)
            if place is not None:
                assert (tag.pos().x(), tag.pos().y()) == pytest.approx(place)
        shown = [t.sceneBoundingRect() for t in o.det_texts if t.isVisible()]   # scene = screen pixels
        assert shown
        for i, a in enumerate(shown):
            for b in shown[i + 1:]:
                overlap = a.intersected(b)
                assert overlap.width() * overlap.height() < 1e-6

    check()
    before_scale = view_pixel_size(vb)
    best_before = o.det_texts[0].pos()
    # zoom out with the wheel over the view's centre, as a user does: pyqtgraph zooms about the pointer
    viewport = widget.viewport()
    centre = QPointF(viewport.rect().center())
    for _ in range(3):
        wheel = QWheelEvent(centre, QPointF(viewport.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(viewport, wheel)
    qtbot.wait(50)
    after_scale = view_pixel_size(vb)
    assert after_scale[0] > 1.5 * before_scale[0]    # zoomed out: a screen pixel covers more image pixels
    check()
    # the best tag stays on top of its box's top-left corner, so its top moves up by its grown height
    best, tag = o.detections[0].box, o.det_texts[0]
    assert tag.pos().y() != pytest.approx(best_before.y())
    assert tag.pos().y() + tag.boundingRect().height() * after_scale[1] == pytest.approx(best[1], abs=1e-6)
