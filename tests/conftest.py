"""Shared fixtures: Qt runs offscreen, settings go to a temporary folder, torch uses few threads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

RESOURCES = ROOT / "resources"
SAMPLE_IMAGE = RESOURCES / "images" / "chelsea.jpg"


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory, monkeypatch):
    """Every test gets its own QSettings folder, so tests never read the user's settings or each other's."""
    settings_dir = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("CNN_EXPLORER_SETTINGS_DIR", str(settings_dir))
    yield settings_dir


@pytest.fixture(autouse=True)
def _collect_qt_garbage_in_the_gui_thread(request):
    """After a Qt test, collect its dead widgets here, in the GUI thread. Left to Python's automatic collector,
    a later test's worker thread (the model loader) may collect them and deadlock against the GUI thread; the
    app itself collects from a GUI-thread timer instead (explorer/ui/app.py)."""
    yield
    if "qtbot" in request.fixturenames:
        import gc

        gc.collect()


@pytest.fixture(scope="session", autouse=True)
def _few_threads():
    try:
        import torch
    except ImportError:  # pragma: no cover
        return
    torch.set_num_threads(2)


@pytest.fixture
def sample_image_path() -> Path:
    return SAMPLE_IMAGE


@pytest.fixture
def app_state(qtbot):
    """(AppState, SessionBridge) as the window makes them, with no window: build a panel on them and drive it
    through the bridge (`bridge.open_model(...)`, `bridge.open_image(...)`). Shut down after the test."""
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

    state = AppState()
    bridge = SessionBridge(state)
    yield state, bridge
    bridge.shutdown()


def open_model_and_wait(qtbot, state, bridge, name="resnet18", weights="random", device="cpu", timeout=120000):
    """Open a model through the bridge and wait until the state has it (and its graph)."""
    with qtbot.waitSignal(state.modelChanged, timeout=timeout):
        bridge.open_model(name, weights, device)
    return state.handle


class SmallDisk:
    """A 2 MB tmpfs at `path` that `fill()` fills to the last byte and `free()` empties again: a real ENOSPC."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fill(self) -> None:
        try:
            with open(self.path / "filler", "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:
            pass

    def free(self) -> None:
        (self.path / "filler").unlink()


@pytest.fixture
def small_disk(tmp_path):
    """A SmallDisk, mounted for the test and unmounted after (needs permission to mount; skipped without)."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield SmallDisk(mount)
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


@pytest.fixture
def window(qtbot):
    """The main window on alexnet, shown, with its model and first frame in."""
    from explorer.ui.main_window import MainWindow, StartOptions

    w = MainWindow(StartOptions(model="alexnet"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.state.handle is not None and w.state.frame is not None, timeout=120_000)
    yield w
    w.close()
