"""The notes hub: the current model's card and a button for each of the notes' views.

`VIEWS` lists the views as (title, "module:Class"); `open_view(state, bridge, ref, parent)` builds one as
`Class(state, bridge)` and shows it as its own window, a child of `parent` for its lifetime (kept and raised
again on the next click). The main window's Notes menu lists VIEWS too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGridLayout, QPushButton, QVBoxLayout, QWidget

from explorer.ui.notes.common import note_label, title_label

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

VIEWS: list[tuple[str, str]] = [
    ("Model cards", "explorer.ui.notes.card_view:CardView"),
    ("R-CNN: proposals and warps", "explorer.ui.notes.rcnn_view:RcnnView"),
    ("SPPNet: spatial pyramid pooling", "explorer.ui.notes.spp_view:SppView"),
    ("Fast R-CNN: RoI pooling", "explorer.ui.notes.roi_view:RoiView"),
    ("Faster R-CNN pipeline", "explorer.ui.notes.faster_pipeline_view:FasterPipelineView"),
    ("FCN: output size follows input", "explorer.ui.notes.fcn_view:FcnView"),
    ("Charts: ILSVRC, params vs MACs, stages", "explorer.ui.notes.charts_view:ChartsView"),
    ("Parameter calculator", "explorer.ui.notes.calculator_view:CalculatorView"),
]

VIEW_SIZES = {"RcnnView": (1100, 800), "SppView": (1150, 820), "RoiView": (1150, 820), "FcnView": (1000, 800),
              "ChartsView": (1000, 650), "CalculatorView": (1000, 800), "CardView": (1000, 760),
              "FasterPipelineView": (1250, 330)}

SCREEN_MARGIN = 8      # pixels kept free at the available area's edges
FRAME_ALLOWANCE = 40   # the window manager's title bar and borders, which the view's own size leaves out


def place_on_screen(view: QWidget, size: tuple[int, int], anchor: QWidget | None) -> None:
    """Size `view` to `size`, or less where the screen's available area (no task bars) is smaller, and put it over
    `anchor`'s window (else the screen's centre), kept whole inside that area: a 760 px tall window used to open
    at y = 255 on a 1000 px screen with its bottom cut off."""
    screen = (anchor.screen() if anchor is not None else None) or QGuiApplication.primaryScreen()
    if screen is None:
        view.resize(*size)
        return
    area = screen.availableGeometry()
    w = max(min(size[0], area.width() - 2 * SCREEN_MARGIN), 200)
    h = max(min(size[1], area.height() - 2 * SCREEN_MARGIN - FRAME_ALLOWANCE), 150)
    view.resize(w, h)
    w, h = view.width(), view.height()          # a minimum size may have won
    centre = anchor.window().frameGeometry().center() if anchor is not None and anchor.isVisible() \
        else area.center()
    x = min(max(centre.x() - w // 2, area.left() + SCREEN_MARGIN), area.right() + 1 - SCREEN_MARGIN - w)
    y = min(max(centre.y() - (h + FRAME_ALLOWANCE) // 2, area.top() + SCREEN_MARGIN),
            area.bottom() + 1 - SCREEN_MARGIN - FRAME_ALLOWANCE - h)
    view.move(max(x, area.left()), max(y, area.top()))


# open views per AppState: (id(state), ref) -> widget; a closed view is only hidden and comes back as it was
_OPEN: dict[tuple[int, str], QWidget] = {}


def _resolve(ref: str) -> type:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)   # a view class named by the VIEWS table


def open_view(state: "AppState", bridge: "SessionBridge", ref: str, parent: QWidget | None) -> QWidget:
    """Show the view `ref` ("module:Class") for this state, building it on first use as a window of its own
    whose Qt parent is `parent` (it goes when that goes; None: the caller keeps it)."""
    key = (id(state), ref)
    view = _OPEN.get(key)
    if view is None:
        cls = _resolve(ref)
        view = cls(state, bridge)
        view.setParent(parent, view.windowFlags() | Qt.WindowType.Window)
        place_on_screen(view, VIEW_SIZES.get(cls.__name__, (1000, 750)), parent)
        view.destroyed.connect(lambda *_: _OPEN.pop(key, None))
        _OPEN[key] = view
    view.show()
    view.raise_()
    view.activateWindow()
    return view


class NotesPanel(QWidget):
    """A dock panel: the current model's card (year, paper, key idea, params, MACs) and the notes' views."""

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.bridge = state, bridge
        root = QVBoxLayout(self)
        self.title = title_label("No model loaded", 12)
        root.addWidget(self.title)
        self.card = note_label("Load a model to see its card.")
        self.card.setOpenExternalLinks(True)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        root.addWidget(self.card)
        root.addWidget(title_label("From the study notes", 11))
        grid = QGridLayout()
        self.buttons: dict[str, QPushButton] = {}
        for i, (title, ref) in enumerate(VIEWS):
            button = QPushButton(title)
            button.clicked.connect(lambda _=False, r=ref: self.open(r))
            self.buttons[ref] = button
            grid.addWidget(button, i // 2, i % 2)
        root.addLayout(grid)
        root.addStretch(1)
        state.modelChanged.connect(lambda _h: self.refresh())
        state.graphChanged.connect(lambda _g: self.refresh())
        self.refresh()

    def open(self, ref: str) -> QWidget:
        """Open a view as a window of the one this panel is in (the main window, or the panel itself alone)."""
        return open_view(self.state, self.bridge, ref, self.window())

    def refresh(self) -> None:
        from explorer.core.notes.cards import card_of, with_graph
        from explorer.ui.notes.card_view import card_html
        handle = self.state.handle
        if handle is None:
            return
        c = card_of(handle.entry)
        graph = self.state.graph
        if graph is not None and graph.model_name == handle.name:
            c = with_graph(c, graph)
        self.title.setText(handle.name)        # the year is on the card's first line, once
        note = f"<p><i>{handle.weights_note}</i></p>" if handle.weights_note else ""
        if c.params is None:
            note += "<p><i>Parameters and MACs appear once the model's graph is captured.</i></p>"
        self.card.setText(card_html(c) + note)
