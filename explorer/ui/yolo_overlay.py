"""The YOLO grid overlay over the image view (Redmon et al., YOLOv1, CVPR 2016, §2).

Over the image: the S×S grid; every cell's B predicted boxes with opacity by confidence; the cells tinted by
their most probable class (the paper's Figure 2 class-probability map); the cell that owns each detected object
(holds its centre) and the predicted centre; the hovered cell with its B boxes and their confidences.

The detections themselves (boxes and their 'label score' tags) are the image view's: the engine decodes the
same output (explorer.core.yolo.detect) and the image view draws every detection above the score threshold.
This overlay marks the cells that own them, and lays the hovered cell's tags out around the image view's tags
(the same label layout, so it knows where they are) instead of over them. Class colours are the image view's
box colours, so a class has one colour in the boxes, the tint and the bar chart; the highlights are white and
black, which no class colour is. Decoding is explorer.core.yolo; this module only draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QWidget

from explorer.core import yolo as Y
from explorer.core.label_layout import place_labels
from explorer.ui.curve_paths import rect_path
from explorer.ui.overlay_base import OverlayBase, ZoomWatch, view_pixel_size
from explorer.ui.result_overlays import box_colour

__all__ = ["HIGHLIGHT_RGB", "RAW_NOTE", "RAW_TAG", "YoloOverlay", "cell_text", "class_colour", "num",
           "outside_unit"]

HIGHLIGHT_RGB = (255, 255, 255)   # owner and hovered cells: white on a black halo, unlike any class colour
_HALO = (0, 0, 0, 200)


def class_colour(c: int) -> tuple[int, int, int]:
    """The colour of class `c`: the image view's box colour for it."""
    q = box_colour(int(c))
    return q.red(), q.green(), q.blue()


def num(value: float, digits: int = 2) -> str:
    """`value` with `digits` decimals, never "-0.00": a raw output of -0.001 reads as 0.00."""
    text = f"{float(value):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


# YOLOv1's last layer is linear (Redmon et al. 2016, §2.2: no sigmoid): x, y, √w, √h, the confidence and the
# class probabilities are regressed with squared errors, so a little-trained model's outputs may leave 0..1.
# They are shown as the model gives them, marked where they do (as the class probabilities are).
RAW_NOTE = "raw output: not bounded to 0–1"
RAW_TAG = " (raw)"   # the same, short, on a hovered box's tag over the image


def outside_unit(*values: float) -> bool:
    """Whether any of `values`, as printed (num), lies outside 0..1: -0.001 prints 0.00 and is not marked."""
    return any(not 0.0 <= float(num(v)) <= 1.0 for v in values)


def _pen(rgb: tuple[int, ...], width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> Any:
    pen = pg.mkPen(rgb, width=width)
    pen.setStyle(style)
    return pen


def _cell_boxes(cells: list[tuple[int, int]], S: int, w: float, h: float) -> np.ndarray:
    return np.array([(c * w / S, r * h / S, (c + 1) * w / S, (r + 1) * h / S) for r, c in cells],
                    dtype=np.float64).reshape(-1, 4)


class YoloOverlay(OverlayBase):
    """Graphics items over a ViewBox in source pixels; decodes FrameResult.raw with explorer.core.yolo."""

    def __init__(self, owner: QWidget | None = None) -> None:
        super().__init__(owner)
        self.S = self.B = self.C = 0
        self.layout = "darknet"
        self.labels: list[str] = []
        self.grid: Y.YoloGrid | None = None
        self.image_size: tuple[int, int] | None = None     # (H, W) source pixels
        self.threshold = 0.5            # the state's score threshold: the detections the image view draws
        self.detections: list[Any] = []  # results.Detection (or yolo.YoloDetection) with score ≥ threshold
        self._all_detections: list[Any] = []
        self.hover_cell: tuple[int, int] | None = None
        self.show = dict(grid=True, classes=True, boxes=True, owners=True)
        self.on_change: Callable[["YoloOverlay"], None] | None = None   # after a redraw
        self.on_hover: Callable[["YoloOverlay", Any], None] | None = None  # the hovered cell changed

        self.tint = pg.ImageItem(axisOrder="row-major")
        self.grid_lines = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 200), width=1.5), connect="pairs")
        n_bins = 10
        self.box_bins = [pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, int(25 + 230 * (i + 0.5) / n_bins)),
                                                       width=1 + 1.5 * i / n_bins)) for i in range(n_bins)]
        # a highlight is a white line on a wider black one: it reads over any tint and any photograph
        self.owner_halo = pg.PlotCurveItem(pen=_pen(_HALO, 6))
        self.owner_cells = pg.PlotCurveItem(pen=_pen(HIGHLIGHT_RGB, 3))
        self.owner_dots = pg.ScatterPlotItem(size=10, pen=pg.mkPen("k", width=2), brush=pg.mkBrush(*HIGHLIGHT_RGB),
                                             pxMode=True)
        self.hover_halo = pg.PlotCurveItem(pen=_pen(_HALO, 5))
        self.hover_rect = pg.PlotCurveItem(pen=_pen(HIGHLIGHT_RGB, 3, Qt.PenStyle.DashLine))
        self.hover_boxes = pg.PlotCurveItem(pen=_pen(HIGHLIGHT_RGB, 2, Qt.PenStyle.DotLine))
        self.hover_texts: list[Any] = []
        self._zoom = ZoomWatch(self._place_tags)  # tags keep their screen size: lay them out again on a zoom
        self._items = [self.tint, self.grid_lines, *self.box_bins, self.owner_halo, self.owner_cells,
                       self.owner_dots, self.hover_halo, self.hover_rect, self.hover_boxes]
        for z, item in enumerate(self._items):
            item.setZValue(10 + z)

    # -- overlay contract (attach/detach/clear: OverlayBase) -------------------------------------------------
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

    def clear(self) -> None:
        """A new model or source: the old frame's grid, detections and hovered cell go."""
        self.grid, self.detections, self._all_detections, self.hover_cell = None, [], [], None
        self.legend_rows = []
        super().clear()
        self._notify()

    def clear_dynamic(self) -> None:
        super().clear_dynamic()
        self.hover_texts = []

    # -- what to draw ----------------------------------------------------------------------------------------
    def set_model(self, S: int, B: int, C: int, layout: str = "darknet", labels: list[str] | None = None) -> None:
        self.S, self.B, self.C, self.layout = int(S), int(B), int(C), layout
        self.labels = list(labels) if labels else [str(i) for i in range(C)]
        self.grid, self.detections, self._all_detections, self.hover_cell = None, [], [], None

    def set_result(self, result: Any) -> None:
        """A FrameResult of a YOLO model: its raw output decoded over its frame, its detections."""
        img = result.frame.image
        self.image_size = (int(img.shape[0]), int(img.shape[1]))
        raw = result.raw
        self.grid = None
        if raw is not None and self.S and int(np.prod(raw.shape)) == self.S * self.S * (self.B * 5 + self.C):
            self.grid = Y.parse(raw, self.S, self.B, self.C, self.layout)
        self._all_detections = list(result.boxes or []) if self.grid is not None else []
        self._filter()
        self.redraw()

    def set_raw(self, raw: Any, image_size: tuple[int, int]) -> None:
        """Decode one raw output (darknet order or cells, as self.layout) over an H×W image, with its
        detections decoded as the engine decodes them (explorer.core.yolo.detect, default NMS)."""
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.grid = Y.parse(raw, self.S, self.B, self.C, self.layout)
        h, w = self.image_size
        self._all_detections = Y.detect(self.grid, w, h, 0.0, labels=self.labels)
        self._filter()
        self.redraw()

    def set_threshold(self, value: float) -> None:
        self.threshold = float(value)
        self._filter()
        self.redraw()

    def _filter(self) -> None:
        self.detections = [d for d in self._all_detections if d.score >= self.threshold]

    # -- drawing ---------------------------------------------------------------------------------------------
    def redraw(self) -> None:
        if self.view_box is None:
            return
        self.clear_dynamic()
        for item in self._items:
            item.setVisible(False)
        self.legend_rows = []
        if self.image_size is None or not self.S or self.grid is None:
            self._notify()
            return
        h, w = self.image_size
        g = self.grid
        if self.show["grid"]:
            xs, ys = Y.grid_lines(self.S, w, h)
            vx, vy = np.repeat(xs, 2), np.tile([0.0, h], self.S + 1)
            hx, hy = np.tile([0.0, w], self.S + 1), np.repeat(ys, 2)
            self.grid_lines.setData(np.concatenate([vx, hx]), np.concatenate([vy, hy]), connect="pairs")
            self.grid_lines.setVisible(True)
        if self.show["classes"]:
            self._draw_class_map(g, w, h)
        if self.show["boxes"]:
            boxes = g.boxes(w, h).reshape(-1, 4)
            conf = np.clip(g.conf.reshape(-1), 0.0, 1.0)
            bins = np.minimum((conf * len(self.box_bins)).astype(int), len(self.box_bins) - 1)
            for i, curve in enumerate(self.box_bins):
                sel = boxes[bins == i]
                if len(sel):
                    x, y, c = rect_path(sel)
                    curve.setData(x, y, connect=c)
                    curve.setVisible(True)
        if self.show["owners"] and self.detections:
            self._draw_owners(g, w, h)
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
        self.tint.setImage(rgba, levels=(0, 255), autoLevels=False)
        self.tint.setRect(QRectF(0, 0, w, h))
        self.tint.setVisible(True)
        counts = np.bincount(cls.reshape(-1), minlength=self.C)
        for c in np.argsort(-counts, kind="stable")[:6]:
            if counts[c] == 0:
                break
            self.legend_rows.append((class_colour(int(c)), "square", f"{self.label(int(c))} ({counts[c]} cells)"))
        rest = int((counts > 0).sum()) - 6
        if rest > 0:
            self.legend_rows.append(((128, 128, 128), "square", f"+ {rest} more classes"))

    def label(self, c: int) -> str:
        return self.labels[c] if c < len(self.labels) else str(c)

    def _draw_owners(self, g: Y.YoloGrid, w: float, h: float) -> None:
        """The cell that holds each detection's centre (it predicted the box, §2) and that predicted centre."""
        x, y, c = rect_path(_cell_boxes([tuple(d.cell) for d in self.detections], self.S, w, h))
        for item in (self.owner_halo, self.owner_cells):
            item.setData(x, y, connect=c)
            item.setVisible(True)
        full = g.boxes(w, h)   # unclipped: the predicted centre lies in the owner cell
        pts = [((full[d.cell][d.box_index][0] + full[d.cell][d.box_index][2]) / 2,
                (full[d.cell][d.box_index][1] + full[d.cell][d.box_index][3]) / 2) for d in self.detections]
        self.owner_dots.setData(pos=np.array(pts))
        self.owner_dots.setVisible(True)
        self.legend_rows.append((HIGHLIGHT_RGB, Qt.PenStyle.SolidLine, "cell owning a detection (its centre: dot)"))

    def _draw_hover(self, w: float, h: float) -> None:
        if self.hover_cell is None or self.grid is None:
            return
        row, col = self.hover_cell
        x, y, c = rect_path(_cell_boxes([(row, col)], self.S, w, h))
        for item in (self.hover_halo, self.hover_rect):
            item.setData(x, y, connect=c)
            item.setVisible(True)
        boxes = self.grid.boxes(w, h)[row, col]
        x, y, c = rect_path(boxes)
        self.hover_boxes.setData(x, y, connect=c)
        self.hover_boxes.setVisible(True)
        for b in range(self.B):
            conf = self.grid.conf[row, col, b]
            t = pg.TextItem(f"box {b} conf {num(conf)}{RAW_TAG if outside_unit(conf) else ''}", color=(0, 0, 0),
                            fill=pg.mkBrush(*HIGHLIGHT_RGB, 230), anchor=(0, 0))
            t.setZValue(32)
            self.hover_texts.append(self.add_dynamic(t))
        self._place_tags()
        self.legend_rows.append((HIGHLIGHT_RGB, Qt.PenStyle.DashLine, "hovered cell"))
        self.legend_rows.append((HIGHLIGHT_RGB, Qt.PenStyle.DotLine, f"its {self.B} boxes"))

    def _place_tags(self) -> None:
        """The hovered cell's tags where they hide neither each other nor the image view's detection tags.

        The image view places its tags with explorer.core.label_layout, best score first; laying out its tags
        (same texts, so same sizes) followed by these with lower scores puts its tags where it put them and
        these in the first free places around them."""
        if self.view_box is None or self.image_size is None or not self.hover_texts or self.grid is None:
            return
        self._zoom.laid_out()
        h, w = self.image_size
        px, py = view_pixel_size(self.view_box)
        dets = self.detections
        det_sizes = []
        for d in dets:   # the image view's tag of d, measured (explorer.ui.result_overlays.DetectionOverlay)
            r = pg.TextItem(f"{d.label} {d.score:.2f}", anchor=(0, 0)).boundingRect()
            det_sizes.append((r.width() * px, r.height() * py))
        row, col = self.hover_cell
        boxes = np.clip(self.grid.boxes(w, h)[row, col], 0, [w, h, w, h])
        tag_sizes = [(t.boundingRect().width() * px, t.boundingRect().height() * py) for t in self.hover_texts]
        places = place_labels([d.box for d in dets] + [tuple(b) for b in boxes], det_sizes + tag_sizes, (w, h),
                              [d.score for d in dets] + [-1.0 - b for b in range(len(boxes))])
        for t, pos in zip(self.hover_texts, places[len(dets):], strict=True):
            if pos is not None:
                t.setPos(*pos)
            t.setVisible(pos is not None)

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


def cell_text(overlay: YoloOverlay, cell: tuple[int, int] | None) -> str:
    """The cell's values as rich text: its B boxes (raw and decoded) and its most probable class."""
    g = overlay.grid
    if cell is None or g is None or overlay.image_size is None:
        return "Hover a cell of the grid."
    row, col = cell
    h, w = overlay.image_size
    S = overlay.S
    boxes = g.boxes(w, h)[row, col]
    raw = g.cells[row, col]
    lines = [f"<b>cell row {row}, column {col}</b> (cell index {row * S + col} = row·{S} + column)"]
    wh = "√w, √h" if g.sqrt else "w, h"
    for b in range(overlay.B):
        x, y, sw, sh, conf = raw[5 * b:5 * b + 5]
        bx = boxes[b]
        # x, y, √w, √h: raw regressions (a negative √w still gives w = its square); the box is drawn from them
        squared = "; w, h are their squares" if g.sqrt else ""
        coords = f" (raw regressions: not bounded to 0–1{squared})" if outside_unit(x, y, sw, sh) else ""
        conf_raw = f" ({RAW_NOTE})" if outside_unit(conf) else ""
        lines.append(f"box {b}: x {num(x)}, y {num(y)}, {wh} {num(sw)}, {num(sh)}{coords}, "
                     f"<b>confidence {num(conf)}</b>{conf_raw} "
                     f"→ ({num(bx[0], 0)}, {num(bx[1], 0)})–({num(bx[2], 0)}, {num(bx[3], 0)}) px")
    c = int(np.argmax(g.probs[row, col]))
    p = float(g.probs[row, col, c])
    # YOLOv1 regresses its class probabilities with a sum of squared errors, not a softmax: the raw outputs
    # may leave [0, 1] (the paper's Pr(class|object) is what they are trained towards)
    raw = f" ({RAW_NOTE})" if not 0.0 <= p <= 1.0 else ""
    lines.append(f"most probable class: {overlay.label(c)} ({num(p)}{raw}); class-specific score "
                 f"= Pr(class|object) × confidence = {num(g.class_scores()[row, col, :, c].max())} (best box)")
    return "<br>".join(lines)
