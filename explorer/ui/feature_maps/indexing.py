"""Indexing from the window: one run at a time, in a thread of its own, with progress, an ETA and Cancel.

The run is explorer.core.patch_index.index_source (Zeiler and Fergus's top patches per unit, ECCV 2014, Fig. 2,
indexed over the user's own folder or video). Why its own thread, made for the run and gone after it
(explorer.core.threads): it runs forward passes on several cores, so it gets an OpenMP team; a team lives as long
as its thread, and an idle extra team slows every forward pass of the live view by a third on 2 cores. The jobs
thread and the UI thread must never own one.

Its own model, too: the indexer hooks the layers it reads, and the live model is run by the pipeline thread at
the same time (explorer.core.patch_index.indexer: "do not share it with a thread that runs it"). The model is
built and its weights loaded again in the run's thread (no graph capture: the live graph is the same and is
only read).

Decoding runs in threads of this process (loader "thread"), never in DataLoader worker processes: forking a
process that runs Qt's threads can deadlock the child, and the core's worker processes cannot start with
forkserver or spawn (their dataset classes are local, so they do not pickle).

A run keeps the thread count it started with: on every core while the view shows stills, on one while a video
or camera plays (IndexRunner.live_changed moves it to a new thread when that changes).

Every report comes back through `UiCalls.post`, so the signals below are emitted on the UI thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QToolButton, QVBoxLayout,
                               QWidget)

from explorer.core.patch_index import DEFAULT_TOP_K, IndexProgress, IndexRequest, IndexSummary, PatchStore

if TYPE_CHECKING:
    from explorer.core.graph import ModelGraph
    from explorer.core.zoo import ZooEntry
    from explorer.ui.jobs import UiCalls

BUSY_TIMEOUT_S = 5.0   # how long a save waits for another writer before the run says the file is locked
STOP_WAIT_S = 10.0     # how long closing the window waits for the batch in flight


@dataclass(frozen=True)
class IndexJob:
    """One run: what to index, for which model (as the state has it) and layers, into which database."""

    source: Path
    layers: tuple[str, ...]
    db: Path
    model: str
    entry: "ZooEntry"
    weights: str
    seed: int | None
    device: str
    graph: "ModelGraph | None" = field(default=None, compare=False)
    top_k: int = DEFAULT_TOP_K  # for layers not indexed yet; an existing index keeps its own

    @property
    def name(self) -> str:
        return self.source.name or str(self.source)

    @property
    def unit(self) -> str:
        """What the run counts: a video's "frames", a folder's (or one image's) "images"."""
        from explorer.core.patch_index.files import is_video_path

        return "frames" if is_video_path(self.source) else "images"


def counted(n: int, unit: str) -> str:
    """'7 images', '1 image', '1 frame'."""
    return f"{n} {unit if n != 1 else unit.removesuffix('s')}"


def _open_model(job: IndexJob) -> Any:
    """The run's own copy of the current model: built and loaded as the live one, with the live graph."""
    from explorer.core.opening import OpenedModel, open_model

    opened = open_model(job.model, job.weights, job.device, seed=job.seed, capture=False,
                        input_size=tuple(job.entry.input_size))
    return OpenedModel(opened.handle, job.graph)


def _top_k(store: PatchStore, job: IndexJob) -> int:
    """An index keeps the K it was made with: a layer indexed before goes on with it."""
    from explorer.core.patch_index import weights_identity

    key = weights_identity(job.entry, job.weights, job.seed).key
    for layer in job.layers:
        info = store.find_index(job.model, key, layer)
        if info is not None:
            return info.top_k
    return job.top_k


class IndexRunner(QObject):
    """Starts, follows and cancels index runs; at most one at a time.

    A run's thread keeps the thread count it started with (a thread that ran on several cores keeps its OpenMP
    team until it exits): when a video or camera starts playing, a run on every core is cancelled and goes on at
    once in a new thread on one core; when it stops, the other way round (`live_changed`). A cancelled run keeps
    all but the batch in flight and the next one continues there, so the user sees one run."""

    started = Signal(object)        # IndexJob
    stage = Signal(str)             # "Opening the model…" before the first progress, a change of threads
    progressed = Signal(object)     # IndexProgress
    finished = Signal(object, object)  # IndexJob, IndexSummary (cancelled or complete; its parts added up)
    failed = Signal(object, object)    # IndexJob, the exception (an ExplorerError: one sentence)

    def __init__(self, ui: "UiCalls", live: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ui = ui
        self.live = live
        self.busy_timeout_s = BUSY_TIMEOUT_S
        self.batch_size = IndexRequest.batch_size  # frames per forward pass
        self.job: IndexJob | None = None
        self.threads = 0                           # the current part's forward-pass threads
        self.parts: list[IndexSummary] = []        # the parts before the current one (threads changed)
        self._cancel: threading.Event | None = None
        self._relaunch = False                     # the current part was cancelled to change its threads
        self._thread: threading.Thread | None = None
        self.started_at = 0.0
        self.first_batch_s: float | None = None  # start-up: from start() to the first batch's progress

    @property
    def running(self) -> bool:
        return self.job is not None

    def start(self, job: IndexJob) -> bool:
        if self.running:
            return False
        self.job, self.parts = job, []
        self.started_at, self.first_batch_s = time.perf_counter(), None
        self.started.emit(job)
        self._launch(job)
        return True

    def _launch(self, job: IndexJob) -> None:
        self.threads = self._wanted_threads()
        self._cancel, self._relaunch = threading.Event(), False
        self._thread = threading.Thread(target=self._work, args=(job, self._cancel, self.threads),
                                        name="patch-index", daemon=True)  # closing cancels it; never holds exit
        self._thread.start()

    def _wanted_threads(self) -> int:
        from explorer.core.threads import compute_threads

        return 1 if self.live() else compute_threads()

    def live_changed(self) -> None:
        """A stream started or stopped playing: a run whose thread count no longer fits goes on in a new thread."""
        if self.running and self._cancel is not None and not self._cancel.is_set() and \
                self._wanted_threads() != self.threads:
            self._relaunch = True
            self._cancel.set()
            self.stage.emit("Going on with one core while the video plays…" if self.live()
                            else "Going on with every core…")

    def cancel(self) -> None:
        """Stop after the batch in flight (dropped); what was saved stays, and the next run resumes there."""
        self._relaunch = False
        if self._cancel is not None:
            self._cancel.set()

    def stop(self) -> None:
        """The window closes: cancel and wait a little for the run to save and end."""
        self.cancel()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_WAIT_S)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current part's thread to end (tests, scripts); True when it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    # -- the run's thread --------------------------------------------------------------------------------------
    def _work(self, job: IndexJob, cancel: threading.Event, threads: int) -> None:
        from explorer.core.patch_index import index_source

        post = self.ui.post
        try:
            post(lambda: self._stage(job, f"Opening {job.model} for indexing…"))
            opened = _open_model(job)
            with PatchStore(job.db, busy_timeout_s=self.busy_timeout_s) as store:
                request = IndexRequest(job.model, list(job.layers), weights=job.weights,
                                       seed=job.seed if job.seed is not None else 0, top_k=_top_k(store, job),
                                       device=job.device, batch_size=self.batch_size, loader="thread",
                                       threads=threads)
                summary = index_source(job.source, request, store, opened=opened, cancel=cancel,
                                       progress=lambda p: post(lambda: self._progress(job, p)))
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, in one sentence, on the UI side
            post(lambda error=exc: self._end(job, None, error))  # bound now: `exc` is unset after the block
        else:
            post(lambda: self._end(job, summary, None))

    # -- back on the UI thread -----------------------------------------------------------------------------------
    def _stage(self, job: IndexJob, text: str) -> None:
        if job is self.job:
            self.stage.emit(text)

    def _progress(self, job: IndexJob, progress: IndexProgress) -> None:
        if job is not self.job:
            return
        if progress.stage == "indexing" and progress.done > 0 and self.first_batch_s is None:
            self.first_batch_s = time.perf_counter() - self.started_at
        before = sum(p.frames_indexed for p in self.parts)  # counted as one run
        if before and progress.stage == "indexing":
            progress = replace(progress, done=progress.done + before,
                               total=progress.total + before if progress.total else 0)
        self.progressed.emit(progress)

    def _end(self, job: IndexJob, summary: IndexSummary | None, exc: BaseException | None) -> None:
        if job is not self.job:
            return
        if summary is not None and summary.cancelled and self._relaunch:
            self.parts.append(summary)
            self._launch(job)
            return
        self.job, self._cancel = None, None
        if summary is not None:
            self.finished.emit(job, self._added_up(summary))
        else:
            self.failed.emit(job, exc)

    def _added_up(self, last: IndexSummary) -> IndexSummary:
        """One summary for the parts of a run (a file that failed to decode is tried, and skipped, in each)."""
        parts = self.parts + [last]
        skipped = list({(s.path, s.frame): s for p in parts for s in p.skipped}.values())
        return replace(last, frames_indexed=sum(p.frames_indexed for p in parts),
                       files_indexed=sum(p.files_indexed for p in parts), already_indexed=parts[0].already_indexed,
                       skipped=skipped, seconds=time.perf_counter() - self.started_at)


def duration(seconds: float) -> str:
    """'0.4 s', '8 s', '2 min 05 s', '1 h 03 min'."""
    if seconds < 9.95:
        return f"{max(0.0, seconds):.1f} s"
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def progress_text(p: IndexProgress, unit: str = "frames") -> str:
    """'40 of 120 frames · 12.3 frames/s · about 8 s left · 1 skipped' (a folder's: 'images')."""
    if p.stage == "hashing":
        return f"Reading files: {p.done} of {p.total}"
    parts = [f"{p.done} of {p.total} {unit}" if p.total else counted(p.done, unit)]
    if p.rate > 0:
        parts.append(f"{p.rate:.3g} {unit}/s")
    if p.eta_s is not None:
        parts.append(f"about {duration(p.eta_s)} left")
    if p.skipped:
        parts.append(f"{p.skipped} skipped")
    return " · ".join(parts)


def skipped_text(summary: IndexSummary, unit: str) -> tuple[str, str]:
    """The line for a run's undecodable files ('Skipped 2 files that could not be decoded: a.jpg, b.png'; a
    video's 'frames') and its tooltip: every path, with what the decoder said."""
    names = [Path(s.path).name + (f" (frame {s.frame})" if s.frame else "") for s in summary.skipped]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    what = counted(len(names), "frames" if unit == "frames" else "files")
    tip = "\n".join(f"{s.path}" + (f" (frame {s.frame})" if s.frame else "") + (f": {s.message}" if s.message else "")
                    for s in summary.skipped)
    return f"⚠ Skipped {what} that could not be decoded: {shown}", tip + "\n\nView > Messages keeps the run's note."


class IndexBar(QWidget):
    """The run's progress bar, its figures (done, rate, ETA, skipped) and Cancel while a run is on; after a run
    that skipped files, a line naming them (every path in its tooltip) until the next run or its ✕. The status
    bar's note about them goes after its time, and a user who looked away never knew which files they were
    (new-user trial). A cancelled run names none: the run that finishes the folder tries them again.

    The line is about that run's index (its model, weights and layers): another model takes it away for good,
    and a layer the run did not index hides it while shown (`follow`); a new-user trial saw it stay through
    vgg16, a video and densenet121."""

    def __init__(self, runner: IndexRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(12)
        self.label = QLabel("")  # under the bar: a narrow pane must not cut the ETA off
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing after the batch in flight; what was saved stays, and indexing "
                                      "again continues from there")
        self.cancel_button.clicked.connect(self._cancel)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        self.running_part = QWidget()   # the bar, Cancel and the figures: shown while a run is on
        running = QVBoxLayout(self.running_part)
        running.setContentsMargins(0, 0, 0, 0)
        running.setSpacing(1)
        running.addLayout(row)
        running.addWidget(self.label)

        self.skipped_label = QLabel("")
        self.skipped_label.setWordWrap(True)
        self.skipped_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.skipped_label.setStyleSheet("color: #8a4b00;")
        dismiss = QToolButton()
        dismiss.setText("✕")
        dismiss.setToolTip("Dismiss")
        dismiss.setAutoRaise(True)
        dismiss.clicked.connect(self.dismiss_skipped)
        self.skipped_part = QWidget()   # after a run: the files it could not decode
        skipped = QHBoxLayout(self.skipped_part)
        skipped.setContentsMargins(0, 0, 0, 0)
        skipped.addWidget(self.skipped_label, 1)
        skipped.addWidget(dismiss, 0, Qt.AlignmentFlag.AlignTop)
        self.skipped_part.setVisible(False)
        self.skipped_job: IndexJob | None = None  # the run the line is about (None: no line)
        self._shown_for: tuple[str, str, int | None, str] | None = None  # what the dock shows (follow)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        lay.addWidget(self.running_part)
        lay.addWidget(self.skipped_part)
        self.setVisible(False)
        runner.started.connect(self._started)
        runner.stage.connect(self.label.setText)
        runner.progressed.connect(self.show_progress)
        runner.finished.connect(self._finished)
        runner.failed.connect(lambda *_: self._show_skipped("", ""))

    def follow(self, model: str, weights: str, seed: int | None, layer: str) -> None:
        """The dock shows `layer` of `model` with `weights` (model "": none). The skipped line goes for good with
        another model or weights (a random seed counts), and hides while a layer its run did not index is shown."""
        self._shown_for = (model, weights, seed if weights == "random" else None, layer)
        job = self.skipped_job
        if job is None or self.runner.running:
            return
        if model and not self._same_model(job):
            self._show_skipped("", "")
            return
        here = self._belongs_here(job)
        self.skipped_part.setVisible(here)
        self.setVisible(here)

    def _same_model(self, job: IndexJob) -> bool:
        shown = self._shown_for
        return shown is None or shown[:3] == (job.model, job.weights, job.seed if job.weights == "random" else None)

    def _belongs_here(self, job: IndexJob) -> bool:
        """Whether the dock shows what `job` indexed (nothing told yet: yes)."""
        shown = self._shown_for
        return shown is None or (bool(shown[0]) and self._same_model(job) and shown[3] in job.layers)

    def _started(self, job: IndexJob) -> None:
        self.bar.setRange(0, 0)  # busy until the first count
        self.label.setText(f"Indexing {job.name}…")
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.skipped_part.setVisible(False)  # the last run's files: this run says again what it skips
        self.skipped_job = None
        self.running_part.setVisible(True)
        self.setVisible(True)

    def _finished(self, job: IndexJob, summary: IndexSummary) -> None:
        if summary.skipped and not summary.cancelled:
            self._show_skipped(*skipped_text(summary, job.unit), job=job)
        else:
            self._show_skipped("", "")

    def _show_skipped(self, text: str, tip: str, job: IndexJob | None = None) -> None:
        """After a run: `text` about `job`'s files, in sight while the dock shows what it indexed (empty: nothing
        to say, the bar hides)."""
        self.running_part.setVisible(False)
        self.skipped_label.setText(text)
        self.skipped_label.setToolTip(tip)
        self.skipped_job = job if text else None
        shown = bool(text) and job is not None and self._belongs_here(job)
        self.skipped_part.setVisible(shown)
        self.setVisible(shown)

    def dismiss_skipped(self) -> None:
        if not self.runner.running:
            self._show_skipped("", "")

    def _cancel(self) -> None:
        self.runner.cancel()
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")

    def show_progress(self, p: IndexProgress) -> None:
        if p.total:
            self.bar.setRange(0, p.total)
            self.bar.setValue(min(p.done, p.total))
        else:
            self.bar.setRange(0, 0)
        self.label.setText(progress_text(p, self.runner.job.unit if self.runner.job is not None else "frames"))
        self.label.setToolTip(p.current)
