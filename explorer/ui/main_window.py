"""The main window: graph in the centre, inference panel, inspector and the other panels as docks.

Start-up order matters: the window paints first (only Qt is imported), then the panels are built and the
model loads in a worker thread (torch is imported there), so a user sees the window in well under a second.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QFrame, QInputDialog, QLabel, QMainWindow, QMessageBox,
    QProgressDialog, QScrollArea, QWidget,
)

from explorer import __version__
from explorer.core import zoo
from explorer.ui.settings import fill_recent_menu, open_settings, push_recent, read_list, read_str
from explorer.ui.state import AppState, ModelHandle
from explorer.ui.status import StatusArea
from explorer.ui.window_layout import ALL_DOCKS, INFERENCE_DOCK, WindowLayoutMixin
from explorer.ui.window_models import ModelMenuMixin, _still_there

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DEFAULT_IMAGE = RESOURCES / "images" / "chelsea.jpg"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.gif *.pgm *.ppm);;All files (*)"
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg);;All files (*)"
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
MAX_CAMERA_INDEX = 63  # V4L2 numbers devices up to 63 (/dev/video0..63)


@dataclass
class StartOptions:
    """What the command line asked for; None means "as last time" or the default."""

    model: str | None = None
    weights: str | None = None
    image: str | None = None
    video: str | None = None
    camera: int | None = None
    device: str | None = None
    seed: int = 0                    # of random weights (the same maps and numbers every run)
    input_size: tuple[int, int] | None = None  # (H, W) of the model's input; None = its own
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


class MainWindow(ModelMenuMixin, WindowLayoutMixin, QMainWindow):
    """The window: menus, docks and the status bar around the state; the bridge does the work."""

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
        self.status = StatusArea(self.statusBar(), self.state, self)
        self._shortcuts: QWidget | None = None  # Help > Keyboard shortcuts, while it is open
        for spec in ALL_DOCKS:
            self._make_dock(spec)
        self._make_menus()
        self._restore_layout()

        self.state.modelChanged.connect(self._on_model_loaded)
        self.state.graphChanged.connect(self._on_graph_ready)
        self.state.selectionChanged.connect(self._remember_selection)
        self.state.modelFailed.connect(self._on_model_failed)
        self.state.downloadProgress.connect(self._on_download_progress)
        self.state.sourceChanged.connect(self._on_source_changed)
        self.state.dockRequested.connect(self._raise_dock)

        self._first_paint = _FirstPaint(self)
        self.first_painted = self._first_paint.painted  # for start-up work that must not delay the first paint
        self._first_paint.painted.connect(self._after_first_paint)

    # -- construction ---------------------------------------------------------------------------------
    # status-bar widgets, for tests and automation
    @property
    def fps_label(self) -> QLabel:
        return self.status.fps_label

    @property
    def model_label(self) -> QLabel:
        return self.status.model_label

    @property
    def device_label(self) -> QLabel:
        return self.status.device_label

    @property
    def inference_panel(self) -> QWidget | None:
        """The image dock's panel (the window's own registry; panels never reach each other through it)."""
        return self.panels.get(INFERENCE_DOCK.object_name)

    def _make_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self._add_action(file_menu, "Open &image…", self.choose_image, QKeySequence.StandardKey.Open)
        self._add_action(file_menu, "Open &folder…", self.choose_folder, "Ctrl+Shift+O")
        self._add_action(file_menu, "Open &video…", self.choose_video, "Ctrl+Shift+V")
        self._add_action(file_menu, "Open &camera…", self.choose_camera, "Ctrl+Shift+C")
        self.open_model_action = self._add_action(file_menu, "Open &model…", self.choose_model, "Ctrl+Alt+O")
        self.recent_menu = file_menu.addMenu("&Recent files")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        # enabled for the sources they mean something for (_on_source_changed), as the panel's buttons are
        self.source_actions = {
            "next": self._add_action(file_menu, "&Next image", lambda: self._with_bridge(lambda b: b.next_item()),
                                     "Ctrl+Right"),
            "previous": self._add_action(file_menu, "&Previous image",
                                         lambda: self._with_bridge(lambda b: b.previous_item()), "Ctrl+Left"),
            "pause": self._add_action(file_menu, "Pause / &resume",
                                      lambda: self._with_bridge(lambda b: b.toggle_pause()), "Space"),
            "step": self._add_action(file_menu, "&Step one frame", lambda: self._with_bridge(lambda b: b.step()),
                                     "Ctrl+."),
        }
        for action in self.source_actions.values():
            action.setEnabled(False)
        file_menu.addSeparator()
        self._add_action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        self.model_menu = menu.addMenu("&Model")
        self.model_group = QActionGroup(self)
        # one zoo model checked at most: none while a model from elsewhere (a file, torchvision:NAME) is open
        self.model_group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
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
        self.model_menu.addAction(self.open_model_action)  # one action in both menus: its shortcut shows in both
        self.recent_models_menu = self.model_menu.addMenu("&Recent models")
        self.recent_models_menu.aboutToShow.connect(self._fill_recent_models_menu)
        self._add_action(self.model_menu, "&Input size…", self.choose_input_size)
        self.model_menu.addSeparator()
        self.weights_menu = self.model_menu.addMenu("&Weights")
        self.weights_menu.aboutToShow.connect(self._fill_weights_menu)
        self.device_menu = self.model_menu.addMenu("&Device")
        self.device_menu.aboutToShow.connect(self._fill_device_menu)

        self.view_menu = menu.addMenu("&View")
        self.view_menu.aboutToShow.connect(self._fill_view_menu)
        # a window-wide shortcut: it must work before the View menu is first opened (it is filled on demand)
        self.messages_action = QAction("&Messages…", self)
        self.messages_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.messages_action.setStatusTip("Every message and error with its time")
        self.messages_action.triggered.connect(lambda _=False: self.status.show_messages())
        self.addAction(self.messages_action)

        self.notes_menu = menu.addMenu("&Notes")  # filled with the panels, after the first paint

        help_menu = menu.addMenu("&Help")
        self._add_action(help_menu, "&Keyboard shortcuts…", self.show_shortcuts, "F1")
        self._add_action(help_menu, "&About CNN Explorer", self.show_about)

    def _add_action(self, menu, text: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    # -- after the first paint --------------------------------------------------------------------------
    def _after_first_paint(self) -> None:
        if self.options.quit_after_shown:
            from PySide6.QtWidgets import QApplication

            QApplication.instance().exit(0)
            return
        from explorer.ui.bridge import SessionBridge

        self.bridge = SessionBridge(self.state, self)
        self.bridge.seed = self.options.seed
        self.bridge.modelOpenFailed.connect(self._on_open_failed)
        self._build_panels()
        model = self.options.model or (zoo.DEFAULT_MODEL if self.options.screenshot  # reads no settings either
                                       else read_str(self.settings, "lastModel", zoo.DEFAULT_MODEL))
        if not self.options.model and not _still_there(model):
            model = zoo.DEFAULT_MODEL  # last time's file was moved or deleted since
        if self.options.weights or (self.options.device or "auto") != "auto" or model not in zoo.ZOO:
            self._fallback_model = zoo.DEFAULT_MODEL if model not in zoo.ZOO else model
        asked = self.load_model(model, self.options.weights or "", self.options.device or "auto",
                                self.options.input_size)
        if not asked:  # the user would not run the file's code: the default model instead of an empty window
            self.load_model(zoo.DEFAULT_MODEL)
        self._open_initial_source()

    def _build_panels(self) -> None:
        if self._panels_built:
            return
        self._panels_built = True
        for spec in ALL_DOCKS:
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
            QTimer.singleShot(0, self._restore_saved_again)
        self._fill_notes_menu()

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
    def _with_bridge(self, action: Callable[["SessionBridge"], object], opens: bool = False) -> object:
        """Run a menu's request on the bridge; what the user opens now wins over the command line's waiting
        video."""
        if opens:
            self._start_stream_after_load = None
        if self.bridge is None:
            self.state.show_error("The window is still starting: try again in a moment.")
            return False
        return action(self.bridge)

    def _remember_recent(self, path: str) -> None:
        """Recent files, except in a --screenshot run, which leaves the settings alone (README; new-user trial:
        `--image coffee.jpg --screenshot` wrote recentFiles)."""
        if not self.options.screenshot:
            push_recent(self.settings, str(Path(path).resolve()))

    def open_image(self, path: str, remember: bool = True) -> bool:
        ok = bool(self._with_bridge(lambda b: b.open_image(str(path)), opens=True))
        if ok and remember:
            self._remember_recent(path)
            self.status.dismiss()  # the user's open worked: an earlier failure is not news any more
        return ok

    def open_folder(self, path: str) -> bool:
        ok = bool(self._with_bridge(lambda b: b.open_folder(str(path)), opens=True))
        if ok:
            self._remember_recent(path)
            self.status.dismiss()  # an earlier failure is not news any more (skipped files are reported after)
        return ok

    def open_video(self, path: str) -> bool:
        ok = bool(self._with_bridge(lambda b: b.open_video(str(path)), opens=True))
        if ok:
            self._remember_recent(path)
            self.status.dismiss()
        return ok

    def open_camera(self, index: int) -> bool:
        return bool(self._with_bridge(lambda b: b.open_camera(int(index)), opens=True))

    def open_path(self, path: str) -> bool:
        """Open whatever `path` is: a folder, a video (by suffix) or an image."""
        p = Path(path)
        if p.is_dir():
            return self.open_folder(path)
        if p.suffix.lower() in VIDEO_SUFFIXES:
            return self.open_video(path)
        return self.open_image(path)

    def _last_dir(self) -> str:
        """Where the Open dialogs start: the last folder used, else the bundled samples (a first start has
        nothing of the user's to show yet)."""
        last = read_str(self.settings, "lastDir", "")
        return last if last and Path(last).is_dir() else str(DEFAULT_IMAGE.parent)

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
        """The camera's index, with the ones this machine has named (new-user trial: 99 typed became 9, silently,
        and nothing said which cameras exist)."""
        from explorer.core.sources import camera_devices

        found = camera_devices()
        if found is None:
            note, first = "", 0
        elif found:
            note, first = "\nFound here: " + ", ".join(f"{i} (/dev/video{i})" for i in found), found[0]
        else:
            note, first = "\nNo camera was found here (no /dev/video* device).", 0
        index, ok = QInputDialog.getInt(self, "Open camera", f"Camera index (0–{MAX_CAMERA_INDEX}):{note}", first,
                                        0, MAX_CAMERA_INDEX)
        if ok:
            self.open_camera(index)

    def _fill_recent_menu(self) -> None:
        # files and folders deleted or moved since are left out of the menu and the list
        listed = read_list(self.settings, "recentFiles")
        recent = [p for p in listed if Path(p).exists()]
        if recent != listed:
            self.settings.setValue("recentFiles", recent)
        fill_recent_menu(self.recent_menu, self.settings, "recentFiles", self.open_path)

    def _on_model_loaded(self, handle: ModelHandle) -> None:
        from explorer.core.threads import use_one_thread

        use_one_thread()  # torch is imported by now; the UI thread never gets an OpenMP team of its own
        self._close_download_dialog()
        self._fallback_model = ""
        self._start_pending_stream()
        if not self.options.screenshot:  # automation runs leave the user's settings alone
            self.settings.setValue("lastModel", handle.name)
            push_recent(self.settings, handle.name, "recentModels")  # every model that opens: zoo, spec or file
        for model, action in self.model_actions.items():
            action.setChecked(model == handle.name)
        self._update_title()
        if handle.weights_note:
            self.state.show_message(handle.weights_note, 8000)

    def _on_source_changed(self, info) -> None:
        self._update_title()
        for name, action in self.source_actions.items():
            action.setEnabled(info.allows(name))

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
        if not self.state.selection and self.state.handle is not None:
            # The layer the user chose last time with this model, else the first convolution, so that the feature
            # maps show something on the first screen (new-user trial: the chosen layer was not remembered).
            saved = "" if self.options.screenshot else read_str(self.settings, _layer_key(self.state.handle.name))
            if saved:
                self.state.select(saved)  # a layer the graph no longer has resolves to nothing
            if not self.state.selection:
                first_conv = next((n.id for n in graph.nodes if n.kind == "conv"), "")
                if first_conv:
                    self.state.select(first_conv)
        self._maybe_screenshot()

    def _remember_selection(self, selection) -> None:
        if selection and self.state.handle is not None and not self.options.screenshot:
            self.settings.setValue(_layer_key(self.state.handle.name), selection.item)

    def _on_model_failed(self, _text: str) -> None:
        self._close_download_dialog()
        if self.state.handle is not None:
            action = self.model_actions.get(self.state.handle.name)
            if action is not None:
                action.setChecked(True)

    def _on_open_failed(self, text: str, name: str, _weights: str) -> None:
        if self.state.handle is None and self._fallback_model:
            # the weights (or device) asked for on the command line failed: an empty window helps nobody
            model, self._fallback_model = self._fallback_model, ""
            what = "with its default weights instead" if model == name else "instead"
            self.load_model(model, "", "auto")
            # said after the fallback was asked for: the strip keeps it when that model opens (status.py)
            self.state.show_error(f"{text} — opened {model} {what}")
            return
        self._start_pending_stream()  # without a model it plays as it is: the user still sees the video
        if self._screenshot_pending and self.state.handle is None:
            self._take_screenshot()

    def _start_pending_stream(self) -> None:
        start, self._start_stream_after_load = self._start_stream_after_load, None
        if start is not None:
            start()

    # -- view -------------------------------------------------------------------------------------------
    def _fill_view_menu(self) -> None:
        self.view_menu.clear()
        for dock in self._docks.values():
            self.view_menu.addAction(dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.messages_action)
        self.view_menu.addAction("Reset layout").triggered.connect(self.reset_layout)

    def _fill_notes_menu(self) -> None:
        """The study notes' views (R-CNN, SPPNet, Fast R-CNN, FCN, cards, charts, calculator)."""
        from explorer.ui.notes.hub import VIEWS, open_view

        self.notes_menu.clear()
        for i, (title, ref) in enumerate(VIEWS):
            action = self.notes_menu.addAction(title)
            if i < 9:
                action.setShortcut(QKeySequence(f"Alt+{i + 1}"))
            action.triggered.connect(lambda _=False, r=ref: open_view(self.state, self.bridge, r, self))

    def _raise_dock(self, object_name: str) -> None:
        dock = self._docks.get(object_name)
        if dock is not None:
            dock.show()
            dock.raise_()

    def show_shortcuts(self) -> QWidget:
        """Help > Keyboard shortcuts (F1): one window, brought to the front and given the keyboard (so Esc closes
        it, as with Messages) however often it is asked for; it lists the keys as the menus have them now."""
        from explorer.ui.shortcuts_dialog import ShortcutsDialog

        dialog = self._shortcuts
        if dialog is None:
            self._fill_notes_menu()  # menus filled when they open: their keys are part of the list
            self._fill_view_menu()
            dialog = self._shortcuts = ShortcutsDialog(self.menuBar(), self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.destroyed.connect(lambda *_: setattr(self, "_shortcuts", None))
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About CNN Explorer",
            f"<b>CNN Explorer {__version__}</b><p>Look inside classic convolutional networks: the model graph "
            "with shapes, parameters, compute and receptive fields, and live feature maps, RPN anchors and "
            "YOLO grids on your own images, videos and camera.</p>"
            "<p>Sample photographs: scikit-image's data set (CC0 / public domain), see resources/ATTRIBUTION.md.</p>")

    # -- messages, drops, close -------------------------------------------------------------------------
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

    # -- automation: --screenshot -----------------------------------------------------------------------
    def _maybe_screenshot(self) -> None:
        """Once the model and its graph are in: wait until the pipeline has nothing left to do for the frame on
        screen (every view's probes included: they ran with its last result) and the views have drawn it, then
        save the picture (or give up waiting after 90 s)."""
        if not self._screenshot_pending:
            return
        self._settled = 0
        self._screenshot_poll = QTimer(self)
        self._screenshot_poll.timeout.connect(self._screenshot_when_settled)
        self._screenshot_poll.start(100)
        QTimer.singleShot(90000, self._take_screenshot)

    def _screenshot_when_settled(self) -> None:
        session = self.bridge.session if self.bridge is not None else None
        busy = session is None or session.loading or session.pipeline.busy or session.pipeline.slot.peek() is not None
        waiting_for_result = self.state.frame is not None and self.state.pending
        self._settled = 0 if busy or waiting_for_result else self._settled + 1
        if self._settled >= 5:  # half a second with nothing in flight: every view has drawn the last result
            self._screenshot_poll.stop()
            QTimer.singleShot(500, self._take_screenshot)

    def _take_screenshot(self) -> None:
        if not self._screenshot_pending:
            return
        self._screenshot_pending = False
        from PySide6.QtWidgets import QApplication

        path = self.options.screenshot
        ok = self.grab().save(path)
        if not ok:
            print(f"error: could not write the screenshot to {path}", file=sys.stderr)
        elif self.status.first_error:  # the picture is saved, but what was asked for did not all open
            print(f"error: {self.status.first_error}", file=sys.stderr)
        QApplication.instance().exit(0 if ok and not self.status.first_error else 1)


def _layer_key(model: str) -> str:
    """The settings key of the layer last chosen with `model` (a file model's spec holds '/': QSettings would
    read it as groups)."""
    return "selectedLayer/" + model.replace("/", "|").replace("\\", "|")
