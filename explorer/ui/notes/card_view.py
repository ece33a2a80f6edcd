"""Model cards for every zoo entry: year, paper, key idea, parameters and MACs."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from explorer.ui.notes.common import BackgroundRunner, current_handle, note_label, title_label

COLUMNS = ["Model", "Year", "Family", "Key idea", "Parameters", "MACs"]


def card_html(card: Any) -> str:
    link = f" <a href='{card.url}'>{card.url}</a>" if card.url else ""
    source = f" <span style='color:#5f6368'>({card.source} at {card.input_size[1]}×{card.input_size[0]})</span>" \
        if card.source else ""
    return (f"<p><b>{card.family}</b> · {card.task} · {card.year}</p>"
            f"<p><b>Paper:</b> {card.paper}.{link}</p>"
            f"<p><b>Key idea:</b> {card.key_idea}</p>"
            f"<p><b>Parameters:</b> {card.params_text} &nbsp; <b>MACs:</b> {card.macs_text}{source}</p>")


class CardView(QWidget):
    def __init__(self, state: Any, window: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from explorer.core import zoo
        from explorer.core.notes.cards import all_cards
        self.state, self.window_ = state, window
        self.setWindowTitle("Model cards")
        self.cards = {c.name: c for c in all_cards()}
        self.runner = BackgroundRunner(self)
        self.runner.finished.connect(self._on_totals)
        self.runner.failed.connect(lambda m: self.status.setText(f"<span style='color:#c00'>{m}</span>"))
        root = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        self.combo = QComboBox()
        for name in zoo.names():
            self.combo.addItem(name, name)
        handle = current_handle(state)
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
        root.addWidget(QLabel("<b>All models</b> (parameters and MACs appear once computed; select a model above)"))
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
        self._fill_table()
        self.show_selected()
        if hasattr(state, "graphChanged"):
            state.graphChanged.connect(lambda _g: self.show_selected())

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def _fill_table(self) -> None:
        for r, card in enumerate(self.cards.values()):
            values = (card.name, str(card.year), card.family, card.key_idea,
                      "" if card.params is None else f"{card.params / 1e6:.1f} M",
                      "" if card.macs is None else f"{card.macs / 1e9:.2f} G")
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c in (1, 4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)

    def show_selected(self) -> None:
        from dataclasses import replace
        name = self.combo.currentData()
        card = self.cards[name]
        graph = getattr(self.state, "graph", None)
        if card.params is None and graph is not None and getattr(graph, "model_name", "") == name:
            card = replace(card, params=graph.total_params, macs=graph.total_macs, source="captured graph")
            self.cards[name] = card
            self._fill_table()
        self.title.setText(f"{name}")
        self.body.setText(card_html(card))
        if card.params is None:
            handle = current_handle(self.state)
            model = handle.model if handle is not None and handle.name == name else None

            def work() -> Any:
                from explorer.core.notes.cards import card_with_totals
                return card_with_totals(name, model)

            self.status.setText(f"Counting {name}'s parameters and MACs in a worker thread…")
            self.runner.submit(work)
        else:
            self.status.setText("")

    def _on_totals(self, card: Any) -> None:
        self.cards[card.name] = card
        self._fill_table()
        if card.name == self.combo.currentData():
            self.body.setText(card_html(card))
            self.status.setText("")
