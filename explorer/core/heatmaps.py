"""Maps laid over the source image: Grad-CAM's map, an input gradient (explorer.core.gradcam computes them)
and one channel of a layer, as RGBA images whose opacity follows the response, so that they hide the photo only
where they speak.

Opacity is the response's strength, linearly (Captum's "alpha_scaling": alpha = the normalised attribution;
Kokhlikyan et al. 2020): where a map is quiet the photo shows as it is, at its peak the map's colour covers it,
and the overlay's opacity setting scales the whole. A square-root curve, used here before, lifted every weak
response to a visible veil (√0.1 ≈ 0.32), so a whole channel tinted the photo (new-user trial)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from explorer.core.mosaic import as_chw, channel_image, is_diverging, lut

if TYPE_CHECKING:
    import torch


def strength(values: np.ndarray, zero_centre: bool) -> np.ndarray:
    """How strongly each value responds, 0..1 (float32), where the colour map places it: |v| / max |v| for a
    diverging map (0 sits at its centre), (v − min) / (max − min) from a sequential map's low end. A constant map
    is quiet everywhere; non-finite values are quiet (NaN weights)."""
    v = np.array(values, dtype=np.float32)  # a copy: worked on in place below
    bad = ~np.isfinite(v)
    if bad.any():
        finite = v[~bad]
        v[bad] = 0.0 if zero_centre or finite.size == 0 else finite.min()
    if zero_centre:
        np.abs(v, out=v)
    elif v.size:
        v -= v.min()
    peak = float(v.max()) if v.size else 0.0
    if peak <= 0.0:
        return np.zeros_like(v)
    v *= 1.0 / peak
    return v


def strength_alpha(t: np.ndarray) -> np.ndarray:
    """Strength 0..1 as uint8 alpha, linearly (round(255·t)): 0 leaves the photo as it is."""
    a = np.clip(t, 0.0, 1.0).astype(np.float32, copy=False)  # one new array, then worked on in place
    a *= 255.0
    a += 0.5
    return a.astype(np.uint8)


def channel_overlay(activation: "torch.Tensor", channel: int, colormap: str,
                    size: tuple[int, int] | None = None) -> np.ndarray:
    """One channel to lay over the photo: (H, W, 4) uint8 RGBA, upsampled bilinearly to `size` (h, w) on the
    device, coloured from its own range as the large view colours it (explorer.core.mosaic.channel_image), with
    alpha = its strength (see `strength`). One map of at most about a megapixel: a few vectorised passes."""
    import torch.nn.functional as F

    act = as_chw(activation)[channel: channel + 1].float()
    if size is not None and tuple(size) != tuple(act.shape[-2:]):
        act = F.interpolate(act[None], size=tuple(int(v) for v in size), mode="bilinear", align_corners=False)[0]
    rgba = channel_image(act, 0, colormap)
    rgba[..., 3] = strength_alpha(strength(act[0].cpu().numpy(), is_diverging(colormap)))
    return rgba


def heat_image(values: np.ndarray, colormap: str = "inferno", alpha: bool = True) -> np.ndarray:
    """A non-negative map (Grad-CAM, gradient magnitude) as (H, W, 4) uint8 RGBA scaled from 0 to its max;
    with `alpha`, opacity is the value's share of the max (linear, see above), so that a heat map laid over a
    photo hides it only where it is high."""
    v = np.asarray(values, dtype=np.float32)
    peak = float(v.max()) if v.size else 0.0
    t = np.clip(v / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(v)
    index = np.floor(t * 255.0 + 0.5).astype(np.uint8)
    out = np.empty((*v.shape, 4), dtype=np.uint8)
    out[..., :3] = lut(colormap)[index]
    out[..., 3] = strength_alpha(t) if alpha else 255
    return out


# An input gradient (|∂A/∂input| of one feature pixel) is heavy-tailed and, from strided convolutions, a
# checkerboard: scaled by its peak it is a few bright pixels in a dark, nearly transparent field (issue 21,
# "the gradient overlay is very faint"). For display it is smoothed a little, scaled by a high percentile (the
# extreme pixels saturate), coloured from a third of the way up the map (inferno's black would darken the photo)
# and made opaque quickly; exact zeros (outside the receptive field) stay transparent.
SALIENCY_PERCENTILE = 98.0
SALIENCY_SIGMA = 1.5     # input pixels
SALIENCY_FLOOR = 0.35    # where on the colour map the weakest non-zero value starts
SALIENCY_GAIN = 1.4      # alpha = min(1, gain·√t): opaque from t ≈ 0.5


def saliency_image(magnitude: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """An input-gradient magnitude (H, W) as a clearly visible (H, W, 4) uint8 RGBA heat map (see above); its
    non-zero pixels are exactly the gradient's support."""
    import cv2

    v = np.asarray(magnitude, dtype=np.float32)
    support = v > 0
    out = np.zeros((*v.shape, 4), dtype=np.uint8)
    if not support.any():
        return out
    if SALIENCY_SIGMA > 0:
        v = cv2.GaussianBlur(v, (0, 0), SALIENCY_SIGMA) * support  # positive weights: > 0 on the support
    peak = float(np.percentile(v[support], SALIENCY_PERCENTILE)) or float(v.max())
    t = np.clip(v / peak, 0.0, 1.0)
    index = np.floor((SALIENCY_FLOOR + (1.0 - SALIENCY_FLOOR) * t) * 255.0 + 0.5).astype(np.uint8)
    out[..., :3] = lut(colormap)[index]
    alpha = np.minimum(1.0, SALIENCY_GAIN * np.sqrt(t)) * 255.0
    out[..., 3] = np.where(support, np.maximum(alpha, 1.0), 0.0).astype(np.uint8)
    return out
