"""A plain layer table of the captured graph: name, type, output shape, parameters, MACs, receptive field.

Used as the graph area when the graph viewer cannot be shown, and as a compact list to pick a layer from.
Shapes are written per image, as everywhere in the app (explorer.core.graph_view.shape_text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSignalBlocker
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from explorer.core.graph_view import shape_text
from explorer.ui.state import AppState, Selection

if TYPE_CHECKING:
    from explorer.core.graph import ModelGraph
    from explorer.ui.bridge import SessionBridge

COLUMNS = ["Layer", "Type", "Output shape", "Params", "MACs", "RF", "Stride"]


class LayerList(QWidget):
    """One row per call; picking a row selects that call, and the list follows the app's selection."""

    def __init__(self, state: AppState, bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
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
                node.id, node.op, shape, f"{node.params:,}", f"{node.macs:,}",
                "" if node.receptive_field is None else str(node.receptive_field),
                "" if node.stride is None else str(node.stride)])
            item.setToolTip(0, node.formula or node.id)
            self.tree.addTopLevelItem(item)
            self._items[node.id] = item
        for col in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(col)
        self._on_selection(self.state.selection)   # a layer that the new model has too stays picked

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
