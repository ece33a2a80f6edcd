"""The docks keep their shares of the window through resizes (explorer.ui.window_layout.DockShares).

New-user trial: the window made small (800×550) and then large again (1590×960) kept the docks squeezed: the
inspector 157 px wide with its values cut, the inference panel 408 px with its table and banner cut at the
right, and that layout was saved for the next start."""

from __future__ import annotations

from PySide6.QtCore import Qt

SETTLE_MS = 400


def _width(window, name: str) -> int:
    return window._docks[name].width()


def test_docks_keep_their_shares_when_the_window_shrinks_and_grows(qtbot, window):
    window.resize(1400, 860)
    qtbot.wait(SETTLE_MS)
    inference = window._docks["inferenceDock"]
    # the user drags the image's separator: a layout of their own, taken at once as the shares to keep
    window.resizeDocks([inference], [560], Qt.Orientation.Horizontal)
    qtbot.wait(SETTLE_MS)
    share = _width(window, "inferenceDock") / window.width()
    assert abs(share - 560 / 1400) < 0.01
    inspector_share = _width(window, "inspectorDock") / window.width()
    window.resize(800, 550)
    qtbot.wait(SETTLE_MS)
    window.resize(1600, 1000)
    qtbot.wait(SETTLE_MS)
    assert abs(_width(window, "inferenceDock") - share * 1600) <= 8, _width(window, "inferenceDock")
    assert abs(_width(window, "inspectorDock") - inspector_share * 1600) <= 8, _width(window, "inspectorDock")
    # everything the inference panel needs fits its dock again (it was cut at the right, behind a scroll bar)
    assert window.panels["inferenceDock"].minimumSizeHint().width() <= inference.widget().viewport().width()
