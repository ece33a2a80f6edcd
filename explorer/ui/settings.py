"""Persistent settings (QSettings in INI format) that survive a corrupt file.

The folder can be moved with CNN_EXPLORER_SETTINGS_DIR (tests give each test its own). A file Qt cannot parse
is renamed aside and the defaults are used, so a broken settings file never stops the app from starting.

A file Qt can parse may still hold anything a person typed: `opacity=1000000000000` once raised OverflowError
in a slider's setValue and took the feature-map dock down. Every value is therefore read through a validated
reader (read_int, read_float, read_bool, read_choice, read_str, read_list): a value of the wrong type falls
back to the default, a number out of range is clamped to the bounds, and none of them raises. An INI file
gives strings ("42", "true"); values set in this session come back as Python ints, floats and bools; both
are accepted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, QStandardPaths

from explorer.core.app_dirs import settings_dir_override

MAX_RECENT = 10
# Qt's widgets take C ints (QSpinBox, QSlider, QComboBox.setCurrentIndex): Python ints beyond them overflow
INT_MIN, INT_MAX = -(2**31), 2**31 - 1

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtWidgets import QMenu


def settings_path() -> Path:
    """settings.ini in $CNN_EXPLORER_SETTINGS_DIR (explorer.core.app_dirs: the default patch index follows it
    too), else in Qt's config folder for the app."""
    folder = settings_dir_override()
    if folder is None:
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation) or "."
        folder = Path(base) / "cnn-explorer"
    return folder / "settings.ini"


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


def _number(value: Any) -> float | None:
    """A finite number from an int, float or numeric string; None for anything else (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value) if isinstance(value, float) else value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return None
    else:
        return None
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number


def read_int(settings: QSettings, key: str, default: int, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int:
    """The integer at `key`, clamped to [minimum, maximum] (by default a C int, what Qt's widgets take);
    `default` when it is missing, not a number, NaN or infinite. A fractional number is rounded."""
    number = _number(settings.value(key, default))
    if number is None:
        return default
    return int(min(max(round(number), minimum), maximum))


def read_float(settings: QSettings, key: str, default: float, minimum: float = -math.inf,
               maximum: float = math.inf) -> float:
    """The finite number at `key`, clamped to [minimum, maximum]; `default` when it is missing, not a number,
    NaN or infinite (a spin box would clamp "nan" to its maximum and call that a choice)."""
    number = _number(settings.value(key, default))
    if number is None:
        return default
    return float(min(max(float(number), minimum), maximum))


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def read_bool(settings: QSettings, key: str, default: bool) -> bool:
    """The boolean at `key`: true/false, 1/0, yes/no, on/off (any case) or a bool; `default` otherwise."""
    value = settings.value(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return default


def read_choice(settings: QSettings, key: str, choices: Sequence[str], default: str) -> str:
    """The value at `key` when it is one of `choices` (compared without regard to case, returned as spelled
    in `choices`); `default` otherwise."""
    value = settings.value(key, default)
    if not isinstance(value, str):
        return default
    if value in choices:
        return value
    folded = {c.casefold(): c for c in choices}
    return folded.get(value.strip().casefold(), default)


def read_list(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str) and v]
    return []


def push_recent(settings: QSettings, path: str, key: str = "recentFiles") -> list[str]:
    """Put `path` first in the list under `key` (recent files, recent models), at most MAX_RECENT long."""
    recent = [p for p in read_list(settings, key) if p != path]
    recent.insert(0, path)
    recent = recent[:MAX_RECENT]
    settings.setValue(key, recent)
    return recent


def fill_recent_menu(menu: "QMenu", settings: QSettings, key: str, on_open: "Callable[[str], object]") -> None:
    """A Recent files / Recent models menu: numbered entries (Alt+1…9), then Clear list."""
    menu.clear()
    recent = read_list(settings, key)
    if not recent:
        menu.addAction("(none)").setEnabled(False)
        return
    for i, item in enumerate(recent):
        action = menu.addAction(f"&{i + 1} {item}" if i < 9 else item)
        action.triggered.connect(lambda _=False, x=item: on_open(x))
    menu.addSeparator()
    menu.addAction("Clear list").triggered.connect(lambda: settings.setValue(key, []))
