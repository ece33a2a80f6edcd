"""The RPN anchors overlay and dock, on real pyqtgraph views and real models, driven through pytest-qt.

Overlay drawing is tested on a bare ViewBox with RPN outputs computed here; the dock is built as the window
builds it (`AnchorsPanel(state, bridge)`, fixture `app_state`) and fed through the session bridge with real
models (fasterrcnn-tiny with its bundled weights; fasterrcnn_mobilenet_v3_large_320_fpn for FPN levels).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from explorer.core import anchors as A
from explorer.core.results import Frame, FrameResult
from explorer.core.scenes import SAMPLES_DIR, make_scene
from explorer.ui.anchors_overlay import MODES, AnchorsOverlay
from explorer.ui.anchors_view import PROBE_NAME, AnchorsPanel
from explorer.ui.curve_paths import rect_path
from explorer.ui.overlay_base import legend_label, show_legend
from tests.conftest import open_model_and_wait

MODE_KEYS = [k for k, _ in MODES]
SCENE = SAMPLES_DIR / "scene_03.png"   # a generated scene: three shapes, its ground truth in scene_03.json


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


def _tiny_model():
    from models.fasterrcnn_tiny import fasterrcnn_tiny

    torch.manual_seed(0)
    return fasterrcnn_tiny().eval()


@pytest.fixture(scope="module")
def rpn_result():
    from explorer.core.rpn import run_rpn

    img = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)
    out = run_rpn(_tiny_model(), torch.from_numpy(img).permute(2, 0, 1).float() / 255)
    return FrameResult(frame=Frame(img), model_name="fasterrcnn-tiny", weights="random", device="cpu",
                       task="detection", extras={"rpn": out})


def _curve_xy(item):
    x, y = item.getData()
    return np.asarray(x), np.asarray(y)


class Docked:
    """The window's arrangement without the window: the image view in the middle, the RPN anchors and YOLO
    grid docks tabified below it, each panel built from the state and the bridge alone."""

    def __init__(self, qtbot, state, bridge) -> None:
        from explorer.ui.inference_panel import InferencePanel
        from explorer.ui.yolo_view import YoloPanel

        self.window = QMainWindow()
        qtbot.addWidget(self.window)
        self.inference = InferencePanel(state, bridge)
        self.window.setCentralWidget(self.inference)
        self.anchors = AnchorsPanel(state, bridge)
        self.yolo = YoloPanel(state, bridge)
        self.docks = {}
        for name, panel in (("anchorsDock", self.anchors), ("yoloDock", self.yolo)):
            dock = QDockWidget(name)
            dock.setObjectName(name)
            dock.setWidget(panel)
            self.window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            self.docks[name] = dock
        self.window.tabifyDockWidget(self.docks["anchorsDock"], self.docks["yoloDock"])
        self.window.resize(1000, 900)
        self.window.show()
        qtbot.waitExposed(self.window)

    def front(self, qtbot, name: str) -> None:
        self.docks[name].raise_()
        panel = self.anchors if name == "anchorsDock" else self.yolo
        qtbot.waitUntil(lambda: panel.overlay.view_box is self.inference.view_box, timeout=5000)


def docked_arrangement(qtbot, state, bridge):
    """A Docked arrangement on the test's state and bridge, for a fixture. The bridge stops before the panels
    go (the state outlives them here, as it does not in the app: a late report must not reach a deleted one)."""
    arrangement = Docked(qtbot, state, bridge)
    yield arrangement
    bridge.shutdown()
    QApplication.processEvents()
    arrangement.window.close()


@pytest.fixture
def docked(qtbot, app_state):
    yield from docked_arrangement(qtbot, *app_state)


# -- the overlay on a bare view ---------------------------------------------------------------------------------
def test_position_mode_draws_the_nine_anchors(view):
    o = AnchorsOverlay()
    o.attach(view)
    o.set_image_size((120, 160))
    aset = A.config_anchor_set(A.AnchorConfig(), (120, 160), 600)   # ×5: 600×800 → 38×50 positions
    assert aset.feature_size == (38, 50)
    assert len(o.grid_dots.data) == 38 * 50
    np.testing.assert_allclose(np.c_[o.grid_dots.data["x"], o.grid_dots.data["y"]], aset.centres)
    assert "38×50×9 = 17,100 anchors" in o.caption
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


def legend_lines(label: QLabel) -> list[str]:
    """The legend's lines as the label draws them (QLabel lays its rich text out in a QTextDocument with no
    margin, as wide as its contents), non-breaking spaces read as spaces."""
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)
    doc.setHtml(label.text())
    doc.setTextWidth(label.contentsRect().width())
    doc.size()  # lays it out
    lines, block = [], doc.begin()
    while block.isValid():
        layout = block.layout()
        for i in range(layout.lineCount()):
            line = layout.lineAt(i)
            lines.append(block.text()[line.textStart():line.textStart() + line.textLength()].replace("\u00a0", " "))
        block = block.next()
    return lines


def test_legend_entries_stay_whole_in_a_narrow_dock(qtbot, view):
    """New-user trial: in a narrow dock the anchors' legend broke "h:w 1:1 square" into "h:w 1:1" and "square"
    (and a swatch from its label). Each entry stays on one line at a docked panel's widths; a sentence wider than
    the strip wraps at its spaces instead of running off it, and never holds the dock wide."""
    o = AnchorsOverlay()
    o.attach(view)
    o.set_image_size((120, 160))
    host = QWidget()
    layout = QVBoxLayout(host)
    legend = legend_label()
    layout.addWidget(legend)
    layout.addStretch(1)
    qtbot.addWidget(host)
    host.show()
    show_legend(legend, o)
    texts = [text for _, _, text in o.legend_rows]
    assert "h:w 1:1 square" in texts
    for width in (180, 230, 290, 400):
        host.resize(width, 300)
        qtbot.waitUntil(lambda w=width: w - 40 < legend.width() < w, timeout=5000)
        qtbot.wait(20)  # the legend lays its entries out again for its new width
        lines = legend_lines(legend)
        assert len(lines) >= (2 if width < 400 else 1)
        for text in texts:
            assert any(text in line for line in lines), (width, text, lines)
    sentence = "128 px, h:w 1:2 wide: at all 1,444 positions (every 3×3-th drawn)"   # the "one shape" mode's row
    legend.set_rows([((255, 70, 70), Qt.PenStyle.SolidLine, sentence)])
    host.resize(180, 300)
    qtbot.waitUntil(lambda: legend.width() < 180, timeout=5000)
    qtbot.wait(20)
    assert len(legend_lines(legend)) > 1 and " ".join(legend_lines(legend)).split() == ["━━━", *sentence.split()]
    assert host.minimumSizeHint().width() <= 180


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
    assert f"positive {ref.counts['positive']}" in o.caption
    # dragging the ground-truth box relabels
    o.gt_roi.setPos((0, 0))
    assert o.gt_box[:2] == (0, 0)
    assert o.label_counts == A.label_anchors(o.anchor_set().anchors, [o.gt_box]).counts


def test_objectness_cells_start_at_their_anchor_centres_and_stay_on_the_image(view, rpn_result):
    """Issue 21: the heat map reached half a cell past the image's left and top edges (each value drawn
    stride×stride around its anchors' centre). torchvision's AnchorGenerator centres the anchors of cell
    (i, j) at (j·stride, i·stride), the cell's top-left corner: each value is drawn over its cell
    [j·s, (j+1)·s) × [i·s, (i+1)·s), and the map covers the image exactly."""
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    out = rpn_result.extras["rpn"]
    lv = out.levels[0]
    o = AnchorsOverlay()
    o.attach(view)
    o.set_result(rpn_result)
    o.mode, o.shape_index = "objectness", 4
    o.redraw()
    # the reference anchors: torchvision's own generator on a map of this level's size
    fh, fw = lv.feature_size
    sy, sx = lv.stride
    gen = AnchorGenerator((lv.sizes,), (lv.ratios,))
    images = ImageList(torch.zeros(1, 3, *out.padded_size), [out.image_size])
    ref = gen(images, [torch.zeros(1, 1, fh, fw)])[0].numpy()
    centres = (ref[::lv.num_anchors, :2] + ref[::lv.num_anchors, 2:]) / 2          # (fh·fw, 2) model pixels
    np.testing.assert_allclose(centres[fw + 1], [sx, sy])                         # cell (1, 1): its top-left
    # the heat image is the image in model pixels: the value at the anchors' centre (j·s, i·s) is cell (i, j)'s,
    # one model pixel up and left is the previous cell's
    heat = o.heat.image
    h, w = out.image_size
    assert heat.shape == (h, w)
    prob = lv.probability()[4]
    for i, j in ((1, 1), (3, 5), (fh - 1, fw - 1)):
        cx, cy = centres[i * fw + j].astype(int)
        if cy < h and cx < w:
            assert heat[cy, cx] == pytest.approx(prob[i, j])
            assert heat[cy - 1, cx - 1] == pytest.approx(prob[i - 1, j - 1])
    # on screen: from the image's top-left corner to its bottom-right one, in source pixels (120×160)
    rect = o.heat.mapRectToParent(o.heat.boundingRect())
    assert (rect.left(), rect.top()) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert (rect.right(), rect.bottom()) == pytest.approx((160.0, 120.0), abs=1e-3)
    # the dots (anchor centres) are drawn with it, so the corners show
    assert o.grid_dots.isVisible()
    np.testing.assert_allclose(np.c_[o.grid_dots.data["x"], o.grid_dots.data["y"]], out.to_source(
        np.c_[centres, centres])[:, :2], atol=1e-6)


def test_model_rpn_proposals(view, rpn_result):
    o = AnchorsOverlay()
    o.attach(view)
    o.set_result(rpn_result)
    out = rpn_result.extras["rpn"]
    lv = out.levels[0]
    assert len(o.grid_dots.data) == lv.feature_size[0] * lv.feature_size[1]
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
    assert f"→ {len(p.keep)} proposals" in o.caption


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


# -- the dock, fed through the session bridge -----------------------------------------------------------------
def _open_image(qtbot, state, bridge, path, has_rpn=True):
    """Open an image and wait for the current model's result on it (with the RPN probe's output when the
    model has an RPN and the probe is in the set)."""
    with qtbot.waitSignal(state.resultReady, timeout=60000,
                          check_params_cb=lambda r: Path(r.frame.source) == Path(path)
                          and (not has_rpn or r.extras.get(PROBE_NAME) is not None)):
        assert bridge.open_image(str(path))


def test_panel_on_fasterrcnn_tiny(qtbot, app_state, docked):
    state, bridge = app_state
    docked.front(qtbot, "anchorsDock")
    panel = docked.anchors
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    qtbot.waitUntil(lambda: bridge.has_probe(PROBE_NAME), timeout=5000)  # the dock is in front: its probe runs
    _open_image(qtbot, state, bridge, SCENE)
    qtbot.waitUntil(lambda: panel.overlay.rpn is not None, timeout=5000)
    lv = panel.overlay.rpn.levels[0]
    text = panel.tensors.text()
    assert all("×".join(map(str, s)) in text for s in (lv.cls_shape, lv.reg_shape, lv.conv_shape))
    assert not panel.config_box.isVisible()          # the model's anchors are shown, not the configured ones
    # the sliders start at the model's own test-time settings (fasterrcnn-tiny: 300 → 100 at IoU 0.7)
    assert (panel.pre_n.value(), panel.post_n.value(), panel.nms.value(), panel.score.value()) == (300, 100, 70, 0)
    assert panel.overlay.params == dict(pre_nms_top_n=300, post_nms_top_n=100, nms_iou=0.7, score_thresh=0.0)
    panel.mode.setCurrentIndex(MODE_KEYS.index("proposals"))
    panel.post_n.setValue(3)
    assert len(panel.overlay.proposals.keep) <= 3
    # a bad anchor setting is said once and changes nothing
    errors = []
    state.error.connect(errors.append)
    panel.sizes.setText("128 abc")
    panel.sizes.editingFinished.emit()
    assert errors and panel.overlay.config.sizes == (128.0, 256.0, 512.0)
    # model pixels map back onto the 224×224 scene
    out = panel.overlay.rpn
    np.testing.assert_allclose(out.to_source([[0, 0, out.image_size[1], out.image_size[0]]]), [[0, 0, 224, 224]],
                               atol=1e-3)


def test_objectness_caption_is_whole_beside_the_controls(qtbot, app_state, docked):
    """Issue 21: the objectness caption was a text item over the image, cut off at the view's right edge. The
    overlay puts no text over the image; its caption is a wrapped label in the dock, whole at any width."""
    state, bridge = app_state
    docked.front(qtbot, "anchorsDock")
    panel = docked.anchors
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    _open_image(qtbot, state, bridge, SCENE)
    panel.mode.setCurrentIndex(MODE_KEYS.index("objectness"))
    o = panel.overlay
    assert o.heat.isVisible() and o.caption.startswith("Objectness of the ") and o.caption.endswith("puts them.")
    label = panel.caption
    assert label.text() == o.caption and label.wordWrap() and label.isVisible()
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=5000)   # all lines
    # a narrow dock: the controls fit 360 px without scrolling sideways, and the caption takes more lines
    content = panel.findChild(QScrollArea).widget()
    assert content.minimumSizeHint().width() <= 360
    assert label.heightForWidth(300) > label.heightForWidth(2000) > 0
    for mode in MODE_KEYS:
        panel.mode.setCurrentIndex(MODE_KEYS.index(mode))
        assert o.view_box is docked.inference.view_box
        assert not [i for i in [*o._items, *o._dynamic] if isinstance(i, pg.TextItem)]


def test_labels_start_on_the_scenes_ground_truth(qtbot, app_state, docked, tmp_path):
    """Issue 21: the training-label box started in the middle of the image, not on the scene's object. A
    generated scene knows its objects (explorer.core.scenes): the box starts on the largest, and each scene of
    a folder on its own."""
    state, bridge = app_state
    docked.front(qtbot, "anchorsDock")
    panel = docked.anchors
    panel.mode.setCurrentIndex(MODE_KEYS.index("labels"))
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    _open_image(qtbot, state, bridge, SCENE)
    # the reference: the scene regenerated from its seed, its largest object by hand
    seed = json.loads(SCENE.with_suffix(".json").read_text())["seed"]
    scene = make_scene(seed)
    areas = (scene.boxes[:, 2] - scene.boxes[:, 0]) * (scene.boxes[:, 3] - scene.boxes[:, 1])
    largest = tuple(float(v) for v in scene.boxes[int(np.argmax(areas))])
    o = panel.overlay
    assert o.gt_box == pytest.approx(largest) and o.gt_label == "ellipse"
    assert (o.gt_roi.pos().x(), o.gt_roi.pos().y()) == pytest.approx(largest[:2])
    ref = A.label_anchors(o.anchor_set().anchors, [largest])
    assert o.label_counts == ref.counts and ref.counts["positive"] >= 1
    assert "ground-truth ellipse" in panel.caption.text()
    # a photograph has no ground truth: the box starts in the middle; a dragged box is the user's own
    _open_image(qtbot, state, bridge, Path(__file__).resolve().parents[1] / "resources" / "images" / "chelsea.jpg")
    h, w = state.frame.image.shape[:2]
    assert o.gt_box == pytest.approx((w * 0.3, h * 0.3, w * 0.6, h * 0.7)) and o.gt_label == ""
    # a folder of scenes: each its own
    for name in ("scene_01", "scene_02"):
        for ext in (".png", ".json"):
            (tmp_path / f"{name}{ext}").write_bytes((SAMPLES_DIR / f"{name}{ext}").read_bytes())
    with qtbot.waitSignal(state.resultReady, timeout=60000,
                          check_params_cb=lambda r: r.extras.get(PROBE_NAME) is not None):
        bridge.open_folder(str(tmp_path))
    for name in ("scene_01", "scene_02"):
        qtbot.waitUntil(lambda name=name: Path(state.frame.source).stem == name and o.rpn is not None
                        and o._rpn_frame is state.frame, timeout=60000)
        objects = json.loads((tmp_path / f"{name}.json").read_text())["objects"]
        best = max(objects, key=lambda ob: (ob["box"][2] - ob["box"][0]) * (ob["box"][3] - ob["box"][1]))
        assert o.gt_box == pytest.approx(tuple(best["box"])) and o.gt_label == best["label"]
        if name == "scene_01":
            bridge.next_item()


def test_fpn_model_shows_only_its_own_anchors_from_the_start(qtbot, app_state, docked):
    """Issue 21: with the FPN model the tab first drew the configured anchors (stride 16, 128-512 px) until
    the model's RPN output came. A model with an RPN shows its own anchors only: named from its anchor
    generator at once, drawn when its output comes, equal to torchvision's AnchorGenerator's."""
    state, bridge = app_state
    docked.front(qtbot, "anchorsDock")
    panel, o = docked.anchors, docked.anchors.overlay
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    _open_image(qtbot, state, bridge, SCENE)
    drawn: list[tuple] = []                 # the anchor sets drawn from now on: (sizes, ratios, rpn or not)
    notify = o.on_change

    def record(overlay):
        aset = overlay.anchor_set()
        if aset is not None and overlay.view_box is not None:
            drawn.append((aset.sizes, aset.ratios, overlay.rpn is not None))
        notify(overlay)

    o.on_change = record
    at_model_change = {}

    def on_model(handle):
        at_model_change.update(aset=o.anchor_set(), shapes=[panel.shape.itemText(i) for i in range(panel.shape.count())])

    state.modelChanged.connect(on_model)
    handle = open_model_and_wait(qtbot, state, bridge, "fasterrcnn_mobilenet_v3_large_320_fpn", "random")
    assert at_model_change["aset"] is None                         # nothing drawn before its own output
    assert at_model_change["shapes"][0] == "32 px, h:w 1:2" and len(at_model_change["shapes"]) == 15
    qtbot.waitUntil(lambda: o.rpn is not None and o.rpn.levels[0].num_anchors == 15, timeout=60000)
    assert drawn and all(rpn for *_, rpn in drawn)
    assert all(sizes == (32.0, 64.0, 128.0, 256.0, 512.0) for sizes, _, _ in drawn)
    # the drawn anchors are torchvision's: its generator on the model's own feature maps, mapped to the scene
    model = handle.model
    with torch.inference_mode():
        images, _ = model.transform([torch.from_numpy(state.frame.image).permute(2, 0, 1).float() / 255])
        features = list(model.backbone(images.tensors).values())
        ref = model.rpn.anchor_generator(images, features)[0].numpy()
    out = o.rpn
    assert out.image_size == tuple(images.image_sizes[0])
    np.testing.assert_allclose(out.anchors, ref, atol=1e-4)
    lv = out.levels[0]
    np.testing.assert_allclose(o.anchor_set(0).anchors, out.to_source(ref[:lv.count]), atol=1e-3)
    assert len(o.anchor_curves) == sum(lv.num_anchors for lv in out.levels)   # every level's at the point


def test_models_without_an_rpn_show_the_papers_anchors(qtbot, app_state, docked):
    """A model without an RPN (a YOLO here) gets the configured anchors (the paper's 128/256/512 px ×
    1:2/1:1/2:1 at stride 16) over its image, said so; objectness and proposals say they need an RPN."""
    state, bridge = app_state
    docked.front(qtbot, "anchorsDock")
    panel, o = docked.anchors, docked.anchors.overlay
    open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    assert not bridge.has_probe(PROBE_NAME)
    _open_image(qtbot, state, bridge, SCENE, has_rpn=False)
    aset = A.config_anchor_set(A.AnchorConfig(), (224, 224), 600)   # ×600/224: 600×600 → 38×38 positions
    assert aset.feature_size == (38, 38)
    assert o.rpn is None and o.model_has_rpn is False
    assert o.grid_dots.isVisible() and len(o.grid_dots.data) == 38 * 38 and len(o.anchor_curves) == 9
    assert "38×38×9 = 12,996 anchors" in panel.caption.text()
    assert "no RPN in this model: showing the paper's anchors at stride 16 over the image" in panel.info.text()
    assert panel.config_box.isVisible() and panel.sizes.isEnabled()
    assert panel.legend.isVisible() and "256 px" in [text for _, _, text in panel.legend.rows]
    panel.stride.setValue(32)          # the settings edit them: stride 32 halves the grid each way
    assert len(o.grid_dots.data) == A.config_anchor_set(o.config, (224, 224), 600).count // 9 == 19 * 19
    assert "stride 32" in panel.info.text() and "anchor settings below" in panel.info.text()
    for mode in ("objectness", "proposals"):
        panel.mode.setCurrentIndex(MODE_KEYS.index(mode))
        assert f"The {mode} view needs a Faster R-CNN model" in panel.info.text()
        assert not o.heat.isVisible() and not o.after_curve.isVisible() and not o.grid_dots.isVisible()


def test_overlays_show_with_their_tab_and_go_with_the_model_or_source(qtbot, app_state, docked):
    """Issue 21: each overlay is on the image only while its dock's tab is in front (the RPN probe only runs
    then), and what it drew goes when the model or the source changes (OverlayHost calls clear())."""
    state, bridge = app_state
    anchors, yolo, view_box = docked.anchors.overlay, docked.yolo.overlay, docked.inference.view_box
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    docked.front(qtbot, "anchorsDock")
    assert yolo.view_box is None and bridge.has_probe(PROBE_NAME)
    _open_image(qtbot, state, bridge, SCENE)
    assert anchors.rpn is not None and anchors.grid_dots.isVisible() and anchors.grid_dots.scene() is view_box.scene()
    docked.front(qtbot, "yoloDock")
    qtbot.waitUntil(lambda: anchors.view_box is None and not bridge.has_probe(PROBE_NAME), timeout=5000)
    assert anchors.grid_dots.scene() is None
    docked.front(qtbot, "anchorsDock")
    qtbot.waitUntil(lambda: yolo.view_box is None and bridge.has_probe(PROBE_NAME), timeout=5000)

    seen = {}

    def after_source(info):   # connected after the image view's host: clear() has run
        seen["source"] = (anchors.rpn, anchors.gt_box, [i.isVisible() for i in anchors._items],
                          list(anchors.anchor_curves))

    def after_model(handle):
        seen["model"] = (anchors.rpn, len(anchors.grid_dots.data), anchors.caption)

    state.sourceChanged.connect(after_source)
    state.modelChanged.connect(after_model)
    photo = Path(__file__).resolve().parents[1] / "resources" / "images" / "chelsea.jpg"
    _open_image(qtbot, state, bridge, photo)
    rpn, gt, visible, curves = seen["source"]
    assert rpn is None and gt is None and not any(visible) and not curves
    assert anchors.rpn is not None and anchors.rpn is state.result.extras[PROBE_NAME]   # the new image's
    open_model_and_wait(qtbot, state, bridge, "yolov1-tiny", "bundled")
    rpn, dots, caption = seen["model"]   # no RPN: the configured anchors over the photo, not the RPN's grid
    assert rpn is None and "configured anchors" in caption
    assert dots == np.prod(A.config_anchor_set(A.AnchorConfig(), state.frame.image.shape[:2]).feature_size)
    qtbot.waitUntil(lambda: not bridge.has_probe(PROBE_NAME), timeout=5000)   # no RPN: no probe


def test_panel_writes_sizes_height_by_width_and_says_which_input_it_counts(qtbot, app_state, docked):
    """New-user trial: the dock wrote the model input width×height ("model input 224×149 (padded 224×160)")
    beside a map, and a graph, in H×W; and it counted the anchors of the live frame while the graph shows its
    anchor generator's output for the graph's 3×224×224 input, without saying so. Every size is H×W now, as
    torchvision's GeneralizedRCNNTransform makes it (resize, then pad to a multiple of 32), and the count says
    which input it is for."""
    state, bridge = app_state
    docked.front(qtbot, "anchorsDock")
    panel, o = docked.anchors, docked.anchors.overlay
    handle = open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny", "bundled")
    assert state.graph is not None and tuple(state.graph.input_shape) == (3, 224, 224)
    chelsea = Path(__file__).resolve().parents[1] / "resources" / "images" / "chelsea.jpg"   # 300×451 (H×W)
    _open_image(qtbot, state, bridge, chelsea)
    qtbot.waitUntil(lambda: o.rpn is not None and o._rpn_frame is state.frame, timeout=60000)
    # the reference: the model's own transform and torchvision's AnchorGenerator on its feature map
    model = handle.model
    with torch.inference_mode():
        images, _ = model.transform([torch.from_numpy(state.frame.image).permute(2, 0, 1).float() / 255])
        out = model.backbone(images.tensors)
        features = list(out.values()) if isinstance(out, dict) else [out]
        ref = model.rpn.anchor_generator(images, features)[0]
    h, w = images.image_sizes[0]
    ph, pw = images.tensors.shape[-2:]
    fh, fw = features[0].shape[-2:]
    assert (h, w) == (149, 224) and (ph, pw) == (160, 224) and (fh, fw) == (10, 14)   # 300×451 × 224/451
    assert o.rpn.image_size == (h, w) and o.rpn.padded_size == (ph, pw)
    np.testing.assert_allclose(o.rpn.anchors, ref.numpy(), atol=1e-4)
    text = panel.tensors.text()
    assert f"model input {h}×{w} (H×W), padded to {ph}×{pw}" in text
    assert f"{w}×{h}" not in text and f"{pw}×{ph}" not in text
    assert f"<td>{fh}×{fw}</td>" in text and f"96×{fh}×{fw}" in text
    caption = panel.caption.text()
    assert caption.startswith(f"{fh}×{fw}×9 = {len(ref):,} anchors (the model's RPN)")
    assert f"for this frame's {h}×{w} input; the graph's shapes are for its 3×224×224 input" in caption
    # a frame of the graph's own size: the counts agree, only the input is named
    _open_image(qtbot, state, bridge, SCENE)
    qtbot.waitUntil(lambda: o.rpn is not None and o._rpn_frame is state.frame, timeout=60000)
    assert "model input 224×224 (H×W), k = 9" in panel.tensors.text()
    assert panel.caption.text() == "14×14×9 = 1,764 anchors (the model's RPN) for this frame's 224×224 input"


def test_the_labels_mode_fits_the_narrow_left_column(qtbot, app_state):
    """New-user trial: in the training-labels mode, the checkbox "ignore anchors crossing the image border (as in
    training)" held the RPN dock at 333 px, so in the left column (282 px) it scrolled sideways. The box is short
    and its tooltip says why (Ren et al. 2015, §3.3)."""
    state, bridge = app_state
    panel = AnchorsPanel(state, bridge)
    qtbot.addWidget(panel)
    panel.mode.setCurrentIndex(MODE_KEYS.index("labels"))
    panel.resize(282, 700)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.cross.isVisible()
    assert panel.cross.sizeHint().width() <= 260, panel.cross.sizeHint().width()
    assert "training" in panel.cross.toolTip() and "§3.3" in panel.cross.toolTip()


def test_while_a_detector_loads_the_dock_says_whose_anchors_are_drawn(qtbot, app_state):
    """New-user trial: for the 15 s fasterrcnn_resnet50_fpn took to load, the dock showed "38×38×9 = 12,996
    anchors (configured anchors, stride 16)" of the classifier still running, which read as the detector's own.
    While another model loads, the dock says the anchors are still the running model's; then the new ones come."""
    state, bridge = app_state
    panel = AnchorsPanel(state, bridge)
    qtbot.addWidget(panel)
    panel.show()
    open_model_and_wait(qtbot, state, bridge, "alexnet", "random", "cpu")
    assert "Loading" not in panel.info.text()
    bridge.open_model("fasterrcnn-tiny", "bundled", "cpu")
    qtbot.waitUntil(lambda: state.loading == "fasterrcnn-tiny" or state.handle.name == "fasterrcnn-tiny", timeout=5000)
    if state.handle.name == "alexnet":  # caught while loading (a small model may be in before this line)
        assert "Loading fasterrcnn-tiny… the anchors drawn are those of alexnet" in panel.info.text()
    qtbot.waitUntil(lambda: state.handle.name == "fasterrcnn-tiny", timeout=60000)
    assert "Loading" not in panel.info.text()
    # the same line for a load asked for directly (the state's busy signal), and gone when it fails
    state.set_loading("vgg16")
    assert "Loading vgg16… the anchors drawn are those of fasterrcnn-tiny" in panel.info.text()
    state.modelFailed.emit("could not open vgg16")
    assert "Loading" not in panel.info.text()
