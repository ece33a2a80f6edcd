"""The patch grid: each crop of a channel's top K with its rank, value and source, wrapped to the pane's width.

A crop is the unit's receptive field at the stored position, cut from its file (Zeiler and Fergus, ECCV 2014,
Fig. 2, show them the same way); it is scaled to a fixed tile so that small fields (a few pixels) and large ones
(a whole image) can be compared, and its exact size is in the tooltip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from explorer.ui.elided_label import ElidedLabel
from explorer.ui.feature_maps.patch_lookup import Crop

MIN_TILE_PX, MAX_TILE_PX = 64, 128  # a crop's side on screen: two or more a row, as the pane's width allows
TILE_PX = 104                       # until the pane has a width
SPACING = 4
_FRAME = "QFrame#patchTile {{ border: 2px solid {}; border-radius: 3px; background: #262626; }}"


def _pixmap(pixels: np.ndarray, side: int) -> QPixmap:
    """An RGB uint8 crop scaled (aspect kept) to fit `side`: smooth when shrunk, crisp pixels when enlarged
    more than twice (a tiny field is a few pixels: blurring them would invent detail)."""
    rgb = np.ascontiguousarray(pixels[..., :3])
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # copy: the array is not kept
    scale = side / max(h, w)
    mode = (Qt.TransformationMode.FastTransformation if scale > 2
            else Qt.TransformationMode.SmoothTransformation)
    return QPixmap.fromImage(image).scaled(max(1, round(w * scale)), max(1, round(h * scale)),
                                           Qt.AspectRatioMode.KeepAspectRatio, mode)


def source_name(crop: Crop) -> str:
    """'scene_03.png', or 'clip.mp4 · frame 120' for a video frame."""
    from explorer.core.patch_index.files import is_video_path

    p = crop.patch
    name = Path(p.image).name
    return f"{name} · frame {p.frame}" if is_video_path(p.image) else name


class PatchTile(QFrame):
    """One crop: the picture, '#rank  value' and the source under it; a click opens its image."""

    clicked = Signal(object)  # the Crop

    def __init__(self, crop: Crop, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.crop = crop
        p = crop.patch
        self.setObjectName("patchTile")
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if crop.pixels is None or not crop.pixels.size:
            self.picture.setText("file moved\nor changed")
            self.picture.setStyleSheet("color: #d08770;")
        self.side = 0
        self.set_side(TILE_PX)
        self.value_label = QLabel(f"#{p.rank + 1}  {p.score:.4g}")
        self.value_label.setStyleSheet("color: #f0f0f0; font-weight: bold;")
        self.name_label = ElidedLabel(source_name(crop), min_chars=4)
        self.name_label.setStyleSheet("color: #c8c8c8;")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(1)
        lay.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.value_label)
        lay.addWidget(self.name_label)
        x0, y0, x1, y1 = p.box
        tip = [f"#{p.rank + 1} of channel's top patches: value {p.score:.6g}", p.image,
               (f"feature pixel (y {p.y}, x {p.x}); receptive field x {x0:.0f}..{x1:.0f}, y {y0:.0f}..{y1:.0f} "
                f"of {p.source_size[0]}×{p.source_size[1]}")]
        if crop.problem:
            tip.append(crop.problem)
        else:
            tip.append("Click to open this image with the receptive field marked.")
        self.setToolTip("\n".join(tip))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.set_selected(False)

    def set_side(self, side: int) -> None:
        """The crop's side on screen."""
        if side == self.side:
            return
        self.side = side
        self.setFixedWidth(side + 8)
        self.picture.setFixedSize(side, side)
        if self.crop.pixels is not None and self.crop.pixels.size:
            self.picture.setPixmap(_pixmap(self.crop.pixels, side))

    def set_selected(self, selected: bool) -> None:
        """The tile whose image is open, framed in the field's colour (yellow, as drawn on the image)."""
        self.selected = selected
        self.setStyleSheet(_FRAME.format("#ffff00" if selected else "#262626"))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit(self.crop)
        super().mouseReleaseEvent(event)


class PatchGrid(QWidget):
    """The tiles, as many columns as the width holds (laid out again on a resize)."""

    clicked = Signal(object)  # the Crop

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tiles: list[PatchTile] = []
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(SPACING)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._layout = (0, 0)  # (columns, side) laid out

    def set_crops(self, crops: tuple[Crop, ...] | list[Crop]) -> None:
        for tile in self.tiles:
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles = [PatchTile(c, self) for c in crops]
        for tile in self.tiles:
            tile.clicked.connect(self._on_click)
        self._layout = (0, 0)
        self._place()

    def select(self, crop: Crop | None) -> None:
        for tile in self.tiles:
            tile.set_selected(crop is not None and tile.crop.patch == crop.patch)

    def _on_click(self, crop: Crop) -> None:
        self.clicked.emit(crop)

    def _place(self) -> None:
        room = self.width() + SPACING
        wanted = 2 if room < 330 else max(3, room // 150)  # two large crops (names readable) before three small
        side = int(min(MAX_TILE_PX, max(MIN_TILE_PX, room // wanted - SPACING - 8)))
        columns = max(1, room // (side + 8 + SPACING))
        if (columns, side) == self._layout:
            return
        self._layout = (columns, side)
        for i, tile in enumerate(self.tiles):
            tile.set_side(side)
            self.grid.addWidget(tile, i // columns, i % columns)
        # the minimum set here, not by the grid: a narrower pane then gets fewer columns, not a sideways scroll
        rows = -(-len(self.tiles) // columns)
        height = max((t.sizeHint().height() for t in self.tiles), default=0)
        self.setMinimumSize(MIN_TILE_PX + 8, rows * (height + SPACING))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place()
