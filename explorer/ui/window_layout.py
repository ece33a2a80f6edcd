"""Where the docks go: the first-start layout, a saved one restored, View > Reset layout, and saving it.

A mixin of the main window (it works on the window's own docks and settings). Choices measured on real
screens are explained where they are made: the image keeps the full height on the right, the inspector moves
under the graph in a window too narrow for three columns, a restored layout is applied again once the real
panels are in (restored over the placeholders only, a 282 px inspector came back 589 px wide), and the docks
keep their shares of the window when it is resized (DockShares).
"""

from __future__ import annotations

import zlib

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QStyle

from explorer.ui.docks import DOCKS, DockSpec

_AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea, "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea, "top": Qt.DockWidgetArea.TopDockWidgetArea,
}
INFERENCE_DOCK = DockSpec("Inference", "inferenceDock", "explorer.ui.inference_panel:InferencePanel", "right")
ALL_DOCKS = [INFERENCE_DOCK, *DOCKS]
# saved dock layouts carry the set of docks they were made with: another set (a dock added in an update) gets
# the default layout rather than a restored one that leaves the new dock outside its tab group
LAYOUT_VERSION = zlib.crc32(",".join(spec.object_name for spec in ALL_DOCKS).encode()) & 0x7FFFFFFF
SCREENSHOT_SIZE = (1400, 860)
INSPECTOR_CHARS = 42
SETTLE_MS = 40  # a window resize is laid out before the docks get their shares (and a drag's steps coalesce)  # the inspector's width in average characters: a row's name and value side by side


class DockShares(QObject):
    """Each side dock's share of the window (a left or right dock's width, a bottom or top dock's height), kept
    through window resizes.

    QMainWindow gives every pixel of a resize to the central widget, and takes a shrink from the docks once the
    centre is at its minimum: a window made small and then large again kept docks too narrow for their
    panels, the inference panel cut at its right edge (new-user trial), and that layout was saved. Here each
    window resize sets the docks to their shares again once its layout has settled. The shares are taken only
    from a layout the user made: a dock resized while the window keeps its size (a separator dragged, a dock
    closed or moved, the start-up layout), never from a squeeze a resize forced.
    """

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.shares: dict[QDockWidget, tuple[Qt.Orientation, float]] = {}
        self.window_size: QSize | None = None  # the window's size when the docks were last at rest
        self._take_timer = self._timer(self.take)
        self._apply_timer = self._timer(self._apply)
        for dock in window.findChildren(QDockWidget):
            dock.installEventFilter(self)

    def _timer(self, slot) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(SETTLE_MS)
        timer.timeout.connect(slot)
        return timer

    def on_screen(self) -> list[QDockWidget]:
        """Docked and in sight (a tab behind another in its group has an empty visible region)."""
        return [d for d in self.window.findChildren(QDockWidget)
                if d.isVisible() and not d.isFloating() and not d.visibleRegion().isEmpty()]

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.Hide) and \
                not self._apply_timer.isActive() and self.window.size() == (self.window_size or self.window.size()):
            self._take_timer.start()  # the user's own layout (or the start-up one): its shares, once it settles
        return False

    def take(self) -> None:
        """The shares of the docks in sight, at the window's size now."""
        width, height = max(1, self.window.width()), max(1, self.window.height())
        self.shares = {}
        for dock in self.on_screen():
            area = self.window.dockWidgetArea(dock)
            if area in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea):
                self.shares[dock] = (Qt.Orientation.Horizontal, dock.width() / width)
            elif area in (Qt.DockWidgetArea.BottomDockWidgetArea, Qt.DockWidgetArea.TopDockWidgetArea):
                self.shares[dock] = (Qt.Orientation.Vertical, dock.height() / height)
        self.window_size = self.window.size()

    def window_resized(self) -> None:
        """From the window's resizeEvent: the docks get their shares once the resize has been laid out."""
        if self.window_size is not None:
            self._take_timer.stop()  # the docks' resizes now are the window's doing
            self._apply_timer.start()

    def _apply(self) -> None:
        width, height = self.window.width(), self.window.height()
        in_sight = set(self.on_screen())
        for dock, (orientation, share) in self.shares.items():
            if dock in in_sight:  # one dock a call: given together, Qt shares the space out by their weights
                total = width if orientation == Qt.Orientation.Horizontal else height
                self.window.resizeDocks([dock], [round(share * total)], orientation)
        self.window_size = self.window.size()  # at rest at this size: a later change of a dock is the user's
        self._take_timer.stop()


class WindowLayoutMixin:
    """The main window's dock layout (uses self._docks, self.panels, self.settings, self.options)."""

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        shares = getattr(self, "dock_shares", None)
        if shares is not None:
            shares.window_resized()

    def _make_dock(self, spec: DockSpec) -> QDockWidget:
        """The dock in its area, not yet in its tab group: a saved layout or _default_dock_layout places it."""
        dock = QDockWidget(spec.title, self)
        dock.setObjectName(spec.object_name)
        dock.setWidget(QLabel(f"{spec.title}: loading…"))
        self.addDockWidget(_AREAS.get(spec.area, Qt.DockWidgetArea.RightDockWidgetArea), dock)
        self._docks[spec.object_name] = dock
        return dock

    def _default_dock_layout(self) -> None:
        """Every dock back in its area and tab group, shown or hidden as on a first start. Never before
        restoreState: the tab bars made for these groups in a hidden window outlived the ones restoreState
        made and were painted over the docks (ghost tab bars)."""
        specs = ALL_DOCKS
        for spec in specs:
            dock = self._docks[spec.object_name]
            dock.setFloating(False)
            self.addDockWidget(_AREAS.get(spec.area, Qt.DockWidgetArea.RightDockWidgetArea), dock)
        for spec in specs:
            if spec.tabify_with and spec.tabify_with in self._docks:
                self.tabifyDockWidget(self._docks[spec.tabify_with], self._docks[spec.object_name])
        for spec in specs:
            dock = self._docks[spec.object_name]
            if dock.isHidden() == spec.visible:  # only a change: setVisible(True) on a tabbed dock would
                dock.setVisible(spec.visible)     # make it claim to be in front

    def _restore_layout(self) -> None:
        """The saved window geometry and dock layout, or the first-start ones."""
        self._layout_restored = False
        self._saved_state: QByteArray | None = None  # restored again once the panels are in (_build_panels)
        if self.options.screenshot:  # reproducible pictures: the default layout at a fixed size
            self.resize(*SCREENSHOT_SIZE)
        else:
            geometry = self.settings.value("window/geometry")
            if isinstance(geometry, QByteArray) and not geometry.isEmpty():
                self.restoreGeometry(geometry)
            else:
                self.resize(*self._first_start_size())
            state = self.settings.value("window/state")
            if isinstance(state, QByteArray) and not state.isEmpty():
                # restoreState makes the tab groups itself; it returns False on a foreign or broken layout
                # (a layout saved with other docks is one too: the new docks would be left out of their groups)
                self._layout_restored = bool(self.restoreState(state, LAYOUT_VERSION))
                self._saved_state = state if self._layout_restored else None
        if not self._layout_restored:
            self._default_dock_layout()

    @staticmethod
    def _first_start_size() -> tuple[int, int]:
        """1400×860, or 90 % of a smaller screen."""
        from PySide6.QtGui import QGuiApplication

        screen = QGuiApplication.primaryScreen()
        if screen is None:
            return SCREENSHOT_SIZE
        available = screen.availableGeometry()
        return (min(SCREENSHOT_SIZE[0], int(available.width() * 0.9)),
                min(SCREENSHOT_SIZE[1], int(available.height() * 0.9)))

    def _default_dock_sizes(self) -> None:
        """First start: a wide graph in the centre, the image on the right, feature maps below. The shares follow
        the window but never go below what a panel needs (the inspector's rows unwrapped, the inference panel's
        controls); a window too narrow for the inspector, the graph and the image side by side (720 px) moves
        the inspector under the graph, so that the image keeps a column of its own."""
        width, height = self.width(), self.height()
        inference_panel = self.panels.get(INFERENCE_DOCK.object_name)
        inspector = max(int(width * 0.2), self._inspector_width())
        inference = max(int(width * 0.38), inference_panel.minimumSizeHint().width() if inference_panel else 0)
        graph = self.graph_panel.minimumSizeHint().width() if self.graph_panel is not None else 0
        separator = self.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetSeparatorExtent, None, self)
        sizes = [("inspectorDock", inspector, Qt.Orientation.Horizontal),
                 (INFERENCE_DOCK.object_name, inference, Qt.Orientation.Horizontal),
                 ("featureMapsDock", int(height * 0.42), Qt.Orientation.Vertical)]
        if "inspectorDock" in self._docks and inspector + inference + graph + 2 * separator > width:
            self._move_inspector_to_bottom()
            sizes = [(INFERENCE_DOCK.object_name, min(inference, width - graph - separator), Qt.Orientation.Horizontal),
                     ("inspectorDock", int(height * 0.3), Qt.Orientation.Vertical),
                     ("featureMapsDock", int(height * 0.33), Qt.Orientation.Vertical)]
        for name, size, orientation in sizes:
            if name in self._docks:
                self.resizeDocks([self._docks[name]], [size], orientation)

    def _inspector_width(self) -> int:
        """The inspector dock's width for its rows unwrapped ("receptive field  118,013,632"), with a scroll bar."""
        dock = self._docks.get("inspectorDock")
        if dock is None:
            return 0
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self)
        # 16: the label's margins and the scroll area's frame
        return dock.fontMetrics().averageCharWidth() * INSPECTOR_CHARS + scroll_bar + 16

    def _move_inspector_to_bottom(self) -> None:
        """The inspector's tab group (Inspector, Layers) from the left column to the bottom area, stacked under
        the feature maps' group (moving that group too, to put the inspector first, left stale tab bars drawn
        over the docks)."""
        inspector = self._docks["inspectorDock"]
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, inspector, Qt.Orientation.Vertical)
        if "layersDock" in self._docks:
            self.tabifyDockWidget(inspector, self._docks["layersDock"])
        inspector.raise_()

    def _default_fronts_and_sizes(self) -> None:
        """The first-start layout's front tabs and dock sizes, once the panels are in their docks."""
        for name in ("inspectorDock", "featureMapsDock"):  # the first tab of each group in front
            if name in self._docks:
                self._docks[name].raise_()
        QTimer.singleShot(0, self._default_dock_sizes)  # once the new widgets have been laid out
        self._keep_dock_shares()

    def _keep_dock_shares(self) -> None:
        """From now on the docks keep their shares of the window through resizes (DockShares)."""
        if getattr(self, "dock_shares", None) is None:
            self.dock_shares = DockShares(self)

    def reset_layout(self) -> None:
        """View > Reset layout: the first-start layout, tab groups included, at the window's current size."""
        self._default_dock_layout()
        self._layout_restored = False  # panels still to come: _build_panels puts the first tabs in front
        if self._panels_built:
            self._default_fronts_and_sizes()

    def save_settings(self) -> None:
        if self.options.screenshot or self.options.quit_after_shown:
            return  # automation runs (a screenshot's fixed size, an offscreen window) leave the settings alone
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()

    def _restore_saved_again(self) -> None:
        """The saved layout once more, over the real panels (their sizes differ from the placeholders')."""
        if self._saved_state is not None:
            self.restoreState(self._saved_state, LAYOUT_VERSION)
        self._keep_dock_shares()
