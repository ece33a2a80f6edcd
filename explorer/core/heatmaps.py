"""Heat maps laid over the source image: Grad-CAM's map and an input gradient, as RGBA images whose opacity
follows the value, so that they hide the photo only where they speak (explorer.core.gradcam computes them)."""

from __future__ import annotations

import numpy as np

from explorer.core.mosaic import lut


def heat_image(values: np.ndarray, colormap: str = "inferno", alpha: bool = True) -> np.ndarray:
    """A non-negative map (Grad-CAM, gradient magnitude) as (H, W, 4) uint8 RGBA scaled from 0 to its max;
    with `alpha`, transparency follows the value so that a heat map laid over a photo hides only where it is
    high."""
    v = np.asarray(values, dtype=np.float32)
    peak = float(v.max()) if v.size else 0.0
    t = np.clip(v / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(v)
    index = np.floor(t * 255.0 + 0.5).astype(np.uint8)
    out = np.empty((*v.shape, 4), dtype=np.uint8)
    out[..., :3] = lut(colormap)[index]
    out[..., 3] = np.sqrt(t) * 255.0 if alpha else 255  # sqrt: weak but non-zero evidence stays visible
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
