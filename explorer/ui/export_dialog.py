"""Where an export is saved: one Save dialog for every export of the window (graph PNG/SVG, mosaic PNG, NPY, …).

It starts in the folder the user saved the last export to (settings `exportDir`), else in their Pictures or
home folder, never in the working directory the app was started from (a source checkout, new-user trial), and
remembers the folder chosen. Qt's own dialogs do not remember: getSaveFileName starts where it is told.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from explorer.ui.settings import open_settings, read_str

EXPORT_DIR_KEY = "exportDir"


def export_dir() -> Path:
    """The folder an export dialog starts in: the last one saved to, if it still exists, else Pictures, else
    home."""
    last = read_str(open_settings(), EXPORT_DIR_KEY, "")
    if last and Path(last).is_dir():
        return Path(last)
    for location in (QStandardPaths.StandardLocation.PicturesLocation, QStandardPaths.StandardLocation.HomeLocation):
        folder = QStandardPaths.writableLocation(location)
        if folder and Path(folder).is_dir():
            return Path(folder)
    return Path.home()


def remember_export_dir(path: str | Path) -> None:
    """The folder of a saved export: where the next export dialog starts."""
    open_settings().setValue(EXPORT_DIR_KEY, str(Path(path).parent))


def ask_export_path(parent: QWidget | None, caption: str, file_name: str, file_filter: str) -> str:
    """A Save dialog for `file_name` in the last export folder; the chosen path ('' when cancelled). The folder
    is remembered when a path is chosen."""
    path, _ = QFileDialog.getSaveFileName(parent, caption, str(export_dir() / file_name), file_filter)
    if path:
        remember_export_dir(path)
    return path
