"""The YOLO grid overlay and dock, on real pyqtgraph views and the real yolov1-tiny, driven through pytest-qt.

Overlay drawing is tested on a bare ViewBox with hand-made outputs; the dock is built as the window builds it
(`YoloPanel(state, bridge)`, fixture `app_state`) beside the real image view, and fed through the session
bridge with yolov1-tiny and its bundled weights on the generated scenes.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from explorer.core import yolo as Y
from explorer.core.labels import class_names
from explorer.core.scenes import SAMPLES_DIR, SHAPE_CLASSES
from explorer.ui.curve_paths import rect_path
from explorer.ui.overlay_base import view_pixel_size
from explorer.ui.result_overlays import box_colour
from explorer.ui.yolo_overlay import HIGHLIGHT_RGB, YoloOverlay, cell_text, class_colour, num
from tests.conftest import open_model_and_wait
from tests.test_ui_anchors import docked_arrangement

S, B, C = 7, 2, 3
H, W = 350, 500
SCENE = SAMPLES_DIR / "scene_03.png"


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
    o.threshold = 0.2
    o.attach(view)
    o.set_model(S, B, C, "darknet", ["zero", "one", "two"])
    o.set_raw(Y.cells_to_flat(hand_cells(), S, B, C), (H, W))
    return o


@pytest.fixture
def docked(qtbot, app_state):
    """The image view with the RPN anchors and YOLO grid docks tabified beside it (tests.test_ui_anchors)."""
    yield from docked_arrangement(qtbot, *app_state)


def _scene_result(qtbot, state, bridge, path=SCENE):
    with qtbot.waitSignal(state.resultReady, timeout=60000,
                          check_params_cb=lambda r: r.frame.source == str(path)):
        assert bridge.open_image(str(path))
    return state.result


# -- the overlay on a bare view ---------------------------------------------------------------------------------
def test_grid_lines_at_multiples_of_width_over_s(overlay):
    x, y = (np.asarray(v) for v in overlay.grid_lines.getData())
    vertical = x[: 2 * (S + 1)].reshape(-1, 2)
    horizontal = y[2 * (S + 1):].reshape(-1, 2)
    np.testing.assert_allclose(vertical[:, 0], [k * W / S for k in range(S + 1)])
    np.testing.assert_allclose(vertical[:, 1], vertical[:, 0])
    np.testing.assert_allclose(horizontal[:, 0], [k * H / S for k in range(S + 1)])


def test_class_tint_and_legend(overlay):
    img = overlay.tint.image                               # (S rows, S cols, RGBA)
    assert img.shape == (S, S, 4)
    assert tuple(img[3, 3, :3]) == class_colour(1) and tuple(img[0, 0, :3]) == class_colour(0)
    assert img[0, 0, 3] > img[3, 3, 3]                     # prob 1.0 is more opaque than 0.8
    rows = overlay.legend_rows
    assert [(rgb, text) for rgb, _, text in rows[:2]] == [(class_colour(0), "zero (40 cells)"),
                                                          (class_colour(1), "one (9 cells)")]
    html = overlay.legend_html()
    assert "zero (40 cells)" in html and "rgb(%d, %d, %d)" % class_colour(1) in html
    # the hovered cell's dashed swatch is one unbreakable glyph (it wrapped into "- -" and "- hovered cell")
    overlay.hover(10, 10)
    assert "<b>╸&nbsp;╸&nbsp;╸</b></span>&nbsp;hovered cell" in overlay.legend_html()


def test_boxes_detections_and_owner_cells(overlay):
    drawn = sum(len(c.getData()[0]) // 5 for c in overlay.box_bins if c.isVisible())
    assert drawn == S * S * B
    ref = Y.detect(overlay.grid, W, H, 0.2, Y.DEFAULT_NMS_IOU, ["zero", "one", "two"])
    assert [(d.cell, d.label) for d in overlay.detections] == [(d.cell, d.label) for d in ref]
    assert [d.cell for d in ref] == [(3, 3), (6, 0)]        # the neighbour was suppressed by NMS
    # owner cells: rectangles of exactly those cells, by hand
    x, y = (np.asarray(v) for v in overlay.owner_cells.getData())
    np.testing.assert_allclose(x[:5], [3 * W / S, 4 * W / S, 4 * W / S, 3 * W / S, 3 * W / S])
    np.testing.assert_allclose(y[5:10], [6 * H / S, 6 * H / S, 7 * H / S, 7 * H / S, 6 * H / S])
    dots = np.c_[overlay.owner_dots.data["x"], overlay.owner_dots.data["y"]]
    np.testing.assert_allclose(dots[0], [3.5 * W / S, 3.5 * H / S])
    # the threshold (the state's) leaves only the confident box
    overlay.set_threshold(0.7)
    assert [d.cell for d in overlay.detections] == [(3, 3)]
    x, _ = overlay.owner_cells.getData()
    assert len(x) == 5


def test_confidences_never_read_minus_zero(overlay):
    """Issue 21: a confidence of -0.001 (the model's linear output) printed as "-0.00"."""
    assert num(-0.001) == "0.00" and num(-0.004, 2) == "0.00" and num(-0.006) == "-0.01" and num(-0.4, 0) == "0"
    assert num(0.125) == "0.12" and num(-1.5) == "-1.50"
    t = hand_cells()
    t[1, 1, 0:10] = (0.5, 0.5, 0.3, 0.3, -0.001, 0.2, 0.7, 0.1, 0.1, -0.0004)
    t[1, 1, B * 5:] = (-0.001, 0.0, 0.0)
    overlay.set_raw(Y.cells_to_flat(t, S, B, C), (H, W))
    overlay.hover(1.5 * W / S, 1.5 * H / S)
    assert overlay.hover_cell == (1, 1)
    tags = [tag.textItem.toPlainText() for tag in overlay.hover_texts]
    assert tags == ["box 0 conf 0.00", "box 1 conf 0.00"]
    text = cell_text(overlay, (1, 1))
    assert "-0.00" not in text and "confidence 0.00" in text


def test_highlights_differ_from_every_class_colour(overlay):
    """Issue 21: the 'triangle' class was the yellow of the owner-cell highlight. The highlights are white on
    black, the class colours the image view's saturated box colours, so none is close to another."""
    pens = [overlay.owner_cells.opts["pen"], overlay.hover_rect.opts["pen"], overlay.hover_boxes.opts["pen"]]
    highlights = {(p.color().red(), p.color().green(), p.color().blue()) for p in pens}
    highlights.add(tuple(overlay.owner_dots.opts["brush"].color().getRgb()[:3]))
    assert highlights == {HIGHLIGHT_RGB}
    for names in (SHAPE_CLASSES, class_names("voc", 20, background=False)):
        for c, name in enumerate(names):
            colour = class_colour(c)
            q = box_colour(c)
            assert colour == (q.red(), q.green(), q.blue())         # one colour per class in every view
            distance = np.linalg.norm(np.subtract(colour, HIGHLIGHT_RGB))
            assert distance > 150, f"{name} {colour} is too close to the highlight {HIGHLIGHT_RGB}"
    assert SHAPE_CLASSES[2] == "triangle"


# -- the dock beside the image view, fed through the session bridge ---------------------------------------------
def test_panel_hover_bars_tensor_text_and_threshold(qtbot, app_state, docked):
    state, bridge = app_state
    docked.front(qtbot, "yoloDock")
    panel, o = docked.yolo, docked.yolo.overlay
    handle = open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    model = handle.model
    s, b, c = model.S, model.B, model.C
    d = b * 5 + c
    assert f"{s}×{s}×({b}·5+{c}) = {s}×{s}×{d}" in panel.tensor_info.text()
    result = _scene_result(qtbot, state, bridge)
    g = o.grid
    assert g is not None and g.S == s and o.image_size == (224, 224)
    np.testing.assert_allclose(g.cells, Y.flat_to_cells(result.raw, s, b, c))
    x, _ = o.grid_lines.getData()
    np.testing.assert_allclose(np.asarray(x)[: 2 * (s + 1): 2], [k * 224 / s for k in range(s + 1)])
    # the detections are the image view's: the engine's, above the state's threshold, each owning its cell
    assert [(dt.box, dt.cell) for dt in o.detections] == [(dt.box, dt.cell) for dt in result.boxes
                                                          if dt.score >= state.threshold]
    assert o.detections and docked.inference.detections.shown == o.detections
    o.hover(224 * 1.5 / s, 224 * 0.5 / s)          # cell (0, 1)
    assert o.hover_cell == (0, 1)
    assert "cell row 0, column 1" in panel.cell_info.text()
    assert f"confidence {num(g.conf[0, 1, 0])}" in panel.cell_info.text()
    np.testing.assert_allclose(panel.bars.opts["width"], g.probs[0, 1])
    assert len(o.hover_texts) == b
    # the slider is the state's threshold, both ways
    panel.score.setValue(100)
    assert state.threshold == 1.0 and o.threshold == 1.0 and "score ≥ 1.00" in panel.summary.text()
    assert o.detections == [] and docked.inference.detections.shown == []
    state.set_threshold(0.3)
    assert panel.score.value() == 30 and panel.score_label.text() == "0.30"


def test_panel_without_a_yolo_model_hides_the_chart(qtbot, app_state, docked):
    """A model that is not a YOLO (its entry's preprocessing says so): no empty bar chart, slider or legend;
    the text says what the panel needs."""
    state, bridge = app_state
    docked.front(qtbot, "yoloDock")
    panel = docked.yolo
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    _scene_result(qtbot, state, bridge)
    assert not panel.yolo_widgets.isVisible() and not panel.bars_plot.isVisible()
    assert "No YOLO model loaded" in panel.summary.text()
    assert not panel.overlay.grid_lines.isVisible() and panel.overlay.grid is None
    open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    assert panel.yolo_widgets.isVisible() and "No YOLO" not in panel.summary.text()
    qtbot.waitUntil(lambda: panel.overlay.grid is not None, timeout=60000)
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    assert not panel.yolo_widgets.isVisible() and not panel.overlay.grid_lines.isVisible()


def _det_tags(docked):
    return [t for t in docked.inference.detections._texts[:len(docked.inference.detections.shown)]
            if t.isVisible()]


def _overlaps(a, b) -> bool:
    r = a.intersected(b)
    return r.width() * r.height() > 1e-6


def test_hover_tags_never_cover_the_detection_tags(qtbot, app_state, docked):
    """Issue 21: hovering the cell that owns a detection put its boxes' tags on the image view's tag of that
    detection (both want the box's top-left corner). They go around the detection tags, also after a zoom."""
    state, bridge = app_state
    docked.front(qtbot, "yoloDock")
    o = docked.yolo.overlay
    open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    _scene_result(qtbot, state, bridge)
    qtbot.waitUntil(lambda: bool(o.detections) and bool(_det_tags(docked)), timeout=5000)

    def check():
        tags = [t for t in o.hover_texts if t.isVisible()]
        assert tags
        for t in tags:
            for d in _det_tags(docked):
                assert not _overlaps(t.sceneBoundingRect(), d.sceneBoundingRect()), t.textItem.toPlainText()
        for i, a in enumerate(tags):
            for bt in tags[i + 1:]:
                assert not _overlaps(a.sceneBoundingRect(), bt.sceneBoundingRect())

    for det in o.detections:
        row, col = det.cell
        o.hover((col + 0.5) * 224 / o.S, (row + 0.5) * 224 / o.S)
        assert o.hover_cell == (row, col)
        # the box that made the detection wants the same corner as the detection's tag
        box = o.grid.boxes(224, 224)[row, col][det.box_index]
        assert np.allclose(np.clip(box, 0, 224), det.box, atol=1e-3)
        check()
    # zoom out with the wheel over the view, as a user does: the tags keep their screen size, so both layouts
    # are made again for the new scale
    vb = docked.inference.view_box
    before = view_pixel_size(vb)
    viewport = docked.inference.graphics.viewport()
    centre = QPointF(viewport.rect().center())
    for _ in range(3):
        QApplication.sendEvent(viewport, QWheelEvent(centre, QPointF(viewport.mapToGlobal(centre.toPoint())),
                                                     QPoint(0, 0), QPoint(0, -120), Qt.MouseButton.NoButton,
                                                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                                                     False))
    qtbot.waitUntil(lambda: view_pixel_size(vb)[0] > 1.5 * before[0], timeout=5000)
    qtbot.wait(50)
    check()


def test_grid_goes_with_the_source_and_the_model_and_shows_with_its_tab(qtbot, app_state, docked):
    state, bridge = app_state
    o = docked.yolo.overlay
    docked.front(qtbot, "yoloDock")
    open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    _scene_result(qtbot, state, bridge)
    o.hover(10, 10)
    assert o.grid is not None and o.tint.isVisible() and o.hover_texts
    docked.front(qtbot, "anchorsDock")
    qtbot.waitUntil(lambda: o.view_box is None, timeout=5000)
    assert o.tint.scene() is None and not o.hover_texts
    docked.front(qtbot, "yoloDock")
    assert o.tint.scene() is docked.inference.view_box.scene() and o.tint.isVisible()

    seen = {}
    state.sourceChanged.connect(lambda _info: seen.update(
        source=(o.grid, o.detections, o.hover_cell, [i.isVisible() for i in o._items], list(o.hover_texts))))
    state.modelChanged.connect(lambda _h: seen.update(model=(o.grid, [i.isVisible() for i in o._items])))
    next_scene = SAMPLES_DIR / "scene_01.png"
    _scene_result(qtbot, state, bridge, next_scene)
    grid, dets, hover, visible, texts = seen["source"]
    assert grid is None and dets == [] and hover is None and not any(visible) and not texts
    assert o.grid is not None and o.image_size == (224, 224)       # the new scene's
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    grid, visible = seen["model"]
    assert grid is None and not any(visible)


def test_raw_confidences_and_sizes_are_marked_raw(qtbot, app_state, docked):
    """New-user trial: the dock and the hovered box's tag read "confidence -0.01" and "√w, √h 0.02, -0.01", which
    looked like a bug. YOLOv1 regresses them linearly (no sigmoid), so a little-trained model's may leave 0..1:
    they stay as the model gives them, marked raw where they do (as the class probabilities are), and the box is
    still drawn from them (w, h the squares of √w, √h)."""
    state, bridge = app_state
    docked.front(qtbot, "yoloDock")
    panel, o = docked.yolo, docked.yolo.overlay
    open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    _scene_result(qtbot, state, bridge)
    g = o.grid
    s, b = o.S, o.B
    assert "no sigmoid" in panel.tensor_info.text()
    raw = g.cells[..., :b * 5].reshape(s, s, b, 5)                     # (x, y, √w, √h, confidence) per box
    shown = np.vectorize(lambda v: float(num(v)))(raw)
    neg_conf = np.argwhere(shown[..., 4] < 0)
    neg_wh = np.argwhere((shown[..., 2:4] < 0).any(-1))
    fine = np.argwhere(((shown >= 0) & (shown <= 1)).all(-1))
    assert len(neg_conf) and len(neg_wh) and len(fine)                 # the bundled weights have all three
    for row, col, box in neg_conf[:3]:
        o.hover((col + 0.5) * 224 / s, (row + 0.5) * 224 / s)
        conf = g.conf[row, col, box]
        assert f"<b>confidence {num(conf)}</b> (raw output: not bounded to 0–1)" in panel.cell_info.text()
        assert o.hover_texts[box].textItem.toPlainText() == f"box {box} conf {num(conf)} (raw)"
        # the box drawn is the same as before: w, h the squares of the raw √w, √h
        x, y = (np.asarray(v) for v in o.hover_boxes.getData())
        ref = g.boxes(224, 224)[row, col]
        rx, ry, _ = rect_path(ref)
        np.testing.assert_allclose(x, rx)
        np.testing.assert_allclose(y, ry)
        np.testing.assert_allclose(g.wh[row, col], raw[row, col, :, 2:4] ** 2)
    row, col, box = neg_wh[0]
    o.hover((col + 0.5) * 224 / s, (row + 0.5) * 224 / s)
    line = panel.cell_info.text().split("<br>")[1 + box]
    sw, sh = raw[row, col, box, 2:4]
    assert f"√w, √h {num(sw)}, {num(sh)} (raw regressions: not bounded to 0–1; w, h are their squares)" in line
    # values inside 0..1 are not marked
    row, col, box = fine[0]
    o.hover((col + 0.5) * 224 / s, (row + 0.5) * 224 / s)
    line = panel.cell_info.text().split("<br>")[1 + box]
    assert line.startswith(f"box {box}: ") and "raw" not in line
    assert o.hover_texts[box].textItem.toPlainText() == f"box {box} conf {num(g.conf[row, col, box])}"


def _whole_in_sight(widget) -> bool:
    """Every pixel of `widget` can be seen: inside each of its ancestors (a scroll area's viewport, the dock)."""
    from PySide6.QtCore import QRect

    if not widget.isVisible():
        return False
    ancestor = widget.parentWidget()
    while ancestor is not None:
        if not ancestor.rect().contains(QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())):
            return False
        ancestor = ancestor.parentWidget()
    return True


def test_the_class_chart_fits_a_short_dock_with_its_axis(qtbot, app_state, docked):
    """New-user trial: in a small dock the chart (16 px a class) was taller than the dock, its bars and its only
    axis never in sight together. It now takes the dock's height beside the texts: whole, with its axis."""
    state, bridge = app_state
    docked.front(qtbot, "yoloDock")
    panel = docked.yolo
    docked.window.resizeDocks([docked.docks["yoloDock"]], [240], Qt.Orientation.Vertical)
    open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    _scene_result(qtbot, state, bridge)
    qtbot.waitUntil(lambda: panel.bars_plot.isVisible(), timeout=5000)
    qtbot.wait(50)
    assert panel.height() <= 260
    plot = panel.bars_plot
    assert _whole_in_sight(plot) and plot.height() >= 120
    assert plot.getAxis("bottom").isVisible() and plot.getAxis("left").isVisible()
    vb = plot.getViewBox()   # every bar's row inside the chart's view
    (_, _), (y0, y1) = vb.viewRange()
    assert y0 <= -0.5 and y1 >= len(panel.overlay.labels) - 0.5
    assert panel.body.direction() == panel.body.Direction.LeftToRight   # beside the texts in a wide dock
    # a narrow dock: the chart goes under the texts, still whole
    docked.window.resize(500, 900)
    docked.window.resizeDocks([docked.docks["yoloDock"]], [420], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: panel.body.direction() == panel.body.Direction.TopToBottom, timeout=5000)
    qtbot.wait(50)
    assert _whole_in_sight(plot) and plot.height() >= 120


def test_twenty_classes_in_a_short_chart_name_every_other_bar_and_the_most_probable(qtbot, app_state, docked):
    """VOC's 20 classes in a short chart: names that would overlap give way (every k-th is named), the most
    probable class always is; a taller chart names them all."""
    from PySide6.QtGui import QFontMetrics

    docked.front(qtbot, "yoloDock")
    panel, o = docked.yolo, docked.yolo.overlay
    docked.window.resizeDocks([docked.docks["yoloDock"]], [240], Qt.Orientation.Vertical)
    c = 20
    o.set_model(S, B, c, "darknet", [f"class{i}" for i in range(c)])
    cells = np.zeros((S, S, B * 5 + c), np.float32)
    cells[..., B * 5:] = 0.01
    cells[..., B * 5 + 7] = 0.8                  # class 7 the most probable everywhere
    cells[..., 4] = 0.5
    o.set_raw(Y.cells_to_flat(cells, S, B, c), (H, W))
    panel._show_cell(None)
    qtbot.wait(50)
    plot = panel.bars_plot
    axis, vb = plot.getAxis("left"), plot.getViewBox()
    assert _whole_in_sight(plot)

    def named() -> list[int]:
        return [int(v) for v, _ in axis._tickLevels[0]]

    line = QFontMetrics(plot.font()).height()
    rows = named()
    assert 7 in rows and len(rows) < c
    gaps = np.diff([vb.mapViewToScene(QPointF(0, r)).y() for r in rows])
    assert gaps.min() >= line * 0.99            # no two names overlap
    docked.window.resizeDocks([docked.docks["yoloDock"]], [700], Qt.Orientation.Vertical)
    qtbot.waitUntil(lambda: plot.height() > (line + 2) * c + 60, timeout=5000)
    qtbot.wait(50)
    assert named() == list(range(c))
