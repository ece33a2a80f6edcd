"""Window-wide keys (new-user trial: Ctrl+F pressed while the feature-map dock had the keyboard was lost)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


def test_ctrl_f_searches_the_graph_from_any_dock(qtbot, window):
    maps = window.panels["featureMapsDock"]
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    maps.setFocus()
    target = window.focusWidget() or maps
    assert not window.graph_panel.isAncestorOf(target)
    QTest.keyClick(target, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    search = window.graph_panel.toolbar.search_box
    qtbot.waitUntil(search.hasFocus, timeout=2000)
    QTest.keyClicks(search, "conv")
    assert search.text() == "conv" and window.graph_panel.matches
