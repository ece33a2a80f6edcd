"""A plain layer table of the captured graph: name, type, output shape, parameters, MACs, receptive field.

Used as the graph area when the graph viewer cannot be shown, and as a compact list to pick a layer from.
Shapes are written per image, as everywhere in the app (explorer.core.graph_view.shape_text).

The list usually sits in the narrow left column, so the output shape comes right after the name and the name
column takes only the width the shape leaves (long names elided in the middle, whole in their tooltip); the
other figures are a sideways scroll away (new-user trial: the shapes were cut off at the first view).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from explorer.core.graph_view import shape_text
from explorer.ui.state import AppState, Selection

if TYPE_CHECKING:
    from explorer.core.graph import ModelGraph
    from explorer.ui.bridge import SessionBridge

COLUMNS = ["Layer", "Output", "Type", "Params", "MACs", "RF", "Stride"]
NAME, SHAPE = 0, 1
MIN_NAME_CHARS = 10   # the name column never gets narrower than this, whatever the shapes need


class LayerList(QWidget):
    """One row per call; picking a row selects that call, and the list follows the app's selection."""

    def __init__(self, state: AppState, bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        # a short title: "Output shape" made the column half as wide again as its shapes
        self.tree.headerItem().setToolTip(SHAPE, "Output shape, per image: channels×height×width")
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setRootIsDecorated(False)          # a flat list: no branch indentation eating the name's width
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # "layer2…sample.0": both ends of a path tell
        self._fitting = False
        self._name_sized_by_user = False
        self.tree.header().sectionResized.connect(self._on_section_resized)
        self.tree.viewport().installEventFilter(self)   # its width changes with the dock and the scroll bar
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self._items: dict[str, QTreeWidgetItem] = {}
        state.graphChanged.connect(self.set_graph)
        state.selectionChanged.connect(self._on_selection)
        self.tree.currentItemChanged.connect(self._on_current)
        if state.graph is not None:
            self.set_graph(state.graph)

    def set_graph(self, graph: "ModelGraph | None") -> None:
        self.tree.clear()
        self._items.clear()
        if graph is None:
            return
        for node in graph.nodes:
            if node.kind in ("input", "output"):
                continue
            shape = shape_text(node.output_shapes[0]) if node.output_shapes else ""
            item = QTreeWidgetItem([
                node.id, shape, node.op, f"{node.params:,}", f"{node.macs:,}",
                "" if node.receptive_field is None else str(node.receptive_field),
                "" if node.stride is None else str(node.stride)])
            item.setToolTip(NAME, f"{node.id}\n{node.formula}" if node.formula else node.id)  # whole, if elided
            self.tree.addTopLevelItem(item)
            self._items[node.id] = item
        self.fit_columns(all_columns=True)
        self._on_selection(self.state.selection)   # a layer that the new model has too stays picked

    def fit_columns(self, all_columns: bool = False) -> None:
        """Size the name column to what the view leaves beside the output shapes (at most its contents); with
        `all_columns`, size every other column to its contents first (a new graph)."""
        self._fitting = True
        try:
            if all_columns:
                for col in range(len(COLUMNS)):
                    if col != NAME:
                        self.tree.resizeColumnToContents(col)
            if all_columns or not self._name_sized_by_user:
                room = self.tree.viewport().width() - self.tree.columnWidth(SHAPE)
                least = self.tree.fontMetrics().averageCharWidth() * MIN_NAME_CHARS
                wanted = max(self.tree.sizeHintForColumn(NAME), self.tree.header().sectionSizeHint(NAME))
                self.tree.setColumnWidth(NAME, max(least, min(wanted, room)))
        finally:
            self._fitting = False

    def _on_section_resized(self, column: int, _old: int, _new: int) -> None:
        if column == NAME and not self._fitting:   # the user dragged it: keep that width while the view resizes
            self._name_sized_by_user = True

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self.tree.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(obj, event)

    def _on_current(self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None) -> None:
        if current is not None:
            self.state.select(current.text(0))

    def _on_selection(self, selection: Selection) -> None:
        self._follow_selection(selection.item)

    def _follow_selection(self, node_id: str) -> None:
        """Show the app's selection: its row selected and scrolled to, or no selection at all when the list has
        no row for it (a block such as "stem", the input, none) rather than the previous layer's row."""
        item = self._items.get(node_id)   # a node id; a leaf module's path is the id of its first call
        if item is not None and self.tree.currentItem() is item and item.isSelected():
            return
        # Blocked: the tree's currentItemChanged would write the row back into the state (state → list → state).
        with QSignalBlocker(self.tree):
            if item is None:
                self.tree.selectionModel().clear()      # the current index too: no stale focus frame
            else:
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item, QAbstractItemView.EnsureVisible)
