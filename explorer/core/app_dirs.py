"""Where the app keeps its files: the one place CNN_EXPLORER_SETTINGS_DIR is read.

The variable moves the settings (tests give each test its own folder; a portable setup keeps everything in one
folder), and the files that belong with them follow it: the window's settings.ini (explorer.ui.settings) and
the default patch index (explorer.core.patch_index.store.default_db_path). Qt-free, so the command line and
core use the same rule as the window."""

from __future__ import annotations

import os
from pathlib import Path

SETTINGS_DIR_ENV = "CNN_EXPLORER_SETTINGS_DIR"


def settings_dir_override() -> Path | None:
    """The folder CNN_EXPLORER_SETTINGS_DIR names (~ expanded); None when it is unset or empty (each caller then
    uses its own platform default)."""
    folder = os.environ.get(SETTINGS_DIR_ENV)
    return Path(folder).expanduser() if folder else None
