"""The feature-map dock's gradient view and receptive field on the photo (new-user trial, resnet18's layer4):
the gradient shows without Overlay and says why when there is nothing to show (a pixel a ReLU holds at 0); ticking
Gradient with a pixel chosen shows its gradient at once, unticking takes it away; a field larger than the model
input is drawn by its part in the image and said to be larger (its yellow box left a stray line under the photo);
a channel reaching past the input's outline (layer4: 16 px up-left) is named in the legend."""

from __future__ import annotations

import numpy as np
import pytest

from tests.test_ui_feature_maps import RESULT_TIMEOUT, _build, _open, _plain, _select


@pytest.fixture
def resnet(qtbot, app_state):
    d = _build(qtbot, *app_state)
    _open(qtbot, d, "resnet18")
    return d


def _pixels(fm, channel: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """A feature pixel of `channel` a ReLU holds at 0, and its strongest one."""
    a = fm.frame.activation[channel].float().numpy()
    zero = tuple(int(v) for v in np.argwhere(a == 0)[0])
    best = tuple(int(v) for v in np.unravel_index(a.argmax(), a.shape))
    return zero, best


def test_the_gradient_shows_without_overlay_and_a_zero_one_says_why(qtbot, resnet):
    fm = _select(qtbot, resnet, "layer4")
    c, o = fm.controls, fm.overlay
    assert not c.overlay_check.isChecked()
    c.gradient_check.setChecked(True)
    fm.select_channel(0)
    zero, best = _pixels(fm, 0)

    said: list[str] = []
    fm.state.message.connect(lambda text, *_: said.append(text))
    fm.select_feature_pixel(*zero)      # old: an invisible map, the crop outline, "= 0 with respect to the input"
    qtbot.waitUntil(lambda: "zero everywhere" in fm.info_label.text(), timeout=RESULT_TIMEOUT)
    assert any("zero everywhere" in t for t in said)  # also in the status bar: the info line may be out of sight
    assert "a ReLU's zero" in fm.info_label.text() and "brighter pixel" in fm.info_label.text()
    assert not o.heat_shown and not o.input_shown

    fm.select_feature_pixel(*best)                              # Overlay still unticked: the gradient shows
    qtbot.waitUntil(lambda: o.heat_shown, timeout=RESULT_TIMEOUT)
    assert not o.channel_item.isVisible() and (o.heat_item.image[..., 3] > 0).any()
    assert fm.info_label.text().startswith(f"gradient of channel 0 at (y {best[0]}, x {best[1]}) (activation")

    c.gradient_check.setChecked(False)                          # unticked: the gradient leaves the photo
    assert not o.heat_shown


def test_ticking_gradient_with_a_pixel_chosen_shows_its_gradient(qtbot, resnet):
    fm = _select(qtbot, resnet, "layer4")
    fm.select_channel(0)
    _, best = _pixels(fm, 0)
    fm.select_feature_pixel(*best)
    assert not fm.overlay.heat_shown
    fm.controls.gradient_check.setChecked(True)                 # old: nothing until a second click
    qtbot.waitUntil(lambda: fm.overlay.heat_shown, timeout=60_000)
    assert "Overlay" in fm.controls.gradient_check.toolTip()    # the tooltip says it needs no Overlay


def test_a_field_larger_than_the_input_is_drawn_by_its_part_in_the_image_and_named(qtbot, resnet):
    from PySide6.QtCore import Qt

    from explorer.ui.feature_maps.overlay import PART_RGB

    fm = _select(qtbot, resnet, "layer4")
    o = fm.overlay
    fm.select_channel(0)
    fm.select_feature_pixel(6, 3)
    # the 435 px box reaches past the photo (one edge of it was a stray yellow line): not drawn
    x0, _, x1, _ = o.field_box
    w = resnet.state.frame.image.shape[1]
    assert x0 < 0 and x1 > w and not o.field_item.isVisible()
    assert o.clip_item.isVisible() and o.clip_item.pen().widthF() == 2.0
    text = "receptive field of (y 6, x 3): 435×435 px, larger than the 224×224 input; its dashed cyan part lies"
    assert o.legend_rows[-1][:2] == (PART_RGB, Qt.PenStyle.DashLine) and o.legend_rows[-1][2].startswith(text)
    assert fm.legend.isVisible() and text in _plain(fm.legend.text())
    assert "larger than the model's 224×224 input" in fm.info_label.text()

    fm.controls.overlay_check.setChecked(True)  # layer4's 7×7 squares of 32 px lie 15.5 px up-left of the input
    assert o.channel_item.isVisible()
    assert any(row[2].startswith("channel 0: 7×7 squares of 32×32 px centred on their fields, over input px "
                                 "x -15.5..208.5") for row in o.legend_rows)
    fm.clear_overlay()
    assert o.legend_rows == [] and not fm.legend.isVisible()


def test_a_field_that_fits_keeps_its_yellow_box_and_names_it(qtbot, app_state):
    from PySide6.QtCore import Qt

    from explorer.ui.feature_maps.overlay import FIELD_RGB

    d = _build(qtbot, *app_state)
    _open(qtbot, d)                                             # alexnet
    fm = _select(qtbot, d, "features.0")
    fm.select_channel(5)
    fm.select_feature_pixel(0, 0)                               # 11×11 at the corner: part of it is padding
    o = fm.overlay
    assert o.field_item.isVisible() and o.clip_item.isVisible() and o.clip_item.pen().widthF() == 1.0
    assert (FIELD_RGB, Qt.PenStyle.SolidLine, "receptive field of (y 0, x 0): 11×11 px of the model input") \
        in o.legend_rows
    assert fm.info_label.text().startswith("receptive field of (y 0, x 0): 11×11 input pixels")


def test_an_opened_patchs_field_larger_than_the_image_is_drawn_by_its_part_in_it():
    """As a feature pixel's: a top patch of layer4 has a field larger than the image, whose yellow box would be a
    stray edge far outside; it passes both of the image's opposite edges, so only its part in the image is drawn."""
    from explorer.ui.feature_maps.on_image import patch_field_text

    big = patch_field_text((-100.0, -80.0, 300.0, 320.0), (0.0, 0.0, 224.0, 224.0), 0)
    assert big is not None and not big.fits and "400×400 px, larger than the image" in big.part_text
    assert patch_field_text((10.0, 10.0, 50.0, 50.0), (10.0, 10.0, 50.0, 50.0), 2) is None   # inside: yellow box
    assert patch_field_text((-10.0, 10.0, 50.0, 50.0), (0.0, 10.0, 50.0, 50.0), 2) is None   # past one edge only
