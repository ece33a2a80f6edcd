"""Per-layer parameters and multiply-accumulates of any model, from one forward pass with hooks.

MACs per call: a convolution does (C_in/groups)·k_h·k_w multiply-accumulates per output value, a linear layer
in_features per output value; other layers are counted as 0 (their cost is small and not what the notes
compare). This is the convention of torchvision's `_ops` metadata (GFLOPS there means giga multiply-adds).
When explorer.core.capture is available the app's graph (ModelGraph) gives the same figures; this module keeps
the notes' charts usable for any model without it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


@dataclass
class LayerStat:
    name: str                  # module path
    type: str                  # class name
    params: int
    macs: int
    output_shape: tuple[int, ...]

    @property
    def kind(self) -> str:
        t = self.type.lower()
        if "conv" in t:
            return "conv"
        if "linear" in t:
            return "dense"
        return "other"

    @property
    def stage(self) -> str:
        """Where the layer runs: its output resolution ("56×56") for maps, "dense" after flattening."""
        if len(self.output_shape) == 4:
            return f"{self.output_shape[2]}×{self.output_shape[3]}"
        return "dense"


@dataclass
class ModelStats:
    model_name: str
    input_shape: tuple[int, ...]
    layers: list[LayerStat]
    total_params: int          # all parameters of the model (sum over modules, shared ones once)
    total_macs: int

    def by_stage(self) -> list[tuple[str, int, int]]:
        """(stage, params, MACs) in the order the stages first run."""
        order: dict[str, list[int]] = {}
        for layer in self.layers:
            acc = order.setdefault(layer.stage, [0, 0])
            acc[0] += layer.params
            acc[1] += layer.macs
        return [(s, p, m) for s, (p, m) in order.items()]

    def stride_of(self, layer: LayerStat) -> int:
        """The layer's output stride relative to the input, rounded to a power of two (0 for the head: after
        flattening or global pooling).

        It makes stages of different models comparable: AlexNet's 55×55 and ResNet's 56×56 are both stride 4.
        """
        if len(layer.output_shape) != 4 or layer.output_shape[2] * layer.output_shape[3] <= 1:
            return 0      # flattened or globally pooled: the head
        ratio = self.input_shape[-2] / layer.output_shape[2]
        return int(2 ** round(math.log2(max(ratio, 1.0))))

    def by_stride(self) -> list[tuple[str, int, int]]:
        """(stage label, params, MACs): "stride 1", "stride 2", … then "head", in that order."""
        acc: dict[int, list[int]] = {}
        for layer in self.layers:
            a = acc.setdefault(self.stride_of(layer), [0, 0])
            a[0] += layer.params
            a[1] += layer.macs
        keys = sorted(k for k in acc if k) + ([0] if 0 in acc else [])
        return [(f"stride {k}" if k else "head", acc[k][0], acc[k][1]) for k in keys]

    def by_kind(self) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = {}
        for layer in self.layers:
            acc = out.setdefault(layer.kind, [0, 0])
            acc[0] += layer.params
            acc[1] += layer.macs
        return {k: (p, m) for k, (p, m) in out.items()}


def count_params(model: "nn.Module") -> int:
    return sum(p.numel() for p in model.parameters())


def _macs(module: "nn.Module", out: Any) -> int:
    from torch import nn
    if not hasattr(out, "numel"):
        return 0
    if isinstance(module, nn.modules.conv._ConvNd):
        k = 1
        for d in module.kernel_size:
            k *= d
        return int(out.numel()) * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return int(out.numel()) * module.in_features
    return 0


def layer_stats(model: "nn.Module", input_shape: tuple[int, ...], model_name: str = "") -> ModelStats:
    """Run the model once on zeros of `input_shape` (batch 1) and record every leaf module's params and MACs.

    Call this in a worker thread: it runs the model. Detection models take a list of images; they are fed
    one image of the shape's (C, H, W).
    """
    import torch
    layers: list[LayerStat] = []
    hooks = []
    me = threading.get_ident()   # the app may run the same model in another thread (inference, other views)

    def hook(name: str):
        def fn(module: "nn.Module", _inp: Any, out: Any) -> None:
            if threading.get_ident() != me:
                return
            t = out[0] if isinstance(out, (tuple, list)) and out and hasattr(out[0], "shape") else out
            shape = tuple(t.shape) if hasattr(t, "shape") else ()
            params = sum(p.numel() for p in module.parameters(recurse=False))
            seen = any(layer.name == name for layer in layers)   # a module called twice: its params count once
            layers.append(LayerStat(name, type(module).__name__, 0 if seen else params, _macs(module, t), shape))
        return fn

    for name, module in model.named_modules():
        if name and not list(module.children()):
            hooks.append(module.register_forward_hook(hook(name)))
    try:
        device = next(model.parameters()).device
        x = torch.zeros((1, *input_shape[-3:]), device=device)
        with torch.inference_mode():
            try:
                model(x)
            except (TypeError, AssertionError, ValueError):   # detection models take a list of images
                layers.clear()
                model([x[0]])
    finally:
        for h in hooks:
            h.remove()
    return ModelStats(model_name, tuple(input_shape), layers, count_params(model), sum(la.macs for la in layers))
