"""The live inference loop: the newest frame → preprocess → forward → postprocess → probes → result.

One thread runs the model (latest wins, never a queue): frames arrive in a one-slot holder
(explorer.core.sources.LatestSlot), put there by a source's capture thread directly or by `submit`; a frame
still waiting when a newer one arrives is dropped and counted. Results, frames shown without a model and
errors leave through callbacks, called in this thread.

Between two frames the loop also runs the jobs that need the model itself (`run_on_model`: a graph's timing
pass, say), because one nn.Module must not run in two threads at once.

The engine (explorer.core.engine) is built in this thread when a model arrives; the probe set is shared with
every engine, so the views' probes carry over a model change.

Prefetch (double buffering): with a core to spare, the next frame is preprocessed in a helper thread while
the current one runs through the model, taken as late as possible so that it is the newest. On 2 cores with
both computing the helper stalls the forward pass's OpenMP team more than it saves (resnet18: 22 instead of
27.6 fps, `python bench/pipeline.py --prefetch on/off`), so by default it is on only when a core is left
over (explorer.core.threads).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.core.probes import ProbeSet
from explorer.core.sources import LatestSlot

if TYPE_CHECKING:
    from explorer.core.engine import Engine
    from explorer.core.opening import ModelHandle
    from explorer.core.results import Frame, FrameResult

# The engine keeps every box above this score; the views' threshold filters further without re-running.
ENGINE_MIN_SCORE = 0.05


@dataclass
class ModelJob:
    fn: Callable[["ModelHandle"], Any]
    on_done: Callable[[Any], None] | None
    on_error: Callable[[BaseException], None] | None


class Pipeline:
    """The model's thread. Callbacks run in it: on_result(FrameResult), on_frame(Frame) for frames that went
    through with no model, on_error(message, the frame it failed on or None)."""

    def __init__(self, probes: ProbeSet, *, on_result: Callable[["FrameResult"], None],
                 on_frame: Callable[["Frame"], None], on_error: Callable[[str, "Frame | None"], None],
                 engine_options: dict[str, Any] | None = None) -> None:
        self.probes = probes
        self.on_result = on_result
        self.on_frame = on_frame
        self.on_error = on_error
        self.engine_options = dict(engine_options or {})
        self.slot: LatestSlot[Any] = LatestSlot()
        self.engine: "Engine | None" = None
        self.handle: "ModelHandle | None" = None
        self.frames_done = 0
        self.finished = 0  # frames taken from the slot and done with (delivered, failed or passed through)
        self.busy = False
        self.last_error = ""
        self.prefetch: bool | None = None     # None: only with a core to spare (see the module docstring)
        self.last_input: "Frame | None" = None  # the newest frame taken in: what a re-run runs again
        self._lock = threading.Lock()
        self._next_handle: "ModelHandle | None" = None
        self._handle_changed = False
        self._jobs: deque[ModelJob] = deque()
        self._running = True
        self._forward_done = threading.Event()
        self._forward_ms = 0.0  # running averages, to time the prefetch
        self._prep_ms = 0.0
        self._thread = threading.Thread(target=self._loop, name="pipeline", daemon=True)
        self._thread.start()

    # -- from any thread --------------------------------------------------------------------------------------
    def submit(self, frame: "Frame") -> None:
        """The newest frame; one still waiting is dropped."""
        self.slot.put(frame)

    @property
    def dropped(self) -> int:
        return self.slot.dropped

    def set_model(self, handle: "ModelHandle | None") -> None:
        """Run `handle`'s model from the next frame on (None: frames go through unprocessed)."""
        with self._lock:
            self._next_handle = handle
            self._handle_changed = True
        self._wake()

    def run_on_model(self, fn: Callable[["ModelHandle"], Any], on_done: Callable[[Any], None] | None = None,
                     on_error: Callable[[BaseException], None] | None = None) -> None:
        """Run `fn(handle)` in this thread between two frames (the model is never run by two threads)."""
        with self._lock:
            self._jobs.append(ModelJob(fn, on_done, on_error))
        self._wake()

    def _wake(self) -> None:
        self.slot.wake()

    def stop(self, timeout: float = 5.0) -> None:
        self._running = False
        self.slot.wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def idle(self) -> bool:
        """Nothing waits in the slot and every frame taken from it is done with (its result delivered)."""
        return self.slot.peek() is None and self.slot.taken == self.finished

    # -- the thread -------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        from explorer.core.threads import use_one_thread

        pool = ThreadPoolExecutor(1, thread_name_prefix="preprocess", initializer=use_one_thread)
        ahead: Future | None = None  # of (engine, frame, prepared, ms) | None
        try:
            while self._running:
                self._sync()
                job = None
                if ahead is not None:
                    try:
                        job = ahead.result()
                    except Exception as exc:  # noqa: BLE001 - a frame that cannot be preprocessed
                        self._report(exc)
                        self.finished += 1
                    ahead = None
                    if job is not None:
                        self._sync()  # a model requested while the frame was prepared
                        if self.engine is None:
                            self._pass_through(job[1])
                            self.finished += 1
                            continue
                        if job[0] is not self.engine:  # prepared for the previous model: prepare again
                            job = (self.engine, job[1], None, 0.0)
                if job is None:
                    item = self.slot.take(timeout=0.2)
                    if item is None or not self._running:
                        continue
                    self.last_input = item
                    self._sync()  # a model requested while waiting applies to this frame
                    if self.engine is None:
                        self._pass_through(item)
                        self.finished += 1
                        continue
                    job = (self.engine, item, None, 0.0)
                engine, frame, prepared, prep_ms = job
                self._forward_done.clear()
                if self._use_prefetch(engine):
                    ahead = pool.submit(self._prefetch, engine)
                self.busy = True
                try:
                    result = engine.run(frame, prepared, prep_ms)
                except Exception as exc:  # noqa: BLE001 - report and stay usable
                    self._report(exc, frame)
                    self.finished += 1
                    continue
                finally:
                    self.busy = False
                    self._forward_done.set()
                self.frames_done += 1
                t = result.timing_ms
                a = 0.2 if self.frames_done > 1 else 1.0
                self._forward_ms += a * (t.get("forward", 0.0) + t.get("postprocess", 0.0) - self._forward_ms)
                self._prep_ms += a * (t.get("preprocess", 0.0) - self._prep_ms)
                self._call(self.on_result, result)
                self.finished += 1
        finally:
            self._forward_done.set()
            pool.shutdown(wait=True)
            if self.engine is not None:
                self.engine.close()
                self.engine = None

    def _pass_through(self, frame: "Frame") -> None:
        self._call(self.on_frame, frame)

    @staticmethod
    def _call(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - a broken listener must not stop the pipeline
            import traceback

            traceback.print_exc()

    def _use_prefetch(self, engine: "Engine") -> bool:
        if engine.is_cuda:  # the GPU's stream does the preprocessing: nothing to overlap
            return False
        if self.prefetch is not None:
            return self.prefetch
        from explorer.core.threads import compute_threads, usable_cpus

        return usable_cpus() > compute_threads()

    def _prefetch(self, engine: "Engine") -> tuple[Any, Any, Any, float] | None:
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
        if item is None or not self._running:
            return None  # (a wake taken here needs no passing on: the loop syncs before every frame)
        self.last_input = item
        prepared, ms = engine.prepare(item)
        return engine, item, prepared, ms

    def _report(self, exc: BaseException, frame: "Frame | None" = None) -> None:
        from explorer.core.errors import ExplorerError

        text = str(exc) if isinstance(exc, ExplorerError) else f"inference failed: {type(exc).__name__}: {exc}"
        self.last_error = text
        self._call(self.on_error, text, frame)

    def _sync(self) -> None:
        """The model change and the model jobs asked for since the last frame."""
        with self._lock:
            changed, handle = self._handle_changed, self._next_handle
            self._handle_changed = False
        if changed:
            if self.engine is not None:
                self.engine.close()
                self.engine = None
            self.handle = handle
            if handle is not None:
                try:
                    from explorer.core.engine import Engine
                    from explorer.core.threads import use_compute_threads

                    use_compute_threads()  # this thread runs the model: it alone gets the cores
                    options = {"score_threshold": ENGINE_MIN_SCORE, **self.engine_options}
                    self.engine = Engine(handle.model, handle.entry, handle.device, handle.weights,
                                         probes=self.probes, **options)
                except Exception as exc:  # noqa: BLE001
                    self._call(self.on_error, f"cannot run {handle.name}: {exc}", None)
                    self.engine = None
        while True:
            with self._lock:
                if not self._jobs:
                    break
                job = self._jobs.popleft()
            self._run_job(job)

    def _run_job(self, job: ModelJob) -> None:
        handle = self.handle
        try:
            if handle is None:
                from explorer.core.errors import ExplorerError

                raise ExplorerError("no model is open")
            out = job.fn(handle)
        except BaseException as exc:  # noqa: BLE001 - to the job's on_error
            if job.on_error is not None:
                self._call(job.on_error, exc)
            return
        if job.on_done is not None:
            self._call(job.on_done, out)
