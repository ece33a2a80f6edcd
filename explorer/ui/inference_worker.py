"""The inference worker: runs the Engine on the newest frame, off the UI thread.

A QThread whose loop waits on a one-slot holder (explorer.core.sources.LatestSlot): `submit(frame)` from the
UI thread replaces whatever frame is still waiting, so while the model is busy only the newest frame is kept
(latest wins, never a queue) and the UI thread never waits for the model. Results and errors go back through
signals, which Qt delivers to UI-thread receivers as queued calls.

The Engine (and with it `import torch`) is built in this thread when a model arrives. Probes requested by the
views are remembered here and re-attached to each new engine.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QThread, Signal

from explorer.core.sources import LatestSlot

# The engine keeps every box above this score; the panel's slider filters further without re-running.
ENGINE_MIN_SCORE = 0.05


class InferenceWorker(QThread):
    resultReady = Signal(object)     # FrameResult
    failed = Signal(str)             # one-sentence message
    engineReady = Signal(object)     # the Engine now in use (None when the model was dropped)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.slot: LatestSlot[Any] = LatestSlot()
        self._lock = threading.Lock()
        self._handle: Any = None          # ModelHandle waiting to become an engine
        self._handle_changed = False
        self._engine_options: dict[str, Any] = {}
        self._probes: dict[str, Any] = {}
        self._probe_ops: list[tuple[str, Any]] = []
        self._running = True
        self.engine: Any = None
        self.frames_done = 0
        self.busy = False
        self.last_error = ""
        # Preprocess the next frame in a helper thread during the forward pass (CPU only). None: only when a
        # core is left over from the model's threads: on 2 cores with both computing, the helper stalls the
        # forward pass's OpenMP team more than it saves (resnet18: 22 instead of 27.6 fps, bench/pipeline.py
        # --prefetch on/off).
        self.prefetch: bool | None = None
        self._forward_done = threading.Event()
        self._forward_ms = 0.0                # running averages, to time the prefetch
        self._prep_ms = 0.0

    # -- from the UI thread -----------------------------------------------------------------------------------
    def submit(self, frame: Any) -> None:
        """Hand over the newest frame; a frame still waiting is dropped."""
        if frame is not None:
            self.slot.put(frame)

    @property
    def dropped(self) -> int:
        return self.slot.dropped

    def set_model(self, handle: Any, **engine_options: Any) -> None:
        """Use this ModelHandle (None: no model) for the next frames; the engine is built in the worker."""
        with self._lock:
            self._handle = handle
            self._handle_changed = True
            self._engine_options = engine_options
        self.slot.put(_WAKE) if self.slot.peek() is None else None

    def add_probe(self, probe: Any) -> None:
        with self._lock:
            self._probes[probe.name] = probe
            self._probe_ops.append(("add", probe))

    def remove_probe(self, name: str) -> None:
        with self._lock:
            self._probes.pop(name, None)
            self._probe_ops.append(("remove", name))

    @property
    def probe_names(self) -> list[str]:
        with self._lock:
            return list(self._probes)

    def set_score_threshold(self, value: float) -> None:
        engine = self.engine
        if engine is not None:
            engine.set_score_threshold(value)

    def stop(self, timeout_ms: int = 5000) -> None:
        self._running = False
        self.slot.put(_WAKE)
        self.wait(timeout_ms)

    # -- in the worker thread ---------------------------------------------------------------------------------
    def run(self) -> None:  # noqa: D401 - QThread's entry point
        from concurrent.futures import ThreadPoolExecutor

        from explorer.core.threads import use_one_thread

        # With a spare core (see _use_prefetch) the next frame is preprocessed in a helper thread while the
        # current one runs through the model (double buffering: one frame ahead at most, taken as late as
        # possible so it is the newest). The helper runs its kernels inline: the model's thread keeps the only
        # OpenMP team in the process (explorer.core.threads).
        pool = ThreadPoolExecutor(1, thread_name_prefix="preprocess", initializer=use_one_thread)
        ahead = None  # Future of (engine, frame, prepared, ms) | None
        try:
            while self._running:
                self._sync_engine()
                engine = self.engine
                job = None
                if ahead is not None:
                    try:
                        job = ahead.result()
                    except Exception as exc:  # noqa: BLE001 - a frame that cannot be preprocessed
                        self._report(exc)
                    ahead = None
                    if job is not None:
                        self._sync_engine()  # probes or a model requested while the frame was prepared
                        engine = self.engine
                        if engine is None:
                            continue
                        if job[0] is not engine:  # prepared for the previous model: prepare again
                            job = (engine, job[1], None, 0.0)
                if job is None:
                    item = self.slot.take(timeout=0.2)
                    if item is None or item is _WAKE or not self._running:
                        continue
                    self._sync_engine()  # probes (or a model) changed while waiting apply to this frame
                    engine = self.engine
                    if engine is None:
                        continue
                    job = (engine, item, None, 0.0)
                _, frame, prepared, prep_ms = job
                self._forward_done.clear()
                if self._use_prefetch(engine):
                    ahead = pool.submit(self._prefetch, engine)
                self.busy = True
                try:
                    result = engine.run(frame, prepared, prep_ms)
                except Exception as exc:  # noqa: BLE001 - report and stay usable
                    self._report(exc)
                    continue
                finally:
                    self.busy = False
                    self._forward_done.set()
                self.frames_done += 1
                t = result.timing_ms
                a = 0.2 if self.frames_done > 1 else 1.0
                self._forward_ms += a * (t.get("forward", 0.0) + t.get("postprocess", 0.0) - self._forward_ms)
                self._prep_ms += a * (t.get("preprocess", 0.0) - self._prep_ms)
                self.resultReady.emit(result)
        finally:
            self._forward_done.set()
            pool.shutdown(wait=True)
            if self.engine is not None:
                self.engine.close()
                self.engine = None

    def _use_prefetch(self, engine: Any) -> bool:
        if engine.is_cuda:  # the GPU's stream does the preprocessing: nothing to overlap
            return False
        if self.prefetch is not None:
            return self.prefetch
        from explorer.core.threads import compute_threads, usable_cpus

        return usable_cpus() > compute_threads()

    def _prefetch(self, engine: Any) -> tuple[Any, Any, Any, float] | None:
        """In the helper thread: wait briefly for the next frame and preprocess it."""
        # Take the frame as late as possible, so that it is the newest: start preparing it about one
        # preprocessing time before the forward pass is expected to end (running averages of both).
        lead_s = max(0.0, self._forward_ms - 1.5 * self._prep_ms) / 1000.0
        if lead_s > 0:
            self._forward_done.wait(lead_s)
        item = None
        while item is None and self._running:
            done = self._forward_done.is_set()
            item = self.slot.take(timeout=0.02)
            if done:  # the forward pass ended: the main loop takes over
                break
        if item is None or item is _WAKE or not self._running:
            if item is _WAKE:
                self.slot.put(_WAKE) if self.slot.peek() is None else None  # let the loop see it
            return None
        prepared, ms = engine.prepare(item)
        return engine, item, prepared, ms

    def _report(self, exc: Exception) -> None:
        from explorer.core.errors import ExplorerError

        text = str(exc) if isinstance(exc, ExplorerError) else f"inference failed: {type(exc).__name__}: {exc}"
        self.last_error = text
        self.failed.emit(text)

    def _sync_engine(self) -> None:
        with self._lock:
            changed, handle, options = self._handle_changed, self._handle, dict(self._engine_options)
            self._handle_changed = False
            ops, self._probe_ops = self._probe_ops, []
            probes = list(self._probes.values())
        if changed:
            if self.engine is not None:
                self.engine.close()
                self.engine = None
            if handle is not None:
                try:
                    from explorer.core.engine import Engine
                    from explorer.core.threads import use_compute_threads

                    use_compute_threads()  # this thread runs the model: it alone gets the cores

                    options.setdefault("score_threshold", ENGINE_MIN_SCORE)
                    engine = Engine(handle.model, handle.entry, handle.device, handle.weights, **options)
                    for p in probes:
                        engine.add_probe(p)
                except Exception as exc:  # noqa: BLE001
                    self.failed.emit(f"cannot run {handle.name}: {exc}")
                    engine = None
                self.engine = engine
            self.engineReady.emit(self.engine)
            return
        if self.engine is not None:
            for op, item in ops:
                if op == "add":
                    self.engine.add_probe(item)
                else:
                    self.engine.remove_probe(item)


class _Wake:
    """A marker put in the slot to wake the loop (a model change); never run."""


_WAKE = _Wake()
