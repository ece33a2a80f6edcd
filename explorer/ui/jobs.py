"""Background jobs for the views, delivered on the UI thread: one helper for all of them.

A thin Qt layer over explorer.core.jobs.JobRunner (one thread, latest wins per key): the graph's layout, the
notes views' computations and the model cards' figures are submitted here with a key; their callbacks come
back on the UI thread through a queued signal, and a stale job's outcome (a newer one with the same key was
submitted) never arrives. Jobs that run the live model itself go through `SessionBridge.run_on_model`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from explorer.core.jobs import Job, JobRunner


class UiCalls(QObject):
    """Runs callables on the thread this object lives on (the UI thread), from any thread."""

    _call = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._call.connect(self._run)

    def post(self, fn: Callable[[], Any]) -> None:
        self._call.emit(fn)

    def wrap(self, fn: Callable[..., Any] | None) -> Callable[..., None] | None:
        """`fn` made to run on the UI thread when called from anywhere (None stays None)."""
        if fn is None:
            return None
        return lambda *args: self._call.emit(lambda: fn(*args))

    @Slot(object)
    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except RuntimeError as exc:  # the receiving widget was deleted meanwhile
            if "already deleted" not in str(exc):
                raise


class Jobs(QObject):
    """`submit(key, fn, on_done, on_error)`: fn() runs in the background, the callbacks on the UI thread."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, name: str = "ui-jobs") -> None:
        super().__init__(parent)
        self._ui = UiCalls(self)
        self._runner = JobRunner(name, on_idle=lambda: self._ui.post(self._check_idle), background=True)
        self._busy = False

    def submit(self, key: str, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None) -> Job:
        """Run `fn()` (a newer job with the same key replaces this one if it has not started, and drops its
        outcome if it has). `on_error` gets the failure in one sentence."""
        if not self._busy:
            self._busy = True
            self.busyChanged.emit(True)

        def done(result: Any) -> None:
            if on_done is not None:
                on_done(result)

        def failed(exc: BaseException) -> None:
            if on_error is not None:
                on_error(error_text(exc))

        return self._runner.submit(key, lambda _job: fn(), on_done=self._ui.wrap(done),
                                   on_error=self._ui.wrap(failed))

    def cancel(self, key: str) -> None:
        self._runner.cancel(key)
        self._ui.post(self._check_idle)  # a cancelled job that never ran tells no one it is done

    @property
    def busy(self) -> bool:
        return self._busy

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._runner.wait_idle(timeout)

    def _check_idle(self) -> None:
        if self._busy and not self._runner.busy:
            self._busy = False
            self.busyChanged.emit(False)

    def shutdown(self) -> None:
        self._runner.shutdown()


def error_text(exc: BaseException) -> str:
    """One sentence for a failure: an ExplorerError's own message, else its type and message."""
    from explorer.core.errors import ExplorerError

    if isinstance(exc, ExplorerError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory"
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
