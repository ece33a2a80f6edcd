"""What the feature maps draw on the source image (source-pixel coordinates): one channel upsampled and
translucent, a heat map (Grad-CAM or an input gradient) and a feature pixel's receptive field.

An overlay of the one mechanism (explorer.ui.overlay_base): its owner is the feature-map panel, so the image
view's OverlayHost shows it only while that dock can be seen (never stacked with the RPN's anchors or the YOLO
grid when their tab is in front) and clears it when the model or the source changes. The items keep what they
show while the overlay is off the view, so it comes back as it was when the dock is in front again.

A channel or heat map covers only the part of the photo the model saw (resnet18's 224×224 centre crop of the
photo resized to 256): while one is shown, that region is outlined (dashed, light grey), tagged at its top-left
corner, above the line, over the photo the model never saw, and named in the legend the dock shows
(overlay_base's legend_rows), so that the overlay's edge is not an unexplained rectangle (new-user trial). So
are a feature pixel's receptive field (yellow; a field larger than the model input, whose box would reach far
past the photo with one stray edge in view, is drawn by its part in the image only, dashed cyan) and a channel
that reaches past the outline (explorer.ui.feature_maps.on_image has the words)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from explorer.core.receptive import Box, InputGeometry
from explorer.ui.feature_maps.on_image import FieldText
from explorer.ui.overlay_base import LegendRow, OverlayBase

INPUT_RGB = (225, 225, 225)  # the model-input outline: light on a photo, apart from the field's yellow and cyan
FIELD_RGB = (255, 255, 0)
PART_RGB = (0, 255, 255)
CHANNEL_RGB = (150, 150, 150)


def _rect(box: Box) -> QRectF:
    x0, y0, x1, y1 = box
    return QRectF(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True)
class InputRegion:
    """The part of the source image the model saw, in source pixels, and its names: `tag` on the image, `text`
    in the legend and the outline's tooltip."""

    box: Box
    tag: str
    text: str


def input_region(input_size: tuple[int, int], geometry: InputGeometry,
                 source_size: tuple[int, int]) -> InputRegion | None:
    """Where the (H, W) model input lies on an (h, w) source image through the preprocessing's `geometry`
    (explorer.core.preprocess: resize, then a centre crop); None when it is the whole image (a detector's raw
    image, YOLO's or FCN's resize), where a map laid over the photo has no edge to explain."""
    ih, iw = (int(v) for v in input_size)
    h, w = (int(v) for v in source_size)
    box = geometry.to_source((0.0, 0.0, float(iw), float(ih)))
    if all(abs(a - b) < 0.5 for a, b in zip(box, (0.0, 0.0, float(w), float(h)))):
        return None
    (sx, sy), (cx, cy) = geometry.scale, geometry.crop
    cropped, padded = cx > 0 or cy > 0, cx < 0 or cy < 0  # crop_start < 0: torchvision's center_crop pads
    tag = f"model input: {iw}×{ih}" + (" centre crop" if cropped else "")
    text = (f"{tag} of the photo resized to {round(w * sx)}×{round(h * sy)}{', padded' if padded else ''}: "
            "the maps and heat maps cover only this region")
    return InputRegion(box, tag, text)


class FeatureOverlay(OverlayBase):
    """Channel, heat map and receptive-field rectangles over the source image."""

    def __init__(self, owner: QWidget | None = None, on_clear: Callable[[], None] | None = None,
                 on_legend: Callable[[], None] | None = None) -> None:
        super().__init__(owner)
        self.on_clear = on_clear  # the panel forgets its feature pixel and heat map with the pictures
        self.on_legend = on_legend  # legend_rows changed (or the overlay came onto the image): the panel shows them
        self.channel_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.field_item = QGraphicsRectItem()
        pen = QPen(QColor(*FIELD_RGB))
        pen.setWidthF(2.0)
        pen.setCosmetic(True)
        self.field_item.setPen(pen)
        self.clip_item = QGraphicsRectItem()  # the part of the field inside the image (the rest is padding)
        dashed = QPen(QColor(*PART_RGB))
        dashed.setCosmetic(True)
        dashed.setStyle(Qt.PenStyle.DashLine)
        self.clip_item.setPen(dashed)
        self.input_item = QGraphicsRectItem()  # the model's input region (see the module's docstring)
        outline = QPen(QColor(*INPUT_RGB))
        outline.setCosmetic(True)
        outline.setStyle(Qt.PenStyle.DashLine)
        self.input_item.setPen(outline)
        self.input_tag = pg.TextItem(color=(0, 0, 0), fill=pg.mkBrush(*INPUT_RGB, 220), anchor=(0, 1))
        self._items = [self.channel_item, self.heat_item, self.input_item, self.input_tag, self.clip_item,
                       self.field_item]
        for z, item in enumerate(self._items):
            item.setZValue(20 + z)
            item.setVisible(False)
        self.field_box: Box | None = None
        self.field_text: FieldText | None = None
        self.channel_rect: QRectF | None = None
        self.channel_text = ""  # where the channel lies when it reaches past the input's outline ('' within it)
        self.input: InputRegion | None = None

    def redraw(self) -> None:
        """Nothing to redo on (re)attaching, the items hold what they show; the legend shows again."""
        if self.on_legend is not None:
            self.on_legend()

    def set_input_region(self, region: InputRegion | None) -> None:
        """The model input's place on the image (each frame: a new source or input size moves it)."""
        if region == self.input:
            return
        self.input = region
        if region is not None:
            self.input_item.setRect(_rect(region.box))
            self.input_item.setToolTip(region.text)
            self.input_tag.setText(region.tag)
            self.input_tag.setPos(region.box[0], region.box[1])
        self._update_input()

    def _update_input(self) -> None:
        """Outline the input region while a channel or heat map lies on it; the legend says what is drawn."""
        shown = self.input is not None and (self.channel_item.isVisible() or self.heat_item.isVisible())
        self.input_item.setVisible(shown)
        self.input_tag.setVisible(shown)
        rows: list[LegendRow] = [(INPUT_RGB, Qt.PenStyle.DashLine, self.input.text)] if shown and self.input else []
        if self.channel_item.isVisible() and self.channel_text:
            rows.append((CHANNEL_RGB, "square", self.channel_text))
        text = self.field_text
        if text is not None and self.field_item.isVisible():
            rows.append((FIELD_RGB, Qt.PenStyle.SolidLine, text.box_text))
        if text is not None and self.clip_item.isVisible():
            rows.append((PART_RGB, Qt.PenStyle.DashLine, text.part_text))
        if rows != self.legend_rows:
            self.legend_rows = rows
            if self.on_legend is not None:
                self.on_legend()

    @property
    def input_shown(self) -> bool:
        return self.input_item.isVisible()

    # drawing -----------------------------------------------------------------------------------------------
    def show_channel(self, rgba: np.ndarray, box: Box, opacity: float, text: str = "") -> None:
        """`text`: where the channel lies, for the legend, when it reaches past the input's outline."""
        self.channel_item.setImage(rgba, autoLevels=False, levels=None)  # uint8 RGBA as is: no rescaling pass
        self.channel_rect = _rect(box)
        self.channel_text = text
        self.channel_item.setRect(self.channel_rect)
        self.channel_item.setOpacity(opacity)
        self.channel_item.setVisible(True)
        self._update_input()

    def show_heat(self, rgba: np.ndarray, box: Box, opacity: float) -> None:
        self.heat_item.setImage(rgba, autoLevels=False, levels=None)
        self.heat_item.setRect(_rect(box))
        self.heat_item.setOpacity(opacity)
        self.heat_item.setVisible(True)
        self._update_input()

    def show_field(self, box: Box, clipped: Box, text: FieldText | None = None) -> None:
        """The field (yellow) and, when part of it lies outside the image, the part inside (dashed cyan). A field
        larger than the model input (`text.fits` False) is drawn by its part inside only, a little bolder: its
        box would reach far past the photo, one edge of it a stray line in view."""
        fits = text is None or text.fits
        self.field_box = box
        self.field_text = text
        self.field_item.setRect(_rect(box))
        self.field_item.setVisible(fits)
        self.clip_item.setRect(_rect(clipped))
        pen = self.clip_item.pen()
        pen.setWidthF(1.0 if fits else 2.0)
        self.clip_item.setPen(pen)
        self.clip_item.setVisible(clipped != box or not fits)
        self._update_input()

    def set_opacity(self, opacity: float) -> None:
        self.channel_item.setOpacity(opacity)
        self.heat_item.setOpacity(opacity)

    def hide_channel(self) -> None:
        self.channel_item.setVisible(False)
        self.channel_rect = None
        self._update_input()

    def hide_heat(self) -> None:
        self.heat_item.setVisible(False)
        self._update_input()

    def hide_field(self) -> None:
        self.field_item.setVisible(False)
        self.clip_item.setVisible(False)
        self.field_box = None
        self.field_text = None
        self._update_input()

    @property
    def heat_shown(self) -> bool:
        return self.heat_item.isVisible()

    def clear(self) -> None:
        """Forget everything drawn (a new model or source: the OverlayHost calls this, and so does Clear)."""
        super().clear()
        self.field_box = None
        self.field_text = None
        self.channel_rect = None
        self._update_input()  # (the region stays known: it is the model's, not a picture)
        if self.on_clear is not None:
            self.on_clear()
