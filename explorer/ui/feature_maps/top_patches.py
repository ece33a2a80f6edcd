"""What does this channel respond to? Its top K image patches over a whole folder or video, beside the channel.

Zeiler and Fergus answered the question for every unit with the 9 dataset patches that activate it most, each cut
to the unit's receptive field ("Visualizing and Understanding Convolutional Networks", ECCV 2014, Fig. 2). The
patch index (explorer.core.patch_index) keeps them per (model, weights, layer) in an SQLite file; this view shows,
for the dock's layer and clicked channel, the current model's and weights' entries only (patch_lookup), offers to
index the current folder or video when there are none (indexing: a background run with progress, ETA and
Cancel), to rebuild a damaged database, and opens a patch's image with its receptive field marked by the dock's
own overlay (FeatureOverlay.show_field: the same box the dock draws for a clicked feature pixel). When that field
leaves the image (Clear, a new model or source: forget_opened) or another takes its place (a click in the large
channel, another channel: field_replaced), the opened tile loses its yellow frame; Clear and a replaced field
also take the status bar's "… marked in yellow" away (unsay_marked).

Remembered: K, the database file and the last folder indexed (settings group "topPatches").
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMenu, QPushButton, QScrollArea, QSizePolicy,
                               QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from explorer.core.patch_index import DEFAULT_TOP_K, IndexStoreError, IndexSummary, default_db_path, rebuild_store
from explorer.ui.elided_label import ElidedLabel
from explorer.ui.feature_maps import patch_lookup as pl
from explorer.ui.feature_maps.indexing import IndexBar, IndexJob, IndexRunner, counted, duration
from explorer.ui.feature_maps.on_image import patch_field_text
from explorer.ui.feature_maps.patch_tiles import PatchGrid, source_name
from explorer.ui.jobs import error_text
from explorer.ui.settings import read_int, read_str

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.feature_maps.overlay import FeatureOverlay
    from explorer.ui.state import AppState

GROUP = "topPatches"
MAX_K = 64
K_CHOICES = (4, 9, 16, 25, 36, 64)
JOB_KEY = "top-patches"
REFRESH_WHILE_INDEXING_S = 3.0
MARKED_NOTE_MS = 8000  # how long the status bar says which patch is marked on the image
LIVE_SETTLE_MS = 500  # a stream's play or pause that lasts this long moves a run to another thread count  # the grid follows a run's saves (it shows only what is committed)
HINTS = {  # what the empty grid says, by state (a problem is said by the line above it)
    pl.NOT_INDEXED: "Indexing runs the model over a folder's images or a video's frames and keeps, for each "
                    "channel, the patches that activate it most (Zeiler & Fergus 2014, Fig. 2).",
    pl.NO_CHANNEL: "Click a channel in the mosaic to see the image patches that activate it most.",
    pl.SHOWN: "Nothing is saved for this channel yet.",
}
HINTS[pl.OTHER_WEIGHTS] = HINTS[pl.NOT_INDEXED]
VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.mpeg);;All files (*)"


class TopPatchesView(QWidget):
    """The pane: title and K, the state line with its actions, the run's progress, the grid of patches."""

    patchOpened = Signal(int, int)  # a patch's image is open: its feature pixel (fy, fx), for the large channel

    def __init__(self, state: AppState, bridge: SessionBridge, overlay: FeatureOverlay,
                 layers: Callable[[], list[str]]) -> None:
        super().__init__()
        from explorer.ui.settings import open_settings

        self.state, self.bridge, self.overlay = state, bridge, overlay
        self.layers_to_index = layers        # the dock's layer and its pinned layers
        self.settings = open_settings()
        self.layer, self.channel, self.output_key = "", None, ""
        self.lookup: pl.Lookup | None = None
        self.opened: pl.Crop | None = None   # the patch whose image was opened last
        self._reported = ""                  # the problem said last in the status bar: said once
        self._marked_note = ""               # "… marked in yellow": said for the opened patch, until this time
        self._marked_until = 0.0
        self._last_note = ""                 # the status bar's note said last (by anyone)
        self._checked: set[tuple] = set()    # database versions that passed quick_check
        self._last_refresh = 0.0
        self._live = state.live
        self.runner = IndexRunner(bridge.ui, lambda: self._live, self)
        # a pause and a play in quick succession (a step) move a run to a new thread once, not twice
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_SETTLE_MS)
        self._live_timer.timeout.connect(self.runner.live_changed)
        self._build()
        self.runner.progressed.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        for signal in (self.runner.started, self.runner.finished, self.runner.failed):
            signal.connect(lambda *_args: self._update_actions())  # at once, not at the lookup
        state.modelChanged.connect(lambda _h: self.refresh())
        state.sourceChanged.connect(lambda _info: self._update_actions())
        state.liveChanged.connect(self._on_live)
        state.message.connect(self._on_note)
        bridge.closing.connect(self.runner.stop)
        self.refresh()

    # -- widgets ---------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.title = ElidedLabel("Top patches", min_chars=4)
        self.title.setStyleSheet("font-weight: bold;")
        self.k = read_int(self.settings, f"{GROUP}/k", DEFAULT_TOP_K, 1, MAX_K)
        # one small button for the rest: the pane shares the channel's width, and must stay narrow in a small dock
        self.more_button = QToolButton()
        self.more_button.setText("⋯")
        self.more_button.setToolTip("Index a folder or a video, how many patches to show, the index file")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.more_button)
        self.index_action = menu.addAction("Index", lambda: self.start_index())
        menu.addAction("Index a folder…", self.choose_folder)
        menu.addAction("Index a video…", self.choose_video)
        menu.addSeparator()
        shown = menu.addMenu("Patches shown")
        shown.setToolTip("An index keeps the K it was built with (at least 9)")
        self.k_actions = {}
        for k in K_CHOICES:
            action = shown.addAction(str(k), lambda k=k: self.set_k(k))
            action.setCheckable(True)
            self.k_actions[k] = action
        menu.addAction("Use another index file…", self.choose_database)
        self.more_button.setMenu(menu)
        self._check_k()
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.more_button)

        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.status_label.setStyleSheet("color: #505050;")
        self.index_button = QPushButton("Index")
        self.index_button.clicked.connect(lambda: self.start_index())
        self.rebuild_button = QPushButton("Rebuild the index")
        self.rebuild_button.setToolTip("Move the damaged file aside (it is kept) and start an empty index")
        self.rebuild_button.clicked.connect(self.rebuild)
        actions = QHBoxLayout()
        actions.setContentsMargins(0, 0, 0, 0)
        actions.addWidget(self.index_button)
        actions.addWidget(self.rebuild_button)
        actions.addStretch(1)
        self.progress = IndexBar(self.runner)

        self.grid = PatchGrid()
        self.grid.clicked.connect(self.open_patch)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.grid)
        self.scroll.setStyleSheet("QScrollArea { background: #1e1e1e; border: none; }")
        self.grid.setStyleSheet("background: #1e1e1e;")
        self.hint = QLabel("")  # in the grid's place while there are no patches (as the large channel's hint)
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setStyleSheet("background: rgb(30, 30, 30); color: #b0b0b0; padding: 8px;")
        # a short dock scrolls the hint rather than cutting its first and last lines off (new-user trial)
        self.hint_scroll = QScrollArea()
        self.hint_scroll.setWidgetResizable(True)
        self.hint_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.hint_scroll.setStyleSheet("QScrollArea { background: rgb(30, 30, 30); border: none; }")
        self.hint_scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)  # gives way
        self.hint_scroll.setWidget(self.hint)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.hint_scroll)
        self.pages.addWidget(self.scroll)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 0, 0)
        lay.setSpacing(3)
        lay.addLayout(head)
        lay.addWidget(self.status_label)
        lay.addLayout(actions)
        lay.addWidget(self.progress)
        lay.addWidget(self.pages, 1)


    # -- what to show ----------------------------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        chosen = read_str(self.settings, f"{GROUP}/database", "")
        return Path(chosen).expanduser() if chosen else default_db_path()

    @property
    def tiles(self) -> list[Any]:
        return list(self.grid.tiles)

    def set_target(self, layer: str, channel: int | None, output_key: str = "") -> None:
        """The dock's layer and clicked channel (None: none clicked); the output its maps show."""
        if (layer, channel, output_key) == (self.layer, self.channel, self.output_key):
            return
        self.layer, self.channel, self.output_key = layer, channel, output_key
        self.refresh()

    def refresh(self) -> None:
        """Look the target up again (in the jobs thread); the answer replaces what is shown."""
        import time

        self._last_refresh = time.perf_counter()
        handle = self.state.handle
        # the last run's skipped files are said while its model and a layer it indexed are shown
        self.progress.follow(handle.name if handle is not None else "", handle.weights if handle is not None else "",
                             handle.seed if handle is not None else None, self.layer)
        if handle is None or not self.layer:
            self._apply(None, "Open a model and select a layer: its channels' top patches over a folder show here."
                        if handle is None else "Select a layer to see its channels' top patches.")
            return
        db = self.db_path
        target = pl.Target(db, handle.name, handle.entry, handle.weights, handle.seed, self.layer, self.channel,
                           self.k, check=self._version(db) not in self._checked)
        self.bridge.jobs.submit(JOB_KEY, lambda: pl.look_up(target), on_done=self._on_lookup,
                                on_error=lambda text: self._apply(None, text))

    def _title(self) -> str:
        return f"Top patches · channel {self.channel}" if self.channel is not None else "Top patches"

    @staticmethod
    def _version(db: Path) -> tuple:
        try:
            st = os.stat(db)
        except OSError:
            return (str(db),)
        return (str(db), st.st_size, st.st_mtime_ns)

    def _on_lookup(self, lookup: pl.Lookup) -> None:
        t, handle = lookup.target, self.state.handle
        if handle is None or (t.model, t.weights, t.layer, t.channel) != (handle.name, handle.weights, self.layer,
                                                                          self.channel):
            return  # an answer for something no longer shown
        if lookup.status not in pl.PROBLEMS:
            self._checked.add(self._version(t.db))
        self._apply(lookup, lookup.text)

    def _apply(self, lookup: pl.Lookup | None, text: str) -> None:
        self.lookup = lookup
        note = ""
        if lookup is not None and lookup.info is not None and self.output_key and \
                lookup.info.output_key and lookup.info.output_key != self.output_key:
            note = f" (The index keeps output '{lookup.info.output_key}'; the maps show '{self.output_key}'.)"
        crops = lookup.crops if lookup is not None else ()
        shown = lookup is not None and lookup.status == pl.SHOWN and bool(crops)
        # showing patches, the title says it all and the grid gets the height; otherwise the line says why not
        self.title.setText(text if shown else self._title())
        self.title.setToolTip(f"{text} ({lookup.weights_label} weights) in {lookup.target.db}. Click a patch to "
                              "open its image." if shown and lookup is not None else "")
        if self.runner.running and lookup is not None and lookup.status in (pl.NOT_INDEXED, pl.OTHER_WEIGHTS):
            text = f"Indexing {self.runner.job.name}: the patches show here as they are saved."
        line = text + note if not shown else note.strip()
        # the core's sentences start in lower case; the view's own start with a word ("Layer conv1 of …"), never
        # with a module's name, which is shown as it is spelled (new-user trial: "Conv1", "Features.0")
        self.status_label.setText(line[:1].upper() + line[1:])
        self.hint.setText(HINTS.get(lookup.status, "") if lookup is not None else "")
        self.pages.setCurrentWidget(self.scroll if crops else self.hint_scroll)
        self.status_label.setVisible(bool(self.status_label.text()))
        self.grid.set_crops(crops)
        self.grid.select(self.opened)
        # a problem is said once: a click on another channel, or a run that meets it too, does not say it again
        self._say(text if lookup is not None and lookup.status in pl.PROBLEMS else "")
        self._update_actions()

    def _say(self, problem: str) -> None:
        """Show `problem` in the status bar unless it is the one said last ("" : none now)."""
        if problem and problem != self._reported:
            self.state.show_error(problem)
        self._reported = problem

    # -- actions ---------------------------------------------------------------------------------------------
    def offered_source(self) -> Path | None:
        """What "Index" indexes: the folder or video on screen (an image's folder), else the last one indexed."""
        info = self.state.source
        if info.kind in ("folder", "video"):
            return Path(info.path)
        if info.kind == "image" and info.path:
            return Path(info.path).parent
        last = read_str(self.settings, f"{GROUP}/lastFolder", "")
        return Path(last) if last and Path(last).exists() else None

    def _update_actions(self) -> None:
        status = self.lookup.status if self.lookup is not None else ""
        source = self.offered_source()
        running = self.runner.running
        can_index = self.state.handle is not None and bool(self.layer) and source is not None and not running
        name = (source.name or str(source)) if source is not None else ""
        name = name if len(name) <= 18 else name[:17] + "…"  # the button must not widen the dock (whole in the tip)
        text = f"Index {name}" if source is not None else "Index"
        tip = (f"Index {', '.join(self._chosen_layers()) or 'the layer'} over '{source}' (recursively) with the "
               "current model and weights" if source is not None
               else "Open a folder or a video first, or choose one in the Index menu")
        for action in (self.index_button, self.index_action):
            action.setText(text)
            action.setToolTip(tip)
            action.setEnabled(can_index)
        self.index_button.setVisible(status in (pl.NOT_INDEXED, pl.OTHER_WEIGHTS) and not running)
        self.rebuild_button.setVisible(status == pl.CORRUPT)
        self.rebuild_button.setEnabled(not running)
        self.more_button.setEnabled(not running)

    def _chosen_layers(self) -> list[str]:
        return list(dict.fromkeys(layer for layer in self.layers_to_index() if layer))

    def start_index(self, source: str | os.PathLike | None = None, layers: list[str] | None = None) -> bool:
        """Index `source` (default: offered_source()) for `layers` (default: the dock's and the pinned ones)
        with the current model and weights, in the background. False (with one message) when it cannot start."""
        handle = self.state.handle
        path = Path(source) if source is not None else self.offered_source()
        layers = list(layers) if layers is not None else self._chosen_layers()
        problem = ("Open a model first." if handle is None else "Select a layer to index." if not layers
                   else "Open a folder or a video to index first." if path is None
                   else "An index is being built already: wait for it or cancel it." if self.runner.running
                   else "")
        if problem:
            self.state.show_error(problem)
            return False
        assert handle is not None and path is not None
        job = IndexJob(path, tuple(layers), self.db_path, handle.name, handle.entry, handle.weights, handle.seed,
                       handle.device, self.state.graph, max(self.k, DEFAULT_TOP_K))
        self.settings.setValue(f"{GROUP}/lastFolder", str(path))
        started = self.runner.start(job)
        self.refresh()  # the line says the run is on
        return started

    def cancel_index(self) -> None:
        self.runner.cancel()

    def _on_progress(self, progress: Any) -> None:
        import time

        if time.perf_counter() - self._last_refresh > REFRESH_WHILE_INDEXING_S:
            self.refresh()

    def _on_finished(self, job: IndexJob, summary: IndexSummary) -> None:
        what = f"'{job.name}' for {', '.join(job.layers)}"
        if summary.cancelled:
            text = (f"Indexing {what} cancelled: {counted(summary.frames_indexed, job.unit)} saved; index again "
                    "to go on from there.")
        else:  # a folder's images, a video's frames (new-user trial: "7 frames of 'folder'")
            text = f"Indexed {counted(summary.frames_indexed, job.unit)} of {what} in {duration(summary.seconds)}"
            if summary.already_indexed:
                text += f" ({summary.already_indexed} files were indexed before)"
            text += "."
        if summary.skipped:
            names = [Path(s.path).name + (f" (frame {s.frame})" if s.frame else "") for s in summary.skipped]
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            text += f" Skipped {len(names)} that could not be decoded: {shown}."
        self.state.show_message(text, 10000, answer=True)
        self.refresh()

    def _on_failed(self, job: IndexJob, exc: BaseException) -> None:
        text = error_text(exc)
        # a damaged or full database fails the view's reading with the same sentence: said once, either way round
        if isinstance(exc, IndexStoreError):
            self._say(text)
        else:
            self.state.show_error(text)
        self.refresh()

    def _on_live(self, live: bool) -> None:
        self._live = live
        if self.runner.running:
            self._live_timer.start()

    def set_k(self, k: int) -> None:
        """Show the top `k` patches (remembered); an index keeps at least 9 (DEFAULT_TOP_K) per channel."""
        self.k = int(min(MAX_K, max(1, k)))
        self.settings.setValue(f"{GROUP}/k", self.k)
        self._check_k()
        self.refresh()

    def _check_k(self) -> None:
        for k, action in self.k_actions.items():
            action.setChecked(k == self.k)

    def rebuild(self) -> bool:
        """Move the damaged database aside (kept as '<name>.damaged-<time>') and start an empty one."""
        if self.runner.running:
            self.state.show_error("Wait for the index being built, or cancel it, before rebuilding.")
            return False
        try:
            backup = rebuild_store(self.db_path)
        except Exception as exc:  # noqa: BLE001 - IndexStoreError or an OS error: one sentence either way
            self.state.show_error(error_text(exc))
            return False
        self._reported = ""
        self.state.show_message(f"The damaged index was moved to '{backup}'; a new, empty index is in its place.",
                                8000, answer=True)
        self.refresh()
        return True

    def open_patch(self, crop: pl.Crop) -> bool:
        """Open the patch's image (a video's frame as a still) with the receptive field marked on it. An image of
        the folder that is open moves the folder to it instead, so the user keeps their place in the folder."""
        from explorer.core.patch_index.files import is_video_path

        p = crop.patch
        if is_video_path(p.image):  # decoded in the background: marked once it is on screen
            return self.bridge.open_frame(p.image, p.frame, on_shown=lambda: self._mark_opened(crop))
        if not self.bridge.show_folder_file(p.image) and not self.bridge.open_image(p.image):
            return False
        self._mark_opened(crop)
        return True

    def _mark_opened(self, crop: pl.Crop) -> None:
        p = crop.patch
        self.opened = crop
        # after the open: a new source clears the overlay first
        self.overlay.show_field(p.field, p.box, patch_field_text(p.field, p.box, p.rank))
        self.grid.select(crop)
        self.patchOpened.emit(p.y, p.x)
        self._marked_note = (f"{source_name(crop)}: patch #{p.rank + 1} of channel {self.channel} "
                             f"(value {p.score:.4g}), its receptive field marked in yellow.")
        self._marked_until = time.monotonic() + MARKED_NOTE_MS / 1000
        self.state.show_message(self._marked_note, MARKED_NOTE_MS, answer=True)

    def forget_opened(self) -> None:
        """The opened patch's field is off the image (Clear, a new model or source): its tile loses the yellow
        frame, as the image lost the field."""
        self.opened = None
        self.grid.select(None)

    def field_replaced(self, box: tuple[float, float, float, float] | None) -> None:
        """The dock drew another receptive field (`box`, source pixels) or took it off (None): unless it is the
        opened patch's own field again, the tile loses its frame and the "marked in yellow" note goes, as on
        Clear (new-user trial: a click in the large channel moved the yellow box and left the tile framed)."""
        if self.opened is None:
            return
        field = self.opened.patch.field
        if box is not None and all(abs(a - b) < 1e-3 for a, b in zip(box, field)):
            return
        self.forget_opened()
        self.unsay_marked()

    def unsay_marked(self) -> None:
        """Clear: the status bar's "… marked in yellow" goes while it is still what the bar says (a newer note, or
        one whose time is up, is left alone). Not on a new source: opening the next patch says its own at once."""
        if self._marked_note and self._last_note == self._marked_note and time.monotonic() < self._marked_until:
            self.state.show_message("", 0)  # an empty note: the status bar's message area is emptied
        self._marked_note = ""

    def _on_note(self, text: str, *_args: Any) -> None:
        self._last_note = text

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Index a folder (with its sub-folders)", self._start_dir())
        if path:
            self.start_index(path)

    def choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Index a video", self._start_dir(), VIDEO_FILTER)
        if path:
            self.start_index(path)

    def choose_database(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Index file (an existing one, or a new one)", str(self.db_path),
                                              "Patch index (*.sqlite *.db);;All files (*)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.use_database(path)

    def use_database(self, path: str | os.PathLike) -> None:
        self.settings.setValue(f"{GROUP}/database", str(path))
        self._reported = ""
        self.refresh()

    def _start_dir(self) -> str:
        source = self.offered_source()
        return str(source if source is not None and source.is_dir() else source.parent if source else Path.home())
