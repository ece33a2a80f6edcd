"""The graph's controls: expand/collapse/fit, search (its match count inside the field), colouring and export,
flowing onto as many lines as the pane's width needs.

A QToolBar put Colour and Export behind its » extension button at a 1280 px window (and at 1400 px once the
search showed its count), and that button did nothing (issue 21); a flow of plain tool buttons keeps every
control on screen at any width the window allows.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QMenu, QToolButton, QWidget

from explorer.ui.flow_layout import FlowBox, group
from explorer.ui.graph_view.style import OVERLAYS

EXPORTS: list[tuple[str, str]] = [("svg", "Graph as SVG…"), ("png", "Graph as PNG…"), ("csv", "Layer table as CSV…")]


def match_text(count: int, index: int = -1) -> str:
    """"no match", "1 match", "12 matches", or "3/12" while stepping through them."""
    if index >= 0 and count:
        return f"{index + 1}/{count}"
    return "no match" if not count else f"{count} match" if count == 1 else f"{count} matches"


def _button(action: QAction) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    button.setAutoRaise(True)
    return button


class SearchField(QLineEdit):
    """The search box, with the match count inside it at its right end (as a browser's find bar shows it): a
    label beside the box pushed Colour and Export onto a second line while a search ran, and the graph's view
    jumped down with them (new-user trial). The field keeps its size; its text gives the count room."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setClearButtonEnabled(True)
        self.count = QLabel("", self)
        self.count.setStyleSheet("color: #546e7a; background: transparent")
        self.count.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.count.hide()
        # QLineEdit's size hint grows with its text margins and with the clear button, which both come with a
        # search: the toolbar's flow lays items out at their hints, so the field's hint stays that of no search.
        self._hint = super().sizeHint()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(self._hint)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(self._hint)

    def set_count(self, text: str) -> None:
        self.count.setText(text)
        self.count.adjustSize()
        self.count.setVisible(bool(text))
        self.setTextMargins(0, 0, self.count.width() + 4 if text else 0, 0)
        self._place()

    def _place(self) -> None:
        # left of the clear button (a QToolButton child of the field) where it shows
        buttons = [b.geometry().left() for b in self.findChildren(QToolButton) if b.isVisible()]
        right = min(buttons, default=self.width() - 4) - 2
        self.count.move(right - self.count.width(), (self.height() - self.count.height()) // 2)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._place()


class GraphToolbar(FlowBox):
    """Controls only: the panel connects their actions and signals to what they do."""

    exportRequested = Signal(str)   # "svg", "png" or "csv"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, spacing=6, line_spacing=2)
        self.setContentsMargins(4, 2, 4, 2)
        self.act_expand_all = QAction("Expand all", self)
        self.act_collapse_all = QAction("Collapse all", self)
        self.act_fit = QAction("Fit (F)", self)
        self.act_fit.setToolTip("Show the whole graph in the view (F)")
        self.act_overview = QAction("Overview", self)
        self.act_overview.setCheckable(True)
        self.act_overview.setChecked(True)
        self.act_overview.setToolTip("Show an overview of the whole graph beside the view while the graph does "
                                     "not fit in it")
        self.act_prev = QAction("◀", self)
        self.act_prev.setToolTip("Previous match (Shift+F3)")
        self.act_next = QAction("▶", self)
        self.act_next.setToolTip("Next match (F3, Enter)")

        self.search_box = SearchField()
        self.search_box.setPlaceholderText("Search names and ops (Ctrl+F)")
        self.search_box.setMinimumWidth(150)
        self.search_box.setMaximumWidth(240)
        self.match_label = self.search_box.count

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
        flow.addWidget(group(self.search_box, self.buttons[self.act_prev], self.buttons[self.act_next], spacing=2))
        flow.addWidget(group(QLabel("Colour:"), self.overlay_combo))
        flow.addWidget(self.export_button)
        self.show_matches(None)

    def controls(self) -> list[QWidget]:
        """Every control a user reaches here (tests check that each is on screen at the window's widths)."""
        return [*self.buttons.values(), self.search_box, self.overlay_combo, self.export_button]

    def show_matches(self, count: int | None, index: int = -1) -> None:
        """The search's result in its reserved room: nothing without a search, else `match_text`."""
        self.search_box.set_count("" if count is None else match_text(count, index))
        for action in (self.act_prev, self.act_next):
            action.setEnabled(bool(count))

    def set_overlay(self, mode: str) -> None:
        i = self.overlay_combo.findData(mode)
        if i >= 0 and self.overlay_combo.currentIndex() != i:
            self.overlay_combo.setCurrentIndex(i)

    def overlay_at(self, index: int) -> str:
        return str(self.overlay_combo.itemData(index))

