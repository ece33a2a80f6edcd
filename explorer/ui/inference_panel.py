"""The live inference panel: the current frame, the model's result over it, and the source controls.

Data flow (one way): SourceController → AppState.set_frame → this panel shows the frame and hands it to the
InferenceWorker (latest wins) → FrameResult back through a queued signal → the panel draws it (image,
overlays, side table, timing) and calls AppState.set_result so the other views follow.

While a model runs on a video or camera, the panel shows the frame each result was computed on (so boxes
and masks sit on the pixels they describe); without a model it shows every frame as it comes.

The image lives in a pyqtgraph ViewBox in source-pixel coordinates (y downward, origin top-left, aspect
locked). Overlays (the built-in ones below and those of other views) implement `attach(view_box)`,
`detach()` and `set_result(result)`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import (QApplication, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSlider,
                               QSizePolicy, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
                               QGraphicsPathItem)

from explorer.core.labels import voc_palette
from explorer.ui.inference_worker import InferenceWorker
from explorer.ui.overlay_base import ZoomWatch, place_tags
from explorer.ui.source_controller import SourceController

FILE_CHOICE = "File…"
WEIGHTS_FILTER = "PyTorch state_dict (*.pt *.pth *.ckpt *.bin);;All files (*)"
RANDOM_BANNER = "Random weights: predictions are meaningless (choose pretrained, bundled or a file)"


# the results table's columns per task, from the model's load on (not only from its first result)
TABLE_HEADERS = {"classification": ["#", "class", "probability"], "segmentation": ["", "class", "pixels"],
                 "detection": ["#", "class", "score"]}


def box_colour(class_index: int) -> QColor:
    hue = (class_index * 0.618033988749895) % 1.0  # golden-ratio hues: neighbours differ
    return QColor.fromHsvF(hue, 0.85, 1.0)


# -- overlays -------------------------------------------------------------------------------------------------
class DetectionOverlay:
    """Boxes with 'label score' tags, filtered by a score threshold; graphics items are pooled and reused."""

    def __init__(self) -> None:
        self.view_box: Any = None
        self.threshold = 0.5
        self.result: Any = None
        self._paths: dict[int, QGraphicsPathItem] = {}   # one path item per class colour
        self._texts: list[pg.TextItem] = []
        self.shown: list[Any] = []                      # the Detections drawn now
        self._zoom = ZoomWatch(self._place_labels)  # tags keep their screen size: lay them out again on a zoom

    def attach(self, view_box: Any) -> None:
        self.view_box = view_box
        self._zoom.watch(view_box)

    def detach(self) -> None:
        self._clear()
        self._zoom.unwatch()
        self.view_box = None

    def _clear(self) -> None:
        if self.view_box is None:
            return
        for item in self._paths.values():
            self.view_box.removeItem(item)
        self._paths.clear()
        for t in self._texts:
            t.setVisible(False)

    def set_threshold(self, value: float) -> None:
        self.threshold = float(value)
        if self.result is not None:
            self.set_result(self.result)

    def set_result(self, result: Any) -> None:
        self.result = result
        if self.view_box is None:
            return
        boxes = [d for d in (result.boxes or []) if d.score >= self.threshold] if result is not None else []
        self.shown = boxes
        by_class: dict[int, QPainterPath] = {}
        for d in boxes:
            x1, y1, x2, y2 = d.box
            by_class.setdefault(d.class_index, QPainterPath()).addRect(QRectF(x1, y1, x2 - x1, y2 - y1))
        for cls in list(self._paths):
            if cls not in by_class:
                self.view_box.removeItem(self._paths.pop(cls))
        for cls, path in by_class.items():
            item = self._paths.get(cls)
            if item is None:
                item = QGraphicsPathItem()
                pen = QPen(box_colour(cls), 2)
                pen.setCosmetic(True)  # 2 screen pixels whatever the zoom
                item.setPen(pen)
                item.setZValue(10)
                self.view_box.addItem(item)
                self._paths[cls] = item
            item.setPath(path)
        while len(self._texts) < len(boxes):
            t = pg.TextItem(anchor=(0, 0), color=(0, 0, 0))   # pos = the tag's top-left, as place_labels gives it
            t.setZValue(11)
            self.view_box.addItem(t)
            self._texts.append(t)
        for t, d in zip(self._texts, boxes):
            t.setText(f"{d.label} {d.score:.2f}")
            t.fill = pg.mkBrush(box_colour(d.class_index))
        for t in self._texts[len(boxes):]:
            t.setVisible(False)
        self._place_labels()

    def _place_labels(self) -> None:
        """Tags that never hide each other: best score at its box's top-left, the others at the next free place
        (explorer.core.label_layout); a tag with no free place near its box is hidden (the table lists it)."""
        boxes = self.shown
        if self.view_box is None or not boxes:
            return
        self._zoom.laid_out()
        image = getattr(getattr(self.result, "frame", None), "image", None)
        if image is not None:
            image_size = (float(image.shape[1]), float(image.shape[0]))
        else:
            image_size = (max(d.box[2] for d in boxes), max(d.box[3] for d in boxes))
        place_tags(self.view_box, self._texts[:len(boxes)], [d.box for d in boxes], [d.score for d in boxes],
                   image_size)


class SegmentationOverlay:
    """The class mask as a semi-transparent colour image (VOC palette; background transparent)."""

    def __init__(self, opacity: float = 0.55) -> None:
        self.view_box: Any = None
        self.item = pg.ImageItem(axisOrder="row-major")
        self.item.setZValue(5)
        lut = np.zeros((256, 4), np.uint8)
        lut[:, :3] = voc_palette()
        lut[1:, 3] = int(255 * opacity)
        self.lut = lut

    def attach(self, view_box: Any) -> None:
        self.view_box = view_box
        view_box.addItem(self.item)

    def detach(self) -> None:
        if self.view_box is not None:
            self.view_box.removeItem(self.item)
        self.view_box = None

    def set_result(self, result: Any) -> None:
        seg = getattr(result, "segmentation", None) if result is not None else None
        if seg is None:
            self.item.setVisible(False)
            return
        rgba = self.lut[np.clip(seg.mask, 0, 255).astype(np.uint8)]
        self.item.setImage(rgba, autoLevels=False, levels=(0, 255))
        self.item.setVisible(True)


# -- the panel ------------------------------------------------------------------------------------------------
class InferencePanel(QWidget):
    """Shows the current frame and the model's result; owns the inference worker and the source controller."""

    resultDrawn = Signal(object)   # FrameResult, after it is drawn (its timing_ms has "draw")
    thresholdChanged = Signal(float)  # the detections' score threshold: which ones the table lists

    def __init__(self, state: Any, window: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inferencePanel")
        self.state = state
        self.window_ = window
        self.handle: Any = None
        self.result: Any = None
        self.fps = 0.0
        self._last_result_time = 0.0
        self._pending_frame: Any = None   # the frame being computed while an older result is on screen
        self.pending = False
        self._frame_shape: tuple[int, ...] | None = None
        self._overlays: list[Any] = []
        self.engine_options: dict[str, Any] = {}  # passed to Engine(...): precision, channels_last, score_threshold

        # -- view --
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202020")
        self.graphics.setMinimumSize(240, 180)
        self.view_box = self.graphics.addViewBox()
        self.view_box.setAspectLocked(True)
        self.view_box.invertY(True)  # y downward, origin top-left: source-pixel coordinates
        self.view_box.setMenuEnabled(False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image_item)
        self.detections = DetectionOverlay()
        self.segmentation = SegmentationOverlay()
        self.add_overlay(self.detections)
        self.add_overlay(self.segmentation)

        # -- banner, controls, table, timing --
        self.banner = QLabel(RANDOM_BANNER)
        self.banner.setObjectName("randomWeightsBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#b3261e; color:white; padding:4px; font-weight:bold;")
        self.banner.setVisible(False)

        self.prev_button = QPushButton("◀ Prev")
        self.pause_button = QPushButton("Pause")
        self.step_button = QPushButton("Step")
        self.next_button = QPushButton("Next ▶")
        for b, tip in ((self.prev_button, "Previous image of the folder"),
                       (self.pause_button, "Pause or resume the video/camera"),
                       (self.step_button, "One more frame (pauses a video/camera)"),
                       (self.next_button, "Next image of the folder / next frame")):
            b.setToolTip(tip)
            # styles give text buttons 80 px at least; the text's own width lets the dock be narrower on a
            # laptop screen ("Resume" is the longest text the pause button shows)
            text = "Resume" if b is self.pause_button else b.text()
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance(text) + 18)
        self.prev_button.clicked.connect(self.previous_item)
        self.next_button.clicked.connect(self.next_item)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.step_button.clicked.connect(self.step)

        self.weights_combo = QComboBox()
        self.weights_combo.setToolTip("Weights of the current model")
        self.weights_combo.setEnabled(False)
        self.weights_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.weights_combo.setMinimumContentsLength(9)  # "pretrained"; a file name is elided, its tooltip whole
        self.weights_combo.activated.connect(self._on_weights_chosen)

        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, 100)
        self.threshold_slider.setValue(50)
        self.threshold_slider.setToolTip("Detection score threshold")
        self.threshold_label = QLabel("score ≥ 0.50")
        self.threshold_slider.valueChanged.connect(lambda v: self.set_score_threshold(v / 100.0))

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["#", "class", "score"])
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(120)
        self.timing_label = QLabel("no model yet")
        self.timing_label.setObjectName("timingLabel")
        self.timing_label.setFont(QFont("monospace", 8))
        self.source_label = QLabel("")
        # Long paths and timing lines wrap instead of widening the dock.
        for label in (self.source_label, self.timing_label):
            label.setWordWrap(True)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        controls = QHBoxLayout()
        for w in (self.prev_button, self.pause_button, self.step_button, self.next_button):
            controls.addWidget(w)
        controls.addSpacing(8)
        controls.addWidget(QLabel("Weights:"))
        controls.addWidget(self.weights_combo, 1)
        thresh = QHBoxLayout()
        thresh.addWidget(QLabel("Boxes:"))
        thresh.addWidget(self.threshold_slider, 1)
        thresh.addWidget(self.threshold_label)
        self.threshold_row = QWidget()
        self.threshold_row.setLayout(thresh)
        self.threshold_row.setVisible(False)
        thresh.setContentsMargins(0, 0, 0, 0)

        # The dock is tall and narrow: the results table sits under the image.
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.graphics)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([500, 212])  # room for the five classes and the weights note under the image
        # The dock scrolls its panel when the window is small, and a scroll area grows its widget to the layout's
        # height for the width, which counts the splitter's size hint: the labels below were pushed out of
        # sight. Ignored: the splitter takes what is left, never more.
        splitter.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        splitter.setMinimumHeight(240)  # below this the dock scrolls rather than squeezing the image away

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.banner)
        layout.addLayout(controls)
        layout.addWidget(self.threshold_row)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.source_label)
        layout.addWidget(self.timing_label)

        # -- worker and source --
        self.worker = InferenceWorker()
        self.worker.resultReady.connect(self._on_result)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.start()
        self.controller = SourceController(self.state.set_frame, self.state.show_error,
                                           lambda text: self.state.show_message(text, 5000), self)
        self.controller.sourceChanged.connect(self._on_source_changed)
        self.controller.pausedChanged.connect(self._update_controls)
        self.controller.streamStopped.connect(self._update_controls)
        self._was_live = False
        for signal in (self.controller.pausedChanged, self.controller.sourceChanged, self.controller.streamStopped):
            signal.connect(self._emit_live)
        self.destroyed.connect(self._on_destroyed)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)  # threads must stop before Qt tears down

        state.frameChanged.connect(self._on_frame)
        state.modelChanged.connect(self._on_model)
        state.modelLoading.connect(self._on_model_loading)
        state.modelFailed.connect(lambda _text: self._set_pending(False))
        state.resultReady.connect(self._on_state_result)
        if getattr(state, "handle", None) is not None:
            self._on_model(state.handle)
        self._update_controls()

    # -- menu entry points ------------------------------------------------------------------------------------
    def open_image(self, path: str) -> bool:
        return self.controller.open_image(str(path))

    def open_folder(self, path: str) -> bool:
        return self.controller.open_folder(str(path))

    def open_video(self, path: str, loop: bool = False) -> bool:
        return self.controller.open_video(str(path), loop=loop)

    def open_camera(self, index: int | str = 0, resolution: tuple[int, int] | None = None) -> bool:
        return self.controller.open_camera(index, resolution)

    def next_item(self) -> None:
        self.controller.next_item()

    def previous_item(self) -> None:
        self.controller.previous_item()

    def toggle_pause(self) -> bool:
        """Pause or resume a stream; a video that ended plays again (the button says "Replay")."""
        if self.controller.can_replay:
            self.controller.replay()
            return False
        return self.controller.toggle_pause()

    def step(self) -> None:
        self.controller.step()

    def set_score_threshold(self, value: float) -> None:
        self.detections.set_threshold(value)
        self.threshold_label.setText(f"score ≥ {value:.2f}")
        slider_value = int(round(value * 100))
        if self.threshold_slider.value() != slider_value:
            self.threshold_slider.setValue(slider_value)
        if self.result is not None and self.result.boxes is not None:
            self._fill_table(self.result)
        self.thresholdChanged.emit(float(value))

    # -- overlays and probes (for the other views) ------------------------------------------------------------
    def add_overlay(self, overlay: Any) -> None:
        if overlay not in self._overlays:
            self._overlays.append(overlay)
            overlay.attach(self.view_box)
            if self.result is not None:
                overlay.set_result(self.result)

    def remove_overlay(self, overlay: Any) -> None:
        if overlay in self._overlays:
            self._overlays.remove(overlay)
            overlay.detach()

    def add_probe(self, probe: Any) -> None:
        """Attach `probe` to the engine before the next frame (and to every later model); re-runs a still."""
        self.worker.add_probe(probe)
        self._rerun_still()

    def remove_probe(self, name: str) -> None:
        self.worker.remove_probe(name)

    @property
    def engine_probes(self) -> list[str]:
        return self.worker.probe_names

    def refresh(self) -> bool:
        """Run the model again on the frame whose result is on screen (a view needs its probes for that frame),
        unless a stream is playing or a result is still coming (a step's frame): that result comes anyway, and
        an older frame must not go back in after it. True when the frame was submitted."""
        if self.controller.playing or self.pending or self.worker.busy or self.worker.slot.peek() is not None:
            return False
        if self.handle is None or self.result is None:
            return False
        self.worker.submit(self.result.frame)
        return True

    def _rerun_still(self) -> None:
        if not self.controller.playing:
            # the frame being computed wins over the one on screen (re-submitting that would drop the new one)
            frame = self._pending_frame or (self.result.frame if self.result is not None else self.state.frame)
            if frame is not None and self.handle is not None:
                self.worker.submit(frame)

    # -- state followers --------------------------------------------------------------------------------------
    def _on_source_changed(self, kind: str, name: str) -> None:
        self.source_label.setText(f"{kind}: {name}")
        self._reset_fps()  # a rate belongs to one stream
        self._update_controls()

    def _update_controls(self, *_args: Any) -> None:
        folder = self.controller.kind == "folder"
        ended = self.controller.ended  # an ended video offers Replay; a broken stream nothing
        stream = self.controller.streaming and not ended
        self.prev_button.setEnabled(folder)
        self.next_button.setEnabled(folder or stream)
        self.pause_button.setEnabled(stream or self.controller.can_replay)
        self.step_button.setEnabled(folder or stream)
        if self.controller.can_replay:
            self.pause_button.setText("Replay")
        elif stream:
            self.pause_button.setText("Resume" if self.controller.paused else "Pause")

    def _on_frame(self, frame: Any) -> None:
        synced = self.handle is not None and self.controller.playing
        if not synced:
            self._show_image(frame.image)
        if self.handle is not None:
            if not synced:  # a still, a folder item or a step: the result on screen is for another frame now
                self._set_pending(True, frame)
            self.worker.submit(frame)

    @property
    def live(self) -> bool:
        """True while a video or camera plays: only then is a frame rate meaningful."""
        return self.controller.playing

    def _emit_live(self, *_args: Any) -> None:
        live = self.live
        if live != self._was_live:
            self._was_live = live
            self.state.liveChanged.emit(live)

    def _reset_fps(self) -> None:
        self.fps = 0.0
        self._last_result_time = 0.0
        self.state.fpsChanged.emit(0.0)  # 0: no rate (a still image, a new model)

    def _set_pending(self, pending: bool, frame: Any = None, text: str = "computing…") -> None:
        """Grey the results and say so while the result on screen is not the current frame's (or model's)."""
        self.pending = pending
        self._pending_frame = frame if pending else None
        self.table.setEnabled(not pending)
        self.table.setStyleSheet("QTableWidget { color: #9e9e9e; }" if pending else "")
        if pending:
            self.timing_label.setText(text)
            for o in self._overlays:  # the old boxes/masks do not belong on the new image
                o.set_result(None)

    def _on_model_loading(self, name: str) -> None:
        self._reset_fps()
        if self.result is not None:
            self._set_pending(True, self._pending_frame, f"loading {name}…")

    def _show_image(self, image: np.ndarray) -> None:
        self.image_item.setImage(image, autoLevels=False, levels=(0, 255))
        if image.shape != self._frame_shape:
            self._frame_shape = image.shape
            h, w = image.shape[:2]
            self.view_box.setRange(QRectF(0, 0, w, h), padding=0.0)

    def _on_model(self, handle: Any) -> None:
        self.handle = handle
        self.banner.setVisible(handle is not None and handle.weights == "random")
        detection = handle is not None and handle.entry.task == "detection"
        self.threshold_row.setVisible(detection)
        self._fill_weights_combo()
        self.worker.set_model(handle, **self.engine_options)
        self.result = None
        for o in self._overlays:
            o.set_result(None)
        self.table.setRowCount(0)
        task = handle.entry.task if handle is not None else ""
        self.table.setHorizontalHeaderLabels(TABLE_HEADERS.get(task, TABLE_HEADERS["detection"]))
        self._reset_fps()
        self._set_pending(False)
        frame = self.state.frame
        if frame is not None:
            self.worker.submit(frame)
            if handle is not None:
                self._set_pending(True, frame, f"{handle.name}: computing the first result…")
        if not self.pending:
            self.timing_label.setText(f"{handle.name}: waiting for the first result…" if handle else "no model")

    def _fill_weights_combo(self) -> None:
        combo = self.weights_combo
        combo.blockSignals(True)
        combo.clear()
        handle = self.handle
        if handle is not None:
            choices = list(handle.entry.weight_choices)
            current = handle.weights
            if current not in choices:
                from pathlib import Path

                choices.insert(0, current)
                combo.addItems([Path(current).name if c == current else c for c in choices])
                for i, c in enumerate(choices):
                    combo.setItemData(i, c)
            else:
                combo.addItems(choices)
                for i, c in enumerate(choices):
                    combo.setItemData(i, c)
            combo.addItem(FILE_CHOICE)
            combo.setItemData(combo.count() - 1, FILE_CHOICE)
            combo.setCurrentIndex(choices.index(current))
        combo.setEnabled(handle is not None)
        combo.blockSignals(False)

    def _on_weights_chosen(self, index: int) -> None:
        handle = self.handle
        if handle is None:
            return
        choice = self.weights_combo.itemData(index)
        if choice == FILE_CHOICE:
            path, _ = QFileDialog.getOpenFileName(self, "Load weights (state_dict)", "", WEIGHTS_FILTER)
            if not path:
                self._fill_weights_combo()
                return
            choice = path
        if choice == handle.weights:
            return
        self.request_weights(choice)

    def request_weights(self, weights: str) -> None:
        """Ask the main window to reload the current model with `weights` (it owns model loading)."""
        loader = getattr(self.window_, "load_model", None)
        if self.handle is None:
            return
        if loader is None:
            self.state.show_error("Weights can be changed only from the main window.")
            self._fill_weights_combo()
            return
        loader(self.handle.name, weights)

    # -- results ----------------------------------------------------------------------------------------------
    def _on_worker_failed(self, text: str) -> None:
        self._set_pending(False)
        self.state.show_error(text)

    def _on_result(self, result: Any) -> None:
        """A result from the worker (queued, on the UI thread): draw it, then publish it through AppState."""
        if self.handle is None or result.model_name != self.handle.name or result.weights != self.handle.weights:
            return  # a frame of the previous model (or weights), still in flight when the model changed
        if self.pending and self._pending_frame is not None and result.frame is not self._pending_frame:
            return  # an older frame's result, finished after Next: the current frame's result is coming
        self._set_pending(False)
        t0 = time.perf_counter()
        self._show_image(result.frame.image)
        self.result = result
        for o in self._overlays:
            o.set_result(result)
        self._fill_table(result)
        result.timing_ms["draw"] = (time.perf_counter() - t0) * 1000
        now = time.perf_counter()
        if not self.live:  # a still, a folder item, a step: the time between results says nothing
            self.fps, self._last_result_time = 0.0, 0.0
        else:
            if self._last_result_time:
                dt = now - self._last_result_time
                if dt > 0:
                    inst = 1.0 / dt
                    self.fps = inst if self.fps == 0 else 0.8 * self.fps + 0.2 * inst
            self._last_result_time = now
        self._show_timing(result)
        self.state.set_result(result)
        self.state.fpsChanged.emit(float(self.fps))
        self.resultDrawn.emit(result)

    def _on_state_result(self, result: Any) -> None:
        pass  # this panel draws before publishing; other views follow state.resultReady

    def _show_timing(self, result: Any) -> None:
        t = result.timing_ms
        parts = [f"{k} {t[k]:.1f}" for k in ("capture", "preprocess", "forward", "postprocess", "probes", "draw")
                 if k in t]
        dropped = self.controller.dropped + self.worker.dropped
        text = " · ".join(parts) + f" ms · {result.device}"
        if self.live:
            text += f" · {self.fps:.1f} fps · dropped {dropped}" if self.fps > 0 else f" · – fps · dropped {dropped}"
        self.timing_label.setText(text)

    def _fill_table(self, result: Any) -> None:
        rows: list[tuple[str, str, str, QColor | None]] = []
        if result.topk is not None:
            self.table.setHorizontalHeaderLabels(TABLE_HEADERS["classification"])
            rows = [(str(i), c.label, f"{c.score:.3f}", None) for i, c in enumerate(result.topk, 1)]
        elif result.segmentation is not None:
            self.table.setHorizontalHeaderLabels(TABLE_HEADERS["segmentation"])
            seg = result.segmentation
            palette = voc_palette()
            for name, share in zip(seg.classes, seg.shares):  # the engine orders them: largest share first
                idx = seg.labels.index(name) if name in seg.labels else 0
                r, g, b = (int(v) for v in palette[idx])
                rows.append(("■", name, f"{100.0 * share:.1f}%", QColor(r, g, b)))
        elif result.boxes is not None:
            self.table.setHorizontalHeaderLabels(TABLE_HEADERS["detection"])
            shown = [d for d in result.boxes if d.score >= self.detections.threshold]
            rows = [(str(i), d.label, f"{d.score:.3f}", box_colour(d.class_index)) for i, d in enumerate(shown, 1)]
            if not rows:
                note = result.extras.get("note") if isinstance(result.extras, dict) else None
                rows = [("", note or "no boxes above the threshold", "", None)]
        if result.weights == "random" and rows:
            rows.append(("", "(random weights)", "", None))
        self.table.setRowCount(len(rows))
        for r, (a, b, c, colour) in enumerate(rows):
            for col, text in enumerate((a, b, c)):
                item = QTableWidgetItem(text)
                if col == 0 and colour is not None:
                    item.setForeground(QBrush(colour))
                self.table.setItem(r, col, item)

    # -- shutdown ---------------------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the capture thread and the worker (the main window calls this on close)."""
        self.controller.close()
        if self.worker.isRunning():
            self.worker.stop()
            self.worker.wait(5000)

    def _on_destroyed(self, *_args: Any) -> None:
        try:
            self.shutdown()
        except RuntimeError:  # the C++ objects are already gone (interpreter shutdown)
            pass

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)
