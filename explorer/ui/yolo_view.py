"""The YOLO grid panel and its overlay on the inference view (Redmon et al., YOLOv1, CVPR 2016, §2).

Over the image: the S×S grid; every cell's B predicted boxes with opacity by confidence; the cells tinted by
their most probable class (the paper's Figure 2 class-probability map) with a legend; the final detections
after the score threshold and NMS; the cell that owns each detected object (holds its centre) marked. Hover a
cell: its B boxes' values and a bar chart of its C class probabilities. A text explains the S×S×(B·5+C)
tensor for the current model. Decoding is explorer.core.yolo; this module only draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QFrame, QHBoxLayout, QLabel, QScrollArea, QSlider,
                               QVBoxLayout, QWidget)

from explorer.core import yolo as Y
from explorer.ui.anchors_view import rect_path
from explorer.ui.overlay_base import (DockedOverlayMixin, OverlayBase, ZoomWatch, legend_label, place_tags,
                                      show_legend)

# Twenty distinct colours (Sasha Trubetskoy's list), bright enough to read over photos.
PALETTE = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
           (170, 110, 40), (255, 250, 200), (128, 0, 0), (170, 255, 195), (128, 128, 0), (255, 215, 180),
           (0, 0, 128), (128, 128, 128)]


def class_colour(c: int) -> tuple[int, int, int]:
    return PALETTE[c % len(PALETTE)]


def _rect_path(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return rect_path(boxes)


class YoloOverlay(OverlayBase):
    """Graphics items over a ViewBox in source pixels; decodes FrameResult.raw with explorer.core.yolo."""

    def __init__(self) -> None:
        super().__init__()
        self.S = self.B = self.C = 0
        self.layout = "darknet"
        self.labels: list[str] = []
        self.grid: Y.YoloGrid | None = None
        self.image_size: tuple[int, int] | None = None     # (H, W) source pixels
        self.score_thresh = 0.2
        self.nms_iou = 0.5
        self.detections: list[Y.YoloDetection] = []
        self.hover_cell: tuple[int, int] | None = None
        self.show = dict(grid=True, classes=True, boxes=True, detections=True)
        self.on_change: Any = None    # callback(overlay) after a redraw
        self.on_hover: Any = None     # callback(overlay, cell) when the hovered cell changes

        self.tint = pg.ImageItem()
        self.grid_lines = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 200), width=1.5), connect="pairs")
        n_bins = 10
        self.box_bins = [pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, int(25 + 230 * (i + 0.5) / n_bins)),
                                                       width=1 + 1.5 * i / n_bins)) for i in range(n_bins)]
        self.owner_cells = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 0), width=3))
        self.owner_dots = pg.ScatterPlotItem(size=10, pen=pg.mkPen("k"), brush=pg.mkBrush(255, 255, 0), pxMode=True)
        self.hover_rect = pg.PlotCurveItem(pen=pg.mkPen((0, 255, 255), width=3))
        self.hover_boxes = pg.PlotCurveItem(pen=pg.mkPen((0, 255, 255), width=2, style=Qt.PenStyle.DashLine))
        self.det_curves: list[Any] = []
        self.det_texts: list[Any] = []
        self.hover_texts: list[Any] = []
        self._zoom = ZoomWatch(self._place_tags)  # tags keep their screen size: lay them out again on a zoom
        self._items = [self.tint, self.grid_lines, *self.box_bins, self.owner_cells, self.owner_dots,
                       self.hover_rect, self.hover_boxes]
        for z, item in enumerate(self._items):
            item.setZValue(10 + z)

    # -- overlay contract (attach/detach: OverlayBase) -------------------------------------------------------
    def _scene_slots(self) -> list[tuple[str, Any]]:
        return [("sigMouseMoved", self._on_mouse_moved)]

    def attach(self, view_box: Any) -> None:
        if self.view_box is view_box:
            return
        super().attach(view_box)
        self._zoom.watch(view_box)

    def detach(self) -> None:
        self._zoom.unwatch()
        super().detach()

    def set_model(self, S: int, B: int, C: int, layout: str = "darknet", labels: list[str] | None = None) -> None:
        self.S, self.B, self.C, self.layout = int(S), int(B), int(C), layout
        self.labels = list(labels) if labels else [str(i) for i in range(C)]
        self.grid = None

    def set_result(self, result: Any) -> None:
        """A FrameResult of a YOLO model: decode its raw output over its frame."""
        img = getattr(getattr(result, "frame", None), "image", None)
        if img is not None:
            self.image_size = (int(img.shape[0]), int(img.shape[1]))
        raw = getattr(result, "raw", None)
        self.grid = None
        if raw is not None and self.S and hasattr(raw, "shape"):
            n = self.S * self.S * (self.B * 5 + self.C)
            if int(np.prod(raw.shape)) == n:
                self.grid = Y.parse(raw, self.S, self.B, self.C, self.layout)
        self.redraw()

    def set_raw(self, raw: Any, image_size: tuple[int, int]) -> None:
        """Decode one raw output (darknet order or cells, as self.layout) over an H×W image."""
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.grid = Y.parse(raw, self.S, self.B, self.C, self.layout)
        self.redraw()

    # -- drawing ---------------------------------------------------------------------------------------------
    def clear_dynamic(self) -> None:
        super().clear_dynamic()
        self.det_curves, self.det_texts, self.hover_texts = [], [], []

    def redraw(self) -> None:
        if self.view_box is None:
            return
        self.clear_dynamic()
        for item in self._items:
            item.setVisible(False)
        self.legend_rows = []
        if self.image_size is None or not self.S:
            self._notify()
            return
        h, w = self.image_size
        S = self.S
        if self.show["grid"]:
            xs, ys = Y.grid_lines(S, w, h)
            vx = np.repeat(xs, 2)
            vy = np.tile([0.0, h], S + 1)
            hx = np.tile([0.0, w], S + 1)
            hy = np.repeat(ys, 2)
            self.grid_lines.setData(np.concatenate([vx, hx]), np.concatenate([vy, hy]), connect="pairs")
            self.grid_lines.setVisible(True)
        g = self.grid
        if g is None:
            self.detections = []
            self._notify()
            return
        if self.show["classes"]:
            self._draw_class_map(g, w, h)
        if self.show["boxes"]:
            boxes = g.boxes(w, h).reshape(-1, 4)
            conf = np.clip(g.conf.reshape(-1), 0.0, 1.0)
            bins = np.minimum((conf * len(self.box_bins)).astype(int), len(self.box_bins) - 1)
            for i, curve in enumerate(self.box_bins):
                sel = boxes[bins == i]
                if len(sel):
                    x, y, c = _rect_path(sel)
                    curve.setData(x, y, connect=c)
                    curve.setVisible(True)
        self.detections = Y.detect(g, w, h, self.score_thresh, self.nms_iou, self.labels)
        if self.show["detections"]:
            self._draw_detections(w, h)
        self._draw_hover(w, h)
        self._notify()

    def _notify(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def _draw_class_map(self, g: Y.YoloGrid, w: float, h: float) -> None:
        cls, prob = g.class_map()
        rgba = np.zeros((self.S, self.S, 4), dtype=np.uint8)
        for c in np.unique(cls):
            rgba[cls == c, :3] = class_colour(int(c))
        rgba[..., 3] = (70 + 110 * np.clip(prob, 0, 1)).astype(np.uint8)  # surer cells are more opaque
        self.tint.setImage(rgba.transpose(1, 0, 2), levels=(0, 255), autoLevels=False)  # ImageItem: axis 0 = x
        self.tint.setRect(QRectF(0, 0, w, h))
        self.tint.setVisible(True)
        counts = np.bincount(cls.reshape(-1), minlength=self.C)
        for c in np.argsort(-counts, kind="stable")[:6]:
            if counts[c] == 0:
                break
            self.legend_rows.append((class_colour(int(c)), "square", f"{self._label(int(c))} ({counts[c]} cells)"))
        rest = int((counts > 0).sum()) - 6
        if rest > 0:
            self.legend_rows.append(((128, 128, 128), "square", f"+ {rest} more classes"))

    def _label(self, c: int) -> str:
        return self.labels[c] if c < len(self.labels) else str(c)

    def _draw_detections(self, w: float, h: float) -> None:
        S = self.S
        cells = []
        centres = []
        for d in self.detections:
            colour = class_colour(d.class_index)
            x, y, c = _rect_path(np.array([d.box]))
            shadow = pg.PlotCurveItem(x, y, pen=pg.mkPen((0, 0, 0, 200), width=6.5))  # reads over its own tint
            shadow.setZValue(29)
            self.det_curves.append(self.add_dynamic(shadow))
            curve = pg.PlotCurveItem(x, y, pen=pg.mkPen(colour, width=3.5))
            curve.setZValue(30)
            text = pg.TextItem(f"{d.label} {d.score:.2f}", color=(255, 255, 255), fill=pg.mkBrush(*colour, 220),
                               anchor=(0, 0))   # placed below, by place_tags, so that no two overlap
            text.setZValue(31)
            self.det_curves.append(self.add_dynamic(curve))
            self.det_texts.append(self.add_dynamic(text))
            row, col = d.cell
            cells.append((col * w / S, row * h / S, (col + 1) * w / S, (row + 1) * h / S))
            centres.append(((d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2))
        self._place_tags()
        if cells:
            x, y, c = _rect_path(np.array(cells))
            self.owner_cells.setData(x, y, connect=c)
            self.owner_cells.setVisible(True)
            # the predicted centre (unclipped) lies in the owner cell
            g = self.grid
            full = g.boxes(w, h)
            pts = [((full[d.cell][d.box_index][0] + full[d.cell][d.box_index][2]) / 2,
                    (full[d.cell][d.box_index][1] + full[d.cell][d.box_index][3]) / 2) for d in self.detections]
            self.owner_dots.setData(pos=np.array(pts))
            self.owner_dots.setVisible(True)

    def _place_tags(self) -> None:
        """The detections' tags where no two overlap, for the view's zoom now (overlay_base.place_tags)."""
        if self.view_box is None or self.image_size is None or not self.det_texts:
            return
        self._zoom.laid_out()
        h, w = self.image_size
        place_tags(self.view_box, self.det_texts, [d.box for d in self.detections], [d.score for d in self.detections],
                   (w, h))

    def _draw_hover(self, w: float, h: float) -> None:
        if self.hover_cell is None or self.grid is None:
            return
        S = self.S
        row, col = self.hover_cell
        x, y, c = _rect_path(np.array([[col * w / S, row * h / S, (col + 1) * w / S, (row + 1) * h / S]]))
        self.hover_rect.setData(x, y, connect=c)
        self.hover_rect.setVisible(True)
        boxes = self.grid.boxes(w, h)[row, col]
        x, y, c = _rect_path(boxes)
        self.hover_boxes.setData(x, y, connect=c)
        self.hover_boxes.setVisible(True)
        for b, box in enumerate(boxes):
            t = pg.TextItem(f"box {b}: conf {self.grid.conf[row, col, b]:.2f}", color=(0, 0, 0),
                            fill=pg.mkBrush(0, 255, 255, 220), anchor=(0, 0))
            t.setPos(box[0], box[3] if b % 2 else box[1])
            t.setZValue(32)
            self.hover_texts.append(self.add_dynamic(t))

    # -- interaction -----------------------------------------------------------------------------------------
    def hover(self, x: float, y: float) -> None:
        if self.image_size is None or not self.S:
            return
        h, w = self.image_size
        cell = Y.cell_of(x, y, self.S, w, h)
        if cell != self.hover_cell:
            self.hover_cell = cell
            self.redraw()
            if self.on_hover is not None:
                self.on_hover(self, cell)

    def _on_mouse_moved(self, scene_pos: Any) -> None:
        vb = self.view_box
        if vb is None or not vb.sceneBoundingRect().contains(scene_pos):
            return
        p = vb.mapSceneToView(scene_pos)
        self.hover(p.x(), p.y())

    def cell_text(self, cell: tuple[int, int] | None) -> str:
        """The hovered cell's values: its B boxes (raw and decoded) and its best class."""
        g = self.grid
        if cell is None or g is None or self.image_size is None:
            return "Hover a cell of the grid."
        row, col = cell
        h, w = self.image_size
        boxes = g.boxes(w, h)[row, col]
        raw = g.cells[row, col]
        lines = [f"<b>cell row {row}, column {col}</b> (cell index {row * self.S + col} = row·{self.S} + column)"]
        wh = "√w, √h" if g.sqrt else "w, h"
        for b in range(self.B):
            x, y, sw, sh, conf = raw[5 * b:5 * b + 5]
            bx = boxes[b]
            lines.append(f"box {b}: x {x:.2f}, y {y:.2f}, {wh} {sw:.2f}, {sh:.2f}, <b>confidence {conf:.2f}</b> "
                         f"→ ({bx[0]:.0f}, {bx[1]:.0f})–({bx[2]:.0f}, {bx[3]:.0f}) px")
        c = int(np.argmax(g.probs[row, col]))
        lines.append(f"most probable class: {self._label(c)} ({g.probs[row, col, c]:.2f}); class-specific score "
                     f"= Pr(class|object) × confidence = {g.class_scores()[row, col, :, c].max():.2f} (best box)")
        return "<br>".join(lines)


def _slider(value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, 100)
    s.setValue(value)
    return s


class YoloPanel(DockedOverlayMixin, QWidget):
    """Dock panel: thresholds, what to draw, the hovered cell's values and class bar chart, the tensor layout."""

    def __init__(self, state: Any, window: Any = None) -> None:
        super().__init__()
        self.state, self.window = state, window
        self.overlay = YoloOverlay()
        self.overlay.on_change = self._on_overlay_change
        self.overlay.on_hover = lambda o, cell: self._show_cell(cell)
        self._target: Any = None

        self.score = _slider(20)
        self.nms = _slider(50)
        self.score_label, self.nms_label = QLabel(), QLabel()
        self.checks = {k: QCheckBox(t) for k, t in (("grid", "grid"), ("classes", "class map"),
                                                    ("boxes", "B boxes per cell"), ("detections", "detections"))}
        for cb in self.checks.values():
            cb.setChecked(True)
            cb.toggled.connect(self._apply)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.cell_info = QLabel("Hover a cell of the grid.")
        self.cell_info.setWordWrap(True)
        self.cell_info.setTextFormat(Qt.TextFormat.RichText)
        # horizontal bars: one row per class, its name on the left axis
        self.bars_plot = pg.PlotWidget()
        self.bars_plot.setMinimumHeight(160)
        self.bars_plot.setMouseEnabled(False, False)
        self.bars_plot.hideButtons()
        self.bars_plot.invertY(True)
        self.bars_plot.setLabel("bottom", "Pr(class | object) of the hovered cell")
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.8, brushes=[])
        self.bars_plot.addItem(self.bars)
        self.tensor_info = QLabel()
        self.tensor_info.setWordWrap(True)
        self.tensor_info.setTextFormat(Qt.TextFormat.RichText)

        form = QFormLayout()
        for name, slider, lab in (("score ≥", self.score, self.score_label), ("NMS IoU", self.nms, self.nms_label)):
            row = QHBoxLayout()
            row.addWidget(slider)
            row.addWidget(lab)
            form.addRow(name, row)
        checks = QHBoxLayout()
        for cb in self.checks.values():
            checks.addWidget(cb)
        content = QWidget()
        layout = QVBoxLayout(content)
        scroll = QScrollArea()   # the dock can be short: the controls scroll
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.legend = legend_label()   # beside the controls, not over the image (it hid objects there)
        # what only means something for a YOLO model: hidden (with the empty chart) for any other model
        self.yolo_widgets = QWidget()
        yl = QVBoxLayout(self.yolo_widgets)
        yl.setContentsMargins(0, 0, 0, 0)
        yl.addLayout(form)
        yl.addLayout(checks)
        yl.addWidget(self.legend)
        yl.addWidget(self.cell_info)
        yl.addWidget(self.bars_plot)
        yl.addWidget(self.tensor_info)
        layout.addWidget(self.summary)
        layout.addWidget(self.yolo_widgets)
        layout.addStretch(1)
        self.score.valueChanged.connect(self._apply)
        self.nms.valueChanged.connect(self._apply)
        state.resultReady.connect(self._on_result)
        state.modelChanged.connect(self._on_model)
        if state.handle is not None:
            self._on_model(state.handle)
        self._apply()

    # -- attaching -------------------------------------------------------------------------------------------
    def _after_attach(self) -> None:
        self._sync_builtin_boxes()
        if self.state.result is not None:
            self._on_result(self.state.result)

    def _before_detach(self, target: Any) -> None:
        self._sync_builtin_boxes(restore=True)

    def _sync_builtin_boxes(self, restore: bool = False) -> None:
        """While this panel draws a YOLO model's detections (with its own sliders), the inference panel's
        plain box overlay steps aside so that boxes are not drawn twice at two thresholds."""
        t = self._target
        builtin = getattr(t, "detections", None)
        if builtin is None or not hasattr(t, "add_overlay"):
            return
        if self.overlay.S and not restore:
            t.remove_overlay(builtin)
        else:
            t.add_overlay(builtin)


    # -- state -----------------------------------------------------------------------------------------------
    def set_model(self, model: Any, categories: str = "voc") -> None:
        """S, B, C and class names from a YOLO model of the project."""
        from explorer.core.labels import class_names

        S, B, C, layout = Y.model_layout(model)
        self.overlay.set_model(S, B, C, layout, class_names(categories, C, background=False))
        self._update_tensor_info()
        self._apply()

    def _on_model(self, handle: Any) -> None:
        model = getattr(handle, "model", None)
        if model is not None and hasattr(model, "S") and hasattr(model, "C"):
            self.set_model(model, getattr(getattr(handle, "entry", None), "categories", "voc"))
        else:
            self.overlay.set_model(0, 0, 0)
            self.overlay.redraw()
            self._update_tensor_info()
            self._show_cell(None)
        self._on_overlay_change(self.overlay)
        self._sync_builtin_boxes()

    def _on_result(self, result: Any) -> None:
        self._ensure_attached()
        if self._target is not None and self.overlay.S:
            self.overlay.set_result(result)
            self._show_cell(self.overlay.hover_cell)

    def _apply(self, *_: Any) -> None:
        o = self.overlay
        o.score_thresh = self.score.value() / 100
        o.nms_iou = self.nms.value() / 100
        self.score_label.setText(f"{o.score_thresh:.2f}")
        self.nms_label.setText(f"{o.nms_iou:.2f}")
        for k, cb in self.checks.items():
            o.show[k] = cb.isChecked()
        o.redraw()
        self._on_overlay_change(o)

    def _on_overlay_change(self, o: YoloOverlay) -> None:
        self.yolo_widgets.setVisible(bool(o.S))
        show_legend(self.legend, o)
        if not o.S:
            self.summary.setText("No YOLO model loaded: this panel draws a YOLOv1 model's S×S grid, its boxes and "
                                 "class map. Load yolov1 or yolov1-tiny (Model menu) to see them.")
            return
        n = len(o.detections)
        self.summary.setText(f"{n} detection{'s' if n != 1 else ''} after score ≥ {o.score_thresh:.2f} and "
                             f"NMS at IoU {o.nms_iou:.2f}; yellow cells own the detected objects' centres.")

    def _show_cell(self, cell: tuple[int, int] | None) -> None:
        o = self.overlay
        if o.grid is None:
            self.cell_info.setText("Hover a cell of the grid.")
            self.bars.setOpts(x0=[], y=[], width=[], brushes=[])
            self.bars_plot.setVisible(False)
            return
        note = ""
        if cell is None:  # nothing hovered yet: show the most confident cell
            flat = int(np.argmax(o.grid.conf.max(axis=2)))
            cell = divmod(flat, o.S)
            note = "<i>Most confident cell shown; hover a cell to see its values.</i><br>"
        self.cell_info.setText(note + o.cell_text(cell))
        self.bars_plot.setVisible(True)
        probs = o.grid.probs[cell]
        n = len(probs)
        self.bars.setOpts(x0=np.zeros(n), y=np.arange(n), width=probs, height=0.8,
                          brushes=[pg.mkBrush(*class_colour(c)) for c in range(n)])
        self.bars_plot.getAxis("left").setTicks([[(i, o._label(i)) for i in range(n)]])
        self.bars_plot.setYRange(-0.6, n - 0.4, padding=0)
        self.bars_plot.setXRange(0, max(1.0, float(probs.max())), padding=0)
        self.bars_plot.setMinimumHeight(max(160, 16 * n + 50))

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
            f"score of a box for class i = Pr(class i | object) × confidence")
