"""The feature-map dock's picture widget: one image in a pyqtgraph ViewBox that stays fitted until the user
zooms, and reports hovers and clicks in image pixels (pyqtgraph's one-item-per-file style: no panel logic)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QApplication, QWidget

from explorer.core.mosaic import Mosaic

ViewRange = tuple[tuple[float, float], tuple[float, float]]


class ImageView(pg.GraphicsView):
    """One ImageItem in a ViewBox (y down, square pixels); reports hovers and clicks in image pixels.

    The image stays fitted to the view until the user zooms or pans (wheel, drag); a double click fits it
    again. `fitChanged` tells which of the two the view is in."""

    hovered = Signal(float, float)
    clicked = Signal(float, float)
    resized = Signal()
    fitChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None, smooth: bool = True) -> None:
        super().__init__(parent)
        self.setBackground(QColor(30, 30, 30))
        self.view_box = pg.ViewBox(invertY=True, lockAspect=True, enableMenu=False)
        self.setCentralItem(self.view_box)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.item)
        # a mosaic shown smaller than its pixels: filter so the 1-pixel padding does not alias (cheaper than
        # pyqtgraph's auto-downsampling, which averages into a float copy on every update); shown larger, crisp
        # feature pixels (a 7×7 map filtered up is a blur): see _update_smoothing
        self._smooth = smooth
        self.view_box.sigTransformChanged.connect(self._update_smoothing)
        self._shape: tuple[int, int] | None = None
        self._fit = True  # keep the image fitted to the view until the user zooms or pans
        self._pending_xy: tuple[float, float] | None = None
        self._pending_click = QTimer(self, singleShot=True)
        self._pending_click.timeout.connect(self._emit_pending_click)
        self.view_box.sigRangeChangedManually.connect(self._on_manual_range)
        self.scene().sigMouseMoved.connect(self._on_moved)
        self.scene().sigMouseClicked.connect(self._on_clicked)

    def set_image(self, image: np.ndarray | None,
                  view_range: ViewRange | None = None) -> None:
        """Show `image`. A new size is fitted to the view, unless `view_range` ((x0, x1), (y0, y1)) says what
        to show of it (the same place of a rebuilt mosaic, while the user is zoomed in)."""
        if image is None:
            self.item.clear()
            self._shape = None
            return
        shape = image.shape[:2]
        # uint8 RGBA drawn as is: levels=None skips pyqtgraph's rescaling pass (several ms for a 900² mosaic)
        self.item.setImage(image, autoLevels=False, levels=None)
        if shape != self._shape:  # new size: fit it (or show the given range); same size: keep the user's zoom
            self._shape = shape
            if view_range is not None and not self._fit:
                self.view_box.setRange(xRange=view_range[0], yRange=view_range[1], padding=0)
            else:
                self._set_fit(True)
                self.view_box.autoRange(padding=0.02)

    @property
    def fitted(self) -> bool:
        """True while the image is fitted to the view (the user has not zoomed or panned since)."""
        return self._fit

    def fit(self) -> None:
        """Fit the image to the view again (what a double click does)."""
        self._set_fit(True)
        if self._shape is not None:
            self.view_box.autoRange(padding=0.02)

    def _set_fit(self, fit: bool) -> None:
        if fit != self._fit:
            self._fit = fit
            self.fitChanged.emit(fit)

    def _on_manual_range(self, *_args: Any) -> None:
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        if self._shape is not None and x1 - x0 > self._shape[1] * 1.02 and y1 - y0 > self._shape[0] * 1.02:
            self.fit()  # zoomed out past the whole image: nothing to gain from a smaller one, fit it again
            return
        self._set_fit(False)

    def _update_smoothing(self, *_args: Any) -> None:
        """Filter only where the view shrinks the image (more than one image pixel per device pixel)."""
        px, _ = self.view_box.viewPixelSize()
        smooth = self._smooth and px * self.devicePixelRatioF() > 1.0
        if bool(self.renderHints() & QPainter.RenderHint.SmoothPixmapTransform) != smooth:
            self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        # a resize may come from GraphicsView's own __init__, before ours set _fit; docks resize after the
        # first image, which stays fitted
        if getattr(self, "_fit", False) and self._shape is not None:
            self.view_box.autoRange(padding=0.02)
        self.resized.emit()

    def has_image(self) -> bool:
        return self._shape is not None

    def _to_pixels(self, scene_pos: Any) -> tuple[float, float] | None:
        if self._shape is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.item.mapFromScene(scene_pos)
        return float(p.x()), float(p.y())

    def _on_moved(self, scene_pos: Any) -> None:
        xy = self._to_pixels(scene_pos)
        if xy is not None:
            self.hovered.emit(*xy)

    def _on_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if event.double():  # the pair's first click is still waiting (zoomed in): it was half of this
            self._pending_click.stop()
            self.fit()
            return
        xy = self._to_pixels(event.scenePos())
        if xy is None:
            return
        if self._fit:  # nothing for a double click to do: answer at once
            self.clicked.emit(*xy)
        else:  # zoomed in, a double click fits: wait to see whether this click is its first half
            self._pending_xy = xy
            self._pending_click.start(QApplication.doubleClickInterval())

    def _emit_pending_click(self) -> None:
        if self._pending_xy is not None:
            self.clicked.emit(*self._pending_xy)
            self._pending_xy = None


def carried_range(view: ImageView, old: Mosaic | None,
                  new: Mosaic) -> ViewRange | None:
    """A zoomed `view`'s range over `old`, carried to `new` (the same layer rebuilt with another shrink): the
    same feature pixel in the centre, the same number of tiles across; None when there is nothing to carry.
    (Carrying the corners instead would change the aspect: the padding does not scale with the tiles.)"""
    if old is None or old.grid != new.grid or old.map_size != new.map_size or view.fitted:
        return None
    (x0, x1), (y0, y1) = view.view_box.viewRange()
    cx, cy = old.carry_point((x0 + x1) / 2, (y0 + y1) / 2, new)
    kx = (new.tile_size[1] + new.padding) / (old.tile_size[1] + old.padding)
    ky = (new.tile_size[0] + new.padding) / (old.tile_size[0] + old.padding)
    hx, hy = (x1 - x0) * kx / 2, (y1 - y0) * ky / 2
    return (cx - hx, cx + hx), (cy - hy, cy + hy)
