"""The source frame on the image view, painted as a blit.

pyqtgraph's ImageItem turns every new image into a QImage through its levels and lookup-table pipeline
(functions.makeARGB / makeQImage), which an 8-bit RGB frame does not need. Here a QImage is made over the
frame's own memory (no copy, no conversion: QImage.Format_RGB888 is the frame's layout) and drawn with one
drawImage in paint; Qt repaints it at most once per screen refresh however often frames arrive. The numpy
array is kept referenced as long as the QImage uses it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsObject


class FrameItem(QGraphicsObject):
    """An RGB uint8 (H, W, 3) frame at source-pixel coordinates (0, 0)–(W, H)."""

    def __init__(self) -> None:
        super().__init__()
        self.image: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._rect = QRectF()

    def set_image(self, image: np.ndarray) -> None:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.flags.c_contiguous:
            image = np.ascontiguousarray(image[..., :3], dtype=np.uint8) if image.ndim == 3 else \
                np.ascontiguousarray(np.repeat(image[..., None], 3, axis=2), dtype=np.uint8)
        h, w = image.shape[:2]
        self.image = image
        self._qimage = QImage(image.data, w, h, int(image.strides[0]), QImage.Format.Format_RGB888)
        rect = QRectF(0, 0, w, h)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def clear(self) -> None:
        self.prepareGeometryChange()
        self.image, self._qimage, self._rect = None, None, QRectF()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect

    def paint(self, painter: QPainter, option, widget=None) -> None:  # noqa: ARG002
        if self._qimage is not None:
            # smooth when drawn smaller than the frame (a shrunk view), nearest when enlarged (pixels stay crisp)
            scale = painter.worldTransform().m11()
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 1.0)
            painter.drawImage(self._rect, self._qimage)
