"""Shared pieces of the notes' views: a background runner, image helpers and a region-drawing view box.

Views stay thin: they call explorer.core.notes in a worker thread (BackgroundRunner) and draw the result.
torch is never imported here at module level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QWidget

from explorer.core.errors import ExplorerError
from explorer.core.threads import use_one_thread

SAMPLE_IMAGE = Path(__file__).resolve().parents[3] / "resources" / "images" / "chelsea.jpg"
RANDOM_NOTE = "random weights: the scores are meaningless, the shapes and counts are not"

# colours that read on photos and on the viridis feature maps
REGION_COLOUR = QColor(255, 64, 64)
LEVEL_COLOURS = {4: QColor(255, 210, 0), 2: QColor(0, 220, 255), 1: QColor(255, 80, 200)}
GRID_COLOUR = QColor(255, 210, 0)


class _Signals(QObject):
    done = Signal(int, object)
    failed = Signal(int, str)


class _Job(QRunnable):
    def __init__(self, ticket: int, fn: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self.ticket, self.fn, self.signals = ticket, fn, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        import torch  # noqa: F401 - before use_one_thread(), which does nothing until torch is imported

        use_one_thread()  # pool threads never get an OpenMP team of their own (explorer.core.threads)
        try:
            result = self.fn()
        except ExplorerError as exc:
            self._emit(self.signals.failed, str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to the user; the view stays usable
            self._emit(self.signals.failed, f"{type(exc).__name__}: {exc}")
        else:
            self._emit(self.signals.done, result)

    def _emit(self, signal: Any, value: Any) -> None:
        try:
            signal.emit(self.ticket, value)
        except RuntimeError:   # the view was closed and deleted while the job ran: nobody to tell
            pass


class BackgroundRunner(QObject):
    """Runs functions off the UI thread; only the newest request's result is delivered (latest wins)."""

    finished = Signal(object)
    failed = Signal(str)
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ticket = 0
        self._pending = 0
        self._signals = _Signals(self)   # lives on the UI thread: emissions from the pool are queued to it
        self._signals.done.connect(self._on_done)
        self._signals.failed.connect(self._on_failed)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def submit(self, fn: Callable[[], Any]) -> int:
        self._ticket += 1
        self._pending += 1
        if self._pending == 1:
            self.busyChanged.emit(True)
        QThreadPool.globalInstance().start(_Job(self._ticket, fn, self._signals))
        return self._ticket

    def _finish(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self.busyChanged.emit(False)

    def _on_done(self, ticket: int, result: Any) -> None:
        self._finish()
        if ticket == self._ticket:
            self.finished.emit(result)

    def _on_failed(self, ticket: int, message: str) -> None:
        self._finish()
        if ticket == self._ticket:
            self.failed.emit(message)


def current_image(state: Any) -> np.ndarray:
    """The app's current frame, or the bundled sample photograph when there is none."""
    frame = getattr(state, "frame", None)
    if frame is not None and getattr(frame, "image", None) is not None:
        return frame.image
    from explorer.core.images import load_image
    return load_image(SAMPLE_IMAGE)


def current_handle(state: Any) -> Any:
    return getattr(state, "handle", None)


def to_pixmap(image: np.ndarray) -> QPixmap:
    """RGB uint8 (H, W, 3) -> QPixmap (copied, so the array may go away)."""
    img = np.ascontiguousarray(image[..., :3].astype(np.uint8))
    h, w = img.shape[:2]
    return QPixmap.fromImage(QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy())


def title_label(text: str, size: int = 12) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setPointSize(size)
    font.setBold(True)
    label.setFont(font)
    return label


def note_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def rect_item(x: float, y: float, w: float, h: float, colour: QColor, width: float = 2.0,
              style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QGraphicsRectItem:
    item = QGraphicsRectItem(QRectF(x, y, w, h))
    pen = QPen(colour)
    pen.setWidthF(width)
    pen.setCosmetic(True)     # the same width on screen whatever the zoom
    pen.setStyle(style)
    item.setPen(pen)
    return item


def text_item(text: str, x: float, y: float, colour: QColor = QColor("white"), anchor=(0, 1)) -> pg.TextItem:
    item = pg.TextItem(text, color=colour, anchor=anchor, fill=pg.mkBrush(0, 0, 0, 170))
    item.setPos(x, y)
    return item


class ImageBox(pg.GraphicsLayoutWidget):
    """An image in pixel coordinates (origin top-left, y down), locked aspect, with optional rectangle drawing.

    Dragging with the left button draws a rectangle; `regionDrawn` gives (x1, y1, x2, y2) in image pixels.
    """

    regionDrawn = Signal(tuple)

    def __init__(self, parent: QWidget | None = None, drawable: bool = False) -> None:
        super().__init__(parent)
        self.setBackground("#202124")
        self.view = _DrawViewBox(self, drawable)
        self.view.setAspectLocked(True)
        self.view.invertY(True)
        self.view.setMenuEnabled(False)
        self.addItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self._overlays: list[Any] = []
        self._drag_rect: QGraphicsRectItem | None = None

    def set_image(self, image: np.ndarray, levels: tuple[float, float] | None = None,
                  lut: np.ndarray | None = None) -> None:
        if image.ndim == 2:
            self.image_item.setImage(image, levels=levels, lut=lut, autoLevels=levels is None)
        else:
            self.image_item.setImage(image, levels=(0, 255), lut=None, autoLevels=False)
        self.view.autoRange(padding=0.01)

    def clear_overlays(self) -> None:
        for item in self._overlays:
            self.view.removeItem(item)
        self._overlays.clear()

    def add_overlay(self, item: Any) -> Any:
        self.view.addItem(item)
        self._overlays.append(item)
        return item

    def _drag(self, start: QPointF, end: QPointF, finished: bool) -> None:
        x1, x2 = sorted((start.x(), end.x()))
        y1, y2 = sorted((start.y(), end.y()))
        if self._drag_rect is None:
            self._drag_rect = rect_item(0, 0, 0, 0, QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
            self.view.addItem(self._drag_rect)
        self._drag_rect.setRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        if finished:
            self.view.removeItem(self._drag_rect)
            self._drag_rect = None
            if x2 - x1 >= 2 and y2 - y1 >= 2:
                self.regionDrawn.emit((x1, y1, x2, y2))


class _DrawViewBox(pg.ViewBox):
    def __init__(self, owner: ImageBox, drawable: bool) -> None:
        super().__init__()
        self._owner, self._drawable = owner, drawable

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph's name
        if not self._drawable or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos())
        end = self.mapSceneToView(ev.scenePos())
        self._owner._drag(start, end, ev.isFinish())


def viridis_lut() -> np.ndarray:
    return pg.colormap.get("viridis").getLookupTable(nPts=256)
