"""SPPNet: project an image region onto the feature map and pool it with a spatial pyramid.

He, Zhang, Ren, Sun. "Spatial Pyramid Pooling in Deep Convolutional Networks for Visual Recognition",
ECCV 2014 / TPAMI 2015.
- Projection (Appendix A, "Mapping a Window to Feature Maps"): with S the product of all strides, a window's
  left (top) boundary x' maps to x = ⌊x'/S⌋ + 1 and its right (bottom) boundary to x = ⌈x'/S⌉ − 1
  (for padding ⌊p/2⌋; the feature cell x has its receptive field centred on image pixel S·x). We use these
  formulas on 0-based cells, keep the cells [left, right] inclusive, clip them to the map and, for a region
  narrower than a cell, keep the cell nearest its centre. `method="round"` is the simpler rounding of
  Fast R-CNN's RoI pooling (round(x'/S) on both sides).
- Pyramid (Appendix A, "Pooling Bins"): for an a×a map and an n×n level, bin i (0-based) spans
  [⌊i·a/n⌋, ⌈(i+1)·a/n⌉); each bin is max-pooled. Levels 4×4, 2×2, 1×1 (Section 2.3 and Fig. 3) give
  (16 + 4 + 1)·C = 21·C values whatever the region's size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from explorer.core.errors import ExplorerError

if TYPE_CHECKING:
    import torch

Box = tuple[float, float, float, float]   # x1, y1, x2, y2 in image pixels
PYRAMID_LEVELS: tuple[int, ...] = (4, 2, 1)


class RegionError(ExplorerError):
    """A region that cannot be projected (empty or outside the image)."""


@dataclass(frozen=True)
class FeatureRegion:
    """Feature-map cells [x0, x1] × [y0, y1] (inclusive) covering an image box."""

    x0: int
    y0: int
    x1: int
    y1: int
    method: str

    @property
    def width(self) -> int:
        return self.x1 - self.x0 + 1

    @property
    def height(self) -> int:
        return self.y1 - self.y0 + 1


def _check_box(box: Box) -> None:
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        raise RegionError(f"the region ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is empty: draw a rectangle with some area.")


def project_box(box: Box, stride: int, feat_size: tuple[int, int], method: str = "spp") -> FeatureRegion:
    """The feature-map cells a box covers, by SPPNet's projection (`"spp"`) or plain rounding (`"round"`)."""
    _check_box(box)
    fh, fw = feat_size
    x1, y1, x2, y2 = box
    if method == "spp":
        left, top = math.floor(x1 / stride) + 1, math.floor(y1 / stride) + 1
        right, bottom = math.ceil(x2 / stride) - 1, math.ceil(y2 / stride) - 1
    elif method == "round":   # C's round(): half away from zero (what torchvision's roi_pool uses)
        left, top = math.floor(x1 / stride + 0.5), math.floor(y1 / stride + 0.5)
        right, bottom = math.floor(x2 / stride + 0.5), math.floor(y2 / stride + 0.5)
    else:
        raise RegionError(f"unknown projection '{method}'; choose 'spp' or 'round'.")

    def clip(lo: int, hi: int, centre: float, n: int) -> tuple[int, int]:
        if hi < lo:   # a region narrower than a cell pools the one cell whose centre (S·x) is nearest its own
            lo = hi = math.floor(centre / stride + 0.5)
        return min(max(lo, 0), n - 1), min(max(hi, 0), n - 1)

    left, right = clip(left, right, (x1 + x2) / 2, fw)
    top, bottom = clip(top, bottom, (y1 + y2) / 2, fh)
    return FeatureRegion(left, top, right, bottom, method)


def pyramid_bins(size: int, n: int) -> list[tuple[int, int]]:
    """Bins [start, end) of one pyramid level of n bins over `size` cells (SPPNet appendix)."""
    return [(math.floor(i * size / n), math.ceil((i + 1) * size / n)) for i in range(n)]


@dataclass
class PyramidLevel:
    n: int
    x_bins: list[tuple[int, int]]     # relative to the region's first cell
    y_bins: list[tuple[int, int]]
    pooled: "torch.Tensor"            # (C, n, n)


@dataclass
class SppResult:
    region: FeatureRegion
    levels: list[PyramidLevel]
    vector: "torch.Tensor"            # (Σ n²·C,), level by level, each level channel-major like SPPNet's concat

    @property
    def length(self) -> int:
        return int(self.vector.numel())


def spp_length(channels: int, levels: tuple[int, ...] = PYRAMID_LEVELS) -> int:
    """Length of the pyramid vector: Σ n² · C (21·C for 4×4, 2×2, 1×1)."""
    return sum(n * n for n in levels) * channels


def spatial_pyramid_pool(features: "torch.Tensor", region: FeatureRegion,
                         levels: tuple[int, ...] = PYRAMID_LEVELS) -> SppResult:
    """Max-pool the region of features (C, h, w) with each pyramid level and concatenate."""
    import torch
    crop = features[:, region.y0:region.y1 + 1, region.x0:region.x1 + 1]
    out_levels, parts = [], []
    for n in levels:
        xb, yb = pyramid_bins(region.width, n), pyramid_bins(region.height, n)
        pooled = torch.empty((features.shape[0], n, n), dtype=features.dtype)
        for i, (ys, ye) in enumerate(yb):
            for j, (xs, xe) in enumerate(xb):
                pooled[:, i, j] = crop[:, ys:ye, xs:xe].amax(dim=(1, 2))
        out_levels.append(PyramidLevel(n, xb, yb, pooled))
        parts.append(pooled.flatten())
    return SppResult(region, out_levels, torch.cat(parts))
