"""Maps over the photo: Grad-CAM's map, an input gradient and one channel as RGBA images whose opacity is the
response's strength."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer.core.heatmaps import channel_overlay, heat_image, saliency_image, strength
from explorer.core.mosaic import channel_image, lut


def test_heat_image_scales_from_zero_to_its_peak_and_opacity_follows_the_value():
    """Opacity is the value's share of the peak, linearly: 1/4 of it is a quarter opaque (√t made it half, so
    a map's weak half veiled the photo: new-user trial)."""
    img = heat_image(np.array([[0.0, 1.0], [2.0, 4.0]], np.float32), "gray")
    assert list(img[..., 0].ravel()) == [0, 64, 128, 255]
    assert list(img[..., 3].ravel()) == [0, 64, 128, 255]                # round(255·t)
    assert (heat_image(np.zeros((2, 2)))[..., 3] == 0).all()


def test_a_signed_channel_is_transparent_at_zero_and_opaque_at_its_largest_magnitude():
    """New-user trial: at the default 60 % the channel tinted the whole photo. Over the photo a diverging map's
    alpha is |v| / max |v| (0 at its centre, 0) and a sequential map's (v − min) / (max − min); the colour is the
    large view's, from the same upsampled values."""
    act = torch.tensor([[[-2.0, -1.0, 0.0, 0.5, 1.0]], [[3.0, 3.5, 4.0, 5.0, 7.0]]])
    rdbu = channel_overlay(act, 0, "rdbu")
    assert list(rdbu[0, :, 3]) == [255, 128, 0, 64, 128]                 # round(255·|v|/2)
    assert (rdbu[..., :3] == channel_image(act, 0, "rdbu")[..., :3]).all()
    viridis = channel_overlay(act, 1, "viridis")
    assert list(viridis[0, :, 3]) == [0, 32, 64, 128, 255]               # round(255·(v − 3)/4)

    # upsampled: alpha follows the bilinear values, computed here by hand from torch's interpolation
    small = torch.tensor([[[-1.0, 0.0], [0.0, 3.0]]])
    big = channel_overlay(small, 0, "rdbu", size=(6, 6))
    up = F.interpolate(small[None], size=(6, 6), mode="bilinear", align_corners=False)[0, 0].numpy()
    expect = np.floor(np.abs(up) / np.abs(up).max() * 255.0 + 0.5)
    assert big.shape == (6, 6, 4) and (big[..., 3] == expect).all()
    assert big[5, 5, 3] == 255                                           # the corner nearest 3


@pytest.mark.parametrize("zero_centre", [True, False])
def test_a_constant_or_nan_map_is_quiet_where_it_says_nothing(zero_centre):
    assert (strength(np.zeros((3, 3)), zero_centre) == 0).all()
    assert (strength(np.full((3, 3), 2.0), False) == 0).all()            # constant: no low end to rise from
    t = strength(np.array([np.nan, 1.0, 2.0], np.float32), zero_centre)
    assert t[0] == 0.0 and t[2] == 1.0 and np.isfinite(t).all()


def test_an_input_gradient_is_drawn_clearly_visible_on_its_support_only():
    """Issue 21, "the gradient overlay is very faint": a heavy-tailed gradient (one extreme pixel, the rest of its
    field 1 % of it) scaled by its peak left the field at √0.01 = 10 % opacity and inferno's near-black; drawn
    as a saliency map the field is at least half opaque and bright, the extreme pixel saturates, and the pixels
    outside the field (exact zeros) stay transparent."""
    rng = np.random.default_rng(0)
    g = np.zeros((64, 64), np.float32)
    g[10:40, 20:50] = rng.uniform(0.5, 1.5, (30, 30)).astype(np.float32)   # the receptive field
    g[25, 35] = 100.0
    faint = heat_image(g)[10:40, 20:50]
    assert np.median(faint[..., 3]) < 40                                  # what the dock drew before
    img = saliency_image(g)
    assert img.shape == (64, 64, 4) and img.dtype == np.uint8
    assert ((img[..., 3] > 0) == (g > 0)).all()                            # exactly the support
    field = img[10:40, 20:50]
    assert np.median(field[..., 3]) >= 128
    assert np.median(field[..., :3].astype(int).sum(-1)) >= 250            # not inferno's dark end
    assert tuple(img[25, 35, :3]) == tuple(lut("inferno")[255]) and img[25, 35, 3] == 255
    assert (saliency_image(np.zeros((4, 4)))[..., 3] == 0).all()
