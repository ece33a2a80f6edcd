"""The dock's controls: compact widgets that flow onto as few lines as the dock's width allows, so that the
mosaic gets the height (two lines in a wide dock, more in a laptop's narrow one, never sideways scrolling).

The widgets only say what the user chose: `mosaicChanged` when a drawing option changes, `optionsEdited`
when anything the dock remembers changes; the panel acts on them."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QSlider, QSpinBox, QToolButton

from explorer.core.gradcam import TargetChoice
from explorer.core.mosaic import MosaicOptions
from explorer.ui.elided_label import ElidedLabel
from explorer.ui.feature_maps.options import COLORMAP_CHOICES, LIVE_RATES, MAX_TOP_K, RANGE_LIMIT, DockOptions
from explorer.ui.flow_layout import FlowBox, group

MAX_PINS = 4
NO_LAYER = "Select a layer in the graph to see its feature maps."


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: #616161")
    return label


def _tool_button(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return button


class Controls(FlowBox):
    """Every control of the dock, in reading order."""

    mosaicChanged = Signal()   # order, top-k, norm, range or colour map: the mosaic is drawn another way
    optionsEdited = Signal()   # anything remembered changed (the panel saves DockOptions)

    def __init__(self) -> None:
        super().__init__()
        # the layer's name has a fixed share of the first line (elided, whole in its tooltip), so that a new
        # layer moves nothing
        self.layer_label = ElidedLabel(NO_LAYER, width_chars=40)
        self.output_combo = QComboBox()
        self.output_combo.setToolTip("Which output of a multi-output module (FPN level, RPN head part)")
        self.output_combo.setVisible(False)
        self.order_combo = QComboBox()
        self.order_combo.addItems(["index", "mean", "max"])
        self.order_combo.setToolTip("Channel order: by index, or by mean or max activation (descending)")
        self.topk_spin = QSpinBox()
        self.topk_spin.setRange(0, MAX_TOP_K)
        self.topk_spin.setSpecialValueText("all")
        self.topk_spin.setToolTip("Top-k: show only the first k channels of the order (all: every channel)")
        self.topk_spin.setMaximumWidth(64)
        self.norm_combo = QComboBox()
        self.norm_combo.addItems(["channel", "layer", "fixed"])
        self.norm_combo.setToolTip("Normalise each channel, the whole layer, or a fixed range (low, high)")
        self.lo_spin, self.hi_spin = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, value, tip in ((self.lo_spin, 0.0, "low"), (self.hi_spin, 1.0, "high")):
            spin.setRange(-RANGE_LIMIT, RANGE_LIMIT)
            spin.setDecimals(3)
            spin.setValue(value)
            spin.setVisible(False)  # only with norm = fixed
            spin.setMaximumWidth(76)
            spin.setToolTip(f"Fixed range: {tip} end")
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(COLORMAP_CHOICES)
        self.colormap_combo.setToolTip("Colour map. auto: diverging (rdbu) for signed outputs, viridis for ReLU "
                                       "outputs")
        self.rate_combo = QComboBox()
        for text, rate in LIVE_RATES:
            self.rate_combo.addItem(text, rate)
        self.rate_combo.setToolTip("How often the maps refresh while a video or camera plays. Each refresh copies "
                                   "the layer and builds its mosaic, which the model's frame rate pays for; "
                                   "still images and steps always show their own maps.")
        for w in (self.order_combo, self.norm_combo, self.colormap_combo, self.output_combo):
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        self.overlay_check = QCheckBox("Overlay")
        self.overlay_check.setToolTip("Lay the large channel over the input image, upsampled")
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(DockOptions().opacity)
        self.opacity_slider.setFixedWidth(70)
        self.opacity_slider.setToolTip("Overlay opacity")
        self.gradient_check = QCheckBox("Gradient")
        self.gradient_check.setToolTip("Gradient view: on a click in the large map, show |∂activation/∂input| "
                                       "on the input image, with or without Overlay (ticked with a pixel "
                                       "chosen: its gradient at once). A pixel a ReLU holds at 0 has none.")
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("Class (classifiers) or detection (detectors) to explain with Grad-CAM")
        self.target_combo.setMinimumWidth(110)
        self.target_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.target_combo.setMinimumContentsLength(22)  # "#12 traffic light (0.87)"
        self.gradcam_button = _tool_button("Grad-CAM", "Grad-CAM (Selvaraju et al. 2017) at this layer for the "
                                           "chosen target")
        self.clear_button = _tool_button("Clear", "Clear the overlay (channel, heat map, receptive field) from "
                                         "the input image")
        self.pin_button = _tool_button("Pin", f"Keep this layer's maps in view (up to {MAX_PINS} layers side by "
                                       "side)")
        self.export_png_button = _tool_button("PNG…", "Export the mosaic as PNG")
        self.export_npy_button = _tool_button("NPY…", "Export the raw activations (C, H, W) as .npy")

        for item in (self.layer_label, self.output_combo,
                     group(_caption("order"), self.order_combo), group(_caption("top"), self.topk_spin),
                     group(_caption("norm"), self.norm_combo, self.lo_spin, self.hi_spin),
                     group(_caption("map"), self.colormap_combo), group(_caption("live"), self.rate_combo),
                     group(self.overlay_check, self.opacity_slider), self.gradient_check,
                     self.target_combo, group(self.gradcam_button, self.clear_button),
                     group(self.pin_button, self.export_png_button, self.export_npy_button)):
            self.flow.addWidget(item)

        for combo in (self.order_combo, self.norm_combo, self.colormap_combo):
            combo.currentIndexChanged.connect(self._on_mosaic_control)
        for spin in (self.topk_spin, self.lo_spin, self.hi_spin):
            spin.valueChanged.connect(self._on_mosaic_control)
        self.opacity_slider.valueChanged.connect(self.optionsEdited)
        self.rate_combo.currentIndexChanged.connect(self.optionsEdited)
        self.gradient_check.toggled.connect(self.optionsEdited)
        self.overlay_check.toggled.connect(self.optionsEdited)

    def _on_mosaic_control(self, *_args: Any) -> None:
        fixed = self.norm_combo.currentText() == "fixed"
        for spin in (self.lo_spin, self.hi_spin):
            spin.setVisible(fixed)
        self.mosaicChanged.emit()
        self.optionsEdited.emit()

    # -- options -------------------------------------------------------------------------------------------
    @property
    def live_rate(self) -> int:
        """Refreshes per second while a stream plays (0: every frame)."""
        return int(self.rate_combo.currentData() or 0)

    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def dock_options(self) -> DockOptions:
        return DockOptions(self.order_combo.currentText(), self.topk_spin.value(), self.norm_combo.currentText(),
                           self.lo_spin.value(), self.hi_spin.value(), self.colormap_combo.currentText(),
                           self.opacity_slider.value(), self.live_rate, self.gradient_check.isChecked(),
                           self.overlay_check.isChecked())

    def set_dock_options(self, options: DockOptions) -> None:
        """Show `options` (already validated: explorer.ui.feature_maps.options.load_options)."""
        self.order_combo.setCurrentText(options.order)
        self.topk_spin.setValue(options.top_k)
        self.norm_combo.setCurrentText(options.norm)
        self.lo_spin.setValue(options.low)
        self.hi_spin.setValue(options.high)
        self.colormap_combo.setCurrentText(options.colormap)
        self.opacity_slider.setValue(options.opacity)
        index = self.rate_combo.findData(options.live_rate)
        self.rate_combo.setCurrentIndex(index if index >= 0 else self.rate_combo.findData(DockOptions().live_rate))
        self.gradient_check.setChecked(options.gradient)
        self.overlay_check.setChecked(options.overlay)

    def mosaic_options(self) -> MosaicOptions:
        """The drawing options as chosen (the view's fit is the panel's to add)."""
        lo, hi = self.lo_spin.value(), self.hi_spin.value()
        if not hi > lo:
            hi = lo + 1e-3
        return MosaicOptions(order=self.order_combo.currentText(), top_k=self.topk_spin.value() or None,
                             norm=self.norm_combo.currentText(), fixed_range=(lo, hi),
                             colormap=self.colormap_combo.currentText())

    # -- lists that follow the frames ---------------------------------------------------------------------------
    def set_targets(self, choices: list[TargetChoice]) -> None:
        """Grad-CAM's targets; the chosen row is kept while the list changes frame to frame."""
        combo = self.target_combo
        items = [(c.text, c.spec) for c in choices]
        if [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())] == items:
            return  # unchanged: no relayout or repaint of the row
        row = max(0, combo.currentIndex())
        combo.blockSignals(True)
        combo.clear()
        for text, spec in items:
            combo.addItem(text, spec)
        if items:
            combo.setCurrentIndex(min(row, len(items) - 1))
        combo.blockSignals(False)

    def set_outputs(self, keys: list[str], texts: list[str], current: str) -> None:
        """The output picker of a multi-output module (hidden for one output)."""
        combo = self.output_combo
        if len(keys) > 1:
            if [combo.itemData(i) for i in range(combo.count())] != keys:
                combo.clear()
                for key, text in zip(keys, texts):
                    combo.addItem(text, key)
            combo.setCurrentIndex(keys.index(current) if current in keys else 0)
        combo.setVisible(len(keys) > 1)
