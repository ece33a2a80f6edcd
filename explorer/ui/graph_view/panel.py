"""The model-graph panel: the captured graph as collapsible blocks, drawn from the app's state.

Thin by design: `explorer.core.graph_view` decides what is visible, `explorer.core.layout` where it goes, the
bridge's job helper lays it out off the UI thread and `bridge.run_on_model` times the live model between two
frames (one nn.Module never runs in two threads). The panel draws, turns mouse and keys into expand, collapse
and `state.select`, and marks what `state.selection` says.

The automatic view (a model's load, Expand all, Collapse all) is readable (issue 21): it is fitted only down to
the zoom where the labels are style.MIN_TEXT_PX tall on screen; a bigger graph is shown at that zoom from its
left and top edges, with the input (at load) or the selection (after Expand/Collapse all) in sight
(navigation.view_origin), and the overview (minimap.Minimap), in a column of its own beside the view, shows
where the view is in the whole. The user's Fit (F) shows the whole graph, however small its text gets: that is
what they asked for (new-user trial: it stopped at the readable zoom and so did nothing). A caption above the
view says which input the shapes are for (caption.caption).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QGraphicsScene, QHBoxLayout, QVBoxLayout, QWidget

from explorer.core.graph_view import ROOT, GraphView, tree_for
from explorer.core.layout import GraphLayout, LayoutEngine
from explorer.ui.elided_label import ElidedLabel
from explorer.ui.export_dialog import ask_export_path
from explorer.ui.graph_view import export, navigation
from explorer.ui.graph_view.canvas import GraphCanvas
from explorer.ui.graph_view.caption import caption
from explorer.ui.graph_view.colouring import colour_boxes, overlay_value
from explorer.ui.graph_view.items import BoxItem, EdgeItem
from explorer.ui.graph_view.legend import Legend
from explorer.ui.graph_view.minimap import Minimap
from explorer.ui.graph_view.style import readable_scale
from explorer.ui.graph_view.toolbar import GraphToolbar
from explorer.ui.settings import open_settings, read_choice
from explorer.ui.state import AppState, Selection

if TYPE_CHECKING:
    from explorer.core.graph import ModelGraph
    from explorer.core.opening import ModelHandle
    from explorer.ui.bridge import SessionBridge

COLOUR_KEY = "graph/colour"                 # the colouring chosen last (time is never restored: it runs the model)
OVERVIEW_KEY = "graph/overview"             # "on" or "off": the toolbar's Overview switch
STORED_COLOURS = ("kind", "params", "macs")
FIT_MARGIN = 12       # view pixels around a fitted graph
SCENE_PAD = 40        # scene units the view may scroll past the graph's edges
MAX_FIT_ZOOM = 1.25   # a small graph is not blown up past this when fitted
EDGE_SLICE = 150      # edges added per event-loop turn: a big graph never blocks the UI thread for long


class GraphPanel(QWidget):
    """The centre of the app: toolbar, graph canvas with its overview, legend and status."""

    layoutReady = Signal()
    timesReady = Signal()

    def __init__(self, state: AppState, bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.bridge = state, bridge
        self.graph: ModelGraph | None = None
        self.view: GraphView | None = None
        self.engine: LayoutEngine | None = None
        self.layout_result: GraphLayout | None = None
        self.boxes: dict[str, BoxItem] = {}
        self.edges: list[EdgeItem] = []
        self.selected = ""                         # the box marked: the selection's item or the block holding it
        self.overlay = "kind"
        self.times: dict[str, float] | None = None
        self.matches: list[str] = []
        self.match_index = -1
        self._layout_key = f"graph-layout:{id(self)}"
        self._layout_pending = False
        self._layout_token = 0
        self._fit_next = ""                        # the next layout's automatic view: what it keeps in sight
        self._auto_fit = ""                        # the view is a fit ("whole", or the automatic view's "input" or
                                                   # "selection"): it follows resizes until the user moves it
        self._center_next: str | None = None
        self._anchor: tuple[str, QPointF] | None = None
        self._time_token = 0
        self._edge_queue: list = []
        self._fitted_size = QSize()                # the canvas's size (without the overview) at the last fit

        self.scene = QGraphicsScene(self)
        self.scene.setItemIndexMethod(QGraphicsScene.NoIndex)   # items move on every layout; no BSP rebuilds
        self.canvas = GraphCanvas(self.scene, self)
        self.minimap = Minimap(self.canvas)
        self.toolbar = GraphToolbar(self)
        self.legend = Legend(self)
        self.status = ElidedLabel("", min_chars=14)  # its changing text must not resize the window's docks
        self.status.setStyleSheet("color: #546e7a")
        self.caption = ElidedLabel("", min_chars=10)   # which input the shapes are for
        self.caption.setObjectName("graphCaption")
        self.caption.setStyleSheet("color: #455a64")
        self.caption.setContentsMargins(6, 0, 4, 0)
        self.caption.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)
        bottom = QHBoxLayout()
        bottom.setContentsMargins(0, 0, 4, 0)
        bottom.addWidget(self.legend, 1)
        bottom.addWidget(self.status, 0, Qt.AlignmentFlag.AlignTop)  # beside the legend's first line
        layout.addLayout(bottom)
        self._connect()
        self.settings = open_settings()
        colour = read_choice(self.settings, COLOUR_KEY, STORED_COLOURS, "kind")
        if colour != self.overlay:
            self.set_overlay(colour)
        if read_choice(self.settings, OVERVIEW_KEY, ("on", "off"), "on") == "off":
            self.set_overview(False)
        if state.graph is not None:
            self.set_graph(state.graph)

    def _connect(self) -> None:
        tb, canvas = self.toolbar, self.canvas
        tb.act_expand_all.triggered.connect(self.expand_all)
        tb.act_collapse_all.triggered.connect(self.collapse_all)
        tb.act_fit.triggered.connect(self.fit)
        tb.act_overview.toggled.connect(self.set_overview)
        tb.act_prev.triggered.connect(self.previous_match)
        tb.act_next.triggered.connect(self.next_match)
        tb.search_box.textChanged.connect(self._search_changed)
        tb.search_box.returnPressed.connect(self.next_match)
        tb.overlay_combo.currentIndexChanged.connect(lambda i: self.set_overlay(tb.overlay_at(i)))
        tb.exportRequested.connect(self._export_dialog)
        canvas.clicked.connect(self.select)
        canvas.activated.connect(self.toggle)
        canvas.key.connect(self._on_key)
        canvas.userMoved.connect(self._end_auto_fit)
        canvas.resized.connect(self._on_resized)
        self.minimap.moved.connect(self._end_auto_fit)
        shortcut = Qt.ShortcutContext.WidgetWithChildrenShortcut
        # the window's one search: Ctrl+F from any dock (new-user trial: pressed in the feature maps, it was lost)
        QShortcut(QKeySequence.Find, self, activated=self.focus_search, context=Qt.ShortcutContext.WindowShortcut)
        QShortcut(QKeySequence(Qt.Key_F3), self, activated=self.next_match, context=shortcut)
        QShortcut(QKeySequence(Qt.SHIFT | Qt.Key_F3), self, activated=self.previous_match, context=shortcut)
        self.state.graphChanged.connect(self.set_graph)
        self.state.selectionChanged.connect(self._on_selection)
        self.bridge.closing.connect(lambda: self.bridge.jobs.cancel(self._layout_key))

    def set_overview(self, on: bool) -> None:
        """The user's switch for the overview (remembered); it shows only while the graph overflows."""
        self.toolbar.act_overview.setChecked(on)
        self.minimap.set_enabled(on)
        if read_choice(self.settings, OVERVIEW_KEY, ("on", "off"), "on") != ("on" if on else "off"):
            self.settings.setValue(OVERVIEW_KEY, "on" if on else "off")

    def _show_caption(self) -> None:
        text, tip = caption(self.graph, self.state.handle)
        self.caption.setText(text)
        self.caption.setToolTip(tip)
        self.caption.setVisible(bool(text))

    def focus_search(self) -> None:
        self.toolbar.search_box.setFocus()
        self.toolbar.search_box.selectAll()

    # -- graph and layout -----------------------------------------------------------------------------------
    def set_graph(self, graph: "ModelGraph | None") -> None:
        self.graph = graph
        self.scene.clear()
        self._edge_queue = []
        self.boxes.clear()
        self.edges.clear()
        self.layout_result = None
        self.matches, self.match_index = [], -1
        self.selected = ""
        self.times = None          # another model (or the same on another device): its times are not these
        self._time_token += 1      # and a timing still running is of the previous one
        self.minimap.set_area(QRectF())
        self.toolbar.search_box.clear()   # the search was typed for the previous graph: left, it marked this one
        self._show_caption()
        if graph is None:
            self.view = self.engine = None
            self.bridge.jobs.cancel(self._layout_key)
            self._layout_token += 1
            self._layout_pending = False
            self.status.setText("")
            return
        tree = tree_for(graph)
        self.view = GraphView(graph, tree)
        self.engine = LayoutEngine(tree)
        self._fit_next = "input"   # the layer that comes with a load is no user's pick: show the input end
        if self.overlay == "time":
            self._measure_times()
        self.request_layout()
        if self.state.selection:
            self._center_next = None
            self._follow(self.state.selection.item)

    def request_layout(self) -> None:
        """Lay out the current collapse state in the background; the newest request wins."""
        if self.view is None:
            return
        view = GraphView(self.view.graph, self.view.tree, set(self.view.expanded))  # a snapshot for the job
        engine = self.engine
        self._layout_pending = True
        self._layout_token += 1
        token = self._layout_token
        self.status.setText("laying out…")
        self.bridge.jobs.submit(self._layout_key, lambda: engine.layout(view),
                                lambda result: self._layout_done(token, result),
                                lambda message: self._layout_failed(token, message))

    def _layout_done(self, token: int, result: GraphLayout) -> None:
        # The jobs drop a stale layout, but one already on its way to this thread when a newer request was
        # made still arrives: the token tells.
        if token != self._layout_token:
            return
        self._layout_pending = False
        if self.view is None or result is None:
            return
        self.status.setText(f"{len(result.boxes)} boxes · layout {result.seconds * 1000:.0f} ms")
        self._apply(result)

    def _layout_failed(self, token: int, message: str) -> None:
        if token != self._layout_token:
            return
        self._layout_pending = False
        self.status.setText("")
        self.state.show_error(f"graph layout failed: {message}")

    def wait_layout(self) -> bool:
        """True when no layout is pending and every edge is drawn (tests wait on this)."""
        return not self._layout_pending and self.layout_result is not None and not self._edge_queue

    def _apply(self, result: GraphLayout) -> None:
        tree = self.view.tree
        anchor = self._anchor if self._anchor is not None and self._anchor[0] in self.boxes else None
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
        area = self.area()
        self.scene.setSceneRect(area.adjusted(-SCENE_PAD, -SCENE_PAD, SCENE_PAD, SCENE_PAD))
        self.minimap.set_area(area)
        self._recolor()
        self._mark_selection()
        self._search_changed(self.toolbar.search_box.text(), keep_index=True)
        if self._fit_next:
            self._fit(self._fit_next)
            self._fit_next = ""
        elif anchor is not None and anchor[0] in self.boxes:
            # Keep the box that was expanded or collapsed where it was on screen.
            bid, was = anchor
            b = result.boxes[bid]
            now = self.canvas.mapFromScene(QPointF(b.x, b.y))
            self._scroll_by(now.x() - was.x(), now.y() - was.y())
        self._anchor = None
        if self._center_next and self._center_next in self.boxes:
            self._bring_into_view(self._center_next)
        self._center_next = None
        self.minimap.place()
        self.layoutReady.emit()

    def _add_edges(self) -> None:
        queue, self._edge_queue = self._edge_queue[:EDGE_SLICE], self._edge_queue[EDGE_SLICE:]
        for r in queue:
            e = EdgeItem(r.source, r.target, r.points, r.shapes)
            self.scene.addItem(e)
            self.edges.append(e)
        if self._edge_queue:
            QTimer.singleShot(0, self._add_edges)

    def area(self) -> QRectF:
        """The laid-out graph in scene coordinates (empty before the first layout)."""
        lay = self.layout_result
        return QRectF(0, 0, lay.width, lay.height) if lay is not None else QRectF()

    # -- the view ---------------------------------------------------------------------------------------------
    def fit(self) -> None:
        """F and the toolbar's Fit: the whole graph in view, however small its text gets."""
        self._fit("whole")

    def _fit(self, mode: str) -> None:
        """Fit the graph to the view: "whole" at any zoom; else the automatic view, never below the readable
        zoom, where a bigger graph keeps the input ("input") or the selected box ("selection") in sight."""
        if self.layout_result is None:
            return
        # The canvas's size without the overview's column: a graph that fits there needs no overview. The scene's
        # padding must fit too, or scroll bars come and take the room the fit counted on.
        area, vp = self.area(), self.minimap.full_size()
        self._fitted_size = vp
        scale = min(MAX_FIT_ZOOM, *(min((v - 2 * FIT_MARGIN) / max(a, 1.0), v / (a + 2 * SCENE_PAD))
                                    for v, a in ((vp.width(), area.width()), (vp.height(), area.height()))))
        if mode == "whole" or scale >= readable_scale():
            self.canvas.set_zoom(max(scale, 1e-4))
            self.minimap.place()
            self.canvas.centerOn(area.center())
        else:
            self.canvas.set_zoom(readable_scale())
            self.minimap.place()      # the overview's column first: the view is placed in the room it leaves
            self._place_view(self.selected if mode == "selection" else "")
        self._auto_fit = mode

    def _place_view(self, keep: str) -> None:
        """Show the graph from its left and top edges, moved only as far as `keep` (else the input) needs to be
        in sight, with the left edge where it cuts the fewest boxes (navigation.view_origin)."""
        lay, zoom, vp = self.layout_result, self.canvas.zoom, self.canvas.viewport()
        if keep not in lay.boxes:
            keep = "input" if "input" in lay.boxes else navigation.first_box(lay) or ""
        w, h = vp.width() / zoom, vp.height() / zoom
        x, y = navigation.view_origin(lay, (w, h), FIT_MARGIN / zoom, keep)
        self.canvas.centerOn(QPointF(x + w / 2, y + h / 2))

    def _end_auto_fit(self) -> None:
        self._auto_fit = ""

    def _on_resized(self) -> None:
        """The first view (the panel gets its size after the model's layout arrived) fits the new size, until
        the user has moved it. The overview's column coming or going is no new size: the fit allowed for it."""
        if self._auto_fit and self.layout_result is not None and self.minimap.full_size() != self._fitted_size:
            self._fit(self._auto_fit)

    def _scroll_by(self, dx: float, dy: float) -> None:
        h, v = self.canvas.horizontalScrollBar(), self.canvas.verticalScrollBar()
        h.setValue(h.value() + round(dx))
        v.setValue(v.value() + round(dy))

    def _ensure_visible(self, bid: str) -> None:
        if bid in self.boxes:
            self._auto_fit = ""
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
        m = margin / max(canvas.zoom, 1e-6)      # view pixels -> scene units at this zoom
        if visible.contains(rect.adjusted(-m, -m, m, m)):
            return
        self._auto_fit = ""
        x = rect.center().x() if rect.width() + 2 * m <= visible.width() else rect.left() - m + visible.width() / 2
        y = rect.center().y() if rect.height() + 2 * m <= visible.height() else rect.top() - m + visible.height() / 2
        canvas.centerOn(QPointF(x, y))

    # -- expand / collapse ------------------------------------------------------------------------------------
    def _remember_anchor(self, bid: str) -> None:
        if bid in self.boxes:
            self._anchor = (bid, QPointF(self.canvas.mapFromScene(self.boxes[bid].pos())))
            self._auto_fit = ""

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
            if self.selected and self.selected != bid and bid in self.view.tree.chain(self.selected):
                self.select(bid)   # the selection inside goes to the block that now stands for it
            self.request_layout()

    def expand_all(self) -> None:
        if self.view is not None:
            self.view.expand_all()
            self._fit_next = "selection"
            self.request_layout()

    def collapse_all(self) -> None:
        if self.view is not None:
            self.view.collapse_all()
            self._fit_next = "selection"
            if self.selected:
                self.select(self.view.representative(self.selected))
            self.request_layout()

    # -- selection --------------------------------------------------------------------------------------------
    def select(self, bid: str) -> None:
        """Make a box the app's selection (a group such as "stem" too: the state finds the layer it shows)."""
        if self.view is None or bid not in self.view.tree.items:
            return
        self.selected = bid     # before the state answers: a click never scrolls the view (see _follow)
        self._mark_selection()
        self.state.select(bid)

    def _on_selection(self, selection: Selection) -> None:
        self._follow(selection.item)

    def _follow(self, some_id: str) -> None:
        """Follow an item picked elsewhere (the Layers list, a notes page): mark its box, bring it into view.

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
            # A model that is still being laid out: the item that comes with it (the window's first conv) is no
            # user's pick, so the model opens on its overview of main blocks, with the block holding it marked.
            self.selected = self.view.representative(item)
            self._mark_selection()
            return
        # Open the blocks around the item, as the graph's own search does (and TensorBoard's graph, an IDE's
        # "reveal in tree"): whoever picks one layer from a list wants to see that layer's box.
        before = set(self.view.expanded)
        self.view.reveal(item)
        self.selected = item
        self._mark_selection()
        if self.view.expanded != before:
            self._center_next = item
            self.request_layout()
        elif self._layout_pending:
            self._center_next = item        # the boxes move when the pending layout lands
        else:
            self._bring_into_view(item)

    def _mark_selection(self) -> None:
        for bid, box in self.boxes.items():
            box.set_marks(selected=bid == self.selected)

    def _on_key(self, name: str) -> None:
        if name == "fit":
            self.fit()
        elif name == "enter":
            if self.selected:
                self.toggle(self.selected)
        else:
            self.navigate(name)

    def navigate(self, direction: str) -> str:
        """Move the selection with an arrow key (navigation.neighbour) and keep it in sight."""
        lay = self.layout_result
        if lay is None:
            return self.selected
        if not self.selected or self.selected not in lay.boxes:
            choice = navigation.first_box(lay)
        else:
            choice = navigation.neighbour(lay, self.selected, direction)
        if choice:
            self.select(choice)
            self._ensure_visible(choice)
        return self.selected

    # -- search -----------------------------------------------------------------------------------------------
    def _search_changed(self, text: str, keep_index: bool = False) -> None:
        matches = self.find(text)
        if not keep_index or matches != self.matches:
            self.match_index = -1
        self.matches = matches
        self.toolbar.show_matches(len(matches) if text.strip() else None, self.match_index)
        found = set(matches)
        for bid, box in self.boxes.items():
            box.set_marks(matched=bid in found)

    def find(self, text: str) -> list[str]:
        """Items matching `text` (case-insensitive), in execution order: those whose own name contains it; if none,
        those whose path does ("layer3.1.conv"); if none, those whose op does ("Conv2d"). New-user trial: "conv2"
        matched every Conv2d (the op) and its first hit was layer1.0.conv1; "layer4" matched its 20 children."""
        text = text.strip().lower()
        if not text or self.view is None:
            return []
        tree = self.view.tree
        items = [it for it in tree.items.values() if it.id != ROOT]
        hits = ([it for it in items if text in it.label.lower()] or [it for it in items if text in it.id.lower()]
                or [it for it in items if text in it.type.lower()])
        hits.sort(key=lambda it: (it.order, not it.is_block, len(tree.chain(it.id))))
        return [it.id for it in hits]

    def search(self, text: str) -> None:
        self.toolbar.search_box.setText(text)
        self.next_match()

    def next_match(self) -> None:
        self._jump(+1)

    def previous_match(self) -> None:
        self._jump(-1)

    def _jump(self, step: int) -> None:
        if not self.matches or self.view is None:
            return
        self.match_index = (self.match_index + step) % len(self.matches)
        target = self.matches[self.match_index]
        self.toolbar.show_matches(len(self.matches), self.match_index)
        before = set(self.view.expanded)
        self.view.reveal(target)
        self.select(target)
        if self.view.expanded != before:
            self._center_next = target
            self._auto_fit = ""
            self.request_layout()
        elif target in self.boxes:
            self._auto_fit = ""
            self.canvas.centerOn(self.boxes[target])

    # -- colouring --------------------------------------------------------------------------------------------
    def set_overlay(self, mode: str) -> None:
        self.overlay = mode
        self.toolbar.set_overlay(mode)
        if mode in STORED_COLOURS and read_choice(self.settings, COLOUR_KEY, STORED_COLOURS, "kind") != mode:
            self.settings.setValue(COLOUR_KEY, mode)
        if mode == "time" and self.times is None:
            self._measure_times()
        self._recolor()

    def overlay_value(self, bid: str) -> float | None:
        return overlay_value(self.view.tree.items[bid], self.overlay, self.times)

    def _recolor(self) -> None:
        if self.view is None:
            return
        spec = colour_boxes(self.boxes, self.overlay, self.times)
        if spec.is_scale:
            self.legend.show_scale(spec.title, spec.lo, spec.hi)
        else:
            self.legend.show_kinds(spec.kinds)

    def _measure_times(self) -> None:
        """Time every module in one forward pass of the live model, in the model's own thread."""
        handle, graph = self.state.handle, self.graph
        if handle is None or graph is None or graph.model_name != handle.name:
            self.state.show_error("no model is loaded to time")
            return
        self._time_token += 1
        token, shape = self._time_token, graph.input_shape
        self.status.setText("timing a forward pass…")

        def work(live: "ModelHandle") -> dict[str, float]:
            from explorer.core.errors import ExplorerError
            from explorer.core.module_timing import time_modules

            if live is not handle:
                raise ExplorerError("the model changed before it could be timed")
            return time_modules(live.model, shape)

        self.bridge.run_on_model(work, lambda times: self._times_done(token, times),
                                 lambda message: self._times_failed(token, message))

    def _times_done(self, token: int, times: dict[str, float]) -> None:
        if token != self._time_token:
            return
        self.times = times
        self.status.setText(f"forward pass {times.get('', 0.0) * 1000:.1f} ms")
        for bid, box in self.boxes.items():
            t = self.overlay_value(bid) if self.overlay == "time" else None
            if t:
                box.set_tooltip(f"time {t * 1000:.2f} ms")
        if self.overlay == "time":
            self._recolor()
        self.timesReady.emit()

    def _times_failed(self, token: int, message: str) -> None:
        if token != self._time_token:
            return
        self.status.setText("")
        self.state.show_error(f"timing failed: {message}")

    # -- export -----------------------------------------------------------------------------------------------
    def _export_dialog(self, kind: str) -> None:
        if self.graph is None:
            self.state.show_error("no graph to export")
            return
        filters = {"svg": "SVG (*.svg)", "png": "PNG (*.png)", "csv": "CSV (*.csv)"}
        path = ask_export_path(self, "Export graph", f"{self.graph.model_name}.{kind}", filters[kind])
        if not path:
            return
        writers = {"svg": self.export_svg, "png": self.export_png, "csv": self.export_csv}
        try:
            writers[kind](path)
        except OSError as exc:
            self.state.show_error(f"could not save {path}: {exc.strerror or exc}")
        else:
            self.state.show_message(f"saved {path}", answer=True)

    def _export_rect(self) -> QRectF:
        return self.area() if self.layout_result is not None else self.scene.itemsBoundingRect()

    def picture(self) -> export.Picture:
        """The graph as the window shows it, under its model and input and over its legend, without the
        selection and search marks (export.Picture)."""
        name = self.graph.model_name if self.graph else "graph"
        title = " · ".join(t for t in (name, caption(self.graph, self.state.handle)[0]) if t)
        return export.Picture(self.scene, self._export_rect(), self.boxes.values(), self.legend, title)

    def export_svg(self, path: str | Path) -> None:
        export.export_svg(self.picture(), path, self.graph.model_name if self.graph else "graph")

    def export_png(self, path: str | Path, scale: float = 1.5) -> None:
        export.export_png(self.picture(), path, scale)

    def export_csv(self, path: str | Path) -> None:
        if self.graph is not None:
            export.export_csv(self.graph, path)
