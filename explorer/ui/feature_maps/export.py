"""The dock's exports: the mosaic as a PNG figure, the raw activations as .npy.

The PNG is a figure a student can put in a report (new-user trial: resnet18's layer4 came out 281×121 px, with
no words): a title line (model, layer, shape, colormap, normalisation), every tile upscaled with nearest
neighbour to at least MIN_TILE_PX (explorer.core.tile_sheet), and a colour scale under it. Qt draws only
the words (QPainter on a QImage, the app's font); the tiles and the scale bar are copied in as exact pixels.
The .npy keeps the raw numbers. Each function writes one file and returns its path, or raises ExplorerError with
the sentence the status bar shows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from explorer.core.errors import ExplorerError
from explorer.core.mosaic import Mosaic, build_mosaic, is_diverging, lut
from explorer.core.tile_sheet import TileSheet, tile_sheet

if TYPE_CHECKING:
    import torch

MIN_TILE_PX = 48        # a tile's shorter side in the figure (7×7 maps: ×7)
MARGIN = 20             # white around everything
TITLE_H = 56            # the two title lines and the space under them
TITLE_PX, SUBTITLE_PX = 18, 13   # their font sizes, in pixels (the figure's size does not depend on the screen)
SCALE_H = 64            # the colour scale's band under the tiles: 12 space, the bar, 6 space, its labels
BAR_H, BAR_W = 16, 360  # the colour bar (narrower in a narrow figure)
MIN_INNER_W = 640       # a mosaic of few tiles still gets room for its title
TEXT = QColor(20, 20, 20)


@dataclass(frozen=True)
class FigureLayout:
    """Where the parts of the figure lie (pixels): for the painter and for tests."""

    width: int
    height: int
    sheet_origin: tuple[int, int]    # (x, y) of the tile sheet
    bar: tuple[int, int, int, int]   # (x, y, w, h) of the colour bar


def figure_layout(sheet: TileSheet) -> FigureLayout:
    """The figure around `sheet`: the title above, the scale below, MARGIN around, at least MIN_INNER_W wide."""
    sh, sw = sheet.image.shape[:2]
    inner = max(sw, MIN_INNER_W)
    width, height = 2 * MARGIN + inner, MARGIN + TITLE_H + sh + SCALE_H + MARGIN
    top, left = MARGIN + TITLE_H, MARGIN + (inner - sw) // 2  # the tiles centred; the bar under their left edge
    return FigureLayout(width, height, (left, top), (left, top + sh + 12, min(BAR_W, width - MARGIN - left), BAR_H))


def title_lines(mosaic: Mosaic, model: str, layer: str) -> tuple[str, str]:
    """("resnet18 · layer4 · 512×7×7", "viridis · normalised per channel (…) · each feature value 7×7 px")."""
    h, w = mosaic.map_size or mosaic.tile_size
    shape = f"{mosaic.num_channels}×{h}×{w}"
    if mosaic.num_tiles < mosaic.num_channels:
        shape += f" (top {mosaic.num_tiles} by {mosaic.options.order})" if mosaic.options.order != "index" \
            else f" (first {mosaic.num_tiles})"
    norm = {"channel": "normalised per channel (each tile from its own min to its own max)",
            "layer": "normalised over the layer (one range for every tile)",
            "fixed": "fixed range (the same for every tile)"}[mosaic.norm]
    head = " · ".join(part for part in (model, layer or "layer", shape) if part)
    return head, f"colormap {mosaic.colormap} · {norm}"


def scale_labels(mosaic: Mosaic) -> list[tuple[float, str]]:
    """The colour bar's labels at fractions of its width: numbers for one range, words for per-channel ones."""
    diverging = is_diverging(mosaic.colormap)
    if mosaic.norm == "channel":
        return [(0.0, "−max |value|"), (0.5, "0"), (1.0, "+max |value| of each channel")] if diverging \
            else [(0.0, "min"), (1.0, "max of each channel")]
    lo, hi = float(mosaic.lo[0]), float(mosaic.hi[0])
    labels = [(0.0, f"{lo:.3g}".replace("-", "−")), (1.0, f"{hi:.3g}".replace("-", "−"))]
    if diverging and lo < 0 < hi:
        labels.insert(1, (-lo / (hi - lo), "0"))
    return labels


def render_figure(mosaic: Mosaic, model: str = "", layer: str = "") -> np.ndarray:
    """The figure as an (H, W, 3) uint8 RGB array (see the module's docstring)."""
    sheet = tile_sheet(mosaic, MIN_TILE_PX)
    fig = figure_layout(sheet)
    image = QImage(fig.width, fig.height, QImage.Format.Format_RGB888)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        painter.setPen(TEXT)
        head, sub = title_lines(mosaic, model, layer)
        sub += f" · each feature value {sheet.scale}×{sheet.scale} px" if sheet.scale > 1 else ""
        inner = fig.width - 2 * MARGIN
        for text, px, bold, y in ((head, TITLE_PX, True, MARGIN), (sub, SUBTITLE_PX, False, MARGIN + TITLE_PX + 8)):
            font = QFont(painter.font())
            font.setPixelSize(px)
            font.setBold(bold)
            painter.setFont(font)
            text = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, inner)
            painter.drawText(QRect(MARGIN, y, inner, px + 6), Qt.AlignmentFlag.AlignLeft, text)
        bx, by, bw, bh = fig.bar
        font = QFont(painter.font())
        font.setPixelSize(SUBTITLE_PX)
        font.setBold(False)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for at, text in scale_labels(mosaic):  # centred under their place, kept inside the figure
            tw = metrics.horizontalAdvance(text)
            x = min(max(MARGIN, round(bx + at * (bw - 1) - tw / 2)), fig.width - MARGIN - tw)
            painter.drawText(QRect(x, by + bh + 6, tw + 2, SUBTITLE_PX + 6), Qt.AlignmentFlag.AlignLeft, text)
    finally:
        painter.end()
    out = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(fig.height, image.bytesPerLine())
    out = out[:, :fig.width * 3].reshape(fig.height, fig.width, 3).copy()
    x, y = fig.sheet_origin
    out[y:y + sheet.image.shape[0], x:x + sheet.image.shape[1]] = sheet.image
    table = lut(mosaic.colormap)
    bx, by, bw, bh = fig.bar
    out[by:by + bh, bx:bx + bw] = table[np.round(np.linspace(0, 255, bw)).astype(int)][None]
    return out


def default_name(layer: str, suffix: str) -> str:
    """A file name for `layer`'s export ("layer1.0.relu#1" → "layer1.0.relu_1.png")."""
    return (layer or "layer").replace("#", "_").replace("/", "_") + suffix


def export_png(path: str | Path, mosaic: Mosaic, activation: torch.Tensor | None = None, model: str = "",
               layer: str = "") -> str:
    """Write `mosaic` as a PNG figure (render_figure). A mosaic shrunk for its view is built again at full size
    from `activation` (the file gets every feature pixel). A name without a suffix gets ".png"; a suffix OpenCV
    cannot encode is refused."""
    import cv2

    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    if mosaic.shrink > 1 and activation is not None:
        mosaic = build_mosaic(activation, replace(mosaic.options, shrink=1))
    figure = render_figure(mosaic, model, layer)
    try:
        written = cv2.imwrite(str(path), cv2.cvtColor(figure, cv2.COLOR_RGB2BGR))
    except cv2.error:  # no encoder for the suffix
        raise ExplorerError(f"Cannot write '{path}': not an image type OpenCV can write; use .png.") from None
    if not written:
        why = "no such folder" if not path.parent.is_dir() else "the folder is not writable or the disk is full"
        raise ExplorerError(f"Cannot write '{path}': {why}.")
    return str(path)


def export_npy(path: str | Path, activation: torch.Tensor) -> str:
    """Write the raw activations (C, H, W) as float32 .npy (numpy adds the suffix when it is missing)."""
    path = str(path) if str(path).endswith(".npy") else f"{path}.npy"
    try:
        np.save(path, activation.detach().float().cpu().numpy())
    except OSError as exc:
        raise ExplorerError(f"Cannot write '{path}': {exc.strerror or exc}.") from None
    return path
