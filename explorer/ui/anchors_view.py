"""The RPN anchors panel and its overlay on the inference view (Faster R-CNN, Ren et al. NeurIPS 2015, §3.1).

The overlay draws, in source-frame pixels over the inference panel's ViewBox: the anchor-centre grid and the
anchor count; the k anchors of the hovered or clicked position (colour = size, line style = ratio, with a
legend) or one anchor shape at every position; the RPN's objectness as a heat map per anchor shape; the top-N
anchors moved by their deltas (arrows from anchor to proposal) and the proposals before and after NMS; and the
paper's training labels for a ground-truth box the user drags. All numbers come from explorer.core.anchors and
explorer.core.rpn; this module only draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QFrame, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QScrollArea, QSlider, QSpinBox, QVBoxLayout, QWidget)

from explorer.core import anchors as A
from explorer.ui.overlay_base import DockedOverlayMixin, OverlayBase, legend_label, show_legend

__all__ = ["AnchorsOverlay", "AnchorsPanel", "DockedOverlayMixin", "MODES", "rect_path", "arrow_path"]

MODES = [("position", "The anchors of one position (hover, click to pin)"),
         ("shape", "One anchor shape at every position"),
         ("objectness", "Objectness heat map (model's RPN)"),
         ("proposals", "Proposals: anchors + deltas, before/after NMS"),
         ("labels", "Training labels for a ground-truth box")]

SIZE_COLOURS = [(255, 70, 70), (60, 220, 60), (70, 150, 255), (255, 200, 0), (230, 90, 255), (0, 220, 220)]
RATIO_STYLES = [Qt.PenStyle.DashLine, Qt.PenStyle.SolidLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine,
                Qt.PenStyle.DashDotDotLine]
LABEL_COLOURS = {A.POSITIVE: (40, 230, 40), A.NEGATIVE: (255, 60, 60), A.IGNORED: (255, 170, 0)}


def ratio_text(ratio: float) -> str:
    return {0.5: "1:2", 1.0: "1:1", 2.0: "2:1"}.get(float(ratio), f"{ratio:g}")


def anchor_pen(size_index: int, ratio_index: int, width: float = 2.5, alpha: int = 255) -> Any:
    c = SIZE_COLOURS[size_index % len(SIZE_COLOURS)]
    pen = pg.mkPen((*c, alpha), width=width)
    pen.setStyle(RATIO_STYLES[ratio_index % len(RATIO_STYLES)])
    pen.setCosmetic(True)
    return pen


def _pen_rgb(pen: Any) -> tuple[int, int, int]:
    c = pen.color()
    return (c.red(), c.green(), c.blue())


def rect_path(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and connect arrays drawing every box as a closed outline in one PlotCurveItem."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x = np.stack([b[:, 0], b[:, 2], b[:, 2], b[:, 0], b[:, 0]], axis=1).reshape(-1)
    y = np.stack([b[:, 1], b[:, 1], b[:, 3], b[:, 3], b[:, 1]], axis=1).reshape(-1)
    connect = np.ones(len(x), dtype=bool)
    connect[4::5] = False  # no line from one box to the next
    return x, y, connect


def arrow_path(starts: np.ndarray, ends: np.ndarray, head: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (pairs) for arrows: a shaft and two head strokes each."""
    s, e = np.asarray(starts, float).reshape(-1, 2), np.asarray(ends, float).reshape(-1, 2)
    d = e - s
    length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)[:, None]
    u = d / length
    h = np.minimum(length * head, 12.0)
    n = np.stack([-u[:, 1], u[:, 0]], axis=1)
    left, right = e - u * h + n * h * 0.5, e - u * h - n * h * 0.5
    segs = np.stack([s, e, e, left, e, right], axis=1).reshape(-1, 2)
    return segs[:, 0], segs[:, 1]


class AnchorsOverlay(OverlayBase):
    """Graphics items over a ViewBox (source pixels, y down). Owns its items; the panel sets what to show.

    Without a model RPN's output (no Faster R-CNN loaded, or its first frame not run yet) it draws the
    configured anchors (the paper's defaults unless edited) over the image; objectness and proposals need
    the model's RPN."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "position"
        self.config = A.AnchorConfig()
        self.short_side = 600
        self.level = 0
        self.shape_index = 4            # 256 px, 1:1 by default
        self.position: int | None = None
        self._position_grid: Any = None  # the grid `position` indexes
        self.pinned = False
        self.image_size: tuple[int, int] | None = None   # (H, W) source pixels
        self.rpn: Any = None            # explorer.core.rpn.RPNOutput of the latest frame, or None
        self.params = dict(pre_nms_top_n=300, post_nms_top_n=50, nms_iou=0.7, score_thresh=0.0)
        self.arrows = 10
        self.gt_box: tuple[float, float, float, float] | None = None
        self.cross_boundary = False
        self.label_counts: dict[str, int] = {}
        self.proposals: Any = None
        self.on_change: Any = None      # callback(overlay) after a redraw (the panel updates its texts)
        self.model_has_rpn: bool | None = None   # None: no model loaded; the panel says which
        self.all_levels = True          # position mode on an FPN model: the anchors of every level at the point

        self.grid_dots = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(255, 255, 255, 150), pxMode=True)
        self.count_text = pg.TextItem(color=(255, 255, 255), fill=pg.mkBrush(0, 0, 0, 160), anchor=(0, 0))
        self.heat = pg.ImageItem()
        self.heat.setOpacity(0.55)
        self.heat.setLookupTable(pg.colormap.get("inferno").getLookupTable(0.0, 1.0, 256))
        self.shape_curve = pg.PlotCurveItem()
        self.centre_dot = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k"), brush=pg.mkBrush(255, 255, 255), pxMode=True)
        self.before_curve = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 0, 70), width=1))
        self.anchor_box_curve = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 230), width=1.5,
                                                              style=Qt.PenStyle.DashLine))
        self.top_curve = pg.PlotCurveItem(pen=pg.mkPen((0, 230, 255, 255), width=2))
        self.arrow_curve = pg.PlotCurveItem(pen=pg.mkPen((0, 230, 255, 255), width=2.5), connect="pairs")
        self.after_curve = pg.PlotCurveItem(pen=pg.mkPen((60, 255, 60, 255), width=2.5))
        self.show_before = True
        self.show_after = True
        self.label_dots = pg.ScatterPlotItem(size=5, pen=None, pxMode=True)
        self.label_ignored = pg.PlotCurveItem(pen=pg.mkPen((*LABEL_COLOURS[A.IGNORED], 220), width=1.5,
                                                           style=Qt.PenStyle.DashLine))
        self.label_positive = pg.PlotCurveItem(pen=pg.mkPen((*LABEL_COLOURS[A.POSITIVE], 255), width=2.5))
        self.gt_roi = pg.RectROI([0, 0], [10, 10], pen=pg.mkPen((255, 255, 255), width=3), movable=True)
        self.gt_roi.sigRegionChanged.connect(self._on_roi)
        self._aset_cache: dict[Any, A.AnchorSet] = {}
        self._aset_rpn: Any = None
        self._items = [self.heat, self.grid_dots, self.shape_curve, self.before_curve, self.after_curve,
                       self.anchor_box_curve, self.top_curve, self.arrow_curve, self.label_ignored, self.label_positive, self.label_dots,
                       self.centre_dot, self.count_text]
        for z, item in enumerate(self._items):
            item.setZValue(10 + z)
        self.gt_roi.setZValue(40)

    # -- overlay contract (attach/detach: OverlayBase) -------------------------------------------------------
    def _scene_slots(self) -> list[tuple[str, Any]]:
        return [("sigMouseMoved", self._on_mouse_moved), ("sigMouseClicked", self._on_mouse_clicked)]

    def _extra_items(self) -> list[Any]:
        return [*self._items, self.gt_roi]

    @property
    def anchor_curves(self) -> list[Any]:
        """The k anchor outlines of the shown position (one item each: colour and line style differ)."""
        return self._dynamic

    def set_result(self, result: Any) -> None:
        """A new FrameResult: its frame's size and, when the RPN probe ran, its RPN output."""
        img = getattr(getattr(result, "frame", None), "image", None)
        if img is not None:
            self.set_image_size(img.shape[:2], redraw=False)
        extras = getattr(result, "extras", None) or {}
        rpn = extras.get("rpn")
        self.rpn = rpn if hasattr(rpn, "levels") else None
        if self.rpn is not None and self.level >= len(self.rpn.levels):
            self.level = 0
        self.redraw()

    def set_image_size(self, size: tuple[int, int], redraw: bool = True) -> None:
        size = (int(size[0]), int(size[1]))
        if size != self.image_size:
            self.image_size = size
            if self.gt_box is None or not self._gt_inside():
                h, w = size
                self.gt_box = (w * 0.3, h * 0.3, w * 0.6, h * 0.7)
                self._place_roi()
        if redraw:
            self.redraw()

    # -- what is drawn ---------------------------------------------------------------------------------------
    def anchor_set(self, level: int | None = None) -> A.AnchorSet | None:
        """The anchors now shown: the model's RPN level when the probe ran, else the configured ones."""
        level = self.level if level is None else level
        if self.rpn is not self._aset_rpn:   # a new frame's RPN output: forget the old anchors
            self._aset_cache, self._aset_rpn = {}, self.rpn
        key = (level, self.config, self.image_size, self.short_side)
        if key in self._aset_cache:
            return self._aset_cache[key]   # hovering redraws often: a frame's anchors are computed once
        if self.rpn is not None:
            from explorer.core.rpn import level_anchor_set

            aset = level_anchor_set(self.rpn, level)
        elif self.image_size is None:
            return None
        else:
            aset = A.config_anchor_set(self.config, self.image_size, self.short_side)
        if len(self._aset_cache) > 16:
            self._aset_cache.clear()
        self._aset_cache[key] = aset
        return aset

    def redraw(self) -> None:
        if self.view_box is None:
            return
        for item in self._items:
            if item is not self.heat:
                item.setVisible(False)
        self.heat.setVisible(False)
        self.gt_roi.setVisible(False)
        self.clear_dynamic()
        self.legend_rows = []
        aset = self.anchor_set()
        if aset is None:
            if self.on_change is not None:
                self.on_change(self)
            return
        self._draw_grid(aset)
        if self.mode == "position":
            self._draw_position(aset)
        elif self.mode == "shape":
            self._draw_shape(aset)
        elif self.mode == "objectness":
            self._draw_objectness(aset)
        elif self.mode == "proposals":
            self._draw_proposals()
        elif self.mode == "labels":
            self._draw_labels(aset)
        if self.on_change is not None:
            self.on_change(self)

    def _draw_grid(self, aset: A.AnchorSet) -> None:
        dense = len(aset.centres) > 4000   # e.g. FPN level 0 (stride 4): small faint dots, not a texture
        self.grid_dots.setData(pos=aset.centres, size=2 if dense else 3,
                               brush=pg.mkBrush(255, 255, 255, 70 if dense else 150))
        self.grid_dots.setVisible(self.mode in ("position", "shape", "labels"))
        h, w = aset.feature_size
        src = "model RPN" if self.rpn is not None else f"configured anchors, stride {self.config.stride}"
        lvl = f" level {aset.level}" if self.rpn is not None and len(self.rpn.levels) > 1 else ""
        self.count_text.setText(f"{h}×{w}×{aset.k} = {aset.count:,} anchors ({src}{lvl})")
        self.count_text.setPos(0, 0)
        self.count_text.setVisible(True)

    def _draw_position(self, aset: A.AnchorSet) -> None:
        grid = (aset.feature_size, aset.centres[0].tolist() if len(aset.centres) else None)
        if self.position is None or self.position >= len(aset.centres) or grid != self._position_grid:
            # a position index means nothing on another grid (new model, stride or image): start at the centre
            self.position, self.pinned = self._centre_position(aset), False
        self._position_grid = grid
        centre = aset.centres[self.position]
        # (anchor set, position) pairs to draw: this level, or every FPN level's nearest position
        sets = [(aset, self.position)]
        if self.all_levels and self.rpn is not None and len(self.rpn.levels) > 1:
            sets = [(s, s.nearest_position(*centre)) for s in (self.anchor_set(i) for i in range(len(self.rpn.levels)))]
        sizes: list[float] = []
        for s, pos in sets:
            ns = len(s.sizes)
            for a, box in enumerate(s.at_position(pos)):
                size, _ = s.shape_of(a)
                if size not in sizes:
                    sizes.append(size)
                x, y, _ = rect_path(box[None])
                curve = pg.PlotCurveItem(x, y, pen=anchor_pen(sizes.index(size), a // ns))
                curve.setZValue(30)
                self.add_dynamic(curve)
        # colour = size, line style = ratio: sizes + ratios rows instead of one row per anchor
        rows = [(SIZE_COLOURS[i % len(SIZE_COLOURS)], Qt.PenStyle.SolidLine, f"{size:g} px")
                for i, size in enumerate(sizes)]
        for j, ratio in enumerate(aset.ratios):
            shape = " wide" if ratio < 1 else " tall" if ratio > 1 else " square"
            rows.append(((255, 255, 255), RATIO_STYLES[j % len(RATIO_STYLES)], f"h:w {ratio_text(ratio)}{shape}"))
        self.legend_rows = rows
        self.centre_dot.setData(pos=centre[None])
        self.centre_dot.setVisible(True)

    def _centre_position(self, aset: A.AnchorSet) -> int:
        if self.image_size is None:
            return 0
        h, w = self.image_size
        return aset.nearest_position(w / 2, h / 2)

    def _draw_shape(self, aset: A.AnchorSet) -> None:
        a = min(self.shape_index, aset.k - 1)
        ns = len(aset.sizes)
        boxes = aset.of_shape(a)
        fh, fw = aset.feature_size
        # Every position has this anchor; drawn all at once they overlap into a grid, so draw a tiling of
        # non-overlapping ones (every n-th position) that shows how the shape covers the image.
        c = aset.centres.reshape(fh, fw, 2)
        step_x = (c[0, 1, 0] - c[0, 0, 0]) if fw > 1 else 1.0
        step_y = (c[1, 0, 1] - c[0, 0, 1]) if fh > 1 else 1.0
        bw, bh = boxes[0, 2] - boxes[0, 0], boxes[0, 3] - boxes[0, 1]
        # a gap of a third of the box between neighbours, so each box reads as one box
        nx, ny = max(1, int(np.ceil(1.35 * bw / step_x))), max(1, int(np.ceil(1.35 * bh / step_y)))
        idx = np.arange(fh * fw).reshape(fh, fw)
        r0, c0 = (fh // 2) % ny, (fw // 2) % nx      # the tiling passes through the centre position
        drawn = idx[r0::ny, c0::nx].reshape(-1)
        tiled = boxes[drawn]
        self.centre_dot.setData(pos=aset.centres[drawn])
        self.centre_dot.setVisible(True)
        x, y, connect = rect_path(tiled)
        self.shape_curve.setData(x, y, connect=connect, pen=anchor_pen(a % ns, a // ns, width=2, alpha=230))
        self.shape_curve.setVisible(True)
        self.grid_dots.setVisible(True)
        size, ratio = aset.shape_of(a)
        self.legend_rows = [(SIZE_COLOURS[(a % ns) % len(SIZE_COLOURS)], RATIO_STYLES[(a // ns) % len(RATIO_STYLES)],
                             f"{size:g} px, h:w {ratio_text(ratio)}: at all {fh * fw:,} positions "
                             f"(every {nx}×{ny}-th drawn)")]

    def _draw_objectness(self, aset: A.AnchorSet) -> None:
        if aset.objectness is None:
            self.count_text.setText("Objectness needs a Faster R-CNN model (its RPN head scores the anchors)")
            return
        a = min(self.shape_index, aset.k - 1)
        prob = aset.objectness[a]                      # (H, W)
        fh, fw = aset.feature_size
        # cell (i, j) is centred on its anchor centre; ImageItem's axis 0 is x
        c = aset.centres.reshape(fh, fw, 2)
        sx = (c[0, 1, 0] - c[0, 0, 0]) if fw > 1 else (self.image_size[1] if self.image_size else 1)
        sy = (c[1, 0, 1] - c[0, 0, 1]) if fh > 1 else (self.image_size[0] if self.image_size else 1)
        # colour spans this map's own range (an untrained RPN scores everything near 0.5)
        lo, hi = float(prob.min()), float(prob.max())
        self.heat.setImage(prob.T, levels=(lo, max(hi, lo + 1e-6)), autoLevels=False)
        self.heat.setRect(QRectF(c[0, 0, 0] - sx / 2, c[0, 0, 1] - sy / 2, sx * fw, sy * fh))
        self.heat.setVisible(True)
        size, ratio = aset.shape_of(a)
        self.count_text.setText(f"objectness of anchor {size:g} px, h:w {ratio_text(ratio)} ({fh}×{fw}): "
                                f"dark {lo:.3f} → bright {hi:.3f}, mean {prob.mean():.3f}")

    def _draw_proposals(self) -> None:
        if self.rpn is None:
            self.count_text.setText("Proposals need a Faster R-CNN model (its RPN's deltas move the anchors)")
            self.count_text.setVisible(True)
            return
        p = self.rpn.select(**self.params)
        self.proposals = p
        order = np.argsort(-p.scores)
        before = self.rpn.to_source(p.boxes)
        after = self.rpn.to_source(p.after_boxes)
        top = order[: self.arrows]
        anchors_top = self.rpn.to_source(p.anchors[top])
        boxes_top = before[top]
        for curve, boxes in ((self.before_curve, before), (self.after_curve, after),
                             (self.anchor_box_curve, anchors_top), (self.top_curve, boxes_top)):
            x, y, c = rect_path(boxes)
            curve.setData(x, y, connect=c)
        ax, ay = arrow_path((anchors_top[:, :2] + anchors_top[:, 2:]) / 2, (boxes_top[:, :2] + boxes_top[:, 2:]) / 2)
        self.arrow_curve.setData(ax, ay, connect="pairs")
        self.before_curve.setVisible(self.show_before)
        self.after_curve.setVisible(self.show_after)
        for item in (self.anchor_box_curve, self.top_curve, self.arrow_curve):
            item.setVisible(len(top) > 0)
        self.count_text.setText(f"top {len(p.boxes)} anchors → {len(p.keep)} proposals after NMS "
                                f"(IoU {p.nms_iou:.2f}, score ≥ {p.score_thresh:.2f})")
        rows = [(self.anchor_box_curve, f"{len(top)} best anchors"),
                (self.arrow_curve, "deltas: anchor centre → proposal centre"),
                (self.top_curve, "their proposals")] if len(top) else []
        if self.show_before:
            rows.append((self.before_curve, f"all {len(p.boxes)} proposals before NMS"))
        if self.show_after:
            rows.append((self.after_curve, f"{len(p.keep)} after NMS"))
        self.legend_rows = [(_pen_rgb(curve.opts["pen"]), curve.opts["pen"].style(), text) for curve, text in rows]

    def _draw_labels(self, aset: A.AnchorSet) -> None:
        if self.gt_box is None:
            return
        self.gt_roi.setVisible(True)
        model_size = None
        if self.cross_boundary and self.image_size is not None:
            model_size = self.image_size   # in source pixels, as the anchors here
        res = A.label_anchors(aset.anchors, [self.gt_box], image_size=model_size)
        self.label_counts = res.counts
        k = aset.k
        lab = res.labels.reshape(-1, k)
        pos_colour = np.where((lab == A.POSITIVE).any(1), A.POSITIVE,
                              np.where((lab == A.IGNORED).any(1), A.IGNORED, A.NEGATIVE))
        brushes = [pg.mkBrush(*LABEL_COLOURS[int(v)], 120 if v == A.NEGATIVE else 255) for v in pos_colour]
        self.label_dots.setData(pos=aset.centres, brush=brushes)
        self.label_dots.setVisible(True)
        # the five ignored anchors closest to positive (drawing all of them hides the picture)
        ign = np.nonzero(res.labels == A.IGNORED)[0]
        ign = ign[np.argsort(-res.max_iou[ign])[:5]]
        x, y, c = rect_path(aset.anchors[ign])
        self.label_ignored.setData(x, y, connect=c)
        self.label_ignored.setVisible(True)
        x, y, c = rect_path(aset.anchors[res.labels == A.POSITIVE])
        self.label_positive.setData(x, y, connect=c)
        self.label_positive.setVisible(True)
        n = res.counts
        self.count_text.setText(f"positive {n['positive']:,} (IoU ≥ 0.7 or best)   ignored {n['ignored']:,}   "
                                f"negative {n['negative']:,} (IoU < 0.3)")
        self.legend_rows = [(LABEL_COLOURS[A.POSITIVE], Qt.PenStyle.SolidLine, "positive anchors"),
                            (LABEL_COLOURS[A.IGNORED], Qt.PenStyle.DashLine, "ignored (5 best drawn)"),
                            (LABEL_COLOURS[A.NEGATIVE], "square", "dot: position with only negative anchors")]

    # -- interaction -----------------------------------------------------------------------------------------
    def hover(self, x: float, y: float) -> None:
        """Point (x, y) in source pixels: show the anchors of the nearest position (unless pinned)."""
        if self.pinned or self.mode != "position":
            return
        aset = self.anchor_set()
        if aset is None:
            return
        pos = aset.nearest_position(x, y)
        if pos != self.position:
            self.position = pos
            self._position_grid = (aset.feature_size, aset.centres[0].tolist() if len(aset.centres) else None)
            if self.view_box is None:
                return
            self.clear_dynamic()   # only the position's anchors change: grid, count and legend stay
            self._draw_position(aset)
            if self.on_change is not None:
                self.on_change(self)

    def click(self, x: float, y: float) -> None:
        """Click: pin the nearest position (a second click releases it)."""
        if self.mode != "position":
            return
        if self.pinned:
            self.pinned = False
            self.hover(x, y)
            return
        self.pinned = False
        self.hover(x, y)
        self.pinned = True

    def _inside_view(self, scene_pos: Any) -> Any:
        vb = self.view_box
        if vb is None or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        return vb.mapSceneToView(scene_pos)

    def _on_mouse_moved(self, scene_pos: Any) -> None:
        p = self._inside_view(scene_pos)
        if p is not None:
            self.hover(p.x(), p.y())

    def _on_mouse_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        p = self._inside_view(event.scenePos())
        if p is not None:
            self.click(p.x(), p.y())

    def set_gt_box(self, box: tuple[float, float, float, float]) -> None:
        self.gt_box = tuple(float(v) for v in box)
        self._place_roi()
        self.redraw()

    def _place_roi(self) -> None:
        if self.gt_box is None:
            return
        x1, y1, x2, y2 = self.gt_box
        self.gt_roi.blockSignals(True)
        self.gt_roi.setPos((x1, y1))
        self.gt_roi.setSize((x2 - x1, y2 - y1))
        self.gt_roi.blockSignals(False)

    def _gt_inside(self) -> bool:
        if self.gt_box is None or self.image_size is None:
            return False
        h, w = self.image_size
        x1, y1, x2, y2 = self.gt_box
        return 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h

    def _on_roi(self, roi: Any) -> None:
        pos, size = roi.pos(), roi.size()
        self.gt_box = (pos.x(), pos.y(), pos.x() + size.x(), pos.y() + size.y())
        if self.mode == "labels":
            self.redraw()


def _slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    return s


class AnchorsPanel(DockedOverlayMixin, QWidget):
    """Dock panel: controls of the anchors overlay, the RPN head's tensor shapes, label counts."""

    def __init__(self, state: Any, window: Any = None) -> None:
        super().__init__()
        self.state, self.window = state, window
        self.overlay = AnchorsOverlay()
        self.overlay.on_change = self._update_texts
        self._target: Any = None         # the inference panel (or a ViewBox) the overlay is on
        self._probe_added = False
        self._defaults_applied = False

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
        self.pre_n = _slider(1, 2000, 300)
        self.post_n = _slider(1, 1000, 50)
        self.nms = _slider(0, 100, 70)
        self.score = _slider(0, 100, 0)
        self.arrows = _slider(0, 200, 10)
        self.show_before = QCheckBox("before NMS")
        self.show_before.setChecked(True)
        self.show_after = QCheckBox("after NMS")
        self.show_after.setChecked(True)
        self.cross = QCheckBox("ignore anchors crossing the image border (as in training)")
        self.all_levels = QCheckBox("all FPN levels at the point")
        self.all_levels.setChecked(True)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.legend = legend_label()   # beside the controls, not over the image (it hid objects there)
        self.tensors = QLabel()
        self.tensors.setWordWrap(True)
        self.tensors.setTextFormat(Qt.TextFormat.RichText)

        form = QFormLayout()
        form.addRow("Show", self.mode)
        form.addRow("FPN level", self.level)
        form.addRow("Anchor shape", self.shape)
        form.addRow("", self.all_levels)
        self.config_box = QGroupBox("Anchor settings (the paper's defaults; used when the model has no RPN)")
        cf = QFormLayout(self.config_box)
        cf.addRow("Convention", self.convention)
        cf.addRow("Sizes (px)", self.sizes)
        cf.addRow("Ratios (h/w)", self.ratios)
        cf.addRow("Stride", self.stride)
        cf.addRow("Input short side", self.short_side)
        self.proposals_box = props = QGroupBox("Proposals")
        pf = QFormLayout(props)
        self._slider_labels = {}
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
        layout.addWidget(self.legend)
        layout.addWidget(self.info)
        layout.addWidget(self.config_box)
        layout.addWidget(props)
        layout.addWidget(self.cross)
        layout.addWidget(QLabel("<b>RPN head tensors</b>"))
        layout.addWidget(self.tensors)
        layout.addStretch(1)

        self.mode.currentIndexChanged.connect(self._apply)
        self.convention.currentIndexChanged.connect(self._apply)
        self.sizes.editingFinished.connect(self._apply)
        self.ratios.editingFinished.connect(self._apply)
        self.stride.valueChanged.connect(self._apply)
        self.short_side.valueChanged.connect(self._apply)
        self.level.valueChanged.connect(self._apply)
        self.shape.currentIndexChanged.connect(self._apply)
        self.cross.toggled.connect(self._apply)
        self.all_levels.toggled.connect(self._apply)
        self.show_before.toggled.connect(self._apply)
        self.show_after.toggled.connect(self._apply)
        for s in (self.pre_n, self.post_n, self.nms, self.score, self.arrows):
            s.valueChanged.connect(self._apply)
        state.resultReady.connect(self._on_result)
        state.frameChanged.connect(self._on_frame)
        state.modelChanged.connect(self._on_model)
        self._fill_shapes()
        self._apply()

    # -- attaching to the inference view ---------------------------------------------------------------------
    def _after_attach(self) -> None:
        self._sync_probe()
        if self.state.result is not None:
            self.overlay.set_result(self.state.result)
        elif self.state.frame is not None:
            self.overlay.set_image_size(self.state.frame.image.shape[:2])

    def _before_detach(self, target: Any) -> None:
        if self._probe_added and hasattr(target, "remove_probe"):
            target.remove_probe("rpn")
        self._probe_added = False

    def _sync_probe(self) -> None:
        t = self._target
        if t is None or not hasattr(t, "add_probe"):
            return
        handle = self.state.handle
        model = getattr(handle, "model", None)
        has_rpn = model is not None and hasattr(getattr(model, "rpn", None), "head")
        if has_rpn:
            from explorer.core.rpn import RPNProbe

            t.add_probe(RPNProbe())   # its own proposals use the model's settings; the sliders redo them
            self._probe_added = True
        elif self._probe_added:
            t.remove_probe("rpn")
            self._probe_added = False


    # -- state -----------------------------------------------------------------------------------------------
    def _on_result(self, result: Any) -> None:
        self._ensure_attached()
        if self._target is not None:
            self.overlay.set_result(result)

    def _on_frame(self, frame: Any) -> None:
        if self._target is not None and frame is not None and self.overlay.rpn is None:
            self.overlay.set_image_size(frame.image.shape[:2])

    def _on_model(self, handle: Any) -> None:
        self.overlay.rpn = None
        self._defaults_applied = False
        model = getattr(handle, "model", None)
        # any model without an RPN (classifier, FCN, YOLO) gets the configured anchors over its image
        self.overlay.model_has_rpn = None if model is None else hasattr(getattr(model, "rpn", None), "head")
        self._ensure_attached()
        self._sync_probe()
        self.overlay.redraw()

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

    def _fill_shapes(self) -> None:
        aset = self.overlay.anchor_set()
        cfg = self.overlay.config
        sizes, ratios = (aset.sizes, aset.ratios) if aset is not None else (cfg.sizes, cfg.ratios)
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

    def _use_model_defaults(self, rpn: Any) -> None:
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

    def _update_texts(self, overlay: AnchorsOverlay) -> None:
        rpn = overlay.rpn
        model_mode = rpn is not None
        if model_mode and not self._defaults_applied:
            self._use_model_defaults(rpn)
            return
        for w in (self.convention, self.sizes, self.ratios, self.stride, self.short_side):
            w.setEnabled(not model_mode)
        self.config_box.setVisible(not model_mode)
        self.proposals_box.setVisible(overlay.mode == "proposals")
        self.shape.setEnabled(overlay.mode in ("shape", "objectness"))
        self.cross.setVisible(overlay.mode == "labels")
        multi = model_mode and len(rpn.levels) > 1
        self.level.setEnabled(multi)
        self.all_levels.setVisible(multi and overlay.mode == "position")
        if model_mode:
            self.level.blockSignals(True)
            self.level.setRange(0, len(rpn.levels) - 1)
            self.level.blockSignals(False)
            self._fill_shapes()
            rows = "".join(
                f"<tr><td>{lv.index}</td><td>{lv.feature_size[0]}×{lv.feature_size[1]}</td><td>{lv.stride[1]}</td>"
                f"<td>{'×'.join(map(str, lv.conv_shape))}</td><td>{'×'.join(map(str, lv.cls_shape))}</td>"
                f"<td>{'×'.join(map(str, lv.reg_shape))}</td></tr>" for lv in rpn.levels)
            k = rpn.levels[0].num_anchors
            self.tensors.setText(
                f"model input {rpn.image_size[1]}×{rpn.image_size[0]} (padded {rpn.padded_size[1]}×"
                f"{rpn.padded_size[0]}), k = {k} anchors per position<br>"
                "<table cellspacing=4><tr><th>level</th><th>map</th><th>stride</th><th>3×3 conv</th>"
                f"<th>cls (k)</th><th>reg (4k)</th></tr>{rows}</table>"
                f"cls: one sigmoid logit per anchor (torchvision); the paper's softmax has 2k = {2 * k} channels.")
        else:
            self.level.setRange(0, 0)
            self.tensors.setText("Load a Faster R-CNN model (fasterrcnn_vgg16, fasterrcnn-tiny, "
                                 "fasterrcnn_resnet50_fpn…) to see its RPN head's tensors.")
        show_legend(self.legend, overlay)
        aset = overlay.anchor_set()
        lines = []
        needs_rpn = overlay.mode in ("objectness", "proposals")
        if not model_mode:
            if overlay.model_has_rpn:
                lines.append("<i>Waiting for the model's RPN output (open an image or run a frame)…</i>")
            elif needs_rpn:
                what = "objectness" if overlay.mode == "objectness" else "proposals"
                lines.append(f"<b>The {what} view needs a Faster R-CNN model</b> (its RPN head scores and moves the anchors): "
                             "load fasterrcnn-tiny, fasterrcnn_vgg16 or fasterrcnn_resnet50_fpn. The anchor "
                             "position, shape and labels views work with any model.")
            else:
                what = "no RPN in this model" if overlay.model_has_rpn is False else "no model loaded"
                whose = "the paper's anchors" if overlay.config == A.AnchorConfig() else "the anchor settings below"
                where = "over the image" if overlay.image_size is not None else "(open an image to see them)"
                lines.append(f"<b>{what}: showing {whose} at stride {overlay.config.stride} {where}</b>")
        if aset is not None and not (needs_rpn and not model_mode):
            h, w = aset.feature_size
            lines.append(f"<b>{h}×{w} positions × {aset.k} anchors = {aset.count:,}</b>")
            if overlay.mode == "position" and overlay.position is not None and overlay.position < len(aset.centres):
                row, col = divmod(overlay.position, w)
                cx, cy = aset.centres[overlay.position]
                pin = " (pinned: click again to release)" if overlay.pinned else " (click to pin)"
                lines.append(f"position row {row}, column {col}; centre ({cx:.1f}, {cy:.1f}) px{pin}")
        if overlay.mode == "labels" and overlay.label_counts:
            n = overlay.label_counts
            lines.append(f"<span style='color:#28e628'>positive {n['positive']:,}</span> · "
                         f"<span style='color:#ffaa00'>ignored {n['ignored']:,}</span> · "
                         f"<span style='color:#ff3c3c'>negative {n['negative']:,}</span> — drag the white box")
        if overlay.mode == "proposals" and overlay.proposals is not None and model_mode:
            p = overlay.proposals
            lines.append(f"{len(p.boxes)} proposals before NMS, {len(p.keep)} after")
        self.info.setText("<br>".join(lines))
