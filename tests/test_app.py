"""The foundation: the main window opens on a real model and photo, opens images, keeps settings, automates."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QDockWidget

from explorer.core import zoo
from explorer.ui.main_window import DEFAULT_IMAGE, MainWindow, StartOptions
from explorer.ui.settings import settings_path

ROOT = Path(__file__).resolve().parents[1]
LOAD_TIMEOUT = 120_000


def _open_window(qtbot, **options) -> MainWindow:
    window = MainWindow(StartOptions(**options))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.state.handle is not None and window.state.frame is not None,
                    timeout=LOAD_TIMEOUT)
    return window


def _frame_source(window: MainWindow) -> str:
    return str(Path(window.state.frame.source).resolve())


def test_window_opens_on_default_model_and_photo(qtbot):
    window = _open_window(qtbot)
    assert window.state.handle.name == zoo.DEFAULT_MODEL
    assert _frame_source(window) == str(DEFAULT_IMAGE.resolve())
    assert window.state.frame.image.shape == (300, 451, 3)  # chelsea.jpg, decoded as RGB
    qtbot.waitUntil(lambda: window.state.graph is not None, timeout=LOAD_TIMEOUT)
    assert window.state.graph.total_params == 11_689_512  # resnet18, torchvision's num_params
    assert window.device_label.text() == "device: CPU"
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Model", "View", "Notes", "Help"]
    assert window.centralWidget() is window.graph_panel
    assert window.inference_panel is not None
    # a still photo has no frame rate: the status bar shows a dash, a stream's rate shows as a number
    qtbot.waitUntil(lambda: window.state.result is not None, timeout=LOAD_TIMEOUT)
    assert window.fps_label.text() == "– fps"
    window.state.fpsChanged.emit(12.34)
    assert window.fps_label.text() == "12.3 fps"


def test_open_image_like_the_menu_and_bad_path_keeps_previous(qtbot, tmp_path):
    window = _open_window(qtbot)
    coffee = ROOT / "resources" / "images" / "coffee.jpg"
    assert window.open_image(str(coffee))  # File > Open image… calls this after its dialog
    assert _frame_source(window) == str(coffee.resolve())
    assert window.state.frame.image.shape == (400, 600, 3)

    errors: list[str] = []
    window.state.error.connect(errors.append)
    assert not window.open_image(str(tmp_path / "missing.jpg"))
    assert errors and "missing.jpg" in errors[-1]
    assert "missing.jpg" in window.status.current
    assert _frame_source(window) == str(coffee.resolve())  # the previous image stays

    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("this is not a JPEG")
    assert not window.open_image(str(not_an_image))
    assert _frame_source(window) == str(coffee.resolve())


def test_drop_an_image_onto_the_window(qtbot):
    window = _open_window(qtbot)
    rocket = ROOT / "resources" / "images" / "rocket.jpg"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(rocket))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert _frame_source(window) == str(rocket.resolve())


def test_settings_persist_across_two_windows(qtbot):
    first = _open_window(qtbot, model="alexnet")
    first.resize(780, 560)  # within the offscreen screen (800×600), so restoring does not clamp it
    size = (first.width(), first.height())
    assert size != (1400, 860)  # not the first-start default
    first.findChild(QDockWidget, "layersDock").setVisible(False)
    first.open_image(str(ROOT / "resources" / "images" / "coffee.jpg"))
    first.close()

    second = MainWindow(StartOptions())
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == size
    assert second.findChild(QDockWidget, "layersDock").isHidden()  # the dock layout
    second.show()
    qtbot.waitUntil(lambda: second.state.handle is not None, timeout=LOAD_TIMEOUT)
    assert second.state.handle.name == "alexnet"  # the last model
    second._fill_recent_menu()
    recent = [a.text() for a in second.recent_menu.actions()]
    assert any("coffee.jpg" in text for text in recent)
    second.close()


def test_corrupt_settings_fall_back_to_defaults(qtbot):
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\xff[window\nstate=@ByteArray(\x01\x02\n[[[\xfe garbage")
    window = _open_window(qtbot)
    assert window.state.handle.name == zoo.DEFAULT_MODEL
    window.close()


def test_unknown_model_on_the_command_line_is_one_error_line():
    result = subprocess.run([sys.executable, "main.py", "--model", "lenet"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.startswith("error: unknown model 'lenet'")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_screenshot_writes_a_png(tmp_path):
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CNN_EXPLORER_SETTINGS_DIR": str(tmp_path / "s")}
    result = subprocess.run([sys.executable, "main.py", "--model", "resnet18", "--screenshot", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_headless_help_lists_subcommands():
    result = subprocess.run([sys.executable, "-m", "explorer", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for command in ("summary", "graph", "predict", "activations", "anchors", "evaluate"):
        assert command in result.stdout


def test_core_never_imports_qt():
    qt = {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6"}
    for path in (ROOT / "explorer" / "core").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in qt, f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("flag", ["--image", "--video"])
def test_missing_source_file_is_one_error_line(flag):
    result = subprocess.run([sys.executable, "main.py", flag, "/nonexistent/x"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_the_inference_dock_fits_the_default_window_without_hiding_its_labels(qtbot):
    """The dock scrolls its panel only when the window is too small: at the screenshot size (1400×860) the
    source and timing lines under the results stay in sight (a splitter's size hint once pushed them out)."""
    window = _open_window(qtbot)
    window.resize(1400, 860)
    qtbot.waitUntil(lambda: window.state.result is not None, timeout=LOAD_TIMEOUT)
    qtbot.wait(50)
    panel = window.inference_panel
    viewport = panel.parentWidget()  # the dock's scroll area viewport
    assert panel.height() <= viewport.height()
    for label in (panel.source_label, panel.timing_label):
        bottom = label.mapTo(panel, label.rect().bottomLeft()).y()
        assert label.isVisible() and bottom < viewport.height(), label.text()
    assert panel.source_label.text().startswith("image: ")


@pytest.mark.parametrize("args, says", [
    (["--image", "{text}"], "cannot decode"),
    (["--video", "{text}"], "cannot open video"),
    (["--weights", "/nonexistent/w.pt"], "--weights: no such file"),
    (["--model", "resnet18", "--weights", "bundled"], "resnet18 has no bundled weights"),
    (["--device", "cuda"], "device 'cuda' is not available"),
])
def test_bad_start_up_options_are_one_error_line_before_the_window_opens(tmp_path, args, says):
    import torch

    if args == ["--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    text = tmp_path / "not-media.jpg"
    text.write_text("hello, not an image")
    argv = [a.format(text=text) for a in args]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CNN_EXPLORER_SETTINGS_DIR": str(tmp_path / "s")}
    result = subprocess.run([sys.executable, "main.py", *argv, "--screenshot", str(tmp_path / "x.png")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and says in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_a_checkpoint_that_fails_to_load_at_start_up_opens_the_default_weights_and_keeps_the_error(qtbot, tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    window = _open_window(qtbot, model="resnet18", weights=str(bad))
    qtbot.waitUntil(lambda: window.state.result is not None, timeout=LOAD_TIMEOUT)
    assert window.state.handle.name == "resnet18" and window.state.handle.weights == "random"
    message = window.status.current
    assert message.startswith(f"cannot load '{bad}'") and "default weights instead" in message
    assert window.status.error_in_sight                  # the failure stays in sight until dismissed
    assert window.status.first_error.startswith(f"cannot load '{bad}'")  # a --screenshot run exits 1 with it


def test_on_a_laptop_screen_the_inference_and_feature_map_docks_need_no_sideways_scrolling(qtbot):
    """1229×691 is what the window gets on a 1366×768 screen: the panels' controls fit their docks (text
    buttons had the style's 80 px minimum, the feature-map controls' second row was 770 px)."""
    window = MainWindow(StartOptions())
    qtbot.addWidget(window)
    window.resize(1229, 691)  # before show, as a saved geometry is: the default dock sizes follow it
    window.show()
    qtbot.waitUntil(lambda: window.state.result is not None, timeout=LOAD_TIMEOUT)
    qtbot.wait(100)
    for name in ("inferenceDock", "featureMapsDock"):
        panel = window.panels[name]
        viewport = panel.parentWidget()
        assert panel.minimumSizeHint().width() <= viewport.width(), name
        assert panel.width() <= viewport.width(), name


def test_a_message_waits_while_an_error_is_in_sight_and_follows_it(qtbot):
    """An error stays in sight until dismissed (second-round trial: errors went after 10–15 s and long ones were
    cut off); a note waits behind it; every message is kept with its time in View > Messages."""
    window = _open_window(qtbot)
    long_error = "the file is broken: " + "x" * 400
    window.state.show_error(long_error)
    window.state.show_message("random weights: predictions are meaningless", 5000)
    assert window.status.current == long_error            # not replaced by the note, and whole (tooltip)
    qtbot.wait(300)
    assert window.status.error_in_sight
    qtbot.mouseClick(window.status.error.dismiss_button, Qt.MouseButton.LeftButton)
    assert not window.status.error_in_sight
    assert window.status.current.startswith("random weights")
    window.messages_action.trigger()                        # View > Messages (Ctrl+Shift+M)
    rows = window.status.window.rows()
    assert rows[1][2] == long_error and rows[1][1] == "⚠"   # newest first, the text whole, with its time
    assert rows[0][2].startswith("random weights") and rows[0][0].count(":") == 2
    for _ in range(3):
        window.state.show_error("frame 12 failed")           # a repeated error is counted, not listed again
    assert window.status.window.rows()[0][2] == "frame 12 failed  (×3)"


def test_a_small_window_keeps_the_inspector_readable_and_the_image_large(qtbot):
    """At 720×720 the inspector, the graph and the image cannot sit side by side (the inference panel's controls
    need 440 px, the graph 250): the first-start layout puts the inspector under the graph, wide enough for its
    values, and the image keeps a column of its own without sideways scrolling."""
    window = MainWindow(StartOptions())
    qtbot.addWidget(window)
    window.resize(720, 720)  # before show, as a saved geometry is: the default dock sizes follow it
    window.show()
    qtbot.waitUntil(lambda: window.state.result is not None and bool(window.state.selected_layer),
                    timeout=LOAD_TIMEOUT)
    qtbot.wait(100)
    inspector = window.findChild(QDockWidget, "inspectorDock")
    assert not inspector.visibleRegion().isEmpty()  # on screen, in front of its tab group
    label = window.panels["inspectorDock"].label
    assert "conv1" in label.text()
    # the values are not cut at the right edge: the label gets its full width, inside what its scroll area shows
    assert label.sizeHint().width() <= label.width() <= label.parentWidget().width()
    panel = window.panels["inspectorDock"]
    assert panel.width() <= panel.parentWidget().width()
    # the image: the inference panel needs no sideways scrolling, and its view gets a fair share of the window
    inference = window.inference_panel
    assert inference.minimumSizeHint().width() <= inference.parentWidget().width()
    seen = inference.graphics.viewport().visibleRegion().boundingRect()  # the part not scrolled away
    assert seen.width() >= 0.55 * window.width() and seen.height() >= 0.4 * window.height()


def _tab_groups(window: MainWindow) -> set[frozenset[str]]:
    """The titles of the docks tabbed together, one set per visible group."""
    groups = set()
    for dock in window.findChildren(QDockWidget):
        others = [d for d in window.tabifiedDockWidgets(dock) if not d.isHidden()]
        if not dock.isHidden() and not dock.isFloating() and others:
            groups.add(frozenset([dock.windowTitle(), *(d.windowTitle() for d in others)]))
    return groups


def _assert_one_tab_bar_per_tab_group(window: MainWindow) -> None:
    """What a grab paints: every dock tab bar in sight shows a real tab group, inside the window, and no two
    overlap (Qt parks a bar it no longer uses outside the window; such a bar is not in sight)."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QTabBar

    bars = []
    for bar in window.findChildren(QTabBar):
        rect = QRect(bar.mapTo(window, QPoint(0, 0)), bar.size())
        if bar.parentWidget() is window and bar.isVisible() and rect.intersects(window.rect()):
            bars.append((frozenset(bar.tabText(i) for i in range(bar.count())), rect))
    groups = _tab_groups(window)
    for titles, rect in bars:
        assert titles in groups, f"a tab bar {sorted(titles)} with no tab group of its own: {groups}"
        assert window.rect().contains(rect), (sorted(titles), rect)
    for i, (titles, rect) in enumerate(bars):
        for other, other_rect in bars[i + 1:]:
            assert not rect.intersects(other_rect), f"{sorted(titles)} {rect} over {sorted(other)} {other_rect}"
    assert sorted(map(sorted, (t for t, _ in bars))) == sorted(map(sorted, groups))  # one bar each


def test_a_restored_layout_paints_one_tab_bar_per_tab_group_and_reset_layout_makes_the_groups_again(qtbot):
    """A second start restores the first one's layout: tab bars made for the default groups before restoreState
    were painted over the docks next to the ones restoreState made (a grab right after show showed both)."""
    first = _open_window(qtbot)
    _assert_one_tab_bar_per_tab_group(first)
    first.close()

    second = MainWindow(StartOptions())
    qtbot.addWidget(second)
    second.show()  # no event loop turn yet: what the first frame (or a screenshot taken now) shows
    _assert_one_tab_bar_per_tab_group(second)
    default_groups = {frozenset({"Inspector", "Layers"}),
                      frozenset({"Feature maps", "RPN anchors", "YOLO grid", "Model card and notes"})}
    assert _tab_groups(second) == default_groups
    qtbot.waitUntil(lambda: second.state.handle is not None and second.state.frame is not None,
                    timeout=LOAD_TIMEOUT)
    _assert_one_tab_bar_per_tab_group(second)

    # View > Reset layout, after the user took the groups apart: the same tab groups as on a first start
    docks = {d.objectName(): d for d in second.findChildren(QDockWidget)}
    second.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, docks["yoloDock"])
    docks["layersDock"].setFloating(True)
    docks["notesDock"].hide()
    qtbot.wait(50)
    assert _tab_groups(second) != default_groups
    second.reset_layout()
    qtbot.wait(100)
    assert _tab_groups(second) == default_groups
    _assert_one_tab_bar_per_tab_group(second)
    assert not docks["layersDock"].isFloating() and not docks["notesDock"].isHidden()
    second.close()


def test_an_answer_to_the_users_action_replaces_an_error_in_sight_and_a_note_still_waits(qtbot):
    """After a failed export the user exports again: "Mosaic written to …" must show at once, not wait behind
    the old error; a passive note (a weights warning) waits, and once answered it does not come back."""
    window = _open_window(qtbot)
    status = window.status
    window.state.show_error("Cannot write '/nonexistent/x.png'.")
    window.state.show_message("random weights: predictions are meaningless", 5000)
    assert status.current == "Cannot write '/nonexistent/x.png'."  # the passive note waits
    window.state.show_message("Mosaic written to /tmp/x.png", 4000, answer=True)
    assert status.current == "Mosaic written to /tmp/x.png"  # the answer replaces the error at once
    qtbot.wait(300)
    assert status.current == "Mosaic written to /tmp/x.png"  # the note that waited does not cover the answer
    window.state.show_message("video ended after 3 frames", 5000)  # no error in sight: a note shows at once
    assert status.current == "video ended after 3 frames"
    window.state.show_error("Cannot write '/nonexistent/y.png'.")  # an error still replaces an answer
    assert status.current == "Cannot write '/nonexistent/y.png'."


def test_a_video_on_the_command_line_starts_once_the_model_is_ready(qtbot, tmp_path):
    """`--video clip.avi` with a model still loading: the video waits for it, so its first frame gets a
    prediction instead of playing past without any while the model loads."""
    from tests.test_sources import write_video

    video = write_video(tmp_path / "clip.avi", n=40, size=(96, 64), fps=15.0)
    window = MainWindow(StartOptions(model="alexnet", video=str(video)))
    qtbot.addWidget(window)
    results = []
    window.state.resultReady.connect(results.append)
    window.show()
    qtbot.waitUntil(lambda: bool(results), timeout=LOAD_TIMEOUT)
    assert results[0].frame.source.endswith("clip.avi") and results[0].frame.index <= 1
    assert results[0].topk                                  # a prediction for it
    window.bridge.session.close_source()


def test_a_layout_saved_with_another_set_of_docks_gives_the_default_layout(qtbot, monkeypatch):
    """restoreState accepts a saved layout that lacks a dock added since, and leaves that dock outside its tab
    group; a layout saved with another set of docks (another LAYOUT_VERSION) gets the default layout instead."""
    from explorer.ui import window_layout as mw

    version = mw.LAYOUT_VERSION
    monkeypatch.setattr(mw, "LAYOUT_VERSION", version + 1)             # as an older version saved it
    first = _open_window(qtbot, model="alexnet")
    first.close()
    monkeypatch.setattr(mw, "LAYOUT_VERSION", version)  # (not undo(): that would drop the test's settings folder)
    second = MainWindow(StartOptions(model="alexnet"))
    qtbot.addWidget(second)
    assert not second._layout_restored
    maps = second.findChild(QDockWidget, "featureMapsDock")
    tabbed = {d.objectName() for d in second.tabifiedDockWidgets(maps)}
    assert {"anchorsDock", "yoloDock", "notesDock"} <= tabbed
    second.close()
    third = MainWindow(StartOptions(model="alexnet"))                  # saved by this version: restored
    qtbot.addWidget(third)
    assert third._layout_restored


def test_what_the_user_opens_while_the_model_loads_wins_over_the_command_lines_video(qtbot, tmp_path):
    from tests.test_sources import write_video

    video = write_video(tmp_path / "clip.avi", n=20, size=(96, 64), fps=15.0)
    window = MainWindow(StartOptions(model="alexnet", video=str(video)))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.inference_panel is not None, timeout=LOAD_TIMEOUT)
    assert window.state.handle is None                                # still loading: the video waits
    assert window.open_image(str(DEFAULT_IMAGE))
    qtbot.waitUntil(lambda: window.state.result is not None, timeout=LOAD_TIMEOUT)
    qtbot.wait(300)
    assert window.state.source.kind == "image"
    assert window.state.result.frame.source.endswith(DEFAULT_IMAGE.name)


def test_a_restored_layout_keeps_the_dock_widths_it_was_saved_with(qtbot):
    """The saved splitter sizes come back once the real panels are in: restored over the placeholders alone, the
    inspector came back twice as wide and the graph squeezed (282 and 574 px at close, 589 and 210 after)."""
    first = _open_window(qtbot, model="alexnet")
    first.resize(780, 560)  # within the offscreen screen (800×600), so restoring does not clamp it
    qtbot.wait(200)
    inspector = first.findChild(QDockWidget, "inspectorDock")
    saved = (inspector.width(), first.centralWidget().width())
    first.close()
    second = _open_window(qtbot, model="alexnet")
    qtbot.wait(200)
    restored = (second.findChild(QDockWidget, "inspectorDock").width(), second.centralWidget().width())
    assert restored == pytest.approx(saved, abs=3)


def test_seed_option_gives_the_same_random_weights_and_says_so(qtbot):
    """Random weights are seeded (second-round numbers check: two runs showed different maps); --seed picks
    another seed, and the window says which."""
    first = _open_window(qtbot, model="alexnet", seed=3)
    params = next(first.state.handle.model.parameters()).detach().clone()
    assert first.state.handle.seed == 3 and "seed 3" in first.model_label.text()
    assert "seed 3" in first.inference_panel.banner.text()
    first.close()
    second = _open_window(qtbot, model="alexnet", seed=3)
    assert next(second.state.handle.model.parameters()).detach().equal(params)
    second.close()


def test_a_screenshot_run_leaves_the_settings_alone(tmp_path):
    """After an offscreen --screenshot run the next start opened at 571×283 with the run's model (second-round
    trial): automation runs must not write the settings."""
    settings = tmp_path / "s"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CNN_EXPLORER_SETTINGS_DIR": str(settings)}
    result = subprocess.run([sys.executable, "main.py", "--model", "alexnet", "--screenshot",
                             str(tmp_path / "x.png")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    files = [p for p in settings.rglob("*") if p.is_file()] if settings.exists() else []
    texts = "".join(p.read_text(errors="replace") for p in files)
    assert "alexnet" not in texts and "geometry" not in texts, texts


def test_the_title_names_the_model_and_the_file_shown(qtbot, tmp_path):
    import cv2
    import numpy as np

    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((20, 30, 3), np.uint8))
    window = _open_window(qtbot)
    assert window.open_folder(str(tmp_path))
    assert window.windowTitle() == f"CNN Explorer — {zoo.DEFAULT_MODEL} — folder: a.png (1 of 2)"
    window.bridge.next_item()
    assert window.windowTitle().endswith("folder: b.png (2 of 2)")


def test_help_lists_the_keyboard_shortcuts_from_the_menus(qtbot):
    """New-user trial: Help had only About, and Model > Open model… did not show its shortcut."""
    from explorer.ui.shortcuts_dialog import VIEW_KEYS, menu_shortcuts

    window = _open_window(qtbot)
    dialog = window.show_shortcuts()  # Help > Keyboard shortcuts… (F1)
    rows = menu_shortcuts(window.menuBar())
    keys = {(where, what): key for where, key, what in rows}
    assert keys[("File", "Open model")] == keys[("Model", "Open model")] == "Ctrl+Alt+O"
    assert keys[("View", "Messages")] == "Ctrl+Shift+M" and keys[("Help", "Keyboard shortcuts")] == "F1"
    assert keys[("Notes", next(w for (m, w) in keys if m == "Notes"))] == "Alt+1"
    assert dialog.table.rowCount() == len(rows) + len(VIEW_KEYS)
    dialog.close()


def test_the_file_menus_source_actions_mean_one_thing_each(qtbot, tmp_path):
    """New-user trial: Ctrl+Right stepped a video and Ctrl+. moved a folder, the same as the other key. Next and
    Previous (Ctrl+Right/Left) are for a folder; Step (Ctrl+.) and Pause (Space) for a video or camera; each is
    enabled only there, and the session does nothing with the other kind."""
    import cv2
    import numpy as np

    from tests.test_sources import write_video

    for i, name in enumerate(("a.png", "b.png")):
        cv2.imwrite(str(tmp_path / name), np.full((20, 30, 3), 60 * i, np.uint8))
    window = _open_window(qtbot)
    actions = window.source_actions
    assert not actions["next"].isEnabled() and not actions["step"].isEnabled()  # the sample: a still
    assert window.open_folder(str(tmp_path))
    assert actions["next"].isEnabled() and actions["previous"].isEnabled()
    assert not actions["step"].isEnabled() and not actions["pause"].isEnabled()
    window.bridge.step()  # nothing for a folder
    assert window.state.source.position == 0
    actions["next"].trigger()
    assert window.state.source.position == 1
    video = write_video(tmp_path / "clip.avi", n=40, size=(96, 64), fps=15.0)
    assert window.open_video(str(video))
    qtbot.waitUntil(lambda: actions["step"].isEnabled(), timeout=LOAD_TIMEOUT)
    assert actions["pause"].isEnabled() and not actions["next"].isEnabled()
    actions["pause"].trigger()
    qtbot.waitUntil(lambda: window.state.source.status == "paused", timeout=5000)
    capture = window.bridge.session._capture
    qtbot.wait(200)
    before = capture.frames_read
    window.bridge.next_item()  # nothing for a video
    qtbot.wait(300)
    assert capture.frames_read == before
    actions["step"].trigger()
    qtbot.waitUntil(lambda: capture.frames_read == before + 1, timeout=5000)


def test_the_layer_chosen_last_with_a_model_is_chosen_again_at_the_next_start(qtbot):
    """New-user trial: after a restart the first layer was selected, not the one chosen last."""
    window = _open_window(qtbot, model="alexnet")
    qtbot.waitUntil(lambda: window.state.selection.item == "features.0", timeout=LOAD_TIMEOUT)  # first start
    window.state.select("features.3")
    window.close()
    again = _open_window(qtbot, model="alexnet")
    qtbot.waitUntil(lambda: again.state.graph is not None and bool(again.state.selection), timeout=LOAD_TIMEOUT)
    assert again.state.selection.item == "features.3" and again.state.selection.layer == "features.3"
    # another model starts on its own first convolution, and a layer its graph lacks falls back to it
    again.settings.setValue("selectedLayer/resnet18", "features.3")
    again.settings.sync()
    again.close()
    third = _open_window(qtbot, model="resnet18")
    qtbot.waitUntil(lambda: third.state.graph is not None and bool(third.state.selection), timeout=LOAD_TIMEOUT)
    assert third.state.selection.item == "conv1"


def test_the_layers_list_shows_every_output_shape_at_the_first_view(qtbot):
    """New-user trial: in the Layers tab (left column, at the default 1400×860) the output shapes were cut off
    behind the name and type columns until the user resized the dock. The shapes come right after the names and
    fit; the names take what is left (elided in the middle, whole in their tooltip), here all of resnet18's."""
    from explorer.ui.layer_list import COLUMNS
    from explorer.ui.window_layout import SCREENSHOT_SIZE

    window = MainWindow(StartOptions())
    qtbot.addWidget(window)
    window.resize(*SCREENSHOT_SIZE)  # before show, as the screenshot run does: the default dock sizes follow it
    window.show()
    qtbot.waitUntil(lambda: window.state.graph is not None and "layersDock" in window.panels, timeout=LOAD_TIMEOUT)
    window.findChild(QDockWidget, "layersDock").raise_()  # its tab, beside the Inspector's
    tree = window.panels["layersDock"].tree
    qtbot.waitUntil(lambda: tree.isVisible() and tree.topLevelItemCount() > 0, timeout=5000)
    qtbot.wait(50)

    def fits(column: int) -> bool:
        texts = [tree.topLevelItem(r).text(column) for r in range(tree.topLevelItemCount())]
        return max(tree.fontMetrics().horizontalAdvance(t) for t in texts) <= tree.columnWidth(column)

    shape = COLUMNS.index("Output")
    assert fits(shape)
    assert tree.header().sectionViewportPosition(shape) + tree.columnWidth(shape) <= tree.viewport().width()
    assert fits(0)
    item = tree.topLevelItem(tree.topLevelItemCount() - 1)
    assert item.toolTip(0).split("\n")[0] == item.text(0)   # the whole name, where a narrower dock elides it
    window.resizeDocks([window.findChild(QDockWidget, "layersDock")], [200], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: tree.viewport().width() < 200, timeout=5000)
    assert fits(shape) and not fits(0)                      # narrower: the names give way, the shapes stay
    assert tree.header().sectionViewportPosition(shape) + tree.columnWidth(shape) <= tree.viewport().width()


def test_esc_closes_the_keyboard_shortcuts_window_and_the_windows_keys_work_after_it(qtbot, window):
    """New-user trial (Xvfb without a window manager): Esc did not close Help > Keyboard shortcuts, and the
    window's keys did nothing after a dialog closed. Without a window manager no window is given the keyboard
    when it opens or gets it back when another closes (X's focus stays where it was, or goes to none); with one
    (openbox) both work, and so does this: Esc on the focused dialog closes it, then a window key works."""
    from PySide6.QtTest import QTest

    dialog = window.show_shortcuts()
    gone: list[bool] = []
    dialog.destroyed.connect(lambda *_: gone.append(True))  # it is deleted on close
    qtbot.waitExposed(dialog)
    assert window.show_shortcuts() is dialog  # F1 again brings the open one to the front: never a second one
    assert len([w for w in window.findChildren(type(dialog)) if w.isVisible()]) == 1
    qtbot.waitUntil(dialog.isActiveWindow, timeout=5000)  # given the keyboard, as Messages is
    QTest.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: bool(gone), timeout=5000)
    # what a window manager does when a dialog closes (offscreen, as X without one, gives the keys to no window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    with qtbot.waitSignal(window.messages_action.triggered, timeout=5000):
        QTest.keyClick(window.focusWidget() or window, Qt.Key.Key_M,
                       Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    window.status.window.close()


def test_a_screenshot_run_neither_reads_nor_writes_the_settings(tmp_path, sample_image_path):
    """`--image coffee.jpg --screenshot` wrote recentFiles (new-user trial): the settings the run finds stay as
    they were, byte for byte, and nothing is added beside them (the run keeps its own, empty, elsewhere)."""
    settings = tmp_path / "s"
    settings.mkdir()
    before = "[General]\nlastModel=resnet18\n\n[graph]\ncolour=macs\n"
    (settings / "settings.ini").write_text(before)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CNN_EXPLORER_SETTINGS_DIR": str(settings)}
    result = subprocess.run([sys.executable, "main.py", "--image", str(sample_image_path), "--screenshot",
                             str(tmp_path / "x.png")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in settings.rglob("*")] == ["settings.ini"]
    assert (settings / "settings.ini").read_text() == before
