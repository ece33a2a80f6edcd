"""Heat maps over the photo: Grad-CAM's map and an input gradient as RGBA images."""

from __future__ import annotations

import numpy as np

from explorer.core.heatmaps import heat_image, saliency_image
from explorer.core.mosaic import lut


def test_heat_image_scales_from_zero_to_its_peak_and_opacity_follows_the_value():
    img = heat_image(np.array([[0.0, 1.0], [2.0, 4.0]], np.float32), "gray")
    assert list(img[..., 0].ravel()) == [0, 64, 128, 255]
    assert list(img[..., 3].ravel()) == [0, 127, 180, 255]               # √t of the value's share t (truncated)
    assert (heat_image(np.zeros((2, 2)))[..., 3] == 0).all()


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
