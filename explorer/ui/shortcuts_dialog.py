"""Help > Keyboard shortcuts: every menu command that has a shortcut, read from the menus themselves (so the
list cannot drift from what the keys do), plus the views' own keys."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMenuBar, QPushButton, QTableWidgetItem, QVBoxLayout, QWidget

from explorer.ui.dialog_parts import close_on_keys, readout_table

# keys handled inside views rather than by menu commands
VIEW_KEYS = [
    ("Graph", "F", "fit the graph to the view"),
    ("Graph", "Arrow keys", "move the selection to the next layer"),
    ("Graph", "Enter / double click", "open or close the selected block"),
    ("Graph", "Ctrl+F", "search names and ops"),
    ("Feature maps", "Mouse wheel / double click", "zoom the mosaic / fit it again"),
    ("Messages and notes windows", "Esc, Ctrl+W", "close the window"),
]


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """(menu, key, command) for every action with a shortcut, in menu order."""
    rows: list[tuple[str, str, str]] = []

    def walk(actions: list[QAction], where: str) -> None:
        for action in actions:
            menu = action.menu()
            if menu is not None:
                walk(menu.actions(), f"{where} › {menu.title().replace('&', '')}" if where else
                     menu.title().replace("&", ""))
            elif not action.shortcut().isEmpty():
                rows.append((where, action.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
                             action.text().replace("&", "").rstrip("…")))

    walk(bar.actions(), "")
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, bar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        self.resize(560, 520)
        rows = menu_shortcuts(bar) + VIEW_KEYS
        self.table = readout_table(["where", "keys", "what"])
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(close)
        close_on_keys(self)
