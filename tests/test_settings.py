"""Validated settings readers: a hand-edited settings file can hold anything; nothing read from it may raise or
reach a widget out of range."""

from __future__ import annotations

import math
import warnings

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QSlider

from explorer.ui.settings import (INT_MAX, INT_MIN, open_settings, read_bool, read_choice, read_float, read_int,
                                  settings_path)

HOSTILE_INI = """[featureMaps]
opacity=1000000000000
negative=-1000000000000
text=abc
empty=
nan=nan
inf=inf
huge=1e400
fraction=2.6
list=1, 2
spaced=" 42 "
low=-0.5
high=0.25
order=MAX
colormap=jet
live=TRUE
dead=off
bogus=maybe
"""


@pytest.fixture
def hostile() -> QSettings:
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HOSTILE_INI)
    settings = open_settings()
    assert settings.status() == QSettings.Status.NoError
    return settings


def test_read_int_clamps_and_falls_back(hostile):
    assert read_int(hostile, "featureMaps/opacity", 80, 0, 100) == 100       # the OverflowError of issue 21
    assert read_int(hostile, "featureMaps/opacity", 80) == INT_MAX             # a C int even without bounds
    assert read_int(hostile, "featureMaps/negative", 80) == INT_MIN
    assert read_int(hostile, "featureMaps/negative", 80, 0, 100) == 0
    for key in ("text", "empty", "nan", "inf", "huge", "list", "missing"):
        assert read_int(hostile, f"featureMaps/{key}", 7, 0, 100) == 7, key
    assert read_int(hostile, "featureMaps/fraction", 7) == 3
    assert read_int(hostile, "featureMaps/spaced", 7) == 42


def test_read_float_clamps_and_refuses_non_finite(hostile):
    assert read_float(hostile, "featureMaps/low", 0.0) == -0.5
    assert read_float(hostile, "featureMaps/low", 0.0, minimum=0.0) == 0.0
    assert read_float(hostile, "featureMaps/opacity", 0.5, 0.0, 1.0) == 1.0
    for key in ("text", "empty", "nan", "inf", "huge", "list", "missing"):
        value = read_float(hostile, f"featureMaps/{key}", 0.5)
        assert value == 0.5 and math.isfinite(value), key


def test_read_bool_and_choice(hostile):
    assert read_bool(hostile, "featureMaps/live", False) is True
    assert read_bool(hostile, "featureMaps/dead", True) is False
    for key in ("bogus", "opacity", "list", "missing"):
        assert read_bool(hostile, f"featureMaps/{key}", True) is True, key
    choices = ("index", "mean", "max")
    assert read_choice(hostile, "featureMaps/order", choices, "index") == "max"
    assert read_choice(hostile, "featureMaps/colormap", ("viridis", "gray"), "viridis") == "viridis"
    assert read_choice(hostile, "featureMaps/list", choices, "index") == "index"


def test_values_set_in_this_session_read_back(tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue("a", 5)
    settings.setValue("b", 0.75)
    settings.setValue("c", True)
    settings.setValue("d", "mean")
    settings.setValue("e", 10**13)
    assert read_int(settings, "a", 0) == 5 and read_float(settings, "b", 0.0) == 0.75
    assert read_bool(settings, "c", False) is True and read_choice(settings, "d", ("mean",), "x") == "mean"
    assert read_int(settings, "e", 0, 0, 100) == 100
    assert read_int(settings, "c", 3) == 3  # a bool is not a number
    settings.sync()
    again = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)  # now strings from the file
    assert (read_int(again, "a", 0), read_float(again, "b", 0.0), read_bool(again, "c", False)) == (5, 0.75, True)


def test_a_slider_gets_a_value_it_accepts(qtbot, hostile):
    slider = QSlider()
    slider.setRange(0, 100)
    with pytest.raises(OverflowError), warnings.catch_warnings():  # what the dock did with the raw value
        warnings.simplefilter("ignore", RuntimeWarning)  # shiboken's own note about the same overflow
        slider.setValue(int(hostile.value("featureMaps/opacity")))
    slider.setValue(read_int(hostile, "featureMaps/opacity", 80, 0, 100))
    assert slider.value() == 100
