"""Decoding and preprocessing ahead of the forward pass: batches of prepared frames, in order.

Two loaders, the same work (explorer.core.patch_index.scoring: `prepare_frame` per file, `collate_frames` per
batch):
- "thread": background threads of this process fill a bounded window of batches (torch's ops run inline
  there: explorer.core.threads' policy, one OpenMP team per process). Chosen on the CPU: the forward pass
  already uses every core, so decoding can only fill the gaps, and threads do it without a process start,
  pickling or shared-memory copies. Measured on the 2-core CPU (resnet18 to layer4, 224² JPEGs, batch 16,
  `python bench/index_throughput.py --loader thread|process`): 0.92 of a bare forward pass against 0.82 with
  one DataLoader worker process.
- "process": a torch DataLoader with worker processes, for a GPU, where the CPU does nothing but decode and
  processes escape the GIL. Workers start with the platform's method (fork on Linux) unless `start_method`
  says otherwise ("forkserver" or "spawn" in a process with many threads, such as the Qt app).
A video is read in order by one thread or worker (seeking is neither fast nor exact in every container).
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from explorer.core.patch_index.scoring import BadFrame, PreparedBatch, collate_frames, prepare_frame, prepare_image

if TYPE_CHECKING:
    from explorer.core.patch_index.files import SourceFile
    from explorer.core.zoo import ZooEntry

LOADERS = ("auto", "thread", "process")


def auto_workers() -> int:
    """Decoding threads or processes: one per spare CPU, at least one, at most four."""
    from explorer.core.threads import usable_cpus

    return max(1, min(4, usable_cpus() - 1))


def pick_loader(loader: str, device: str) -> str:
    """"auto": threads on the CPU, worker processes on a GPU (see the module docstring)."""
    if loader not in LOADERS:
        raise ValueError(f"unknown loader '{loader}': choose one of {', '.join(LOADERS)}")
    if loader != "auto":
        return loader
    return "thread" if str(device) == "cpu" else "process"


class _Preparing:
    """The preprocessor, built lazily where it runs (a worker process pickles no device state)."""

    def __init__(self, entry: "ZooEntry") -> None:
        self.entry = entry
        self._prep: Any = None

    @property
    def preprocessor(self) -> Any:
        if self._prep is None:
            from explorer.core.preprocess import Preprocessor

            self._prep = Preprocessor(self.entry, "cpu")
        return self._prep


class ImageFiles(_Preparing):
    """Image files by position: `dataset[i]` is file i prepared (or a BadFrame)."""

    def __init__(self, files: Sequence["SourceFile"], entry: "ZooEntry") -> None:
        super().__init__(entry)
        self.files = [(str(f.path), f.digest) for f in files]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Any:
        path, digest = self.files[i]
        return prepare_frame(path, digest, self.preprocessor)


class VideoFrames(_Preparing):
    """A video's frames from `start`, every `step`th, prepared in order."""

    def __init__(self, file: "SourceFile", entry: "ZooEntry", start: int, step: int) -> None:
        super().__init__(entry)
        self.path, self.digest, self.start, self.step = str(file.path), file.digest, start, step

    def __iter__(self) -> Iterator[Any]:
        yield from read_video(self.path, self.digest, self.start, self.step, self.preprocessor)


def video_length(path: str | os.PathLike) -> int:
    """The frame count the container declares (0 when it does not)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)) if cap.isOpened() else 0
    finally:
        cap.release()


def read_video(path: str, digest: str, start: int, step: int, preprocessor: Any) -> Iterator[Any]:
    """Prepared frames start, start + step, ... of a video; a broken stream ends with a fatal BadFrame."""
    import cv2

    from explorer.core.images import silence_opencv_log

    silence_opencv_log()
    name = Path(path).name
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            yield BadFrame(path, digest, start, f"cannot open video '{name}': OpenCV cannot decode it", True)
            return
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        index = 0
        while index < start:  # grab() skips without converting the picture
            if not cap.grab():
                return
            index += 1
        while True:
            ok, bgr = cap.read()
            if not ok or bgr is None or bgr.size == 0:
                # as explorer.core.sources: short of the declared length (allowing one), the stream broke
                if index == 0 or (declared and index < declared - 1):
                    where = "the first frame" if index == 0 else f"frame {index}"
                    yield BadFrame(path, digest, index, f"reading '{name}' failed at {where}: the stream is "
                                   "broken", True)
                return
            code = cv2.COLOR_BGR2RGB if bgr.ndim == 3 else cv2.COLOR_GRAY2RGB
            yield prepare_image(cv2.cvtColor(bgr, code), preprocessor, path, digest, index)
            index += 1
            for _ in range(step - 1):
                if not cap.grab():
                    return
                index += 1
    finally:
        cap.release()


# -- threads -------------------------------------------------------------------------------------------------------
def _decoding_thread() -> None:
    from explorer.core.threads import use_one_thread

    use_one_thread()  # torch's resize and normalise run inline here: no second OpenMP team in the process


def thread_batches(source: ImageFiles | VideoFrames, batch_size: int, threads: int,
                   depth: int = 2) -> Iterator[PreparedBatch]:
    """Batches prepared by `threads` background threads, `depth` batches ahead; closing the generator stops
    them (what is being decoded finishes, nothing more starts)."""
    if isinstance(source, VideoFrames):
        yield from _ordered_stream(source, batch_size, depth)
        return
    n = len(source)
    window = batch_size * (depth + 1)
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="index-decode",
                            initializer=_decoding_thread) as pool:
        try:
            submitted = 0
            for start in range(0, n, batch_size):
                while submitted < min(n, start + window):
                    pending.append(pool.submit(source.__getitem__, submitted))
                    submitted += 1
                size = min(batch_size, n - start)
                yield collate_frames([pending.popleft().result() for _ in range(size)])
        finally:
            for future in pending:
                future.cancel()


def _ordered_stream(source: VideoFrames, batch_size: int, depth: int) -> Iterator[PreparedBatch]:
    """One thread reads and prepares the video in order into a bounded queue."""
    batches: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def read() -> None:
        _decoding_thread()
        items: list[Any] = []
        try:
            for item in source:
                items.append(item)
                if len(items) == batch_size:
                    _put(collate_frames(items))
                    items = []
                if stop.is_set():
                    return
            if items:
                _put(collate_frames(items))
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread, which raises it
            _put(exc)
        finally:
            _put(done)

    def _put(item: Any) -> None:
        while not stop.is_set():
            try:
                batches.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    reader = threading.Thread(target=read, name="index-video", daemon=True)
    reader.start()
    try:
        while True:
            item = batches.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


# -- processes -----------------------------------------------------------------------------------------------------
def _worker_init(_worker_id: int) -> None:
    """In each worker process: Ctrl+C is left to the main process, which saves and stops the workers itself.
    (Not cv2.setNumThreads: in a forked child of a process that has used OpenCV's thread pool it never
    returns.)"""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_batches(source: ImageFiles | VideoFrames, batch_size: int, workers: int, pin_memory: bool = False,
                    start_method: str | None = None) -> Iterator[PreparedBatch]:
    """Batches from a torch DataLoader whose `workers` processes prepare and collate them (0: in this thread)."""
    from torch.utils.data import DataLoader, Dataset, IterableDataset

    if isinstance(source, VideoFrames):
        class _Stream(IterableDataset):
            def __iter__(self) -> Iterator[Any]:
                return iter(source)
        dataset: Any = _Stream()
        workers = min(1, workers)
    else:
        class _Files(Dataset):
            def __len__(self) -> int:
                return len(source)

            def __getitem__(self, i: int) -> Any:
                return source[i]
        dataset = _Files()
    options: dict[str, Any] = {}
    if workers > 0:
        options = {"worker_init_fn": _worker_init, "prefetch_factor": 2, "persistent_workers": False}
        if start_method:
            import multiprocessing

            options["multiprocessing_context"] = multiprocessing.get_context(start_method)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_frames,
                        pin_memory=pin_memory, **options)
    iterator = iter(loader)
    try:
        yield from iterator
    finally:
        shutdown = getattr(iterator, "_shutdown_workers", None)
        if shutdown is not None:  # now, not when the garbage collector gets to it
            shutdown()
        del iterator


def prepared_batches(source: ImageFiles | VideoFrames, batch_size: int, loader: str, workers: int,
                     device: str = "cpu", start_method: str | None = None) -> Iterator[PreparedBatch]:
    """The batches of `source` through the chosen loader ("auto", "thread" or "process"; `workers` 0 decodes
    in the calling thread)."""
    kind = pick_loader(loader, device)
    if workers <= 0:
        return process_batches(source, batch_size, 0)
    if kind == "thread":
        return thread_batches(source, batch_size, workers)
    import torch

    pin = str(device).startswith("cuda") and torch.cuda.is_available()
    return process_batches(source, batch_size, workers, pin, start_method)

