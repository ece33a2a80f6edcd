"""The graph's view: wheel zoom around the cursor, drag to pan, clicks, double-clicks and keys as signals."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

from explorer.ui.graph_view.items import BoxItem

ZOOM_RANGE = (0.03, 8.0)
KEYS = {Qt.Key_Up: "up", Qt.Key_Down: "down", Qt.Key_Left: "left", Qt.Key_Right: "right",
        Qt.Key_Return: "enter", Qt.Key_Enter: "enter", Qt.Key_F: "fit"}


class GraphCanvas(QGraphicsView):
    """Reports what the user does; the panel decides what it means."""

    clicked = Signal(str)       # a box's item id
    activated = Signal(str)     # double-clicked
    key = Signal(str)           # "up", "down", "left", "right", "enter", "fit"
    viewMoved = Signal()        # scrolled, zoomed or resized: the minimap follows
    userMoved = Signal()        # the user zoomed or dragged: the first view's automatic fit ends
    resized = Signal()

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)   # a resize keeps what is in the middle there
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setBackgroundBrush(QColor("#ffffff"))
        self.setFocusPolicy(Qt.StrongFocus)
        self.horizontalScrollBar().valueChanged.connect(self.viewMoved)
        self.verticalScrollBar().valueChanged.connect(self.viewMoved)

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, scale: float) -> None:
        self.resetTransform()
        self.scale(scale, scale)
        self.viewMoved.emit()

    def box_at(self, pos: QPoint) -> str | None:
        for it in self.items(pos):
            if isinstance(it, BoxItem):
                return it.item.id
        return None

    def wheelEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        factor = 1.0015 ** event.angleDelta().y()
        # A Fit of a very long graph may be below the range: from there the wheel zooms in, never further out.
        if min(ZOOM_RANGE[0], self.zoom) <= self.zoom * factor <= max(ZOOM_RANGE[1], self.zoom):
            # Keep the scene point under the cursor where it is (the view's own anchor uses the last mouse
            # move, which a wheel event need not follow).
            pos = event.position().toPoint()
            before = self.mapToScene(pos)
            self.setTransformationAnchor(QGraphicsView.NoAnchor)
            self.scale(factor, factor)
            self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
            delta = self.mapFromScene(before) - pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
            self.userMoved.emit()
            self.viewMoved.emit()
        event.accept()

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.LeftButton:
            self.userMoved.emit()   # a drag may follow
            bid = self.box_at(event.position().toPoint())
            if bid is not None:
                self.clicked.emit(bid)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        bid = self.box_at(event.position().toPoint())
        if bid is not None:
            self.activated.emit(bid)
        event.accept()

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        name = KEYS.get(event.key())
        if name and not (event.modifiers() & Qt.ControlModifier):
            self.key.emit(name)
            event.accept()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self.resized.emit()
        self.viewMoved.emit()
