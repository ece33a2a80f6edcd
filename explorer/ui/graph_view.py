"""The model-graph viewer: the captured graph as collapsible blocks on a QGraphicsScene.

Thin by design: `explorer.core.graph_view` decides what is visible, `explorer.core.layout` where it goes; this
module draws boxes and edges, turns mouse and keys into expand/collapse/select, and runs the layout and the
timed forward pass in worker threads (the UI thread only draws).
"""

from __future__ import annotations

import csv
import html
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QPointF, QRectF, QRunnable, QSize, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import (QAction, QColor, QFont, QFontMetricsF, QImage, QKeySequence, QPainter,
                           QPainterPath, QPainterPathStroker, QPen, QPolygonF, QShortcut)
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGraphicsItem, QGraphicsPathItem, QGraphicsScene,
                               QGraphicsView, QHBoxLayout, QLabel, QLineEdit, QMenu, QSizePolicy, QToolBar,
                               QToolButton, QVBoxLayout, QWidget)

from explorer.core.graph_view import ROOT, GraphView, TreeItem, count_text, shape_text, tree_for
from explorer.core.layout import GraphLayout, LayoutEngine, box_lines, container_title
from explorer.core.threads import use_one_thread
from explorer.ui.elided_label import ElidedLabel
from explorer.ui.state import AppState

KIND_COLORS: dict[str, str] = {
    "input": "#cfd8dc", "output": "#cfd8dc", "conv": "#90caf9", "linear": "#ef9a9a", "norm": "#a5d6a7",
    "activation": "#fff59d", "pool": "#ce93d8", "merge": "#ffcc80", "reshape": "#e0e0e0",
    "upsample": "#80cbc4", "roi": "#f48fb1", "dropout": "#eeeeee", "detection": "#ffab91", "other": "#f5f5f5",
    "block": "#b0bec5",
}
SELECTED = QColor("#1565c0")
MATCH = QColor("#ef6c00")
OVERLAYS = [("kind", "Op kind"), ("params", "Parameters"), ("macs", "MACs"), ("time", "Time")]
# A light-to-dark sequential scale (ColorBrewer YlOrRd) so black text stays legible on most of it.
SCALE = [(0.0, (255, 255, 204)), (0.35, (254, 217, 118)), (0.65, (253, 141, 60)), (1.0, (189, 0, 38))]


def scale_color(t: float) -> QColor:
    t = min(max(t, 0.0), 1.0)
    for (a, ca), (b, cb) in zip(SCALE, SCALE[1:]):
        if t <= b:
            f = (t - a) / (b - a)
            return QColor(*(round(x + (y - x) * f) for x, y in zip(ca, cb)))
    return QColor(*SCALE[-1][1])


class BoxItem(QGraphicsItem):
    """One box: a call, a collapsed block (with its totals) or the frame of an expanded block."""

    def __init__(self, item: TreeItem, container: bool, width: float, height: float):
        super().__init__()
        self.item = item
        self.container = container
        self.w, self.h = width, height
        self.fill = QColor(KIND_COLORS.get("block" if item.is_block else item.kind, "#f5f5f5"))
        self.text_color = QColor("#000000")
        self.selected = False
        self.matched = False
        self.setZValue(0 if container else 2)
        self.setAcceptHoverEvents(False)
        self.set_tooltip()

    def set_tooltip(self, extra: str = "") -> None:
        it = self.item
        lines = [f"<b>{it.id or it.label}</b>", it.type]
        if it.output_shape:
            lines.append(f"output {shape_text(it.output_shape)}")
        lines.append(f"{it.params:,} params · {it.macs:,} MACs")
        if it.description:
            lines.append(html.escape(it.description))
        if it.is_block:
            lines.append(("double-click to collapse" if self.container else "double-click to expand"))
        if extra:
            lines.append(extra)
        self.setToolTip("<br>".join(lines))

    def set_size(self, width: float, height: float, container: bool) -> None:
        if (width, height, container) != (self.w, self.h, self.container):
            self.prepareGeometryChange()
            self.w, self.h, self.container = width, height, container
            self.setZValue(0 if container else 2)
            self.set_tooltip()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return QRectF(-2, -2, self.w + 4, self.h + 4)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:  # noqa: ARG002
        rect = QRectF(0, 0, self.w, self.h)
        it = self.item
        border = QPen(SELECTED if self.selected else (MATCH if self.matched else QColor("#546e7a")),
                      3 if (self.selected or self.matched) else (1.6 if it.is_block else 1))
        if self.container:
            painter.setPen(border)
            painter.setBrush(QColor(236, 239, 241, 110))
            painter.drawRoundedRect(rect, 6, 6)
            header = QRectF(0, 0, self.w, 20)
            painter.setBrush(QColor("#cfd8dc"))
            painter.setPen(Qt.NoPen)
            painter.drawRoundedRect(header.adjusted(1, 1, -1, 0), 5, 5)
            painter.setPen(QColor("#263238"))
            painter.setFont(_font(True))
            fm = QFontMetricsF(painter.font())
            title = "▾ " + container_title(it)
            painter.drawText(header.adjusted(6, 0, -4, 0), Qt.AlignVCenter | Qt.AlignLeft,
                             fm.elidedText(title, Qt.ElideRight, self.w - 10))
            return
        painter.setPen(border)
        painter.setBrush(self.fill)
        painter.drawRoundedRect(rect, 6 if it.is_block else 3, 6 if it.is_block else 3)
        if it.is_block:   # a second outline hints "there is more inside"
            painter.setPen(QPen(QColor("#78909c"), 1))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 4, 4)
            # Composition bar: the share of each op kind among the calls inside, in the legend's colours.
            total = sum(it.kinds.values())
            if total:
                x, bar_w = 6.0, self.w - 12
                painter.setPen(Qt.NoPen)
                for kind in sorted(it.kinds, key=lambda k: -it.kinds[k]):
                    w = bar_w * it.kinds[kind] / total
                    painter.setBrush(QColor(KIND_COLORS.get(kind, "#f5f5f5")).darker(115))
                    painter.drawRect(QRectF(x, self.h - 8, w, 3))
                    x += w
        painter.setPen(self.text_color)
        y = 4.0
        for i, line in enumerate(box_lines(it)):
            font = _font(i == 0)
            painter.setFont(font)
            fm = QFontMetricsF(font)
            text = fm.elidedText(line, Qt.ElideRight, self.w - 10)
            painter.drawText(QRectF(5, y, self.w - 10, 14), Qt.AlignVCenter | Qt.AlignHCenter, text)
            y += 14
        if it.repeat > 1 and it.repeat_index > 0:
            painter.setFont(_font(False, 8))
            painter.setPen(QColor("#455a64"))
            painter.drawText(QRectF(self.w - 34, 2, 30, 12), Qt.AlignRight, f"{it.repeat_index + 1}/{it.repeat}")


_FONTS: dict[tuple[bool, int], QFont] = {}


def _font(bold: bool, pixel: int = 11) -> QFont:
    f = _FONTS.get((bold, pixel))
    if f is None:
        f = QFont()
        f.setPixelSize(pixel)
        f.setBold(bold)
        _FONTS[(bold, pixel)] = f
    return f


class EdgeItem(QGraphicsPathItem):
    """A routed edge with an arrowhead; hovering shows the tensor shapes it carries."""

    def __init__(self, source: str, target: str, points: list[tuple[float, float]], shapes: list):
        super().__init__()
        self.source, self.target = source, target
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points]))   # an open polyline
        self.setPath(path)
        self.setPen(QPen(QColor("#607d8b"), 1.2))
        self.setZValue(1)
        (x1, y1), (x2, y2) = points[-2], points[-1]
        ang = math.atan2(y2 - y1, x2 - x1)
        tip = QPointF(x2, y2)
        self.arrow = QPolygonF([tip, tip - QPointF(math.cos(ang - 0.4) * 8, math.sin(ang - 0.4) * 8),
                                tip - QPointF(math.cos(ang + 0.4) * 8, math.sin(ang + 0.4) * 8)])
        text = ", ".join(shape_text(s) for s in shapes) if shapes else "?"
        self.setToolTip(f"{source} → {target}<br>tensor {text}")
        self._shape: QPainterPath | None = None

    def shape(self) -> QPainterPath:
        if self._shape is None:     # built on first hover/hit test only: most edges never need it
            stroker = QPainterPathStroker()
            stroker.setWidth(8)
            self._shape = stroker.createStroke(self.path())
        return self._shape

    def boundingRect(self) -> QRectF:  # noqa: N802
        return super().boundingRect().united(self.arrow.boundingRect()).adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(self.pen())
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
        painter.setBrush(self.pen().color())
        painter.drawPolygon(self.arrow)


class GraphCanvas(QGraphicsView):
    """Wheel zoom around the cursor, drag to pan, click/double-click/keys reported to the panel."""

    clicked = Signal(str)
    activated = Signal(str)
    key = Signal(str)

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.SmartViewportUpdate)
        self.setBackgroundBrush(QColor("#ffffff"))
        self.setFocusPolicy(Qt.StrongFocus)

    def box_at(self, pos) -> str | None:
        for it in self.items(pos):
            if isinstance(it, BoxItem):
                return it.item.id
        return None

    def wheelEvent(self, event) -> None:  # noqa: N802
        factor = 1.0015 ** event.angleDelta().y()
        scale = self.transform().m11()
        if 0.03 < scale * factor < 8:
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
        event.accept()

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.LeftButton:
            bid = self.box_at(event.position().toPoint())
            if bid is not None:
                self.clicked.emit(bid)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        bid = self.box_at(event.position().toPoint())
        if bid is not None:
            self.activated.emit(bid)
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        names = {Qt.Key_Up: "up", Qt.Key_Down: "down", Qt.Key_Left: "left", Qt.Key_Right: "right",
                 Qt.Key_Return: "enter", Qt.Key_Enter: "enter", Qt.Key_F: "fit"}
        name = names.get(event.key())
        if name and not (event.modifiers() & Qt.ControlModifier):
            self.key.emit(name)
            event.accept()
            return
        super().keyPressEvent(event)


class Legend(QWidget):
    """Colour chips of the op kinds shown, or the colour scale of a numeric overlay. The entries flow onto as
    many lines as the width needs (height-for-width), so none is clipped in a narrow centre pane."""

    ROW = 18.0      # line height (px)
    GAP = 10.0      # space between entries

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(22)
        policy = QSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.kinds: list[str] = []
        self.scale: tuple[str, float, float] | None = None

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, self.heightForWidth(400))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(120, 22)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        lines = max((line for line, _x, _entry in self._flow(width)), default=0) + 1
        return int(lines * self.ROW + 4)

    def show_kinds(self, kinds: list[str]) -> None:
        self.kinds, self.scale = kinds, None
        self.updateGeometry()
        self.update()

    def show_scale(self, title: str, lo: float, hi: float) -> None:
        self.scale = (title, lo, hi)
        self.updateGeometry()
        self.update()

    def _entries(self) -> list[tuple[str, str, float]]:
        """(kind of entry, text, width): 'chip' = a colour chip and its kind, 'text', 'bar' = the colour scale."""
        fm = QFontMetricsF(_font(False))
        if self.scale is None:
            return [("chip", k, 18 + fm.horizontalAdvance(k)) for k in self.kinds]
        title, lo, hi = self.scale
        fmt = (lambda v: f"{v * 1000:.2f} ms") if title == "Time" else (lambda v: count_text(int(v)))
        low = f"{title} (log scale): {fmt(lo)}"
        return [("text", low, fm.horizontalAdvance(low)), ("bar", fmt(hi), 166 + fm.horizontalAdvance(fmt(hi))),
                ("text", "grey: not measured / none", fm.horizontalAdvance("grey: not measured / none"))]

    def _flow(self, width: float) -> list[tuple[int, float, tuple[str, str, float]]]:
        """(line, x, entry) for each entry: left to right, a new line when the next one does not fit."""
        placed, line, x = [], 0, 6.0
        for entry in self._entries():
            if x > 6.0 and x + entry[2] > width - 4:
                line, x = line + 1, 6.0
            placed.append((line, x, entry))
            x += entry[2] + self.GAP
        return placed

    def paintEvent(self, event) -> None:  # noqa: N802, ARG002
        p = QPainter(self)
        p.setFont(_font(False))
        for line, x, (kind, text, _w) in self._flow(self.width()):
            top = 3 + line * self.ROW
            if kind == "chip":
                p.setBrush(QColor(KIND_COLORS.get(text, "#f5f5f5")))
                p.setPen(QColor("#546e7a"))
                p.drawRect(QRectF(x, top + 1, 14, 12))
                p.setPen(QColor("#263238"))
                p.drawText(QPointF(x + 18, top + 11), text)
            elif kind == "bar":
                for i in range(160):
                    p.setPen(scale_color(i / 159))
                    p.drawLine(QPointF(x + i, top + 1), QPointF(x + i, top + 13))
                p.setPen(QColor("#263238"))
                p.drawText(QPointF(x + 166, top + 11), text)
            else:
                p.setPen(QColor("#263238"))
                p.drawText(QPointF(x, top + 11), text)


class _Signals(QObject):
    done = Signal(int, object)
    failed = Signal(int, str)


class _Job(QRunnable):
    """Runs `fn()` in the thread pool and reports its result with a generation number (latest wins)."""

    def __init__(self, fn, gen: int, signals: _Signals):
        super().__init__()
        self.fn, self.gen, self.signals = fn, gen, signals

    def run(self) -> None:
        import torch  # noqa: F401 - before use_one_thread(), which does nothing until torch is imported

        use_one_thread()  # pool threads never get an OpenMP team of their own (explorer.core.threads)
        try:
            result = self.fn()
        except Exception as exc:  # noqa: BLE001 - reported to the user, the UI stays usable
            self.signals.failed.emit(self.gen, f"{type(exc).__name__}: {exc}")
            return
        self.signals.done.emit(self.gen, result)


class GraphPanel(QWidget):
    """The centre of the app: toolbar, graph canvas and legend; follows and drives `state`'s current layer."""

    layoutReady = Signal()
    timesReady = Signal()

    def __init__(self, state: AppState, window: QWidget | None = None):
        super().__init__()
        self.state = state
        self.window_ref = window
        self.graph = None
        self.view: GraphView | None = None
        self.engine: LayoutEngine | None = None
        self.layout_result: GraphLayout | None = None
        self.boxes: dict[str, BoxItem] = {}
        self.edges: list[EdgeItem] = []
        self.selected = ""
        self.overlay = "kind"
        self.times: dict[str, float] | None = None
        self.matches: list[str] = []
        self.match_index = -1
        self._gen = 0
        self._running = False
        self._pending = False
        self._fit_next = False
        self._center_next: str | None = None
        self._anchor: tuple[str, QPointF] | None = None
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._layout_signals = _Signals()
        self._layout_signals.done.connect(self._layout_done)
        self._layout_signals.failed.connect(self._layout_failed)
        self._time_signals = _Signals()
        self._time_signals.done.connect(self._times_done)
        self._time_signals.failed.connect(self._times_failed)
        self._time_gen = 0
        self._edge_queue: list = []

        self.scene = QGraphicsScene(self)
        self.scene.setItemIndexMethod(QGraphicsScene.NoIndex)   # items move on every layout; no BSP rebuilds
        self.canvas = GraphCanvas(self.scene, self)
        self.canvas.clicked.connect(self.select)
        self.canvas.activated.connect(self.toggle)
        self.canvas.key.connect(self._on_key)
        self.legend = Legend(self)
        self.status = ElidedLabel("", min_chars=14)  # its changing text must not resize the window's docks
        self.status.setStyleSheet("color: #546e7a")
        self._build_toolbar()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, 1)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 4, 0)
        bottom.addWidget(self.legend, 1)
        bottom.addWidget(self.status, 0, Qt.AlignmentFlag.AlignTop)  # beside the legend's first line
        layout.addLayout(bottom)
        state.graphChanged.connect(self.set_graph)
        state.layerSelected.connect(self._follow_selection)
        if state.graph is not None:
            self.set_graph(state.graph)

    # -- toolbar ----------------------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        tb = self.toolbar = QToolBar(self)
        tb.setIconSize(QSize(16, 16))
        self.act_expand_all = QAction("Expand all", self, triggered=self.expand_all)
        self.act_collapse_all = QAction("Collapse all", self, triggered=self.collapse_all)
        self.act_fit = QAction("Fit (F)", self, triggered=self.fit)
        for a in (self.act_expand_all, self.act_collapse_all, self.act_fit):
            tb.addAction(a)
        tb.addSeparator()
        self.search_box = QLineEdit(self)
        self.search_box.setPlaceholderText("Search names and ops (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMaximumWidth(240)
        self.search_box.textChanged.connect(self._search_changed)
        self.search_box.returnPressed.connect(self._search_enter)
        tb.addWidget(self.search_box)
        self.act_prev = QAction("◀", self, triggered=self.previous_match)
        self.act_prev.setToolTip("Previous match (Shift+F3)")
        self.act_next = QAction("▶", self, triggered=self.next_match)
        self.act_next.setToolTip("Next match (F3, Enter)")
        tb.addAction(self.act_prev)
        tb.addAction(self.act_next)
        self.match_label = QLabel("")
        tb.addWidget(self.match_label)
        tb.addSeparator()
        tb.addWidget(QLabel(" Colour: "))
        self.overlay_combo = QComboBox(self)
        for key, label in OVERLAYS:
            self.overlay_combo.addItem(label, key)
        self.overlay_combo.currentIndexChanged.connect(
            lambda i: self.set_overlay(self.overlay_combo.itemData(i)))
        tb.addWidget(self.overlay_combo)
        tb.addSeparator()
        export = QToolButton(self)
        export.setText("Export")
        export.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(export)
        menu.addAction("Graph as SVG…", lambda: self._export_dialog("svg"))
        menu.addAction("Graph as PNG…", lambda: self._export_dialog("png"))
        menu.addAction("Layer table as CSV…", lambda: self._export_dialog("csv"))
        export.setMenu(menu)
        tb.addWidget(export)
        QShortcut(QKeySequence.Find, self, activated=self.focus_search, context=Qt.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence(Qt.Key_F3), self, activated=self.next_match, context=Qt.WidgetWithChildrenShortcut)
        QShortcut(QKeySequence(Qt.SHIFT | Qt.Key_F3), self, activated=self.previous_match,
                  context=Qt.WidgetWithChildrenShortcut)

    def focus_search(self) -> None:
        self.search_box.setFocus()
        self.search_box.selectAll()

    # -- graph and layout -------------------------------------------------------------------------------
    def set_graph(self, graph) -> None:
        self.graph = graph
        self.scene.clear()
        self._edge_queue = []
        self.boxes.clear()
        self.edges.clear()
        self.layout_result = None
        self.times = None
        self.matches, self.match_index = [], -1
        if graph is None:
            self.view = self.engine = None
            return
        tree = tree_for(graph)
        self.view = GraphView(graph, tree)
        self.engine = LayoutEngine(tree)
        self.selected = ""
        self._fit_next = True
        if self.overlay == "time":
            self._measure_times()
        self.request_layout()
        if self.state.selected_layer:
            self._center_next = None
            self._follow_selection(self.state.selected_layer)

    def request_layout(self) -> None:
        """Lay out the current collapse state in the worker thread; the newest request wins."""
        if self.view is None:
            return
        self._gen += 1
        if self._running:
            self._pending = True
            return
        self._start_layout()

    def _start_layout(self) -> None:
        view = GraphView(self.view.graph, self.view.tree, set(self.view.expanded))  # a snapshot for the worker
        engine = self.engine
        self._running = True
        self.status.setText("laying out…")
        self._pool.start(_Job(lambda: engine.layout(view), self._gen, self._layout_signals))

    def _layout_done(self, gen: int, result: GraphLayout) -> None:
        self._running = False
        if self._pending:
            self._pending = False
            self._start_layout()
            return
        if gen != self._gen or self.view is None or result is None:
            return
        self.status.setText(f"{len(result.boxes)} boxes · layout {result.seconds * 1000:.0f} ms")
        self._apply(result)

    def _layout_failed(self, gen: int, message: str) -> None:
        self._running = False
        self.status.setText("")
        self.state.show_error(f"graph layout failed: {message}")
        if self._pending:
            self._pending = False
            self._start_layout()

    def wait_layout(self) -> bool:
        """True when no layout is pending (tests wait on this)."""
        return (not self._running and not self._pending and self.layout_result is not None
                and not self._edge_queue)

    def _apply(self, result: GraphLayout) -> None:
        tree = self.view.tree
        anchor_view = None
        if self._anchor is not None and self._anchor[0] in self.boxes:
            anchor_view = self._anchor
        self.layout_result = result
        for bid in list(self.boxes):
            if bid not in result.boxes:
                self.scene.removeItem(self.boxes.pop(bid))
        for e in self.edges:
            self.scene.removeItem(e)
        self.edges = []
        for bid, b in result.boxes.items():
            item = self.boxes.get(bid)
            if item is None:
                item = self.boxes[bid] = BoxItem(tree.items[bid], b.container, b.width, b.height)
                self.scene.addItem(item)
            else:
                item.set_size(b.width, b.height, b.container)
            item.setPos(b.x, b.y)
        self._edge_queue = [r for r in result.edges if len(r.points) >= 2]
        self._add_edges()
        self.scene.setSceneRect(QRectF(0, 0, result.width, result.height).adjusted(-40, -40, 40, 40))
        self._recolor()
        self._mark_selection()
        if self._fit_next:
            self._fit_next = False
            self.fit()
        elif anchor_view is not None and anchor_view[0] in self.boxes:
            # Keep the box that was expanded or collapsed where it was on screen.
            bid, vp = anchor_view
            b = result.boxes[bid]
            now = self.canvas.mapFromScene(QPointF(b.x, b.y))
            dx, dy = now.x() - vp.x(), now.y() - vp.y()
            self.canvas.horizontalScrollBar().setValue(self.canvas.horizontalScrollBar().value() + round(dx))
            self.canvas.verticalScrollBar().setValue(self.canvas.verticalScrollBar().value() + round(dy))
        self._anchor = None
        if self._center_next and self._center_next in self.boxes:
            self._bring_into_view(self._center_next)
        self._center_next = None
        self.layoutReady.emit()

    EDGE_SLICE = 150   # edges added per event-loop turn: a big graph never blocks the UI thread for long

    def _add_edges(self) -> None:
        queue, self._edge_queue = self._edge_queue[:self.EDGE_SLICE], self._edge_queue[self.EDGE_SLICE:]
        for r in queue:
            e = EdgeItem(r.source, r.target, r.points, r.shapes)
            self.scene.addItem(e)
            self.edges.append(e)
        if self._edge_queue:
            QTimer.singleShot(0, self._add_edges)

    def fit(self) -> None:
        if self.layout_result is None:
            return
        rect = QRectF(0, 0, self.layout_result.width, self.layout_result.height)
        self.canvas.fitInView(rect, Qt.KeepAspectRatio)
        # A tall network fitted whole is unreadable: never shrink below a scale where labels stay legible.
        if self.canvas.transform().m11() < 0.35:
            self.canvas.resetTransform()
            self.canvas.scale(0.35, 0.35)
            self.canvas.centerOn(rect.center().x(), 0)
            self.canvas.verticalScrollBar().setValue(self.canvas.verticalScrollBar().minimum())

    # -- expand / collapse ------------------------------------------------------------------------------
    def _remember_anchor(self, bid: str) -> None:
        if bid in self.boxes:
            self._anchor = (bid, QPointF(self.canvas.mapFromScene(self.boxes[bid].pos())))

    def toggle(self, bid: str) -> None:
        if self.view is not None and self.view.is_block(bid):
            self._remember_anchor(bid)
            self.view.toggle(bid)
            self.request_layout()

    def expand(self, bid: str) -> None:
        if self.view is not None and self.view.is_block(bid) and bid not in self.view.expanded:
            self._remember_anchor(bid)
            self.view.expand(bid)
            self.request_layout()

    def collapse(self, bid: str) -> None:
        if self.view is not None and bid in self.view.expanded and bid != ROOT:
            self._remember_anchor(bid)
            self.view.collapse(bid)
            if self.selected and self.selected not in (bid,) and bid in self.view.tree.chain(self.selected):
                self.select(bid)
            self.request_layout()

    def expand_all(self) -> None:
        if self.view is not None:
            self.view.expand_all()
            self._fit_next = True
            self.request_layout()

    def collapse_all(self) -> None:
        if self.view is not None:
            self.view.collapse_all()
            self._fit_next = True
            if self.selected:
                self.select(self.view.representative(self.selected))
            self.request_layout()

    # -- selection --------------------------------------------------------------------------------------
    def select(self, bid: str) -> None:
        """Make a box the app's current layer."""
        if self.view is None or bid not in self.view.tree.items:
            return
        self.selected = bid
        self._mark_selection()
        self.state.select_layer(bid)

    def _follow_selection(self, some_id: str) -> None:
        """Follow a layer picked elsewhere (the Layers list, a notes page): mark its box and bring it into view.

        A pick in the graph itself (click, keys, search) comes back here too, but `select` has already set
        `selected` then, so nothing scrolls: the box is in view, and a jump would lose the user's place."""
        if self.view is None or some_id == self.selected:
            return
        item = self.view.tree.resolve(some_id) if some_id else None
        if item is None:
            self.selected = ""
            self._mark_selection()
            return
        if self.layout_result is None:
            # A model that is still being laid out: the layer that comes with it (the one the previous model had,
            # or the first conv the window picks) is no user's pick, so the model opens on its overview of main
            # blocks (fitted), with the block that holds the layer marked.
            self.selected = self.view.representative(item)
            self._mark_selection()
            return
        # Open the blocks around the layer, as the graph's own search does (and TensorBoard's graph, an IDE's
        # "reveal in tree"): whoever picks one layer from a list wants to see that layer's box, its neighbours
        # and tensor shapes, not the block standing for it, which the inspector would not match.
        before = set(self.view.expanded)
        self.view.reveal(item)
        self.selected = item
        self._mark_selection()
        if self.view.expanded != before:
            self._center_next = item
            self.request_layout()
        elif self._running or self._pending:
            self._center_next = item        # the boxes move when the running layout lands
        else:
            self._bring_into_view(item)

    def _mark_selection(self) -> None:
        for bid, box in self.boxes.items():
            on = bid == self.selected
            if box.selected != on:
                box.selected = on
                box.update()

    def _on_key(self, name: str) -> None:
        if name == "fit":
            self.fit()
        elif name == "enter":
            if self.selected:
                self.toggle(self.selected)
        else:
            self.navigate(name)

    def navigate(self, direction: str) -> str:
        """Move the selection: up = a predecessor, down = a successor, left/right = the neighbouring sibling."""
        lay = self.layout_result
        if lay is None:
            return self.selected
        if not self.selected or self.selected not in lay.boxes:
            firsts = [b for b in lay.boxes.values() if not b.container]
            if firsts:
                self.select(min(firsts, key=lambda b: (b.y, b.x)).id)
                self._ensure_visible(self.selected)
            return self.selected
        cur = lay.boxes[self.selected]
        cx = cur.x + cur.width / 2
        choice = None
        if direction in ("up", "down"):
            if cur.container:
                kids = [b for b in lay.boxes.values() if b.parent == cur.id]
                if direction == "down" and kids:
                    choice = min(kids, key=lambda b: (b.y, abs(b.x + b.width / 2 - cx))).id
                elif direction == "up":
                    choice = cur.parent
            else:
                ids = [e.source for e in lay.edges if e.target == cur.id] if direction == "up" else \
                      [e.target for e in lay.edges if e.source == cur.id]
                if ids:
                    choice = min(ids, key=lambda i: abs(lay.boxes[i].x + lay.boxes[i].width / 2 - cx))
                elif direction == "up":
                    choice = cur.parent
        else:
            sibs = [b for b in lay.boxes.values() if b.parent == cur.parent and b.id != cur.id
                    and b.y < cur.bottom and cur.y < b.bottom]
            if direction == "left":
                sibs = [b for b in sibs if b.x < cur.x]
                choice = max(sibs, key=lambda b: b.x).id if sibs else None
            else:
                sibs = [b for b in sibs if b.x > cur.x]
                choice = min(sibs, key=lambda b: b.x).id if sibs else None
        if choice:
            self.select(choice)
            self._ensure_visible(choice)
        return self.selected

    def _ensure_visible(self, bid: str) -> None:
        if bid in self.boxes:
            self.canvas.ensureVisible(self.boxes[bid], 40, 40)

    def _bring_into_view(self, bid: str, margin: float = 40) -> None:
        """Center the view on a box unless it is already in sight with `margin` view pixels around it (then the
        view stays put). A frame bigger than the view shows its top, where its title is."""
        box = self.boxes.get(bid)
        if box is None:
            return
        canvas = self.canvas
        rect = box.sceneBoundingRect()
        visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
        m = margin / max(canvas.transform().m11(), 1e-6)      # view pixels -> scene units at this zoom
        if visible.contains(rect.adjusted(-m, -m, m, m)):
            return
        x = rect.center().x() if rect.width() + 2 * m <= visible.width() else rect.left() - m + visible.width() / 2
        y = rect.center().y() if rect.height() + 2 * m <= visible.height() else rect.top() - m + visible.height() / 2
        canvas.centerOn(QPointF(x, y))

    # -- search -----------------------------------------------------------------------------------------
    def _search_changed(self, text: str) -> None:
        self.matches = self.find(text)
        self.match_index = -1
        self.match_label.setText(f" {len(self.matches)} matches " if text else "")
        for bid, box in self.boxes.items():
            on = bid in set(self.matches)
            if box.matched != on:
                box.matched = on
                box.update()

    def _search_enter(self) -> None:
        self.next_match()

    def find(self, text: str) -> list[str]:
        """Items whose path, name or op contains `text` (case-insensitive), in execution order."""
        text = text.strip().lower()
        if not text or self.view is None:
            return []
        tree = self.view.tree
        hits = [it for it in tree.items.values() if it.id != ROOT and
                (text in it.id.lower() or text in it.label.lower() or text in it.type.lower())]
        hits.sort(key=lambda it: (it.order, not it.is_block, len(tree.chain(it.id))))
        return [it.id for it in hits]

    def search(self, text: str) -> None:
        self.search_box.setText(text)
        self.next_match()

    def next_match(self) -> None:
        self._jump(+1)

    def previous_match(self) -> None:
        self._jump(-1)

    def _jump(self, step: int) -> None:
        if not self.matches:
            return
        self.match_index = (self.match_index + step) % len(self.matches)
        target = self.matches[self.match_index]
        self.match_label.setText(f" {self.match_index + 1}/{len(self.matches)} ")
        before = set(self.view.expanded)
        self.view.reveal(target)
        self.select(target)
        if self.view.expanded != before:
            self._center_next = target
            self.request_layout()
        elif target in self.boxes:
            self.canvas.centerOn(self.boxes[target])

    # -- overlays ---------------------------------------------------------------------------------------
    def set_overlay(self, mode: str) -> None:
        self.overlay = mode
        i = self.overlay_combo.findData(mode)
        if i >= 0 and self.overlay_combo.currentIndex() != i:
            self.overlay_combo.setCurrentIndex(i)
        if mode == "time" and self.times is None:
            self._measure_times()
        self._recolor()

    def overlay_value(self, bid: str) -> float | None:
        it = self.view.tree.items[bid]
        if self.overlay == "params":
            return float(it.params) if it.params else None
        if self.overlay == "macs":
            return float(it.macs) if it.macs else None
        if self.overlay == "time":
            if not self.times:
                return None
            if it.virtual:
                vals = [self.times.get(c) for c in it.children]
                vals = [v for v in vals if v is not None]
                return sum(vals) if vals else None
            return self.times.get(it.id)
        return None

    def _recolor(self) -> None:
        if self.view is None:
            return
        if self.overlay == "kind":
            kinds = []
            for bid, box in self.boxes.items():
                it = box.item
                k = "block" if it.is_block else it.kind
                box.fill = QColor(KIND_COLORS.get(k, "#f5f5f5"))
                box.text_color = QColor("#000000")
                for kk in ([k] + list(it.kinds) if it.is_block else [k]):
                    if not box.container and kk not in kinds:
                        kinds.append(kk)
                box.update()
            self.legend.show_kinds(sorted(kinds))
            return
        values = {bid: self.overlay_value(bid) for bid, box in self.boxes.items() if not box.container}
        present = [v for v in values.values() if v]
        lo, hi = (min(present), max(present)) if present else (1.0, 1.0)
        llo, lhi = math.log10(lo), math.log10(hi)
        for bid, box in self.boxes.items():
            v = values.get(bid)
            if box.container:
                continue
            if not v:
                box.fill, box.text_color = QColor("#eceff1"), QColor("#607d8b")
            else:
                t = (math.log10(v) - llo) / (lhi - llo) if lhi > llo else 1.0
                box.fill = scale_color(t)
                box.text_color = QColor("#ffffff") if t > 0.8 else QColor("#000000")
            box.update()
        title = dict(OVERLAYS)[self.overlay]
        if self.overlay == "time" and self.times is None:
            self.legend.show_scale("Time (measuring…)", lo, hi)
        else:
            self.legend.show_scale(title, lo, hi)

    def _measure_times(self) -> None:
        handle = self.state.handle
        if handle is None or self.graph is None:
            self.state.show_error("no model is loaded to time")
            return
        model, shape = handle.model, self.graph.input_shape
        self._time_gen += 1
        self.status.setText("timing a forward pass…")

        def work():
            from explorer.core.module_timing import time_modules
            return time_modules(model, shape)
        self._pool.start(_Job(work, self._time_gen, self._time_signals))

    def _times_done(self, gen: int, times: dict) -> None:
        if gen != self._time_gen:
            return
        self.times = times
        # on the CPU, one thread: a second OpenMP team would slow the live inference (explorer.core.threads)
        handle = self.state.handle
        on_cpu = handle is not None and str(handle.device).startswith("cpu")
        self.status.setText(f"forward pass {times.get('', 0.0) * 1000:.1f} ms" + (" on one CPU thread" if on_cpu else ""))
        for bid, box in self.boxes.items():
            t = self.overlay_value(bid) if self.overlay == "time" else None
            if t:
                box.set_tooltip(f"time {t * 1000:.2f} ms")
        if self.overlay == "time":
            self._recolor()
        self.timesReady.emit()

    def _times_failed(self, gen: int, message: str) -> None:
        self.status.setText("")
        self.state.show_error(f"timing failed: {message}")

    # -- export -----------------------------------------------------------------------------------------
    def _export_dialog(self, kind: str) -> None:
        filters = {"svg": "SVG (*.svg)", "png": "PNG (*.png)", "csv": "CSV (*.csv)"}
        name = self.graph.model_name if self.graph else "graph"
        path, _ = QFileDialog.getSaveFileName(self, "Export", f"{name}.{kind}", filters[kind])
        if path:
            try:
                getattr(self, f"export_{kind}")(path)
                self.state.show_message(f"saved {path}", answer=True)
            except OSError as exc:
                self.state.show_error(f"could not save {path}: {exc.strerror or exc}")

    def _scene_rect(self) -> QRectF:
        lay = self.layout_result
        return QRectF(0, 0, lay.width, lay.height) if lay else self.scene.itemsBoundingRect()

    def export_svg(self, path: str | Path) -> None:
        from PySide6.QtSvg import QSvgGenerator

        rect = self._scene_rect()
        gen = QSvgGenerator()
        gen.setFileName(str(path))
        gen.setSize(QSize(math.ceil(rect.width()), math.ceil(rect.height())))
        gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
        gen.setTitle(self.graph.model_name if self.graph else "graph")
        painter = QPainter(gen)
        self.scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
        painter.end()
        if not Path(path).exists():
            raise OSError(f"could not write {path}")

    def export_png(self, path: str | Path, scale: float = 1.5) -> None:
        rect = self._scene_rect()
        scale = min(scale, 16000 / max(rect.width(), rect.height(), 1))   # stay within image size limits
        img = QImage(max(1, math.ceil(rect.width() * scale)), max(1, math.ceil(rect.height() * scale)),
                     QImage.Format_ARGB32)
        img.fill(QColor("#ffffff"))
        painter = QPainter(img)
        painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.scene.render(painter, QRectF(0, 0, img.width(), img.height()), rect)
        painter.end()
        if not img.save(str(path)):
            raise OSError(f"could not write {path}")

    def export_csv(self, path: str | Path) -> None:
        """The layer table: one row per call of the captured graph."""
        if self.graph is None:
            return
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["id", "label", "op", "kind", "module_path", "input_shapes", "output_shapes", "params",
                        "weight_params", "bias_params", "macs", "receptive_field", "stride", "offset", "formula"])
            for n in self.graph.nodes:
                w.writerow([n.id, n.label, n.op, n.kind, n.module_path,
                            " ".join(shape_text(s) for s in n.input_shapes),
                            " ".join(shape_text(s) for s in n.output_shapes), n.params, n.weight_params,
                            n.bias_params, n.macs, "" if n.receptive_field is None else n.receptive_field,
                            "" if n.stride is None else n.stride, "" if n.offset is None else n.offset, n.formula])
