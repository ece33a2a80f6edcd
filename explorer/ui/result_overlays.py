"""What the inference dock draws over the frame from the model's own result: detector boxes with their tags,
and the segmentation mask. Both are overlays of the image view's own (owner None: always shown while a
result is), registered in the state like every other view's (explorer.ui.overlay_base.OverlayHost)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from explorer.core.labels import voc_palette
from explorer.ui.overlay_base import ZoomWatch, place_tags


def box_colour(class_index: int) -> QColor:
    hue = (class_index * 0.618033988749895) % 1.0  # golden-ratio hues: neighbours differ
    return QColor.fromHsvF(hue, 0.85, 1.0)


class DetectionOverlay:
    """Boxes with 'label score' tags, filtered by a score threshold; graphics items are pooled and reused."""

    owner = None  # the image view's own: always shown

    def __init__(self) -> None:
        self.view_box: Any = None
        self.threshold = 0.5
        self.result: Any = None
        self._paths: dict[int, QGraphicsPathItem] = {}   # one path item per class colour
        self._texts: list[pg.TextItem] = []
        self.shown: list[Any] = []                      # the Detections drawn now
        self._zoom = ZoomWatch(self._place_labels)  # tags keep their screen size: lay them out again on a zoom

    def attach(self, view_box: Any) -> None:
        if self.view_box is view_box:
            return
        self.detach()
        self.view_box = view_box
        self._zoom.watch(view_box)
        if self.result is not None:
            self.set_result(self.result)

    def detach(self) -> None:
        self._clear()
        if self.view_box is not None:
            for t in self._texts:
                self.view_box.removeItem(t)
        self._texts = []
        self._zoom.unwatch()
        self.view_box = None

    def clear(self) -> None:
        """A new model or source: its boxes go until its own result comes."""
        self.result = None
        self.shown = []
        self._clear()

    def _clear(self) -> None:
        if self.view_box is None:
            return
        for item in self._paths.values():
            self.view_box.removeItem(item)
        self._paths.clear()
        for t in self._texts:
            t.setVisible(False)

    def set_threshold(self, value: float) -> None:
        self.threshold = float(value)
        if self.result is not None:
            self.set_result(self.result)

    def set_result(self, result: Any) -> None:
        self.result = result
        if self.view_box is None:
            return
        boxes = [d for d in (result.boxes or []) if d.score >= self.threshold] if result is not None else []
        self.shown = boxes
        by_class: dict[int, QPainterPath] = {}
        for d in boxes:
            x1, y1, x2, y2 = d.box
            by_class.setdefault(d.class_index, QPainterPath()).addRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        for cls in list(self._paths):
            if cls not in by_class:
                self.view_box.removeItem(self._paths.pop(cls))
        for cls, path in by_class.items():
            item = self._paths.get(cls)
            if item is None:
                item = QGraphicsPathItem()
                pen = QPen(box_colour(cls), 2)
                pen.setCosmetic(True)  # 2 screen pixels whatever the zoom
                item.setPen(pen)
                item.setZValue(10)
                self.view_box.addItem(item)
                self._paths[cls] = item
            item.setPath(path)
        while len(self._texts) < len(boxes):
            t = pg.TextItem(anchor=(0, 0), color=(0, 0, 0))   # pos = the tag's top-left, as place_labels gives it
            t.setZValue(11)
            self.view_box.addItem(t)
            self._texts.append(t)
        for t, d in zip(self._texts, boxes):
            t.setText(f"{d.label} {d.score:.2f}")
            t.fill = pg.mkBrush(box_colour(d.class_index))
        for t in self._texts[len(boxes):]:
            t.setVisible(False)
        self._place_labels()

    def _place_labels(self) -> None:
        """Tags that never hide each other: best score at its box's top-left, the others at the next free place
        (explorer.core.label_layout); a tag with no free place near its box is hidden (the table lists it)."""
        boxes = self.shown
        if self.view_box is None or not boxes:
            return
        self._zoom.laid_out()
        image = self.result.frame.image if self.result is not None else None
        if image is not None:
            image_size = (float(image.shape[1]), float(image.shape[0]))
        else:
            image_size = (max(d.box[2] for d in boxes), max(d.box[3] for d in boxes))
        place_tags(self.view_box, self._texts[:len(boxes)], [d.box for d in boxes], [d.score for d in boxes],
                   image_size)


class SegmentationOverlay:
    """The class mask as a semi-transparent colour image (VOC palette; background transparent)."""

    owner = None

    def __init__(self, opacity: float = 0.55) -> None:
        self.view_box: Any = None
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(5)
        lut = np.zeros((256, 4), np.uint8)
        lut[:, :3] = voc_palette()
        lut[1:, 3] = int(255 * opacity)
        self.lut = lut

    def attach(self, view_box: Any) -> None:
        if self.view_box is view_box:
            return
        self.detach()
        self.view_box = view_box
        view_box.addItem(self.item)

    def clear(self) -> None:
        self.item.setVisible(False)

    def detach(self) -> None:
        if self.view_box is not None:
            self.view_box.removeItem(self.item)
        self.view_box = None

    def set_result(self, result: Any) -> None:
        seg = result.segmentation if result is not None else None
        if seg is None:
            self.item.setVisible(False)
            return
        rgba = self.lut[np.clip(seg.mask, 0, 255).astype(np.uint8)]
        self.item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.item.setVisible(True)
