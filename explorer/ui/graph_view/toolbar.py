"""The graph's controls: expand/collapse/fit, search, colouring and export, flowing onto as many lines as the
pane's width needs.

A QToolBar put Colour and Export behind its » extension button at a 1280 px window (and at 1400 px once the
search showed its count), and that button did nothing (issue 21); a flow of plain tool buttons keeps every
control on screen at any width the window allows.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QMenu, QToolButton, QWidget

from explorer.ui.flow_layout import FlowBox, group
from explorer.ui.graph_view.style import OVERLAYS

EXPORTS: list[tuple[str, str]] = [("svg", "Graph as SVG…"), ("png", "Graph as PNG…"), ("csv", "Layer table as CSV…")]


def _button(action: QAction) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    button.setAutoRaise(True)
    return button


class GraphToolbar(FlowBox):
    """Controls only: the panel connects their actions and signals to what they do."""

    exportRequested = Signal(str)   # "svg", "png" or "csv"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, spacing=6, line_spacing=2)
        self.setContentsMargins(4, 2, 4, 2)
        self.act_expand_all = QAction("Expand all", self)
        self.act_collapse_all = QAction("Collapse all", self)
        self.act_fit = QAction("Fit (F)", self)
        self.act_fit.setToolTip("Fit the graph in view, as far as its labels stay readable (F)")
        self.act_overview = QAction("Overview", self)
        self.act_overview.setCheckable(True)
        self.act_overview.setChecked(True)
        self.act_overview.setToolTip("Show an overview of the whole graph beside the view while the graph does "
                                     "not fit in it")
        self.act_prev = QAction("◀", self)
        self.act_prev.setToolTip("Previous match (Shift+F3)")
        self.act_next = QAction("▶", self)
        self.act_next.setToolTip("Next match (F3, Enter)")

        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search names and ops (Ctrl+F)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMinimumWidth(150)
        self.search_box.setMaximumWidth(240)
        self.match_label = QLabel("")
        self.match_label.setStyleSheet("color: #546e7a")

        self.overlay_combo = QComboBox()
        self.overlay_combo.setToolTip("What the boxes' colour shows")
        for key, label in OVERLAYS:
            self.overlay_combo.addItem(label, key)

        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        self.export_button.setAutoRaise(True)
        self.export_menu = QMenu(self.export_button)
        for kind, text in EXPORTS:
            self.export_menu.addAction(text, lambda k=kind: self.exportRequested.emit(k))
        self.export_button.setMenu(self.export_menu)

        self.buttons = {a: _button(a) for a in (self.act_expand_all, self.act_collapse_all, self.act_fit,
                                                self.act_overview, self.act_prev, self.act_next)}
        flow = self.flow
        flow.addWidget(group(*(self.buttons[a] for a in (self.act_expand_all, self.act_collapse_all,
                                                         self.act_fit)), spacing=0))
        # an item of its own: in one group with the three above it made the toolbar, and so the graph, 290 px
        # wide at least, which took the image's room in a 720 px window
        flow.addWidget(self.buttons[self.act_overview])
        flow.addWidget(group(self.search_box, self.buttons[self.act_prev], self.buttons[self.act_next],
                             self.match_label, spacing=2))
        flow.addWidget(group(QLabel("Colour:"), self.overlay_combo))
        flow.addWidget(self.export_button)
        self.set_match_text("")

    def controls(self) -> list[QWidget]:
        """Every control a user reaches here (tests check that each is on screen at the window's widths)."""
        return [*self.buttons.values(), self.search_box, self.overlay_combo, self.export_button]

    def set_match_text(self, text: str) -> None:
        self.match_label.setText(text)
        self.match_label.setVisible(bool(text))

    def set_overlay(self, mode: str) -> None:
        i = self.overlay_combo.findData(mode)
        if i >= 0 and self.overlay_combo.currentIndex() != i:
            self.overlay_combo.setCurrentIndex(i)

    def overlay_at(self, index: int) -> str:
        return str(self.overlay_combo.itemData(index))

