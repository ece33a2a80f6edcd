"""One background-job mechanism for everything that is not the live pipeline: latest wins, per key.

Opening a model, laying out or timing a graph, a notes view's computation: each is a job with a key
("model", "graph-layout", "notes:fcn" ...). A job submitted while another with the same key waits replaces
the waiting one (clicking through the Model menu never queues several loads); a job that finished after a
newer one with its key was submitted is stale, and its result is dropped instead of delivered. One thread
runs the jobs one after another, in the order they were submitted.

Threads (explorer.core.threads): this thread runs torch's kernels inline (`use_one_thread` before each job),
so the model's thread keeps the only OpenMP team. Jobs that must run the live model itself go through
`Session.run_on_model` instead, between two frames of the pipeline, because a model is not thread-safe.

No Qt here: explorer/ui/jobs.py delivers the callbacks on the UI thread.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


@dataclass
class Job:
    """One submitted job; `cancel` is set when a newer job with the same key arrives or on shutdown."""

    key: str
    fn: Callable[["Job"], Any]
    on_done: Done | None = None
    on_error: Failed | None = None
    ticket: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def cancelled(self) -> bool:
        return self.cancel.is_set()


class JobRunner:
    """A thread that runs jobs in submission order; per key only the newest is run and delivered.

    `fn(job)` runs in the runner's thread; `on_done(result)` / `on_error(exc)` are called there too (a Qt
    wrapper re-posts them to the UI thread). A stale job's outcome (a newer one with the same key was
    submitted meanwhile) is dropped.
    """

    def __init__(self, name: str = "jobs", on_idle: Callable[[], None] | None = None,
                 background: bool = False) -> None:
        self.name = name
        self.background = background  # at a lower CPU priority than the live pipeline
        self.on_idle = on_idle  # called in the runner's thread whenever the last waiting job has finished
        self._cond = threading.Condition()
        self._waiting: OrderedDict[str, Job] = OrderedDict()
        self._newest: dict[str, int] = {}
        self._running: Job | None = None
        self._tickets = itertools.count(1)
        self._stopped = False
        self._thread: threading.Thread | None = None

    # -- from any thread --------------------------------------------------------------------------------------
    def submit(self, key: str, fn: Callable[[Job], Any], on_done: Done | None = None,
               on_error: Failed | None = None) -> Job:
        job = Job(key, fn, on_done, on_error)
        with self._cond:
            if self._stopped:
                job.cancel.set()
                return job
            job.ticket = next(self._tickets)
            self._newest[key] = job.ticket
            old = self._waiting.pop(key, None)
            if old is not None:
                old.cancel.set()
            if self._running is not None and self._running.key == key:
                self._running.cancel.set()  # a download or a long loop can stop early
            self._waiting[key] = job
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return job

    def cancel(self, key: str) -> None:
        """Drop the waiting job of `key` and tell the running one to stop; nothing of theirs is delivered."""
        with self._cond:
            self._newest[key] = next(self._tickets)
            old = self._waiting.pop(key, None)
            if old is not None:
                old.cancel.set()
            if self._running is not None and self._running.key == key:
                self._running.cancel.set()

    def interrupt(self, key: str) -> None:
        """Tell the running job of `key` to stop (a download's Cancel); unlike `cancel`, its outcome (usually
        the error saying it was cancelled) is still delivered."""
        with self._cond:
            if self._running is not None and self._running.key == key:
                self._running.cancel.set()

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._running is not None or bool(self._waiting)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job waits or runs (tests, shutdown); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._running is None and not self._waiting, timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopped = True
            for job in self._waiting.values():
                job.cancel.set()
            self._waiting.clear()
            if self._running is not None:
                self._running.cancel.set()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the thread -------------------------------------------------------------------------------------------
    def _loop(self) -> None:
        from explorer.core.threads import BACKGROUND_NICE, lower_priority, use_one_thread

        if self.background:
            lower_priority(BACKGROUND_NICE)  # layouts and model cards come after the live model

        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopped or bool(self._waiting))
                if self._stopped:
                    self._running = None
                    self._cond.notify_all()
                    return
                _, job = self._waiting.popitem(last=False)
                self._running = job
            use_one_thread()  # torch may have been imported by the previous job
            try:
                result = job.fn(job)
            except BaseException as exc:  # noqa: BLE001 - every failure goes to on_error
                self._deliver(job, None, exc)
            else:
                self._deliver(job, result, None)
            finally:
                with self._cond:
                    self._running = None
                    idle = not self._waiting and not self._stopped
                    self._cond.notify_all()
                if idle and self.on_idle is not None:
                    self.on_idle()

    def _deliver(self, job: Job, result: Any, exc: BaseException | None) -> None:
        with self._cond:
            if self._stopped or self._newest.get(job.key) != job.ticket:
                return
        callback = job.on_error if exc is not None else job.on_done
        if callback is None:
            return
        try:
            callback(exc if exc is not None else result)
        except Exception:  # noqa: BLE001 - a broken callback must not end the runner
            import traceback

            traceback.print_exc()
