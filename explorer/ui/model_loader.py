"""Loads models off the UI thread: import torch, build from the zoo, apply weights, move, capture the graph.

One worker thread; the newest request wins (a request made while another loads replaces the pending one),
so clicking through the Model menu never queues up several loads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QThread, Signal, Slot

from explorer.ui.state import ModelHandle


@dataclass(frozen=True)
class LoadRequest:
    name: str
    weights: str          # "", "random", "pretrained", "bundled" or a path ("" = the entry's default)
    device: str           # "auto", "cpu", "cuda", "mps"
    serial: int


class _Worker(QObject):
    loaded = Signal(object, int)     # ModelHandle, serial
    graphReady = Signal(object, int)  # ModelGraph, serial
    failed = Signal(str, int)
    stage = Signal(str)
    download = Signal(int, int)      # bytes done, total (-1 unknown)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: LoadRequest | None = None
        self.cancel = threading.Event()

    def submit(self, request: LoadRequest) -> None:
        with self._lock:
            self._pending = request

    @Slot()
    def run_pending(self) -> None:
        with self._lock:
            request, self._pending = self._pending, None
        if request is not None:
            self._load(request)

    def _load(self, req: LoadRequest) -> None:
        try:
            self.stage.emit("Importing PyTorch…")
            t0 = time.perf_counter()
            import torch  # noqa: F401  (first import takes seconds: here, never on the UI thread)

            from explorer.core.threads import use_one_thread

            # No OpenMP team here: an idle second team slows every forward pass of the inference worker
            # (explorer.core.threads). Costs ~0.1 s per classifier and ~0.7 s per detector graph capture.
            use_one_thread()

            from explorer.core import zoo
            from explorer.core.engine import pick_device
            from explorer.core.weights import default_spec, load_weights

            entry = zoo.get(req.name)
            self.stage.emit(f"Building {req.name}…")
            model = zoo.build(req.name)
            weights = req.weights or default_spec(entry)
            self.stage.emit(f"Loading {weights} weights…")
            self.cancel.clear()
            info = load_weights(model, entry, weights,
                                progress=lambda done, total: self.download.emit(int(done), int(total)),
                                cancel=self.cancel)
            device = pick_device(None if req.device == "auto" else req.device)
            model = model.to(device).eval()
            note = getattr(info, "note", "") or ("random weights: predictions are meaningless"
                                                  if weights == "random" else "")
            # Capture before anyone else runs the model: capture's hooks sit on the model's modules.
            self.stage.emit(f"Capturing the graph of {req.name}…")
            from explorer.core.capture import capture_graph

            graph = None
            try:
                graph = capture_graph(model, req.name, (3, *entry.input_size), device=str(device))
            except Exception as exc:  # noqa: BLE001 - the model still runs without its graph
                from explorer.core.errors import ExplorerError

                self.stage.emit(str(exc) if isinstance(exc, ExplorerError) else f"No graph for {req.name}: {exc}")
            self.loaded.emit(ModelHandle(req.name, entry, model, weights, str(device), note), req.serial)
            if graph is not None:
                self.graphReady.emit(graph, req.serial)
                self.stage.emit(f"{req.name} ready in {time.perf_counter() - t0:.1f} s")
        except MemoryError:
            self.failed.emit(f"Not enough memory to load {req.name}.", req.serial)
        except Exception as exc:  # noqa: BLE001 - any failure becomes one message; the app keeps its model
            from explorer.core.errors import ExplorerError

            text = str(exc) if isinstance(exc, ExplorerError) else f"Could not load {req.name}: {exc}"
            self.failed.emit(text, req.serial)


class ModelLoader(QObject):
    """Owns the worker thread. `request()` is called on the UI thread."""

    loaded = Signal(object)
    graphReady = Signal(object)
    failed = Signal(str)
    stage = Signal(str)
    download = Signal(int, int)
    _wake = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._serial = 0
        self._thread = QThread(self)
        self._thread.setObjectName("model-loader")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.run_pending)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.graphReady.connect(self._on_graph)
        self._worker.failed.connect(self._on_failed)
        self._worker.stage.connect(self.stage)
        self._worker.download.connect(self.download)
        self._thread.start()

    def request(self, name: str, weights: str = "", device: str = "auto") -> None:
        self._serial += 1
        self._worker.submit(LoadRequest(name, weights, device, self._serial))
        self._wake.emit()

    def cancel_download(self) -> None:
        self._worker.cancel.set()

    def _on_loaded(self, handle: object, serial: int) -> None:
        if serial == self._serial:
            self.loaded.emit(handle)

    def _on_graph(self, graph: object, serial: int) -> None:
        if serial == self._serial:  # an older load's graph must not replace a newer model's
            self.graphReady.emit(graph)

    def _on_failed(self, text: str, serial: int) -> None:
        if serial == self._serial:
            self.failed.emit(text)

    def shutdown(self) -> None:
        self._worker.cancel.set()
        self._thread.quit()
        self._thread.wait(10000)
