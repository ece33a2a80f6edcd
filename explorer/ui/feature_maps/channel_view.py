"""One channel large: crisp feature pixels to click, the clicked one ringed, and a hint until a channel opens.

It speaks in feature pixels: `hovered(fy, fx)` and `clicked(fy, fx)` come only for pixels of the map shown.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QStackedWidget, QWidget

from explorer.ui.feature_maps.image_view import ImageView

LARGE_HINT = "Click a channel to open it large; click a pixel to see its receptive field."
RING_PX = 14  # the ring's side in screen pixels: one pixel of a 112×112 map is 2 screen pixels


class ChannelView(QStackedWidget):
    """The hint, or the channel in an ImageView with the chosen feature pixel marked (a 1-pixel square in map
    coordinates, and a ring of fixed screen size that finds it at any zoom)."""

    hovered = Signal(int, int)   # fy, fx
    clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ImageView(smooth=False)  # one channel: crisp pixels, to click one
        self.pixel_marker = QGraphicsRectItem(0, 0, 1, 1)
        pen = QPen(QColor(255, 255, 0))
        pen.setWidthF(2.0)
        pen.setCosmetic(True)
        self.pixel_marker.setPen(pen)
        self.pixel_ring = pg.ScatterPlotItem(size=RING_PX, symbol="s", pen=pg.mkPen(255, 255, 0, width=2),
                                             brush=None)
        for item in (self.pixel_marker, self.pixel_ring):
            item.setZValue(10)
            item.setVisible(False)
            self.view.view_box.addItem(item)
        # until a channel is opened the pane says what it is for (an empty black area says nothing)
        self.hint = QLabel(LARGE_HINT)
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setStyleSheet("background: rgb(30, 30, 30); color: #b0b0b0; padding: 12px;")
        self.addWidget(self.hint)
        self.addWidget(self.view)
        self._map_size: tuple[int, int] | None = None
        self.view.hovered.connect(lambda x, y: self._emit(self.hovered, x, y))
        self.view.clicked.connect(lambda x, y: self._emit(self.clicked, x, y))

    def set_image(self, image: np.ndarray | None) -> None:
        """Show one channel's RGBA image, or the hint when there is none."""
        self.view.set_image(image)
        self._map_size = tuple(image.shape[:2]) if image is not None else None
        self.setCurrentWidget(self.view if image is not None else self.hint)
        if image is None:
            self.show_pixel(None)

    def show_pixel(self, pixel: tuple[int, int] | None) -> None:
        """Mark feature pixel (fy, fx); None hides the marks."""
        if pixel is not None:
            fy, fx = pixel
            self.pixel_marker.setRect(fx, fy, 1, 1)
            self.pixel_ring.setData([fx + 0.5], [fy + 0.5])
        self.pixel_marker.setVisible(pixel is not None)
        self.pixel_ring.setVisible(pixel is not None)

    def _emit(self, signal: Signal, x: float, y: float) -> None:
        if self._map_size is None:
            return
        fx, fy = int(math.floor(x)), int(math.floor(y))
        h, w = self._map_size
        if 0 <= fx < w and 0 <= fy < h:
            signal.emit(fy, fx)
