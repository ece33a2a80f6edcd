"""The feature-map dock, built from (state, bridge) beside a real inference panel: selecting a layer or a group
shows its maps, hooks go with the selection, clicks map to the right channel and pixel, the receptive field
lands at the right place on the input image, Grad-CAM and the gradient view arrive from the pipeline, pins,
exports, the live rate and its catch-up, the remembered options (whatever the settings file holds), and in the
main window the overlay that leaves the image while another bottom tab is in front."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtWidgets import QApplication, QHBoxLayout, QScrollArea, QWidget

from explorer.core.activations import ActivationFrame, ActivationProbe
from explorer.core.mosaic import layout_for
from explorer.core.preprocess import Preprocessor
from explorer.core.results import Frame, FrameResult
from explorer.ui.feature_maps import MAX_PINS, NO_PLACE, PROBE_PREFIX, FeatureMapsPanel, ImageView
from explorer.ui.inference_panel import InferencePanel
from explorer.ui.state import AppState
from tests.conftest import SAMPLE_IMAGE, open_model_and_wait

RESULT_TIMEOUT = 120_000


def _hooked(model: torch.nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if m._forward_hooks]


def _hook_total(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _build(qtbot, state, bridge, size=(1400, 420)) -> SimpleNamespace:
    """The dock in a scroll area (as the window's docks hold their panels) beside the inference panel."""
    host = QWidget()
    area = QScrollArea()
    area.setWidgetResizable(True)
    fm = FeatureMapsPanel(state, bridge)
    area.setWidget(fm)
    inference = InferencePanel(state, bridge)
    lay = QHBoxLayout(host)
    lay.addWidget(area, 3)
    lay.addWidget(inference, 2)
    qtbot.addWidget(host)
    host.resize(*size)
    host.show()
    qtbot.waitExposed(host)
    messages: list[str] = []
    state.message.connect(lambda text, *_: messages.append(text))
    state.error.connect(messages.append)
    return SimpleNamespace(state=state, bridge=bridge, fm=fm, inference=inference, host=host, area=area,
                           messages=messages)


def _open(qtbot, d: SimpleNamespace, model: str = "alexnet", weights: str = "random", image=SAMPLE_IMAGE) -> None:
    open_model_and_wait(qtbot, d.state, d.bridge, model, weights, "cpu")
    assert d.bridge.open_image(str(image))
    qtbot.waitUntil(lambda: d.state.result is not None and d.state.result.model_name == model,
                    timeout=RESULT_TIMEOUT)


@pytest.fixture
def dock(qtbot, app_state) -> SimpleNamespace:
    """alexnet (random weights) on the sample photo."""
    d = _build(qtbot, *app_state)
    _open(qtbot, d)
    return d


def _select(qtbot, d: SimpleNamespace, item: str, layer: str | None = None) -> FeatureMapsPanel:
    d.state.select(item)
    layer = layer or item
    qtbot.waitUntil(lambda: d.fm.frame is not None and d.fm.frame.layer == layer, timeout=RESULT_TIMEOUT)
    return d.fm


def _click(qtbot, view: ImageView, x: float, y: float) -> None:
    """A real mouse click on image pixel (x, y) of an ImageView."""
    qtbot.wait(30)  # let the view box apply its new range (it updates its transform lazily)
    pos = view.mapFromScene(view.item.mapToScene(QPointF(x, y)))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def _has_maps(fm: FeatureMapsPanel, result) -> bool:
    return isinstance(result.extras.get(fm.probe.name), ActivationFrame)


def _settle(qtbot, d: SimpleNamespace, ms: int = 800) -> None:
    """Wait until the pipeline is idle and its last result is on screen (and a catch-up, if one was needed)."""
    pipeline = d.bridge.session.pipeline
    qtbot.wait(ms)
    qtbot.waitUntil(lambda: not d.state.pending and not pipeline.busy and pipeline.slot.peek() is None,
                    timeout=RESULT_TIMEOUT)
    qtbot.wait(400)


# -- layers and groups ---------------------------------------------------------------------------------------------
def test_selecting_a_node_shows_its_maps_and_deselection_removes_hooks(qtbot, dock):
    model = dock.state.handle.model
    fm = _select(qtbot, dock, "features.0")
    assert fm.mosaic.num_tiles == 64 == fm.frame.shape[0]           # C channels -> C tiles
    assert fm.frame.shape == (64, 55, 55)
    assert fm.mosaic_view.item.image.shape == fm.mosaic.rgba.shape   # one ImageItem draws the whole mosaic
    assert _hooked(model) == ["features.0"]                          # hooks on the selected layer only
    assert fm.controls.layer_label.text().startswith("features.0: 64×55×55")
    assert dock.bridge.has_probe(PROBE_PREFIX + "features.0")

    fm = _select(qtbot, dock, "features.3")
    assert fm.mosaic.num_tiles == 192
    assert _hooked(model) == ["features.3"]
    assert not dock.bridge.has_probe(PROBE_PREFIX + "features.0")

    dock.state.select("")
    assert _hook_total(model) == 0                                   # nothing left on any module
    assert fm.frame is None and not fm.mosaic_view.has_image()
    assert dock.bridge.session.probes.names() == []


def test_the_graphs_groups_show_the_layer_that_ends_them(qtbot, app_state):
    """The graph's first view shows groups, not only modules: resnet18's "stem" (conv1 … maxpool) and "head"
    (avgpool, flatten, fc), alexnet's "features.stage1". Selecting one shows its output layer's maps and the
    caption names both (the dock said "unknown layer 'stem'")."""
    d = _build(qtbot, *app_state)
    _open(qtbot, d, "resnet18")
    fm = _select(qtbot, d, "stem", "maxpool")
    assert d.state.selection.item == "stem" and fm.frame.shape == (64, 56, 56)
    assert fm.controls.layer_label.text().startswith("stem → maxpool: 64×56×56")
    assert _hooked(d.state.handle.model) == ["maxpool"]
    d.state.select("maxpool")                       # the same layer by its own name: the caption follows
    assert fm.controls.layer_label.text().startswith("maxpool: 64×56×56")
    fm = _select(qtbot, d, "head", "fc")
    assert fm.frame.shape == (1000, 1, 1) and fm.controls.layer_label.text().startswith("head → fc: 1000×1×1")

    _open(qtbot, d, "alexnet")
    assert not d.state.selection and d.bridge.session.probes.names() == []   # alexnet has no "head"
    old = d.state.handle.model
    fm = _select(qtbot, d, "features.stage1", "features.2")
    assert fm.frame.shape == (64, 27, 27)
    assert fm.controls.layer_label.text().startswith("features.stage1 → features.2: 64×27×27")
    fm.select_channel(0)
    assert fm.select_feature_pixel(3, 4) is not None            # a group's layer has its receptive field
    assert "19×19 input pixels" in fm.info_label.text()
    # the same model again (other random weights): the selection stays, its maps come from the new model
    shown = fm.frame
    with qtbot.waitSignal(d.state.modelChanged, timeout=RESULT_TIMEOUT):
        d.bridge.open_model("alexnet", "random", "cpu", seed=1)
    assert fm.feature_pixel is None and fm.overlay.field_box is None    # the pictures went with the model
    qtbot.waitUntil(lambda: fm.frame is not None and fm.frame is not shown, timeout=RESULT_TIMEOUT)
    assert fm.controls.layer_label.text().startswith("features.stage1 → features.2: 64×27×27")
    assert _hook_total(old) == 0 and _hooked(d.state.handle.model) == ["features.2"]
    assert d.bridge.session.probes.names() == [PROBE_PREFIX + "features.2"]


def test_click_maps_to_channel_pixel_and_receptive_field(qtbot, dock):
    fm = _select(qtbot, dock, "features.0")
    m = fm.mosaic
    channel, fy, fx = 37, 20, 30
    tile = m.tile_of_channel(channel)
    x, y = m.point_of(tile, fy + 0.5, fx + 0.5)
    value = float(fm.frame.activation[channel, fy, fx])
    assert fm.describe(x, y).startswith(f"channel {channel}  (y {fy}, x {fx}) = {value:.4g}")

    _click(qtbot, fm.mosaic_view, x, y)                               # click a channel: it opens large
    assert fm.channel == channel
    assert fm.channel_view.view.item.image.shape[:2] == (55, 55)

    _click(qtbot, fm.channel_view.view, fx + 0.5, fy + 0.5)            # click a pixel: its receptive field
    assert fm.feature_pixel == (fy, fx)
    # AlexNet conv1 (k 11, s 4, p 2): input rows 4i−2 .. 4i+8, i.e. [78, 89) × columns [118, 129), mapped back
    # through the ImageNet preset (resize shorter side to 256, centre crop 224) of the source photo
    prep = Preprocessor(dock.state.handle.entry)(dock.state.frame.image)
    (sx, sy), (ox, oy) = prep.scale, prep.offset
    expect = ((118 + ox) / sx, (78 + oy) / sy, (129 + ox) / sx, (89 + oy) / sy)
    assert fm.overlay.field_box == pytest.approx(expect)
    rect = fm.overlay.field_item.rect()
    assert (rect.width() * sx, rect.height() * sy) == pytest.approx((11, 11))
    assert fm.overlay.field_item.isVisible()
    assert fm.overlay.view_box is dock.inference.view_box             # on the image, through its overlay host


def test_overlay_gradcam_and_gradient_view(qtbot, dock):
    fm = _select(qtbot, dock, "features.0")
    c = fm.controls
    c.overlay_check.setChecked(True)
    fm.select_channel(5)
    item = fm.overlay.channel_item
    assert item.isVisible() and item.image.shape[:2] == (220, 220)  # 55×55 upsampled ×4 (the stride)
    # the map covers the 224 crop in source pixels (first centre 3.5 − stride/2 = 1.5 .. 1.5 + 220)
    prep = Preprocessor(dock.state.handle.entry)(dock.state.frame.image)
    (sx, sy), (ox, oy) = prep.scale, prep.offset
    r = fm.overlay.channel_rect
    assert (r.x(), r.y(), r.width(), r.height()) == pytest.approx(((1.5 + ox) / sx, (1.5 + oy) / sy,
                                                                    220 / sx, 220 / sy))
    c.opacity_slider.setValue(25)
    assert item.opacity() == pytest.approx(0.25)
    alpha = item.image[..., 3]                    # quiet places let the photo through, strong ones cover it
    assert alpha.max() == 255 and alpha.min() < 64

    assert c.target_combo.count() == 5                        # the top-5 classes of the result
    assert fm.request_gradcam()
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("Grad-CAM"), timeout=RESULT_TIMEOUT)
    best = dock.state.result.topk[0]                          # named, not only numbered
    assert f"for class {best.index} ({best.label}): logit (before softmax)" in fm.info_label.text()
    assert fm.overlay.heat_item.isVisible()
    assert fm.overlay.heat_item.image.shape[:2] == (224, 224)

    c.gradient_check.setChecked(True)
    fm.select_feature_pixel(10, 12)
    marker = fm.channel_view.pixel_marker.rect()             # the clicked pixel is marked in the large map
    ring = fm.channel_view.pixel_ring
    assert fm.channel_view.pixel_marker.isVisible() and (marker.x(), marker.y(), marker.width()) == (12, 10, 1)
    assert ring.isVisible() and ring.data["x"][0] == 12.5 and ring.data["y"][0] == 10.5
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("gradient"), timeout=RESULT_TIMEOUT)
    heat = fm.overlay.heat_item.image
    ys, xs = np.nonzero(heat[..., 3] > 0)
    # the gradient's support is the 11×11 receptive field: rows 38..48, columns 46..56
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (38, 48, 46, 56)
    # and it is clearly visible there (issue 21): most of the field at least half opaque
    assert np.median(heat[38:49, 46:57, 3]) >= 128
    fm.clear_overlay()
    assert not fm.overlay.heat_item.isVisible() and not fm.overlay.field_item.isVisible()
    assert fm.feature_pixel is None and not ring.isVisible()


def test_clear_keeps_the_overlay_ticked_and_a_chosen_channel_brings_it_back(qtbot, dock):
    """New-user trial: Clear also unticked Overlay. Clear takes the pictures off the image and leaves the user's
    preference alone; the next frame draws no channel; choosing a channel (or ticking Overlay again) does."""
    fm = _select(qtbot, dock, "features.0")
    c = fm.controls
    c.overlay_check.setChecked(True)
    fm.select_channel(5)
    fm.select_feature_pixel(10, 12)
    assert fm.overlay.channel_item.isVisible() and fm.overlay.field_item.isVisible()
    qtbot.mouseClick(c.clear_button, Qt.MouseButton.LeftButton)
    assert c.overlay_check.isChecked()                        # the preference stays
    assert not fm.overlay.channel_item.isVisible() and not fm.overlay.field_item.isVisible()
    assert fm.channel == 5 and fm.channel_view.view.item.image is not None  # the large channel stays
    before = dock.state.result
    assert dock.bridge.rerun()                                # a new frame's maps: still nothing on the image
    qtbot.waitUntil(lambda: dock.state.result is not before and _has_maps(fm, dock.state.result),
                    timeout=RESULT_TIMEOUT)
    _settle(qtbot, dock, 200)
    assert c.overlay_check.isChecked() and not fm.overlay.channel_item.isVisible()
    fm.select_channel(7)                                      # a channel chosen again: on the image at once
    assert fm.overlay.channel_item.isVisible()
    fm.clear_overlay()
    c.overlay_check.setChecked(False)
    c.overlay_check.setChecked(True)                          # ticked again: the channel shown comes back too
    assert fm.overlay.channel_item.isVisible()


def _upsampled(fm: FeatureMapsPanel, channel: int, factor: int) -> np.ndarray:
    """The shown frame's `channel` upsampled bilinearly ×`factor`, as the dock lays it over the photo."""
    act = fm.frame.activation[channel][None, None].float()
    size = (act.shape[-2] * factor, act.shape[-1] * factor)
    return torch.nn.functional.interpolate(act, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


def _plain(rich: str) -> str:
    """A legend's rich text as read: entities (&nbsp; keeps a row in one piece) as the spaces they show."""
    import html

    return html.unescape(rich).replace("\xa0", " ")


def test_the_channel_leaves_the_photo_as_it_is_where_quiet_and_covers_it_where_strong(qtbot, dock):
    """New-user trial: with Overlay at its default 60 % the channel tinted the whole photo (its opacity was √ of
    the response, so every weak response was a veil). What the image shows of the overlay at a pixel is its alpha
    times the slider's opacity, computed here by hand: |v| / max |v| × 60 % for a signed conv output in rdbu (0
    at zero), (v − min) / (max − min) × 60 % for a ReLU output in viridis (0 where the ReLU is 0)."""
    fm = _select(qtbot, dock, "features.0")
    c = fm.controls
    assert c.opacity_slider.value() == 60                       # the default
    c.overlay_check.setChecked(True)
    fm.select_channel(5)
    item = fm.overlay.channel_item
    assert fm.mosaic.colormap == "rdbu"                         # auto: a signed output gets the diverging map
    up = _upsampled(fm, 5, 4)
    shown = item.image[..., 3] / 255.0 * item.opacity()
    assert shown == pytest.approx(np.abs(up) / np.abs(up).max() * 0.6, abs=0.5 / 255)
    quiet, strong = np.unravel_index(np.abs(up).argmin(), up.shape), np.unravel_index(np.abs(up).argmax(), up.shape)
    assert shown[quiet] == 0.0 and shown[strong] == pytest.approx(0.6)
    assert np.median(shown) < 0.6 * 0.5     # most of the photo shows through (√t made the median 0.6 × 0.63)

    fm = _select(qtbot, dock, "features.1")                     # its ReLU
    fm.select_channel(5)
    assert fm.mosaic.colormap == "viridis"
    up = _upsampled(fm, 5, 4)
    lo, hi = up.min(), up.max()
    assert lo == 0.0 and (up == 0).any()
    c.opacity_slider.setValue(100)                              # the slider still scales the whole
    shown = item.image[..., 3] / 255.0 * item.opacity()
    assert shown == pytest.approx((up - lo) / (hi - lo), abs=0.5 / 255)
    assert (shown[up == 0] == 0).all() and shown.max() == 1.0


def test_the_model_input_region_is_outlined_and_named_while_a_map_covers_it(qtbot, dock):
    """New-user trial: the channel (and Grad-CAM) covered a rectangle of the photo with no word why. While a map
    lies on the photo, the part the model saw (alexnet: the 224×224 centre crop of the photo resized to 256) is
    outlined, dashed, its tag above the line's top-left corner, and the dock's legend (and the outline's tooltip)
    says what it is; with nothing on the photo, neither shows."""
    from explorer.ui.feature_maps.overlay import INPUT_RGB

    fm = _select(qtbot, dock, "features.0")
    o = fm.overlay
    assert not o.input_shown and not fm.legend.isVisible()      # nothing on the photo yet
    fm.controls.overlay_check.setChecked(True)
    fm.select_channel(5)
    image = dock.state.frame.image
    prep = Preprocessor(dock.state.handle.entry)(image)
    (sx, sy), (ox, oy) = prep.scale, prep.offset
    assert (ox, oy) != (0, 0) and prep.input_size == (224, 224)
    r = o.input_item.rect()
    assert (r.left(), r.top(), r.right(), r.bottom()) == pytest.approx((ox / sx, oy / sy, (224 + ox) / sx,
                                                                        (224 + oy) / sy))
    assert o.input_shown and o.input_item.pen().style() == Qt.PenStyle.DashLine
    assert o.channel_rect is not None and r.contains(o.channel_rect)   # the channel's edge is within it
    h, w = image.shape[:2]
    text = f"model input: 224×224 centre crop of the photo resized to {round(w * sx)}×{round(h * sy)}"
    assert o.input_tag.toPlainText() == "model input: 224×224 centre crop" and o.input_tag.isVisible()
    assert (o.input_tag.pos().x(), o.input_tag.pos().y()) == pytest.approx((r.left(), r.top()))
    assert tuple(o.input_tag.anchor) == (0, 1)                  # above the line: over photo the model never saw
    assert o.input_item.toolTip().startswith(text)
    assert o.legend_rows == [(INPUT_RGB, Qt.PenStyle.DashLine, o.input_item.toolTip())]  # the outline's look
    assert fm.legend.isVisible() and text in _plain(fm.legend.text())

    fm.clear_overlay()
    assert not o.input_shown and not o.input_tag.isVisible() and not fm.legend.isVisible()
    assert fm.request_gradcam()                                 # a heat map alone: outlined as well
    qtbot.waitUntil(lambda: o.heat_shown, timeout=RESULT_TIMEOUT)
    assert o.input_shown and text in _plain(fm.legend.text())
    heat = o.heat_item.mapRectToParent(o.heat_item.boundingRect())
    assert (heat.left(), heat.top(), heat.right(), heat.bottom()) == pytest.approx((r.left(), r.top(), r.right(),
                                                                                    r.bottom()))


def test_the_input_region_is_named_by_how_the_photo_became_the_input():
    """A resize to the whole input (YOLO, a detector's raw image) leaves nothing to outline; a crop larger than
    the resized photo (torchvision's center_crop pads) says so."""
    from explorer.core.receptive import InputGeometry
    from explorer.ui.feature_maps.overlay import input_region

    assert input_region((448, 448), InputGeometry((448 / 160, 448 / 120)), (120, 160)) is None
    assert input_region((120, 160), InputGeometry(), (120, 160)) is None
    crop = input_region((224, 224), InputGeometry((256 / 300, 256 / 300), (80.0, 16.0)), (300, 450))
    assert crop is not None and crop.box == pytest.approx((93.75, 18.75, 356.25, 281.25))
    assert crop.text.startswith("model input: 224×224 centre crop of the photo resized to 384×256:")
    padded = input_region((224, 224), InputGeometry((1.0, 1.0), (-12.0, -12.0)), (200, 200))
    assert padded is not None and padded.tag == "model input: 224×224"
    assert "resized to 200×200, padded" in padded.text


def test_a_fully_connected_layer_has_no_overlay_and_no_receptive_field(qtbot, dock):
    """alexnet's classifier.1 (Linear, 4096 outputs as 1×1 maps) has no place on the image: Overlay draws
    nothing there and says why, a pixel outside its 1×1 maps is refused, and a Grad-CAM that cannot run there
    leaves its reason on the line under the maps (not only in the status bar)."""
    fm = _select(qtbot, dock, "classifier.1")
    assert fm.frame.shape == (4096, 1, 1)
    fm.controls.overlay_check.setChecked(True)
    fm.select_channel(0)
    assert not fm.overlay.channel_item.isVisible() and fm.info_label.text() == NO_PLACE
    assert fm.select_feature_pixel(1, 1) is None and not fm.channel_view.pixel_ring.isVisible()
    assert fm.request_gradcam()
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("Grad-CAM: "), timeout=RESULT_TIMEOUT)
    assert "feature maps" in fm.info_label.text()


# -- options, pins, exports ----------------------------------------------------------------------------------------
def _assert_figure_of(written: np.ndarray, mosaic) -> None:
    """The exported figure holds `mosaic`'s tiles as tile_sheet lays them out (tested in test_mosaic), where
    figure_layout puts them."""
    from explorer.core.tile_sheet import tile_sheet
    from explorer.ui.feature_maps.export import MIN_TILE_PX, figure_layout

    sheet = tile_sheet(mosaic, MIN_TILE_PX)
    fig = figure_layout(sheet)
    assert written.shape == (fig.height, fig.width, 3)
    x, y = fig.sheet_origin
    h, w = sheet.image.shape[:2]
    np.testing.assert_array_equal(written[y:y + h, x:x + w], sheet.image)


def test_the_png_export_is_a_titled_figure_with_crisp_tiles_and_a_colour_scale(qtbot, dock, tmp_path):
    """New-user trial: the PNG was the view's mosaic (resnet18's layer4: 281×121 px), no words, no scale.
    alexnet's features.12 is 256 maps of 6×6: each tile ×8 = 48 px (nearest neighbour), 16×16 tiles with 2 px
    gaps = 2 + 16·50 = 802 px; 20 px margins, a 56 px title band and a 64 px scale band: 842 × 962 px."""
    from explorer.core.mosaic import lut

    fm = _select(qtbot, dock, "features.12")
    fm.set_options(order="index", top_k=0, norm="channel", colormap="viridis")
    m = fm.mosaic
    assert fm.frame.shape == (256, 6, 6) and m.shrink == 1
    png = tmp_path / "features12.png"
    assert fm.export_png(str(png))
    fig = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    assert fig.shape == (20 + 56 + 802 + 64 + 20, 20 + 802 + 20, 3)
    # the tiles: channel 37's feature value (2, 5) is an 8×8 square of its mosaic colour at cell (row 2, col 5)
    mx, my = m.tile_origin(m.tile_of_channel(37))
    x, y = 20 + 2 + 5 * 50, 20 + 56 + 2 + 2 * 50
    assert (fig[y + 2 * 8:y + 3 * 8, x + 5 * 8:x + 6 * 8] == m.image[my + 2, mx + 5]).all()
    assert (fig[y - 2:y, x:x + 48] == (48, 48, 48)).all()      # the gap above it
    # the title: two lines of dark text on white above the tiles
    title, subtitle = fig[20:44, 20:600], fig[46:72, 20:600]
    assert (title.max(axis=2) < 100).sum() > 200 and (subtitle.max(axis=2) < 100).sum() > 200
    assert (fig[:20] == 255).all()                               # the margin stays white
    # the colour scale: viridis from left to right, 360 px under the tiles, its labels under it
    bar_y = 20 + 56 + 802 + 12
    expected = lut("viridis")[np.round(np.linspace(0, 255, 360)).astype(int)]
    np.testing.assert_array_equal(fig[bar_y + 8, 20:380], expected)
    assert (fig[bar_y + 16 + 4:bar_y + 16 + 24, 20:400].max(axis=2) < 100).sum() > 50
    # the raw numbers stay raw
    npy = tmp_path / "features12.npy"
    assert fm.export_npy(str(npy))
    np.testing.assert_array_equal(np.load(npy), fm.frame.activation.numpy())


def test_options_pins_and_exports(qtbot, dock, tmp_path):
    model = dock.state.handle.model
    fm = _select(qtbot, dock, "features.0")
    fm.set_options(order="max", top_k=8, norm="layer", colormap="inferno")
    assert fm.mosaic.num_tiles == 8 and fm.mosaic.colormap == "inferno"
    maxs = fm.frame.activation.reshape(64, -1).amax(1)
    assert list(fm.mosaic.channels) == torch.argsort(maxs, descending=True, stable=True)[:8].tolist()
    assert np.allclose(fm.mosaic.lo, fm.mosaic.tile_min.min()) and np.allclose(fm.mosaic.hi, fm.mosaic.tile_max.max())
    fm.set_options(order="index", top_k=0, norm="fixed", fixed_range=(-1.0, 2.0))
    assert fm.mosaic.num_tiles == 64 and np.allclose(fm.mosaic.lo, -1) and np.allclose(fm.mosaic.hi, 2)
    fm.controls.opacity_slider.setValue(35)
    # the next start shows the maps the same way: a new panel on the same settings file
    again = FeatureMapsPanel(AppState(), dock.bridge)
    qtbot.addWidget(again)
    opts = again.controls.mosaic_options()
    assert opts.order == "index" and opts.norm == "fixed" and opts.fixed_range == (-1.0, 2.0)
    assert again.controls.colormap_combo.currentText() == "inferno"
    assert again.controls.opacity_slider.value() == 35 and again.controls.topk_spin.value() == 0

    png, npy = tmp_path / "mosaic.png", tmp_path / "acts.npy"
    assert fm.export_png(str(png)) and fm.export_npy(str(npy))
    _assert_figure_of(cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB), fm.mosaic)
    np.testing.assert_array_equal(np.load(npy), fm.frame.activation.numpy())
    assert fm.export_png(str(tmp_path / "no_suffix")) and (tmp_path / "no_suffix.png").is_file()
    assert dock.messages[-1] == f"Mosaic written to {tmp_path / 'no_suffix.png'}"
    assert not fm.export_png(str(tmp_path / "mosaic.xyz"))    # no encoder: a message, not an exception
    assert "use .png" in dock.messages[-1]
    assert not fm.export_png(str(tmp_path / "no_such_folder" / "m.png"))
    assert "no such folder" in dock.messages[-1]

    assert fm.pin_layer("features.0")
    _select(qtbot, dock, "features.3")
    assert fm.pin_layer("features.6") and fm.pin_layer("features.8") and fm.pin_layer("features.10")
    assert not fm.pin_layer("features.12")                    # at most four
    assert len(fm.pins.pins) == MAX_PINS and "At most 4" in dock.messages[-1]
    pins = fm.pins.pins
    qtbot.waitUntil(lambda: all(p.frame is not None for p in pins.values()), timeout=RESULT_TIMEOUT)
    sizes = {layer: p.frame.shape for layer, p in pins.items()}
    pin = pins["features.0"]  # laid out for its own small view (its first mosaic came with the main view's)
    qtbot.waitUntil(lambda: pin.frame.mosaic.options.fit == (pin.view.width(), pin.view.height()), timeout=5000)
    m = pin.frame.mosaic
    assert m.shrink == layout_for(m.options, 64, 55, 55)[1] > 1 and pin.view.item.image.shape == m.rgba.shape
    assert sizes == {"features.0": (64, 55, 55), "features.6": (384, 13, 13), "features.8": (256, 13, 13),
                     "features.10": (256, 13, 13)}
    assert set(_hooked(model)) == {"features.0", "features.3", "features.6", "features.8", "features.10"}
    # four pins in a laptop-sized dock: no sideways scrolling, titles cut with "…" rather than widening it
    dock.host.resize(1170, 420)                               # the dock about 700 px wide
    qtbot.wait(100)
    assert dock.area.horizontalScrollBar().maximum() == 0
    assert all(p.mapTo(fm, p.rect().topRight()).x() <= fm.width() for p in pins.values())
    assert all(p.title.text().startswith(p.layer) for p in pins.values())
    for layer in list(pins):
        fm.unpin_layer(layer)
    dock.state.select("")
    assert _hook_total(model) == 0


ABSURD = [10 ** 12, -10 ** 12, "nan", "inf", "-5", "a string", ["a", "list"], "", 3.5]
KEYS = ["order", "topK", "norm", "low", "high", "colormap", "opacity", "liveRate", "gradient", "overlay"]


@pytest.mark.parametrize("absurd", ABSURD, ids=[repr(v)[:12] for v in ABSURD])
def test_any_stored_option_opens_the_dock_with_clamped_values(qtbot, app_state, absurd):
    """Issue 21: "opacity=1000000000000" in the settings file raised OverflowError and the window said
    "Feature maps could not be opened:". Every key gets an absurd value (huge, negative, NaN, infinite, a word,
    a list, empty): the dock opens, each control within its range or at its default."""
    from explorer.ui.settings import open_settings

    settings = open_settings()
    for key in KEYS:
        settings.setValue(f"featureMaps/{key}", absurd)
    settings.sync()
    fm = FeatureMapsPanel(*app_state)
    qtbot.addWidget(fm)
    c = fm.controls
    assert 0 <= c.opacity_slider.value() <= 100 and 0 <= c.topk_spin.value() <= 4096
    assert c.order_combo.currentText() == "index" and c.norm_combo.currentText() == "channel"
    assert c.colormap_combo.currentText() == "auto" and c.live_rate in (0, 5, 10, 20)
    assert not c.gradient_check.isChecked() and not c.overlay_check.isChecked()  # no absurd value reads as "on"
    for spin in (c.lo_spin, c.hi_spin):
        assert np.isfinite(spin.value()) and abs(spin.value()) <= 1e6
    if absurd == 10 ** 12:
        assert c.opacity_slider.value() == 100 and c.topk_spin.value() == 4096 and c.hi_spin.value() == 1e6
    if absurd in ("nan", "inf", "a string", ""):
        assert (c.opacity_slider.value(), c.lo_spin.value(), c.hi_spin.value()) == (60, 0.0, 1.0)  # defaults
    c.opacity_slider.setValue(40)                             # and the dock saves a sane value over it
    assert open_settings().value("featureMaps/opacity") in (40, "40")


def test_a_hand_edited_settings_file_is_read_through_the_validated_readers(qtbot, app_state):
    """Good values come back; bad ones are clamped one by one (the others still load)."""
    from explorer.ui.settings import settings_path

    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[featureMaps]\norder=max\ntopK=-5\nnorm=fixed\nlow=nan\nhigh=3.5\ncolormap=inferno\n"
                    "opacity=1000000000000\nliveRate=7\n")
    fm = FeatureMapsPanel(*app_state)
    qtbot.addWidget(fm)
    c = fm.controls
    assert (c.order_combo.currentText(), c.norm_combo.currentText(), c.colormap_combo.currentText()) == (
        "max", "fixed", "inferno")
    assert (c.topk_spin.value(), c.lo_spin.value(), c.hi_spin.value()) == (0, 0.0, 3.5)
    assert c.opacity_slider.value() == 100 and c.live_rate == 10    # 7/s is not offered: the default
    assert c.lo_spin.isVisibleTo(fm) and c.hi_spin.isVisibleTo(fm)  # norm fixed: its range is shown


def _shown_dock(qtbot, app_state) -> FeatureMapsPanel:
    """A dock on screen, as a start of the window makes it (it reads its options from the settings)."""
    fm = FeatureMapsPanel(*app_state)
    qtbot.addWidget(fm)
    fm.resize(1200, 400)
    fm.show()
    qtbot.waitExposed(fm)
    return fm


def _ticked_in_the_next_docks(qtbot, app_state, check: str, key: str) -> None:
    """The dock's `check` box, ticked (and written as `key`=true), comes back ticked in a new dock (the next
    start); unticked there (`key`=false), the dock after it opens without it."""
    from explorer.ui.settings import settings_path

    assert f"{key}=true" in settings_path().read_text()
    again = FeatureMapsPanel(*app_state)
    qtbot.addWidget(again)
    assert getattr(again.controls, check).isChecked()
    getattr(again.controls, check).click()                    # (this one is not on screen)
    again.settings.sync()
    assert f"{key}=false" in settings_path().read_text()
    third = FeatureMapsPanel(*app_state)
    qtbot.addWidget(third)
    assert not getattr(third.controls, check).isChecked()


def test_the_gradient_view_is_remembered_across_restarts(qtbot, app_state):
    """New-user trial: every option of the dock came back after a restart but Gradient. Ticked, it is written to
    the settings file; a new dock (the next start) opens with it ticked, and unticked after it was unticked."""
    fm = _shown_dock(qtbot, app_state)
    assert not fm.controls.gradient_check.isChecked()         # a first start: off
    qtbot.mouseClick(fm.controls.gradient_check, Qt.MouseButton.LeftButton)
    assert fm.controls.gradient_check.isChecked()
    fm.settings.sync()
    _ticked_in_the_next_docks(qtbot, app_state, "gradient_check", "gradient")


def test_overlay_is_remembered_across_restarts_and_clear_leaves_it_remembered(qtbot, app_state):
    """Finding: every option of the dock came back after a restart but Overlay. Ticked, it is written to the
    settings file (featureMaps/overlay, as Gradient); a new dock opens with it ticked; Clear (which leaves the tick)
    leaves it remembered; unticked, the next dock opens without it."""
    fm = _shown_dock(qtbot, app_state)
    assert not fm.controls.overlay_check.isChecked()          # a first start: off
    qtbot.mouseClick(fm.controls.overlay_check, Qt.MouseButton.LeftButton)
    assert fm.controls.overlay_check.isChecked()
    qtbot.mouseClick(fm.controls.clear_button, Qt.MouseButton.LeftButton)
    assert fm.controls.overlay_check.isChecked()              # Clear leaves the preference alone
    fm.settings.sync()
    _ticked_in_the_next_docks(qtbot, app_state, "overlay_check", "overlay")


def test_output_picker_for_a_multi_output_module(qtbot, app_state):
    """A real probe on a real FPN, its frame delivered as the engine would (no pipeline run)."""
    import torchvision

    from explorer.core import zoo
    from explorer.core.capture import capture_graph
    from explorer.ui.state import ModelHandle

    state, bridge = app_state
    fm = FeatureMapsPanel(state, bridge)
    qtbot.addWidget(fm)

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c3, self.c4 = torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Conv2d(3, 16, 3, stride=2, padding=1)
            self.fpn = torchvision.ops.FeaturePyramidNetwork([8, 16], 4)

        def forward(self, x):
            return self.fpn({"p3": self.c3(x), "p4": self.c4(x)})

    model = Model().eval()
    graph = capture_graph(model, "fpn", (3, 16, 16))
    handle = ModelHandle("fpn", zoo.get("resnet18"), model, "random", "cpu")
    state.set_model(handle, graph)
    state.select("fpn")
    probe = fm.probe
    assert isinstance(probe, ActivationProbe)
    shown = Frame(np.zeros((4, 4, 3), np.uint8))   # one still: its results are drawn (a new one would be newer)

    def deliver() -> None:
        probe.attach(model)
        with torch.inference_mode():
            model(torch.rand(1, 3, 16, 16))
            frame = probe.collect(None)
        probe.detach()
        assert state.set_result(FrameResult(frame=shown, model_name="fpn", weights="random", device="cpu",
                                            task="classification", extras={probe.name: frame}))

    deliver()
    combo = fm.controls.output_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["p3", "p4"] and combo.isVisibleTo(fm)
    assert fm.frame.shape == (4, 16, 16)
    fm.set_output("p4")
    deliver()
    assert fm.frame.output_key == "p4" and fm.frame.shape == (4, 8, 8)
    assert "[p4]" in fm.controls.layer_label.text()


def test_controls_fit_the_dock_hint_and_mosaic_shape(qtbot, dock):
    """Every control is inside the ~840 px dock (no horizontal scrolling), the right pane explains itself
    until a channel is opened, and the mosaic's columns follow the view's shape."""
    from explorer.core.mosaic import best_columns

    fm = _select(qtbot, dock, "features.0")
    c = fm.controls
    assert fm.minimumSizeHint().width() <= 800
    assert dock.area.horizontalScrollBar().maximum() == 0
    controls = (c.order_combo, c.topk_spin, c.norm_combo, c.colormap_combo, c.pin_button, c.export_png_button,
                c.export_npy_button, c.overlay_check, c.opacity_slider, c.gradient_check, c.target_combo,
                c.gradcam_button, c.clear_button)
    for control in controls:
        assert control.isVisible()
        assert control.mapTo(fm, control.rect().bottomRight()).x() <= fm.width(), control
    cv = fm.channel_view
    assert cv.currentWidget() is cv.hint and "Click a channel" in cv.hint.text()
    fm.select_channel(3)
    assert cv.currentWidget() is cv.view and cv.view.has_image()
    fm.select_channel(None)
    assert cv.currentWidget() is cv.hint
    # 64 tiles of 55×55 in a wide, short view: more columns than rows, and the best count for the view
    view = fm.mosaic_view
    rows, cols = fm.mosaic.grid
    assert view.width() > view.height() and cols > rows
    assert cols == best_columns(64, 55, 55, view.width(), view.height())
    fm.set_options(norm="fixed")                       # the range boxes appear only when they apply
    assert c.lo_spin.isVisible() and c.hi_spin.isVisible()
    assert c.export_npy_button.mapTo(fm, c.export_npy_button.rect().bottomRight()).x() <= fm.width()


# -- the live rate and the catch-up --------------------------------------------------------------------------------
def test_live_maps_refresh_at_the_chosen_rate_and_catch_up_on_pause(qtbot, dock, tmp_path):
    import time

    from explorer.ui.settings import open_settings
    from tests.test_sources import write_video

    fm = _select(qtbot, dock, "features.0")
    c = fm.controls
    assert c.live_rate == 10  # the default
    c.rate_combo.setCurrentIndex(c.rate_combo.findData(5))
    assert open_settings().value("featureMaps/liveRate") in (5, "5")  # remembered
    results = []
    dock.state.resultReady.connect(results.append)
    assert dock.bridge.open_video(str(write_video(tmp_path / "clip.avi", n=30, size=(96, 64), fps=30.0)), loop=True)
    qtbot.waitUntil(lambda: dock.state.live, timeout=5000)
    t0 = time.perf_counter()
    qtbot.waitUntil(lambda: len(results) >= 12, timeout=RESULT_TIMEOUT)
    elapsed = time.perf_counter() - t0
    with_maps = [r for r in results if r.extras.get(fm.probe.name) is not None]
    assert fm.probe.min_interval_s == pytest.approx(0.2)
    assert len(with_maps) <= elapsed * 5 + 2          # at most 5 refreshes a second (+ the first ones)
    # pause: the frame on screen gets its own maps, even if they had been skipped
    dock.bridge.toggle_pause()
    qtbot.waitUntil(lambda: not dock.state.live and dock.state.result is not None
                    and dock.state.result.extras.get(fm.probe.name) is fm.frame, timeout=RESULT_TIMEOUT)
    assert fm.probe.min_interval_s == 0.0               # paused: every frame (a step) gets its maps
    # every frame: each result brings maps
    c.rate_combo.setCurrentIndex(c.rate_combo.findData(0))
    dock.bridge.toggle_pause()
    qtbot.waitUntil(lambda: dock.state.live, timeout=5000)
    count = len(results)
    qtbot.waitUntil(lambda: len(results) >= count + 6, timeout=RESULT_TIMEOUT)
    assert all(r.extras.get(fm.probe.name) is not None for r in results[count + 1:])
    dock.bridge.toggle_pause()


@pytest.mark.parametrize("action", ["step", "pause"])
def test_stopping_right_after_a_collected_frame_still_shows_the_screen_frames_maps(qtbot, dock, tmp_path, action):
    """The frame right after a collected one is skipped for the rate; stopping on it must bring its maps."""
    from tests.test_sources import write_video

    fm = _select(qtbot, dock, "features.0")
    fm.controls.rate_combo.setCurrentIndex(fm.controls.rate_combo.findData(5))
    assert dock.bridge.open_video(str(write_video(tmp_path / "clip.avi", n=40, size=(96, 64), fps=30.0)), loop=True)
    fired = []

    def on_result(result) -> None:
        if not fired and dock.state.live and result.frame.index > 3 and _has_maps(fm, result):
            fired.append(result)
            (dock.bridge.step if action == "step" else dock.bridge.toggle_pause)()

    dock.state.resultReady.connect(on_result)
    qtbot.waitUntil(lambda: bool(fired), timeout=RESULT_TIMEOUT)
    _settle(qtbot, dock)
    assert not dock.state.live and fm.probe.min_interval_s == 0.0
    assert fm.last_result is dock.state.result
    assert _has_maps(fm, dock.state.result), "the dock shows an earlier frame's maps"
    assert fm.frame is dock.state.result.extras[fm.probe.name]


def test_a_rerun_while_a_step_is_computed_never_goes_back_a_frame(qtbot, dock, tmp_path):
    from tests.test_sources import write_video

    fm = _select(qtbot, dock, "features.0")
    fm.controls.rate_combo.setCurrentIndex(fm.controls.rate_combo.findData(5))
    assert dock.bridge.open_video(str(write_video(tmp_path / "clip.avi", n=40, size=(96, 64), fps=30.0)), loop=True)
    qtbot.waitUntil(lambda: dock.state.result is not None and dock.state.result.frame.index > 3,
                    timeout=RESULT_TIMEOUT)
    dock.bridge.toggle_pause()
    _settle(qtbot, dock)
    seen = []
    dock.state.resultReady.connect(lambda r: seen.append(r.frame.index))
    dock.bridge.step()
    dock.bridge.rerun()                                   # what a catch-up does, while the step is computed
    _settle(qtbot, dock)
    assert seen and dock.state.result.frame.index == max(seen)
    assert _has_maps(fm, dock.state.result)


def test_after_a_video_ends_the_dock_is_not_live_and_a_new_layer_shows_at_once(qtbot, dock, tmp_path):
    from tests.test_sources import write_video

    fm = _select(qtbot, dock, "features.0")
    live = []
    dock.state.liveChanged.connect(live.append)
    assert dock.bridge.open_video(str(write_video(tmp_path / "clip.avi", n=8, size=(96, 64), fps=30.0)), loop=False)
    qtbot.waitUntil(lambda: dock.state.source.status == "ended", timeout=RESULT_TIMEOUT)
    qtbot.waitUntil(lambda: live[-1:] == [False], timeout=5000)
    assert live[0] is True and not dock.state.live
    _settle(qtbot, dock)
    assert fm.probe.min_interval_s == 0.0 and _has_maps(fm, dock.state.result)
    _select(qtbot, dock, "features.3")  # a still again: the new probe re-runs the frame on screen


def test_a_heat_map_goes_when_the_video_moves_on_and_hover_values_follow_the_frame(qtbot, dock, tmp_path):
    """Grad-CAM explains the frame it was computed on: once the video shows another frame the map goes and the
    line below says why; a hovered value is read again from each new frame."""
    from tests.test_sources import write_video

    fm = _select(qtbot, dock, "features.0")
    assert dock.bridge.open_video(str(write_video(tmp_path / "clip.avi", n=40, size=(96, 64), fps=30.0)), loop=True)
    qtbot.waitUntil(lambda: dock.state.result is not None and dock.state.result.frame.index > 1,
                    timeout=RESULT_TIMEOUT)
    dock.bridge.toggle_pause()
    qtbot.waitUntil(lambda: not dock.state.live and fm.frame is not None
                    and dock.state.result.extras.get(fm.probe.name) is fm.frame, timeout=RESULT_TIMEOUT)
    assert fm.request_gradcam()
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("Grad-CAM"), timeout=RESULT_TIMEOUT)
    assert fm.overlay.heat_item.isVisible()
    paused_on = fm.last_result.frame.index
    x, y = fm.mosaic.point_of(fm.mosaic.tile_of_channel(3), 2.5, 4.5)
    fm._on_mosaic_hover(x, y)                          # what a mouse move over the mosaic does
    dock.bridge.toggle_pause()                         # play on
    qtbot.waitUntil(lambda: not fm.overlay.heat_item.isVisible(), timeout=RESULT_TIMEOUT)
    assert f"frame {paused_on}" in fm.info_label.text() and "moved on" in fm.info_label.text()
    fm._on_mosaic_hover(x, y)
    shown = fm.frame
    qtbot.waitUntil(lambda: fm.frame is not shown, timeout=RESULT_TIMEOUT)
    value = float(fm.frame.activation[3, 2, 4])        # the new frame's value, not the hovered frame's
    assert fm.info_label.text().startswith(f"channel 3  (y 2, x 4) = {value:.4g}")
    dock.bridge.toggle_pause()


# -- detectors -----------------------------------------------------------------------------------------------------
def test_grad_cam_explains_a_yolo_detection_by_its_cell_and_box(qtbot, app_state, tmp_path):
    """yolov1-tiny (bundled weights) on a synthetic scene: the targets are its detections as the table lists
    them (the state's threshold, numbered from #1), each explained by the score of the cell and box that
    predicted it."""
    from explorer.core.scenes import make_scene

    scene = make_scene(4242)
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
    d = _build(qtbot, *app_state)
    _open(qtbot, d, "yolov1-tiny", "bundled", path)
    state = d.state
    assert state.result.boxes
    layer = next(n.id for n in state.graph.nodes if n.kind == "conv")
    fm = _select(qtbot, d, layer)
    first = state.result.boxes[0]
    assert first.cell is not None and first.box_index is not None
    combo = fm.controls.target_combo
    shown = [b for b in state.result.boxes if b.score >= state.threshold]
    assert combo.count() == min(20, len(shown)) > 0
    assert combo.itemText(0).startswith(f"#1 {first.label}")
    state.set_threshold(0.99)                            # the table lists fewer: so does the target list, at once
    assert combo.count() == len([b for b in state.result.boxes if b.score >= 0.99])
    state.set_threshold(0.5)
    assert combo.count() == min(20, len(shown))
    assert tuple(combo.currentData()) == ("yolo", first.cell, first.class_index, first.box_index)
    assert fm.request_gradcam()
    qtbot.waitUntil(lambda: fm.info_label.text().startswith("Grad-CAM"), timeout=RESULT_TIMEOUT)
    row, col = first.cell
    assert f"class {first.class_index} ({first.label}) at cell ({row}, {col}), box {first.box_index}" \
        in fm.info_label.text()
    assert fm.overlay.heat_item.isVisible()


def test_an_fpn_level_is_drawn_with_its_own_stride(qtbot, app_state):
    """fasterrcnn_mobilenet_v3_large_320_fpn's backbone.fpn gives levels "0", "1" (stride 32) and "pool" (stride
    64): the picker names the layer inside that produced each, and the overlay and receptive field of a level use
    that level's stride, the one its map size gives (padded backbone input width / stride = map width)."""
    from explorer.core.receptive import layer_field_geometry

    d = _build(qtbot, *app_state)
    _open(qtbot, d, "fasterrcnn_mobilenet_v3_large_320_fpn")
    state = d.state
    fm = _select(qtbot, d, "backbone.fpn")
    combo = fm.controls.output_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["0 · layer_blocks.0.0", "1 · layer_blocks.1.0",
                                                                "pool · extra_blocks"]
    for key, stride in (("0", 32), ("pool", 64)):
        fm.set_output(key)
        qtbot.waitUntil(lambda key=key: fm.frame.output_key == key, timeout=RESULT_TIMEOUT)
        assert combo.currentData() == key
        c, h, width = fm.frame.shape
        bh, bw = fm._backbone_size()
        geo = layer_field_geometry(state.graph, "backbone.fpn", key)
        pad = state.handle.model.transform.size_divisible      # the batch is padded to a multiple of 32
        assert geo.stride == stride
        assert -(-bw // pad) * pad == width * stride and -(-bh // pad) * pad == h * stride
        node = state.graph.node(state.graph.modules["backbone.fpn"].outputs[key])
        fm.select_feature_pixel(0, 0)
        assert f"{node.receptive_field}×{node.receptive_field} input pixels" in fm.info_label.text()
        fm.controls.overlay_check.setChecked(True)
        fm.select_channel(0)
        rect = fm.overlay.channel_rect                         # the map laid over the image: the image's width
        x0, _, x1, _ = fm.frame.geometry.to_source((0.0, 0.0, float(width * stride), 1.0))
        assert rect.width() == pytest.approx(x1 - x0)


# -- the mosaic view -------------------------------------------------------------------------------------------------
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


def test_a_mosaic_larger_than_its_view_is_built_at_the_view_size(qtbot, dock, tmp_path):
    """64 maps of 55×55 in a small dock: box averages at the size the view shows, clicks still exact; a zoom
    rebuilds every feature pixel at the same place; a double click fits again; the PNG has every pixel."""
    from dataclasses import replace

    from explorer.core.mosaic import build_mosaic, display_shrink

    fm = _select(qtbot, dock, "features.0")
    dock.host.resize(1000, 300)
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
    x, y = m.point_of(m.tile_of_channel(channel), fy + 0.5, fx + 0.5)
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
    assert full.tile_size == (55, 55)
    _assert_figure_of(written, full)   # 55 ≥ 48: tiles 1:1, every feature pixel


def test_the_first_frame_of_a_layer_comes_from_the_pipeline_already_fitted(qtbot, dock, monkeypatch):
    """The probe lays the mosaic out for the view where it is built, so selecting a layer never rebuilds it
    in the UI thread (a large layer's mosaic costs tens of milliseconds there)."""
    from explorer.ui.feature_maps import panel as P

    dock.state.select("")
    dock.host.resize(1000, 300)
    qtbot.wait(300)
    rebuilt_here = []
    real = P.build_mosaic  # the panel's own rebuilds; the pipeline's probe calls explorer.core.activations'

    def spy(*args, **kwargs):
        rebuilt_here.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(P, "build_mosaic", spy)
    fm = _select(qtbot, dock, "features.0")
    view = fm.mosaic_view
    assert fm.mosaic.options.fit == (view.width(), view.height()) and fm.mosaic.shrink > 1
    assert fm.mosaic.grid[1] == layout_for(fm.mosaic.options, 64, 55, 55)[0]
    assert rebuilt_here == []


def test_image_view_filters_only_shrunk_images_and_a_zoom_out_past_the_image_fits_it(qtbot):
    """A 7×7 map enlarged keeps crisp pixels (a filtered enlargement is a blur); a mosaic larger than the view is
    filtered so its 1-pixel padding does not alias. Zooming out beyond the whole image fits it again, as a
    double click does, instead of leaving a small image in a large empty view."""
    from PySide6.QtGui import QPainter

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


# -- in the main window ----------------------------------------------------------------------------------------------
def test_in_the_window_the_overlay_leaves_the_image_while_another_bottom_tab_is_in_front(qtbot, tmp_path):
    """The dock's pictures on the image (a channel, a receptive field) show only while the feature-map tab can be
    seen: with the RPN anchors' or the YOLO grid's tab in front they are off the image (they stacked with the
    anchors before), and they come back as they were with the dock. A new source clears them. The window is
    built on a settings file whose opacity is 1000000000000 (the dock used to be "could not be opened")."""
    from explorer.ui.main_window import MainWindow
    from explorer.ui.settings import open_settings

    settings = open_settings()
    settings.setValue("featureMaps/opacity", "1000000000000")
    settings.sync()
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.bridge is not None and w.state.handle is not None, timeout=RESULT_TIMEOUT)
    fm = w.panels["featureMapsDock"]
    assert isinstance(fm, FeatureMapsPanel) and fm.controls.opacity_slider.value() == 100
    inference = w.panels["inferenceDock"]
    qtbot.waitUntil(lambda: fm.frame is not None, timeout=RESULT_TIMEOUT)  # the window selects the first conv
    fm.controls.overlay_check.setChecked(True)
    fm.select_channel(0)
    assert fm.select_feature_pixel(2, 3) is not None
    items = (fm.overlay.channel_item, fm.overlay.field_item)
    vb = inference.view_box

    def on_image() -> bool:
        return fm.overlay.view_box is vb and all(i.scene() is vb.scene() and i.isVisible() for i in items)

    qtbot.waitUntil(on_image, timeout=5000)
    for other in ("anchorsDock", "yoloDock"):
        w.state.request_dock(other)
        qtbot.waitUntil(lambda: fm.overlay.view_box is None and all(i.scene() is None for i in items), timeout=5000)
    w.state.request_dock("featureMapsDock")
    qtbot.waitUntil(on_image, timeout=5000)                # back as it was
    assert fm.overlay.field_box is not None and fm.feature_pixel == (2, 3)

    path = tmp_path / "other.png"
    cv2.imwrite(str(path), np.full((120, 160, 3), 90, np.uint8))
    assert w.bridge.open_image(str(path))
    qtbot.waitUntil(lambda: fm.overlay.field_box is None, timeout=RESULT_TIMEOUT)   # cleared with the source
    assert not fm.overlay.field_item.isVisible() and fm.feature_pixel is None


def test_a_new_pin_is_scrolled_into_sight_in_a_short_dock(qtbot, app_state):
    """New-user trial: after Pin in a short dock only the pinned row's "layer4 512×7×7 ×" showed, its mosaic
    below the fold. The dock's scroll area now brings the whole pin into sight."""
    d = _build(qtbot, *app_state, size=(1100, 420))
    d.area.setMaximumHeight(250)   # a laptop's bottom dock (1280×720: 790×260 px)
    _open(qtbot, d)
    fm = _select(qtbot, d, "features.3")
    assert fm.pin_layer("features.3")
    pin = fm.pins.pins["features.3"]
    qtbot.waitUntil(lambda: pin.frame is not None, timeout=RESULT_TIMEOUT)
    viewport = d.area.viewport()
    # the dock is too short for all of it: it scrolls
    qtbot.waitUntil(lambda: fm.height() > viewport.height() + 50, timeout=5000)

    def in_sight() -> bool:
        top_left = pin.view.mapTo(viewport, QPoint(0, 0))
        return viewport.rect().contains(QRect(top_left, pin.view.size()))

    qtbot.waitUntil(in_sight, timeout=5000)
    assert pin.view.height() >= 40 and pin.title.mapTo(viewport, QPoint(0, 0)).y() >= 0
