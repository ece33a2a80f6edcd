"""The feature-map dock: every channel of the selected layer, live, as one mosaic; a channel large and over the
input; receptive fields, gradients and Grad-CAM on the input image; up to four pinned layers side by side.

Thin by design: an `ActivationProbe` (explorer.core.activations) is added to the inference worker through
`window.inference_panel.add_probe` for the selected layer only and removed on change or deselection, so hooks
exist only on selected (and pinned) layers. The probe builds the mosaic in the worker (on the model's
device); this panel only draws `result.extras[probe.name]` with one pyqtgraph ImageItem per mosaic. Grad-CAM
and the gradient view are requests the probe runs in the worker after the next forward pass.

While a video or camera plays, the maps refresh at most `rate` times a second (10 by default; "every frame"
is a choice): the copy and mosaic of a large layer cost a good part of a forward pass on a small CPU, and the
eye does not need them at the model's full rate. Stills, steps and Grad-CAM are always collected; when a
stream stops on a frame whose maps were skipped, that frame is run again so the maps match the image.

A mosaic larger than its view is built at the size the view shows it (`MosaicOptions.shrink`, chosen by
`display_shrink` from the view's device pixels): resnet18's conv1 mosaic is 905 pixels and the dock shows it in
about 480, so its tiles are drawn as 2×2 box averages, which costs the worker and the paint a quarter of the
pixels. Zooming into the mosaic (wheel or drag) rebuilds it at full size, keeping the same place in view;
a double click fits it again.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QGraphicsRectItem, QHBoxLayout, QLabel,
    QSizePolicy, QSlider, QSpinBox, QSplitter, QStackedWidget, QToolButton, QVBoxLayout, QWidget,
)

from explorer.core.activations import ActivationFrame, ActivationProbe
from explorer.core.mosaic import COLORMAPS, Mosaic, MosaicOptions, build_mosaic, channel_image, heat_image, value_at
from explorer.ui.elided_label import ElidedLabel
from explorer.ui.flow_layout import FlowBox, group

MAX_PINS = 4
PROBE_PREFIX = "featuremaps:"
LIVE_RATES = [("every frame", 0), ("20/s", 20), ("10/s", 10), ("5/s", 5)]
DEFAULT_LIVE_RATE = 10
RATE_SETTING = "featureMaps/liveRate"
OPTIONS_SETTING = "featureMaps"  # + /order, /norm, /colormap, /topK, /low, /high, /opacity
LARGE_HINT = "Click a channel to open it large; click a pixel to see its receptive field."
NO_PLACE = ("This layer's outputs have no place on the image (after flatten or a fully connected layer an output "
            "sees the whole image; after RoI pooling, a whole region): no receptive field, no overlay.")


# ----------------------------------------------------------------------------------------------- image views
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
                  view_range: tuple[tuple[float, float], tuple[float, float]] | None = None) -> None:
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

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if getattr(self, "_fit", False) and self._shape is not None:  # docks resize after the first image
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
                  new: Mosaic) -> tuple[tuple[float, float], tuple[float, float]] | None:
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


# ---------------------------------------------------------------------------------------- inference overlay
class FeatureOverlay:
    """What the feature maps draw on the inference panel's source image (source-pixel coordinates): one
    channel upsampled and translucent, a heat map (Grad-CAM or gradient) and a receptive-field rectangle."""

    def __init__(self) -> None:
        self.view_box: Any = None
        self.channel_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.field_item = QGraphicsRectItem()
        pen = QPen(QColor(255, 255, 0))
        pen.setWidthF(2.0)
        pen.setCosmetic(True)
        self.field_item.setPen(pen)
        self.clip_item = QGraphicsRectItem()  # the part of the field inside the image (the rest is padding)
        pen2 = QPen(QColor(0, 255, 255))
        pen2.setCosmetic(True)
        pen2.setStyle(Qt.PenStyle.DashLine)
        self.clip_item.setPen(pen2)
        for z, item in enumerate((self.channel_item, self.heat_item, self.clip_item, self.field_item)):
            item.setZValue(20 + z)
            item.setVisible(False)
        self.field_box: tuple[float, float, float, float] | None = None
        self.channel_rect: QRectF | None = None

    @property
    def items(self) -> list[Any]:
        return [self.channel_item, self.heat_item, self.clip_item, self.field_item]

    # overlay contract --------------------------------------------------------------------------------------
    def attach(self, view_box: Any) -> None:
        if self.view_box is view_box:
            return
        self.detach()
        self.view_box = view_box
        for item in self.items:
            view_box.addItem(item, ignoreBounds=True)

    def detach(self) -> None:
        if self.view_box is not None:
            for item in self.items:
                self.view_box.removeItem(item)
        self.view_box = None

    def set_result(self, result: Any) -> None:
        """Nothing to do: the panel updates the overlay when it draws the same result."""

    # drawing -----------------------------------------------------------------------------------------------
    def show_channel(self, rgba: np.ndarray, rect: QRectF, opacity: float) -> None:
        self.channel_item.setImage(rgba, autoLevels=False, levels=None)  # uint8 RGBA as is: no rescaling pass
        self.channel_item.setRect(rect)
        self.channel_item.setOpacity(opacity)
        self.channel_item.setVisible(True)
        self.channel_rect = rect

    def show_heat(self, rgba: np.ndarray, rect: QRectF, opacity: float) -> None:
        self.heat_item.setImage(rgba, autoLevels=False, levels=None)
        self.heat_item.setRect(rect)
        self.heat_item.setOpacity(opacity)
        self.heat_item.setVisible(True)

    def show_field(self, box: tuple[float, float, float, float], clipped: tuple[float, float, float, float]) -> None:
        self.field_box = box
        x0, y0, x1, y1 = box
        self.field_item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.field_item.setVisible(True)
        cx0, cy0, cx1, cy1 = clipped
        self.clip_item.setRect(QRectF(cx0, cy0, cx1 - cx0, cy1 - cy0))
        self.clip_item.setVisible(clipped != box)

    def set_opacity(self, opacity: float) -> None:
        self.channel_item.setOpacity(opacity)
        self.heat_item.setOpacity(opacity)

    def hide_channel(self) -> None:
        self.channel_item.setVisible(False)
        self.channel_rect = None

    def hide_heat(self) -> None:
        self.heat_item.setVisible(False)

    def hide_field(self) -> None:
        self.field_item.setVisible(False)
        self.clip_item.setVisible(False)
        self.field_box = None

    def clear(self) -> None:
        self.hide_channel()
        self.hide_heat()
        self.hide_field()


# ---------------------------------------------------------------------------------------------------- pins
class _Pin(QWidget):
    """A pinned layer: its own probe and a small mosaic view."""

    closed = Signal(str)

    def __init__(self, layer: str, probe: ActivationProbe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self.probe = probe
        self.frame: ActivationFrame | None = None
        self.view = ImageView(self)
        self.title = ElidedLabel(layer, min_chars=6)  # four pins share a laptop-wide dock
        close = QToolButton()
        close.setText("×")
        close.setToolTip(f"Unpin {layer}")
        close.clicked.connect(lambda: self.closed.emit(self.layer))
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(close)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(head)
        lay.addWidget(self.view, 1)

    def draw(self, frame: ActivationFrame) -> None:
        previous = self.frame.mosaic if self.frame is not None else None
        self.frame = frame
        mosaic = frame.mosaic
        self.view.set_image(mosaic.rgba if mosaic is not None else None,
                            carried_range(self.view, previous, mosaic) if mosaic is not None else None)
        c, h, w = frame.shape
        self.title.setText(f"{self.layer}  {c}×{h}×{w}" + (f" — {frame.note}" if frame.mosaic is None else ""))


# ---------------------------------------------------------------------------------------------------- panel
class FeatureMapsPanel(QWidget):
    """Dock panel: follows `state.layerSelected`, draws `state.resultReady`'s probe data."""

    def __init__(self, state: Any, window: Any = None) -> None:
        super().__init__()
        self.state = state
        self.window = window
        self.probe: ActivationProbe | None = None
        self.frame: ActivationFrame | None = None
        self.mosaic: Mosaic | None = None
        self.channel: int | None = None            # the channel shown large
        self.feature_pixel: tuple[int, int] | None = None
        self.pins: dict[str, _Pin] = {}
        self._target_names: list[tuple[Any, str]] = []  # (Grad-CAM target, its class name) of the list
        self._saving_options = False  # not while the last session's options are read back
        self._heat_of: tuple[str, int] | None = None  # (source, frame index) the heat map shown was computed on
        self._hover: tuple[str, int, int, int] | None = None  # the info line describes this hover: redo per frame
        self.last_result: Any = None
        self.overlay = FeatureOverlay()
        self._overlay_host: Any = None
        self._pending_layer = ""
        self._build()
        self._load_rate()
        self._load_options()
        state.layerSelected.connect(self.set_layer)
        state.resultReady.connect(self.on_result)
        if hasattr(self.inference_panel, "thresholdChanged"):  # Grad-CAM's detections are those the table lists
            self.inference_panel.thresholdChanged.connect(
                lambda _value: self._fill_targets(self.last_result) if self.last_result is not None else None)
        state.graphChanged.connect(self._on_graph_changed)
        state.modelChanged.connect(self._on_model_changed)
        if hasattr(state, "liveChanged"):  # paused, stepped, ended: the next frame's maps must not be skipped
            state.liveChanged.connect(self._on_live_changed)
        if getattr(state, "selected_layer", ""):
            self.set_layer(state.selected_layer)

    # -- widgets ---------------------------------------------------------------------------------------------
    def _build(self) -> None:
        # Compact controls that flow onto as few lines as the dock's width allows: the mosaic gets the height.
        # long layer names end in "…" rather than widening the dock; the tooltip keeps the whole text
        self.layer_label = ElidedLabel("Select a layer in the graph to see its feature maps.", width_chars=40)
        self.output_combo = QComboBox()
        self.output_combo.setToolTip("Which output of a multi-output module (FPN level, RPN head part)")
        self.output_combo.setVisible(False)
        self.output_combo.activated.connect(self._on_output_picked)
        self.order_combo = QComboBox()
        self.order_combo.addItems(["index", "mean", "max"])
        self.order_combo.setToolTip("Channel order: by index, or by mean or max activation (descending)")
        self.topk_spin = QSpinBox()
        self.topk_spin.setRange(0, 4096)
        self.topk_spin.setSpecialValueText("all")
        self.topk_spin.setToolTip("Top-k: show only the first k channels of the order (all: every channel)")
        self.topk_spin.setMaximumWidth(64)
        self.norm_combo = QComboBox()
        self.norm_combo.addItems(["channel", "layer", "fixed"])
        self.norm_combo.setToolTip("Normalise each channel, the whole layer, or a fixed range (low, high)")
        self.lo_spin, self.hi_spin = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, value, tip in ((self.lo_spin, 0.0, "low"), (self.hi_spin, 1.0, "high")):
            spin.setRange(-1e6, 1e6)
            spin.setDecimals(3)
            spin.setValue(value)
            spin.setEnabled(False)
            spin.setVisible(False)  # only with norm = fixed
            spin.setMaximumWidth(76)
            spin.setToolTip(f"Fixed range: {tip} end")
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(["auto", *COLORMAPS])
        self.colormap_combo.setToolTip("Colour map. auto: diverging (rdbu) for signed outputs, viridis for ReLU outputs")
        for w in (self.order_combo, self.norm_combo, self.colormap_combo, self.output_combo):
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for w in (self.order_combo, self.norm_combo, self.colormap_combo):
            w.currentIndexChanged.connect(self._on_options_changed)
            w.currentIndexChanged.connect(self._save_options)
        for w in (self.topk_spin, self.lo_spin, self.hi_spin):
            w.valueChanged.connect(self._on_options_changed)
            w.valueChanged.connect(self._save_options)

        self.pin_button = self._tool_button("Pin", f"Keep this layer's maps in view (up to {MAX_PINS} layers side by side)")
        self.pin_button.clicked.connect(lambda: self.pin_layer(self.state.selected_layer))
        self.export_png_button = self._tool_button("PNG…", "Export the mosaic as PNG")
        self.export_png_button.clicked.connect(self._choose_png)
        self.export_npy_button = self._tool_button("NPY…", "Export the raw activations (C, H, W) as .npy")
        self.export_npy_button.clicked.connect(self._choose_npy)

        self.overlay_check = QCheckBox("Overlay")
        self.overlay_check.setToolTip("Lay the large channel over the input image, upsampled")
        self.overlay_check.toggled.connect(lambda _on: self._update_overlay_channel())
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(60)
        self.opacity_slider.setFixedWidth(70)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.opacity_slider.valueChanged.connect(lambda v: self.overlay.set_opacity(v / 100.0))
        self.opacity_slider.valueChanged.connect(self._save_options)
        self.gradient_check = QCheckBox("Gradient")
        self.gradient_check.setToolTip("Gradient view: on a click in the large map, show |∂activation/∂input| "
                                       "on the input image")
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("Class (classifiers) or detection (detectors) to explain with Grad-CAM")
        self.target_combo.setMinimumWidth(110)
        self.target_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target_combo.setMinimumContentsLength(22)  # "#12 traffic light (0.87)"
        self.gradcam_button = self._tool_button("Grad-CAM", "Grad-CAM (Selvaraju et al. 2017) at this layer for "
                                                "the chosen target")
        self.gradcam_button.clicked.connect(self.request_gradcam)
        self.clear_button = self._tool_button("Clear", "Clear the overlay (channel, heat map, receptive field) "
                                              "from the input image")
        self.clear_button.clicked.connect(self.clear_overlay)
        self.rate_combo = QComboBox()
        for text, rate in LIVE_RATES:
            self.rate_combo.addItem(text, rate)
        self.rate_combo.setToolTip("How often the maps refresh while a video or camera plays. Each refresh copies "
                                   "the layer and builds its mosaic, which the model's frame rate pays for; "
                                   "still images and steps always show their own maps.")
        self.rate_combo.currentIndexChanged.connect(self._on_rate_changed)
        # The controls flow: two lines in a wide dock, more in a laptop's narrow one, never sideways scrolling.
        # The layer's name has a fixed share of the first line (elided), so that a new layer moves nothing.
        self.controls = FlowBox()
        for item in (self.layer_label, self.output_combo,
                     group(self._caption("order"), self.order_combo), group(self._caption("top"), self.topk_spin),
                     group(self._caption("norm"), self.norm_combo, self.lo_spin, self.hi_spin),
                     group(self._caption("map"), self.colormap_combo), group(self._caption("live"), self.rate_combo),
                     group(self.overlay_check, self.opacity_slider), self.gradient_check,
                     self.target_combo, group(self.gradcam_button, self.clear_button),
                     group(self.pin_button, self.export_png_button, self.export_npy_button)):
            self.controls.flow.addWidget(item)

        self.mosaic_view = ImageView()
        self.mosaic_view.hovered.connect(self._on_mosaic_hover)
        self.mosaic_view.clicked.connect(self._on_mosaic_click)
        self.mosaic_view.resized.connect(lambda: self._regrid_timer.start())
        self.mosaic_view.fitChanged.connect(lambda _fit: self._regrid())  # zoomed in: full detail; fitted: shrunk
        self.large_view = ImageView(smooth=False)  # one channel: crisp pixels, to click one
        self.pixel_marker = QGraphicsRectItem(0, 0, 1, 1)  # the clicked feature pixel (its field is on the image)
        marker_pen = QPen(QColor(255, 255, 0))
        marker_pen.setWidthF(2.0)
        marker_pen.setCosmetic(True)
        self.pixel_marker.setPen(marker_pen)
        self.pixel_marker.setZValue(10)
        self.pixel_marker.setVisible(False)
        self.large_view.view_box.addItem(self.pixel_marker)
        # a pixel of a 112×112 map is 2 screen pixels: a ring of fixed screen size finds it at any zoom
        self.pixel_ring = pg.ScatterPlotItem(size=14, symbol="s", pen=pg.mkPen(255, 255, 0, width=2), brush=None)
        self.pixel_ring.setZValue(10)
        self.pixel_ring.setVisible(False)
        self.large_view.view_box.addItem(self.pixel_ring)
        self.large_view.hovered.connect(self._on_large_hover)
        self.large_view.clicked.connect(self._on_large_click)
        # until a channel is opened the right pane says what it is for (an empty black area says nothing)
        self.large_hint = QLabel(LARGE_HINT)
        self.large_hint.setWordWrap(True)
        self.large_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.large_hint.setStyleSheet("background: rgb(30, 30, 30); color: #b0b0b0; padding: 12px;")
        self.large_stack = QStackedWidget()
        self.large_stack.addWidget(self.large_hint)
        self.large_stack.addWidget(self.large_view)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.mosaic_view)
        self.splitter.addWidget(self.large_stack)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.pins_row = QWidget()
        self.pins_layout = QHBoxLayout(self.pins_row)
        self.pins_layout.setContentsMargins(0, 0, 0, 0)
        self.pins_row.setVisible(False)
        self.info_label = QLabel("")
        self.info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        # a stream that stopped on a frame whose maps were skipped: run that frame again (see the docstring);
        # a timer, so that a burst of signals (pause, then the result in flight) runs it once
        self._catch_up_timer = QTimer(self)
        self._catch_up_timer.setSingleShot(True)
        self._catch_up_timer.timeout.connect(self._catch_up)
        self._caught_up_frame: Any = None  # the frame last run again: never twice (a layer may not run at all)
        # re-tile the mosaic to the view's shape once a resize settles (a wide view: more columns)
        self._regrid_timer = QTimer(self)
        self._regrid_timer.setSingleShot(True)
        self._regrid_timer.setInterval(150)
        self._regrid_timer.timeout.connect(self._regrid)
        self._refit_pins_timer = QTimer(self)  # the same for the pins' views (a window resize moves them all)
        self._refit_pins_timer.setSingleShot(True)
        self._refit_pins_timer.setInterval(150)
        self._refit_pins_timer.timeout.connect(lambda: [self._refit_pin(pin) for pin in list(self.pins.values())])

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addWidget(self.controls)
        lay.addWidget(self.splitter, 3)
        lay.addWidget(self.pins_row, 2)
        lay.addWidget(self.info_label)

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("color: #616161")
        return label

    @staticmethod
    def _tool_button(text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        return button

    def _set_large(self, image: np.ndarray | None) -> None:
        """Show one channel large, or the hint when there is none."""
        self.large_view.set_image(image)
        self.large_stack.setCurrentWidget(self.large_view if image is not None else self.large_hint)

    # -- the inference panel ---------------------------------------------------------------------------------
    @property
    def inference_panel(self) -> Any:
        return getattr(self.window, "inference_panel", None)

    # -- live refresh rate -------------------------------------------------------------------------------------
    @property
    def live_rate(self) -> int:
        """Refreshes per second while a stream plays (0: every frame)."""
        return int(self.rate_combo.currentData() or 0)

    def _load_rate(self) -> None:
        settings = getattr(self.window, "settings", None)
        try:
            rate = int(settings.value(RATE_SETTING, DEFAULT_LIVE_RATE)) if settings is not None else DEFAULT_LIVE_RATE
        except (TypeError, ValueError):  # a hand-edited settings file
            rate = DEFAULT_LIVE_RATE
        index = self.rate_combo.findData(rate)
        self.rate_combo.setCurrentIndex(index if index >= 0 else self.rate_combo.findData(DEFAULT_LIVE_RATE))

    def _on_rate_changed(self, _index: int) -> None:
        settings = getattr(self.window, "settings", None)
        if settings is not None:
            settings.setValue(RATE_SETTING, self.live_rate)
        self._apply_rate()

    def _load_options(self) -> None:
        """The mosaic options and the overlay's opacity of the last session (a value the controls do not
        offer, from a hand-edited file, keeps the default)."""
        settings = getattr(self.window, "settings", None)
        if settings is None:
            return
        for combo, name in ((self.order_combo, "order"), (self.norm_combo, "norm"),
                            (self.colormap_combo, "colormap")):
            index = combo.findText(str(settings.value(f"{OPTIONS_SETTING}/{name}", "")))
            if index >= 0:
                combo.setCurrentIndex(index)
        for spin, name, cast in ((self.topk_spin, "topK", int), (self.lo_spin, "low", float),
                                 (self.hi_spin, "high", float), (self.opacity_slider, "opacity", int)):
            try:
                value = cast(settings.value(f"{OPTIONS_SETTING}/{name}", spin.value()))
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):  # "nan" parses as a float, and a spin box would clamp it to its maximum
                spin.setValue(value)
        self._saving_options = True

    def _save_options(self) -> None:
        settings = getattr(self.window, "settings", None)
        if settings is None or not self._saving_options:
            return
        for name, value in (("order", self.order_combo.currentText()), ("norm", self.norm_combo.currentText()),
                            ("colormap", self.colormap_combo.currentText()), ("topK", self.topk_spin.value()),
                            ("low", self.lo_spin.value()), ("high", self.hi_spin.value()),
                            ("opacity", self.opacity_slider.value())):
            settings.setValue(f"{OPTIONS_SETTING}/{name}", value)

    def _probes(self) -> list[ActivationProbe]:
        return ([self.probe] if self.probe is not None else []) + [pin.probe for pin in self.pins.values()]

    def _apply_rate(self) -> None:
        """Limit the probes' collection while a stream plays; stills get every frame's maps."""
        panel = self.inference_panel
        live = bool(getattr(panel, "live", False))
        interval = 1.0 / self.live_rate if live and self.live_rate > 0 else 0.0
        for probe in self._probes():
            probe.min_interval_s = interval

    def _missing_maps(self, result: Any) -> bool:
        """Some probe (the layer's or a pin's) has no maps in `result`: its pass was skipped for the rate."""
        extras = getattr(result, "extras", {}) or {}
        return any(not probe.error and not isinstance(extras.get(probe.name), ActivationFrame)
                   for probe in self._probes())

    def _on_live_changed(self, live: bool) -> None:
        self._apply_rate()
        if not live:
            self._catch_up_timer.start(0)

    def _catch_up(self) -> None:
        """Run the frame on screen again when the stream stopped on a frame whose maps were skipped."""
        result = self.last_result
        panel = self.inference_panel
        if result is None or panel is None or getattr(panel, "live", False) or not self._missing_maps(result):
            return
        frame = getattr(result, "frame", None)
        if frame is None or frame is self._caught_up_frame:
            return
        self._apply_rate()
        if hasattr(panel, "refresh") and panel.refresh():
            self._caught_up_frame = frame

    def _add_probe(self, probe: ActivationProbe) -> None:
        panel = self.inference_panel
        if panel is not None and hasattr(panel, "add_probe"):
            panel.add_probe(probe)

    def _remove_probe(self, name: str) -> None:
        panel = self.inference_panel
        if panel is not None and hasattr(panel, "remove_probe"):
            panel.remove_probe(name)

    def _drop_probe(self, probe: ActivationProbe) -> None:
        """Remove `probe` from the engine and its hooks from the model now. The engine would detach it only
        before its next frame, which never comes for a still image; removing a hook is safe even during a
        forward pass (torch iterates over a copy of the hook dict) and detach() is idempotent."""
        self._remove_probe(probe.name)
        probe.detach()

    def _ensure_overlay(self) -> bool:
        panel = self.inference_panel
        if panel is None or not hasattr(panel, "add_overlay"):
            return False
        if self._overlay_host is not panel:
            panel.add_overlay(self.overlay)
            self._overlay_host = panel
        return True

    # -- options -------------------------------------------------------------------------------------------
    def mosaic_options(self) -> MosaicOptions:
        norm = self.norm_combo.currentText()
        for spin in (self.lo_spin, self.hi_spin):
            spin.setEnabled(norm == "fixed")
            spin.setVisible(norm == "fixed")
        lo, hi = self.lo_spin.value(), self.hi_spin.value()
        if not hi > lo:
            hi = lo + 1e-3
        k = self.topk_spin.value()
        opts = MosaicOptions(order=self.order_combo.currentText(), top_k=k or None, norm=norm,
                             fixed_range=(lo, hi), colormap=self.colormap_combo.currentText())
        return self._view_options(opts, self.mosaic_view, self.mosaic)

    @staticmethod
    def _view_options(opts: MosaicOptions, view: ImageView, shown: Mosaic | None) -> MosaicOptions:
        """`opts` for the mosaic `view` shows: fitted, the columns and shrink are chosen for the view's device
        pixels where the mosaic is built (explorer.core.mosaic.layout_for: the worker knows the layer's shape
        before this panel does); zoomed in, the grid on screen stays and every feature pixel is drawn."""
        if not view.fitted and shown is not None:
            return replace(opts, columns=shown.grid[1], shrink=1, fit=None)
        ratio = view.devicePixelRatioF()  # a high-DPI screen shows more pixels than the widget's size
        return replace(opts, columns=None, shrink=None,
                       fit=(round(view.width() * ratio), round(view.height() * ratio)))

    def _regrid(self) -> None:
        """After a resize or a zoom: the next mosaics are laid out for the view (also while the first frame of
        a layer is still computed); the shown one is rebuilt when its columns or shrink should change."""
        if self.probe is not None:
            self.probe.options = self.mosaic_options()
        if self.frame is None or self.mosaic is None:
            return
        if not self.mosaic.laid_out_as(self.mosaic_options()):
            self._on_options_changed()

    def set_options(self, **kwargs: Any) -> None:
        """Set controls by name (order, top_k, norm, fixed_range, colormap): what a user does with them."""
        if "order" in kwargs:
            self.order_combo.setCurrentText(kwargs["order"])
        if "top_k" in kwargs:
            self.topk_spin.setValue(int(kwargs["top_k"] or 0))
        if "norm" in kwargs:
            self.norm_combo.setCurrentText(kwargs["norm"])
        if "fixed_range" in kwargs:
            self.lo_spin.setValue(float(kwargs["fixed_range"][0]))
            self.hi_spin.setValue(float(kwargs["fixed_range"][1]))
        if "colormap" in kwargs:
            self.colormap_combo.setCurrentText(kwargs["colormap"])
        self._on_options_changed()

    def _on_options_changed(self, *_args: Any) -> None:
        opts = self.mosaic_options()
        if self.probe is not None:
            self.probe.options = opts  # the worker reads it once per frame
        for pin in self.pins.values():
            pin.probe.options = self._pin_options(pin, opts)
        # redraw now from the last activations (mosaic only, no model run)
        if self.frame is not None:
            self._draw_frame(self.frame, rebuild=True)
        for pin in self.pins.values():
            if pin.frame is not None and pin.frame.activation.numel() > 0:
                pin.draw(replace(pin.frame, mosaic=build_mosaic(pin.frame.activation, pin.probe.options)))

    def _pin_options(self, pin: "_Pin", opts: MosaicOptions | None = None) -> MosaicOptions:
        """The selected layer's options for a pinned layer, laid out for the pin's own small view."""
        return self._view_options(opts or self.mosaic_options(), pin.view,
                                  pin.frame.mosaic if pin.frame is not None else None)

    # -- layer selection -----------------------------------------------------------------------------------
    def set_layer(self, node_id: str) -> None:
        """Follow the graph's selection: one probe on the selected layer; none when nothing is selected."""
        if self.probe is not None:
            if self.probe.layer == node_id:
                return
            self._drop_probe(self.probe)
            self.probe = None
        self.frame = None
        self.mosaic = None
        self.channel = None
        self.feature_pixel = None
        self.mosaic_view.set_image(None)
        self._set_large(None)
        self.output_combo.setVisible(False)
        self.overlay.clear()
        self._set_info("")
        self._show_pixel_marker(False)
        if not node_id:
            self.layer_label.setText("Select a layer in the graph to see its feature maps.")
            return
        handle = getattr(self.state, "handle", None)
        if handle is not None:
            from explorer.core.activations import UnknownLayerError, resolve_layer

            try:
                resolve_layer(handle.model, node_id, getattr(self.state, "graph", None))
            except UnknownLayerError as exc:
                self.layer_label.setText(str(exc))
                return
        self.layer_label.setText(f"{node_id}: waiting for a frame…")
        self.probe = ActivationProbe(node_id, getattr(self.state, "graph", None), name=PROBE_PREFIX + node_id,
                                     options=self.mosaic_options())
        self._apply_rate()
        self._add_probe(self.probe)

    def _on_model_changed(self, handle: Any) -> None:
        # the old layer names may not exist in the new model: drop every probe now, re-add on graphChanged
        for layer in list(self.pins):
            self.unpin_layer(layer)
        if self.probe is not None:
            layer = self.probe.layer
            self._drop_probe(self.probe)
            self.probe = None
            self._pending_layer = layer

    def _on_graph_changed(self, graph: Any) -> None:
        # a new model: its probes are new too (the old ones went with the old engine)
        for layer in list(self.pins):
            self.unpin_layer(layer)
        layer = self.probe.layer if self.probe is not None else self._pending_layer
        self._pending_layer = ""
        if self.probe is not None:
            self._drop_probe(self.probe)
            self.probe = None
        if layer and graph is not None and getattr(self.state, "selected_layer", "") == layer:
            self.set_layer(layer)

    # -- results -------------------------------------------------------------------------------------------
    def on_result(self, result: Any) -> None:
        self.last_result = result
        self._apply_rate()
        extras = getattr(result, "extras", {}) or {}
        live = bool(getattr(self.inference_panel, "live", False))
        missing = self._missing_maps(result)  # False without probes
        if not live or not missing:
            self._fill_targets(result)  # while a stream plays: at the maps' rate, not at every frame
        if not live and missing:
            self._catch_up_timer.start(0)  # a step or the last frame before a pause came without maps
        for pin in self.pins.values():
            frame = extras.get(pin.probe.name)
            if isinstance(frame, ActivationFrame):
                pin.draw(frame)
        if self.probe is None:
            return
        frame = extras.get(self.probe.name)
        if isinstance(frame, ActivationFrame):
            self._draw_frame(frame)
            self._refresh_hover()
            self._expire_heat(result)
            if self._draw_requests(frame):
                self._heat_of = self._frame_key(result)
        elif self.probe.error:
            self.layer_label.setText(self.probe.error)

    @staticmethod
    def _frame_key(result: Any) -> tuple[str, int] | None:
        frame = getattr(result, "frame", None)
        return (frame.source, frame.index) if frame is not None else None

    def _expire_heat(self, result: Any) -> None:
        """A Grad-CAM or gradient map explains the frame it was computed on: once a video shows another,
        it goes (a map over the wrong picture misleads), and the line below says why."""
        if self._heat_of is None or self._frame_key(result) == self._heat_of:
            return
        if self.overlay.heat_item.isVisible():
            self.overlay.hide_heat()
            self._set_info(f"The heat map was for frame {self._heat_of[1]} and the video moved on: pause, then ask "
                           "again to study one frame.")
        self._heat_of = None

    def _draw_frame(self, frame: ActivationFrame, rebuild: bool = False) -> None:
        previous = self.mosaic
        self.frame = frame
        if (not rebuild and frame.mosaic is not None and frame.mosaic.num_tiles > 0
                and not frame.mosaic.laid_out_as(self.mosaic_options())):
            rebuild = True  # built for another view (first frame of a layer, new shape, zoom): next ones fit
            if self.probe is not None:
                self.probe.options = self.mosaic_options()
        if rebuild or frame.mosaic is None:
            try:
                frame.mosaic = build_mosaic(frame.activation, self.mosaic_options())
            except ValueError as exc:  # nothing to tile (no detections: an empty box tensor)
                self.mosaic = None
                self.mosaic_view.set_image(None)
                self._set_large(None)
                self.layer_label.setText(f"{frame.layer}: {frame.note or exc}")
                return
        self.mosaic = frame.mosaic
        self.mosaic_view.set_image(self.mosaic.rgba, carried_range(self.mosaic_view, previous, self.mosaic))
        c, h, w = frame.shape
        keys = frame.output_keys
        if len(keys) > 1:
            if [self.output_combo.itemData(i) for i in range(self.output_combo.count())] != keys:
                self.output_combo.clear()
                for key in keys:
                    self.output_combo.addItem(self._output_text(frame.layer, key), key)
            self.output_combo.setCurrentIndex(keys.index(frame.output_key) if frame.output_key in keys else 0)
            self.output_combo.setVisible(True)
        else:
            self.output_combo.setVisible(False)
        out = f" [{frame.output_key}]" if len(keys) > 1 else ""
        shown = f", top {self.mosaic.num_tiles}" if self.mosaic.num_tiles < c else ""
        note = f" — {frame.note}" if frame.note else ""
        norm = ", normalised over the layer (1×1 maps)" if self.mosaic.norm != self.mosaic.options.norm else ""
        self.layer_label.setText(f"{frame.layer}{out}: {c}×{h}×{w}{shown}, {self.mosaic.colormap}{norm}{note}")
        if frame.note and not self.info_label.text():  # the caption may be cut: the line below has room
            self._set_info(frame.note)
        if self.channel is not None and self.channel < c:
            self._draw_channel()
        elif self.channel is not None:
            self.channel = None
            self._set_large(None)

    def _draw_requests(self, frame: ActivationFrame) -> bool:
        """Show the Grad-CAM or gradient answers that came with `frame`; True when a heat map was drawn."""
        from explorer.core.errors import ExplorerError

        shown = False
        for name in ("gradcam", "gradient"):
            item = frame.extras.get(name)
            if item is None:
                continue
            if isinstance(item, ExplorerError):
                self.state.show_error(str(item))
                self._set_info(f"{'Grad-CAM' if name == 'gradcam' else 'The gradient view'}: {item}")  # stays
                continue
            shown = True
            if name == "gradcam":
                self.show_heat(item.cam_input, frame)
                # ReLU(Σ α_k A_k) is 0 where no channel speaks for the target (Selvaraju et al. 2017, eq. 2)
                zero = "" if float(np.max(item.cam_input, initial=0.0)) > 0 else (
                    " — zero everywhere: no channel of this layer speaks for it (try an earlier layer)")
                self._set_info(f"Grad-CAM at {item.layer} for {item.target}: score {item.score:.4g}{zero}")
            else:
                self.show_heat(item.magnitude, frame)
                self._set_info(
                    f"gradient of {'channel ' + str(item.channel) if item.channel is not None else 'all channels'}"
                    f" at (y {item.fy}, x {item.fx}) = {item.value:.4g} with respect to the input")
        return shown

    # -- mosaic interaction ----------------------------------------------------------------------------------
    def describe(self, x: float, y: float) -> str:
        """Hover text for mosaic pixel (x, y): channel, position and raw value."""
        if self.mosaic is None or self.frame is None:
            return ""
        hit = self.mosaic.locate(x, y)
        return self._describe_feature(hit.channel, hit.fy, hit.fx) if hit is not None else ""

    def _describe_feature(self, channel: int, fy: int, fx: int) -> str:
        """Hover text for feature pixel (fy, fx) of `channel` in the shown frame ('' when not in the mosaic)."""
        t = self.mosaic.tile_of_channel(channel) if self.mosaic is not None and self.frame is not None else None
        if t is None or not self.frame.contains(channel, fy, fx):
            return ""
        v = value_at(self.frame.activation, channel, fy, fx)
        return (f"channel {channel}  (y {fy}, x {fx}) = {v:.4g}   "
                f"[min {self.mosaic.tile_min[t]:.3g}, max {self.mosaic.tile_max[t]:.3g}, "
                f"mean {self.mosaic.tile_mean[t]:.3g}]")

    def _on_mosaic_hover(self, x: float, y: float) -> None:
        hit = self.mosaic.locate(x, y) if self.mosaic is not None else None
        text = self._describe_feature(hit.channel, hit.fy, hit.fx) if hit is not None else ""
        if text:  # kept as the feature pixel: a rebuilt mosaic (zoom, new shrink) puts it elsewhere
            self._set_info(text, ("mosaic", hit.channel, hit.fy, hit.fx))

    def _show_pixel_marker(self, visible: bool) -> None:
        self.pixel_marker.setVisible(visible)
        self.pixel_ring.setVisible(visible)

    def _set_info(self, text: str, hover: tuple[str, int, int, int] | None = None) -> None:
        """The line under the maps; `hover` ("mosaic" or "large", channel, fy, fx): it describes the feature
        pixel under the pointer, to be read again on each new frame (a value from an older frame next to a
        moving video would be wrong)."""
        self._hover = hover
        self.info_label.setText(text)

    def _refresh_hover(self) -> None:
        if self._hover is None:
            return
        where, channel, fy, fx = self._hover
        if where == "mosaic":
            text = self._describe_feature(channel, fy, fx)
        elif channel == self.channel and self.frame is not None and self.frame.contains(channel, fy, fx):
            text = f"channel {channel}  (y {fy}, x {fx}) = {value_at(self.frame.activation, channel, fy, fx):.4g}"
        else:
            text = ""
        if text:
            self._set_info(text, self._hover)
        else:  # the pixel is gone (another top-k, another channel large): the line no longer describes it
            self._set_info("")

    def _on_mosaic_click(self, x: float, y: float) -> None:
        if self.mosaic is None:
            return
        hit = self.mosaic.locate(x, y)
        if hit is not None:
            self.select_channel(hit.channel)

    def select_channel(self, channel: int | None) -> None:
        """Show `channel` large (and over the input when the overlay is on)."""
        self.channel = channel
        self.feature_pixel = None
        self.overlay.hide_field()
        self._show_pixel_marker(False)
        if channel is None:
            self._set_large(None)
            self.overlay.hide_channel()
            return
        self._draw_channel()

    def _channel_colormap(self) -> str:
        return self.mosaic.colormap if self.mosaic is not None else "viridis"

    def _draw_channel(self) -> None:
        if self.frame is None or self.channel is None:
            return
        self._set_large(channel_image(self.frame.activation, self.channel, self._channel_colormap()))
        self._update_overlay_channel()

    def _feature_rect(self) -> QRectF | None:
        """Where the feature map lies on the source image: pixel (i, j) covers stride × stride input pixels
        around its receptive-field centre; without receptive-field data, the whole model input."""
        frame = self.frame
        if frame is None or frame.geometry is None or frame.input_size is None:
            return None
        c, h, w = frame.shape
        geo = self._field_geometry()
        if geo is not None:
            x0 = geo.first_centre - geo.stride / 2.0
            box = (x0, x0, x0 + w * geo.stride, x0 + h * geo.stride)
        else:
            ih, iw = self._backbone_size()
            box = (0.0, 0.0, float(iw), float(ih))
        sx0, sy0, sx1, sy1 = frame.geometry.to_source(box)
        return QRectF(sx0, sy0, sx1 - sx0, sy1 - sy0)

    def _backbone_size(self) -> tuple[int, int]:
        frame = self.frame
        assert frame is not None and frame.input_size is not None and frame.geometry is not None
        th = frame.tensor_geometry
        ih, iw = frame.input_size
        if th is not None and frame.geometry.scale != th.scale:  # detectors resize inside
            rx = frame.geometry.scale[0] / th.scale[0]
            ry = frame.geometry.scale[1] / th.scale[1]
            # the scale is the resized size over the source's: round, as floor(451 × 481/451) is 480
            return int(round(ih * ry)), int(round(iw * rx))
        return int(ih), int(iw)

    def _update_overlay_channel(self) -> None:
        if not self.overlay_check.isChecked() or self.frame is None or self.channel is None:
            self.overlay.hide_channel()
            return
        node = self._graph_node()
        if node is not None and node.receptive_field is None:  # after flatten or fc, RoI pooling's regions
            self.overlay.hide_channel()
            self._set_info(NO_PLACE)
            return
        rect = self._feature_rect()
        if rect is None or not self._ensure_overlay():
            return
        c, h, w = self.frame.shape
        geo = self._field_geometry()
        up = int(geo.stride) if geo is not None else max(1, int(round(self._backbone_size()[0] / h)))
        scale = max(1, min(up, 1024 // max(h, w, 1)))  # bilinear upsampling on the device, capped at ~1024 px
        rgba = channel_image(self.frame.activation, self.channel, self._channel_colormap(), size=(h * scale, w * scale),
                             alpha=True)
        self.overlay.show_channel(rgba, rect, self.opacity_slider.value() / 100.0)

    # -- large map: receptive field and gradient ------------------------------------------------------------
    def _graph_node(self) -> Any:
        graph = getattr(self.state, "graph", None)
        if graph is None or self.frame is None:
            return None
        from explorer.core.capture import UnknownLayerError, find_output_node

        try:  # the picked output's own node: an FPN level has its own stride and receptive field
            return find_output_node(graph, self.frame.layer, self.frame.output_key)
        except UnknownLayerError:
            return None

    def _field_geometry(self) -> Any:
        from explorer.core.errors import ExplorerError
        from explorer.core.receptive import field_geometry

        node = self._graph_node()
        if node is None:
            return None
        try:
            return field_geometry(node, self.state.graph)
        except ExplorerError:
            return None

    def _on_large_hover(self, x: float, y: float) -> None:
        if self.frame is None or self.channel is None:
            return
        c, h, w = self.frame.shape
        fx, fy = int(math.floor(x)), int(math.floor(y))
        if 0 <= fx < w and 0 <= fy < h:
            v = value_at(self.frame.activation, self.channel, fy, fx)
            self._set_info(f"channel {self.channel}  (y {fy}, x {fx}) = {v:.4g}", ("large", self.channel, fy, fx))

    def _on_large_click(self, x: float, y: float) -> None:
        if self.frame is None:
            return
        c, h, w = self.frame.shape
        fx, fy = int(math.floor(x)), int(math.floor(y))
        if 0 <= fx < w and 0 <= fy < h:
            self.select_feature_pixel(fy, fx)

    def select_feature_pixel(self, fy: int, fx: int) -> tuple[float, float, float, float] | None:
        """Draw the receptive field of feature pixel (fy, fx) on the input image (source pixels); with the
        gradient view on, ask the worker for |∂A/∂input| too. Returns the box drawn."""
        from explorer.core.receptive import clip_box, field_box

        if self.frame is not None and not self.frame.contains(0, fy, fx):
            return None
        self.feature_pixel = (fy, fx)
        self.pixel_marker.setRect(fx, fy, 1, 1)
        self.pixel_ring.setData([fx + 0.5], [fy + 0.5])
        self._show_pixel_marker(self.channel is not None)
        frame = self.frame
        geo = self._field_geometry()
        if frame is None or geo is None or frame.geometry is None:
            self.state.show_message(NO_PLACE, 5000)
            return None
        box_in = field_box(geo, fy, fx)
        ih, iw = self._backbone_size()
        box = frame.geometry.to_source(box_in)
        clipped = frame.geometry.to_source(clip_box(box_in, iw, ih))
        if self._ensure_overlay():
            self.overlay.show_field(box, clipped)
        self._set_info(
            f"receptive field of (y {fy}, x {fx}): {geo.receptive_field:g}×{geo.receptive_field:g} input pixels, "
            f"rows {box_in[1]:g}..{box_in[3] - 1:g}, columns {box_in[0]:g}..{box_in[2] - 1:g} of the model input")
        if self.gradient_check.isChecked():
            self.request_gradient(fy, fx)
        return box

    # -- Grad-CAM and gradients (run in the worker) -----------------------------------------------------------
    def _request(self, name: str, job: Any) -> None:
        if self.probe is None:
            return
        self.probe.request(name, job)
        self._add_probe(self.probe)  # re-adding re-runs a still image, so the request runs now

    def request_gradient(self, fy: int, fx: int) -> None:
        from explorer.core.gradcam import input_gradient

        layer, graph = self.probe.layer, getattr(self.state, "graph", None)
        key, channel = self.probe.output_key, self.channel
        self._request("gradient", lambda ctx: input_gradient(ctx.model, layer, ctx.input_tensor, fy, fx, channel,
                                                             graph, key))

    def _fill_targets(self, result: Any) -> None:
        """Grad-CAM targets from the newest result: its top-5 classes, its detections (torchvision detectors)
        or the classes present in a segmentation. The chosen row is kept while the list changes frame to frame."""
        items: list[tuple[str, Any]] = []
        handle = getattr(self.state, "handle", None)
        rcnn = handle is not None and hasattr(handle.model, "roi_heads")
        yolo = handle is not None and hasattr(handle.model, "S") and hasattr(handle.model, "B")
        names: list[str] = []  # each target's class name, for Grad-CAM's answer ("class 162 (bloodhound)")
        if getattr(result, "topk", None):
            items = [(f"{s.label} ({s.score:.2f})", ("class", s.index)) for s in result.topk]
            names = [s.label for s in result.topk]
        elif (rcnn or yolo) and getattr(result, "boxes", None):
            # the detections the inference table lists (above its score threshold), numbered as there
            threshold = getattr(getattr(self.inference_panel, "detections", None), "threshold", 0.0)
            shown = [d for d in result.boxes if d.score >= threshold][:20]
            items = [(f"#{i} {d.label} ({d.score:.2f})",
                      ("detection", d.box, d.class_index) if rcnn else ("yolo", d.cell, d.class_index, d.box_index))
                     for i, d in enumerate(shown, 1)]
            names = [d.label for d in shown]
        elif getattr(result, "segmentation", None) is not None:
            seg = result.segmentation
            items = [(name, ("class", seg.labels.index(name))) for name in seg.classes if name in seg.labels]
            names = [text for text, _ in items]
        self._target_names = [(data, name) for (_, data), name in zip(items, names)]
        combo = self.target_combo
        if [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())] == items:
            return  # unchanged: no relayout or repaint of the row
        row = max(0, self.target_combo.currentIndex())
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        for text, data in items:
            self.target_combo.addItem(text, data)
        if items:
            self.target_combo.setCurrentIndex(min(row, len(items) - 1))
        self.target_combo.blockSignals(False)

    def request_gradcam(self, target: Any = None) -> bool:
        """Ask for Grad-CAM at the selected layer for `target` (("class", index), ("detection", box, label) of a
        torchvision detector or ("yolo", (row, col), label, box_index) of a YOLO model), by default the one chosen
        in the combo box. The result arrives with the next frame."""
        from explorer.core.gradcam import class_target, detection_target, grad_cam, yolo_cell_target

        if self.probe is None:
            self.state.show_message("Select a layer first.", 3000)
            return False
        target = target if isinstance(target, tuple) else self.target_combo.currentData()
        if target is None:
            self.state.show_message("No class or detection to explain yet (a detector's must be above the score "
                                    "threshold of the Inference panel).", 4000)
            return False
        layer, graph, key = self.probe.layer, getattr(self.state, "graph", None), self.probe.output_key
        name = next((n for data, n in self._target_names if data == target), "")

        def job(ctx: Any) -> Any:
            if target[0] == "class":
                tgt = class_target(int(target[1]), name)
            elif target[0] == "yolo":  # the score of the cell and box that predicted the detection
                from explorer.core.yolo import model_layout

                S, B, C, layout = model_layout(ctx.model)
                (row, col), label, box = target[1], int(target[2]), target[3]
                tgt = yolo_cell_target(row, col, label, S, B, C, layout, box, name)
            else:  # engine boxes are in source pixels; the detector sees the input tensor's pixels
                sx, sy = ctx.scale
                ox, oy = getattr(ctx, "offset", (0.0, 0.0))
                x0, y0, x1, y1 = target[1]
                tgt = detection_target((x0 * sx - ox, y0 * sy - oy, x1 * sx - ox, y1 * sy - oy), int(target[2]),
                                       name=name)
            return grad_cam(ctx.model, layer, ctx.input_tensor, tgt, graph, key)

        self._request("gradcam", job)
        return True

    def show_heat(self, values: np.ndarray, frame: ActivationFrame) -> None:
        """A heat map over the model-input tensor (Grad-CAM, gradient) drawn on the source image."""
        geo = frame.tensor_geometry
        if geo is None or not self._ensure_overlay():
            return
        h, w = values.shape
        x0, y0, x1, y1 = geo.to_source((0.0, 0.0, float(w), float(h)))
        self.overlay.show_heat(heat_image(values, "inferno"), QRectF(x0, y0, x1 - x0, y1 - y0),
                               self.opacity_slider.value() / 100.0)

    def clear_overlay(self) -> None:
        self.overlay.clear()
        self.overlay_check.setChecked(False)
        self._show_pixel_marker(False)
        self._heat_of = None
        self._set_info("")

    # -- multi-output and pins ---------------------------------------------------------------------------------
    def _on_output_picked(self, index: int) -> None:
        self.set_output(self.output_combo.itemData(index))

    def _output_text(self, layer: str, key: str) -> str:
        """The picker's text for output `key` of `layer`: the key and the module inside that produced it
        ("0.1 · cls_logits#1": the RPN head's objectness at FPN level 1), as the graph names it."""
        graph = getattr(self.state, "graph", None)
        info = graph.modules.get(layer) if graph is not None else None
        node = info.outputs.get(key, "") if info is not None else ""
        inner = node[len(layer) + 1:] if layer and node.startswith(layer + ".") else node
        return f"{key} · {inner}" if inner else key

    def set_output(self, key: str) -> None:
        """Pick one output of a multi-output module (an FPN level ...): applies from the next frame."""
        if self.probe is not None and self.probe.output_key != key:
            self.probe.output_key = key
            self._add_probe(self.probe)  # re-run a still image with the new choice

    def pin_layer(self, layer: str) -> bool:
        if not layer or layer in self.pins:
            return False
        if len(self.pins) >= MAX_PINS:
            self.state.show_message(f"At most {MAX_PINS} pinned layers: unpin one first.", 4000)
            return False
        probe = ActivationProbe(layer, getattr(self.state, "graph", None), name=f"{PROBE_PREFIX}pin:{layer}",
                                options=self.mosaic_options())
        pin = _Pin(layer, probe)
        pin.closed.connect(self.unpin_layer)
        self.pins[layer] = pin
        self.pins_layout.addWidget(pin, 1)
        self.pins_row.setVisible(True)
        self.layout().activate()  # the pin's view gets its size now, so its first mosaic fits it
        probe.options = self._pin_options(pin)
        pin.view.resized.connect(self._refit_pins_timer.start)  # more pins: narrower views (once it settles)
        pin.view.fitChanged.connect(lambda _fit, pin=pin: self._refit_pin(pin))
        if self.frame is not None and self.frame.layer == layer:
            pin.draw(ActivationFrame(**{**self.frame.__dict__, "mosaic": self.frame.mosaic}))
        self._apply_rate()
        self._add_probe(probe)
        return True

    def _refit_pin(self, pin: "_Pin") -> None:
        """A pin's view changed size or zoom: its next mosaics are laid out for it; the shown one is rebuilt
        now when its layout no longer fits (a still image sends no next frame)."""
        if self.pins.get(pin.layer) is not pin:
            return
        pin.probe.options = self._pin_options(pin)
        frame = pin.frame
        if frame is not None and frame.mosaic is not None and not frame.mosaic.laid_out_as(pin.probe.options):
            pin.draw(replace(frame, mosaic=build_mosaic(frame.activation, pin.probe.options)))

    def unpin_layer(self, layer: str) -> None:
        pin = self.pins.pop(layer, None)
        if pin is None:
            return
        self._drop_probe(pin.probe)
        pin.setParent(None)
        pin.deleteLater()
        self.pins_row.setVisible(bool(self.pins))

    # -- export ----------------------------------------------------------------------------------------------
    def export_png(self, path: str) -> bool:
        """Write the current mosaic as a PNG (RGB); a name without a suffix gets ".png", and a suffix OpenCV
        cannot encode is refused with a message."""
        import cv2

        if self.mosaic is None:
            self.state.show_error("No feature maps to export yet.")
            return False
        path = str(Path(path).with_suffix(".png")) if not Path(path).suffix else str(path)
        mosaic = self.mosaic
        if mosaic.shrink > 1 and self.frame is not None:  # the file gets every feature pixel, not the view's size
            mosaic = build_mosaic(self.frame.activation, replace(mosaic.options, shrink=1))
        try:
            written = cv2.imwrite(path, cv2.cvtColor(np.ascontiguousarray(mosaic.image), cv2.COLOR_RGB2BGR))
        except cv2.error:  # no encoder for the suffix
            self.state.show_error(f"Cannot write '{path}': not an image type OpenCV can write; use .png.")
            return False
        if not written:
            folder = Path(path).parent
            why = "no such folder" if not folder.is_dir() else "the folder is not writable or the disk is full"
            self.state.show_error(f"Cannot write '{path}': {why}.")
            return False
        self.state.show_message(f"Mosaic written to {path}", 4000, answer=True)
        return True

    def export_npy(self, path: str) -> bool:
        """Write the raw activations (C, H, W) float32 as .npy."""
        if self.frame is None:
            self.state.show_error("No activations to export yet.")
            return False
        try:
            np.save(str(path), self.frame.activation.detach().float().cpu().numpy())
        except OSError as exc:
            self.state.show_error(f"Cannot write '{path}': {exc.strerror or exc}.")
            return False
        self.state.show_message(f"Activations written to {path}", 4000, answer=True)
        return True

    def _choose_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export mosaic", self._default_name(".png"), "PNG (*.png)")
        if path:
            self.export_png(path)

    def _choose_npy(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export activations", self._default_name(".npy"),
                                              "NumPy array (*.npy)")
        if path:
            self.export_npy(path)

    def _default_name(self, suffix: str) -> str:
        layer = self.probe.layer if self.probe is not None else "layer"
        return layer.replace("#", "_").replace("/", "_") + suffix
