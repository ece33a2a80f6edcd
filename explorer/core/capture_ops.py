"""What graph capture knows about ops and tensors: which torch functions become nodes and of which kind, the
methods of a model that are named steps, and walking the tensors of nested outputs.

Split from explorer.core.capture (which records the graph) so that each stays readable; capture re-exports
what other modules import from it (flatten_outputs, module_kind).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.core.graph import Shape
from explorer.core.stats import RF

if TYPE_CHECKING:
    import torch
    from torch import nn

# ------------------------------------------------------------------------------------------------ op tables
# Normalised function name -> node kind, for the functional ops that become nodes.
_ARITH = {"add", "sub", "mul", "div"}
_CAT = {"cat", "concat", "concatenate"}
_ACTIVATIONS = {"relu", "relu6", "leaky_relu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu", "gelu",
                "elu", "selu", "softmax", "log_softmax", "hardtanh", "mish", "prelu"}
_POOLS = {"max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
          "max_pool2d_with_indices", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
          "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
          "adaptive_max_pool2d_with_indices"}
# global pooling written as a reduction (`x.mean((2, 3))`, `x.amax((-2, -1))`): a node when it takes a feature
# map's spatial dimensions away and keeps its batch and channels (the capture checks the shapes)
_GLOBAL_REDUCE = {"mean", "amax"}
_UPSAMPLE = {"interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "upsample_nearest2d",
             "upsample_bilinear2d", "pixel_shuffle", "grid_sample"}
_ROI = {"roi_align", "roi_pool", "ps_roi_align", "ps_roi_pool"}
_NMS = {"nms", "batched_nms"}
_NORMS = {"batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm"}
_FLATTEN = {"flatten"}
_RESHAPE = {"view", "reshape"}
_LINEAR = {"linear", "matmul", "mm", "bmm", "addmm"}
_CONV = {"conv1d", "conv2d", "conv3d"}
_ALIASES = {"iadd": "add", "radd": "add", "isub": "sub", "rsub": "sub", "imul": "mul", "rmul": "mul",
            "truediv": "div", "itruediv": "div", "rtruediv": "div", "true_divide": "div",
            "concat": "cat", "concatenate": "cat"}
# Functions that never produce a tensor worth following: return at once.
_IGNORE = {"__get__", "__set__", "dim", "size", "numel", "item", "tolist", "is_floating_point", "__len__",
           "__iter__", "__bool__", "__format__", "__repr__", "__hash__", "stride", "element_size", "nelement",
           "data_ptr", "is_contiguous", "__index__", "__int__", "__float__", "is_complex", "get_device",
           "_is_view", "storage_offset", "__eq__", "__ne__", "__contains__", "__reversed__", "type",
           "has_names", "__getstate__"}


@dataclass(frozen=True)
class MethodStep:
    """A model method, not a module, whose ops are drawn as one named node."""

    label: str        # node id and label
    kind: str         # one of NODE_KINDS
    description: str  # what it does and why (GraphNode.description)


# Model methods that rework the input outside any module; the ops inside would otherwise show as an unnamed
# `cat_0`. Keyed by attribute name; wrapped on the instance only while capturing.
METHOD_STEPS: dict[str, MethodStep] = {
    # torchvision/models/googlenet.py (and inception.py), GoogLeNet._transform_input; torchvision builds
    # GoogLeNet and Inception v3 with transform_input=True for its ImageNet weights.
    "_transform_input": MethodStep(
        "transform_input", "norm",
        "Rescales each input channel from torchvision's ImageNet normalisation (mean 0.485/0.456/0.406, "
        "std 0.229/0.224/0.225) to the [-1, 1] normalisation the original Google weights were trained with: "
        "x·(std/0.5) + (mean-0.5)/0.5 per channel, then the three channels are concatenated again "
        "(torchvision's transform_input=True). No parameters; like batch norm, not counted in MACs."),
}


def _normalise(name: str) -> str:
    base = name.strip("_")
    if base.endswith("_") and not base.endswith("__"):
        base = base.rstrip("_")  # in-place variant: add_ -> add
    if base.startswith("_"):
        base = base.lstrip("_")
    return _ALIASES.get(base, base)


_MODULE_KINDS: list[tuple[tuple[str, ...], str]] = [
    (("RoIAlign", "RoIPool", "MultiScaleRoIAlign", "PSRoIAlign", "PSRoIPool"), "roi"),
    (("AnchorGenerator", "DefaultBoxGenerator"), "detection"),
    (("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "LazyConv2d"), "conv"),
    (("Linear", "Bilinear", "LazyLinear", "NonDynamicallyQuantizableLinear"), "linear"),
    (("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "FrozenBatchNorm2d", "LayerNorm", "GroupNorm", "InstanceNorm2d",
      "LocalResponseNorm", "LayerNorm2d", "CrossMapLRN2d"), "norm"),
    (("ReLU", "ReLU6", "LeakyReLU", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "SiLU", "GELU", "ELU", "SELU",
      "Softmax", "LogSoftmax", "PReLU", "Mish", "Hardtanh", "Softmax2d"), "activation"),
    (("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "StochasticDepth"), "dropout"),
    (("Flatten", "Unflatten"), "reshape"),
    (("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle"), "upsample"),
]


def module_kind(module: "nn.Module") -> str:
    name = type(module).__name__
    for names, kind in _MODULE_KINDS:
        if name in names:
            return kind
    if "Pool" in name:
        return "pool"
    if "Norm" in name:
        return "norm"
    return "other"


def _op_kind(op: str) -> str:
    if op in _ARITH or op in _CAT:
        return "merge"
    if op in _ACTIVATIONS:
        return "activation"
    if op in _POOLS or op in _GLOBAL_REDUCE:
        return "pool"
    if op in _UPSAMPLE:
        return "upsample"
    if op in _ROI:
        return "roi"
    if op in _NMS:
        return "detection"
    if op in _NORMS:
        return "norm"
    if op in _FLATTEN or op in _RESHAPE:
        return "reshape"
    if op in _LINEAR:
        return "linear"
    if op in _CONV:
        return "conv"
    return "other"


# -------------------------------------------------------------------------------------------- tensor walking
def _tensors(obj: Any, depth: int = 0) -> list["torch.Tensor"]:
    """Tensors inside nested lists/tuples/dicts/ImageList-like objects, depth first."""
    import torch

    if isinstance(obj, torch.Tensor):
        return [obj]
    if depth > 6 or obj is None or isinstance(obj, (int, float, str, bool)):
        return []
    out: list[torch.Tensor] = []
    if isinstance(obj, (list, tuple)):
        for item in obj:
            out.extend(_tensors(item, depth + 1))
    elif isinstance(obj, dict):
        for item in obj.values():
            out.extend(_tensors(item, depth + 1))
    elif isinstance(getattr(obj, "tensors", None), torch.Tensor):  # torchvision's ImageList
        out.append(obj.tensors)
    return out


def flatten_outputs(output: Any, prefix: str = "") -> list[tuple[str, "torch.Tensor"]]:
    """Tensor leaves of a module output with their names: a tensor -> [("", t)]; OrderedDict/dict -> keys;
    tuple/list -> indices; nested -> dotted ("0.2")."""
    import torch

    if isinstance(output, torch.Tensor):
        return [(prefix, output)]
    leaves: list[tuple[str, torch.Tensor]] = []
    if isinstance(output, Mapping):
        items = [(str(k), v) for k, v in output.items()]
    elif isinstance(output, (tuple, list)):
        items = [(str(i), v) for i, v in enumerate(output)]
    elif isinstance(getattr(output, "tensors", None), torch.Tensor):  # torchvision's ImageList (the transform)
        items = [("tensors", output.tensors)]
    else:
        return leaves  # None and other objects: nothing to show
    for key, value in items:
        leaves.extend(flatten_outputs(value, f"{prefix}.{key}" if prefix else key))
    return leaves


def _shape(t: "torch.Tensor") -> Shape:
    return tuple(int(d) for d in t.shape)


@dataclass(frozen=True)
class _Info:
    """What the recorder knows about one live tensor."""

    producers: tuple[tuple[str, int], ...]  # (node id, index into that node's output_shapes)
    rf: RF | None
    flat_from: Shape | None = None          # (C, H, W) this vector was flattened from (formula of fc layers)
