"""Model cards for every zoo entry: year, paper, key idea, parameters and MACs.

The table fills itself: the current model's totals come from the app's captured graph, every other model is
built with random weights and counted in the background, one model at a time (each freed before the next is
built), with the progress on the status line ("Counting … 3 of 16"). Closing the window stops the counting;
showing it again goes on where it stopped (counted totals are kept: explorer.core.notes.cards.counted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from explorer.ui.notes.common import NotesView, note_label, title_label

if TYPE_CHECKING:
    from explorer.core.notes.cards import CardData
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

COLUMNS = ["Model", "Year", "Family", "Key idea", "Parameters", "MACs"]


def card_html(card: "CardData") -> str:
    link = f" <a href='{card.url}'>{card.url}</a>" if card.url else ""
    source = f" <span style='color:#5f6368'>({card.source} at {card.input_size[1]}×{card.input_size[0]})</span>" \
        if card.source else ""
    # what the MACs assume (a detector's proposal count) and what torchvision's published figure counts
    assumption = f"<br><span style='color:#5f6368'>{card.macs_assumption}.</span>" if card.macs_assumption else ""
    year = f" · {card.year_text}" if card.year else ""  # a model from elsewhere has no paper year to show
    return (f"<p><b>{card.family}</b> · {card.task}{year}</p>"
            f"<p><b>Paper:</b> {card.paper}.{link}</p>"
            f"<p><b>Key idea:</b> {card.key_idea}</p>"
            f"<p><b>Parameters:</b> {card.params_text} &nbsp; <b>MACs:</b> {card.macs_text}{source}{assumption}</p>")


class CardView(NotesView):
    """A model's card above a table of all of them; the table's missing totals are counted in the background."""

    TITLE = "Model cards"

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(state, bridge, parent)
        from explorer.core import zoo
        from explorer.core.notes import cards
        self.cards: dict[str, CardData] = {c.name: cards.counted(c.name) or c for c in cards.all_cards()}
        self.counting = ""        # the model being counted now ("" = none)
        self.failed: dict[str, str] = {}   # models that could not be counted, and why: not tried again
        root = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        self.combo = QComboBox()
        for name in zoo.names():
            self.combo.addItem(name, name)
        handle = state.handle
        self.combo.setCurrentIndex(max(self.combo.findData(handle.name if handle is not None else "alexnet"), 0))
        self.combo.currentIndexChanged.connect(self.show_selected)
        row.addWidget(self.combo)
        row.addStretch(1)
        root.addLayout(row)
        self.title = title_label("", 14)
        root.addWidget(self.title)
        self.body = note_label()
        self.body.setOpenExternalLinks(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        root.addWidget(self.body)
        self.status = note_label("")
        root.addWidget(self.status)
        root.addWidget(QLabel("<b>All models</b> (click a row to see its card)"))
        self.table = QTableWidget(len(self.cards), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        # rows follow the wrapped key idea's height whatever the window's width
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.cellClicked.connect(lambda r, _c: self.combo.setCurrentIndex(r))
        root.addWidget(self.table, 1)
        self._take_graph_totals()
        self._fill_table()
        self.show_selected()
        state.graphChanged.connect(lambda _g: (self._take_graph_totals(), self.show_selected()))

    # -- totals ---------------------------------------------------------------------------------------------
    def _take_graph_totals(self) -> None:
        """The current model's totals from the app's captured graph: nothing to build or run."""
        from explorer.core.notes.cards import remember, with_graph
        graph, handle = self.state.graph, self.state.handle
        if graph is None or handle is None or graph.model_name not in self.cards:
            return
        name = graph.model_name
        if self.cards[name].params is None:
            self.cards[name] = remember(with_graph(self.cards[name], graph))
            self._fill_row(name)

    def missing(self) -> list[str]:
        """Models still without totals: the one on show first, then in the table's order."""
        names = [n for n, c in self.cards.items() if c.params is None and n not in self.failed]
        chosen = self.combo.currentData()
        return sorted(names, key=lambda n: n != chosen)

    def _count_next(self) -> None:
        """Count the next model without totals (one job at a time, so the graph's layouts are not held up)."""
        if self.counting or not self.isVisible():
            return
        todo = self.missing()
        if not todo:
            self.status.setText("")
            return
        name = self.counting = todo[0]
        done = len(self.cards) - len(todo)
        self.status.setText(f"Counting parameters and MACs of every model, one at a time: {done + 1} of "
                            f"{len(self.cards)} ({name})…")

        def work() -> Any:
            from explorer.core.notes.cards import count
            return count(name)

        self.jobs.submit("count", work, self._on_counted, self._on_failed)

    def _on_counted(self, card: "CardData") -> None:
        self.counting = ""
        self.cards[card.name] = card
        self._fill_row(card.name)
        if card.name == self.combo.currentData():
            self.body.setText(card_html(card))
        self._count_next()

    def _on_failed(self, message: str) -> None:
        name, self.counting = self.counting, ""
        self.failed[name] = message      # its row says so; the others are counted all the same
        self._fill_row(name)
        self._count_next()
        if not self.counting:
            self.status.setText(f"<span style='color:#c00'>{name} could not be counted: {message}</span>")

    # -- showing --------------------------------------------------------------------------------------------
    def _fill_table(self) -> None:
        for name in self.cards:
            self._fill_row(name)

    def _fill_row(self, name: str) -> None:
        r = list(self.cards).index(name)
        card = self.cards[name]
        unknown = "failed" if name in self.failed else "…"
        year = ("project, " if card.project_model else "") + str(card.year) if card.year else "–"
        values = (card.name, year, card.family, card.key_idea,
                  unknown if card.params is None else f"{card.params / 1e6:.1f} M",
                  unknown if card.macs is None else f"{card.macs / 1e9:.2f} G")
        for c, text in enumerate(values):
            item = QTableWidgetItem(text)
            if c in (1, 4, 5):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(r, c, item)

    def show_selected(self) -> None:
        name = self.combo.currentData()
        self.title.setText(name)
        self.body.setText(card_html(self.cards[name]))

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self._count_next()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().closeEvent(event)   # cancels the count in progress: it starts again when shown
        self.counting = ""
