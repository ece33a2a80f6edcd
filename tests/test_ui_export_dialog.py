"""Export dialogs start where the user saved the last export (new-user trial: every Save dialog opened in the
working directory the app was started from, a source checkout)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog

from explorer.ui.export_dialog import ask_export_path, export_dir


def test_an_export_dialog_starts_in_the_folder_of_the_last_export(qtbot, tmp_path, monkeypatch):
    """Qt's Save dialog is modal and native: it is replaced by one that records where it was asked to start and
    answers as a user would (a file in a folder of their own, then Cancel)."""
    asked: list[str] = []
    answers = [str(tmp_path / "mine" / "graph.png"), ""]
    (tmp_path / "mine").mkdir()

    def dialog(_parent, _caption, start, _filter):
        asked.append(start)
        return answers.pop(0), _filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(dialog))
    first_start = export_dir()
    # a first export: the user's Pictures (or home), never the working directory the app was started from
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    assert first_start in {Path(p) for p in (pictures, str(Path.home())) if p}
    assert ask_export_path(None, "Export graph", "resnet18.png", "PNG (*.png)") == str(tmp_path / "mine" / "graph.png")
    assert asked[0] == str(first_start / "resnet18.png")
    assert ask_export_path(None, "Export mosaic", "conv1.png", "PNG (*.png)") == ""   # cancelled: nothing kept
    assert asked[1] == str(tmp_path / "mine" / "conv1.png")                          # where the last one went
    (tmp_path / "mine").rmdir()                                                      # a folder since removed
    assert export_dir() == first_start
