"""Fast R-CNN view: the region projected with a 7×7 RoI pooling grid, the pooled 7×7 output (torchvision.ops.roi_pool)
and the number of CNN passes compared with R-CNN and SPPNet."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from explorer.ui.notes.common import GRID_COLOUR, REGION_COLOUR, ImageBox, note_label, rect_item, viridis_lut
from explorer.ui.notes.region_base import RegionFeatureView

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState


REGIONS_RANGE = (1, 100_000)   # regions per image for the CNN-passes comparison


class RoiView(RegionFeatureView):
    TITLE = "Fast R-CNN: RoI pooling on the shared feature map"
    EXPLANATION = ("Girshick, ICCV 2015. Like SPPNet, the convolutions run once per image; each region of interest "
                   "is projected onto the feature map (round(x/S), as torchvision.ops.roi_pool does) and split "
                   "into a 7×7 grid of bins, each max-pooled: a 7×7×C output for the fully connected heads.")

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        self.pooled: Any = None
        self.grid: Any = None
        super().__init__(state, bridge, parent)

    def build_outputs(self) -> None:
        self.summary = note_label()
        self.outputs.addWidget(self.summary)
        row = QHBoxLayout()
        col = QVBoxLayout()
        self.pooled_caption = QLabel("Pooled 7×7 output (torchvision.ops.roi_pool)")
        col.addWidget(self.pooled_caption)
        self.pooled_box = ImageBox()
        self.pooled_box.setFixedSize(210, 210)
        col.addWidget(self.pooled_box)
        row.addLayout(col, 1)
        self.table = QTableWidget(7, 7)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setFixedHeight(235)
        row.addWidget(self.table, 2)
        passes = QVBoxLayout()
        line = QHBoxLayout()
        self.regions = QSpinBox()
        self.regions.setRange(*REGIONS_RANGE)
        lo, hi = REGIONS_RANGE
        # a spin box clamps what is typed silently (0 goes back, 99999999999 stops at 99,999): say the range
        line.addWidget(QLabel(f"Regions per image ({lo:,}–{hi:,}):"))
        self.regions.setToolTip(f"{lo:,} to {hi:,} regions (R-CNN: about 2,000 selective-search proposals)")
        self.regions.setValue(2000)               # R-CNN's ~2000 selective-search proposals
        self.regions.setGroupSeparatorShown(True)
        self.regions.valueChanged.connect(self._fill_passes)
        line.addWidget(self.regions)
        passes.addLayout(line)
        self.passes = QTableWidget(3, 3)
        self.passes.setHorizontalHeaderLabels(["Method", "CNN passes", "How"])
        self.passes.verticalHeader().setVisible(False)
        # the "How" column takes what is left and wraps; rows follow the wrapped text after every update
        # (resizing the columns to their contents instead made "How" one long line, cut off at the edge)
        header = self.passes.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.passes.setWordWrap(True)
        self.passes.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.passes.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.passes.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        passes.addWidget(self.passes)
        row.addLayout(passes, 2)
        self.outputs.addLayout(row)
        self._fill_passes()

    def _fill_passes(self) -> None:
        from explorer.core.notes.roi import cnn_passes
        for r, p in enumerate(cnn_passes(self.regions.value())):
            for c, text in enumerate((p.method, f"{p.passes:,}", p.how)):
                item = QTableWidgetItem(text)
                if c == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.passes.setItem(r, c, item)
        self.passes.resizeRowsToContents()

    def update_pooling(self) -> None:
        from explorer.core.notes.roi import roi_grid, roi_pool
        fm = self.fmap
        grid = roi_grid(self.box, fm.spatial_scale, fm.size)
        pooled = roi_pool(fm.features, self.box, fm.spatial_scale)
        self.grid, self.pooled = grid, pooled
        self.feature_caption.setText(f"Feature map {fm.size[1]}×{fm.size[0]} cells (stride {fm.stride}): RoI cells "
                                     f"x {grid.start_x}…{grid.end_x}, y {grid.start_y}…{grid.end_y}, 7×7 bins")
        fb = self.feature_box
        w_cells, h_cells = grid.end_x - grid.start_x + 1, grid.end_y - grid.start_y + 1
        for i in range(1, 7):   # the 7×7 division; each bin then rounds outwards to whole cells (⌊ ⌋, ⌈ ⌉)
            x = grid.start_x + i * w_cells / 7
            y = grid.start_y + i * h_cells / 7
            fb.add_overlay(pg.PlotCurveItem([x, x], [grid.start_y, grid.start_y + h_cells],
                                            pen=pg.mkPen(GRID_COLOUR, width=2)))
            fb.add_overlay(pg.PlotCurveItem([grid.start_x, grid.start_x + w_cells], [y, y],
                                            pen=pg.mkPen(GRID_COLOUR, width=2)))
        fb.add_overlay(rect_item(grid.start_x, grid.start_y, grid.end_x - grid.start_x + 1,
                                 grid.end_y - grid.start_y + 1, REGION_COLOUR, 3))
        self.draw_cells_on_image(grid.start_x, grid.start_y, grid.end_x, grid.end_y, GRID_COLOUR)

        c = self.channel.value()
        plane = pooled.mean(0) if c < 0 else pooled[min(c, pooled.shape[0] - 1)]
        plane = plane.numpy()
        self.pooled_box.set_image(plane, levels=(float(plane.min()), float(plane.max()) + 1e-6), lut=viridis_lut())
        which = "mean over channels" if c < 0 else f"channel {c}"
        self.pooled_caption.setText(f"Pooled 7×7 ({which})")
        for i in range(7):
            for j in range(7):
                item = QTableWidgetItem(f"{plane[i, j]:.3f}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, j, item)
        x1, y1, x2, y2 = self.box
        self.summary.setText(
            f"<b>Region</b> {x2 - x1:.0f}×{y2 - y1:.0f} px → <b>{w_cells}×{h_cells}</b> cells → bins of about "
            f"{w_cells / 7:.2f}×{h_cells / 7:.2f} cells → <b>7×7×{fm.channels} = {pooled.numel():,}</b> values "
            f"for any region. Each bin is rounded outwards to whole cells, so neighbouring bins may share a cell. "
            f"Dashed on the image: the cells' footprint (S×S pixels each). The table shows the pooled {which}.")
