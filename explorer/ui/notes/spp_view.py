"""SPPNet view: a drawn region projected onto the feature map, its 4×4 / 2×2 / 1×1 pyramid and the 21·C vector."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from explorer.ui.notes.common import LEVEL_COLOURS, REGION_COLOUR, ImageBox, note_label, rect_item, viridis_lut
from explorer.ui.notes.region_base import RegionFeatureView

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState


class SppView(RegionFeatureView):
    TITLE = "SPPNet: one conv pass, a spatial pyramid per region"
    EXPLANATION = ("He et al., ECCV 2014. The convolutions run once over the whole image. Each region is "
                   "projected onto the feature map at the stride S (Appendix A: left/top = ⌊x/S⌋+1, "
                   "right/bottom = ⌈x/S⌉−1) and max-pooled into 4×4, 2×2 and 1×1 bins: (16+4+1)·C values "
                   "whatever the region's size, ready for the fully connected layers.")

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        self.result: Any = None
        self.region: Any = None
        super().__init__(state, bridge, parent)

    def build_outputs(self) -> None:
        row = QHBoxLayout()
        row.addWidget(QLabel("Projection:"))
        self.projection = QComboBox()
        self.projection.addItem("SPPNet (⌊x/S⌋+1, ⌈x/S⌉−1)", "spp")
        self.projection.addItem("round(x/S) (Fast R-CNN)", "round")
        self.projection.currentIndexChanged.connect(self.redraw)
        row.addWidget(self.projection)
        row.addStretch(1)
        self.outputs.addLayout(row)
        self.summary = note_label()
        self.outputs.addWidget(self.summary)
        levels = QHBoxLayout()
        self.level_boxes: dict[int, ImageBox] = {}
        for n in (4, 2, 1):
            col = QVBoxLayout()
            col.addWidget(QLabel(f"{n}×{n} level (pooled)"))
            box = ImageBox()
            box.setFixedSize(150, 150)
            self.level_boxes[n] = box
            col.addWidget(box)
            levels.addLayout(col)
        self.vector_plot = pg.PlotWidget(background="#202124")
        self.vector_plot.setLabel("bottom", "index in the fixed-length vector")
        self.vector_plot.setLabel("left", "pooled value")
        self.vector_plot.getAxis("left").enableAutoSIPrefix(False)
        self.vector_plot.setFixedHeight(175)
        levels.addWidget(self.vector_plot, 3)
        self.outputs.addLayout(levels)

    def update_pooling(self) -> None:
        from explorer.core.notes.spp import project_box, spatial_pyramid_pool, spp_length
        fm = self.fmap
        region = project_box(self.box, fm.stride, fm.size, self.projection.currentData())
        result = spatial_pyramid_pool(fm.features, region)
        self.region, self.result = region, result
        self.feature_caption.setText(f"Feature map {fm.size[1]}×{fm.size[0]} cells (stride {fm.stride}): region "
                                     f"cells x {region.x0}…{region.x1}, y {region.y0}…{region.y1}")
        fb = self.feature_box
        for level in result.levels:           # bin edges of each level, inside the region
            colour = LEVEL_COLOURS[level.n]
            width = {4: 1.2, 2: 2.2, 1: 3.0}[level.n]
            for i, (ys, ye) in enumerate(level.y_bins):
                for j, (xs, xe) in enumerate(level.x_bins):
                    if level.n == 1:
                        continue                  # the 1×1 bin is the region itself (red)
                    fb.add_overlay(rect_item(region.x0 + xs, region.y0 + ys, xe - xs, ye - ys, colour, width))
        fb.add_overlay(rect_item(region.x0, region.y0, region.width, region.height, REGION_COLOUR, 3))   # on top
        self.draw_cells_on_image(region.x0, region.y0, region.x1, region.y1, LEVEL_COLOURS[4])

        c = self.channel.value()
        planes = {lv.n: (lv.pooled.mean(0) if c < 0 else lv.pooled[min(c, lv.pooled.shape[0] - 1)]).numpy()
                  for lv in result.levels}
        lo = min(float(p.min()) for p in planes.values())   # one colour scale for the three levels
        hi = max(float(p.max()) for p in planes.values()) + 1e-6
        for n, plane in planes.items():
            self.level_boxes[n].set_image(plane, levels=(lo, hi), lut=viridis_lut())
        x1, y1, x2, y2 = self.box
        C = fm.channels
        self.summary.setText(
            f"<b>Region</b> {x2 - x1:.0f}×{y2 - y1:.0f} px → <b>{region.width}×{region.height}</b> feature cells. "
            f"<b>Fixed-length vector</b>: (4·4 + 2·2 + 1·1)·C = 21·{C} = <b>{result.length:,}</b> values "
            f"(= {spp_length(C):,} for any region). Yellow: 4×4 bins, cyan: 2×2 bins, red: the region = 1×1 bin; bins span [⌊i·a/n⌋, ⌈(i+1)·a/n⌉), so "
            f"neighbours may share a row or column of cells (double lines). Dashed on the image: the cells' "
            f"footprint.")
        v = result.vector.numpy()
        self.vector_plot.clear()
        self.vector_plot.plot(np.arange(v.size), v, pen=pg.mkPen("#8ab4f8", width=1))
        for edge, n in ((16 * C, 4), (20 * C, 2)):
            self.vector_plot.addItem(pg.InfiniteLine(edge, pen=pg.mkPen(LEVEL_COLOURS[n], width=2)))
