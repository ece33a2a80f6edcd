"""Converters that onnx2torch 1.5.15 lacks for what current exporters write (registered once, on first use).

Measured (tests/test_model_specs_onnx.py, ONNX Changelog, docs/Changelog.md of github.com/onnx/onnx): torch
2.14's default exporter (dynamo=True) writes opset 20, whose operator versions onnx2torch does not know:
ReduceMean-18 (axes became an input), Reshape-19, AveragePool-19 (dilations), Split-18 (num_outputs), Gelu-20
(new), Pad-19, Equal-19, ConstantOfShape-20, ScatterND-18; the legacy exporter (dynamo=False, also opset 20 in
2.14) adds Identity-19. Most newer versions only admit new element types (float8 in opset 19, int4 in 21,
bfloat16 for many ops in 22, float4 in 23): for those the older converter is registered again (`TYPE_ONLY`).
Versions that changed semantics get a converter that accepts the case equal to the old version and refuses
the rest by name (`CONDITIONAL`), or one of their own (the Reduce ops with axes as an input, Gelu).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from onnx2torch.onnx_graph import OnnxGraph
    from onnx2torch.onnx_node import OnnxNode

# op -> (new versions whose change is element types only, the version onnx2torch converts)
TYPE_ONLY: dict[str, tuple[tuple[int, ...], int]] = {
    "Identity": ((19, 21, 23), 16),
    "Shape": ((19, 21, 23), 15),
    "Constant": ((19, 21, 23), 13),
    "ConstantOfShape": ((20, 21, 23), 9),
    "Cast": ((19, 21, 23), 13),            # 19 adds `saturate`, which only applies to float8 targets
    "Equal": ((19,), 13),
    "Flatten": ((21, 23), 13),
    "Squeeze": ((23,), 21),
    "Unsqueeze": ((21, 23), 13),
    "Transpose": ((21, 23), 13),
    "Conv": ((22,), 11),
    "ConvTranspose": ((22,), 11),
    "MaxPool": ((22,), 12),
    "GlobalAveragePool": ((22,), 1),
    "HardSwish": ((22,), 14),
    "HardSigmoid": ((22,), 6),
    "Dropout": ((22,), 13),
    "InstanceNormalization": ((22,), 6),
    "Elu": ((22,), 6),
    "Selu": ((22,), 6),
    "Softplus": ((22,), 1),
    "Round": ((22,), 11),
    "Sin": ((22,), 7),
    "Cos": ((22,), 7),
    "ReduceMax": ((20,), 18),               # 20 adds bool inputs; 18 is ours (below)
    "ReduceMin": ((20,), 18),
}
REDUCE_OPS = ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
              "ReduceProd", "ReduceSumSquare")
_done = False
_lock = threading.Lock()


def _attr(node: "OnnxNode", name: str, default: Any) -> Any:
    return node.attributes.get(name, default)


def _refuse(node: "OnnxNode", why: str) -> NotImplementedError:
    return NotImplementedError(f"{node.operation_type} with {why} (node '{node.name}')")


def _reduce_with_axes_input(node: "OnnxNode", graph: "OnnxGraph") -> Any:
    """Reduce*-18: axes are the optional second input (a constant in exported models), not an attribute."""
    from onnx2torch.node_converters.reduce import OnnxReduceStaticAxes
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult, get_const_value

    axes = None
    if len(node.input_values) > 1 and node.input_values[1]:
        try:
            axes = [int(a) for a in get_const_value(node.input_values[1], graph).tolist()]
        except KeyError:
            raise _refuse(node, "axes computed at run time") from None
    if not axes and _attr(node, "noop_with_empty_axes", 0):
        raise _refuse(node, "noop_with_empty_axes")
    module = OnnxReduceStaticAxes(operation_type=node.operation_type, axes=axes or None,
                                  keepdims=int(_attr(node, "keepdims", 1)))
    return OperationConverterResult(module, OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values))


def _gelu(node: "OnnxNode", graph: "OnnxGraph") -> Any:
    """Gelu-20: x·Φ(x), or its tanh approximation (approximate="tanh"), as torch.nn.GELU."""
    from torch import nn
    from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node

    approximate = _attr(node, "approximate", "none")
    return OperationConverterResult(nn.GELU(approximate=approximate), onnx_mapping_from_node(node))


def _reshape(original: Callable[..., Any]) -> Callable[..., Any]:
    """Reshape-14+ with allowzero=1 (what the dynamo exporter writes): a 0 in the shape is a dimension of size
    0, which is exactly torch.reshape; onnx2torch refuses it. allowzero=0 stays onnx2torch's (0 copies the
    input's dimension)."""
    from onnx2torch.utils.common import OperationConverterResult, onnx_mapping_from_node

    def convert(node: "OnnxNode", graph: "OnnxGraph") -> Any:
        if int(_attr(node, "allowzero", 0)) == 1:
            return OperationConverterResult(_TorchReshape(), onnx_mapping_from_node(node))
        return original(node, graph)

    return convert


def _torch_reshape_class() -> type:
    from torch import nn

    class OnnxReshapeAllowZero(nn.Module):
        def forward(self, x: Any, shape: Any) -> Any:
            return x.reshape([int(d) for d in shape.tolist()])

    return OnnxReshapeAllowZero


def _TorchReshape() -> Any:  # noqa: N802 - a factory standing in for the class (torch is imported lazily)
    global _RESHAPE_CLASS
    if _RESHAPE_CLASS is None:
        _RESHAPE_CLASS = _torch_reshape_class()
    return _RESHAPE_CLASS()


_RESHAPE_CLASS: Any = None


def _conditional(op: str, old: int, check: Callable[["OnnxNode"], str]) -> Callable[..., Any]:
    """A converter that hands the node to onnx2torch's `old` version when `check` finds nothing new used."""
    from onnx2torch.node_converters.registry import get_converter

    def convert(node: "OnnxNode", graph: "OnnxGraph") -> Any:
        why = check(node)
        if why:
            raise _refuse(node, why)
        return get_converter(op, old)(node, graph)

    return convert


def _no_dilation(node: "OnnxNode") -> str:
    return "dilations" if any(int(d) != 1 for d in _attr(node, "dilations", []) or []) else ""


def _pad_as_13(node: "OnnxNode") -> str:
    if len(node.input_values) > 3 and node.input_values[3]:
        return "an axes input"
    return "mode 'wrap'" if _attr(node, "mode", "constant") == "wrap" else ""


def _split_as_13(node: "OnnxNode") -> str:
    # Split-18's num_outputs splits into ceil(n/k) parts like Split-13 without `split` when the size divides;
    # onnx2torch's Split-13 then cuts equal parts by the number of outputs
    if len(node.input_values) > 1 and node.input_values[1]:
        return ""
    n = _attr(node, "num_outputs", None)
    return "" if n is None or int(n) == len(node.output_values) else "num_outputs different from its outputs"


def _resize_as_13(node: "OnnxNode") -> str:
    if int(_attr(node, "antialias", 0)):
        return "antialias"
    if _attr(node, "axes", None):
        return "axes"
    if _attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
        return "keep_aspect_ratio_policy"
    if _attr(node, "coordinate_transformation_mode", "half_pixel") == "half_pixel_symmetric":
        return "coordinate_transformation_mode 'half_pixel_symmetric'"
    return ""


def _scatter_as_16(node: "OnnxNode") -> str:
    return "reduction 'min'/'max'" if _attr(node, "reduction", "none") in ("min", "max") else ""


CONDITIONAL: dict[str, tuple[tuple[int, ...], int, Callable[["OnnxNode"], str]]] = {
    "AveragePool": ((19, 22), 11, _no_dilation),
    "Pad": ((18, 19, 21, 23), 13, _pad_as_13),
    "Split": ((18,), 13, _split_as_13),
    "Resize": ((18, 19), 13, _resize_as_13),
    "ScatterND": ((18,), 16, _scatter_as_16),
}


def register() -> None:
    """Add the converters above to onnx2torch's registry (idempotent)."""
    global _done
    with _lock:
        if _done:
            return
        from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription, get_converter

        def add(op: str, version: int, converter: Callable[..., Any]) -> None:
            key = OperationDescription(domain="", operation_type=op, version=version)
            _CONVERTER_REGISTRY.setdefault(key, converter)  # a newer onnx2torch's own converter wins

        for op in REDUCE_OPS:
            add(op, 18, _reduce_with_axes_input)
        add("Gelu", 20, _gelu)
        reshape = _reshape(get_converter("Reshape", 14))
        for v in (14, 19, 21, 23):
            _CONVERTER_REGISTRY[OperationDescription(domain="", operation_type="Reshape", version=v)] = reshape
        for op, (versions, old, check) in CONDITIONAL.items():
            for v in versions:
                add(op, v, _conditional(op, old, check))
        for op, (versions, old) in TYPE_ONLY.items():
            for v in versions:
                add(op, v, get_converter(op, old))
        _done = True
