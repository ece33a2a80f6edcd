"""What the app's small windows share (View > Messages, Help > Keyboard shortcuts, the notes' windows): the keys
that close them and a read-only table whose last column takes the width."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHeaderView, QTableWidget, QWidget


def close_on_keys(window: QWidget) -> None:
    """Esc, Ctrl+W and the platform's own Close close `window` (on Linux and Windows that is Ctrl+F4, not
    Ctrl+W, which a user expects all the same)."""
    keys = {QKeySequence(Qt.Key.Key_Escape), QKeySequence("Ctrl+W"),
            *QKeySequence.keyBindings(QKeySequence.StandardKey.Close)}
    for key in keys:
        QShortcut(key, window, activated=window.close, context=Qt.ShortcutContext.WindowShortcut)


def readout_table(headers: list[str]) -> QTableWidget:
    """A read-only table: no row numbers, every column as wide as its contents but the last, which stretches."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    header = table.horizontalHeader()
    for column in range(len(headers) - 1):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
    return table
