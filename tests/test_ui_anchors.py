"""The anchors overlay and panel on a real pyqtgraph ViewBox, driven through pytest-qt."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
import torch

from explorer.core import anchors as A
from explorer.core.results import Frame, FrameResult
from explorer.ui.anchors_view import MODES, AnchorsOverlay, AnchorsPanel, rect_path
from explorer.ui.state import AppState


@pytest.fixture
def view(qtbot):
    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    vb = w.addViewBox()
    vb.invertY(True)
    vb.setAspectLocked(True)
    img = np.zeros((120, 160, 3), np.uint8)
    vb.addItem(pg.ImageItem(img, axisOrder="row-major"))
    w.resize(400, 300)
    w.show()
    yield vb            # the widget stays referenced (so alive) until the test ends
    w.close()


@pytest.fixture(scope="module")
def rpn_result():
    from explorer.core.rpn import run_rpn
    from models.fasterrcnn_tiny import fasterrcnn_tiny

    torch.manual_seed(0)
    model = fasterrcnn_tiny().eval()
    img = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    out = run_rpn(model, torch.from_numpy(img).permute(2, 0, 1).float() / 255)
    return FrameResult(frame=Frame(img), model_name="fasterrcnn-tiny", weights="random", device="cpu",
                       task="detection", extras={"rpn": out})


def _curve_xy(item):
    x, y = item.getData()
    return np.asarray(x), np.asarray(y)


def test_position_mode_draws_the_nine_anchors(view):
    o = AnchorsOverlay()
    o.attach(view)
    o.set_image_size((120, 160))
    aset = A.config_anchor_set(A.AnchorConfig(), (120, 160), 600)   # ×5: 600×800 → 38×50 positions
    assert aset.feature_size == (38, 50)
    assert len(o.grid_dots.data) == 38 * 50
    np.testing.assert_allclose(np.c_[o.grid_dots.data["x"], o.grid_dots.data["y"]], aset.centres)
    assert "38×50×9 = 17,100 anchors" in o.count_text.textItem.toPlainText()
    assert o.position == aset.nearest_position(80, 60)
    assert len(o.anchor_curves) == 9
    for a, curve in enumerate(o.anchor_curves):
        x, y = _curve_xy(curve)
        ex, ey, _ = rect_path(aset.at_position(o.position)[a][None])
        np.testing.assert_allclose(x, ex)
        np.testing.assert_allclose(y, ey)
    pens = [c.opts["pen"] for c in o.anchor_curves]
    # colour by size (a % 3), line style by ratio (a // 3)
    assert pens[0].color() == pens[3].color() == pens[6].color() and pens[0].color() != pens[1].color()
    assert pens[0].style() == pens[1].style() == pens[2].style() and pens[0].style() != pens[3].style()
    assert [text for _, _, text in o.legend_rows] == ["128 px", "256 px", "512 px", "h:w 1:2 wide",
                                                      "h:w 1:1 square", "h:w 2:1 tall"]
    # the legend's swatches are the curves' pens: colour of a size, line style of a ratio
    assert [rgb for rgb, _, _ in o.legend_rows[:3]] == [(c.red(), c.green(), c.blue()) for c in
                                                         (pens[0].color(), pens[1].color(), pens[2].color())]
    assert [style for _, style, _ in o.legend_rows[3:]] == [pens[0].style(), pens[3].style(), pens[6].style()]


def test_hover_and_pin(view):
    o = AnchorsOverlay()
    o.attach(view)
    o.set_image_size((120, 160))
    aset = o.anchor_set()
    o.hover(10, 10)
    assert o.position == aset.nearest_position(10, 10)
    o.click(100, 50)
    pinned = o.position
    assert o.pinned and pinned == aset.nearest_position(100, 50)
    o.hover(5, 5)
    assert o.position == pinned
    o.click(5, 5)
    assert not o.pinned and o.position == aset.nearest_position(5, 5)


def test_labels_mode_counts(view):
    o = AnchorsOverlay()
    o.attach(view)
    o.set_image_size((120, 160))
    o.mode = "labels"
    o.set_gt_box((40, 20, 120, 100))
    ref = A.label_anchors(o.anchor_set().anchors, [(40, 20, 120, 100)])
    assert o.label_counts == ref.counts and ref.counts["positive"] >= 1
    x, _ = _curve_xy(o.label_positive)
    assert len(x) == 5 * ref.counts["positive"]
    assert str(ref.counts["positive"]) in o.count_text.textItem.toPlainText()
    # dragging the ground-truth box relabels
    o.gt_roi.setPos((0, 0))
    assert o.gt_box[:2] == (0, 0)
    assert o.label_counts == A.label_anchors(o.anchor_set().anchors, [o.gt_box]).counts


def test_model_rpn_modes(view, rpn_result):
    o = AnchorsOverlay()
    o.attach(view)
    o.set_result(rpn_result)
    out = rpn_result.extras["rpn"]
    lv = out.levels[0]
    assert len(o.grid_dots.data) == lv.feature_size[0] * lv.feature_size[1]
    # objectness heat map of anchor shape 4: the level's probabilities, one pixel per position
    o.mode, o.shape_index = "objectness", 4
    o.redraw()
    np.testing.assert_allclose(o.heat.image, lv.probability()[4].T, rtol=1e-6)
    # proposals: the after-NMS curve is the probe's after-NMS boxes, in source pixels
    o.mode = "proposals"
    o.params = dict(pre_nms_top_n=50, post_nms_top_n=10, nms_iou=0.5, score_thresh=0.0)
    o.arrows = 5
    o.redraw()
    p = out.select(**o.params)
    x, y = _curve_xy(o.after_curve)
    ex, ey, _ = rect_path(out.to_source(p.after_boxes))
    np.testing.assert_allclose(x, ex, rtol=1e-5)
    np.testing.assert_allclose(y, ey, rtol=1e-5)
    ax, _ = _curve_xy(o.arrow_curve)
    assert len(ax) == 5 * 6            # 5 arrows, 3 segments each
    assert f"→ {len(p.keep)} proposals" in o.count_text.textItem.toPlainText()


def test_panel(qtbot, view, rpn_result):
    state = AppState()
    panel = AnchorsPanel(state, None)
    qtbot.addWidget(panel)
    panel.attach_to(view)
    assert panel.overlay.view_box is view
    panel.mode.setCurrentIndex([k for k, _ in MODES].index("shape"))
    assert panel.overlay.mode == "shape"
    errors = []
    state.error.connect(errors.append)
    panel.sizes.setText("128 abc")
    panel.sizes.editingFinished.emit()
    assert errors and panel.overlay.config.sizes == (128.0, 256.0, 512.0)
    panel.sizes.setText("128 256 512")
    panel.ratios.setText("1")
    panel.ratios.editingFinished.emit()
    assert panel.overlay.config.ratios == (1.0,) and panel.shape.count() == 3
    state.set_result(rpn_result)
    lv = rpn_result.extras["rpn"].levels[0]
    text = panel.tensors.text()
    assert "×".join(map(str, lv.cls_shape)) in text and "×".join(map(str, lv.reg_shape)) in text
    assert "×".join(map(str, lv.conv_shape)) in text
    assert not panel.sizes.isEnabled()      # the model's anchors are shown, not the configured ones
    # the sliders start at the model's own test-time settings (fasterrcnn-tiny: 300 → 100 at IoU 0.7)
    assert (panel.pre_n.value(), panel.post_n.value(), panel.nms.value(), panel.score.value()) == (300, 100, 70, 0)
    assert panel.overlay.params == dict(pre_nms_top_n=300, post_nms_top_n=100, nms_iou=0.7, score_thresh=0.0)
    panel.mode.setCurrentIndex([k for k, _ in MODES].index("proposals"))
    panel.post_n.setValue(3)
    assert len(panel.overlay.proposals.keep) <= 3
    assert all(item.scene() is view.scene() for item in panel.overlay._items)
    panel.detach_overlay()
    assert panel.overlay.view_box is None
    assert all(item.scene() is None for item in [*panel.overlay._items, panel.overlay.gt_roi])


def test_live_engine_feeds_the_overlay(qtbot):
    """Through the real inference panel and engine: the panel's probe runs and its output is drawn."""
    from explorer.core import zoo
    from explorer.ui.inference_panel import InferencePanel
    from explorer.ui.state import ModelHandle

    state = AppState()
    inference = InferencePanel(state)
    qtbot.addWidget(inference)
    panel = AnchorsPanel(state, None)
    qtbot.addWidget(panel)
    try:
        panel.attach_to(inference)
        torch.manual_seed(0)
        state.set_model(ModelHandle("fasterrcnn-tiny", zoo.get("fasterrcnn-tiny"), zoo.build("fasterrcnn-tiny"),
                                    "random", "cpu"))
        panel._sync_probe()
        assert "rpn" in inference.engine_probes
        with qtbot.waitSignal(state.resultReady, timeout=60000) as blocker:
            state.set_frame(Frame(np.zeros((96, 128, 3), np.uint8)))
        out = blocker.args[0].extras["rpn"]
        assert panel.overlay.rpn is out and panel.overlay.view_box is inference.view_box
        assert "×".join(map(str, out.levels[0].reg_shape)) in panel.tensors.text()
        # model pixels map back onto the 128×96 frame
        np.testing.assert_allclose(out.to_source([[0, 0, out.image_size[1], out.image_size[0]]]),
                                   [[0, 0, 128, 96]], atol=1e-3)
        panel.detach_overlay()
        assert "rpn" not in inference.engine_probes
    finally:
        inference.shutdown()


def test_fpn_position_shows_every_level(view):
    from explorer.core import zoo
    from explorer.core.rpn import run_rpn

    torch.manual_seed(0)
    model = zoo.build("fasterrcnn_mobilenet_v3_large_320_fpn")
    model.transform.min_size, model.transform.max_size = (160,), 160
    img = np.zeros((120, 160, 3), np.uint8)
    out = run_rpn(model, torch.from_numpy(img).permute(2, 0, 1).float())
    o = AnchorsOverlay()
    o.attach(view)
    o.set_result(FrameResult(frame=Frame(img), model_name="m", weights="random", device="cpu", task="detection",
                             extras={"rpn": out}))
    assert len(o.anchor_curves) == sum(lv.num_anchors for lv in out.levels)
    centre = o.anchor_set(0).centres[o.position]
    last = o.anchor_set(len(out.levels) - 1)
    x, y = _curve_xy(o.anchor_curves[-1])
    ex, ey, _ = rect_path(last.at_position(last.nearest_position(*centre))[-1][None])
    np.testing.assert_allclose(x, ex)
    o.all_levels = False
    o.redraw()
    assert len(o.anchor_curves) == out.levels[0].num_anchors


@pytest.mark.parametrize("name", ["alexnet2012", "yolov1-tiny"])
def test_models_without_rpn_show_the_papers_anchors(qtbot, view, name):
    """Any model without an RPN (a classifier, a YOLO) gets the same thing: the configured anchors (the
    paper's 128/256/512 px × 1:2/1:1/2:1 at stride 16) over the image, said so; objectness and proposals
    say they need a Faster R-CNN model."""
    from explorer.ui.state import ModelHandle

    if name == "yolov1-tiny":
        from models.yolov1_tiny import yolov1_tiny
        model = yolov1_tiny().eval()
        assert hasattr(model, "S") and hasattr(model, "C")
    else:
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))   # stands for any CNN without an `rpn`
    state = AppState()
    panel = AnchorsPanel(state, None)
    qtbot.addWidget(panel)
    panel.attach_to(view)
    state.set_model(ModelHandle(name, None, model, "random", "cpu"))
    state.set_result(FrameResult(frame=Frame(np.zeros((120, 160, 3), np.uint8)), model_name=name, weights="random",
                                 device="cpu", task="classification"))
    o = panel.overlay
    aset = A.config_anchor_set(A.AnchorConfig(), (120, 160), 600)
    assert o.rpn is None and o.model_has_rpn is False
    # position mode: 38×50 positions × 9 anchors, the grid and the 9 anchors of the centre position drawn
    assert o.grid_dots.isVisible() and len(o.grid_dots.data) == 38 * 50 and len(o.anchor_curves) == 9
    assert "38×50×9 = 17,100 anchors" in o.count_text.textItem.toPlainText()
    assert "no RPN in this model: showing the paper's anchors at stride 16 over the image" in panel.info.text()
    assert panel.config_box.isVisibleTo(panel) and panel.sizes.isEnabled()
    assert panel.legend.isVisibleTo(panel) and "256 px" in panel.legend.text()
    # the settings still edit them: stride 32 halves the grid each way
    panel.stride.setValue(32)
    assert len(o.grid_dots.data) == A.config_anchor_set(o.config, (120, 160), 600).count // 9
    assert "stride 32" in panel.info.text() and "anchor settings below" in panel.info.text()
    panel.stride.setValue(16)
    for mode in ("shape", "labels"):
        panel.mode.setCurrentIndex([k for k, _ in MODES].index(mode))
        assert o.grid_dots.isVisible() and "no RPN in this model" in panel.info.text()
    o.set_gt_box((40, 20, 120, 100))
    assert o.label_counts == A.label_anchors(aset.anchors, [(40, 20, 120, 100)]).counts
    for mode in ("objectness", "proposals"):
        panel.mode.setCurrentIndex([k for k, _ in MODES].index(mode))
        assert f"The {mode} view needs a Faster R-CNN model" in panel.info.text()
        assert not o.heat.isVisible() and not o.after_curve.isVisible() and not o.grid_dots.isVisible()
        assert "need a Faster R-CNN model" in o.count_text.textItem.toPlainText() or \
            "needs a Faster R-CNN model" in o.count_text.textItem.toPlainText()


def test_reattach_prints_no_scene_warnings(qtbot, view, capfd):
    """Detach then attach again (the dock's tab switched away and back): no item is removed from a scene
    it is not in (Qt would print "QGraphicsScene::removeItem: ... is different from this scene")."""
    o = AnchorsOverlay()
    o.attach(view)
    o.set_image_size((120, 160))
    assert len(o.anchor_curves) == 9
    o.detach()
    assert o.anchor_curves == [] and all(c.scene() is None for c in [*o._items, o.gt_roi])
    o.attach(view)
    o.hover(10, 10)
    o.detach()
    o.detach()
    assert "removeItem" not in capfd.readouterr().err


def test_position_restarts_at_the_centre_on_a_new_grid(view, rpn_result):
    """A position index from one grid (the configured 38×50 anchors) is not reused on another (the model
    RPN's map): the shown position is the new grid's centre."""
    o = AnchorsOverlay()
    o.attach(view)
    o.set_image_size((120, 160))
    o.click(150, 110)                       # pin a position near the bottom-right of the 38×50 grid
    assert o.pinned
    o.set_result(rpn_result)
    aset = o.anchor_set()
    assert aset.feature_size != (38, 50)
    assert not o.pinned and o.position == aset.nearest_position(80, 60)
