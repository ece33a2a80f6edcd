"""Shared pieces of the notes' views: their base class and jobs, image helpers and a region-drawing view box.

Views stay thin: they call explorer.core.notes in the background (NotesJobs: the app's job helper, or the live
model's thread for the current model) and draw the result. torch is never imported here at module level.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QWidget

from explorer.ui.dialog_parts import close_on_keys

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.opening import ModelHandle
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

SAMPLE_IMAGE = Path(__file__).resolve().parents[3] / "resources" / "images" / "chelsea.jpg"
RANDOM_NOTE = "random weights: the scores are meaningless, the shapes and counts are not"

# colours that read on photos and on the viridis feature maps
REGION_COLOUR = QColor(255, 64, 64)
LEVEL_COLOURS = {4: QColor(255, 210, 0), 2: QColor(0, 220, 255), 1: QColor(255, 80, 200)}
GRID_COLOUR = QColor(255, 210, 0)


class NotesJobs(QObject):
    """A notes view's background work, on the app's one job helper.

    `submit(name, fn, ...)`: fn() on `bridge.jobs` (latest wins per key: one key per view and name);
    `on_model(name, fn, ...)`: fn(handle) in the live model's own thread between two frames
    (`bridge.run_on_model`), for the views that use the current model and its weights: a model must never run
    in two threads. Only the newest request of a name is delivered; `busy` is true while any is out."""

    busyChanged = Signal(bool)

    def __init__(self, bridge: "SessionBridge", owner: QObject, prefix: str) -> None:
        super().__init__(owner)
        self.bridge = bridge
        self.prefix = f"notes:{prefix}:{id(owner)}"
        self._tokens: dict[str, int] = {}
        self._out: set[str] = set()

    @property
    def busy(self) -> bool:
        return bool(self._out)

    def submit(self, name: str, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None]) -> None:
        token = self._start(name)
        self.bridge.jobs.submit(f"{self.prefix}:{name}", fn, self._wrap(name, token, on_done),
                                self._wrap(name, token, on_error))

    def on_model(self, name: str, fn: Callable[["ModelHandle"], Any], on_done: Callable[[Any], None],
                 on_error: Callable[[str], None]) -> None:
        token = self._start(name)
        self.bridge.run_on_model(fn, self._wrap(name, token, on_done), self._wrap(name, token, on_error))

    def run_with(self, name: str, handle: "ModelHandle | None", wanted: str,
                 work: Callable[["nn.Module | None"], Any], on_done: Callable[[Any], None],
                 on_error: Callable[[str], None]) -> None:
        """`work(model)`: with the live model, in its thread, when the current model is `wanted` (its own,
        maybe trained, weights); else `work(None)` on the jobs thread, which builds a model of its own."""
        if handle is None or handle.name != wanted:
            self.submit(name, lambda: work(None), on_done, on_error)
            return

        def on_live(live: "ModelHandle") -> Any:
            return work(live.model if live is handle else None)   # None: the model changed meanwhile

        self.on_model(name, on_live, on_done, on_error)

    def cancel(self, name: str | None = None) -> None:
        """Drop the outcome of `name` (None: of every name) and stop what has not started."""
        for key in [name] if name is not None else list(self._tokens):
            self._tokens[key] = self._tokens.get(key, 0) + 1
            self.bridge.jobs.cancel(f"{self.prefix}:{key}")
            self._finish(key)

    def _start(self, name: str) -> int:
        self._tokens[name] = self._tokens.get(name, 0) + 1
        was = self.busy
        self._out.add(name)
        if not was:
            self.busyChanged.emit(True)
        return self._tokens[name]

    def _finish(self, name: str) -> None:
        if name in self._out:
            self._out.discard(name)
            if not self._out:
                self.busyChanged.emit(False)

    def _wrap(self, name: str, token: int, callback: Callable[[Any], None]) -> Callable[[Any], None]:
        def deliver(value: Any) -> None:
            if self._tokens.get(name) != token:
                return   # a newer request of this name was made, or the view cancelled it
            self._finish(name)
            callback(value)
        return deliver


class NotesView(QWidget):
    """A notes page: built as `View(state, bridge)`, shown as its own window by the hub. Esc and Ctrl+W close
    it (it is only hidden: the hub shows it again as it was); closing stops its background work, and so does
    the app's closing."""

    TITLE = ""

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.bridge = state, bridge
        self.jobs = NotesJobs(bridge, self, type(self).__name__)
        if self.TITLE:
            self.setWindowTitle(self.TITLE)
        close_on_keys(self)
        bridge.closing.connect(self.jobs.cancel)

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        self.jobs.cancel()
        super().closeEvent(event)


def current_image(state: "AppState") -> np.ndarray:
    """The app's current frame, or the bundled sample photograph when there is none."""
    if state.frame is not None:
        return state.frame.image
    from explorer.core.images import load_image
    return load_image(SAMPLE_IMAGE)


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
