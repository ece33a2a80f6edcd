"""The overview: the whole graph small, with the main view's rectangle on it; click or drag to move there.

A second QGraphicsView over the same scene (as Netron's and Model Explorer's overviews are a second rendering
of the one graph), so it follows every layout, colour and selection by itself. It floats in the top-right
corner of the graph's view and shows only while the graph does not fit in that view: the first view of a big
network opens at a readable zoom, at the input end, and this says where that is in the whole.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGraphicsView

MAX_WIDTH = 120      # px, and at most MAX_SHARE of the view's width: the graph keeps most of its view
MAX_SHARE = 0.25
MAX_HEIGHT = 0.65    # of the view's height
MIN_WIDTH = 40
MARGIN = 8


class Minimap(QGraphicsView):
    """Overview of `canvas`'s scene; `area` (scene rect of the whole layout) is what it fits."""

    moved = Signal()    # the user moved the main view from here

    def __init__(self, canvas: QGraphicsView) -> None:
        super().__init__(canvas.scene(), canvas)
        self.canvas = canvas
        self.area = QRectF()
        self._room = False              # the canvas is big enough to spare a corner for the overview
        self.setObjectName("graphMinimap")
        self.setInteractive(False)      # no clicks reach the boxes: a click here moves the main view
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Box)
        self.setStyleSheet("QGraphicsView#graphMinimap { border: 1px solid #90a4ae; background: #fafafa; }")
        self.setRenderHints(QPainter.Antialiasing)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self.setFocusPolicy(Qt.NoFocus)
        self.hide()
        canvas.viewMoved.connect(self.follow)
        canvas.resized.connect(self.place)

    def set_area(self, area: QRectF) -> None:
        self.area = QRectF(area)
        self.place()

    def place(self) -> None:
        """Size to the graph's proportions in the canvas's top-right corner; show only if the graph is cut."""
        vp = self.canvas.viewport()
        self._room = not self.area.isEmpty() and vp.width() >= 4 * MIN_WIDTH and vp.height() >= 120
        if not self._room:
            self.hide()
            return
        max_h = max(60.0, vp.height() * MAX_HEIGHT)
        aspect = self.area.width() / self.area.height()
        w = min(MAX_WIDTH, vp.width() * MAX_SHARE, max_h * aspect)
        h = w / aspect if aspect else max_h
        if h > max_h:
            h, w = max_h, max_h * aspect
        w = max(w, MIN_WIDTH)
        origin = vp.mapTo(self.canvas, vp.rect().topRight())
        self.setGeometry(int(origin.x() - w - MARGIN), int(origin.y() + MARGIN), int(w) + 2, int(h) + 2)
        self.fitInView(self.area, Qt.KeepAspectRatio)
        self.follow()

    def follow(self) -> None:
        """The main view moved: show the overview while part of the graph is out of sight, and redraw its
        rectangle."""
        self.setVisible(self._room and not self.whole_graph_seen())
        if self.isVisible():
            self.viewport().update()

    def whole_graph_seen(self) -> bool:
        return self.visible_rect().adjusted(-1, -1, 1, 1).contains(self.area)

    def visible_rect(self) -> QRectF:
        """The part of the scene the main view shows."""
        return self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt API
        seen = self.visible_rect().intersected(self.area.adjusted(-40, -40, 40, 40))
        painter.setBrush(QColor(21, 101, 192, 40))
        pen = QPen(QColor("#1565c0"), 1.5)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawRect(seen)

    # -- moving the main view -------------------------------------------------------------------------------
    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.LeftButton:
            self._move_to(event.position())
        event.accept()

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if event.buttons() & Qt.LeftButton:
            self._move_to(event.position())
        event.accept()

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        event.accept()

    def wheelEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        event.accept()   # the overview never scrolls itself

    def _move_to(self, pos: QPointF) -> None:
        self.canvas.centerOn(self.mapToScene(pos.toPoint()))
        self.viewport().update()
        self.moved.emit()
