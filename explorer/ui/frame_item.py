"""The source frame on the image view, painted as a blit.

pyqtgraph's ImageItem turns every new image into a QImage through its levels and lookup-table pipeline
(functions.makeARGB / makeQImage), which an 8-bit RGB frame does not need. Here the frame is converted once,
by OpenCV, into the layout of the window's backing store (Format_RGB32), and Qt repaints it at most once per
screen refresh however often frames arrive.

Painting holds Python's GIL (PySide does not release it around QPainter calls, and the paint starts from
pyqtgraph's Python paintEvent), and the pipeline thread needs the GIL between every two ops of the forward
pass: so the paint itself must be a plain copy. Qt's smooth scaling in drawImage cost 0.65 ms for a 640×480
frame at 0.9×, and drawing RGB888 converts every pixel (0.07 ms for 530×398 here, against 0.02 for RGB32; on 2
cores busy with the model, a paint holding the GIL is also preempted, which stretches it tenfold). So a shrunk
frame is scaled with OpenCV (which releases the GIL: 0.27 ms bilinear, area averaging below half size, where
bilinear would alias) and converted, once per frame and view size, then drawn 1:1 in device pixels. An
enlarged frame is drawn with nearest-neighbour scaling: its pixels stay crisp squares, as a user zooming in to
inspect them expects.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsObject


class FrameItem(QGraphicsObject):
    """An RGB uint8 (H, W, 3) frame at source-pixel coordinates (0, 0)–(W, H)."""

    def __init__(self) -> None:
        super().__init__()
        self.image: np.ndarray | None = None
        self._rect = QRectF()
        self._scaled: tuple[tuple[int, int], np.ndarray, QImage] | None = None  # (size, pixels, image) of this frame
        self._whole: tuple[np.ndarray, QImage] | None = None  # the frame at its own size, to draw enlarged
        # While a stream plays, a shrunk frame is scaled nearest-neighbour (0.08 ms against 0.27 bilinear, on the
        # core the model's threads need); a still or a paused frame, which a user looks at, is scaled smoothly.
        self.fast = False

    def set_image(self, image: np.ndarray) -> None:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.flags.c_contiguous:
            image = np.ascontiguousarray(image[..., :3], dtype=np.uint8) if image.ndim == 3 else \
                np.ascontiguousarray(np.repeat(image[..., None], 3, axis=2), dtype=np.uint8)
        h, w = image.shape[:2]
        self.image = image
        self._scaled = self._whole = None
        rect = QRectF(0, 0, w, h)
        if rect != self._rect:
            self.prepareGeometryChange()
            self._rect = rect
        self.update()

    def set_fast(self, fast: bool) -> None:
        if fast != self.fast:
            self.fast = fast
            self._scaled = None
            self.update()

    def clear(self) -> None:
        self.prepareGeometryChange()
        self.image, self._rect, self._scaled, self._whole = None, QRectF(), None, None
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect

    def scaled_image(self, width: int, height: int) -> QImage:
        """The frame at width×height device pixels, made once per frame and size (OpenCV, GIL released)."""
        if self._scaled is None or self._scaled[0] != (width, height):
            h, w = self.image.shape[:2]
            if self.fast:  # 4 bytes a pixel resize faster than 3: convert first (0.02 + 0.06 ms, against 0.15)
                pixels = cv2.resize(_blit_layout(self.image), (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
            else:
                area = width * 2 <= w or height * 2 <= h
                interpolation = cv2.INTER_AREA if area else cv2.INTER_LINEAR
                pixels = _blit_layout(cv2.resize(self.image, (width, height), interpolation=interpolation))
            image = QImage(pixels.data, width, height, int(pixels.strides[0]), QImage.Format.Format_RGB32)
            self._scaled = ((width, height), pixels, image)
        return self._scaled[2]

    def whole_image(self) -> QImage:
        """The frame at its own size in the blit layout, made once per frame (for a view that enlarges it)."""
        if self._whole is None:
            h, w = self.image.shape[:2]
            pixels = _blit_layout(self.image)
            self._whole = (pixels, QImage(pixels.data, w, h, int(pixels.strides[0]), QImage.Format.Format_RGB32))
        return self._whole[1]

    def paint(self, painter: QPainter, option, widget=None) -> None:  # noqa: ARG002
        if self.image is None:
            return
        # The world transform maps the item to the widget's logical pixels; the device adds the widget's place
        # in its window (a child widget paints into the window's backing store) and the screen's pixel ratio,
        # which resetTransform() keeps: so the target is taken in world coordinates, its size in device pixels.
        world = painter.worldTransform()
        target = world.mapRect(self._rect)
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        if world.isScaling() and not world.isRotating() and target.width() * ratio < self._rect.width():
            width, height = max(1, round(target.width() * ratio)), max(1, round(target.height() * ratio))
            image = self.scaled_image(width, height)
            image.setDevicePixelRatio(ratio)
            painter.save()
            painter.resetTransform()  # the widget's logical pixels: the image lands 1:1 on device pixels
            painter.drawImage(QPointF(target.left(), target.top()), image)
            painter.restore()
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(self._rect, self.whole_image())


def _blit_layout(rgb: np.ndarray) -> np.ndarray:
    """RGB → the byte order of QImage.Format_RGB32 (B, G, R, 255 on little-endian machines), which the raster
    engine draws as a plain copy onto a window's 32-bit backing store: 0.02 ms for 530×398 here, against 0.07 for
    RGB888, which it converts pixel by pixel while the paint holds Python's GIL. OpenCV converts without it."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA)
