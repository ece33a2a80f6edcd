"""Grad-CAM and the gradient view in the feature-map dock: the list of targets, the requests (run by the
layer's probe in the pipeline thread after the next forward pass: explorer.core.gradcam's jobs) and their
answers, drawn as a heat map over the source image.

Grad-CAM: Selvaraju et al., "Grad-CAM", ICCV 2017. The gradient view: |∂A/∂input| of one feature pixel
(Simonyan et al. 2014), whose support is that pixel's receptive field. It is drawn whether or not Overlay is
ticked (Overlay lays the channel on the photo; the gradient is its own request). A pixel whose activation is 0
after a ReLU has a zero gradient everywhere: nothing to draw, and the info line says why (new-user trial: the
photo showed only the crop outline and no word)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.activations import ActivationFrame, ActivationProbe
from explorer.core.errors import ExplorerError
from explorer.core.gradcam import TargetChoice, gradcam_job, gradient_job, target_choices
from explorer.core.heatmaps import heat_image, saliency_image

if TYPE_CHECKING:
    from explorer.core.results import FrameResult
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.feature_maps.controls import Controls
    from explorer.ui.feature_maps.overlay import FeatureOverlay
    from explorer.ui.state import AppState

HEAT_COLORMAP = "inferno"


class Explainer:
    """The dock's explanations. `set_info` writes the line under the maps."""

    def __init__(self, state: AppState, bridge: SessionBridge, overlay: FeatureOverlay, controls: Controls,
                 set_info: Callable[[str], None]) -> None:
        self.state, self.bridge, self.overlay, self.controls = state, bridge, overlay, controls
        self.set_info = set_info
        self.targets: list[TargetChoice] = []
        self.heat_of: tuple[str, int] | None = None  # (source, frame index) the heat map shown was computed on
        self.heat_kind = ""  # "gradcam" or "gradient": what the heat map shown is

    def fill_targets(self, result: FrameResult | None) -> None:
        """Grad-CAM's targets from the newest result, as the inference table lists them (its threshold)."""
        if result is not None:
            self.targets = target_choices(result, self.state.threshold)
            self.controls.set_targets(self.targets)

    def request_gradcam(self, probe: ActivationProbe | None, target: tuple | None = None) -> bool:
        """Grad-CAM at the probe's layer for `target` (a TargetSpec), by default the one chosen in the list."""
        if probe is None:
            self.state.show_message("Select a layer first.", 3000)
            return False
        spec = target if target is not None else self.controls.target_combo.currentData()
        if spec is None:
            self.state.show_message("No class or detection to explain yet (a detector's must be above the score "
                                    "threshold of the Inference panel).", 4000)
            return False
        spec = tuple(spec)
        name = next((c.name for c in self.targets if c.spec == spec), "")
        probe.request("gradcam", gradcam_job(probe.layer, spec, name, self.state.graph, probe.output_key))
        self.bridge.rerun()  # a still image answers now; a playing stream with its next frame
        return True

    def request_gradient(self, probe: ActivationProbe | None, fy: int, fx: int, channel: int | None) -> None:
        if probe is not None:
            probe.request("gradient", gradient_job(probe.layer, fy, fx, channel, self.state.graph, probe.output_key))
            which = f"channel {channel}" if channel is not None else "all channels"
            self.state.show_message(f"Computing the gradient of {which} at (y {fy}, x {fx})…", 3000)
            self.bridge.rerun()

    def hide_gradient(self) -> None:
        """Gradient unticked: its heat map leaves the photo (a Grad-CAM map stays)."""
        if self.heat_kind == "gradient" and self.overlay.heat_shown:
            self.overlay.hide_heat()

    def on_frame(self, result: FrameResult, frame: ActivationFrame) -> None:
        """A new frame of maps: an older heat map goes, the answers that came with it are drawn."""
        key = (result.frame.source, result.frame.index)
        if self.heat_of is not None and key != self.heat_of:
            # a map explains the frame it was computed on: over another picture it misleads
            if self.overlay.heat_shown:
                self.overlay.hide_heat()
                self.set_info(f"The heat map was for frame {self.heat_of[1]} and the video moved on: pause, then ask "
                              "again to study one frame.")
            self.heat_of = None
        if self._draw_answers(frame):
            self.heat_of = key

    def _score_kind(self) -> str:
        """What Grad-CAM's y is (explorer.core.gradcam): beside the class list's probabilities a bare "score"
        read as one of them (new-user trial: "black swan 0.00" against "score 0.1166")."""
        task = self.state.handle.entry.task if self.state.handle is not None else ""
        return {"classification": "logit (before softmax)", "segmentation": "logit summed over the image",
                "detection": "detection score"}.get(task, "score")

    def _draw_answers(self, frame: ActivationFrame) -> bool:
        shown = False
        for name in ("gradcam", "gradient"):
            item = frame.extras.get(name)
            if item is None:
                continue
            if isinstance(item, ExplorerError):
                self.state.show_error(str(item))
                self.set_info(f"{'Grad-CAM' if name == 'gradcam' else 'The gradient view'}: {item}")  # stays
                continue
            if name == "gradcam":
                shown = True
                self.show_heat(heat_image(item.cam_input, HEAT_COLORMAP), frame)
                # ReLU(Σ α_k A_k) is 0 where no channel speaks for the target (Selvaraju et al. 2017, eq. 2)
                zero = "" if float(np.max(item.cam_input, initial=0.0)) > 0 else (
                    " — zero everywhere: no channel of this layer speaks for it (try an earlier layer)")
                self.set_info(f"Grad-CAM at {item.layer} for {item.target}: {self._score_kind()} "
                              f"{item.score:.4g}{zero}")
                self.heat_kind = name
            else:
                which = f"channel {item.channel}" if item.channel is not None else "all channels"
                where = f"gradient of {which} at (y {item.fy}, x {item.fx})"
                if not np.any(item.magnitude):  # nothing to draw: say so, and leave no older map to misread
                    self.overlay.hide_heat()
                    why = (f"its activation is {item.value:.4g} (a ReLU's zero), so no input pixel moves it"
                           if item.value <= 0 else "no input pixel moves it")
                    text = f"{where} is zero everywhere: {why}; click a brighter pixel of the large map"
                    self.set_info(text)
                    self.state.show_message(text, 8000, answer=True)  # the dock's info line may be out of sight
                    continue
                shown = True
                self.show_heat(saliency_image(item.magnitude, HEAT_COLORMAP), frame)  # made clearly visible
                self.heat_kind = name
                self.set_info(f"{where} (activation {item.value:.4g}) with respect to the input: the heat map on "
                              "the photo")
        return shown

    def show_heat(self, rgba: np.ndarray, frame: ActivationFrame) -> None:
        """An RGBA heat map over the model-input tensor, drawn on the source image."""
        if frame.tensor_geometry is None:
            return
        h, w = rgba.shape[:2]
        box = frame.tensor_geometry.to_source((0.0, 0.0, float(w), float(h)))
        self.overlay.show_heat(rgba, box, self.controls.opacity)

    def forget(self, *_args: Any) -> None:
        self.heat_of = None
