"""The RPN anchors dock (Faster R-CNN, Ren et al. NeurIPS 2015, §3.1): the controls of the anchors overlay
(explorer.ui.anchors_overlay), what it shows in words, and the RPN head's tensor shapes.

Built from the state and the session bridge alone. The overlay belongs to this panel: the image view's
OverlayHost puts it on the image while this dock's tab is in front and clears it when the model or the
source changes. The RPN probe (explorer.core.rpn.RPNProbe) is in the session's probe set only while the dock
can be seen and the model has an RPN: hooks only while the view is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QScrollArea, QSlider, QSpinBox, QVBoxLayout, QWidget)

from explorer.core import anchors as A
from explorer.core.rpn import has_rpn, model_anchor_shapes
from explorer.ui.anchors_overlay import MODES, AnchorsOverlay, ratio_text
from explorer.ui.overlay_base import DockVisibility, legend_label, show_legend

if TYPE_CHECKING:
    from explorer.core.opening import ModelHandle
    from explorer.core.results import Frame, FrameResult
    from explorer.core.rpn import RPNOutput
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

__all__ = ["AnchorsOverlay", "AnchorsPanel", "MODES", "PROBE_NAME"]

PROBE_NAME = "rpn"   # the probe's name: its output is FrameResult.extras["rpn"]


def _slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    return s


class AnchorsPanel(QWidget):
    """Dock panel: controls of the anchors overlay, its caption and legend, the RPN head's tensor shapes."""

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.bridge = state, bridge
        self.overlay = AnchorsOverlay(owner=self)
        self.overlay.on_change = self._update_texts
        self._probe_added = False
        self._defaults_applied = False
        self._loading = ""  # a model being opened: what is drawn is still the current model's until it comes
        # (sizes, ratios) per level of the model's anchor generator: the shapes named before its output comes
        self._model_shapes: list[tuple[tuple[float, ...], tuple[float, ...]]] = []

        self.mode = QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.convention = QComboBox()
        self.convention.addItems(list(A.CONVENTIONS))
        self.sizes = QLineEdit("128 256 512")
        self.ratios = QLineEdit("0.5 1 2")
        self.stride = QSpinBox()
        self.stride.setRange(1, 256)
        self.stride.setValue(16)
        self.short_side = QSpinBox()
        self.short_side.setRange(32, 4000)
        self.short_side.setValue(600)
        self.level = QSpinBox()
        self.level.setRange(0, 0)
        self.shape = QComboBox()
        for combo in (self.mode, self.shape):   # long item texts are elided: the dock can be narrow
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        self.pre_n = _slider(1, 2000, 300)
        self.post_n = _slider(1, 1000, 50)
        self.nms = _slider(0, 100, 70)
        self.score = _slider(0, 100, 0)
        self.arrows = _slider(0, 200, 10)
        self.show_before = QCheckBox("before NMS")
        self.show_before.setChecked(True)
        self.show_after = QCheckBox("after NMS")
        self.show_after.setChecked(True)
        # short, so that the dock fits a narrow column (the long form held it at 333 px); the why is the tooltip
        self.cross = QCheckBox("ignore border-crossing anchors")
        self.cross.setToolTip("As in training (Ren et al. 2015, §3.3): anchors that cross the image border are "
                              "ignored, so they are labelled neither positive nor negative.")
        self.all_levels = QCheckBox("all FPN levels at the point")
        self.all_levels.setChecked(True)
        self.caption = QLabel()          # what the overlay shows, in words: wraps, never cut off
        self.caption.setWordWrap(True)
        self.legend = legend_label()     # beside the controls, not over the image (it hid objects there)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.tensors = QLabel()
        self.tensors.setWordWrap(True)
        self.tensors.setTextFormat(Qt.TextFormat.RichText)

        form = QFormLayout()
        form.addRow("Show", self.mode)
        form.addRow("FPN level", self.level)
        form.addRow("Anchor shape", self.shape)
        form.addRow("", self.all_levels)
        self.config_box = QGroupBox("Anchor settings")   # a short title: a group box's title never wraps
        cf = QFormLayout(self.config_box)
        note = QLabel("The paper's defaults; used when the model has no RPN of its own.")
        note.setWordWrap(True)
        cf.addRow(note)
        cf.addRow("Convention", self.convention)
        cf.addRow("Sizes (px)", self.sizes)
        cf.addRow("Ratios (h/w)", self.ratios)
        cf.addRow("Stride", self.stride)
        cf.addRow("Input short side", self.short_side)
        self.proposals_box = QGroupBox("Proposals")
        pf = QFormLayout(self.proposals_box)
        self._slider_labels: dict[QSlider, QLabel] = {}
        for name, slider in (("pre-NMS top N", self.pre_n), ("post-NMS N", self.post_n), ("NMS IoU", self.nms),
                             ("score ≥", self.score), ("arrows", self.arrows)):
            row = QHBoxLayout()
            lab = QLabel()
            lab.setMinimumWidth(40)
            self._slider_labels[slider] = lab
            row.addWidget(slider)
            row.addWidget(lab)
            pf.addRow(name, row)
        checks = QHBoxLayout()
        checks.addWidget(self.show_before)
        checks.addWidget(self.show_after)
        pf.addRow("show", checks)
        content = QWidget()
        layout = QVBoxLayout(content)
        scroll = QScrollArea()   # the dock can be short: the controls scroll
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        layout.addLayout(form)
        layout.addWidget(self.caption)
        layout.addWidget(self.legend)
        layout.addWidget(self.info)
        layout.addWidget(self.config_box)
        layout.addWidget(self.proposals_box)
        layout.addWidget(self.cross)
        layout.addWidget(QLabel("<b>RPN head tensors</b>"))
        layout.addWidget(self.tensors)
        layout.addStretch(1)

        for combo in (self.mode, self.convention, self.shape):
            combo.currentIndexChanged.connect(self._apply)
        for edit in (self.sizes, self.ratios):
            edit.editingFinished.connect(self._apply)
        for spin in (self.stride, self.short_side, self.level):
            spin.valueChanged.connect(self._apply)
        for check in (self.cross, self.all_levels, self.show_before, self.show_after):
            check.toggled.connect(self._apply)
        for s in (self.pre_n, self.post_n, self.nms, self.score, self.arrows):
            s.valueChanged.connect(self._apply)

        self.visibility = DockVisibility(self)   # the probe runs only while this dock can be seen
        self.visibility.changed.connect(lambda _shown: self._sync_probe())
        state.modelChanged.connect(self._on_model)
        state.modelLoading.connect(self._on_loading)
        state.modelFailed.connect(lambda _message: self._on_loading(""))
        state.resultReady.connect(self._on_result)
        state.frameChanged.connect(self._on_frame)
        state.graphChanged.connect(self._on_graph)
        bridge.closing.connect(self._remove_probe)
        state.add_overlay(self.overlay)
        self.overlay.graph_input = self._graph_input(state.graph)
        if state.handle is not None:
            self._on_model(state.handle)
        if state.result is not None:
            self.overlay.set_result(state.result)
        elif state.frame is not None:
            self.overlay.set_frame(state.frame)
        self._fill_shapes()
        self._apply()

    # -- the probe: only while the dock can be seen and the model has an RPN ----------------------------------
    def _sync_probe(self) -> None:
        want = self.visibility.shown and bool(self.overlay.model_has_rpn)
        if want and not self._probe_added:
            from explorer.core.rpn import RPNProbe

            # its own proposals use the model's settings; the sliders redo the selection without the model
            self.bridge.add_probe(RPNProbe(PROBE_NAME))   # and the frame on screen runs again with it
            self._probe_added = True
        elif not want:
            self._remove_probe()

    def _remove_probe(self) -> None:
        if self._probe_added:
            self.bridge.remove_probe(PROBE_NAME)
            self._probe_added = False

    # -- state -----------------------------------------------------------------------------------------------
    def _on_loading(self, name: str) -> None:
        """New-user trial: while fasterrcnn_resnet50_fpn loaded (15 s), the previous model's configured anchors
        read as the detector's own. The dock says whose anchors these are until the new model is in."""
        self._loading = name
        self._update_texts(self.overlay)

    def _on_model(self, handle: "ModelHandle") -> None:
        self._loading = ""
        o = self.overlay
        o.rpn = None
        self._defaults_applied = False
        # a model without an RPN (classifier, FCN, YOLO) gets the configured anchors over its image; one with
        # an RPN only its own, named from its anchor generator until its first output comes
        # (whether a detector has one is not in its zoo entry: core.rpn reads torchvision's documented layout)
        o.model_has_rpn = handle.task == "detection" and has_rpn(handle.model)
        self._model_shapes = model_anchor_shapes(handle.model) if o.model_has_rpn else []
        self._sync_probe()
        self._fill_shapes()
        o.redraw()
        self._update_texts(o)

    @staticmethod
    def _graph_input(graph: Any) -> tuple[int, ...] | None:
        shape = getattr(graph, "input_shape", None)
        return tuple(int(v) for v in shape) if shape else None

    def _on_graph(self, graph: Any) -> None:
        """The graph's input size: the caption says when its anchor count is for another size than the frame's."""
        graph_input = self._graph_input(graph)
        if graph_input != self.overlay.graph_input:
            self.overlay.graph_input = graph_input
            self.overlay.redraw()

    def _on_result(self, result: "FrameResult") -> None:
        self.overlay.set_result(result)

    def _on_frame(self, frame: "Frame") -> None:
        self.overlay.set_frame(frame)   # draws again only for another image (its size, its ground truth)

    def _params(self) -> dict[str, Any]:
        return dict(pre_nms_top_n=self.pre_n.value(), post_nms_top_n=self.post_n.value(),
                    nms_iou=self.nms.value() / 100, score_thresh=self.score.value() / 100)

    def _apply(self, *_: Any) -> None:
        o = self.overlay
        o.mode = self.mode.currentData()
        try:
            sizes = tuple(float(v) for v in self.sizes.text().replace(",", " ").split())
            ratios = tuple(float(v) for v in self.ratios.text().replace(",", " ").split())
            cfg = A.AnchorConfig(sizes, ratios, self.stride.value(), self.convention.currentText())
        except (ValueError, A.ExplorerError) as exc:
            msg = str(exc) if isinstance(exc, A.ExplorerError) else "sizes and ratios must be numbers"
            self.state.show_error(msg)
        else:
            if cfg != o.config:
                o.config = cfg
                o.position = None
                self._fill_shapes()
        o.short_side = self.short_side.value()
        o.level = self.level.value()
        if self.shape.currentIndex() >= 0:
            o.shape_index = self.shape.currentIndex()
        o.cross_boundary = self.cross.isChecked()
        o.all_levels = self.all_levels.isChecked()
        o.params = self._params()
        o.arrows = self.arrows.value()
        o.show_before, o.show_after = self.show_before.isChecked(), self.show_after.isChecked()
        for s, lab in self._slider_labels.items():
            lab.setText(f"{s.value() / 100:.2f}" if s in (self.nms, self.score) else str(s.value()))
        o.redraw()
        self._update_texts(o)

    def _shapes_now(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The anchor shapes of the level shown: the RPN output's, else the model's anchor generator's, else
        the configured ones."""
        o = self.overlay
        aset = o.anchor_set()
        if aset is not None:
            return aset.sizes, aset.ratios
        if self._model_shapes:
            return self._model_shapes[min(o.level, len(self._model_shapes) - 1)]
        return o.config.sizes, o.config.ratios

    def _fill_shapes(self) -> None:
        sizes, ratios = self._shapes_now()
        names = [f"{sizes[a % len(sizes)]:g} px, h:w {ratio_text(ratios[a // len(sizes)])}"
                 for a in range(len(sizes) * len(ratios))]
        current = [self.shape.itemText(i) for i in range(self.shape.count())]
        if names != current:
            keep = min(self.overlay.shape_index, len(names) - 1)
            self.shape.blockSignals(True)
            self.shape.clear()
            self.shape.addItems(names)
            self.shape.setCurrentIndex(keep)
            self.shape.blockSignals(False)
            self.overlay.shape_index = keep

    def _use_model_defaults(self, rpn: "RPNOutput") -> None:
        """Start the proposal sliders at the model's own test-time settings (once per model)."""
        d = rpn.defaults
        self._defaults_applied = True
        for slider, value in ((self.pre_n, d.get("pre_nms_top_n")), (self.post_n, d.get("post_nms_top_n")),
                              (self.nms, None if d.get("nms_iou") is None else round(100 * d["nms_iou"])),
                              (self.score, None if d.get("score_thresh") is None else round(100 * d["score_thresh"]))):
            if value is None:
                continue
            slider.blockSignals(True)
            slider.setMaximum(max(slider.maximum(), int(value)))
            slider.setValue(int(value))
            slider.blockSignals(False)
        self._apply()

    # -- texts -----------------------------------------------------------------------------------------------
    def _update_texts(self, overlay: AnchorsOverlay) -> None:
        rpn = overlay.rpn
        if rpn is not None and not self._defaults_applied:
            self._use_model_defaults(rpn)
            return
        own_anchors = bool(overlay.model_has_rpn)
        self.config_box.setVisible(not own_anchors)
        self.proposals_box.setVisible(overlay.mode == "proposals")
        self.shape.setEnabled(overlay.mode in ("shape", "objectness"))
        self.cross.setVisible(overlay.mode == "labels")
        levels = len(rpn.levels) if rpn is not None else len(self._model_shapes)
        self.level.setEnabled(levels > 1)
        self.all_levels.setVisible(levels > 1 and overlay.mode == "position")
        self.level.blockSignals(True)
        self.level.setRange(0, max(0, levels - 1))
        self.level.blockSignals(False)
        self._fill_shapes()
        self.tensors.setText(self._tensor_text(rpn, own_anchors))
        self.caption.setText(overlay.caption)
        self.caption.setVisible(bool(overlay.caption))
        show_legend(self.legend, overlay)
        self.info.setText("<br>".join(self._info_lines(overlay)))

    def _info_lines(self, overlay: AnchorsOverlay) -> list[str]:
        rpn = overlay.rpn
        lines = []
        current = self.state.handle
        if self._loading and (current is None or current.name != self._loading):
            what = f"those of {current.name}, the model still running" if current is not None else "none yet"
            lines.append(f"<i>Loading {self._loading}… the anchors drawn are {what}.</i>")
        needs_rpn = overlay.mode in ("objectness", "proposals")
        if rpn is None:
            if overlay.model_has_rpn:
                what = "open an image" if overlay.image_size is None else "its RPN runs on the image"
                lines.append(f"<i>Computing the model's own anchors ({what})…</i>")
            elif needs_rpn:
                what = "objectness" if overlay.mode == "objectness" else "proposals"
                lines.append(f"<b>The {what} view needs a Faster R-CNN model</b> (its RPN head scores and moves the "
                             "anchors): load fasterrcnn-tiny, fasterrcnn_vgg16 or fasterrcnn_resnet50_fpn. The "
                             "anchor position, shape and labels views work with any model.")
            else:
                what = "no RPN in this model" if overlay.model_has_rpn is False else "no model loaded"
                whose = "the paper's anchors" if overlay.config == A.AnchorConfig() else "the anchor settings below"
                where = "over the image" if overlay.image_size is not None else "(open an image to see them)"
                lines.append(f"<b>{what}: showing {whose} at stride {overlay.config.stride} {where}</b>")
        aset = overlay.anchor_set()
        if overlay.mode == "position" and aset is not None and overlay.position is not None \
                and overlay.position < len(aset.centres):
            row, col = divmod(overlay.position, aset.feature_size[1])
            cx, cy = aset.centres[overlay.position]
            pin = " (pinned: click again to release)" if overlay.pinned else " (click to pin)"
            lines.append(f"position row {row}, column {col}; centre ({cx:.1f}, {cy:.1f}) px{pin}")
        if overlay.mode == "labels" and overlay.label_counts:
            start = (f"it started on the image's ground truth ({overlay.gt_label})" if overlay.gt_label
                     else "drag it onto an object")
            lines.append(f"Drag or resize the white box: the labels follow; {start}.")
        return lines

    @staticmethod
    def _tensor_text(rpn: "RPNOutput | None", model_has_rpn: bool) -> str:
        """The RPN head's tensors; every size H×W (C×H×W), as the graph and the rest of the app write them."""
        if rpn is None and model_has_rpn:
            return "The head's tensors come with the model's first result on an image."
        if rpn is None:
            return ("Load a Faster R-CNN model (fasterrcnn_vgg16, fasterrcnn-tiny, fasterrcnn_resnet50_fpn…) to "
                    "see its RPN head's tensors.")

        def stride(lv: Any) -> str:
            sy, sx = lv.stride
            return f"{sx}" if sx == sy else f"{sy}×{sx}"

        rows = "".join(
            f"<tr><td>{lv.index}</td><td>{lv.feature_size[0]}×{lv.feature_size[1]}</td><td>{stride(lv)}</td>"
            f"<td>{'×'.join(map(str, lv.conv_shape))}</td><td>{'×'.join(map(str, lv.cls_shape))}</td>"
            f"<td>{'×'.join(map(str, lv.reg_shape))}</td></tr>" for lv in rpn.levels)
        k = rpn.levels[0].num_anchors
        (h, w), (ph, pw) = rpn.image_size, rpn.padded_size
        # the model's transform resizes the frame, then pads it to a multiple of 32 (GeneralizedRCNNTransform)
        padded = f", padded to {ph}×{pw}" if (ph, pw) != (h, w) else ""
        return (f"model input {h}×{w} (H×W){padded}, k = {k} anchors per position<br>"
                "<table cellspacing=4><tr>" + "".join(  # headers aligned as their values (a <th> centres)
                    f"<th align=left>{h}</th>" for h in ("level", "map", "stride", "3×3 conv", "cls (k)", "reg (4k)"))
                + f"</tr>{rows}</table>"
                f"cls: one sigmoid logit per anchor (torchvision); the paper's softmax has 2k = {2 * k} channels.")
