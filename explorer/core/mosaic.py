"""All channels of one layer tiled into one RGB image, built on the model's device.

A layer's activation (C, H, W) becomes one mosaic: the channels are ordered (by index, or by mean or max
activation, optionally keeping only the top k), normalised (per channel, per layer, or a fixed range), mapped
through a colormap lookup table and tiled row-major into a grid with a thin padding. Everything up to the
8-bit image runs with torch on the activation's device; only the uint8 mosaic and a few numbers per tile
(channel index, min, max) come back to the host, so a GPU never ships float feature maps to the CPU.

The `Mosaic` result keeps the geometry, so a hover or click at mosaic pixel (x, y) maps back to
(channel, fy, fx) and the raw value is read from the activation (`value_at`).

Fitting a view (`MosaicOptions.fit`, the view's size in device pixels): the columns that show the tiles
largest in it (`best_columns`: a wide, short view gets a wide mosaic) and the shrink (`display_shrink`) are
chosen from the layer's real shape where the mosaic is built, so the first frame of a layer already fits.
Shrinking: a view that shows conv1's 905-pixel mosaic in 480 pixels throws three quarters of it away at
every paint. With shrink s, each tile is drawn at 1/s of its size as box averages of s×s feature pixels
(torch's avg_pool2d, ceil mode: the partial windows at the right and bottom edges average what they hold),
after the ranges were taken from the full-size values; the colour passes, the transfer and the paint then
handle s² times fewer pixels. Only whole factors: a box average is what a good downscale does, and whole
windows keep every mosaic pixel inside one channel. Hover and click positions still map to the exact
feature pixel (`locate` scales the position within the tile back by s).

Colormaps are 256×3 uint8 lookup tables built from embedded control points (no Qt, no matplotlib), linearly
interpolated to 256 entries:
- viridis, inferno: matplotlib's perceptually uniform maps by Nathaniel J. Smith, Stefan van der Walt and
  Eric Firing (BIDS), CC0; every 5th entry of the 256-entry tables (within 1/255 of the full tables), read
  off the copy of the data that pyqtgraph ships (pyqtgraph/colors/maps/viridis.csv, inferno.csv).
- rdbu: ColorBrewer's 11-class "RdBu" (Cynthia Brewer, Apache-2.0), reversed (matplotlib's "RdBu_r"):
  negative blue, zero white, positive red.
- coolwarm: Kenneth Moreland, "Diverging Color Maps for Scientific Visualization" (ISVC 2009), every 4th of
  the paper's 33 control points.
- gray: black to white.
Sequential maps (viridis, inferno, gray) suit ReLU outputs (>= 0); diverging maps (rdbu, coolwarm) suit signed
outputs (a conv or batch norm before its ReLU) and put 0 in the middle.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# viridis and inferno: entries 0, 5, 10, ..., 255 of the 256-entry tables, in 0-255.
_VIRIDIS = (
    (68,1,84), (70,8,92), (71,16,99), (72,23,105), (72,29,111), (72,36,117), (71,42,122), (70,48,126),
    (69,55,129), (67,61,132), (65,66,135), (63,72,137), (61,78,138), (58,83,139), (56,89,140), (53,94,141),
    (51,99,141), (49,104,142), (46,109,142), (44,113,142), (42,118,142), (41,123,142), (39,128,142), (37,132,142),
    (35,137,142), (33,142,141), (32,146,140), (31,151,139), (30,156,137), (31,161,136), (33,165,133), (36,170,131),
    (40,174,128), (46,179,124), (53,183,121), (61,188,116), (70,192,111), (80,196,106), (90,200,100), (101,203,94),
    (112,207,87), (124,210,80), (137,213,72), (149,216,64), (162,218,55), (176,221,47), (189,223,38), (202,225,31),
    (216,226,25), (229,228,25), (241,229,29), (253,231,37),
)
_INFERNO = (
    (0,0,4), (2,2,12), (5,4,23), (10,7,34), (16,9,45), (22,11,57), (30,12,69), (38,12,81),
    (47,10,91), (56,9,98), (64,10,103), (73,11,106), (81,14,108), (89,16,110), (97,19,110), (105,22,110),
    (113,25,110), (120,28,109), (128,31,108), (136,34,106), (144,37,104), (152,39,102), (160,42,99), (168,46,95),
    (176,49,91), (183,53,87), (191,57,82), (198,61,77), (204,66,72), (211,71,67), (217,77,61), (223,83,55),
    (228,90,49), (233,97,43), (237,105,37), (241,113,31), (244,121,24), (247,130,18), (249,139,11), (250,148,7),
    (251,157,7), (252,166,12), (252,176,20), (251,186,31), (250,196,42), (248,205,55), (246,215,70), (244,225,86),
    (242,234,105), (242,242,125), (245,249,146), (252,255,164),
)
# ColorBrewer RdBu (11 classes) in 0-255, reversed: blue (negative) -> white (0) -> red (positive).
_RDBU_R = (
    (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
    (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31),
)
# Moreland's cool-warm (diverging, CIELAB-smooth), 0-255.
_COOLWARM = (
    (59, 76, 192), (98, 130, 234), (141, 176, 254), (184, 208, 249), (221, 221, 221), (245, 196, 173),
    (244, 154, 123), (222, 96, 77), (180, 4, 38),
)
_GRAY = ((0, 0, 0), (255, 255, 255))

# colormap -> control colours (0-255), evenly spaced from the lowest to the highest value
CONTROL_POINTS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "viridis": _VIRIDIS,
    "inferno": _INFERNO,
    "gray": _GRAY,
    "rdbu": _RDBU_R,
    "coolwarm": _COOLWARM,
}
SEQUENTIAL: tuple[str, ...] = ("viridis", "inferno", "gray")
DIVERGING: tuple[str, ...] = ("rdbu", "coolwarm")
COLORMAPS: tuple[str, ...] = SEQUENTIAL + DIVERGING
ORDERS: tuple[str, ...] = ("index", "mean", "max")
NORMS: tuple[str, ...] = ("channel", "layer", "fixed")
BACKGROUND = (48, 48, 48)  # padding colour: dark gray, distinct from every colormap's ends


def is_diverging(colormap: str) -> bool:
    return colormap in DIVERGING


@lru_cache(maxsize=None)
def lut(colormap: str) -> np.ndarray:
    """The 256×3 uint8 lookup table of `colormap` (control points linearly interpolated); read-only."""
    try:
        points = np.asarray(CONTROL_POINTS[colormap], dtype=np.float64)
    except KeyError:
        raise ValueError(f"unknown colormap '{colormap}'; choose one of: {', '.join(COLORMAPS)}") from None
    xs = np.linspace(0.0, 255.0, len(points))
    t = np.arange(256, dtype=np.float64)
    table = np.stack([np.interp(t, xs, points[:, c]) for c in range(3)], axis=1)
    out = np.clip(np.round(table), 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


_DEVICE_LUTS: dict[tuple[str, str], "torch.Tensor"] = {}


def _device_lut(colormap: str, device: "torch.device") -> "torch.Tensor":
    import torch

    key = (colormap, str(device))
    table = _DEVICE_LUTS.get(key)
    if table is None:
        table = torch.from_numpy(lut(colormap).copy()).to(device)
        _DEVICE_LUTS[key] = table
    return table


@dataclass(frozen=True)
class MosaicOptions:
    """How to draw a layer. `top_k` keeps the first k tiles of the order (None = all channels)."""

    order: str = "index"                       # "index" | "mean" | "max" (descending)
    top_k: int | None = None
    norm: str = "channel"                      # "channel" | "layer" | "fixed"
    fixed_range: tuple[float, float] = (0.0, 1.0)
    colormap: str = "viridis"                 # or "auto": rdbu when the layer has negative values, else viridis
    padding: int = 1
    columns: int | None = None                 # None: for `fit`, or as square an image as possible
    shrink: int | None = 1                     # draw tiles at 1/shrink of the map's size; None: for `fit`
    fit: tuple[int, int] | None = None         # (width, height) device pixels of the view that shows it

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"unknown order '{self.order}'; choose one of: {', '.join(ORDERS)}")
        if self.norm not in NORMS:
            raise ValueError(f"unknown normalisation '{self.norm}'; choose one of: {', '.join(NORMS)}")
        if self.colormap not in CONTROL_POINTS and self.colormap != "auto":
            raise ValueError(f"unknown colormap '{self.colormap}'; choose one of: {', '.join(COLORMAPS)}")
        if self.norm == "fixed" and not self.fixed_range[1] > self.fixed_range[0]:
            raise ValueError("a fixed range needs high > low")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError("top-k must be at least 1")
        if self.padding < 0:
            raise ValueError("padding cannot be negative")
        if self.shrink is not None and self.shrink < 1:
            raise ValueError("shrink must be at least 1")


@dataclass(frozen=True)
class TileHit:
    """What lies under mosaic pixel (x, y)."""

    tile: int          # tile number, row-major
    channel: int       # channel index in the layer
    fy: int            # row in the feature map
    fx: int            # column in the feature map


@dataclass
class Mosaic:
    """An 8-bit RGB mosaic and the geometry to map its pixels back to channels.

    Tile t (row-major) shows channel `channels[t]`; its top-left pixel is at
    x = padding + (t % cols)·(tile_w + padding), y = padding + (t // cols)·(tile_h + padding).
    A tile is the feature map itself (`tile_size` == `map_size`), or with `shrink` s > 1 its s×s box averages
    (tile_size = ⌈map_size / s⌉). Colour index 0 stands for `lo[t]`, 255 for `hi[t]` (linear in between;
    values outside are clipped).
    """

    image: np.ndarray                  # (height, width, 3) uint8 RGB (a view of `rgba`)
    rgba: np.ndarray                   # (height, width, 4) uint8, opaque: what the view draws
    grid: tuple[int, int]              # (rows, cols)
    tile_size: tuple[int, int]         # (tile_h, tile_w) drawn: the feature map's (H, W), or ⌈(H, W) / shrink⌉
    padding: int
    channels: np.ndarray               # (n,) int64: channel shown by each tile
    tile_min: np.ndarray               # (n,) float32: raw min of each tile's channel
    tile_max: np.ndarray               # (n,) float32: raw max
    tile_mean: np.ndarray              # (n,) float32: raw mean
    lo: np.ndarray                     # (n,) float32: value drawn with colour 0
    hi: np.ndarray                     # (n,) float32: value drawn with colour 255
    num_channels: int                  # C of the layer (n <= C with top-k)
    options: MosaicOptions = field(default_factory=MosaicOptions)
    colormap: str = "viridis"          # the colormap used ("auto" resolved)
    norm: str = "channel"              # the normalisation used ("channel" on 1×1 maps becomes "layer")
    map_size: tuple[int, int] | None = None  # (H, W) of the feature map (None: tile_size)
    shrink: int = 1                    # feature pixels per mosaic pixel along each axis

    def __post_init__(self) -> None:
        if self.map_size is None:
            self.map_size = self.tile_size

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def num_tiles(self) -> int:
        return int(len(self.channels))

    def tile_origin(self, tile: int) -> tuple[int, int]:
        """(x, y) of the top-left pixel of `tile` in the mosaic."""
        rows, cols = self.grid
        th, tw = self.tile_size
        p = self.padding
        return p + (tile % cols) * (tw + p), p + (tile // cols) * (th + p)

    def tile_of_channel(self, channel: int) -> int | None:
        hits = np.nonzero(self.channels == channel)[0]
        return int(hits[0]) if len(hits) else None

    def locate(self, x: float, y: float) -> TileHit | None:
        """The tile, channel and feature-map pixel under mosaic position (x, y) (pixel (i, j) covers
        [i, i+1) × [j, j+1)); None on padding or outside. A shrunk tile maps the position within its pixel
        back to the feature pixel (x 10.75 in a tile drawn at half size is feature column 21)."""
        place = self._tile_at(x, y)
        if place is None:
            return None
        tile, u, v = place
        mh, mw = self.map_size or self.tile_size
        fy = min(mh - 1, int(math.floor(v * self.shrink)))
        fx = min(mw - 1, int(math.floor(u * self.shrink)))
        return TileHit(tile=tile, channel=int(self.channels[tile]), fy=fy, fx=fx)

    def _tile_at(self, x: float, y: float) -> tuple[int, float, float] | None:
        """(tile, u, v): the tile under (x, y) and the position in it, in mosaic pixels from its corner."""
        rows, cols = self.grid
        th, tw = self.tile_size
        p = self.padding
        if x < p or y < p:
            return None
        col, u = divmod(float(x) - p, tw + p)
        row, v = divmod(float(y) - p, th + p)
        if u >= tw or v >= th or col >= cols or row >= rows:
            return None
        tile = int(row) * cols + int(col)
        if tile >= self.num_tiles:
            return None
        return tile, u, v

    def laid_out_as(self, options: MosaicOptions) -> bool:
        """Whether building this layer with `options` gives this mosaic's columns and shrink (a view that
        changed size or zoom needs the mosaic rebuilt when not)."""
        mh, mw = self.map_size or self.tile_size
        cols, shrink = layout_for(options, self.num_tiles, mh, mw)
        return (cols is None or cols == self.grid[1]) and shrink == self.shrink

    def point_of(self, tile: int, fy: float, fx: float) -> tuple[float, float]:
        """The mosaic position (x, y) of feature position (fy, fx) of `tile` (fy + 0.5: the pixel's centre)."""
        x0, y0 = self.tile_origin(tile)
        return x0 + fx / self.shrink, y0 + fy / self.shrink

    def carry_point(self, x: float, y: float, other: "Mosaic") -> tuple[float, float]:
        """The position in `other` (the same layer drawn with another shrink) of what lies at (x, y) here, so
        a zoomed view keeps showing the same place when the mosaic is rebuilt. A point on padding keeps its
        place between the tiles; points outside move with the grid."""
        col, fx = self._cell_position(x, 1)
        row, fy = self._cell_position(y, 0)
        return other._from_cell_position(col, fx, 1), other._from_cell_position(row, fy, 0)

    def _cell_position(self, v: float, axis: int) -> tuple[float, float]:
        """(cell, f) along one axis (1: x, 0: y): f in feature pixels from the tile's edge, or map size + the
        fraction of the padding crossed after it."""
        t, m, p = self.tile_size[axis], (self.map_size or self.tile_size)[axis], self.padding
        cell, u = divmod(float(v) - p, t + p)
        if u < t:
            return cell, min(u * self.shrink, float(m))
        return cell, m + (u - t) / p

    def _from_cell_position(self, cell: float, f: float, axis: int) -> float:
        t, m, p = self.tile_size[axis], (self.map_size or self.tile_size)[axis], self.padding
        inside = f / self.shrink if f <= m else t + (f - m) * p
        return p + cell * (t + p) + min(inside, t + p)


def as_chw(activation: "torch.Tensor") -> "torch.Tensor":
    """A layer output as (C, H, W): batch 1 is dropped; (C,) and (1, C) become C maps of 1×1; a batch of N > 1
    feature vectors (N, F) (a detector's box head: one row per region) becomes one N×F map; a batch of N > 1
    maps (N, C, H, W) (RoI pooling: one per region) shows the first region's C maps (chw_note says so)."""
    t = activation.detach()
    if t.dim() >= 2 and t.shape[0] == 0:  # no region at all (no proposal survived): nothing to tile
        raise ValueError(f"cannot show an empty tensor of shape {tuple(activation.shape)} (no region this frame)")
    if t.dim() >= 4 and t.shape[0] == 1:
        t = t[0]
    elif t.dim() == 4:
        t = t[0]  # a batch: the first image (the engine runs batch 1)
    if t.dim() == 4:  # (C, D, H, W) of a 3-D conv: not in the zoo; flatten depth into channels
        t = t.flatten(0, 1)
    if t.dim() == 2 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == 1:
        return t[:, None, None]
    if t.dim() == 2:  # one row per region (or a (C, L) sequence): one map, rows under each other
        return t[None]
    if t.dim() == 3:
        return t
    raise ValueError(f"cannot show a tensor of shape {tuple(activation.shape)} as feature maps")


def chw_note(activation: "torch.Tensor") -> str:
    """What as_chw did to a batch of regions, for the layer's caption ("" where the maps are the output)."""
    shape = tuple(activation.shape)
    if len(shape) == 4 and shape[0] > 1:
        return f"region 0 of {shape[0]} (the layer runs once per region): its {shape[1]} maps"
    if len(shape) == 2 and shape[0] > 1:
        return f"one map: {shape[0]} rows (one per region) × {shape[1]} features"
    return ""


def grid_shape(n: int, tile_h: int, tile_w: int, padding: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, cols) that make the mosaic as square as possible (or use `columns`)."""
    if columns:
        cols = max(1, min(int(columns), n))
    else:
        cols = max(1, min(n, math.ceil(math.sqrt(n * (tile_h + padding) / (tile_w + padding)))))
    return math.ceil(n / cols), cols


def best_columns(n: int, tile_h: int, tile_w: int, view_w: float, view_h: float, padding: int = 1) -> int | None:
    """The number of columns that shows n tiles of tile_h×tile_w largest in a view_w×view_h view (fitted,
    aspect kept; ties: fewer columns); None for a view too small to tell (under 20 pixels)."""
    if view_w < 20 or view_h < 20 or n < 1 or tile_h < 1 or tile_w < 1:
        return None
    best, best_scale = None, 0.0
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        scale = min(view_w / (padding + cols * (tile_w + padding)), view_h / (padding + rows * (tile_h + padding)))
        if scale > best_scale * 1.0001:
            best, best_scale = cols, scale
    return best


def layout_for(opts: MosaicOptions, n: int, tile_h: int, tile_w: int) -> tuple[int | None, int]:
    """(columns, shrink) that `opts` give n maps of tile_h×tile_w: the given ones, else chosen for `opts.fit`
    (columns None: as square as possible; shrink capped so a tile keeps at least one pixel)."""
    cols, shrink = opts.columns, opts.shrink
    if opts.fit is not None:
        vw, vh = opts.fit
        if cols is None:
            cols = best_columns(n, tile_h, tile_w, vw, vh, opts.padding)
        if shrink is None:
            shrink = display_shrink(n, tile_h, tile_w, vw, vh, opts.padding, cols)
    return cols, max(1, min(int(shrink or 1), tile_h, tile_w))


def mosaic_size(n: int, tile_h: int, tile_w: int, padding: int, columns: int | None = None,
                shrink: int = 1) -> tuple[int, int]:
    """(width, height) in pixels of the mosaic of n tiles of tile_h×tile_w maps drawn with `shrink`."""
    th, tw = -(-tile_h // shrink), -(-tile_w // shrink)
    rows, cols = grid_shape(n, th, tw, padding, columns)
    return padding + cols * (tw + padding), padding + rows * (th + padding)


def display_shrink(n: int, tile_h: int, tile_w: int, view_w: float, view_h: float, padding: int = 1,
                   columns: int | None = None) -> int:
    """The shrink whose mosaic is closest in size to how a view of view_w×view_h device pixels shows it
    (fitted, aspect kept): conv1's 905-pixel mosaic in a 480-pixel view is drawn at 457 pixels (shrink 2,
    shown at 1.05×). Closest in ratio: the view shows the drawn mosaic at about 0.7× to 1.4×, so the screen
    shows what the full-size mosaic scaled down would show; 1 while the view shows it at 0.7× or more."""
    if view_w < 1 or view_h < 1 or n < 1:
        return 1
    best, best_off = 1, math.inf
    for s in range(1, max(1, min(tile_h, tile_w)) + 1):
        w, h = mosaic_size(n, tile_h, tile_w, padding, columns, s)
        shown = min(view_w / w, view_h / h)
        off = abs(math.log(shown))
        if off < best_off - 1e-9:
            best, best_off = s, off
        if shown > 1.0:  # larger shrinks only draw it smaller still
            break
    return best


def _ranges(tmin: "torch.Tensor", tmax: "torch.Tensor", opts: MosaicOptions,
            n: int) -> tuple["torch.Tensor", "torch.Tensor"]:
    """Per-tile (lo, hi) of the normalisation mode (see build_mosaic)."""
    import torch

    diverging = is_diverging(opts.colormap)
    if opts.norm == "channel":
        lo, hi = tmin, tmax
        if diverging:
            hi = torch.maximum(tmin.abs(), tmax.abs())
            lo = -hi
    elif opts.norm == "layer":
        lo_s, hi_s = tmin.min(), tmax.max()
        if diverging:
            hi_s = torch.maximum(lo_s.abs(), hi_s.abs())
            lo_s = -hi_s
        lo, hi = lo_s.expand(n), hi_s.expand(n)
    else:
        lo = torch.full((n,), float(opts.fixed_range[0]), device=tmin.device, dtype=tmin.dtype)
        hi = torch.full((n,), float(opts.fixed_range[1]), device=tmin.device, dtype=tmin.dtype)
    return lo, hi


def _colorize(tiles: "torch.Tensor", lo: "torch.Tensor", hi: "torch.Tensor", colormap: str,
              zero_centre: bool) -> "torch.Tensor":
    """(n, h, w) values -> (n, h, w) int32 packed RGBA bytes through the colormap:
    index = round(255·(x − lo)/(hi − lo)).

    Few passes over the data (this is the hot loop of the live view): one fused multiply-add, one clamp,
    one conversion, one gather of a packed RGBA lookup table. A tile with an empty range gets colour 0, or
    the middle colour when `zero_centre` (a symmetric range ±0 is all zeros).
    """
    import torch

    span = (hi - lo).to(tiles.dtype)
    ok = span > 0
    scale = torch.where(ok, 255.0 / torch.where(ok, span, torch.ones_like(span)), torch.zeros_like(span))
    empty_bias = 128.0 if zero_centre else 0.5
    bias = torch.where(ok, 0.5 - lo.to(tiles.dtype) * scale, torch.full_like(span, empty_bias))
    q, index, packed = _work_buffers(tiles)
    torch.addcmul(bias[:, None, None], tiles, scale[:, None, None], out=q)
    q.nan_to_num_(nan=0.0, posinf=255.0, neginf=0.0)  # NaN weights give NaN maps: the lowest colour, not an index
    q.clamp_(0.0, 255.0)
    index.copy_(q)  # float -> int32 (truncation of x + 0.5: rounding)
    torch.index_select(_device_lut_rgba(colormap, tiles.device), 0, index.view(-1), out=packed.view(-1))
    return packed


_WORK = threading.local()


def _work_buffers(tiles: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """Scratch tensors for _colorize (see _scratch)."""
    import torch

    shape, device = tuple(tiles.shape), tiles.device
    return (_scratch("q", shape, tiles.dtype, device), _scratch("index", shape, torch.int32, device),
            _scratch("packed", shape, torch.int32, device))


def _scratch(name: str, shape: tuple[int, ...], dtype: "torch.dtype", device: "torch.device") -> "torch.Tensor":
    """A scratch tensor reused per thread while its shape stays the same (the live case).

    Allocating fresh multi-megabyte tensors per frame costs more than the arithmetic on a CPU (each large
    allocation is a fresh mmap that page-faults on first touch); reusing them made resnet50 layer1's mosaic
    several times faster here. Per thread, because the worker and the UI thread may both build mosaics.
    Results written to scratch tensors must be copied out (into the canvas) before the next call.
    """
    import torch

    cache = getattr(_WORK, "buffers", None)
    if cache is None:
        cache = _WORK.buffers = {}
    key = (tuple(shape), dtype, str(device))
    t = cache.get(name)
    if t is None or (tuple(t.shape), t.dtype, str(t.device)) != key:
        t = cache[name] = torch.empty(shape, dtype=dtype, device=device)
    return t


def _packed_background() -> int:
    return int(np.array([*BACKGROUND, 255], dtype=np.uint8).view(np.int32)[0])


def _device_lut_rgba(colormap: str, device: "torch.device") -> "torch.Tensor":
    """The LUT packed as one int32 per entry (RGBA bytes), so the gather moves one word per pixel."""
    import torch

    key = (colormap + ":rgba", str(device))
    table = _DEVICE_LUTS.get(key)
    if table is None:
        rgba = np.empty((256, 4), dtype=np.uint8)
        rgba[:, :3] = lut(colormap)
        rgba[:, 3] = 255
        table = torch.from_numpy(rgba.view(np.int32).reshape(256).copy()).to(device)
        _DEVICE_LUTS[key] = table
    return table


def build_mosaic(activation: "torch.Tensor", options: MosaicOptions | None = None) -> Mosaic:
    """Tile all channels of `activation` ((C, H, W), or anything `as_chw` accepts) into one RGB uint8 mosaic.

    Normalisation ranges (values outside are clipped):
    - "channel": each tile from its own min to max;
    - "layer": every tile from the min to the max of the tiles shown;
    - "fixed": every tile over `options.fixed_range`.
    With a diverging colormap, "channel" and "layer" ranges are made symmetric about 0 (±max |value|), so 0 is
    always the middle colour; "fixed" is used as given.
    """
    import torch

    opts = options or MosaicOptions()
    act = as_chw(activation)
    if act.dtype not in (torch.float32, torch.float64):
        act = act.float()  # half/bfloat16/int outputs: normalise in float32
    device = act.device
    c, h, w = act.shape
    if c == 0 or h == 0 or w == 0:
        raise ValueError(f"cannot show an empty tensor of shape {tuple(act.shape)}")

    flat = act.reshape(c, h * w)
    mins, maxs = flat.amin(dim=1), flat.amax(dim=1)  # two reductions: several times faster than aminmax on CPU
    means = flat.mean(dim=1)
    if opts.order == "index":
        order = torch.arange(c, device=device)
    else:
        key = means if opts.order == "mean" else maxs
        order = torch.argsort(key, descending=True, stable=True)
    if opts.top_k is not None:
        order = order[: opts.top_k]
    n = int(order.numel())
    # no copy when every channel is shown in index order (the common case)
    if opts.order == "index" and n == c:
        tiles = act
    else:  # into a reused buffer: a fresh multi-megabyte tensor per frame costs more than the copy itself
        tiles = _scratch("tiles", (n, h, w), act.dtype, device)
        torch.index_select(act, 0, order, out=tiles)
    tmin, tmax, tmean = mins[order], maxs[order], means[order]
    columns, s = layout_for(opts, n, h, w)
    if s > 1:  # box averages of s×s feature pixels (ranges above come from the full-size values)
        import torch.nn.functional as F

        tiles = F.avg_pool2d(tiles[None], s, ceil_mode=True)[0]
    th, tw = int(tiles.shape[1]), int(tiles.shape[2])

    colormap = opts.colormap
    if colormap == "auto":  # signed outputs (conv, batch norm) get a diverging map; ReLU outputs a sequential one
        colormap = "rdbu" if bool(mins.min() < 0) else "viridis"
        opts = replace(opts, colormap=colormap)
    if opts.norm == "channel" and h * w == 1:
        # a 1×1 map's own range is its one value (every tile one end of the colormap): compare over the layer
        opts = replace(opts, norm="layer")
    lo, hi = _ranges(tmin, tmax, opts, n)
    packed = _colorize(tiles, lo, hi, colormap, opts.norm != "fixed" and is_diverging(colormap))

    p = opts.padding
    rows, cols = grid_shape(n, th, tw, p, columns)
    height, width = p + rows * (th + p), p + cols * (tw + p)
    # the canvas holds one packed RGBA word per pixel: filling and copying words is several times faster on a
    # CPU than 3-byte pixels; the host gets RGB as a view of it (and RGBA, which Qt draws without conversion)
    canvas = torch.full((height, width), _packed_background(), dtype=torch.int32, device=device)
    if rows * cols > n:  # empty tiles at the end keep the background colour
        packed = torch.cat([packed, torch.full((rows * cols - n, th, tw), _packed_background(),
                                               dtype=torch.int32, device=device)], 0)
    # canvas[p:, p:] seen as (rows, th+p, cols, tw+p): each tile's th×tw corner gets its image in one copy
    cells = canvas[p:, p:].unflatten(0, (rows, th + p)).unflatten(1 + 1, (cols, tw + p))
    cells[:, :th, :, :tw] = packed.view(rows, cols, th, tw).permute(0, 2, 1, 3)

    # one transfer of small vectors plus the image: the only data that leaves the device
    stats = torch.stack([tmin, tmax, tmean, lo, hi]).float().cpu().numpy()
    rgba = canvas.cpu().numpy().view(np.uint8).reshape(height, width, 4)
    return Mosaic(
        image=rgba[..., :3],
        rgba=rgba,
        grid=(rows, cols),
        tile_size=(th, tw),
        padding=p,
        channels=order.cpu().numpy().astype(np.int64),
        tile_min=stats[0], tile_max=stats[1], tile_mean=stats[2], lo=stats[3], hi=stats[4],
        num_channels=c,
        options=options or MosaicOptions(),
        colormap=colormap,
        norm=opts.norm,
        map_size=(h, w),
        shrink=s,
    )


def value_at(activation: "torch.Tensor", channel: int, fy: int, fx: int) -> float:
    """The raw activation value at (channel, fy, fx) (one scalar read from the device)."""
    return float(as_chw(activation)[channel, fy, fx])


def channel_image(activation: "torch.Tensor", channel: int, colormap: str = "viridis",
                  value_range: tuple[float, float] | None = None,
                  size: tuple[int, int] | None = None) -> np.ndarray:
    """One channel as an (H, W, 4) opaque uint8 RGBA image, from its own min..max (symmetric about 0 for a
    diverging colormap) or over `value_range`; `size` (h, w) upsamples it bilinearly first, on the device.
    (Laid over a photo, its opacity follows the response: explorer.core.heatmaps.channel_overlay.)"""
    import torch
    import torch.nn.functional as F

    act = as_chw(activation)[channel: channel + 1].float()
    if size is not None and tuple(size) != tuple(act.shape[-2:]):
        act = F.interpolate(act[None], size=tuple(int(v) for v in size), mode="bilinear", align_corners=False)[0]
    if value_range is None:
        opts = MosaicOptions(colormap=colormap)
        lo, hi = _ranges(act.amin(dim=(1, 2)), act.amax(dim=(1, 2)), opts, 1)
        zero_centre = is_diverging(colormap)
    else:
        lo = torch.tensor([float(value_range[0])], device=act.device)
        hi = torch.tensor([float(value_range[1])], device=act.device)
        zero_centre = False
    packed = _colorize(act, lo, hi, colormap, zero_centre)[0].clone()  # out of the scratch buffer
    rgba = packed.view(torch.uint8).view(*packed.shape, 4)
    return rgba.cpu().numpy()
