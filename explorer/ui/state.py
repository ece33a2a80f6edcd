"""The application's one small state: current model, weights, device, selected layer, frame and result.

It is the single source of truth; panels follow it through its signals and change it through its methods.
Heavy work (building a model, capturing its graph, running it) happens in worker threads that report back
through these signals; the UI thread only draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal


@dataclass
class ModelHandle:
    """A loaded model and what it was loaded with."""

    name: str
    entry: Any            # explorer.core.zoo.ZooEntry
    model: Any            # torch.nn.Module, in eval mode, on `device`
    weights: str          # "random", "pretrained", "bundled" or a file path
    device: str           # "cpu", "cuda", "mps"
    weights_note: str = ""  # e.g. "random weights: predictions are meaningless"


class AppState(QObject):
    """Signals are emitted on the UI thread (workers hand results over through queued signals)."""

    modelLoading = Signal(str)          # model name: a load started (show the busy state)
    modelChanged = Signal(object)       # ModelHandle: a load finished
    modelFailed = Signal(str)           # user-facing message: a load failed, the previous model stays
    graphChanged = Signal(object)       # explorer.core.graph.ModelGraph of the current model
    layerSelected = Signal(str)         # node id of the current layer ("" = none)
    frameChanged = Signal(object)       # explorer.core.results.Frame: the newest source frame
    resultReady = Signal(object)        # explorer.core.results.FrameResult for the newest processed frame
    deviceChanged = Signal(str)
    message = Signal(str, int, bool)    # status-bar text, timeout in ms (0 = until replaced), answer (show_message)
    error = Signal(str)                 # user-facing error message (status bar; the app stays as it was)
    fpsChanged = Signal(float)
    liveChanged = Signal(bool)          # a video or camera started or stopped playing (paused, ended, closed)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.handle: ModelHandle | None = None
        self.graph: Any = None
        self.selected_layer: str = ""
        self.frame: Any = None
        self.result: Any = None
        self.device: str = "cpu"
        self.source_path: str = ""

    # -- changes made by panels -------------------------------------------------------------------------
    def select_layer(self, node_id: str) -> None:
        if node_id != self.selected_layer:
            self.selected_layer = node_id
            self.layerSelected.emit(node_id)

    def set_frame(self, frame: Any) -> None:
        self.frame = frame
        self.frameChanged.emit(frame)

    def set_result(self, result: Any) -> None:
        self.result = result
        self.resultReady.emit(result)

    def set_model(self, handle: ModelHandle) -> None:
        self.handle = handle
        self.device = handle.device
        self.modelChanged.emit(handle)

    def set_graph(self, graph: Any) -> None:
        self.graph = graph
        self.graphChanged.emit(graph)
        if self.selected_layer and (graph is None or not graph.has_node(self.selected_layer)):
            self.select_layer("")

    def show_message(self, text: str, timeout_ms: int = 5000, *, answer: bool = False) -> None:
        """A status-bar message. A passive note (a weights warning, a video's end) waits while an error is in
        sight; answer=True marks the answer to what the user just did ("Mosaic written to …"), which replaces
        that error: it is what the user is now looking for."""
        self.message.emit(text, timeout_ms, answer)

    def show_error(self, text: str) -> None:
        self.error.emit(text)
