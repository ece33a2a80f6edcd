"""The files an index run could not decode stay named in the top-patches pane after the run (new-user trial: the
status bar's "Skipped 2 …" went after its 10 s, and a user who looked away never knew which files they were).
Built on the feature-map dock of tests/test_ui_top_patches.py (fasterrcnn-tiny on a folder of generated scenes
with an undecodable broken.jpg), with a second file that does not decode."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from tests.test_ui_top_patches import dock, index_and_wait  # noqa: F401 - `dock` is a fixture

TIMEOUT = 120_000


def test_the_files_a_run_skipped_stay_named_in_the_pane_until_the_next_run(qtbot, dock):  # noqa: F811
    d = dock
    (d.root / "sub" / "notes.png").write_bytes(b"a text file with an image's name")
    bar = d.view.progress
    _, summary = index_and_wait(qtbot, d, lambda: d.view.start_index())
    assert sorted(s.path for s in summary.skipped) == sorted(str(p) for p in (d.root / "broken.jpg",
                                                                               d.root / "sub" / "notes.png"))
    assert any("Skipped 2 that could not be decoded" in m for m in d.messages)   # the note, for its time
    # the pane keeps a line naming them, whole paths in its tooltip; the progress bar and Cancel are gone
    assert bar.isVisible() and bar.skipped_label.isVisible()
    assert not bar.bar.isVisible() and not bar.cancel_button.isVisible()
    line = bar.skipped_label.text()
    assert "Skipped 2 files that could not be decoded" in line and "broken.jpg" in line and "notes.png" in line
    tip = bar.skipped_label.toolTip()
    assert str(d.root / "broken.jpg") in tip and str(d.root / "sub" / "notes.png") in tip and "View > Messages" in tip
    d.state.show_message("Something else happened.")   # a later note does not take it away
    qtbot.wait(50)
    assert bar.skipped_label.isVisible()
    # the next run: the line goes while it runs, and the run says again what it skipped
    seen_while_running: list[bool] = []
    d.view.runner.started.connect(lambda _job: seen_while_running.append(bar.skipped_label.isVisible()))
    (d.root / "notes.png").write_bytes(b"not an image either")
    _, again = index_and_wait(qtbot, d, lambda: d.view.start_index())
    assert seen_while_running == [False] and len(again.skipped) == 3
    assert "Skipped 3 files" in bar.skipped_label.text() and bar.isVisible()
    dismiss = next(b for b in bar.findChildren(QToolButton) if b.text() == "✕")
    qtbot.mouseClick(dismiss, Qt.MouseButton.LeftButton)
    assert not bar.isVisible()
    # a run with nothing skipped leaves no line
    for name in ("broken.jpg", "notes.png", "sub/notes.png"):
        (d.root / name).unlink()
    _, clean = index_and_wait(qtbot, d, lambda: d.view.start_index())
    assert not clean.skipped and not bar.isVisible()
    assert not d.errors
