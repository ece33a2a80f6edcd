"""Grad-CAM and input gradients: which input pixels drive a score or one feature-map pixel.

Grad-CAM (Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra. "Grad-CAM: Visual Explanations from Deep
Networks via Gradient-based Localization", ICCV 2017, eq. 1-2): for the activation A (K maps) of a layer and
a score y, the weight of map k is the global average of the gradient, α_k = (1/Z) Σ_ij ∂y/∂A^k_ij, and the map
is L = ReLU(Σ_k α_k A^k), upsampled (bilinear) to the input size.

The score y is
- a class logit for a classifier (the model's output before softmax, as in the paper);
- a detection's score for torchvision's detectors: the model runs in eval mode with gradients on, and y is
  `output[0]["scores"][i]` of the detection that matches the chosen one (same label, box IoU >= 0.5). The
  score is softmax(box-classifier logits) of that detection's proposal; gradients flow through the RoI heads,
  RoIAlign and the backbone (the RPN's proposals are detached by torchvision, which is right: the box is
  fixed, its score is explained). `proposal_logit_target` is the alternative the brief allows: the raw
  box-classifier logit of one proposal, for models whose post-processing cannot be differentiated.

The gradient view (`input_gradient`) is the magnitude of ∂A[c, y, x]/∂input, max over RGB (Simonyan, Vedaldi,
Zisserman, "Deep Inside Convolutional Networks", 2014, saliency maps; for one unit it shows the effective
receptive field of Luo et al., NeurIPS 2016). Its non-zero support lies inside the theoretical receptive field.

These run a separate forward (and backward) pass with gradients, outside inference mode: they are meant to run
in the inference worker (for instance from a probe's collect), never on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.activations import pick_output, resolve_layer
from explorer.core.errors import ExplorerError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explorer.core.graph import ModelGraph

Target = Callable[[Any], "torch.Tensor"]   # model output -> scalar score to explain
Forward = Callable[["nn.Module", "torch.Tensor"], Any]


@dataclass
class GradCamResult:
    cam: np.ndarray              # (h, w) float32 at the layer's resolution, ReLU(Σ α_k A^k), not normalised
    cam_input: np.ndarray        # (H, W) float32 upsampled to the model input, scaled to 0..1 (all 0 if cam is)
    weights: np.ndarray          # (K,) α_k
    score: float                 # the explained score y
    target: str                  # what y is ("class 281", "detection 0 (cat, 0.91)")
    layer: str


@dataclass
class InputGradient:
    magnitude: np.ndarray        # (H, W) float32: max over RGB of |∂A[c, fy, fx] / ∂input|
    channel: int | None          # None: the sum over all channels at (fy, fx)
    fy: int
    fx: int
    value: float                 # the activation value explained


class _Stop(Exception):
    """Raised by a hook to end a forward pass early (nothing after the layer is needed)."""


def default_forward(model: "nn.Module", x: "torch.Tensor") -> Any:
    """How the engine calls a model: detectors take a list of images, classifiers a batch."""
    if _is_detector(model):
        return model([x[0]])
    return model(x)


def _is_detector(model: "nn.Module") -> bool:
    return hasattr(model, "roi_heads") and hasattr(model, "rpn") and hasattr(model, "transform")


def _named(text: str, name: str) -> str:
    """A target's description with the class's name where known: "class 3" -> "class 3 (rectangle)"."""
    return f"{text} ({name})" if name and name != text.rsplit(' ', 1)[-1] else text


def class_target(index: int, name: str = "") -> Target:
    """y = the logit of class `index` (classifier output (1, classes); segmentation "out": its spatial sum)."""

    def target(output: Any) -> "torch.Tensor":
        if isinstance(output, dict) and "out" in output:   # FCN: a class's score over the whole image
            return output["out"][0, index].sum()
        if isinstance(output, (tuple, list)):               # GoogLeNet/Inception with aux heads
            output = output[0]
        return output[0, index]

    target.description = _named(f"class {index}", name)  # type: ignore[attr-defined]
    return target


def detection_target(box: tuple[float, float, float, float], label: int, min_iou: float = 0.5,
                     name: str = "") -> Target:
    """y = the score of the detection with label `label` whose box (model-input pixels) overlaps `box` most."""

    def target(output: Any) -> "torch.Tensor":
        import torch
        from torchvision.ops import box_iou

        det = output[0] if isinstance(output, (list, tuple)) and output else None
        if not isinstance(det, dict) or not {"boxes", "labels", "scores"} <= det.keys():
            raise ExplorerError("this model's output holds no detections (boxes, labels, scores) to explain")
        boxes, labels, scores = det["boxes"], det["labels"], det["scores"]
        same = (labels == int(label)).nonzero().flatten()
        if len(same) == 0:
            raise ExplorerError("the chosen detection is not found again: no detection with its label")
        ious = box_iou(torch.tensor([box], dtype=boxes.dtype, device=boxes.device), boxes[same].detach())[0]
        best = int(torch.argmax(ious))
        if float(ious[best]) < min_iou:
            raise ExplorerError("the chosen detection is not found again (its box moved); pick it again")
        return scores[same[best]]

    target.description = _named(f"detection of class {label}", name)  # type: ignore[attr-defined]
    return target


def yolo_cell_target(row: int, col: int, label: int, S: int, B: int, C: int, layout: str = "darknet",
                     box: int | None = None, name: str = "") -> Target:
    """y = YOLOv1's class-specific confidence score of box `box` of grid cell (row, col) for class `label`:
    confidence × Pr(class | object) (Redmon et al. 2016, section 2, eq. 1: what detect() ranks by); without
    `box`, the best of the cell's B boxes."""

    def target(output: Any) -> "torch.Tensor":
        v = output.reshape(-1)
        cell = row * S + col
        if layout == "darknet":  # S·S·C probabilities, then S·S·B confidences, then boxes (explorer.core.yolo)
            prob = v[cell * C + label]
            conf = v[S * S * C + cell * B: S * S * C + (cell + 1) * B]
        else:  # "cells": per cell [x, y, w, h, confidence] × B, then the C probabilities
            values = v.reshape(S, S, B * 5 + C)[row, col]
            prob = values[B * 5 + label]
            conf = values[: B * 5].reshape(B, 5)[:, 4]
        return conf[box] * prob if box is not None else (conf * prob).max()

    which = f", box {box}" if box is not None else ""
    target.description = f"{_named(f'class {label}', name)} at cell ({row}, {col}){which}"  # type: ignore[attr-defined]
    return target


def proposal_logit_target(model: "nn.Module", proposal: int, label: int) -> tuple[Target, Callable[[], None]]:
    """y = the box-classifier logit of class `label` for proposal number `proposal` (torchvision detectors).

    Returns (target, remove): a hook on `roi_heads.box_predictor` keeps its class logits during the pass.
    """
    kept: dict[str, Any] = {}

    def hook(module: Any, args: Any, output: Any) -> None:
        kept["logits"] = output[0]

    handle = model.roi_heads.box_predictor.register_forward_hook(hook)

    def target(output: Any) -> "torch.Tensor":
        return kept["logits"][proposal, label]

    target.description = f"proposal {proposal}, class {label}"  # type: ignore[attr-defined]
    return target, handle.remove


def _prepare_input(input_tensor: "torch.Tensor") -> "torch.Tensor":
    # the engine's tensor may be an inference tensor: a clone made outside inference mode can need grad
    x = input_tensor.detach().clone()
    x.requires_grad_(True)  # so every activation needs grad even where parameters are frozen
    return x


def grad_cam(model: "nn.Module", layer: str, input_tensor: "torch.Tensor", target: Target | int,
             graph: "ModelGraph | None" = None, output_key: str | None = None,
             forward: Forward | None = None) -> GradCamResult:
    """Grad-CAM of `target` (a class index or a Target) at `layer` for one input (batch 1, on the model's
    device)."""
    import torch
    import torch.nn.functional as F

    if isinstance(target, int):
        target = class_target(target)
    ref = resolve_layer(model, layer, graph)
    module = model.get_submodule(ref.module_path) if ref.module_path else model
    kept: dict[str, Any] = {}
    calls = [0]

    def hook(mod: Any, args: Any, output: Any) -> Any:
        call = calls[0]
        calls[0] += 1
        if call != ref.call_index:
            return None
        kept["act"] = pick_output(output, output_key)[1]
        if isinstance(output, torch.Tensor):
            # the rest of the network gets a copy: an in-place ReLU after a conv must not overwrite A
            return output.clone()
        return None

    handle = module.register_forward_hook(hook)
    try:
        with torch.inference_mode(False), torch.enable_grad():
            x = _prepare_input(input_tensor)
            output = (forward or default_forward)(model, x)
            if "act" not in kept:
                raise ExplorerError(f"layer '{layer}' did not run during the forward pass")
            act = kept["act"]
            score = target(output)
            if score.dim() != 0:
                raise ExplorerError("the Grad-CAM target must be one score")
            (grad,) = torch.autograd.grad(score, act, allow_unused=True)
            if grad is None:
                raise ExplorerError(f"the score does not depend on layer '{layer}'")
            a = act.detach()[0] if act.dim() == 4 else act.detach()
            g = grad[0] if grad.dim() == 4 else grad
            if a.dim() != 3:
                raise ExplorerError(f"Grad-CAM needs a layer with feature maps; '{layer}' gives shape "
                                    f"{tuple(act.shape)}")
            weights = g.mean(dim=(1, 2))                                   # α_k (eq. 1)
            cam = torch.relu((weights[:, None, None] * a).sum(0))          # eq. 2
            h_in, w_in = x.shape[-2:]
            up = F.interpolate(cam[None, None], size=(h_in, w_in), mode="bilinear", align_corners=False)[0, 0]
            peak = up.max()
            up = up / peak if float(peak) > 0 else up
    finally:
        handle.remove()
    return GradCamResult(cam=cam.float().cpu().numpy(), cam_input=up.float().cpu().numpy(),
                         weights=weights.float().cpu().numpy(), score=float(score.detach()),
                         target=getattr(target, "description", "score"), layer=layer)


def input_gradient(model: "nn.Module", layer: str, input_tensor: "torch.Tensor", fy: int, fx: int,
                   channel: int | None = None, graph: "ModelGraph | None" = None,
                   output_key: str | None = None, forward: Forward | None = None) -> InputGradient:
    """|∂A[channel, fy, fx] / ∂input| (max over RGB) at model-input resolution; the forward pass stops at the
    layer."""
    import torch

    ref = resolve_layer(model, layer, graph)
    module = model.get_submodule(ref.module_path) if ref.module_path else model
    kept: dict[str, Any] = {}
    calls = [0]

    def hook(mod: Any, args: Any, output: Any) -> None:
        if calls[0] == ref.call_index:
            kept["act"] = pick_output(output, output_key)[1]
            raise _Stop
        calls[0] += 1

    handle = module.register_forward_hook(hook)
    try:
        with torch.inference_mode(False), torch.enable_grad():
            x = _prepare_input(input_tensor)
            try:
                (forward or default_forward)(model, x)
            except _Stop:
                pass
            if "act" not in kept:
                raise ExplorerError(f"layer '{layer}' did not run during the forward pass")
            act = kept["act"]
            a = act[0] if act.dim() == 4 else act
            if a.dim() != 3:
                raise ExplorerError(f"'{layer}' has no feature maps (shape {tuple(act.shape)})")
            y = a[:, fy, fx].sum() if channel is None else a[channel, fy, fx]
            (grad,) = torch.autograd.grad(y, x, allow_unused=True)
    finally:
        handle.remove()
    if grad is None:  # the layer does not depend on the input tensor (not expected)
        grad = torch.zeros_like(x)
    mag = grad.detach()[0].abs().amax(dim=0)
    return InputGradient(magnitude=mag.float().cpu().numpy(), channel=channel, fy=fy, fx=fx,
                         value=float(y.detach()))


# -- what a user can ask Grad-CAM to explain, and the jobs that answer in the pipeline thread -------------------
MAX_DETECTION_TARGETS = 20

# ("class", index) | ("detection", (x0, y0, x1, y1) source pixels, class index)
# | ("yolo", (row, col), class index, box index): plain tuples, so they compare and travel as Qt item data
TargetSpec = tuple


@dataclass(frozen=True)
class TargetChoice:
    """One entry of the dock's target list."""

    text: str            # what the list shows: "tabby (0.53)", "#2 dog (0.87)", "bird"
    spec: TargetSpec
    name: str            # the class's name, for the answer ("class 281 (tabby)")


def target_choices(result: Any, threshold: float = 0.0, limit: int = MAX_DETECTION_TARGETS) -> list[TargetChoice]:
    """The Grad-CAM targets of a FrameResult, as the inference panel lists them:
    - a classifier's top-k classes;
    - a detector's detections at or above the score `threshold`, numbered from #1 in the table's order (at most
      `limit`); a YOLO detection is explained by the cell and box that predicted it, another by its box;
    - a segmentation's classes present, largest share of the pixels first."""
    if result.topk:
        return [TargetChoice(f"{s.label} ({s.score:.2f})", ("class", int(s.index)), s.label) for s in result.topk]
    if result.boxes:
        shown = [d for d in result.boxes if d.score >= threshold][:limit]
        out = []
        for i, d in enumerate(shown, 1):
            if d.cell is not None and d.box_index is not None:
                spec: TargetSpec = ("yolo", tuple(d.cell), int(d.class_index), int(d.box_index))
            else:
                spec = ("detection", tuple(float(v) for v in d.box), int(d.class_index))
            out.append(TargetChoice(f"#{i} {d.label} ({d.score:.2f})", spec, d.label))
        return out
    seg = result.segmentation
    if seg is not None:
        return [TargetChoice(name, ("class", seg.labels.index(name)), name) for name in seg.classes
                if name in seg.labels]
    return []


def make_target(spec: TargetSpec, name: str = "", *, model: Any = None, scale: tuple[float, float] = (1.0, 1.0),
                offset: tuple[float, float] = (0.0, 0.0)) -> Target:
    """The score to explain for `spec` (see target_choices). A detection's box is in source pixels, as the engine
    reports it; the detector is matched in its input tensor's pixels (the preprocessing's `scale` and crop
    `offset`). A YOLO target reads S, B, C and the layout from `model`."""
    kind = spec[0]
    if kind == "class":
        return class_target(int(spec[1]), name)
    if kind == "yolo":
        from explorer.core.yolo import model_layout

        S, B, C, layout = model_layout(model)
        (row, col), label, box = spec[1], int(spec[2]), spec[3]
        return yolo_cell_target(int(row), int(col), label, S, B, C, layout, box, name)
    if kind == "detection":
        from explorer.core.receptive import InputGeometry

        box = InputGeometry(tuple(scale), tuple(offset)).to_input(tuple(spec[1]))
        return detection_target(box, int(spec[2]), name=name)
    raise ExplorerError(f"unknown Grad-CAM target {kind!r}")


def _answering(what: str, fn: Callable[[], Any]) -> Any:
    """Run `fn`; a model this explanation does not fit (an output it cannot read) becomes an ExplorerError, which
    the probe hands to the view, instead of failing the live frame."""
    try:
        return fn()
    except ExplorerError:
        raise
    except (RuntimeError, TypeError, KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ExplorerError(f"{what} cannot run on this model here: {type(exc).__name__}: {exc}") from exc


def gradcam_job(layer: str, spec: TargetSpec, name: str = "", graph: "ModelGraph | None" = None,
                output_key: str | None = None) -> Callable[[Any], GradCamResult]:
    """Grad-CAM of `spec` at `layer`, as a job for ActivationProbe.request: it runs in the pipeline thread after
    the next forward pass, with the engine's context (model, input tensor, scale, crop offset)."""

    def job(ctx: Any) -> GradCamResult:
        def run() -> GradCamResult:
            target = make_target(spec, name, model=ctx.model, scale=tuple(ctx.scale),
                                 offset=tuple(ctx.offset))
            return grad_cam(ctx.model, layer, ctx.input_tensor, target, graph, output_key)
        return _answering("Grad-CAM", run)

    return job


def gradient_job(layer: str, fy: int, fx: int, channel: int | None = None, graph: "ModelGraph | None" = None,
                 output_key: str | None = None) -> Callable[[Any], InputGradient]:
    """|∂A[channel, fy, fx]/∂input| at `layer` (input_gradient), as a job for ActivationProbe.request."""

    def job(ctx: Any) -> InputGradient:
        return _answering("The gradient view", lambda: input_gradient(ctx.model, layer, ctx.input_tensor, fy, fx,
                                                                      channel, graph, output_key))

    return job
