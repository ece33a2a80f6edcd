"""A mosaic's tiles laid out again for a printed figure (the feature-map dock's PNG export): each tile upscaled by a
whole factor with nearest neighbour, so that a 7×7 map's pixels stay crisp squares at a readable size, with
BACKGROUND gaps, as square as possible (explorer.core.mosaic.grid_shape). Qt-free: the dock adds the title and the
colour scale (explorer.ui.feature_maps.export)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer.core.mosaic import BACKGROUND, Mosaic, grid_shape


@dataclass(frozen=True)
class TileSheet:
    """A mosaic's tiles laid out again for a figure: each tile `scale` times larger (nearest neighbour: a feature
    pixel stays a crisp square), `gap` pixels of BACKGROUND between and around them, as square as possible."""

    image: np.ndarray          # (height, width, 3) uint8 RGB
    scale: int                 # sheet pixels per mosaic pixel, along each axis
    grid: tuple[int, int]      # (rows, cols)
    tile_size: tuple[int, int]  # (h, w) of a tile on the sheet
    gap: int

    def tile_origin(self, tile: int) -> tuple[int, int]:
        """(x, y) of the top-left pixel of `tile` on the sheet."""
        th, tw = self.tile_size
        cols = self.grid[1]
        return self.gap + (tile % cols) * (tw + self.gap), self.gap + (tile // cols) * (th + self.gap)


def tile_sheet(mosaic: Mosaic, min_tile_px: int = 48, gap: int = 2, max_side: int = 12000) -> TileSheet:
    """`mosaic`'s tiles for a printed figure: upscaled by the smallest whole factor that makes a tile's shorter side
    at least `min_tile_px` (a 7×7 map: ×7, 49 px; a 55×55 map stays 1:1), the sheet's longer side kept within
    `max_side` by a smaller factor; laid out as square as possible (grid_shape) with `gap` pixels between."""
    th, tw = mosaic.tile_size
    n = mosaic.num_tiles
    scale = max(1, math.ceil(min_tile_px / max(1, min(th, tw))))
    while True:
        sh, sw = th * scale, tw * scale
        rows, cols = grid_shape(n, sh, sw, gap)
        width, height = gap + cols * (sw + gap), gap + rows * (sh + gap)
        if max(width, height) <= max_side or scale == 1:
            break
        scale -= 1
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = BACKGROUND
    for t in range(n):
        x0, y0 = mosaic.tile_origin(t)
        tile = mosaic.image[y0:y0 + th, x0:x0 + tw]
        x, y = gap + (t % cols) * (sw + gap), gap + (t // cols) * (sh + gap)
        sheet[y:y + sh, x:x + sw] = tile.repeat(scale, axis=0).repeat(scale, axis=1)
    return TileSheet(sheet, scale, (rows, cols), (sh, sw), gap)
