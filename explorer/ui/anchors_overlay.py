"""The RPN anchors overlay over the image view (Faster R-CNN, Ren et al. NeurIPS 2015, §3.1).

It draws, in source-frame pixels over the image view's ViewBox: the anchor-centre grid; the k anchors of the
hovered or clicked position (colour = size, line style = ratio) or one anchor shape at every position; the RPN's
objectness as a heat map per anchor shape; the top-N anchors moved by their deltas (arrows from anchor to
proposal) and the proposals before and after NMS; and the paper's training labels (§3.1.2) for a ground-truth
box the user drags, which starts on the image's own ground truth when it has one (the generated scenes).

A model with an RPN shows its own anchors only (explorer.core.rpn, from the probe's output): never the
configured ones while its first output is on its way. A model without one shows the configured anchors (the
paper's defaults unless edited). Texts go to `caption` and `legend_rows`, which the dock panel shows beside
its controls: over the image they were cut off at the view's edge and hid objects. Numbers come from
explorer.core.anchors and explorer.core.rpn; this module only draws.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QWidget

from explorer.core import anchors as A
from explorer.core.rpn import RPNOutput, level_anchor_set, level_map
from explorer.ui.curve_paths import arrow_path, rect_path
from explorer.ui.overlay_base import OverlayBase

__all__ = ["AnchorsOverlay", "LABEL_COLOURS", "MODES", "RATIO_STYLES", "SIZE_COLOURS", "anchor_pen",
           "ratio_text"]

MODES = [("position", "The anchors of one position (hover, click to pin)"),
         ("shape", "One anchor shape at every position"),
         ("objectness", "Objectness heat map (model's RPN)"),
         ("proposals", "Proposals: anchors + deltas, before/after NMS"),
         ("labels", "Training labels for a ground-truth box")]

SIZE_COLOURS = [(255, 70, 70), (60, 220, 60), (70, 150, 255), (255, 200, 0), (230, 90, 255), (0, 220, 220)]
RATIO_STYLES = [Qt.PenStyle.DashLine, Qt.PenStyle.SolidLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashDotLine,
                Qt.PenStyle.DashDotDotLine]
LABEL_COLOURS = {A.POSITIVE: (40, 230, 40), A.NEGATIVE: (255, 60, 60), A.IGNORED: (255, 170, 0)}
HEAT_MAP = pg.colormap.get("inferno")   # dark = least object-like anchor of the map, bright = most


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


class AnchorsOverlay(OverlayBase):
    """Graphics items over a ViewBox (source pixels, y down). Owns its items; the panel sets what to show."""

    def __init__(self, owner: QWidget | None = None) -> None:
        super().__init__(owner)
        self.mode = "position"
        self.config = A.AnchorConfig()
        self.short_side = 600
        self.level = 0
        self.shape_index = 4            # 256 px, 1:1 by default
        self.position: int | None = None
        self._position_grid: Any = None  # the grid `position` indexes
        self.pinned = False
        self.image_size: tuple[int, int] | None = None   # (H, W) source pixels
        self.image_path = ""            # the file the frame came from ("" for a stream): its ground truth
        self.rpn: RPNOutput | None = None   # the RPN output of the latest frame, or None
        self._rpn_frame: Any = None     # the frame `rpn` was computed on
        # None: no model; True: a model with an RPN (only its own anchors are drawn); False: configured anchors
        self.model_has_rpn: bool | None = None
        self.params = dict(pre_nms_top_n=300, post_nms_top_n=50, nms_iou=0.7, score_thresh=0.0)
        self.arrows = 10
        self.gt_box: tuple[float, float, float, float] | None = None
        self.gt_label = ""              # the ground-truth object the box started on ("" = none, or dragged)
        self.cross_boundary = False
        self.label_counts: dict[str, int] = {}
        self.proposals: Any = None
        self.caption = ""               # what the drawing shows, in words (the panel shows it)
        self.on_change: Callable[["AnchorsOverlay"], None] | None = None  # after a redraw: the panel's texts
        self.all_levels = True          # position mode on an FPN model: the anchors of every level at the point
        self.show_before = True
        self.show_after = True
        # (C, H, W) of the input the model's graph was captured with (the panel sets it): the graph's anchor
        # generator output is for that size, the count here for the frame's
        self.graph_input: tuple[int, ...] | None = None

        self.grid_dots = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(255, 255, 255, 150), pxMode=True)
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setOpacity(0.55)
        self.heat.setLookupTable(HEAT_MAP.getLookupTable(0.0, 1.0, 256))
        self.shape_curve = pg.PlotCurveItem()
        self.centre_dot = pg.ScatterPlotItem(size=9, pen=pg.mkPen("k"), brush=pg.mkBrush(255, 255, 255), pxMode=True)
        self.before_curve = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 0, 70), width=1))
        self.anchor_box_curve = pg.PlotCurveItem(pen=pg.mkPen((255, 255, 255, 230), width=1.5,
                                                              style=Qt.PenStyle.DashLine))
        self.top_curve = pg.PlotCurveItem(pen=pg.mkPen((0, 230, 255, 255), width=2))
        self.arrow_curve = pg.PlotCurveItem(pen=pg.mkPen((0, 230, 255, 255), width=2.5), connect="pairs")
        self.after_curve = pg.PlotCurveItem(pen=pg.mkPen((60, 255, 60, 255), width=2.5))
        self.label_dots = pg.ScatterPlotItem(size=5, pen=None, pxMode=True)
        self.label_ignored = pg.PlotCurveItem(pen=pg.mkPen((*LABEL_COLOURS[A.IGNORED], 220), width=1.5,
                                                           style=Qt.PenStyle.DashLine))
        self.label_positive = pg.PlotCurveItem(pen=pg.mkPen((*LABEL_COLOURS[A.POSITIVE], 255), width=2.5))
        self.gt_roi = pg.RectROI([0, 0], [10, 10], pen=pg.mkPen((255, 255, 255), width=3), movable=True)
        self.gt_roi.sigRegionChanged.connect(self._on_roi)
        self._aset_cache: dict[Any, A.AnchorSet] = {}
        self._aset_rpn: Any = None
        self._items = [self.heat, self.grid_dots, self.shape_curve, self.before_curve, self.after_curve,
                       self.anchor_box_curve, self.top_curve, self.arrow_curve, self.label_ignored,
                       self.label_positive, self.label_dots, self.centre_dot]
        for z, item in enumerate(self._items):
            item.setZValue(10 + z)
        self.gt_roi.setZValue(40)

    # -- overlay contract (attach/detach: OverlayBase) -------------------------------------------------------
    def _scene_slots(self) -> list[tuple[str, Any]]:
        return [("sigMouseMoved", self._on_mouse_moved), ("sigMouseClicked", self._on_mouse_clicked)]

    def _extra_items(self) -> list[Any]:
        return [*self._items, self.gt_roi]

    def clear(self) -> None:
        """A new model or source: what was computed on the old frame goes (its RPN output, its proposals, the
        ground-truth box and a pinned position); the next frame draws again."""
        self.rpn, self._rpn_frame, self.proposals = None, None, None
        self._aset_cache, self._aset_rpn = {}, None
        self.position, self.pinned, self._position_grid = None, False, None
        self.gt_box, self.gt_label, self.label_counts = None, "", {}
        self.caption, self.legend_rows = "", []
        super().clear()
        self.gt_roi.setVisible(False)
        self._notify()

    @property
    def anchor_curves(self) -> list[Any]:
        """The k anchor outlines of the shown position (one item each: colour and line style differ)."""
        return self._dynamic

    def set_result(self, result: Any) -> None:
        """A new FrameResult: its frame and, when the RPN probe ran on it, its RPN output."""
        self.set_frame(result.frame, redraw=False)
        rpn = result.extras.get("rpn")
        if isinstance(rpn, RPNOutput) or result.frame is not self._rpn_frame:
            # a result without the probe's output (the probe was just added) keeps that frame's output
            self.rpn = rpn if isinstance(rpn, RPNOutput) else None
            self._rpn_frame = result.frame
        if self.rpn is not None and self.level >= len(self.rpn.levels):
            self.level = 0
        self.redraw()

    def set_frame(self, frame: Any, redraw: bool = True) -> None:
        """The frame on screen: its size and the file it came from (whose ground truth the labels start on).
        Drawn again only when they changed (a stream's next frame of the same size changes nothing here)."""
        path = frame.source if frame.source and Path(frame.source).suffix else ""
        size = (int(frame.image.shape[0]), int(frame.image.shape[1]))
        changed = path != self.image_path or size != self.image_size
        if path != self.image_path:
            self.image_path = path
            self.gt_box = None      # another image: its own ground truth
        self.set_image_size(size, redraw=redraw and changed)

    def set_image_size(self, size: tuple[int, int], redraw: bool = True) -> None:
        self.image_size = (int(size[0]), int(size[1]))
        if self.gt_box is None or not self._gt_inside():
            self._start_gt()
        if redraw:
            self.redraw()

    # -- what is drawn ---------------------------------------------------------------------------------------
    def anchor_set(self, level: int | None = None) -> A.AnchorSet | None:
        """The anchors now shown: the model's RPN level when its output is here; the configured ones for a
        model without an RPN; None while a model's RPN output is on its way (its anchors are its own)."""
        level = self.level if level is None else level
        if self.rpn is not self._aset_rpn:   # a new frame's RPN output: forget the old anchors
            self._aset_cache, self._aset_rpn = {}, self.rpn
        key = (level, self.config, self.image_size, self.short_side)
        if key in self._aset_cache:
            return self._aset_cache[key]   # hovering redraws often: a frame's anchors are computed once
        if self.rpn is not None:
            aset = level_anchor_set(self.rpn, level)
        elif self.model_has_rpn or self.image_size is None:
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
            item.setVisible(False)
        self.gt_roi.setVisible(False)
        self.clear_dynamic()
        self.legend_rows = []
        self.caption = ""
        aset = self.anchor_set()
        if aset is not None:
            self._draw_grid(aset)
            draw = {"position": self._draw_position, "shape": self._draw_shape,
                    "objectness": self._draw_objectness, "proposals": lambda _a: self._draw_proposals(),
                    "labels": self._draw_labels}
            draw[self.mode](aset)
        self._notify()

    def _notify(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def _draw_grid(self, aset: A.AnchorSet) -> None:
        dense = len(aset.centres) > 4000   # e.g. FPN level 0 (stride 4): small faint dots, not a texture
        self.grid_dots.setData(pos=aset.centres, size=2 if dense else 3,
                               brush=pg.mkBrush(255, 255, 255, 70 if dense else 150))
        self.grid_dots.setVisible(self.mode in ("position", "shape", "labels", "objectness"))
        h, w = aset.feature_size
        src = "the model's RPN" if self.rpn is not None else f"configured anchors, stride {self.config.stride}"
        lvl = f", level {aset.level}" if self.rpn is not None and len(self.rpn.levels) > 1 else ""
        self.caption = f"{h}×{w}×{aset.k} = {aset.count:,} anchors ({src}{lvl}){self._input_note()}"

    def _input_note(self) -> str:
        """Which input the count is for: the frame's size after the model's transform (H×W). The graph's
        anchor generator shows its count for the graph's own input, which differs for another frame size."""
        if self.rpn is None:
            return ""
        h, w = self.rpn.image_size
        note = f" for this frame's {h}×{w} input"
        g = self.graph_input
        if g and len(g) >= 2 and self.image_size is not None and tuple(g[-2:]) != self.image_size:
            note += f"; the graph's shapes are for its {'×'.join(map(str, g))} input"
        return note

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
            sets = [(s, s.nearest_position(*centre))
                    for s in (self.anchor_set(i) for i in range(len(self.rpn.levels)))]
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
        self.centre_dot.setData(pos=aset.centres[drawn])
        self.centre_dot.setVisible(True)
        x, y, connect = rect_path(boxes[drawn])
        self.shape_curve.setData(x, y, connect=connect, pen=anchor_pen(a % ns, a // ns, width=2, alpha=230))
        self.shape_curve.setVisible(True)
        size, ratio = aset.shape_of(a)
        text = f"{size:g} px, h:w {ratio_text(ratio)}: at all {fh * fw:,} positions (every {ny}×{nx}-th drawn)"
        self.legend_rows = [(SIZE_COLOURS[(a % ns) % len(SIZE_COLOURS)], RATIO_STYLES[(a // ns) % len(RATIO_STYLES)],
                             text)]

    def _draw_objectness(self, aset: A.AnchorSet) -> None:
        if self.rpn is None or aset.objectness is None:
            self.caption = "Objectness needs a Faster R-CNN model (its RPN head scores the anchors)."
            self.grid_dots.setVisible(False)
            return
        a = min(self.shape_index, aset.k - 1)
        prob = aset.objectness[a]                      # (H, W) sigmoid of the cls logits
        # Each value drawn over its feature cell, whose top-left corner is its anchors' centre (torchvision),
        # cropped to the image: the map neither starts half a cell before the image nor covers the padding.
        heat = level_map(self.rpn, aset.level, prob)
        lo, hi = float(prob.min()), float(prob.max())  # this map's own range: an untrained RPN scores ~0.5
        self.heat.setImage(heat.values, levels=(lo, max(hi, lo + 1e-6)), autoLevels=False)
        self.heat.setRect(QRectF(*heat.rect))
        self.heat.setVisible(True)
        size, ratio = aset.shape_of(a)
        sy, sx = self.rpn.levels[aset.level].stride
        spread = (f"dark {lo:.3f} → bright {hi:.3f} (mean {prob.mean():.3f})" if hi - lo >= 5e-4 else
                  f"{lo:.3f} everywhere (an untrained RPN scores every anchor alike)")
        self.caption = (f"Objectness of the {size:g} px, h:w {ratio_text(ratio)} anchor at {heat.cells[0]}×"
                        f"{heat.cells[1]} positions: {spread}. "
                        f"Each square is one feature cell ({sy}×{sx} model pixels); its anchors are centred on "
                        "its top-left corner (the dots), where torchvision's AnchorGenerator puts them.")
        stops = ((0.0, f"{lo:.3f}"), (0.5, f"{(lo + hi) / 2:.3f}"), (1.0, f"{hi:.3f} objectness"))
        self.legend_rows = [(tuple(int(v) for v in HEAT_MAP.map(t, mode="byte")[:3]), "square", text)
                            for t, text in (stops if hi - lo >= 5e-4 else ((0.0, f"{lo:.3f} objectness"),))]

    def _draw_proposals(self) -> None:
        if self.rpn is None:
            self.caption = "Proposals need a Faster R-CNN model (its RPN's deltas move the anchors)."
            self.grid_dots.setVisible(False)
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
        self.caption = (f"Top {len(p.boxes)} anchors → {len(p.keep)} proposals after NMS "
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
        whose = f"the ground-truth {self.gt_label}" if self.gt_label else "the white box"
        self.caption = (f"Labels against {whose}: positive {n['positive']:,} (IoU ≥ 0.7 or the best), "
                        f"ignored {n['ignored']:,}, negative {n['negative']:,} (IoU < 0.3)")
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
            self.clear_dynamic()   # only the position's anchors change: grid, caption and legend stay
            self._draw_position(aset)
            self._notify()

    def click(self, x: float, y: float) -> None:
        """Click: pin the nearest position (a second click releases it)."""
        if self.mode != "position":
            return
        if self.pinned:
            self.pinned = False
            self.hover(x, y)
            return
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

    # -- the ground-truth box of the labels view -------------------------------------------------------------
    def set_gt_box(self, box: tuple[float, float, float, float], label: str = "") -> None:
        self.gt_box = tuple(float(v) for v in box)
        self.gt_label = label
        self._place_roi()
        self.redraw()

    def _start_gt(self) -> None:
        """The box starts on the image's largest ground-truth object (a generated scene says where its shapes
        are: explorer.core.scenes), else on a box in the middle of the image."""
        if self.image_size is None:
            return
        h, w = self.image_size
        objects = A.ground_truth_for(self.image_path) if self.image_path else []
        objects = [o for o in objects if o.box[2] <= w + 0.5 and o.box[3] <= h + 0.5]  # the JSON fits this image
        if objects:
            best = max(objects, key=lambda o: o.area)
            self.gt_box, self.gt_label = best.box, best.label
        else:
            self.gt_box, self.gt_label = (w * 0.3, h * 0.3, w * 0.6, h * 0.7), ""
        self._place_roi()

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
        self.gt_label = ""   # the user's own box now
        if self.mode == "labels":
            self.redraw()
