"""ONNX files (Netron's home format), converted to PyTorch: optional extra [onnx] (onnx, onnx2torch).

Reading an ONNX file parses a protobuf (onnx.load): nothing in it is executed, so no consent is asked.

Conversion is onnx2torch (an fx.GraphModule of torch modules, one per ONNX node) with three additions, each
answering something measured on torch 2.14's exporters (model_specs.onnx_converters has the list):
1. converters for the operator versions of opsets 18 to 23 that onnx2torch 1.5.15 lacks;
2. Identity nodes that forward an initializer are removed first: the legacy exporter merges identical
   initializers (all-zero biases of a freshly initialised network, say) into one plus Identity nodes, and
   onnx2torch's Conv/Gemm converters need their weights as initializers;
3. the module hierarchy is put back from the exporter's names: the dynamo exporter records each node's module
   path (metadata `pkg.torch.onnx.name_scopes`: ['', 'layer1', 'layer1.0', 'layer1.0.conv1', op]), the legacy
   exporter writes it into the node's name ('/layer1/layer1.0/conv1/Conv'). A node becomes the module at its
   path when it is that module's only node, else `path.<op>`. Files from other tools keep onnx2torch's flat
   names.
Ops that cannot be converted are found before converting and named in one message. (onnx's own version
converter, tried as the alternative, fails on both exporters' files: a KeyError on merged initializers, and
"allowzero=1 not implemented" for Reshape after downgrading the dynamo export to opset 17.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.core.errors import MissingExtraError, ModelSpecError

if TYPE_CHECKING:
    from torch import fx, nn

    from explorer.core.zoo import ZooEntry

INSTALL = "pip install 'cnn-explorer[onnx]'"
DEFAULT_INPUT = (3, 224, 224)
IMAGENET_NOTE = "preprocessed with ImageNet's mean and std: the file does not say how its inputs were normalised"
UNKNOWN_INPUT_NOTE = "the file leaves the input size open: 3×224×224 is assumed (choose another with --input)"


def _extras() -> tuple[Any, Any]:
    try:
        import onnx
        import onnx2torch  # noqa: F401 - imported for its registry
    except ImportError:
        raise MissingExtraError(f"ONNX files need the onnx and onnx2torch packages: {INSTALL}") from None
    from explorer.core.model_specs import onnx_converters

    onnx_converters.register()
    return onnx, onnx2torch


def read(path: Path) -> Any:
    """The ModelProto of `path` (external data beside it included); anything else is one ModelSpecError."""
    onnx, _ = _extras()
    try:
        model = onnx.load(str(path))
    except Exception:  # noqa: BLE001 - protobuf's DecodeError, external data errors, ...
        raise ModelSpecError(f"'{path.name}' is not a model: it cannot be read as an ONNX file") from None
    if not model.graph.node:
        raise ModelSpecError(f"'{path.name}' holds no graph: an ONNX file without nodes")
    return model


def inline_identity_initializers(model: Any) -> int:
    """Remove Identity nodes whose input is an initializer: their consumers read the initializer itself."""
    initializers = {t.name for t in model.graph.initializer}
    outputs = {o.name for o in model.graph.output}
    alias: dict[str, str] = {}
    keep = []
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in initializers and node.output[0] not in outputs:
            alias[node.output[0]] = node.input[0]
        else:
            keep.append(node)
    if not alias:
        return 0
    for node in keep:
        for i, name in enumerate(node.input):
            if name in alias:
                node.input[i] = alias[name]
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return len(alias)


def missing_ops(model: Any) -> list[str]:
    """'ScatterElements (opset 18)' for every op of the main graph that no converter takes."""
    from onnx2torch.node_converters.registry import get_converter

    opset = {o.domain or "": o.version for o in model.opset_import}
    missing: dict[str, None] = {}
    for node in model.graph.node:
        domain = node.domain or ""
        try:
            get_converter(node.op_type, opset.get(domain, 1), domain)
        except NotImplementedError:
            where = f"domain {domain}" if domain else f"opset {opset.get(domain, 1)}"
            missing[f"{node.op_type} ({where})"] = None
    return list(missing)


def input_shape(model: Any) -> tuple[tuple[int, int, int] | None, bool]:
    """(C, H, W) of the first graph input and whether H and W are fixed; (None, False) when unknown."""
    initializers = {t.name for t in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) != 4:
            return None, False
        fixed = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims[1:]]
        if fixed[0] is None:
            return None, False
        if fixed[1] is None or fixed[2] is None:
            return (fixed[0], DEFAULT_INPUT[1], DEFAULT_INPUT[2]), False
        return (fixed[0], fixed[1], fixed[2]), True
    return None, False


# ------------------------------------------------------------------------------------------- hierarchy
_SAFE = re.compile(r"[^0-9A-Za-z_]")


def _scope_path(node: Any) -> list[str] | None:
    """The module path of an ONNX node as a list of attribute names, from the exporter's metadata or name."""
    meta = {p.key: p.value for p in node.metadata_props}
    scopes = meta.get("pkg.torch.onnx.name_scopes")
    if scopes:
        try:
            names = ast.literal_eval(scopes)
        except (ValueError, SyntaxError):
            names = None
        if isinstance(names, list) and len(names) >= 2:
            modules = [n for n in names[:-1] if n]  # the last is the op itself; each is a full path
            return modules[-1].split(".") if modules else []
    if node.name.startswith("/"):
        # legacy: '/features/features.1/block/block.0/conv1/Conv': a component is an attribute path relative
        # to the module an earlier component named, and extends that component when it starts with it
        seen: list[tuple[str, list[str]]] = []  # (component, the path it was relative to)
        path: list[str] = []
        for part in node.name.strip("/").split("/")[:-1]:
            base = next((before for comp, before in reversed(seen) if part.startswith(comp + ".")), path)
            seen.append((part, base))
            path = [*base, *part.split(".")]
        return path
    return None


def module_names(model: Any, converted: "fx.GraphModule") -> dict[str, str]:
    """onnx2torch's module name -> the hierarchical path to give it ({} when the file has no scopes)."""
    from onnx2torch.onnx_graph import OnnxGraph

    graph = OnnxGraph(model.graph)
    by_path: dict[tuple[str, ...], list[tuple[str, Any]]] = {}
    for name, node in graph.nodes.items():
        path = _scope_path(node.proto)
        if path is None:
            return {}
        by_path.setdefault(tuple(path), []).append((name, node.proto))
    parents = {p[:i] for p in by_path for i in range(len(p))}
    taken: set[str] = set()
    out: dict[str, str] = {}
    for path, nodes in by_path.items():
        alone = len(nodes) == 1 and path and path not in parents
        for name, proto in nodes:
            if alone:
                full = ".".join(_SAFE.sub("_", p) or "_" for p in path)
            else:
                leaf = _SAFE.sub("_", proto.op_type.lower())
                full = ".".join([*(_SAFE.sub("_", p) or "_" for p in path), leaf])
            base, n = full, 1
            while full in taken:
                full = f"{base}_{n}"
                n += 1
            taken.add(full)
            out[name] = full
    return out


def regroup(converted: "fx.GraphModule", names: dict[str, str]) -> "fx.GraphModule":
    """A GraphModule whose call_module targets are the hierarchical names (containers made on the way)."""
    from torch import fx

    if not names:
        return converted
    modules = dict(converted.named_modules())
    root: dict[str, Any] = {}
    for node in converted.graph.nodes:
        if node.op == "call_module":
            new = names.get(str(node.target))
            if new is None:
                root[str(node.target)] = modules[str(node.target)]
                continue
            root[new] = modules[str(node.target)]
            node.target = new
        elif node.op == "get_attr":
            root[str(node.target)] = _get(converted, str(node.target))
    return fx.GraphModule(root, converted.graph, class_name="OnnxModel")


def _get(root: Any, target: str) -> Any:
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


# --------------------------------------------------------------------------------------------- convert
def convert(path: Path) -> "nn.Module":
    """The network of an ONNX file, as torch modules named by the exporter's module paths."""
    _, onnx2torch = _extras()
    model = read(path)
    inline_identity_initializers(model)
    missing = missing_ops(model)
    if missing:
        raise ModelSpecError(f"cannot convert '{path.name}' to PyTorch: no converter for {', '.join(missing)}")
    try:
        converted = onnx2torch.convert(model)
    except Exception as exc:  # noqa: BLE001 - a converter's own refusal (e.g. 'AveragePool with dilations')
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelSpecError(f"cannot convert '{path.name}' to PyTorch: {first[:200]}") from None
    return regroup(converted, module_names(model, converted)).eval()


def entry(text: str, path: Path) -> "ZooEntry":
    """The ZooEntry of an ONNX file: checked, shaped and converted once (the first build takes that network)."""
    from explorer.core.model_specs import memory
    from explorer.core.zoo import ModelCard, ZooEntry

    _extras()
    size = memory.file_estimate(str(path), "onnx")
    memory.check_bytes(size, path.name)
    first = {"module": convert(path)}
    shape, fixed = input_shape(read(path))
    notes = [IMAGENET_NOTE]
    if shape is None or not fixed:
        notes.append(UNKNOWN_INPUT_NOTE)
    shape = shape or DEFAULT_INPUT

    def loader() -> "nn.Module":
        return first.pop("module", None) or convert(path)

    card = ModelCard(0, path.name, f"an ONNX model read from {path}, converted to PyTorch by onnx2torch", "")
    return ZooEntry(
        name=text, family="ONNX", task="classification", builder=f"onnx:{path}", input_size=tuple(shape[1:]),
        preprocess="imagenet", categories="", card=card, source="onnx", loader=loader,
        input_channels=int(shape[0]), embedded_weights=True, path=str(path), notes=tuple(notes), size_bytes=size)
