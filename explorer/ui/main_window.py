"""The main window: graph in the centre, inference panel, inspector and the other panels as docks.

Start-up order matters: the window paints first (only Qt is imported), then the panels are built and the
model loads in a worker thread (torch is imported there), so a user sees the window in well under a second.
"""

from __future__ import annotations

import importlib
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QFrame, QInputDialog, QLabel, QMainWindow, QMessageBox, QProgressBar,
    QProgressDialog, QScrollArea, QStyle, QWidget,
)

from explorer import __version__
from explorer.core import zoo
from explorer.ui.docks import DOCKS, DockSpec
from explorer.ui.settings import open_settings, push_recent, read_list, read_str
from explorer.ui.state import AppState, ModelHandle

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DEFAULT_IMAGE = RESOURCES / "images" / "chelsea.jpg"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.gif *.pgm *.ppm);;All files (*)"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg);;All files (*)"
WEIGHTS_FILTER = "PyTorch weights (*.pt *.pth *.bin);;All files (*)"
ERROR_MS = 10000  # how long an error stays in the status bar
_AREAS = {
    "left": Qt.DockWidgetArea.LeftDockWidgetArea, "right": Qt.DockWidgetArea.RightDockWidgetArea,
    "bottom": Qt.DockWidgetArea.BottomDockWidgetArea, "top": Qt.DockWidgetArea.TopDockWidgetArea,
}
INFERENCE_DOCK = DockSpec("Inference", "inferenceDock", "explorer.ui.inference_panel:InferencePanel", "right")
# saved dock layouts carry the set of docks they were made with: another set (a dock added in an update) gets
# the default layout rather than a restored one that leaves the new dock outside its tab group
LAYOUT_VERSION = zlib.crc32(",".join(spec.object_name for spec in [INFERENCE_DOCK, *DOCKS]).encode()) & 0x7FFFFFFF
SCREENSHOT_SIZE = (1400, 860)
INSPECTOR_CHARS = 42  # the inspector's width in average characters: a row's name and value side by side
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass
class StartOptions:
    """What the command line asked for; None means "as last time" or the default."""

    model: str | None = None
    weights: str | None = None
    image: str | None = None
    video: str | None = None
    camera: int | None = None
    device: str | None = None
    screenshot: str | None = None
    quit_after_shown: bool = False


def _resolve(ref: str) -> type:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _scrollable(panel: QWidget) -> QScrollArea:
    """Wrap a dock's panel so its minimum size never forces the window wider than a small screen."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(panel)
    return area


class _FirstPaint(QObject):
    """Emits `painted` once, after the window's first paint event."""

    painted = Signal()

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._done = False
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if not self._done and event.type() == QEvent.Type.Paint:
            self._done = True
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self.painted.emit)
        return False


class MainWindow(QMainWindow):
    def __init__(self, options: StartOptions | None = None) -> None:
        super().__init__()
        self.options = options or StartOptions()
        self.state = AppState(self)
        self.settings = open_settings()
        self.bridge: SessionBridge | None = None  # made after the first paint (it imports OpenCV and torch's side)
        self.graph_panel: QWidget | None = None
        self.panels: dict[str, QWidget] = {}
        self._docks: dict[str, QDockWidget] = {}
        self._panels_built = False
        self._screenshot_pending = bool(self.options.screenshot)
        self._download_dialog: QProgressDialog | None = None
        self._fallback_model = ""        # the first model, to reopen with default weights if the asked ones fail
        self._graph_seen: object = None  # the graph whose first layer was selected
        self._start_stream_after_load: Callable[[], object] | None = None  # the command line's video or camera
        self._error_until = 0.0          # an error stays in the status bar until then (time.monotonic)
        self._first_error = ""           # a --screenshot run exits 1 with it
        self._deferred_message: tuple[str, int] | None = None  # a message waiting for an error's time to end
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self._show_deferred_message)

        self.setWindowTitle(f"CNN Explorer {__version__}")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        # The image panel keeps the full height on the right; bottom panels sit under the graph.
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._placeholder = QLabel("Loading…")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setStyleSheet("color: #777; font-size: 16px;")
        self.setCentralWidget(self._placeholder)
        self._make_status_bar()
        for spec in [INFERENCE_DOCK, *DOCKS]:
            self._make_dock(spec)
        self._make_menus()
        self._restore_layout()

        self.state.modelChanged.connect(self._on_model_loaded)
        self.state.graphChanged.connect(self._on_graph_ready)
        self.state.modelFailed.connect(self._on_model_failed)
        self.state.stageChanged.connect(self._on_stage)
        self.state.downloadProgress.connect(self._on_download_progress)
        self.state.sourceChanged.connect(self._on_source_changed)
        self.state.dockRequested.connect(self._raise_dock)
        self.state.message.connect(self._on_message)
        self.state.error.connect(self._on_error)
        # 0 means no rate (a still image, a paused stream, a new model): a dash, not "0.0 fps"
        self.state.fpsChanged.connect(lambda fps: self.fps_label.setText(f"{fps:.1f} fps" if fps > 0 else "– fps"))
        self.state.modelLoading.connect(self._on_model_loading)

        self._first_paint = _FirstPaint(self)
        self.first_painted = self._first_paint.painted  # for start-up work that must not delay the first paint
        self._first_paint.painted.connect(self._after_first_paint)

    # -- construction ---------------------------------------------------------------------------------
    def _make_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_message = QLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: a model is loading
        self.busy.setMaximumWidth(120)
        self.busy.setMaximumHeight(14)
        self.busy.setVisible(False)
        self.model_label = QLabel("")
        self.device_label = QLabel("device: …")
        self.fps_label = QLabel("– fps")
        bar.addWidget(self.status_message, 1)
        bar.addPermanentWidget(self.busy)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.device_label)
        bar.addPermanentWidget(self.fps_label)

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
        specs = [INFERENCE_DOCK, *DOCKS]
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

    def _make_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self._add_action(file_menu, "Open &image…", self.choose_image, QKeySequence.StandardKey.Open)
        self._add_action(file_menu, "Open &folder…", self.choose_folder, "Ctrl+Shift+O")
        self._add_action(file_menu, "Open &video…", self.choose_video, "Ctrl+Shift+V")
        self._add_action(file_menu, "Open &camera…", self.choose_camera, "Ctrl+Shift+C")
        self.recent_menu = file_menu.addMenu("&Recent files")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        self._add_action(file_menu, "&Next image", lambda: self._bridge_call("next_item"), "Ctrl+Right")
        self._add_action(file_menu, "&Previous image", lambda: self._bridge_call("previous_item"), "Ctrl+Left")
        self._add_action(file_menu, "Pause / &resume", lambda: self._bridge_call("toggle_pause"), "Space")
        self._add_action(file_menu, "&Step one frame", lambda: self._bridge_call("step"), "Ctrl+.")
        file_menu.addSeparator()
        self._add_action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        self.model_menu = menu.addMenu("&Model")
        self.model_group = QActionGroup(self)
        self.model_group.setExclusive(True)
        self.model_actions: dict[str, QAction] = {}
        families: dict[str, object] = {}
        for name in zoo.names():
            entry = zoo.get(name)
            sub = families.get(entry.family)
            if sub is None:
                sub = families[entry.family] = self.model_menu.addMenu(entry.family)
            action = QAction(name, self, checkable=True)
            action.setStatusTip(f"{entry.card.paper} — {entry.task}")
            action.triggered.connect(lambda _=False, n=name: self.load_model(n))
            self.model_group.addAction(action)
            sub.addAction(action)
            self.model_actions[name] = action
        self.model_menu.addSeparator()
        self.weights_menu = self.model_menu.addMenu("&Weights")
        self.weights_menu.aboutToShow.connect(self._fill_weights_menu)
        self.device_menu = self.model_menu.addMenu("&Device")
        self.device_menu.aboutToShow.connect(self._fill_device_menu)

        self.view_menu = menu.addMenu("&View")
        self.view_menu.aboutToShow.connect(self._fill_view_menu)

        self.notes_menu = menu.addMenu("&Notes")  # filled with the panels, after the first paint

        help_menu = menu.addMenu("&Help")
        self._add_action(help_menu, "&About CNN Explorer", self.show_about)

    def _add_action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

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

    # -- after the first paint --------------------------------------------------------------------------
    def _after_first_paint(self) -> None:
        if self.options.quit_after_shown:
            from PySide6.QtWidgets import QApplication

            QApplication.instance().exit(0)
            return
        from explorer.ui.bridge import SessionBridge

        self.bridge = SessionBridge(self.state, self)
        self.bridge.modelOpenFailed.connect(self._on_open_failed)
        self._build_panels()
        model = self.options.model or read_str(self.settings, "lastModel", zoo.DEFAULT_MODEL)
        if model not in zoo.ZOO:
            model = zoo.DEFAULT_MODEL
        if self.options.weights or (self.options.device or "auto") != "auto":
            self._fallback_model = model
        self.load_model(model, self.options.weights or "", self.options.device or "auto")
        self._open_initial_source()

    def _build_panels(self) -> None:
        if self._panels_built:
            return
        self._panels_built = True
        for spec in [INFERENCE_DOCK, *DOCKS]:
            dock = self._docks[spec.object_name]
            try:
                panel = _resolve(spec.factory)(self.state, self.bridge)
            except Exception as exc:  # noqa: BLE001 - one broken panel must not take the app down
                panel = QLabel(f"{spec.title} could not be opened:\n{exc}")
                panel.setWordWrap(True)
            dock.setWidget(_scrollable(panel))
            self.panels[spec.object_name] = panel
        self.graph_panel = self._make_graph_panel()
        self.setCentralWidget(self.graph_panel)
        if not self._layout_restored:
            self._default_fronts_and_sizes()
        elif self._saved_state is not None:
            # The splitter sizes restored over the placeholders do not survive the real panels and the graph
            # (the inspector came back twice as wide, the graph squeezed): restore them again over these.
            QTimer.singleShot(0, lambda: self.restoreState(self._saved_state, LAYOUT_VERSION))
        self._fill_notes_menu()

    def _default_fronts_and_sizes(self) -> None:
        """The first-start layout's front tabs and dock sizes, once the panels are in their docks."""
        for name in ("inspectorDock", "featureMapsDock"):  # the first tab of each group in front
            if name in self._docks:
                self._docks[name].raise_()
        QTimer.singleShot(0, self._default_dock_sizes)  # once the new widgets have been laid out

    def _make_graph_panel(self) -> QWidget:
        try:
            from explorer.ui.graph_view import GraphPanel
        except ImportError:
            from explorer.ui.layer_list import LayerList as GraphPanel
        return GraphPanel(self.state, self.bridge)

    def _open_initial_source(self) -> None:
        """The command line's source. A video or camera starts once the model is ready (or has failed), so
        that its first frames are not played past without predictions while the model loads."""
        o = self.options
        if o.video or o.camera is not None:
            start = (lambda: self.open_video(o.video)) if o.video else (lambda: self.open_camera(o.camera))
            if self.state.handle is None:
                self._start_stream_after_load = start
            else:
                start()
        elif o.image:
            if not self.open_image(o.image):
                self.open_image(str(DEFAULT_IMAGE), remember=False)
        else:
            self.open_image(str(DEFAULT_IMAGE), remember=False)

    # -- sources ----------------------------------------------------------------------------------------
    def _bridge_call(self, method: str, *args) -> object:
        """A source request from the menus; what the user opens now wins over the command line's waiting video."""
        if method.startswith("open_"):
            self._start_stream_after_load = None
        if self.bridge is None:
            self.state.show_error("The window is still starting: try again in a moment.")
            return False
        return getattr(self.bridge, method)(*args)

    def open_image(self, path: str, remember: bool = True) -> bool:
        ok = bool(self._bridge_call("open_image", str(path)))
        if ok and remember:
            push_recent(self.settings, str(Path(path).resolve()))
        return ok

    def open_folder(self, path: str) -> bool:
        ok = bool(self._bridge_call("open_folder", str(path)))
        if ok:
            push_recent(self.settings, str(Path(path).resolve()))
        return ok

    def open_video(self, path: str) -> bool:
        ok = bool(self._bridge_call("open_video", str(path)))
        if ok:
            push_recent(self.settings, str(Path(path).resolve()))
        return ok

    def open_camera(self, index: int) -> bool:
        return bool(self._bridge_call("open_camera", int(index)))

    def open_path(self, path: str) -> bool:
        """Open whatever `path` is: a folder, a video (by suffix) or an image."""
        p = Path(path)
        if p.is_dir():
            return self.open_folder(path)
        if p.suffix.lower() in VIDEO_SUFFIXES:
            return self.open_video(path)
        return self.open_image(path)

    def _last_dir(self) -> str:
        return read_str(self.settings, "lastDir", str(Path.home()))

    def _remember_dir(self, path: str) -> None:
        self.settings.setValue("lastDir", str(Path(path).parent if Path(path).is_file() else Path(path)))

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", self._last_dir(), IMAGE_FILTER)
        if path:
            self._remember_dir(path)
            self.open_image(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open folder of images", self._last_dir())
        if path:
            self._remember_dir(path)
            self.open_folder(path)

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", self._last_dir(), VIDEO_FILTER)
        if path:
            self._remember_dir(path)
            self.open_video(path)

    def choose_camera(self) -> None:
        index, ok = QInputDialog.getInt(self, "Open camera", "Camera index:", 0, 0, 16)
        if ok:
            self.open_camera(index)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = read_list(self.settings, "recentFiles")
        if not recent:
            action = self.recent_menu.addAction("(none)")
            action.setEnabled(False)
            return
        for i, path in enumerate(recent):
            action = self.recent_menu.addAction(f"&{i + 1} {path}" if i < 9 else path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear list").triggered.connect(
            lambda: self.settings.setValue("recentFiles", []))

    # -- models -----------------------------------------------------------------------------------------
    def load_model(self, name: str, weights: str = "", device: str = "") -> None:
        """Open `name`; the current model stays until the new one is ready."""
        action = self.model_actions.get(name)
        if action is not None:
            action.setChecked(True)
        if self.bridge is None:
            return
        self.bridge.open_model(name, weights, device)

    def _on_model_loading(self, name: str) -> None:
        self.busy.setVisible(True)
        self.status_message.setText(f"Loading {name}…")

    def _on_stage(self, text: str) -> None:
        if text:
            self.status_message.setText(text)
        elif self.status_message.text().startswith(("Loading", "Building", "Capturing", "Importing")):
            self.status_message.setText("")  # the load is over: no stage stays in sight for good

    def _on_model_loaded(self, handle: ModelHandle) -> None:
        from explorer.core.threads import use_one_thread

        use_one_thread()  # torch is imported by now; the UI thread never gets an OpenMP team of its own
        self.busy.setVisible(False)
        self._close_download_dialog()
        self._fallback_model = ""
        self._start_pending_stream()
        if not self.options.screenshot:  # automation runs leave the user's settings alone
            self.settings.setValue("lastModel", handle.name)
        self.model_label.setText(f"{handle.name} · {handle.weights_label} weights")
        self.device_label.setText(f"device: {handle.device.upper()}")
        self._update_title()
        if handle.weights_note:
            self.state.show_message(handle.weights_note, 8000)

    def _on_source_changed(self, _info) -> None:
        self._update_title()

    def _update_title(self) -> None:
        parts = ["CNN Explorer"]
        if self.state.handle is not None:
            parts.append(self.state.handle.name)
        if self.state.source.kind:
            parts.append(self.state.source.describe)
        self.setWindowTitle(" — ".join(parts))

    def _on_graph_ready(self, graph) -> None:
        if graph is None or graph is self._graph_seen:
            return
        self._graph_seen = graph
        if not self.state.selection:
            # Start on the first convolution, so the feature maps show something on the first screen.
            first_conv = next((n.id for n in graph.nodes if n.kind == "conv"), "")
            if first_conv:
                self.state.select(first_conv)
        self._maybe_screenshot()

    def _on_model_failed(self, _text: str) -> None:
        self.busy.setVisible(False)
        self._close_download_dialog()
        if self.state.handle is not None:
            action = self.model_actions.get(self.state.handle.name)
            if action is not None:
                action.setChecked(True)

    def _on_open_failed(self, text: str, name: str, _weights: str) -> None:
        if self.state.handle is None and self._fallback_model:
            # the weights (or device) asked for on the command line failed: an empty window helps nobody
            model, self._fallback_model = self._fallback_model, ""
            self.state.show_error(f"{text} — opened {model} with its default weights instead")
            self.load_model(model, "", "auto")
            return
        self._start_pending_stream()  # without a model it plays as it is: the user still sees the video
        if self._screenshot_pending and self.state.handle is None:
            self._take_screenshot()

    def _start_pending_stream(self) -> None:
        start, self._start_stream_after_load = self._start_stream_after_load, None
        if start is not None:
            start()

    def _on_download_progress(self, done: int, total: int) -> None:
        if self._download_dialog is None:
            dialog = QProgressDialog("Downloading pretrained weights…", "Cancel", 0, 100, self)
            dialog.setWindowTitle("Downloading weights")
            dialog.setMinimumDuration(300)
            dialog.canceled.connect(lambda: self.bridge.cancel_download() if self.bridge else None)
            self._download_dialog = dialog
        if total > 0:
            self._download_dialog.setMaximum(100)
            self._download_dialog.setValue(int(100 * done / total))
            self._download_dialog.setLabelText(
                f"Downloading pretrained weights… {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self._download_dialog.setMaximum(0)

    def _close_download_dialog(self) -> None:
        if self._download_dialog is not None:
            self._download_dialog.reset()
            self._download_dialog.deleteLater()
            self._download_dialog = None

    def _fill_weights_menu(self) -> None:
        self.weights_menu.clear()
        handle = self.state.handle
        if handle is None:
            self.weights_menu.addAction("(no model loaded)").setEnabled(False)
            return
        group = QActionGroup(self.weights_menu)
        for choice in handle.entry.weight_choices:
            action = QAction(choice, self.weights_menu, checkable=True)
            action.setChecked(handle.weights == choice)
            action.triggered.connect(lambda _=False, c=choice: self.bridge.set_weights(c) if self.bridge else None)
            group.addAction(action)
            self.weights_menu.addAction(action)
        self.weights_menu.addSeparator()
        self.weights_menu.addAction("From file…").triggered.connect(self.choose_weights_file)

    def choose_weights_file(self) -> None:
        if self.state.handle is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load weights (state_dict)", self._last_dir(), WEIGHTS_FILTER)
        if path and self.bridge is not None:
            self.bridge.set_weights(path)

    def _fill_device_menu(self) -> None:
        self.device_menu.clear()
        available = {"cpu": True, "cuda": False, "mps": False}
        torch = sys.modules.get("torch")  # only ask once the loader has imported torch
        if torch is not None:
            available["cuda"] = bool(torch.cuda.is_available())
            available["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
        current = self.state.handle.device if self.state.handle else ""
        group = QActionGroup(self.device_menu)
        for device, ok in available.items():
            action = QAction(device.upper() if ok else f"{device.upper()} (not available)", self.device_menu,
                             checkable=True)
            action.setEnabled(ok)
            action.setChecked(current.startswith(device))
            action.triggered.connect(lambda _=False, d=device: self.set_device(d))
            group.addAction(action)
            self.device_menu.addAction(action)

    def set_device(self, device: str) -> None:
        if self.bridge is not None:
            self.bridge.set_device(device)

    # -- view -------------------------------------------------------------------------------------------
    def _fill_view_menu(self) -> None:
        self.view_menu.clear()
        for dock in self._docks.values():
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction("Reset layout").triggered.connect(self.reset_layout)

    def _fill_notes_menu(self) -> None:
        """The study notes' views (R-CNN, SPPNet, Fast R-CNN, FCN, cards, charts, calculator)."""
        from explorer.ui.notes.hub import VIEWS, open_view

        self.notes_menu.clear()
        for i, (title, ref) in enumerate(VIEWS):
            action = self.notes_menu.addAction(title)
            if i < 9:
                action.setShortcut(QKeySequence(f"Alt+{i + 1}"))
            action.triggered.connect(lambda _=False, r=ref: open_view(self.state, self, r))

    def _raise_dock(self, object_name: str) -> None:
        dock = self._docks.get(object_name)
        if dock is not None:
            dock.show()
            dock.raise_()

    def reset_layout(self) -> None:
        """View > Reset layout: the first-start layout, tab groups included, at the window's current size."""
        self._default_dock_layout()
        self._layout_restored = False  # panels still to come: _build_panels puts the first tabs in front
        if self._panels_built:
            self._default_fronts_and_sizes()

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About CNN Explorer",
            f"<b>CNN Explorer {__version__}</b><p>Look inside classic convolutional networks: the model graph "
            "with shapes, parameters, compute and receptive fields, and live feature maps, RPN anchors and "
            "YOLO grids on your own images, videos and camera.</p>"
            "<p>Sample photographs: scikit-image's data set (CC0 / public domain), see resources/ATTRIBUTION.md.</p>")

    # -- messages, drops, close -------------------------------------------------------------------------
    def _on_error(self, text: str) -> None:
        self._error_until = time.monotonic() + ERROR_MS / 1000
        self._first_error = self._first_error or text
        self.statusBar().showMessage(f"⚠ {text}", ERROR_MS)

    def _on_message(self, text: str, ms: int, answer: bool = False) -> None:
        """A passive note never hides an error that is still in sight (a model's weights note arriving right
        after a failed open would): it follows once the error's time is up. An answer to the user's own action
        (an export's "written to …") replaces the error at once, and the note waiting behind it, which it would
        have replaced anyway: a user who saved a file after a failed try must see that this one worked."""
        if answer:
            self._error_until = 0.0
            self._deferred_message = None
            self._message_timer.stop()
        remaining = self._error_until - time.monotonic()
        if remaining > 0:
            self._deferred_message = (text, ms)  # the newest one: it would replace any earlier one anyway
            self._message_timer.start(int(remaining * 1000) + 1)  # a child timer: it dies with the window
            return
        self.statusBar().showMessage(text, ms)

    def _show_deferred_message(self) -> None:
        if self._deferred_message is not None:
            message, self._deferred_message = self._deferred_message, None
            self._on_message(*message)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
                break
        event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.save_settings()
        if self.bridge is not None:  # panels with work of their own stop on bridge.closing
            self.bridge.shutdown()
        super().closeEvent(event)

    def save_settings(self) -> None:
        if self.options.screenshot or self.options.quit_after_shown:
            return  # automation runs (a screenshot's fixed size, an offscreen window) leave the settings alone
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.settings.sync()

    # -- automation: --screenshot -----------------------------------------------------------------------
    def _maybe_screenshot(self) -> None:
        if not self._screenshot_pending:
            return
        # Wait for a result that carries the selected layer's feature maps (or give up after a while), then
        # let everything paint.
        if INFERENCE_DOCK.object_name in self.panels and self.state.frame is not None:
            self.state.resultReady.connect(self._screenshot_when_complete)
            QTimer.singleShot(90000, self._take_screenshot)
            if self.state.result is not None:
                self._screenshot_when_complete(self.state.result)
        else:
            self._screenshot_soon()

    def _screenshot_when_complete(self, result) -> None:
        from explorer.ui.feature_maps import PROBE_PREFIX

        wants_maps = bool(self.state.selected_layer) and "featureMapsDock" in self.panels
        has_maps = any(str(k).startswith(PROBE_PREFIX) for k in getattr(result, "extras", {}) or {})
        if has_maps or not wants_maps:
            self._screenshot_soon()

    def _screenshot_soon(self, *_args) -> None:
        QTimer.singleShot(1000, self._take_screenshot)

    def _take_screenshot(self) -> None:
        if not self._screenshot_pending:
            return
        self._screenshot_pending = False
        from PySide6.QtWidgets import QApplication

        path = self.options.screenshot
        ok = self.grab().save(path)
        if not ok:
            print(f"error: could not write the screenshot to {path}", file=sys.stderr)
        elif self._first_error:  # the picture is saved, but what was asked for did not all open
            print(f"error: {self._first_error}", file=sys.stderr)
        QApplication.instance().exit(0 if ok and not self._first_error else 1)
