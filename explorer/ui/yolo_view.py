"""The YOLO grid dock (Redmon et al., YOLOv1, CVPR 2016, §2): what to draw over the image, the hovered cell's
values and class probabilities, and the S×S×(B·5+C) tensor of the current model.

Built from the state and the session bridge alone. The overlay (explorer.ui.yolo_overlay) belongs to this
panel: the image view's OverlayHost shows it while this dock's tab is in front and clears it when the model or
the source changes. The model's raw output comes with every result (no probe needed); the score threshold is
the state's, shared with the image view, so the cells marked here own exactly the boxes drawn there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import (QBoxLayout, QCheckBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QScrollArea,
                               QSizePolicy, QSlider, QVBoxLayout, QWidget)

from explorer.core import yolo as Y
from explorer.ui.overlay_base import legend_label, show_legend
from explorer.ui.yolo_overlay import YoloOverlay, cell_text, class_colour, num

if TYPE_CHECKING:
    from explorer.core.opening import ModelHandle
    from explorer.core.results import FrameResult
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

__all__ = ["YoloOverlay", "YoloPanel", "class_colour"]

CHART_MIN_H = 120      # the class chart's height at least (the dock's height otherwise)
CHART_MIN_W = 220
SIDE_BY_SIDE_W = 560   # a dock at least this wide puts the chart beside the texts, else under them


class YoloPanel(QWidget):
    """Dock panel: the score threshold, what to draw, the hovered cell's values and class bar chart, the
    tensor layout."""

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.bridge = state, bridge
        self.overlay = YoloOverlay(owner=self)
        self.overlay.threshold = state.threshold
        self.overlay.on_change = self._on_overlay_change
        self.overlay.on_hover = lambda _o, cell: self._show_cell(cell)

        self.score = QSlider(Qt.Orientation.Horizontal)
        self.score.setRange(0, 100)
        self.score.setValue(round(state.threshold * 100))
        self.score.setToolTip("The detections' score threshold (the image view's too)")
        self.score_label = QLabel(num(state.threshold))
        self.checks = {k: QCheckBox(t) for k, t in (("grid", "grid"), ("classes", "class map"),
                                                    ("boxes", "B boxes per cell"), ("owners", "owner cells"))}
        for cb in self.checks.values():
            cb.setChecked(True)
            cb.toggled.connect(self._apply)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.cell_info = QLabel("Hover a cell of the grid.")
        self.cell_info.setWordWrap(True)
        self.cell_info.setTextFormat(Qt.TextFormat.RichText)
        # horizontal bars: one row per class, its name on the left axis. Beside the scrolled texts, as tall as
        # the dock: the bars shrink to fit, so every bar and the axis are seen together (new-user trial: in a
        # small dock the chart was taller than the dock, its only axis below the fold)
        self.bars_plot = pg.PlotWidget()
        self.bars_plot.setMinimumHeight(CHART_MIN_H)
        self.bars_plot.setMinimumWidth(CHART_MIN_W)
        # its 600×480 size hint would make the dock claim the image view's height: it takes what the dock has
        self.bars_plot.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.hideButtons()
        self.bars_plot.invertY(True)
        self.bars_plot.setLabel("bottom", "Pr(class | object) of the hovered cell")
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.8, brushes=[])
        self.bars_plot.addItem(self.bars)
        self._labels: list[str] = []
        self._probs = np.zeros(0)
        self.bars_plot.getViewBox().sigResized.connect(lambda *_: self._label_rows())
        self.tensor_info = QLabel()
        self.tensor_info.setWordWrap(True)
        self.tensor_info.setTextFormat(Qt.TextFormat.RichText)

        form = QFormLayout()
        row = QHBoxLayout()
        row.addWidget(self.score)
        row.addWidget(self.score_label)
        form.addRow("score ≥", row)
        checks = QHBoxLayout()
        for cb in self.checks.values():
            checks.addWidget(cb)
        content = QWidget()
        layout = QVBoxLayout(content)
        scroll = QScrollArea()   # the dock can be short: the controls and texts scroll, the chart stays whole
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        # side by side in a wide dock (the window's bottom dock), the chart under the texts in a narrow one
        self.body = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.addWidget(scroll, 3)
        self.body.addWidget(self.bars_plot, 2)
        self.legend = legend_label()   # beside the controls, not over the image (it hid objects there)
        # what only means something for a YOLO model: hidden (with the empty chart) for any other model
        self.yolo_widgets = QWidget()
        yl = QVBoxLayout(self.yolo_widgets)
        yl.setContentsMargins(0, 0, 0, 0)
        yl.addLayout(form)
        yl.addLayout(checks)
        yl.addWidget(self.legend)
        yl.addWidget(self.cell_info)
        yl.addWidget(self.tensor_info)
        layout.addWidget(self.summary)
        layout.addWidget(self.yolo_widgets)
        layout.addStretch(1)

        self.score.valueChanged.connect(lambda v: state.set_threshold(v / 100))
        state.thresholdChanged.connect(self._on_threshold)
        state.modelChanged.connect(self._on_model)
        state.resultReady.connect(self._on_result)
        state.add_overlay(self.overlay)
        if state.handle is not None:
            self._on_model(state.handle)
        else:
            self._on_overlay_change(self.overlay)
        if state.result is not None:
            self._on_result(state.result)

    def resizeEvent(self, event: QResizeEvent) -> None:
        wide = event.size().width() >= SIDE_BY_SIDE_W
        self.body.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)
        super().resizeEvent(event)

    # -- state -----------------------------------------------------------------------------------------------
    def _on_model(self, handle: "ModelHandle") -> None:
        o = self.overlay
        if handle.entry.preprocess == "yolo":
            from explorer.core.labels import class_names

            S, B, C, layout = Y.model_layout(handle.model)   # the model's documented S, B, C and output order
            o.set_model(S, B, C, layout, list(class_names(handle.entry.categories, C, background=False)))
        else:
            o.set_model(0, 0, 0)
        o.redraw()
        self._update_tensor_info()
        self._show_cell(None)
        self._on_overlay_change(o)

    def _on_result(self, result: "FrameResult") -> None:
        if self.overlay.S:
            self.overlay.set_result(result)
            self._show_cell(self.overlay.hover_cell)

    def _on_threshold(self, value: float) -> None:
        if self.score.value() != round(value * 100):
            self.score.blockSignals(True)
            self.score.setValue(round(value * 100))
            self.score.blockSignals(False)
        self.score_label.setText(num(value))
        self.overlay.set_threshold(value)
        self._on_overlay_change(self.overlay)

    def _apply(self, *_: Any) -> None:
        o = self.overlay
        for k, cb in self.checks.items():
            o.show[k] = cb.isChecked()
        o.redraw()
        self._on_overlay_change(o)

    # -- texts -----------------------------------------------------------------------------------------------
    def _on_overlay_change(self, o: YoloOverlay) -> None:
        self.yolo_widgets.setVisible(bool(o.S))
        if not o.S:
            self.bars_plot.setVisible(False)
        show_legend(self.legend, o)
        if not o.S:
            self.summary.setText("No YOLO model loaded: this panel draws a YOLOv1 model's S×S grid, its boxes and "
                                 "class map. Load yolov1 or yolov1-tiny (Model menu) to see them.")
            return
        if o.grid is None:
            self.summary.setText("Waiting for the model's output on an image…")
            return
        n = len(o.detections)
        self.summary.setText(
            f"{n} detection{'s' if n != 1 else ''} with score ≥ {num(o.threshold)} (Pr(class | object) × "
            f"confidence, then NMS per class at IoU {Y.DEFAULT_NMS_IOU:g}); a white cell holds a detection's "
            "centre: that cell predicted it.")

    def _show_cell(self, cell: tuple[int, int] | None) -> None:
        o = self.overlay
        if o.grid is None:
            self.cell_info.setText("Hover a cell of the grid.")
            self.bars.setOpts(x0=[], y=[], width=[], brushes=[])
            self.bars_plot.setVisible(False)
            return
        note = ""
        if cell is None:  # nothing hovered yet: show the most confident cell
            cell = divmod(int(np.argmax(o.grid.conf.max(axis=2))), o.S)
            note = "<i>Most confident cell shown; hover a cell to see its values.</i><br>"
        self.cell_info.setText(note + cell_text(o, cell))
        self.bars_plot.setVisible(True)
        probs = o.grid.probs[cell]
        n = len(probs)
        self.bars.setOpts(x0=np.zeros(n), y=np.arange(n), width=probs, height=0.8,
                          brushes=[pg.mkBrush(*class_colour(c)) for c in range(n)])
        self._labels, self._probs = [o.label(i) for i in range(n)], np.asarray(probs)
        self._label_rows()
        self.bars_plot.setYRange(-0.6, n - 0.4, padding=0)
        self.bars_plot.setXRange(0, max(1.0, float(probs.max())), padding=0)

    def _label_rows(self) -> None:
        """Name as many bars as the chart's height can hold without the names overlapping: every k-th class, and
        always the most probable one (its neighbours within k give way)."""
        n = len(self._labels)
        if not n:
            return
        axis = self.bars_plot.getAxis("left")
        line = QFontMetrics(axis.style.get("tickFont") or self.bars_plot.font()).height()
        row = self.bars_plot.getViewBox().height() / n
        step = max(1, math.ceil(line / row)) if row > 0 else 1
        top = int(np.argmax(self._probs)) if len(self._probs) == n else 0
        rows = sorted({i for i in range(0, n, step) if abs(i - top) >= step} | {top})
        axis.setTicks([[(i, self._labels[i]) for i in rows]])

    def _update_tensor_info(self) -> None:
        o = self.overlay
        if not o.S:
            self.tensor_info.setText("")
            return
        S, B, C = o.S, o.B, o.C
        d = B * 5 + C
        self.tensor_info.setText(
            f"<b>Output tensor S×S×(B·5+C) = {S}×{S}×({B}·5+{C}) = {S}×{S}×{d} = {S * S * d:,} numbers</b><br>"
            f"per cell [0:{B * 5}]: {B} boxes × (x, y, √w, √h, confidence) — x, y: centre within the cell (0..1); "
            f"w, h: relative to the image (the paper predicts their square roots); confidence = Pr(object)·IoU<br>"
            f"per cell [{B * 5}:{d}]: {C} class probabilities Pr(class | object), shared by the cell's boxes<br>"
            f"model output order ({o.layout}): {S * S * C} class probabilities, then {S * S * B} confidences, "
            f"then {S * S * B * 4} box values (cell = row·{S} + column)<br>"
            f"score of a box for class i = Pr(class i | object) × confidence<br>"
            "all are linear outputs (no sigmoid, as in the paper), shown raw: a little-trained model's may leave "
            "0..1 (marked “raw”); a box is drawn from them as they are, its w, h the squares of √w, √h")
