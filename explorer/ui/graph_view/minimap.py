"""The overview: the whole graph small, with the main view's rectangle on it; click or drag to move there.

A second QGraphicsView over the same scene (as Netron's and Model Explorer's overviews are a second rendering
of the one graph), so it follows every layout, colour and selection by itself.

Where it goes (new-user trial: floating in the view's top-right corner, it hid the boxes under it in a small
pane, and a click there moved the view instead of selecting them): the overview never covers the graph. As an
editor's minimap does, it gets a column of its own at the right of the graph's view, between the view and its
scroll bar: the canvas reserves that column with QAbstractScrollArea's viewport margins, so every box the view
can scroll to can be seen and clicked. The column is there only while it helps:

- the graph overflows the view at the current zoom (the whole graph in sight needs no overview), judged on the
  canvas's width *without* the column, so that adding or removing the column never flips the decision;
- the canvas is at least MIN_VIEW (a smaller pane keeps all of its width for the graph);
- the user has not switched it off (the toolbar's Overview button, remembered).

The column is at most MAX_WIDTH px and MAX_SHARE of the canvas's width, with MARGIN px around the overview.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGraphicsView

MAX_WIDTH = 110      # px of the overview, and at most MAX_SHARE of the canvas's width
MAX_SHARE = 0.2
MIN_WIDTH = 48
MARGIN = 6           # px around the overview in its column
MIN_VIEW = (320, 200)   # px: a smaller canvas shows no overview


class Minimap(QGraphicsView):
    """Overview of `canvas`'s scene; `area` (scene rect of the whole layout) is what it fits."""

    moved = Signal()    # the user moved the main view from here

    def __init__(self, canvas: QGraphicsView) -> None:
        super().__init__(canvas.scene(), canvas)
        self.canvas = canvas
        self.area = QRectF()
        self.enabled = True             # the user's switch (toolbar: Overview)
        self.column = 0                 # px the canvas reserves at its right for the overview (0: none)
        self._placing = False           # reserving the column resizes the canvas, which calls place() again
        self._pending = False           # a place() is queued (a zoom or scroll changed the overflow)
        self.setObjectName("graphMinimap")
        self.setInteractive(False)      # no clicks reach the boxes: a click here moves the main view
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Box)
        self.setStyleSheet("QGraphicsView#graphMinimap { border: 1px solid #90a4ae; background: #fafafa; }")
        self.setRenderHints(QPainter.Antialiasing)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view (the toolbar's Overview button hides it)")
        self.setFocusPolicy(Qt.NoFocus)
        self.hide()
        canvas.viewMoved.connect(self.follow)
        canvas.resized.connect(self.place)

    def set_area(self, area: QRectF) -> None:
        self.area = QRectF(area)
        self.place()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self.place()

    # -- when and where -------------------------------------------------------------------------------------
    def full_size(self) -> QSize:
        """The canvas's viewport as it would be without the overview's column."""
        vp = self.canvas.viewport()
        return QSize(vp.width() + self.column, vp.height())

    def overflows(self) -> bool:
        """Part of the graph lies beyond the canvas (without the column) at the current zoom."""
        zoom = self.canvas.transform().m11()
        full = self.full_size()
        return self.area.width() * zoom > full.width() + 0.5 or self.area.height() * zoom > full.height() + 0.5

    def wanted_column(self) -> int:
        """The column's width the canvas should reserve now: 0 where no overview shows."""
        full = self.full_size()
        if (not self.enabled or self.area.isEmpty() or full.width() < MIN_VIEW[0] or full.height() < MIN_VIEW[1]
                or not self.overflows()):
            return 0
        return int(max(MIN_WIDTH, min(MAX_WIDTH, full.width() * MAX_SHARE))) + 2 * MARGIN

    def place(self) -> None:
        """Reserve (or give back) the overview's column and fit the overview in it, sized to the graph's
        proportions, at the top."""
        if self._placing:
            return
        self._placing = True
        try:
            column = self.wanted_column()
            if column != self.column:
                self.column = column
                self.canvas.setViewportMargins(0, 0, column, 0)   # resizes the viewport (and calls back here)
            if not column:
                self.hide()
                return
            vp = self.canvas.viewport().geometry()              # in the canvas's coordinates
            w = column - 2 * MARGIN
            aspect = self.area.width() / max(self.area.height(), 1.0)
            h = min(max(vp.height() - 2 * MARGIN, 40), max(w / max(aspect, 1e-6), 40))
            self.setGeometry(vp.right() + 1 + MARGIN, vp.top() + MARGIN, w, int(h))
            self.fitInView(self.area, Qt.KeepAspectRatio)
            self.show()
            self.viewport().update()
        finally:
            self._placing = False

    def follow(self) -> None:
        """The main view moved or zoomed: the overview comes or goes with the overflow (once the event that
        zoomed is over: the column resizes the view, which must not happen inside its own transform change),
        and redraws its rectangle."""
        if self._placing:
            return
        if self.wanted_column() != self.column or self.isVisible() != bool(self.column):
            if not self._pending:
                self._pending = True
                QTimer.singleShot(0, self, self._queued_place)
        elif self.isVisible():
            self.viewport().update()

    def _queued_place(self) -> None:
        self._pending = False
        self.place()

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
