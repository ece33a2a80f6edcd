"""The application's state: one typed record of what the window shows, and the only emitter of its signals.

Data flows one way (DESIGN.md §2): source → session → state → views. The Qt bridge (explorer/ui/bridge.py)
writes what the Session reports into this state; views draw what it says and change it through its methods
(select a layer, set the score threshold, show a message). Nothing else emits these signals (a test checks
it), so every view sees the same thing after a failure: a model that failed to open leaves the previous model,
its weights and an idle status; the views never disagree about which model, weights or frame is current.

Signals are emitted on the UI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from explorer.core.opening import ModelHandle
from explorer.core.results import Frame, FrameResult
from explorer.core.source_info import PipelineStats, SourceInfo

if TYPE_CHECKING:
    from explorer.core.graph import ModelGraph

__all__ = ["AppState", "ModelHandle", "Selection"]


@dataclass(frozen=True)
class Selection:
    """What the user selected in the graph or the layer list, and the layer the views show for it.

    `item` is a call's node id, a module path or a group the graph made (ResNet's "stem", VGG's "stage1");
    `layer` is what can be probed for it: the same id, or a group's output call ("stem" → "maxpool")."""

    item: str = ""
    layer: str = ""

    def __bool__(self) -> bool:
        return bool(self.item)


class AppState(QObject):
    """Every field is read-only for views: they change the state through the methods below."""

    modelLoading = Signal(str)            # name: a model is being opened (the busy state)
    stageChanged = Signal(str)            # what the loader does now ("Loading pretrained weights…", "" = idle)
    downloadProgress = Signal(int, int)   # bytes done, total (-1 unknown) of a pretrained download
    modelChanged = Signal(ModelHandle)    # a model is ready; the previous one is gone
    modelFailed = Signal(str)             # a model could not be opened: the previous one stays, as it was
    graphChanged = Signal(object)         # explorer.core.graph.ModelGraph | None of the current model
    selectionChanged = Signal(Selection)
    layerSelected = Signal(str)           # the selection's layer ("" = none): what the layer views follow
    sourceChanged = Signal(SourceInfo)    # opened, moved in a folder, paused, ended, broke
    liveChanged = Signal(bool)            # a stream started or stopped playing
    frameChanged = Signal(Frame)          # the frame on screen
    resultReady = Signal(FrameResult)     # the current model's result for the frame on screen
    resultFailed = Signal(str)            # the model failed on the frame on screen (no result is coming)
    fpsChanged = Signal(float)            # results per second of a playing stream (0: no rate)
    thresholdChanged = Signal(float)      # the detections' score threshold: which boxes views list and draw
    deviceChanged = Signal(str)
    message = Signal(str, int, bool)      # status text, timeout in ms (0 = until replaced), answer (show_message)
    error = Signal(str)                   # a failure, in one sentence; the app stays as it was
    dockRequested = Signal(str)           # a view asks the window to bring a dock to the front (object name)
    overlayAdded = Signal(object)         # an overlay for the image view (explorer.ui.overlay_base.OverlayHost)
    overlayRemoved = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.handle: ModelHandle | None = None
        self.graph: ModelGraph | None = None
        self.loading: str = ""                  # the model being opened ("" = none)
        self.stage: str = ""
        self.requested_device: str = "auto"     # what the user asked for ("auto" = the best there is)
        self.selection: Selection = Selection()
        self.source: SourceInfo = SourceInfo()
        self.frame: Frame | None = None
        self.result: FrameResult | None = None
        self.failed: Frame | None = None        # the frame the model failed on (nothing is pending for it)
        self.stats: PipelineStats = PipelineStats()
        self.threshold: float = 0.5
        self.overlays: list[object] = []        # every view's overlay on the source image, with its owner panel

    # -- derived ----------------------------------------------------------------------------------------------
    @property
    def task(self) -> str:
        """The current model's task ("" without one): what its output means."""
        return self.handle.task if self.handle is not None else ""

    @property
    def device(self) -> str:
        return self.handle.device if self.handle is not None else "cpu"

    @property
    def weights(self) -> str:
        return self.handle.weights if self.handle is not None else ""

    @property
    def selected_layer(self) -> str:
        return self.selection.layer

    @property
    def live(self) -> bool:
        return self.source.playing

    @property
    def fps(self) -> float:
        return self.stats.fps

    @property
    def pending(self) -> bool:
        """The result on screen is not the current frame's (a new image or model is being computed)."""
        return self.handle is not None and self.frame is not None and self.failed is not self.frame and (
            self.result is None or self.result.frame is not self.frame)

    # -- the model --------------------------------------------------------------------------------------------
    def set_loading(self, name: str) -> None:
        self.loading = name
        self.modelLoading.emit(name)

    def set_stage(self, text: str) -> None:
        self.stage = text
        self.stageChanged.emit(text)

    def set_download(self, done: int, total: int) -> None:
        self.downloadProgress.emit(int(done), int(total))

    def set_model(self, handle: ModelHandle, graph: "ModelGraph | None" = None) -> None:
        """A model is ready: it replaces the previous one, and so does its graph (None: it has none)."""
        self.loading = ""
        self.handle = handle
        self.result = None
        self.stats = PipelineStats()
        self.modelChanged.emit(handle)
        self.fpsChanged.emit(0.0)
        self.deviceChanged.emit(handle.device)
        self.set_graph(graph)
        self.set_stage("")

    def model_failed(self, text: str) -> None:
        """Opening a model failed: the previous model (and its weights) stays; the failure is said once."""
        self.loading = ""
        self.modelFailed.emit(text)
        self.set_stage("")
        self.show_error(text)

    def set_graph(self, graph: "ModelGraph | None") -> None:
        """The current model's graph. The selection follows it first (no view probes a layer the new graph
        lacks): an item the new graph lacks is dropped; one it has may stand for another layer there (alexnet's
        "features.stage1" ends at features.2, vgg16's at features.4)."""
        self.graph = graph
        if self.selection:
            layer = self._resolve(self.selection.item)
            if not layer:
                self.select("")
            elif layer != self.selection.layer:
                self.selection = Selection(self.selection.item, layer)
                self.selectionChanged.emit(self.selection)
                self.layerSelected.emit(layer)
        self.graphChanged.emit(graph)

    def request_device(self, device: str) -> None:
        self.requested_device = device or "auto"

    # -- selection --------------------------------------------------------------------------------------------
    def select(self, item: str) -> None:
        """Select a graph item: a call, a module or a group ("" = nothing)."""
        layer = self._resolve(item) if item else ""
        selection = Selection(item, layer or "") if item and layer is not None else Selection()
        if selection != self.selection:
            old_layer = self.selection.layer
            self.selection = selection
            self.selectionChanged.emit(selection)
            if selection.layer != old_layer:
                self.layerSelected.emit(selection.layer)

    select_layer = select  # the name the layer views use

    def _resolve(self, item: str) -> str | None:
        """The layer shown for `item`; None when the current graph has no such item."""
        graph = self.graph
        if graph is None:
            return None
        if graph.has_node(item):
            return item
        from explorer.core.graph_view import tree_for

        tree = tree_for(graph)
        if item in tree.items:
            return tree.layer_of(item)
        return item if item in graph.modules else None

    # -- source, frames, results ------------------------------------------------------------------------------
    def set_source(self, info: SourceInfo) -> None:
        was_live = self.source.playing
        changed_source = (info.kind, info.path) != (self.source.kind, self.source.path)
        self.source = info
        if changed_source or not info.playing:
            self.stats = PipelineStats(0.0, self.stats.dropped, self.stats.frames_done)
            self.fpsChanged.emit(0.0)
        self.sourceChanged.emit(info)
        if info.playing != was_live:
            self.liveChanged.emit(info.playing)

    def set_frame(self, frame: Frame) -> None:
        self.frame = frame
        self.frameChanged.emit(frame)

    def set_result(self, result: FrameResult, stats: PipelineStats | None = None) -> bool:
        """The current model's result; a result of another model or weights (still in flight when the model
        changed), or of a still that is no longer on screen, is dropped. A stream's result brings its frame:
        boxes and maps are drawn on the pixels they were computed from."""
        handle = self.handle
        if handle is None or (result.model_name, result.weights, result.device) != (
                handle.name, handle.weights, handle.device):
            return False
        if result.frame is not self.frame:
            if not self.source.streaming and self.frame is not None:
                return False  # a still's late result: a newer still is on screen (its result is coming)
            self.result = result  # first: the frame comes with its result, nothing is pending in between
            self.set_frame(result.frame)
        self.result = result
        if stats is not None:
            self.stats = stats
        self.resultReady.emit(result)
        if stats is not None:
            self.fpsChanged.emit(float(stats.fps) if self.live else 0.0)
        return True

    def result_failed(self, text: str, frame: Frame | None = None) -> None:
        """The model failed on `frame` (None: it could not run at all): said once, and nothing waits for it."""
        self.failed = frame if frame is not None else self.frame
        self.resultFailed.emit(text)
        self.show_error(text)

    def set_threshold(self, value: float) -> None:
        value = min(1.0, max(0.0, float(value)))
        if value != self.threshold:
            self.threshold = value
            self.thresholdChanged.emit(value)

    # -- messages ---------------------------------------------------------------------------------------------
    def show_message(self, text: str, timeout_ms: int = 5000, *, answer: bool = False) -> None:
        """A status-bar message. A passive note (a weights warning, a video's end) waits while an error is in
        sight; answer=True marks the answer to what the user just did ("Mosaic written to …"), which replaces
        that error: it is what the user is now looking for."""
        self.message.emit(text, timeout_ms, answer)

    def show_error(self, text: str) -> None:
        self.error.emit(text)

    def request_dock(self, object_name: str) -> None:
        self.dockRequested.emit(object_name)

    # -- overlays on the image --------------------------------------------------------------------------------
    def add_overlay(self, overlay: object) -> None:
        """Register a view's overlay; the image view shows it while the overlay's owner panel can be seen."""
        if overlay not in self.overlays:
            self.overlays.append(overlay)
            self.overlayAdded.emit(overlay)

    def remove_overlay(self, overlay: object) -> None:
        if overlay in self.overlays:
            self.overlays.remove(overlay)
            self.overlayRemoved.emit(overlay)
