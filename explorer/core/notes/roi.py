"""Fast R-CNN's RoI pooling: the region projected onto the feature map and split into a 7×7 grid of bins.

Girshick, "Fast R-CNN", ICCV 2015, Section 2.1: an h×w RoI window is divided into an H×W grid of sub-windows
of about h/H × w/W cells, each max-pooled. The bin boundaries here are those of the reference implementation
that torchvision.ops.roi_pool follows (torchvision/csrc/ops/cpu/roi_pool_kernel.cpp, from Caffe's Fast R-CNN):
  start = round(x1·scale), end = round(x2·scale), size = max(end − start + 1, 1), bin = size / H,
  bin i spans [⌊i·bin⌋ + start, ⌈(i+1)·bin⌉ + start), clipped to the map; an empty bin gives 0.
The pooled values themselves come from torchvision.ops.roi_pool.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.notes.spp import Box, RegionError

if TYPE_CHECKING:
    import torch


def c_round(x: float) -> int:
    """C's round(): halves away from zero (Python's round() rounds halves to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


@dataclass(frozen=True)
class RoiGrid:
    """The RoI's cells and its output×output bins, [start, end) in feature-map cells (an empty bin has end ≤ start)."""

    start_x: int
    start_y: int
    end_x: int                    # inclusive, as roi_pool rounds it
    end_y: int
    x_bins: list[tuple[int, int]]
    y_bins: list[tuple[int, int]]
    output_size: int


def _bins(start: int, end: int, n: int, limit: int) -> list[tuple[int, int]]:
    size = max(end - start + 1, 1)
    step = np.float32(size) / np.float32(n)    # float32 as the kernel computes it, so the bins match exactly
    bins = []
    for i in range(n):
        lo = min(max(int(np.floor(np.float32(i) * step)) + start, 0), limit)
        hi = min(max(int(np.ceil(np.float32(i + 1) * step)) + start, 0), limit)
        bins.append((lo, hi))
    return bins


def roi_grid(box: Box, spatial_scale: float, feat_size: tuple[int, int], output_size: int = 7) -> RoiGrid:
    """The bins roi_pool uses for `box` (image pixels) on a feature map of `feat_size` (h, w)."""
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        raise RegionError(f"the region ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is empty: draw a rectangle with some area.")
    fh, fw = feat_size
    s = np.float32(spatial_scale)
    sx, sy = c_round(float(np.float32(x1) * s)), c_round(float(np.float32(y1) * s))
    ex, ey = c_round(float(np.float32(x2) * s)), c_round(float(np.float32(y2) * s))
    return RoiGrid(sx, sy, ex, ey, _bins(sx, ex, output_size, fw), _bins(sy, ey, output_size, fh), output_size)


def roi_pool(features: "torch.Tensor", box: Box, spatial_scale: float, output_size: int = 7) -> "torch.Tensor":
    """torchvision.ops.roi_pool of one box over features (C, h, w) -> (C, output, output)."""
    import torch
    from torchvision.ops import roi_pool as tv_roi_pool
    boxes = torch.tensor([[0.0, *box]], dtype=features.dtype)
    return tv_roi_pool(features.unsqueeze(0), boxes, output_size, spatial_scale)[0]


@dataclass(frozen=True)
class PassCount:
    """How many times each method runs the convolutional layers for `regions` regions of one image."""

    method: str
    passes: int
    how: str


def cnn_passes(regions: int) -> list[PassCount]:
    """R-CNN warps and runs every region; SPPNet and Fast R-CNN run the convolutions once per image."""
    return [
        PassCount("R-CNN", regions, "one CNN pass per warped region"),
        PassCount("SPPNet", 1, "one conv pass per image, spatial pyramid per region"),
        PassCount("Fast R-CNN", 1, "one conv pass per image, 7×7 RoI pooling per region"),
    ]
