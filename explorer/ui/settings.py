"""Persistent settings (QSettings in INI format) that survive a corrupt file.

The folder can be moved with CNN_EXPLORER_SETTINGS_DIR (tests give each test its own). A file Qt cannot parse
is renamed aside and the defaults are used, so a broken settings file never stops the app from starting.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

MAX_RECENT = 10


def settings_path() -> Path:
    folder = os.environ.get("CNN_EXPLORER_SETTINGS_DIR")
    if not folder:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation) or "."
        folder = str(Path(folder) / "cnn-explorer")
    return Path(folder) / "settings.ini"


def open_settings() -> QSettings:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = QSettings(str(path), QSettings.Format.IniFormat)
    if settings.status() != QSettings.Status.NoError:
        # Keep the broken file for the user to inspect, start from defaults.
        try:
            path.replace(path.with_suffix(".ini.corrupt"))
        except OSError:
            pass
        settings = QSettings(str(path), QSettings.Format.IniFormat)
    return settings


def read_str(settings: QSettings, key: str, default: str = "") -> str:
    value = settings.value(key, default)
    return value if isinstance(value, str) else default


def read_list(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str) and v]
    return []


def push_recent(settings: QSettings, path: str) -> list[str]:
    recent = [p for p in read_list(settings, "recentFiles") if p != path]
    recent.insert(0, path)
    recent = recent[:MAX_RECENT]
    settings.setValue("recentFiles", recent)
    return recent
