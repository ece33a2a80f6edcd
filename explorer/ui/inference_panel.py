"""The live inference panel: the frame on screen, the model's result over it, and the source controls.

It draws what the state says and asks the session bridge for everything else: opening sources, stepping and
pausing, other weights. The frame and result come from the state (the bridge writes what the Session
reports into it, at most once per screen refresh); the panel never runs the model and never holds another
panel. Every view's overlay over the image goes through one host (explorer.ui.overlay_base.OverlayHost).

While a model runs on a video or camera the panel shows the frame each result was computed on (so boxes and
masks sit on the pixels they describe); without a model it shows every frame as it comes. The image lives in
a pyqtgraph ViewBox in source-pixel coordinates (y downward, origin top-left, aspect locked).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSizePolicy,
                               QSlider, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from explorer.core.labels import voc_palette
from explorer.ui.frame_item import FrameItem
from explorer.ui.overlay_base import OverlayHost
from explorer.ui.result_overlays import DetectionOverlay, SegmentationOverlay, box_colour

if TYPE_CHECKING:
    from explorer.core.opening import ModelHandle
    from explorer.core.results import Frame, FrameResult
    from explorer.core.source_info import SourceInfo
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

__all__ = ["InferencePanel", "SegmentationOverlay", "DetectionOverlay", "box_colour", "voc_palette"]

FILE_CHOICE = "File…"
WEIGHTS_FILTER = "PyTorch state_dict (*.pt *.pth *.ckpt *.bin);;All files (*)"
RANDOM_BANNER = "Random weights (seed {seed}): predictions are meaningless (choose pretrained, bundled or a file)"

# While a stream plays, the readouts under the image change at a rate a person can read: the table 10 times and
# the timing line 4 times a second. Each word-wrapped label and table update re-lays out the dock (0.4 and
# 0.3 ms of the UI thread's CPU per frame, measured), on the cores the model needs; what 50 changes a second
# would show nobody can read anyway. A still, a step or a pause shows its own result at once.
TABLE_INTERVAL_S = 0.1
TIMING_INTERVAL_S = 0.25
WARM_UP_TIP = ("The model's first passes at this input size: their times include one-off set-up (kernels chosen, "
               "memory allocated), not the model's speed. The times settle after a few frames.")

# the results table's columns per task, from the model's load on (not only from its first result)
TABLE_HEADERS = {"classification": ["#", "class", "probability"], "segmentation": ["", "class", "pixels"],
                 "detection": ["#", "class", "score"]}


class InferencePanel(QWidget):
    """Shows the frame on screen and the model's result; built from the state and the session bridge."""

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inferencePanel")
        self.state = state
        self.bridge = bridge

        # -- view --
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#202020")
        self.graphics.setMinimumSize(240, 180)
        self.view_box = self.graphics.addViewBox()
        self.view_box.setAspectLocked(True)
        self.view_box.invertY(True)  # y downward, origin top-left: source-pixel coordinates
        self.view_box.setMenuEnabled(False)
        self.image_item = FrameItem()
        self.view_box.addItem(self.image_item)
        self._frame_shape: tuple[int, ...] | None = None
        self.overlays = OverlayHost(self.view_box, state, self)
        self.detections = DetectionOverlay()
        self.detections.threshold = state.threshold
        self.segmentation = SegmentationOverlay()
        state.add_overlay(self.detections)
        state.add_overlay(self.segmentation)

        # -- banner, controls, table, timing --
        self.banner = QLabel("")
        self.banner.setObjectName("randomWeightsBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background:#b3261e; color:white; padding:4px; font-weight:bold;")
        self.banner.setVisible(False)
        # what the app assumed about a model from elsewhere ("preprocessed with ImageNet's mean and std")
        self.model_note = QLabel("")
        self.model_note.setObjectName("modelNote")
        self.model_note.setWordWrap(True)
        self.model_note.setStyleSheet("background:#fff4ce; color:#5c4400; padding:3px;")
        self.model_note.setVisible(False)

        self.prev_button = QPushButton("◀ Prev")
        self.pause_button = QPushButton("Pause")
        self.step_button = QPushButton("Step")
        self.next_button = QPushButton("Next ▶")
        # each button does one thing, for one kind of source (new-user trial: Step and Next both went to a
        # folder's next image and both stepped a video); disabled for the others, the tooltip says which
        for b, tip in ((self.prev_button, "Previous image of the folder (Ctrl+Left); for a folder only"),
                       (self.pause_button, "Pause or resume the video/camera (Space); for a video or camera only"),
                       (self.step_button, ("One frame of the video/camera, pausing it (Ctrl+.); for a video or "
                                           "camera only")),
                       (self.next_button, "Next image of the folder (Ctrl+Right); for a folder only")):
            b.setToolTip(tip)
            # styles give text buttons 80 px at least; the text's own width lets the dock be narrower on a
            # laptop screen ("Resume" is the longest text the pause button shows)
            text = "Resume" if b is self.pause_button else b.text()
            b.setMinimumWidth(b.fontMetrics().horizontalAdvance(text) + 18)
        self.prev_button.clicked.connect(bridge.previous_item)
        self.next_button.clicked.connect(bridge.next_item)
        self.pause_button.clicked.connect(bridge.toggle_pause)
        self.step_button.clicked.connect(bridge.step)

        self.weights_combo = QComboBox()
        self.weights_combo.setToolTip("Weights of the current model")
        self.weights_combo.setEnabled(False)
        self.weights_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.weights_combo.setMinimumContentsLength(9)  # "pretrained"; a file name is elided, its tooltip whole
        self.weights_combo.activated.connect(self._on_weights_chosen)

        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, 100)
        self.threshold_slider.setValue(int(round(state.threshold * 100)))
        self.threshold_slider.setToolTip("Detection score threshold")
        self.threshold_label = QLabel(f"score ≥ {state.threshold:.2f}")
        self.threshold_slider.valueChanged.connect(lambda v: state.set_threshold(v / 100.0))

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["#", "class", "score"])
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(120)
        self._greyed = False
        self._filled_at: dict[str, float] = {}  # when each readout was last filled (see _due)
        self._headers = ""  # the task whose column names the table shows
        self._text_brush = self.table.palette().text()
        self.timing_label = QLabel("no model yet")
        self.timing_label.setObjectName("timingLabel")
        self.timing_label.setFont(QFont("monospace", 8))
        self.source_label = QLabel("")
        self.source_label.setObjectName("sourceLabel")
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
        # The controls first: the banner and the note come and go with the model, and above the buttons they
        # moved them by their height under the user's pointer (new-user trial); under them the image gives way.
        layout.addLayout(controls)
        layout.addWidget(self.threshold_row)
        layout.addWidget(self.banner)
        layout.addWidget(self.model_note)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.source_label)
        layout.addWidget(self.timing_label)

        state.frameChanged.connect(self._on_frame)
        state.resultReady.connect(self._on_result)
        state.modelChanged.connect(self._on_model)
        state.modelLoading.connect(self._on_model_loading)
        state.modelFailed.connect(self._on_model_failed)
        state.resultFailed.connect(self._on_result_failed)
        state.sourceChanged.connect(self._on_source)
        state.thresholdChanged.connect(self._on_threshold)
        state.liveChanged.connect(self._on_live)
        state.fpsChanged.connect(self._on_fps)
        if state.handle is not None:
            self._on_model(state.handle)
        if state.frame is not None:
            self._on_frame(state.frame)
        self._on_source(state.source)

    # -- what the state says ----------------------------------------------------------------------------------
    @property
    def result(self) -> "FrameResult | None":
        return self.state.result

    @property
    def pending(self) -> bool:
        return self.state.pending

    def _on_source(self, info: "SourceInfo") -> None:
        self._show_source()
        self.source_label.setToolTip(info.path)
        for control, button in (("previous", self.prev_button), ("next", self.next_button),
                                ("pause", self.pause_button), ("step", self.step_button)):
            button.setEnabled(info.allows(control))
        if info.can_replay:
            self.pause_button.setText("Replay")
        elif info.allows("step"):
            self.pause_button.setText("Resume" if info.status == "paused" else "Pause")
        else:
            self.pause_button.setText("Pause")

    def _show_source(self) -> None:
        """The source line: what is open, where in it (folder n of N, a video's frame), and how it plays."""
        info, frame = self.state.source, self.state.frame
        text = info.describe
        if info.streaming and frame is not None:
            text += f" · {info.frame_text(frame.index)}"
        self.source_label.setText(text)

    def _on_frame(self, frame: "Frame") -> None:
        self._show_image(frame.image)
        if self.state.source.streaming and self._due("source", TIMING_INTERVAL_S, time.perf_counter()):
            self._show_source()
        if self.state.pending:
            self._set_pending(True, "computing…")

    def _on_model_loading(self, name: str) -> None:
        if self.state.result is not None or self.state.handle is not None:
            self._set_pending(True, f"loading {name}…")

    def _on_model_failed(self, _text: str) -> None:
        """The previous model stays, with its weights: the controls say so again, nothing waits for a load, and
        its boxes or mask are drawn again."""
        self._fill_weights_combo()
        self._set_pending(self.state.pending)
        if self.state.result is not None and not self.state.pending:
            self.detections.set_result(self.state.result)
            self.segmentation.set_result(self.state.result)
            self._show_timing(self.state.result)
        elif self.state.handle is None:
            self.timing_label.setText("no model")

    def _on_model(self, handle: "ModelHandle") -> None:
        seed = handle.seed if handle.seed is not None else "?"
        self.banner.setText(RANDOM_BANNER.format(seed=seed))
        self.banner.setVisible(handle.weights == "random")
        notes = " ".join(handle.entry.notes)
        self.model_note.setText(notes)
        self.model_note.setVisible(bool(notes))
        self.threshold_row.setVisible(handle.task == "detection")
        self._fill_weights_combo()
        self.table.setRowCount(0)
        self._set_headers(handle.task if handle.task in TABLE_HEADERS else "detection")
        if self.state.frame is not None:
            self._set_pending(True, f"{handle.name}: computing the first result…")
        else:
            self._set_pending(False)
            self.timing_label.setText(f"{handle.name}: waiting for the first image…")

    def _on_result_failed(self, text: str) -> None:
        """No result is coming for the frame on screen: not 'computing…' for good."""
        if not self.state.pending:
            self._set_pending(False)
            self.timing_label.setText(f"no result: {text}")

    def _on_fps(self, _fps: float) -> None:
        if self.state.result is not None and not self.state.live:  # while live, _on_result's pace
            self._show_timing(self.state.result)

    def _on_threshold(self, value: float) -> None:
        self.detections.set_threshold(value)
        self.threshold_label.setText(f"score ≥ {value:.2f}")
        slider_value = int(round(value * 100))
        if self.threshold_slider.value() != slider_value:
            self.threshold_slider.blockSignals(True)
            self.threshold_slider.setValue(slider_value)
            self.threshold_slider.blockSignals(False)
        if self.state.result is not None and self.state.result.boxes is not None:
            self._fill_table(self.state.result)

    def _on_result(self, result: "FrameResult") -> None:
        t0 = time.perf_counter()
        self._set_pending(False)
        self._show_image(result.frame.image)
        self.detections.set_result(result)
        self.segmentation.set_result(result)
        if self._due("table", TABLE_INTERVAL_S, t0):
            self._fill_table(result)
        result.timing_ms["draw"] = (time.perf_counter() - t0) * 1000
        if self._due("timing", TIMING_INTERVAL_S, t0):
            self._show_timing(result)

    def _due(self, readout: str, interval: float, now: float) -> bool:
        """Whether a readout may change now: at once, unless a stream plays and it changed less than
        `interval` seconds ago (TABLE_INTERVAL_S above)."""
        if self.state.live and now - self._filled_at.get(readout, 0.0) < interval:
            return False
        self._filled_at[readout] = now
        return True

    def _on_live(self, live: bool) -> None:
        self.image_item.set_fast(live)
        if not live and self.state.result is not None:  # paused or ended: the readouts of the frame shown
            self._fill_table(self.state.result)
            self._show_timing(self.state.result)
        self._show_source()

    # -- drawing ----------------------------------------------------------------------------------------------
    def _show_image(self, image: Any) -> None:
        if self.image_item.image is image:
            return
        self.image_item.set_image(image)
        if image.shape != self._frame_shape:
            self._frame_shape = image.shape
            h, w = image.shape[:2]
            self.view_box.setRange(QRectF(0, 0, w, h), padding=0.0)

    def _set_pending(self, pending: bool, text: str = "computing…") -> None:
        """Grey the results and say so while the result on screen is not the current frame's (or model's)."""
        if pending != self._greyed:  # a style sheet re-polishes the table: only on a change (0.5 ms each)
            self._greyed = pending
            self.table.setEnabled(not pending)
            self.table.setStyleSheet("QTableWidget { color: #9e9e9e; }" if pending else "")
        if pending:
            self.timing_label.setText(text)
            self.detections.clear()  # the old boxes/masks do not belong on the new image
            self.segmentation.clear()

    def _show_timing(self, result: "FrameResult | None") -> None:
        if result is None:
            return
        t = result.timing_ms
        parts = [f"{k} {t[k]:.1f}" for k in ("capture", "preprocess", "forward", "postprocess", "probes", "draw")
                 if k in t]
        text = " · ".join(parts) + f" ms · {result.device}"
        if result.warm_up:  # the first passes at a size include one-off set-up (explorer.core.engine)
            text = "warming up · " + text
        self.timing_label.setToolTip(WARM_UP_TIP if result.warm_up else "")
        if self.state.live:
            fps = self.state.fps
            dropped = self.state.stats.dropped
            text += f" · {fps:.1f} fps · dropped {dropped}" if fps > 0 else f" · – fps · dropped {dropped}"
        self.timing_label.setText(text)

    def _fill_table(self, result: "FrameResult") -> None:
        rows: list[tuple[str, str, str, QColor | None]] = []
        if result.topk is not None:
            self._set_headers("classification")
            rows = [(str(i), c.label, f"{c.score:.3f}", None) for i, c in enumerate(result.topk, 1)]
        elif result.segmentation is not None:
            self._set_headers("segmentation")
            seg = result.segmentation
            palette = voc_palette()
            for name, share in zip(seg.classes, seg.shares):  # the engine orders them: largest share first
                idx = seg.labels.index(name) if name in seg.labels else 0
                r, g, b = (int(v) for v in palette[idx])
                rows.append(("■", name, f"{100.0 * share:.1f}%", QColor(r, g, b)))
        elif result.boxes is not None:
            self._set_headers("detection")
            shown = [d for d in result.boxes if d.score >= self.state.threshold]
            rows = [(str(i), d.label, f"{d.score:.3f}", box_colour(d.class_index)) for i, d in enumerate(shown, 1)]
            if not rows:
                note = result.extras.get("note") if isinstance(result.extras, dict) else None
                rows = [("", note or "no boxes above the threshold", "", None)]
        if result.weights == "random" and rows:
            rows.append(("", "(random weights)", "", None))
        # the items are kept and their text changed in place: a video's every frame fills the same rows
        self.table.setRowCount(len(rows))
        for r, (a, b, c, colour) in enumerate(rows):
            for col, text in enumerate((a, b, c)):
                item = self.table.item(r, col)
                if item is None:
                    item = QTableWidgetItem(text)
                    self.table.setItem(r, col, item)
                elif item.text() != text:
                    item.setText(text)
                if col == 0:
                    item.setForeground(QBrush(colour) if colour is not None else self._text_brush)

    def _set_headers(self, task: str) -> None:
        if task != self._headers:  # header items are made anew by each call: only on a change, not per frame
            self._headers = task
            self.table.setHorizontalHeaderLabels(TABLE_HEADERS[task])

    # -- weights ----------------------------------------------------------------------------------------------
    def _fill_weights_combo(self) -> None:
        """The weights in effect (never the one that failed), the entry's other choices and File…"""
        combo = self.weights_combo
        combo.blockSignals(True)
        combo.clear()
        handle = self.state.handle
        if handle is not None:
            choices = list(handle.entry.weight_choices)
            current = handle.weights
            if current not in choices:
                choices.insert(0, current)
            for c in choices:
                combo.addItem(Path(c).name if c == current and c not in handle.entry.weight_choices else c, c)
            combo.addItem(FILE_CHOICE, FILE_CHOICE)
            combo.setCurrentIndex(choices.index(current))
            combo.setToolTip(f"Weights of {handle.name}: {handle.weights_label}")
        combo.setEnabled(handle is not None)
        combo.blockSignals(False)

    def _on_weights_chosen(self, index: int) -> None:
        handle = self.state.handle
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
        self.bridge.set_weights(choice)
