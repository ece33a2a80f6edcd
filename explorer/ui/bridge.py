"""The bridge between the Qt-free Session and the window: the Session's reports become AppState changes on the
UI thread, and the views' requests become Session calls.

The Session calls its listener from its own threads (model loader, pipeline, capture); each call here hands
the data to the UI thread through a queued signal (napari's `qthreading` does the same for its workers).
Frames and results are coalesced: only the newest waits, and it is handed over at most once per screen
refresh, so the UI thread never works through stale results and painting never holds up the pipeline (the
pipeline never waits for the UI at all).

Source and model requests that fail say so once through AppState.show_error and return False; the state
stays as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from explorer.core.session import Session, SessionListener
from explorer.core.source_info import PipelineStats, SourceInfo
from explorer.ui.jobs import Jobs, UiCalls, error_text
from explorer.ui.state import AppState

if TYPE_CHECKING:
    from explorer.core.engine import Probe
    from explorer.core.opening import ModelHandle, OpenedModel
    from explorer.core.results import Frame, FrameResult


IDLE_TICKS = 30  # refreshes without a frame or result before the poll stops (half a second at 60 Hz)


class _Listener(SessionListener):
    """Runs in the Session's threads: every call is posted to the UI thread (frames and results coalesced)."""

    def __init__(self, bridge: "SessionBridge") -> None:
        self.bridge = bridge
        self.ui = bridge.ui

    def model_loading(self, name: str, weights: str, device: str) -> None:
        self.ui.post(lambda: self.bridge.state.set_loading(name))

    def loading_stage(self, text: str) -> None:
        self.ui.post(lambda: self.bridge.state.set_stage(text))

    def download_progress(self, done: int, total: int) -> None:
        self.ui.post(lambda: self.bridge.state.set_download(done, total))

    def model_ready(self, opened: "OpenedModel") -> None:
        self.bridge._offer(("model", opened))

    def model_failed(self, message: str, name: str, weights: str) -> None:
        self.ui.post(lambda: self.bridge._model_failed(message, name, weights))

    def source_changed(self, info: SourceInfo) -> None:
        self.bridge._offer(("source", info))

    def source_warning(self, message: str) -> None:
        # a file of a folder skipped: a note for its time, kept in View > Messages; as an error it stayed in sight
        # while the next images showed fine (new-user trial)
        self.ui.post(lambda: self.bridge.state.show_message(message, 8000))

    def frame_shown(self, frame: "Frame") -> None:
        self.bridge._offer(("frame", frame))

    def result_ready(self, result: "FrameResult", stats: PipelineStats) -> None:
        self.bridge._offer(("result", (result, stats)))

    def inference_failed(self, message: str, frame: "Frame | None" = None) -> None:
        self.ui.post(lambda: self.bridge.state.result_failed(message, frame))


class SessionBridge(QObject):
    """Owns the Session and the views' job helper; the one place the views ask for work."""

    modelOpenFailed = Signal(str, str, str)   # message, name, weights: for the window's start-up fallback
    closing = Signal()                         # the window closes: views stop their own background work
    _wake = Signal()

    def __init__(self, state: AppState, parent: QObject | None = None, *, session: Session | None = None,
                 engine_options: dict[str, Any] | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.seed = 0  # of random weights, for every model opened here (the window's --seed)
        self.ui = UiCalls(self)
        self.jobs = Jobs(self)
        self.session = session or Session(engine_options=engine_options)
        self.session.listener = _Listener(self)
        # the newest frame and result waiting for the UI thread, and the model/source changes in order
        self._lock = threading.Lock()
        self._events: list[tuple[str, Any]] = []
        self._posted = False
        self._timer = QTimer(self)  # the poll at the screen's refresh rate (see _offer)
        self._timer.timeout.connect(self._tick)
        self._polling = False
        self._idle_ticks = 0
        self._wake.connect(self._schedule)
        self._closed = False
        self._draining = False
        self._ui_thread = threading.current_thread()

    # -- the Session's reports, on the UI thread ----------------------------------------------------------------
    def _offer(self, event: tuple[str, Any]) -> None:
        """From any thread: queue an event; a frame or result replaces a waiting one of its kind.

        While frames keep coming, the UI thread polls for them at the screen's refresh rate instead of being
        woken by each: a queued signal emitted from the pipeline thread hands the GIL to the UI thread, which
        then ran its whole turn (the drain, the views, the paint) while the pipeline waited for the GIL back
        (2.5 ms a frame, measured). The first event after a quiet spell wakes the UI thread once."""
        with self._lock:
            kind = event[0]
            if kind in ("frame", "result"):
                self._events = [e for e in self._events if e[0] != kind]
                if kind == "result":  # the result carries its frame: a bare frame no newer than it is stale
                    stamp = event[1][0].frame.timestamp
                    self._events = [e for e in self._events if e[0] != "frame" or e[1].timestamp > stamp]
            self._events.append(event)
            if threading.current_thread() is self._ui_thread and event[0] in ("frame", "source"):
                urgent = True  # what the user just opened is shown before the call returns
            elif self._polling or self._posted:
                return  # the poll (or the wake already on its way) takes it
            else:
                urgent = False
                self._posted = True
        if urgent:
            self._drain()
        else:
            self._wake.emit()

    @Slot()
    def _schedule(self) -> None:
        """Woken after a quiet spell: model and source changes now, frames and results from the poll, which
        runs at the screen's refresh rate until nothing has come for a while."""
        if self._closed:
            return
        with self._lock:
            self._posted = False
            urgent = any(e[0] in ("model", "source") for e in self._events)
            self._polling = True
        if urgent:
            self._drain()
        if not self._timer.isActive():
            self._idle_ticks = 0
            self._timer.start(max(1, int(self._refresh_ms())))

    def _tick(self) -> None:
        with self._lock:
            waiting = bool(self._events)
            if not waiting:
                self._idle_ticks += 1
                if self._idle_ticks > IDLE_TICKS:  # quiet: stop polling; the next event wakes the UI thread
                    self._polling = False
                    self._timer.stop()
                return
            self._idle_ticks = 0
        self._drain()

    def _refresh_ms(self) -> float:
        from PySide6.QtGui import QGuiApplication

        screen = QGuiApplication.primaryScreen()
        rate = screen.refreshRate() if screen is not None else 60.0
        return 1000.0 / rate if rate and rate > 1 else 1000.0 / 60.0

    def _drain(self) -> None:
        if self._draining:  # a view reacting to one event asked for more: the loop below takes them
            return
        self._draining = True
        try:
            while True:
                with self._lock:
                    events, self._events = self._events, []
                    self._posted = False
                if not events:
                    break
                self._hand_over(events)
        finally:
            self._draining = False

    def _hand_over(self, events: list[tuple[str, Any]]) -> None:
        state = self.state
        for kind, data in events:
            if kind == "model":
                opened: "OpenedModel" = data
                state.set_model(opened.handle, opened.graph)
                if opened.graph_error:
                    state.show_message(opened.graph_error, 8000)
                request = self.session.request
                if self.session.loading and request is not None:  # asked for another one meanwhile: still busy
                    state.set_loading(request.name)
            elif kind == "source":
                was = state.source
                state.set_source(data)
                if data.message and data.status in ("ended", "error") and was.status != data.status:
                    if data.status == "error":
                        state.show_error(data.message)
                    else:
                        state.show_message(data.message, 5000)
            elif kind == "frame":
                state.set_frame(data)
            elif kind == "result":
                result, stats = data
                state.set_result(result, stats)

    def _model_failed(self, message: str, name: str, weights: str) -> None:
        handle = self.state.handle
        if handle is not None:  # the device that failed is not the one asked for from now on
            self.state.request_device(handle.device)
        self.state.model_failed(message)
        self.modelOpenFailed.emit(message, name, weights)

    # -- models -------------------------------------------------------------------------------------------------
    def open_model(self, name: str, weights: str = "", device: str = "", seed: int | None = None,
                   input_size: tuple[int, int] | None = None) -> None:
        """Open `name` (the current model stays until it is ready); device "" = the one asked for last; seed
        None = the window's (`--seed`, 0 by default); input_size None = the model's own."""
        if device:
            self.state.request_device(device)
        self.session.open_model(name, weights, self.state.requested_device, self.seed if seed is None else seed,
                                input_size)

    def _reopen(self, weights: str, device: str = "") -> None:
        """The current model again with other weights or on another device, at the input size it has now."""
        handle = self.state.handle
        if handle is not None:
            self.open_model(handle.name, weights, device, input_size=tuple(handle.entry.input_size))

    def set_weights(self, weights: str) -> None:
        handle = self.state.handle
        if handle is not None and weights != handle.weights:
            self._reopen(weights)

    def set_input_size(self, size: tuple[int, int]) -> None:
        """Capture (and, for models without a preset of their own, preprocess) the current model at `size`."""
        handle = self.state.handle
        if handle is not None and tuple(size) != tuple(handle.entry.input_size):
            self.open_model(handle.name, handle.weights, input_size=(int(size[0]), int(size[1])))

    def set_device(self, device: str) -> None:
        self.state.request_device(device)
        handle = self.state.handle
        if handle is not None:
            self._reopen(handle.weights, device)

    def cancel_download(self) -> None:
        self.session.cancel_download()

    # -- sources --------------------------------------------------------------------------------------------------
    def _try(self, fn: Callable[[], Any]) -> bool:
        from explorer.core.errors import ExplorerError

        try:
            fn()
        except ExplorerError as exc:
            self.state.show_error(str(exc))
            return False
        except MemoryError:
            self.state.show_error("not enough memory to open it")
            return False
        return True

    def open_image(self, path: str) -> bool:
        return self._try(lambda: self.session.open_image(str(path)))

    def open_folder(self, path: str) -> bool:
        return self._try(lambda: self.session.open_folder(str(path)))

    def open_video(self, path: str, *, pace: bool = True, loop: bool = False) -> bool:
        return self._try(lambda: self.session.open_video(str(path), pace=pace, loop=loop))

    def open_frame(self, path: str, index: int, on_shown: Callable[[], None] | None = None) -> bool:
        """Frame `index` of the video `path` as a still. Reaching a frame deep in a long video means decoding
        every frame before it, so that happens in the background; the frame shows when it is ready, and then
        `on_shown()` runs (to mark something on it: a new source clears the overlays)."""
        def show(decoded: Any) -> None:
            if self._try(lambda: self.session.show_video_frame(decoded)) and on_shown is not None:
                on_shown()

        self.jobs.submit("open-frame", lambda: self.session.decode_video_frame(str(path), int(index)),
                         on_done=show, on_error=self.state.show_error)
        return True

    def open_camera(self, index: int | str = 0, resolution: tuple[int, int] | None = None) -> bool:
        return self._try(lambda: self.session.open_camera(index, resolution))

    def next_item(self) -> None:
        self.session.next_item()

    def previous_item(self) -> None:
        self.session.previous_item()

    def show_folder_file(self, path: str) -> bool:
        """Move the open folder to its image `path`; False (nothing done) when it is not a file of the open folder."""
        return self.session.show_folder_file(str(path))

    def toggle_pause(self) -> bool:
        return self.session.toggle_pause()

    def step(self) -> None:
        self.session.step()

    @property
    def dropped(self) -> int:
        return self.session.dropped

    # -- probes and model jobs ------------------------------------------------------------------------------------
    def add_probe(self, probe: "Probe", rerun: bool = True) -> None:
        self.session.add_probe(probe, rerun)

    def remove_probe(self, name: str) -> None:
        self.session.remove_probe(name)

    def has_probe(self, name: str) -> bool:
        return name in self.session.probes

    def rerun(self) -> bool:
        return self.session.rerun()

    def run_on_model(self, fn: Callable[["ModelHandle"], Any], on_done: Callable[[Any], None] | None = None,
                     on_error: Callable[[str], None] | None = None) -> None:
        """`fn(handle)` in the model's thread between two frames; the callbacks on the UI thread."""
        failed = (lambda exc: on_error(error_text(exc))) if on_error is not None else None
        self.session.run_on_model(fn, self.ui.wrap(on_done), self.ui.wrap(failed))

    # -- life -------------------------------------------------------------------------------------------------
    def wait_idle(self, timeout: float = 60.0) -> bool:
        return self.session.wait_idle(timeout)

    def shutdown(self) -> None:
        """Stop the source, the loader, the pipeline and the jobs (the window calls this when it closes)."""
        if self._closed:
            return
        self._closed = True
        self.closing.emit()
        self._timer.stop()
        self.jobs.shutdown()
        self.session.shutdown()
