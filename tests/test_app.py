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
    assert "missing.jpg" in window.statusBar().currentMessage()
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
    message = window.statusBar().currentMessage()
    assert message.startswith("⚠ cannot load 'bad.pt'") and "default weights instead" in message
    assert window._first_error.startswith("cannot load 'bad.pt'")  # a --screenshot run exits 1 with it


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


def test_a_message_waits_while_an_error_is_in_sight_and_follows_it(qtbot, monkeypatch):
    import explorer.ui.main_window as mw

    monkeypatch.setattr(mw, "ERROR_MS", 300)
    window = _open_window(qtbot)
    window.state.show_error("the file is broken")
    window.state.show_message("random weights: predictions are meaningless", 5000)
    assert window.statusBar().currentMessage() == "⚠ the file is broken"  # not replaced by the note
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("random weights"), timeout=5000)


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
