"""Where the docks go: the first-start layout, a saved one restored, View > Reset layout, and saving it.

A mixin of the main window (it works on the window's own docks and settings). Choices measured on real
screens are explained where they are made: the image keeps the full height on the right, the inspector moves
under the graph in a window too narrow for three columns, a restored layout is applied again once the real
panels are in (restored over the placeholders only, a 282 px inspector came back 589 px wide).
"""

from __future__ import annotations

import zlib

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QLabel, QStyle

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
INSPECTOR_CHARS = 42  # the inspector's width in average characters: a row's name and value side by side


class WindowLayoutMixin:
    """The main window's dock layout (uses self._docks, self.panels, self.settings, self.options)."""

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
