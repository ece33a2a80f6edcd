"""Indexing a folder or a video: each channel's top K frames, kept in the patch index (explorer.core.patch_index).

`index_source(source, IndexRequest(...), db)` opens the model (explorer.core.opening.open_model: random
weights seeded), finds and hashes the files (recursively), skips those every chosen layer has indexed, then
streams the rest through a loader (explorer.core.patch_index.loading: decoding threads, or a torch DataLoader's
worker processes, prepare batches ahead) while this thread runs batched forward passes and merges each batch
into the running top K (explorer.core.patch_index.topk). Progress is saved every `save_every_s` seconds and at
the end, in one transaction each (explorer.core.patch_index.store).

For the UI: the call blocks; run it in a background thread. `progress(IndexProgress)` is called from that
thread after every batch (done/total frames, ETA); setting `cancel` (a threading.Event) stops after the batch
in flight, which is dropped; what was merged before is saved, and the next run resumes there. `threads` is the
forward pass's OpenMP thread count, an int or a callable read before every batch (None: compute_threads()).
Under the app's thread policy (explorer.core.threads) the indexer may use the compute threads only while the
live view is idle, and a thread that has run a parallel kernel keeps its OpenMP team until it exits: so while
live, run with threads=1, or cancel when the live view starts and resume in a new thread when it stops (a
cancelled run keeps everything but the batch in flight, and a new run continues where it stopped).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from explorer.arguments import DEFAULT_SEED
from explorer.core.errors import ExplorerError
from explorer.core.patch_index.files import hash_source, list_source
from explorer.core.patch_index.geometry import FrameGeometry
from explorer.core.patch_index.identity import WeightsIdentity, weights_identity
from explorer.core.patch_index.loading import (LOADERS, ImageFiles, VideoFrames, auto_workers, prepared_batches,
                                               video_length)
from explorer.core.patch_index.scoring import Scorer, ScoredBatch
from explorer.core.patch_index.store import (FileProgress, IndexInfo, IndexUpdate, PatchStore, StoredGeometry,
                                             default_db_path)
from explorer.core.patch_index.topk import ItemTable, TopK

if TYPE_CHECKING:
    from explorer.core.opening import OpenedModel

DEFAULT_TOP_K = 9  # Zeiler and Fergus show 9 patches per unit (ZFNet, Fig. 2)


@dataclass
class IndexRequest:
    """What to index and how. `weights` "" is the model's default (explorer.core.weights.default_spec)."""

    model: str
    layers: list[str]
    weights: str = ""
    seed: int = DEFAULT_SEED
    top_k: int = DEFAULT_TOP_K
    distinct_images: bool = True        # at most one entry per image (a video frame is an image) and channel
    device: str = "auto"
    batch_size: int = 16
    workers: int | None = None          # decoding threads or processes; None: auto_workers(); 0: in this thread
    loader: str = "auto"                # "thread", "process" (a torch DataLoader) or "auto" (explorer.core
                                        # .patch_index.loading: threads on the CPU, processes on a GPU)
    frame_step: int = 1                 # a video's every Nth frame
    threads: int | Callable[[], int] | None = None  # the forward pass's threads (None: compute_threads())
    start_method: str | None = None     # worker processes' start method (None: the platform's)
    save_every_s: float = 2.0
    restart: bool = False               # discard the stored indexes of these layers (this model and weights)

    def check(self) -> None:
        if not self.layers:
            raise ExplorerError("choose at least one layer to index")
        for name, value in (("top K", self.top_k), ("batch size", self.batch_size),
                            ("frame step", self.frame_step)):
            if int(value) < 1:
                raise ExplorerError(f"the {name} must be at least 1 (got {value})")
        if self.workers is not None and self.workers < 0:
            raise ExplorerError(f"the number of workers cannot be negative (got {self.workers})")
        if self.loader not in LOADERS:
            raise ExplorerError(f"unknown loader '{self.loader}': choose one of {', '.join(LOADERS)}")


@dataclass(frozen=True)
class IndexProgress:
    """Reported after every batch. `stage`: "hashing" (files read for their content hash) or "indexing"."""

    stage: str
    done: int                 # frames (or files, while hashing) so far
    total: int                # 0 when unknown (a video that does not say its length)
    eta_s: float | None       # seconds left at the rate so far; None until known
    rate: float               # frames per second so far
    skipped: int              # files and frames that could not be decoded
    current: str = ""         # the last file


@dataclass(frozen=True)
class SkippedFrame:
    path: str
    frame: int
    message: str


@dataclass
class IndexSummary:
    """What a run did."""

    db: Path
    model: str
    weights: WeightsIdentity
    layers: list[IndexInfo]             # the indexes as saved at the end
    frames_indexed: int = 0             # frames merged by this run
    files_indexed: int = 0              # files this run read completely
    already_indexed: int = 0            # files skipped: every layer had them (by content hash)
    skipped: list[SkippedFrame] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0                # the whole call
    indexing_seconds: float = 0.0       # from the start of the batches (workers included)
    rate: float = 0.0                   # frames per second while indexing


ProgressFn = Callable[[IndexProgress], None]


def _set_threads(n: int) -> None:
    import torch

    # as explorer.core.threads._set: force ATen's lazy per-thread initialisation first, or it would override n
    torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))


class _Threads:
    """The forward pass's thread count, applied before each batch when it changes."""

    def __init__(self, threads: int | Callable[[], int] | None) -> None:
        self.source = threads
        self.current: int | None = None

    def apply(self) -> None:
        from explorer.core.threads import compute_threads

        n = self.source() if callable(self.source) else self.source
        n = compute_threads() if n is None else int(n)
        if n != self.current:
            _set_threads(n)
            self.current = n


# -- the run -------------------------------------------------------------------------------------------------------
class IndexRun:
    """One indexing run's state: the store, the model's scorer, the running top K of each layer, what is
    waiting to be saved. `index_source` drives it; the Ray driver (explorer.core.patch_index.shards) feeds it
    the shards' ScoredBatches instead of its own."""

    def __init__(self, store: PatchStore, request: IndexRequest, opened: "OpenedModel",
                 on_skip: Callable[[SkippedFrame], None] | None = None) -> None:
        self.store, self.request, self.opened = store, request, opened
        self.on_skip = on_skip
        handle = opened.handle
        self.entry = handle.entry
        self.identity = weights_identity(handle.entry, handle.weights, handle.seed)
        layers = list(dict.fromkeys(request.layers))
        self.scorer = Scorer(handle.model, handle.entry, opened.graph, layers,
                             1 if request.distinct_images else request.top_k, handle.device)
        try:
            if request.restart:  # only once the layers are known to exist
                for t in self.scorer.targets:
                    found = store.find_index(handle.name, self.identity.key, t.name)
                    if found is not None:
                        store.delete_index(found.id)
            self.infos = [store.ensure_index(handle.name, self.identity.key, self.identity.label, t.name,
                                             t.output_key, t.channels, request.top_k, request.distinct_images,
                                             t.field) for t in self.scorer.targets]
        except BaseException:
            self.scorer.close()
            raise
        self.table = ItemTable()
        self.topk: list[TopK] = []
        self.done: list[dict[str, tuple[int, bool]]] = []
        for info in self.infos:
            top = TopK(info.channels, info.top_k, self.table)
            top.load(store.entries(info.id))
            self.topk.append(top)
            self.done.append(store.progress(info.id))
        self.dirty = [set() for _ in self.infos]
        self.pending: dict[str, FileProgress] = {}
        self.seen: dict[str, tuple[str, str]] = {}   # digest -> (path, kind)
        self.frames = 0
        self.files_done = 0
        self.skipped: list[SkippedFrame] = []
        self.broken: set[str] = set()
        self.last_geometry: dict[str, StoredGeometry] = {}
        self.indexing_seconds = 0.0

    def close(self) -> None:
        self.scorer.close()

    def complete_everywhere(self, digest: str) -> bool:
        return all(d.get(digest, (0, False))[1] for d in self.done)

    def video_start(self, digest: str) -> int:
        return min(d.get(digest, (0, False))[0] for d in self.done)

    def absorb(self, scored: ScoredBatch, kind: str, step: int = 1) -> None:
        """Merge a scored batch into every layer's top K and note the files' progress (saved by `save`)."""
        digests = [m.digest for m in scored.frames]
        frames = [m.frame for m in scored.frames]
        for i, top in enumerate(self.topk):
            self.dirty[i].update(int(c) for c in top.merge(digests, frames, scored.layers[i]))
        for meta, geo in zip(scored.frames, scored.geometries):
            stored = _stored(geo)
            self.last_geometry[meta.digest] = stored
            self.seen[meta.digest] = (meta.path, kind)
            if kind == "video":
                self.pending[meta.digest] = FileProgress(meta.digest, meta.frame + step, False, stored)
            else:
                self.pending[meta.digest] = FileProgress(meta.digest, 1, True, stored)
                self.files_done += 1
        self.frames += len(scored.frames)
        for bad in scored.bad:
            self.skip(SkippedFrame(bad.path, bad.frame, bad.message))
            if bad.fatal:
                self.broken.add(bad.digest)

    def skip(self, item: SkippedFrame) -> None:
        self.skipped.append(item)
        if self.on_skip is not None:
            self.on_skip(item)

    def finish_video(self, digest: str, path: str) -> None:
        """A video read to its end: mark it complete (when this run has its geometry)."""
        progress = self.pending.get(digest)
        geometry = self.last_geometry.get(digest)
        if digest in self.broken or geometry is None:
            return
        frames = progress.frames if progress is not None else self.video_start(digest)
        self.pending[digest] = FileProgress(digest, frames, True, geometry)
        self.seen[digest] = (path, "video")
        self.files_done += 1

    def save(self) -> None:
        """One transaction: changed channels of every layer, files read, where files are now."""
        if not self.pending and not any(self.dirty):
            return
        updates = []
        files = list(self.pending.values())
        for i, info in enumerate(self.infos):
            channels = {c: self.topk[i].channel(c) for c in sorted(self.dirty[i])}
            updates.append(IndexUpdate(info.id, channels, files))
        self.store.save(updates, [(d, p, k) for d, (p, k) in self.seen.items()])
        for i in range(len(self.infos)):
            self.dirty[i] = set()
            for p in files:
                self.done[i][p.digest] = (p.frames, p.complete)
        self.pending = {}


def _stored(geo: FrameGeometry) -> StoredGeometry:
    return StoredGeometry(geo.source_size, geo.scale, geo.crop, geo.input_size)


class _Clock:
    """Progress with an ETA from the rate since the batches started (the model's opening and the hashing are
    not counted: they are not per frame)."""

    def __init__(self, callback: ProgressFn | None, total: int) -> None:
        self.callback, self.total = callback, total
        self.start: float | None = None
        self.done = 0

    def tick(self, done: int, skipped: int, current: str) -> None:
        now = time.perf_counter()
        if self.start is None:
            self.start = now
        self.done = done
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 and self.total else None
        if self.callback is not None:
            self.callback(IndexProgress("indexing", done, self.total, eta, rate, skipped, current))

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start if self.start is not None else 0.0


class _HashingCancelled(Exception):
    """Raised from the hashing progress callback when the run is cancelled."""


def _cancelled(cancel: threading.Event | None) -> bool:
    return cancel is not None and cancel.is_set()


def index_source(source: str | os.PathLike, request: IndexRequest,
                 db: str | os.PathLike | PatchStore | None = None, *,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                 on_skip: Callable[[SkippedFrame], None] | None = None,
                 opened: "OpenedModel | None" = None, cluster: Any = None,
                 busy_timeout_s: float | None = None) -> IndexSummary:
    """Index a folder (recursively), an image or a video into the database `db` (a path, default:
    default_db_path(), or an open PatchStore, which is left open).

    `on_skip(SkippedFrame)` is called for each file or frame that cannot be decoded, as it is found.
    `opened`: a model already opened with open_model for `request.model` (it gets hooks while this runs: do
    not share it with a thread that runs it). `cluster`: a shards.RayCluster to run the shards on Ray.
    Raises ExplorerError subclasses with one sentence: SourceError, UnknownModelError, UnknownLayerError,
    WeightsError, IndexCorruptError (offer rebuild_store), IndexLockedError, IndexWriteError (disk full),
    IndexMismatchError. Files that cannot be decoded are not errors: they are in the summary's `skipped`.
    """
    t0 = time.perf_counter()
    request.check()
    listing = list_source(source)  # before the model: a wrong path fails at once
    if isinstance(db, PatchStore):
        store_context: Any = contextlib.nullcontext(db)
    else:
        kwargs = {} if busy_timeout_s is None else {"busy_timeout_s": busy_timeout_s}
        store_context = PatchStore(Path(db).expanduser() if db else default_db_path(), **kwargs)
    with store_context as store:
        db_path = store.path
        if opened is None:
            from explorer.core.opening import open_model

            opened = open_model(request.model, request.weights, request.device, seed=request.seed)
        elif opened.handle.name != request.model:
            raise ExplorerError(f"the opened model is {opened.handle.name}, the request names {request.model}")
        threads = _Threads(request.threads)
        threads.apply()
        run = IndexRun(store, request, opened, on_skip)
        try:
            def hashing(done: int, total: int) -> None:
                if _cancelled(cancel):  # a large folder takes a while to hash: stop there too
                    raise _HashingCancelled
                if progress is not None:
                    progress(IndexProgress("hashing", done, total, None, 0.0, 0))

            try:
                plan = hash_source(listing, hashing)
            except _HashingCancelled:
                plan = None
            already = 0
            if plan is None:
                cancelled = True
            else:
                for path, message in plan.unreadable:
                    run.skip(SkippedFrame(str(path), 0, message))
                already = sum(1 for f in plan.files if run.complete_everywhere(f.digest))
                cancelled = _index_plan(run, plan, request, threads, progress, cancel, cluster)
            run.save()
        finally:
            run.close()
        layers = [store.find_index(i.model, i.weights, i.layer) or i for i in run.infos]
    seconds = run.indexing_seconds
    return IndexSummary(db_path, opened.handle.name, run.identity, layers, run.frames, run.files_done, already,
                        run.skipped, cancelled, time.perf_counter() - t0, seconds,
                        run.frames / seconds if seconds > 0 else 0.0)


def _index_plan(run: IndexRun, plan: Any, request: IndexRequest, threads: _Threads,
                progress: ProgressFn | None, cancel: threading.Event | None, cluster: Any) -> bool:
    """Run the batches of `plan` through `run`; True when cancelled."""
    if plan.kind == "video":
        file = plan.files[0] if plan.files else None
        if file is None or run.complete_everywhere(file.digest):
            return False
        if cluster is not None:
            raise ExplorerError("Ray indexing takes folders of images; index a video on one machine")
        start = run.video_start(file.digest)
        length = video_length(file.path)
        total = max(0, -(-(length - start) // request.frame_step)) if length else 0
        frames = VideoFrames(file, run.entry, start, request.frame_step)
        batches = _local_batches(frames, run, request, threads)
        cancelled = _drive(run, batches, "video", request, total, progress, cancel)
        if not cancelled:
            run.finish_video(file.digest, str(file.path))
        return cancelled
    todo = [f for f in plan.files if not run.complete_everywhere(f.digest)]
    if not todo:
        return False
    if cluster is not None:
        from explorer.core.patch_index.shards import ray_batches

        batches = ray_batches(cluster, todo, request, run, threads.current or 1)
    else:
        batches = _local_batches(ImageFiles(todo, run.entry), run, request, threads)
    return _drive(run, batches, "image", request, len(todo), progress, cancel)


def _local_batches(source: ImageFiles | VideoFrames, run: IndexRun, request: IndexRequest,
                   threads: _Threads) -> Iterator[ScoredBatch]:
    """The single-machine pipeline: the loader prepares batches ahead while this thread scores them."""
    workers = auto_workers() if request.workers is None else int(request.workers)
    prepared = prepared_batches(source, request.batch_size, request.loader, workers, run.scorer.device,
                                request.start_method)
    try:
        for batch in prepared:
            threads.apply()
            yield run.scorer.score(batch)
    finally:
        prepared.close()  # stops the loader's threads or processes now


def _drive(run: IndexRun, batches: Iterator[ScoredBatch], kind: str, request: IndexRequest, total: int,
           progress: ProgressFn | None, cancel: threading.Event | None) -> bool:
    """Merge batches as they come, save every few seconds; True when cancelled (the batch in flight dropped)."""
    clock = _Clock(progress, total)
    clock.tick(0, len(run.skipped), "")  # starts the clock: the rate includes starting the workers
    last_save = time.perf_counter()
    done = 0
    cancelled = False
    try:
        for scored in batches:
            if _cancelled(cancel):
                cancelled = True
                break
            run.absorb(scored, kind, request.frame_step)
            done += len(scored.frames) + sum(1 for b in scored.bad if not b.fatal)
            current = scored.frames[-1].path if scored.frames else (scored.bad[-1].path if scored.bad else "")
            clock.tick(done, len(run.skipped), current)
            if time.perf_counter() - last_save >= request.save_every_s:
                run.save()
                last_save = time.perf_counter()
            if _cancelled(cancel):
                cancelled = True
                break
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()  # stops the DataLoader's workers or Ray's stream now
        run.indexing_seconds = clock.seconds
    return cancelled

