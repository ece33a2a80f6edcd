"""The files an index run could not decode stay named in the top-patches pane after the run (new-user trial: the
status bar's "Skipped 2 …" went after its 10 s, and a user who looked away never knew which files they were).
Built on the feature-map dock of tests/test_ui_top_patches.py (fasterrcnn-tiny on a folder of generated scenes
with an undecodable broken.jpg), with a second file that does not decode."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from tests.conftest import open_model_and_wait
from tests.test_ui_top_patches import MODEL, WEIGHTS, dock, index_and_wait  # noqa: F401 - `dock` is a fixture

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


def test_the_skipped_line_belongs_to_its_runs_model_and_layers(qtbot, dock):  # noqa: F811
    """New-user trial: "Skipped 1 file … broken.jpg" stayed through vgg16, a video, another detector and
    densenet121. It stays for the run's model while a layer it indexed is shown, hides for another layer, and goes
    for good with another model (opening the first model again does not bring it back)."""
    d = dock
    bar = d.view.progress
    index_and_wait(qtbot, d, lambda: d.view.start_index())
    assert bar.isVisible() and "broken.jpg" in bar.skipped_label.text()
    # another layer of the same model: not this index's line
    d.state.select("backbone.0")
    qtbot.waitUntil(lambda: d.fm.frame is not None and d.fm.frame.layer == "backbone.0", timeout=TIMEOUT)
    assert not bar.isVisible()
    d.state.select("backbone")   # back to the layer the run indexed: the line is about it again
    qtbot.waitUntil(lambda: d.fm.frame is not None and d.fm.frame.layer == "backbone", timeout=TIMEOUT)
    assert bar.isVisible() and bar.skipped_label.isVisible()
    # other things (a note, another image of the folder) leave it
    d.state.show_message("Something else happened.")
    assert d.bridge.show_folder_file(str(d.paths[1]))
    qtbot.wait(200)
    assert bar.isVisible()
    # another model: gone, and not back with the first model
    open_model_and_wait(qtbot, d.state, d.bridge, "yolov1-tiny", "bundled")
    assert not bar.isVisible() and bar.skipped_job is None
    open_model_and_wait(qtbot, d.state, d.bridge, MODEL, WEIGHTS, "cpu")
    d.state.select("backbone")
    qtbot.waitUntil(lambda: d.fm.frame is not None and d.fm.frame.layer == "backbone", timeout=TIMEOUT)
    assert not bar.isVisible()
    # the same model's next run says its own again
    _, again = index_and_wait(qtbot, d, lambda: d.view.start_index())
    assert again.skipped and bar.isVisible() and "broken.jpg" in bar.skipped_label.text()
    # other weights of the same model are another index too
    open_model_and_wait(qtbot, d.state, d.bridge, MODEL, "random", "cpu")
    assert not bar.isVisible() and bar.skipped_job is None
