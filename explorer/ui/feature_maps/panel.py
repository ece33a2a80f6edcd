"""The feature-map dock: every channel of the selected layer, live, as one mosaic; a channel large and over the
input; receptive fields, gradients and Grad-CAM on the input image; up to four pinned layers side by side.

Built from the state and the session bridge alone (DESIGN.md §2). An `ActivationProbe`
(explorer.core.activations) is added to the session through `bridge.add_probe` for the selected layer only
(and one per pinned layer) and removed on change or deselection, so hooks exist only on the layers shown. The
probe builds the mosaic in the pipeline thread (on the model's device); this panel only draws
`result.extras[probe.name]`. Grad-CAM and the gradient view are requests the probe runs in the pipeline
thread after the next forward pass (explorer.core.gradcam: gradcam_job, gradient_job). The selection may be a
group the graph made ("stem", "head", a VGG stage): the state says which layer shows it, and the caption says
both ("stem → maxpool: 64×56×56").

While a video or camera plays (state.live), the maps refresh at most `rate` times a second (10 by default;
"every frame" is a choice): the copy and mosaic of a large layer cost a good part of a forward pass on a small
CPU, and the eye does not need them at the model's full rate. Stills, steps and Grad-CAM are always collected;
when a stream stops on a frame whose maps were skipped, that frame is run again (bridge.rerun: the catch-up)
so the maps match the image.

A mosaic larger than its view is built at the size the view shows it (`MosaicOptions.fit`: resnet18's conv1
mosaic is 905 pixels and the dock shows it in about 480, so its tiles are drawn as 2×2 box averages). Zooming
into the mosaic rebuilds it at full size, keeping the same place in view; a double click fits it again.

What it draws over the image is a FeatureOverlay owned by this panel (shown while the dock can be seen,
cleared with the model or the source); the geometry (feature pixel → source pixels) is explorer.core.receptive's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from explorer.core.activations import ActivationFrame, ActivationProbe, UnknownLayerError, resolve_layer
from explorer.core.errors import ExplorerError
from explorer.core.mosaic import Mosaic, MosaicOptions, build_mosaic, channel_image, value_at
from explorer.core.receptive import FieldGeometry, backbone_size, feature_field, layer_field_geometry
from explorer.ui.export_dialog import ask_export_path
from explorer.ui.feature_maps import export
from explorer.ui.feature_maps.channel_view import ChannelView
from explorer.ui.feature_maps.controls import NO_LAYER, Controls
from explorer.ui.feature_maps.explain import Explainer
from explorer.ui.feature_maps.on_image import channel_picture, field_text
from explorer.ui.feature_maps.image_view import ImageView, carried_range
from explorer.ui.feature_maps.options import load_options, save_options
from explorer.ui.feature_maps.overlay import FeatureOverlay, input_region
from explorer.ui.feature_maps.pins import PinRow
from explorer.ui.feature_maps.top_patches import TopPatchesView
from explorer.ui.overlay_base import legend_label, show_legend
from explorer.ui.settings import open_settings

if TYPE_CHECKING:
    from explorer.core.results import FrameResult
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState, Selection

PROBE_PREFIX = "featuremaps:"
NO_PLACE = ("This layer's outputs have no place on the image (after flatten or a fully connected layer an output "
            "sees the whole image; after RoI pooling, a whole region): no receptive field, no overlay.")


class FeatureMapsPanel(QWidget):
    """Dock panel: follows the state's selection, draws the probe data of the state's results."""

    def __init__(self, state: AppState, bridge: SessionBridge) -> None:
        super().__init__()
        self.state, self.bridge = state, bridge
        self.settings = open_settings()
        self.probe: ActivationProbe | None = None
        self.frame: ActivationFrame | None = None
        self.mosaic: Mosaic | None = None
        self.channel: int | None = None                  # the channel shown large
        self.feature_pixel: tuple[int, int] | None = None
        self.overlay_cleared = False  # Clear: no channel on the image until one is chosen again (Overlay stays on)
        self.last_result: FrameResult | None = None
        self._hover: tuple[str, int, int, int] | None = None  # the info line describes this hover: redo per frame
        self._caught_up_frame: Any = None  # the frame last run again: never twice (a layer may not run at all)
        self.overlay = FeatureOverlay(owner=self, on_clear=self._on_overlay_cleared,
                                      on_legend=lambda: show_legend(self.legend, self.overlay))
        self._build()
        self.explainer = Explainer(state, bridge, self.overlay, self.controls, self._set_info)
        self.controls.set_dock_options(load_options(self.settings))
        self.controls.optionsEdited.connect(lambda: save_options(self.settings, self.controls.dock_options()))

        state.selectionChanged.connect(self._on_selection)
        state.resultReady.connect(self.on_result)
        state.thresholdChanged.connect(lambda _v: self.explainer.fill_targets(state.result))
        state.modelChanged.connect(self._on_model_changed)
        state.graphChanged.connect(self._on_graph_changed)
        state.liveChanged.connect(self._on_live_changed)
        state.add_overlay(self.overlay)
        if state.selection:
            self._on_selection(state.selection)

    # -- widgets ---------------------------------------------------------------------------------------------
    def _build(self) -> None:
        c = self.controls = Controls()
        c.output_combo.activated.connect(lambda i: self.set_output(c.output_combo.itemData(i)))
        c.mosaicChanged.connect(self._on_options_changed)
        c.rate_combo.currentIndexChanged.connect(lambda _i: self._apply_rate())
        c.overlay_check.toggled.connect(self._on_overlay_toggled)
        c.gradient_check.toggled.connect(self._on_gradient_toggled)
        c.opacity_slider.valueChanged.connect(lambda _v: self.overlay.set_opacity(c.opacity))
        c.gradcam_button.clicked.connect(lambda: self.request_gradcam())
        c.clear_button.clicked.connect(self.clear_overlay)
        c.pin_button.clicked.connect(lambda: self.pin_layer(self.state.selected_layer))
        c.export_png_button.clicked.connect(self._choose_png)
        c.export_npy_button.clicked.connect(self._choose_npy)

        self.mosaic_view = ImageView()
        self.mosaic_view.hovered.connect(self._on_mosaic_hover)
        self.mosaic_view.clicked.connect(self._on_mosaic_click)
        self.mosaic_view.resized.connect(lambda: self._regrid_timer.start())
        self.mosaic_view.fitChanged.connect(lambda _fit: self._regrid())  # zoomed in: full detail; fitted: shrunk
        self.channel_view = ChannelView()
        self.channel_view.hovered.connect(self._on_large_hover)
        self.channel_view.clicked.connect(self.select_feature_pixel)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.mosaic_view)
        self.splitter.setChildrenCollapsible(False)
        self.pins = PinRow(self.state, self.bridge, lambda view, shown: self._view_options(
            self.controls.mosaic_options(), view, shown), PROBE_PREFIX)
        # the clicked channel beside its top patches over a folder (issue 20), in the channel's share of the width:
        # the mosaic keeps its own; "Index" takes the shown and pinned layers
        self.top_patches = TopPatchesView(self.state, self.bridge, self.overlay,
                                          lambda: [probe.layer for probe in self._probes()])
        self.top_patches.patchOpened.connect(self._ring_pixel)
        self.channel_pane = QSplitter(Qt.Orientation.Horizontal)
        self.channel_pane.addWidget(self.channel_view)
        self.channel_pane.addWidget(self.top_patches)
        self.channel_pane.setChildrenCollapsible(False)
        self.channel_pane.setSizes([200, 300])  # scaled to the width it gets: the patches the larger share
        self.splitter.addWidget(self.channel_pane)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.info_label = QLabel("")
        self.info_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.legend = legend_label()  # what the lines on the image are (the model input's outline), as other docks
        # a timer, so that a burst of signals (pause, then the result in flight) runs the catch-up once
        self._catch_up_timer = QTimer(self)
        self._catch_up_timer.setSingleShot(True)
        self._catch_up_timer.timeout.connect(self._catch_up)
        # re-tile the mosaic to the view's shape once a resize settles (a wide view: more columns)
        self._regrid_timer = QTimer(self)
        self._regrid_timer.setSingleShot(True)
        self._regrid_timer.setInterval(150)
        self._regrid_timer.timeout.connect(self._regrid)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        lay.addWidget(self.controls)
        lay.addWidget(self.legend)
        lay.addWidget(self.splitter, 3)
        lay.addWidget(self.pins, 2)
        lay.addWidget(self.info_label)

    # -- probes and the live rate ------------------------------------------------------------------------------
    def _probes(self) -> list[ActivationProbe]:
        return ([self.probe] if self.probe is not None else []) + self.pins.probes

    def set_live_rate(self, rate: int) -> None:
        """Refreshes per second while a stream plays: 0 (every frame), 20, 10 or 5 (what the "live" box offers)."""
        index = self.controls.rate_combo.findData(int(rate))
        if index < 0:
            raise ValueError(f"live rate {rate} is not offered (0, 20, 10 or 5)")
        self.controls.rate_combo.setCurrentIndex(index)

    def _interval(self) -> float:
        rate = self.controls.live_rate
        return 1.0 / rate if self.state.live and rate > 0 else 0.0

    def _apply_rate(self) -> None:
        """Limit the probes' collection while a stream plays; stills and paused streams get every frame's maps."""
        if self.probe is not None:
            self.probe.min_interval_s = self._interval()
        self.pins.set_interval(self._interval())

    def _drop_probe(self) -> None:
        """Remove the layer's probe from the session and its hooks from the model now: the pipeline would take
        them off only before its next frame, which never comes for a still image (removing a hook during a
        forward pass is safe: torch iterates over a copy of the hook dict)."""
        if self.probe is not None:
            self.bridge.remove_probe(self.probe.name)
            self.probe.detach()
            self.probe = None

    def _missing_maps(self, result: Any) -> bool:
        """Some probe (the layer's or a pin's) has no maps in `result`: its pass was skipped for the rate."""
        extras = result.extras or {}
        return any(not probe.error and not isinstance(extras.get(probe.name), ActivationFrame)
                   for probe in self._probes())

    def _on_live_changed(self, live: bool) -> None:
        self._apply_rate()
        if not live:  # paused, stepped, ended: the frame on screen gets its maps
            self._catch_up_timer.start(0)

    def _catch_up(self) -> None:
        """Run the frame on screen again when the stream stopped on a frame whose maps were skipped."""
        state, result = self.state, self.state.result
        if result is None or state.live or state.pending or not self._missing_maps(result):
            return
        if result.frame is self._caught_up_frame:
            return
        self._apply_rate()
        if self.bridge.rerun():
            self._caught_up_frame = result.frame

    # -- layer selection -----------------------------------------------------------------------------------
    def _on_selection(self, selection: Selection) -> None:
        self.set_layer(selection.layer)
        if self.frame is not None:
            self._show_caption()

    def _name(self, layer: str) -> str:
        """How the caption names `layer`: with the group it shows ("stem → maxpool") when one was selected."""
        item = self.state.selection.item
        return f"{item} → {layer}" if item and item != layer and self.state.selection.layer == layer else layer

    def set_layer(self, layer: str, force: bool = False) -> None:
        """One probe on `layer` (the selection's); none for "". `force`: a new one even for the same layer (a
        new model and graph)."""
        if self.probe is not None and self.probe.layer == layer and not force:
            return
        self._drop_probe()
        self.frame = self.mosaic = None
        self.channel = None
        self.top_patches.set_target(layer, None)
        self.mosaic_view.set_image(None)
        self.channel_view.set_image(None)
        self.controls.output_combo.setVisible(False)
        self.overlay.clear()
        self._set_info("")
        if not layer:
            self.controls.layer_label.setText(NO_LAYER)
            return
        handle = self.state.handle
        if handle is not None:
            try:
                resolve_layer(handle.model, layer, self.state.graph)
            except UnknownLayerError as exc:
                self.controls.layer_label.setText(str(exc))
                return
        self.controls.layer_label.setText(f"{self._name(layer)}: waiting for a frame…")
        self.probe = ActivationProbe(layer, self.state.graph, name=PROBE_PREFIX + layer,
                                     options=self.mosaic_options())
        self._apply_rate()
        self.bridge.add_probe(self.probe)  # a still (or a paused stream) runs again at once

    def _on_model_changed(self, _handle: Any) -> None:
        # the old layer names may not exist in the new model; the probes hold the old graph: new ones follow
        self.pins.clear()
        self._drop_probe()

    def _on_graph_changed(self, _graph: Any) -> None:
        self.set_layer(self.state.selection.layer, force=True)

    # -- options ---------------------------------------------------------------------------------------------
    def mosaic_options(self) -> MosaicOptions:
        return self._view_options(self.controls.mosaic_options(), self.mosaic_view, self.mosaic)

    @staticmethod
    def _view_options(opts: MosaicOptions, view: ImageView, shown: Mosaic | None) -> MosaicOptions:
        """`opts` for the mosaic `view` shows: fitted, the columns and shrink are chosen for the view's device
        pixels where the mosaic is built (explorer.core.mosaic.layout_for: the pipeline knows the layer's shape
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
        if self.frame is not None and self.mosaic is not None and not self.mosaic.laid_out_as(self.mosaic_options()):
            self._on_options_changed()

    def set_options(self, **kwargs: Any) -> None:
        """Set controls by name (order, top_k, norm, fixed_range, colormap): what a user does with them."""
        c = self.controls
        if "order" in kwargs:
            c.order_combo.setCurrentText(kwargs["order"])
        if "top_k" in kwargs:
            c.topk_spin.setValue(int(kwargs["top_k"] or 0))
        if "norm" in kwargs:
            c.norm_combo.setCurrentText(kwargs["norm"])
        if "fixed_range" in kwargs:
            c.lo_spin.setValue(float(kwargs["fixed_range"][0]))
            c.hi_spin.setValue(float(kwargs["fixed_range"][1]))
        if "colormap" in kwargs:
            c.colormap_combo.setCurrentText(kwargs["colormap"])
        self._on_options_changed()

    def _on_options_changed(self) -> None:
        """Redraw now from the last activations (mosaic only, no model run); the probes take the new options
        for the next frames (the pipeline reads them once per frame)."""
        if self.probe is not None:
            self.probe.options = self.mosaic_options()
        if self.frame is not None:
            self._draw_frame(self.frame, rebuild=True)
        self.pins.redraw()

    # -- results -------------------------------------------------------------------------------------------
    def on_result(self, result: FrameResult) -> None:
        self.last_result = result
        self._apply_rate()
        extras = result.extras or {}
        live = self.state.live
        missing = self._missing_maps(result)  # False without probes
        if not live or not missing:
            self.explainer.fill_targets(result)  # while a stream plays: at the maps' rate, not at every frame
        if not live and missing:
            self._catch_up_timer.start(0)  # a step or the last frame before a pause came without maps
        self.pins.draw(extras)
        if self.probe is None:
            return
        frame = extras.get(self.probe.name)
        if isinstance(frame, ActivationFrame):
            self._place_input(frame, result)
            self._draw_frame(frame)
            self._refresh_hover()
            self.explainer.on_frame(result, frame)
        elif self.probe.error:
            self.controls.layer_label.setText(self.probe.error)

    def _draw_frame(self, frame: ActivationFrame, rebuild: bool = False) -> None:
        previous = self.mosaic
        self.frame = frame
        opts = self.mosaic_options()
        if not rebuild and frame.mosaic is not None and frame.mosaic.num_tiles > 0 and not frame.mosaic.laid_out_as(opts):
            rebuild = True  # built for another view (first frame of a layer, new shape, zoom): next ones fit
            if self.probe is not None:
                self.probe.options = opts
        if rebuild or frame.mosaic is None:
            try:
                frame.mosaic = build_mosaic(frame.activation, opts)
            except ValueError as exc:  # nothing to tile (no detections: an empty box tensor)
                self.mosaic = None
                self.mosaic_view.set_image(None)
                self.channel_view.set_image(None)
                self.controls.layer_label.setText(f"{self._name(frame.layer)}: {frame.note or exc}")
                return
        self.mosaic = frame.mosaic
        self.mosaic_view.set_image(self.mosaic.rgba, carried_range(self.mosaic_view, previous, self.mosaic))
        self.controls.set_outputs(frame.output_keys, [self._output_text(frame.layer, k) for k in frame.output_keys],
                                  frame.output_key)
        self._show_caption()
        if frame.note and not self.info_label.text():  # the caption may be cut: the line below has room
            self._set_info(frame.note)
        if self.channel is not None and self.channel < frame.shape[0]:
            self._draw_channel()
        elif self.channel is not None:
            self.channel = None
            self.channel_view.set_image(None)

    def _show_caption(self) -> None:
        """"stem → maxpool: 64×56×56, viridis" (+ the output picked, the top k shown, notes)."""
        frame, mosaic = self.frame, self.mosaic
        if frame is None or mosaic is None:
            return
        c, h, w = frame.shape
        out = f" [{frame.output_key}]" if len(frame.output_keys) > 1 else ""
        shown = f", top {mosaic.num_tiles}" if mosaic.num_tiles < c else ""
        note = f" — {frame.note}" if frame.note else ""
        norm = ", normalised over the layer (1×1 maps)" if mosaic.norm != mosaic.options.norm else ""
        self.controls.layer_label.setText(f"{self._name(frame.layer)}{out}: {c}×{h}×{w}{shown}, {mosaic.colormap}"
                                          f"{norm}{note}")

    def _output_text(self, layer: str, key: str) -> str:
        """The picker's text for output `key` of `layer`: the key and the module inside that produced it
        ("0.1 · cls_logits#1": the RPN head's objectness at FPN level 1), as the graph names it."""
        graph = self.state.graph
        info = graph.modules.get(layer) if graph is not None else None
        node = info.outputs.get(key, "") if info is not None else ""
        inner = node[len(layer) + 1:] if layer and node.startswith(layer + ".") else node
        return f"{key} · {inner}" if inner else key

    def set_output(self, key: str) -> None:
        """Pick one output of a multi-output module (an FPN level ...): applies from the next frame."""
        if self.probe is not None and self.probe.output_key != key:
            self.probe.output_key = key
            self.bridge.rerun()  # a still image shows the new choice now

    # -- mosaic interaction ----------------------------------------------------------------------------------
    def describe(self, x: float, y: float) -> str:
        """Hover text for mosaic pixel (x, y): channel, position and raw value."""
        hit = self.mosaic.locate(x, y) if self.mosaic is not None and self.frame is not None else None
        return self._describe_feature(hit.channel, hit.fy, hit.fx) if hit is not None else ""

    def _describe_feature(self, channel: int, fy: int, fx: int) -> str:
        """Hover text for feature pixel (fy, fx) of `channel` in the shown frame ('' when not in the mosaic)."""
        t = self.mosaic.tile_of_channel(channel) if self.mosaic is not None and self.frame is not None else None
        if t is None or not self.frame.contains(channel, fy, fx):
            return ""
        v = value_at(self.frame.activation, channel, fy, fx)
        m = self.mosaic
        return (f"channel {channel}  (y {fy}, x {fx}) = {v:.4g}   "
                f"[min {m.tile_min[t]:.3g}, max {m.tile_max[t]:.3g}, mean {m.tile_mean[t]:.3g}]")

    def _on_mosaic_hover(self, x: float, y: float) -> None:
        hit = self.mosaic.locate(x, y) if self.mosaic is not None else None
        text = self._describe_feature(hit.channel, hit.fy, hit.fx) if hit is not None else ""
        if text:  # kept as the feature pixel: a rebuilt mosaic (zoom, new shrink) puts it elsewhere
            self._set_info(text, ("mosaic", hit.channel, hit.fy, hit.fx))

    def _on_large_hover(self, fy: int, fx: int) -> None:
        if self.frame is not None and self.channel is not None and self.frame.contains(self.channel, fy, fx):
            v = value_at(self.frame.activation, self.channel, fy, fx)
            self._set_info(f"channel {self.channel}  (y {fy}, x {fx}) = {v:.4g}", ("large", self.channel, fy, fx))

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
        # the pixel may be gone (another top-k, another channel large): then the line no longer describes it
        self._set_info(text, self._hover if text else None)

    def _on_mosaic_click(self, x: float, y: float) -> None:
        hit = self.mosaic.locate(x, y) if self.mosaic is not None else None
        if hit is not None:
            self.select_channel(hit.channel)

    def select_channel(self, channel: int | None) -> None:
        """Show `channel` large (and over the input when the overlay is on)."""
        self.channel = channel
        self.feature_pixel = None
        self.overlay_cleared = False
        self.overlay.hide_field()
        self.top_patches.field_replaced(None)  # the opened patch's field left the image: its tile's frame goes
        self.top_patches.set_target(self.probe.layer if self.probe is not None else "", channel,
                                    self.frame.output_key if self.frame is not None else "")
        self.channel_view.show_pixel(None)
        if channel is None:
            self.channel_view.set_image(None)
            self.overlay.hide_channel()
            return
        self._draw_channel()

    def _ring_pixel(self, fy: int, fx: int) -> None:
        """A top patch's image was opened (its field is on it): ring its feature pixel in the large channel."""
        self.feature_pixel = (fy, fx)
        self.channel_view.show_pixel(self.feature_pixel if self.channel is not None else None)

    def _colormap(self) -> str:
        return self.mosaic.colormap if self.mosaic is not None else "viridis"

    def _draw_channel(self) -> None:
        if self.frame is None or self.channel is None:
            return
        self.channel_view.set_image(channel_image(self.frame.activation, self.channel, self._colormap()))
        self.channel_view.show_pixel(self.feature_pixel)
        self._update_overlay_channel()

    # -- the image: overlay, receptive field ------------------------------------------------------------------
    def _field(self) -> tuple[FieldGeometry | None, bool]:
        """(the shown output's receptive-field geometry, whether it has a place on the image). Without graph
        data the layer still lies on the image, spread over the whole input."""
        if self.frame is None or self.state.graph is None:
            return None, True
        try:
            return layer_field_geometry(self.state.graph, self.frame.layer, self.frame.output_key), True
        except UnknownLayerError:
            return None, True
        except ExplorerError:  # after flatten or fc, RoI pooling's regions
            return None, False

    def _backbone_size(self) -> tuple[int, int]:
        frame = self.frame
        assert frame is not None and frame.input_size is not None and frame.geometry is not None
        return backbone_size(frame.input_size, frame.geometry, frame.tensor_geometry)

    def _place_input(self, frame: ActivationFrame, result: FrameResult) -> None:
        """Tell the overlay where the model input lies on the image (outlined while a map covers it)."""
        geometry = frame.tensor_geometry  # the tensor the engine made: what Grad-CAM covers, and the maps
        if geometry is None or frame.input_size is None:
            self.overlay.set_input_region(None)
            return
        self.overlay.set_input_region(input_region(frame.input_size, geometry, result.frame.image.shape[:2]))

    def _on_overlay_toggled(self, on: bool) -> None:
        if on:  # ticked again after a Clear: the user asks for the channel on the image
            self.overlay_cleared = False
        self._update_overlay_channel()

    def _update_overlay_channel(self) -> None:
        frame = self.frame
        if (not self.controls.overlay_check.isChecked() or frame is None or self.channel is None
                or self.overlay_cleared):
            self.overlay.hide_channel()
            return
        field, placed = self._field()
        if not placed:
            self.overlay.hide_channel()
            self._set_info(NO_PLACE)
            return
        if frame.geometry is None or frame.input_size is None:
            return
        rgba, box, text = channel_picture(frame, self.channel, field, self._backbone_size(), self._colormap())
        self.overlay.show_channel(rgba, box, self.controls.opacity, text)

    def select_feature_pixel(self, fy: int, fx: int) -> tuple[float, float, float, float] | None:
        """Draw the receptive field of feature pixel (fy, fx) on the input image (source pixels); with the
        gradient view on, ask for |∂A/∂input| too. Returns the box drawn (None: no place, or not a pixel)."""
        frame = self.frame
        if frame is not None and not frame.contains(0, fy, fx):
            return None
        self.feature_pixel = (fy, fx)
        self.channel_view.show_pixel((fy, fx) if self.channel is not None else None)
        field, _ = self._field()
        if frame is None or field is None or frame.geometry is None or frame.input_size is None:
            self.state.show_message(NO_PLACE, 5000)
            return None
        source = self.last_result.frame.image.shape[:2] if self.last_result is not None else None
        ff = feature_field(field, fy, fx, frame.geometry, self._backbone_size(), source)
        text = field_text(ff, self._backbone_size())
        self.overlay.show_field(ff.source_box, ff.source_clipped, text)
        self.top_patches.field_replaced(ff.source_box)  # another field: the opened tile no longer stands for it
        self._set_info(text.info)
        if self.controls.gradient_check.isChecked():
            self.request_gradient(fy, fx)
        return ff.source_box

    def _on_gradient_toggled(self, on: bool) -> None:
        """Ticked with a pixel chosen: its gradient now (no second click); unticked: the gradient leaves."""
        if on and self.feature_pixel is not None and self.frame is not None and self.channel is not None:
            self.request_gradient(*self.feature_pixel)
        elif not on:
            self.explainer.hide_gradient()

    def clear_overlay(self) -> None:
        """Clear: take the channel, heat map and receptive field off the image. Overlay keeps its tick (the
        user's preference); the channel comes back on the image when a channel is chosen again."""
        self.overlay.clear()
        self.overlay_cleared = True
        self._set_info("")
        self.top_patches.unsay_marked()

    def _on_overlay_cleared(self) -> None:
        """The pictures on the image are gone (Clear, a new layer, model or source): so are their marks here (the
        ring in the large channel, the opened patch's frame)."""
        self.feature_pixel = None
        self.channel_view.show_pixel(None)
        self.top_patches.forget_opened()
        self.explainer.forget()

    # -- Grad-CAM and gradients (explain.py) -----------------------------------------------------------------
    def request_gradcam(self, target: tuple | None = None) -> bool:
        """Ask for Grad-CAM at the selected layer for `target` (a TargetSpec of explorer.core.gradcam), by
        default the one chosen in the list. The answer arrives with the next frame."""
        return self.explainer.request_gradcam(self.probe, target)

    def request_gradient(self, fy: int, fx: int) -> None:
        self.explainer.request_gradient(self.probe, fy, fx, self.channel)

    # -- pins and exports ----------------------------------------------------------------------------------------
    def pin_layer(self, layer: str) -> bool:
        shown = self.frame if self.frame is not None and self.frame.layer == layer else None
        return self.pins.pin(layer, self._interval(), shown)

    def unpin_layer(self, layer: str) -> None:
        self.pins.unpin(layer)

    def export_png(self, path: str) -> bool:
        """Write the current mosaic as a PNG figure with every feature pixel, titled (see export.export_png)."""
        if self.mosaic is None:
            self.state.show_error("No feature maps to export yet.")
            return False
        handle, frame = self.state.handle, self.frame
        layer = self._name(frame.layer) + (f" [{frame.output_key}]" if len(frame.output_keys) > 1 else "")
        return self._exported(lambda: export.export_png(path, self.mosaic, frame.activation,
                                                        handle.name if handle is not None else "", layer), "Mosaic")

    def export_npy(self, path: str) -> bool:
        """Write the raw activations (C, H, W) float32 as .npy."""
        if self.frame is None:
            self.state.show_error("No activations to export yet.")
            return False
        return self._exported(lambda: export.export_npy(path, self.frame.activation), "Activations")

    def _exported(self, write: Any, what: str) -> bool:
        try:
            written = write()
        except ExplorerError as exc:
            self.state.show_error(str(exc))
            return False
        self.state.show_message(f"{what} written to {written}", 4000, answer=True)
        return True

    def _choose_png(self) -> None:
        path = ask_export_path(self, "Export mosaic", self._default_name(".png"), "PNG (*.png)")
        if path:
            self.export_png(path)

    def _choose_npy(self) -> None:
        path = ask_export_path(self, "Export activations", self._default_name(".npy"), "NumPy array (*.npy)")
        if path:
            self.export_npy(path)

    def _default_name(self, suffix: str) -> str:
        return export.default_name(self.probe.layer if self.probe is not None else "", suffix)
