"""What the feature maps draw on the source image (source-pixel coordinates): one channel upsampled and
translucent, a heat map (Grad-CAM or an input gradient) and a feature pixel's receptive field.

An overlay of the one mechanism (explorer.ui.overlay_base): its owner is the feature-map panel, so the image
view's OverlayHost shows it only while that dock can be seen (never stacked with the RPN's anchors or the YOLO
grid when their tab is in front) and clears it when the model or the source changes. The items keep what they
show while the overlay is off the view, so it comes back as it was when the dock is in front again."""

from __future__ import annotations

from collections.abc import Callable
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from explorer.core.receptive import Box
from explorer.ui.overlay_base import OverlayBase


def _rect(box: Box) -> QRectF:
    x0, y0, x1, y1 = box
    return QRectF(x0, y0, x1 - x0, y1 - y0)


class FeatureOverlay(OverlayBase):
    """Channel, heat map and receptive-field rectangles over the source image."""

    def __init__(self, owner: QWidget | None = None, on_clear: Callable[[], None] | None = None) -> None:
        super().__init__(owner)
        self.on_clear = on_clear  # the panel forgets its feature pixel and heat map with the pictures
        self.channel_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.field_item = QGraphicsRectItem()
        pen = QPen(QColor(255, 255, 0))
        pen.setWidthF(2.0)
        pen.setCosmetic(True)
        self.field_item.setPen(pen)
        self.clip_item = QGraphicsRectItem()  # the part of the field inside the image (the rest is padding)
        dashed = QPen(QColor(0, 255, 255))
        dashed.setCosmetic(True)
        dashed.setStyle(Qt.PenStyle.DashLine)
        self.clip_item.setPen(dashed)
        self._items = [self.channel_item, self.heat_item, self.clip_item, self.field_item]
        for z, item in enumerate(self._items):
            item.setZValue(20 + z)
            item.setVisible(False)
        self.field_box: Box | None = None
        self.channel_rect: QRectF | None = None

    def redraw(self) -> None:
        """Nothing to redo on (re)attaching: the items hold what they show."""

    # drawing -----------------------------------------------------------------------------------------------
    def show_channel(self, rgba: np.ndarray, box: Box, opacity: float) -> None:
        self.channel_item.setImage(rgba, autoLevels=False, levels=None)  # uint8 RGBA as is: no rescaling pass
        self.channel_rect = _rect(box)
        self.channel_item.setRect(self.channel_rect)
        self.channel_item.setOpacity(opacity)
        self.channel_item.setVisible(True)

    def show_heat(self, rgba: np.ndarray, box: Box, opacity: float) -> None:
        self.heat_item.setImage(rgba, autoLevels=False, levels=None)
        self.heat_item.setRect(_rect(box))
        self.heat_item.setOpacity(opacity)
        self.heat_item.setVisible(True)

    def show_field(self, box: Box, clipped: Box) -> None:
        """The field (yellow) and, when part of it lies outside the image, the part inside (dashed cyan)."""
        self.field_box = box
        self.field_item.setRect(_rect(box))
        self.field_item.setVisible(True)
        self.clip_item.setRect(_rect(clipped))
        self.clip_item.setVisible(clipped != box)

    def set_opacity(self, opacity: float) -> None:
        self.channel_item.setOpacity(opacity)
        self.heat_item.setOpacity(opacity)

    def hide_channel(self) -> None:
        self.channel_item.setVisible(False)
        self.channel_rect = None

    def hide_heat(self) -> None:
        self.heat_item.setVisible(False)

    def hide_field(self) -> None:
        self.field_item.setVisible(False)
        self.clip_item.setVisible(False)
        self.field_box = None

    @property
    def heat_shown(self) -> bool:
        return self.heat_item.isVisible()

    def clear(self) -> None:
        """Forget everything drawn (a new model or source: the OverlayHost calls this, and so does Clear)."""
        super().clear()
        self.field_box = None
        self.channel_rect = None
        if self.on_clear is not None:
            self.on_clear()
