"""Record a model's graph from one real forward pass.

torch.fx and torch.export fail on torchvision's detection models (data-dependent control flow, lists of
images, ImageList), so the graph is recorded instead of traced: forward pre/post hooks on every module give
the module call stack and one node per leaf-module call, and a `torch.overrides.TorchFunctionMode` sees every
torch function called outside leaf modules. Each tensor remembers which node(s) produced it (a table keyed by
id() and checked through a weakref, so nothing is kept alive): the ops that matter (additions of two feature
maps, concatenation, flatten, interpolation, functional activations and pooling, RoI pooling, NMS ...) become
nodes with edges from those producers; every other op (indexing, permute, box arithmetic, ...) passes its
inputs' producers on to its outputs, so the graph stays connected without the noise.

Receptive field, effective stride and centre offset follow Araujo et al., "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019 (see explorer.core.stats), along the height axis and in pixels of
the network's input. Choices made here:
- after flatten, linear layers and global pooling every output sees the whole input: receptive_field,
  stride and offset are None ("the whole image");
- merges (add, cat) take the largest receptive field of their inputs;
- detectors measure in pixels of the resized image the backbone sees (GeneralizedRCNNTransform's output);
- RoI pooling outputs depend on the box, so they have none either.

Two things the module tree does not show are named here: a few methods of a model that transform its input
outside any module (torchvision's GoogLeNet `_transform_input`) become one named node instead of the ops
inside them, and a detector's per-image detection count, which depends on what the dummy image happens to
contain, is recorded as `VARIABLE_DIM` ("N") in the output node's shapes.
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import TYPE_CHECKING, Any

from explorer.core import stats
from explorer.core.errors import ModelInputError
from explorer.core.fixed_proposals import fix_proposals
from explorer.core.graph import VARIABLE_DIM, GraphEdge, GraphNode, ModelGraph, ModuleInfo, Shape
from explorer.core.stats import RF

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["capture_graph", "find_node", "find_output_node", "flatten_outputs", "is_module_call", "make_example",
           "UnknownLayerError"]


from explorer.core.graph_lookup import (  # noqa: F401 - re-exported: other modules import them from here
    UnknownLayerError, find_node, find_output_node, is_module_call,
)
from explorer.core.capture_ops import (  # noqa: F401 - re-exported: other modules import them from here
    _ARITH, _CAT, _ACTIVATIONS, _GLOBAL_REDUCE, _POOLS, _UPSAMPLE, _ROI, _NMS, _NORMS, _FLATTEN, _RESHAPE, _LINEAR, _CONV,
    _IGNORE, METHOD_STEPS, MethodStep, _Info, _normalise, _op_kind, _shape, _tensors, flatten_outputs, module_kind,
)


# -------------------------------------------------------------------------------------------------- recorder
class _Recorder:
    def __init__(self, model: "nn.Module", model_name: str, input_shape: Shape) -> None:
        self.model = model
        self.model_name = model_name
        self.input_shape = input_shape
        self.paths: dict[int, str] = {}
        self.modules_by_path: dict[str, nn.Module] = {}
        self.leaves: set[int] = set()
        for path, mod in model.named_modules():
            self.paths[id(mod)] = path
            self.modules_by_path[path] = mod
            if next(iter(mod.children()), None) is None:
                self.leaves.add(id(mod))
        self.stack: list[tuple[str, bool, int]] = []  # (module path, is a recorded leaf call, call serial)
        self.serial = 0
        self.preds: dict[str, set[str]] = {}  # node id -> direct predecessors
        self.merged_ops: dict[tuple[str, int, str], GraphNode] = {}  # NMS calls of one module call
        self.leaf_depth = 0
        self.busy = False
        self.leaf_inputs: Any = None
        self.leaf_in_tensors: list[Any] = []
        self.leaf_first_list: list[Any] | None = None
        self.table: dict[int, tuple[weakref.ref, _Info]] = {}
        self.nodes: list[GraphNode] = []
        self.by_id: dict[str, GraphNode] = {}
        self.edges: list[GraphEdge] = []
        self.edge_keys: set[tuple[str, str]] = set()
        self.calls: dict[str, int] = {}
        self.op_counts: dict[tuple[str, str], int] = {}
        self.params_seen: dict[int, str] = {}
        self.handles: list[Any] = []
        self.module_outputs: dict[str, dict[str, str]] = {}  # module path -> {output key: producing node id}
        # the app's inference worker may run the same model meanwhile: hooks ignore every other thread
        self.thread = threading.get_ident()

    # ---- tensor table
    def info(self, t: "torch.Tensor") -> _Info | None:
        entry = self.table.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1]

    def set_info(self, t: "torch.Tensor", info: _Info) -> None:
        try:
            self.table[id(t)] = (weakref.ref(t), info)
        except TypeError:  # pragma: no cover - tensors support weakrefs
            pass

    # ---- nodes and edges
    def add_node(self, node: GraphNode, inputs: list["torch.Tensor"], *, new: bool = True) -> None:
        if new:
            self.nodes.append(node)
            self.by_id[node.id] = node
            self.preds[node.id] = set()
        producers: dict[tuple[str, int], "torch.Tensor"] = {}
        for t in inputs:
            info = self.info(t)
            if info is not None:
                for p in info.producers:
                    producers.setdefault(p, t)
        for src, idx in producers:
            key = (src, node.id)  # one edge per pair, even where several outputs of a node feed another
            if key in self.edge_keys or src == node.id:
                continue
            self.edge_keys.add(key)
            producer = self.by_id[src]
            shape = (producer.output_shapes[idx] if idx < len(producer.output_shapes)
                     else _shape(producers[(src, idx)]))
            self.edges.append(GraphEdge(src, node.id, shape))
            self.preds[node.id].add(src)

    def reduce(self, producers: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Drop producers that feed another producer of the same set directly: box arithmetic passes every
        input's producers on, and an edge from the RPN's scores to the RoI pooling that also hangs off the
        NMS that filtered them would only repeat what the graph already shows."""
        if len(producers) < 2:
            return producers
        ids = {p for p, _ in producers}
        fed = set().union(*(self.preds.get(p, set()) for p in ids))
        kept = [p for p in producers if p[0] not in fed]
        return kept or producers

    def register_outputs(self, node: GraphNode, outputs: list["torch.Tensor"], rf: RF | None,
                         flat_from: Shape | None = None) -> None:
        first = outputs[0].shape if outputs else None
        for i, t in enumerate(outputs):
            same = t.shape == first
            self.set_info(t, _Info(((node.id, i),), rf if same else None, flat_from if same else None))

    def _rf_fields(self, node: GraphNode, rf: RF | None) -> None:
        if rf is not None:
            node.receptive_field = stats.as_number(rf.size)
            node.stride = stats.as_number(rf.jump)
            node.offset = stats.as_number(rf.start)

    def _first_info(self, tensors: list["torch.Tensor"]) -> _Info | None:
        for t in tensors:
            info = self.info(t)
            if info is not None:
                return info
        return None

    # ---- module hooks
    def pre_hook(self, module: "nn.Module", args: tuple, kwargs: dict) -> None:
        if threading.get_ident() != self.thread:
            return
        path = self.paths.get(id(module))
        is_leaf = self.leaf_depth == 0 and id(module) in self.leaves and path is not None
        self.serial += 1
        self.stack.append((path if path is not None else "?", is_leaf, self.serial))
        if self.leaf_depth or is_leaf:
            self.leaf_depth += 1
        if is_leaf:
            # snapshot: some modules append to the lists they are given (FPN's extra block)
            self.leaf_inputs = (args, kwargs)
            self.leaf_in_tensors = _tensors(args) + _tensors(kwargs)
            self.leaf_first_list = list(args[0]) if args and isinstance(args[0], list) else None

    def post_hook(self, module: "nn.Module", args: tuple, kwargs: dict, output: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        path, is_leaf, _ = self.stack.pop()
        if self.leaf_depth:
            self.leaf_depth -= 1
        if not is_leaf:
            if not self.leaf_depth and path != "?" and path not in self.module_outputs:
                self._record_outputs(path, output)
            return
        self.busy = True
        try:
            self._leaf_node(module, path, args, kwargs, output)
        finally:
            self.busy = False

    def _record_outputs(self, path: str, output: Any) -> None:
        """Which node produced each output leaf of a (first) module call, by the leaf names of
        flatten_outputs: an FPN level or one of the RPN head's lists has its own stride and receptive field."""
        produced: dict[str, str] = {}
        for key, t in flatten_outputs(output):
            info = self.info(t)
            if info is not None and info.producers:
                produced[key] = info.producers[0][0]
        self.module_outputs[path] = produced

    def _leaf_node(self, module: "nn.Module", path: str, args: tuple, kwargs: dict, output: Any) -> None:
        inputs = self.leaf_in_tensors
        outputs = _tensors(output)
        if len(outputs) > 1:
            # a module that hands some of its inputs back unchanged (FPN's extra block returns every level)
            # neither consumes nor produces them: they keep their producers
            passed = {id(t) for t in inputs}
            outputs = [t for t in outputs if id(t) not in passed] or outputs
            returned = {id(t) for t in _tensors(output)}
            inputs = [t for t in inputs if id(t) not in returned] or inputs
        if type(module).__name__ == "LastLevelMaxPool" and self.leaf_first_list:
            inputs = [self.leaf_first_list[-1]]  # torchvision: F.max_pool2d(results[-1], 1, 2, 0)
        in_shapes = [_shape(t) for t in inputs]
        out_shapes = [_shape(t) for t in outputs]
        self._check_empty(module, path, in_shapes, out_shapes)
        n = self.calls.get(path, 0)
        self.calls[path] = n + 1
        node_id = (path or type(module).__name__.lower()) + (f"#{n}" if n else "")
        label = (path.rsplit(".", 1)[-1] or type(module).__name__) + (f"#{n}" if n else "")
        first_info = self._first_info(inputs)
        weights, biases = stats.split_params(module)
        formula = stats.param_formula(module, weights, biases,
                                      flat_from=first_info.flat_from if first_info else None)
        owner = self.params_seen.get(id(module))
        if owner is None:
            self.params_seen[id(module)] = node_id
        else:  # a module called again: its parameters were counted at its first call
            weights = biases = 0
            if formula:
                formula += f" (shared with {owner})"
        node = GraphNode(
            id=node_id, label=label, op=type(module).__name__, kind=module_kind(module), module_path=path,
            parent=path.rsplit(".", 1)[0] if "." in path else "", input_shapes=in_shapes, output_shapes=out_shapes,
            params=weights + biases, weight_params=weights, bias_params=biases,
            macs=stats.module_macs(module, in_shapes, out_shapes), formula=formula, call_index=n,
        )
        rf = stats.module_rf(module, first_info.rf if first_info else None, in_shapes, out_shapes)
        self._rf_fields(node, rf)
        self.add_node(node, inputs)
        keep_flat = (first_info.flat_from if first_info and in_shapes and out_shapes
                     and in_shapes[0] == out_shapes[0] else None)
        if (node.kind == "reshape" and in_shapes and out_shapes and len(in_shapes[0]) == 4
                and len(out_shapes[0]) == 2 and out_shapes[0][1] == math.prod(in_shapes[0][1:])):
            keep_flat = in_shapes[0][1:]  # nn.Flatten of a C×H×W map: the next fc's formula shows H×W×C
        self.register_outputs(node, outputs, rf, keep_flat)

    def method_node(self, step: MethodStep, inputs: list["torch.Tensor"], outputs: list["torch.Tensor"]) -> None:
        """One node for a whole METHOD_STEPS call, named like a module call ("label", "label#1", ...)."""
        scope = next((p for p, _, _ in reversed(self.stack) if p != "?"), "")
        base = f"{scope}.{step.label}" if scope else step.label
        n = self.calls.get(base, 0)  # shares the id namespace of module calls
        self.calls[base] = n + 1
        label = step.label + (f"#{n}" if n else "")
        first_info = self._first_info(inputs)
        # a per-pixel rescaling: the receptive field passes through unchanged
        rf = first_info.rf if first_info and inputs and outputs and inputs[0].shape == outputs[0].shape else None
        node = GraphNode(id=base + (f"#{n}" if n else ""), label=label, op=step.label, kind=step.kind,
                         module_path=scope, parent=scope, input_shapes=[_shape(t) for t in inputs],
                         output_shapes=[_shape(t) for t in outputs], call_index=n, description=step.description)
        self._rf_fields(node, rf)
        self.add_node(node, inputs)
        self.register_outputs(node, outputs, rf)

    def _check_empty(self, module: "nn.Module", path: str, in_shapes: list[Shape], out_shapes: list[Shape]) -> None:
        """A layer whose map has shrunk to nothing: name it (PyTorch does not always raise)."""
        for shape in out_shapes[:1]:
            if len(shape) >= 3 and any(d == 0 for d in shape[2:]) and in_shapes and all(in_shapes[0][2:]):
                raise ModelInputError(
                    f"input {stats.fmt_shape(self.input_shape)} is too small for {self.model_name}: the output of "
                    f"{path} ({type(module).__name__}) would be {stats.fmt_shape(shape[2:])}")

    # ---- functional ops
    def on_op(self, name: str, args: tuple, kwargs: dict, out: Any) -> None:
        outputs = _tensors(out)
        if not outputs:
            if name == "__setitem__" and args:
                outputs = _tensors(args[0])[:1]  # x[idx] = y writes y (and what chose idx) into x
            if not outputs:
                return
        inputs = _tensors(args) + _tensors(kwargs)
        tracked = [(t, i) for t in inputs if (i := self.info(t)) is not None]
        if not tracked:
            return
        op = _normalise(name)
        if self._records(op, tracked, inputs, outputs):
            self._op_node(op, args, kwargs, inputs, outputs, tracked)
            return
        # pass-through: the outputs come from whatever produced the inputs
        producers: dict[tuple[str, int], None] = {}
        for _, info in tracked:
            producers.update(dict.fromkeys(info.producers))
        first_t, first = tracked[0]
        info = _Info(tuple(self.reduce(list(producers))), first.rf, None)
        for t in outputs:
            if first.flat_from is not None and t.shape == first_t.shape:
                self.set_info(t, _Info(info.producers, info.rf, first.flat_from))
            elif (first.flat_from is None and first_t.dim() >= 4 and t.dim() == 2
                  and t.shape[-1] == math.prod(first_t.shape[1:])):
                self.set_info(t, _Info(info.producers, None, _shape(first_t)[1:]))  # view(N, -1) of a map
            else:
                self.set_info(t, info)

    def _records(self, op: str, tracked: list, inputs: list, outputs: list) -> bool:
        out0 = outputs[0]
        if op in _ARITH:
            # two feature maps combined (a residual addition, an SE scale); not scalar or box arithmetic
            return len({id(t) for t, _ in tracked}) >= 2 and out0.dim() >= 3
        if op in _CAT:
            # joining feature maps (DenseNet, Inception, RPN levels), not stacking box coordinates
            return out0.dim() >= 3 and all(t.dim() >= 3 for t, _ in tracked)
        if op in _FLATTEN:
            return tracked[0][0].dim() >= 4 and tracked[0][0].dim() != out0.dim()
        if op in _RESHAPE:
            return tracked[0][0].dim() >= 4 and out0.dim() <= 2
        if op in _GLOBAL_REDUCE:  # global pooling written by hand: (N, C, H, W) -> (N, C) or (N, C, 1, 1)
            src = tracked[0][0]
            return (src.dim() >= 4 and tuple(out0.shape[:2]) == tuple(src.shape[:2])
                    and all(int(d) == 1 for d in out0.shape[2:]))
        return op in _ACTIVATIONS or op in _POOLS or op in _UPSAMPLE or op in _ROI or op in _NMS \
            or op in _NORMS or op in _LINEAR or op in _CONV

    def _op_node(self, op: str, args: tuple, kwargs: dict, inputs: list, outputs: list, tracked: list) -> None:
        scope, serial = next(((p, c) for p, _, c in reversed(self.stack) if p != "?"), ("", 0))
        if op in _NMS:
            # torchvision runs NMS once per class or per pyramid level: one node per call of the module
            merged = self.merged_ops.get((scope, serial, op))
            if merged is not None:
                merged.input_shapes.extend(_shape(t) for t in inputs)
                merged.output_shapes.extend(_shape(t) for t in outputs)
                merged.label = f"{op} ×{len(merged.output_shapes)}"
                self.add_node(merged, inputs, new=False)
                first = len(merged.output_shapes) - len(outputs)
                for i, t in enumerate(outputs):
                    self.set_info(t, _Info(((merged.id, first + i),), None))
                return
        n = self.op_counts.get((scope, op), 0)
        self.op_counts[(scope, op)] = n + 1
        label = f"{op}_{n}"
        node_id = f"{scope}.{label}" if scope else label
        in_shapes = [_shape(t) for t in inputs]
        out_shapes = [_shape(t) for t in outputs]
        node = GraphNode(id=node_id, label=label, op=op, kind=_op_kind(op), module_path=scope, parent=scope,
                         input_shapes=in_shapes, output_shapes=out_shapes,
                         macs=self._op_macs(op, inputs, outputs))
        rf_in = tracked[0][1].rf
        rf: RF | None
        flat: Shape | None = None
        kind = node.kind
        if kind == "merge":
            rf = stats.merge_rf([i.rf for _, i in tracked])
        elif kind in ("activation", "norm"):
            rf = rf_in
            flat = tracked[0][1].flat_from if out_shapes[0] == in_shapes[0] else None
        elif kind == "pool":
            in_sp = in_shapes[0][2:] if in_shapes else ()
            if op in _GLOBAL_REDUCE:
                rf = None  # every output sees the whole image (as after global pooling)
            elif op.startswith("adaptive") and rf_in is not None:
                rf = stats.adaptive_rf(rf_in, in_sp, out_shapes[0][2:])
            else:
                rf = stats.pool_call_rf(rf_in, args, kwargs, "max" if "max" in op else "avg")
        elif kind == "upsample":
            mode = kwargs.get("mode") or (args[3] if len(args) > 3 and isinstance(args[3], str) else "nearest")
            rf = (stats.upsample_rf(rf_in, in_shapes[0][2:], out_shapes[0][2:], mode)
                  if rf_in is not None and op in ("interpolate", "upsample") else None)
        elif kind == "conv" and rf_in is not None and len(inputs) >= 2:
            names = ["input", "weight", "bias", "stride", "padding", "dilation"]
            vals = dict(zip(names, args)) | kwargs
            k = int(inputs[1].shape[2])
            pad = vals.get("padding", 0)
            rf = rf_in.through(k, stats._first(vals.get("stride", 1)),
                               0 if isinstance(pad, str) else stats._first(pad), stats._first(vals.get("dilation", 1)))
        elif kind == "reshape":
            rf = None
            src = tracked[0][0]
            if src.dim() >= 4 and out_shapes[0] and len(out_shapes[0]) == 2 \
                    and out_shapes[0][-1] == math.prod(src.shape[1:]):
                flat = _shape(src)[1:]
        else:
            rf = None
        self._rf_fields(node, rf)
        self.add_node(node, inputs)
        self.register_outputs(node, outputs, rf, flat)
        if op in _NMS:
            self.merged_ops[(scope, serial, op)] = node

    @staticmethod
    def _op_macs(op: str, inputs: list, outputs: list) -> int:
        if not outputs:
            return 0
        out = outputs[0]
        if op in _CONV and len(inputs) >= 2:
            return out.numel() * math.prod(inputs[1].shape[1:])
        if op == "linear" and len(inputs) >= 2:
            return out.numel() * int(inputs[1].shape[-1])
        if op in ("matmul", "mm", "bmm") and len(inputs) >= 2:
            return out.numel() * int(inputs[0].shape[-1])
        if op == "addmm" and len(inputs) >= 3:
            return out.numel() * int(inputs[1].shape[-1])
        return 0

    # ---- errors
    def input_error(self, exc: Exception) -> ModelInputError:
        """Turn a RuntimeError of the forward pass into one sentence naming the layer that failed."""
        shape = stats.fmt_shape(self.input_shape)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        leaf = next(((p, leaf) for p, leaf, _ in reversed(self.stack) if p != "?"), None)
        if leaf is None:
            return ModelInputError(f"input {shape} does not fit {self.model_name}: {first_line}")
        path, is_leaf = leaf
        module = self.modules_by_path.get(path)
        where = f"{path or 'the model'} ({type(module).__name__})"
        if is_leaf and module is not None and self.leaf_inputs is not None:
            ins = _tensors(self.leaf_inputs)
            if ins and ins[0].dim() >= 3:
                spatial = ins[0].shape[2:]
                sizes = [stats.window_output_size(module, int(s)) for s in spatial]
                if all(s is not None for s in sizes) and any(s <= 0 for s in sizes):
                    return ModelInputError(f"input {shape} is too small for {self.model_name}: the output of "
                                           f"{where} would be {'×'.join(str(max(s, 0)) for s in sizes)}")
        return ModelInputError(f"input {shape} does not fit {self.model_name}: {where} failed: {first_line}")

    # ---- hierarchy
    def hierarchy(self) -> dict[str, ModuleInfo]:
        modules: dict[str, ModuleInfo] = {}

        def ensure(path: str) -> ModuleInfo:
            info = modules.get(path)
            if info is None:
                mod = self.modules_by_path.get(path)
                parent = None if path == "" else (path.rsplit(".", 1)[0] if "." in path else "")
                info = ModuleInfo(path=path, type=type(mod).__name__ if mod is not None else "?", parent=parent,
                                  params=sum(p.numel() for p in mod.parameters()) if mod is not None else 0)
                modules[path] = info
                if parent is not None:
                    p_info = ensure(parent)
                    if path not in p_info.children:
                        p_info.children.append(path)
            return info

        ensure("")
        for node in self.nodes:
            if node.kind in ("input", "output"):
                continue
            if node.module_path in self.modules_by_path:
                ensure(node.module_path)
            chain = node.module_path
            while True:
                modules[chain].macs += node.macs
                if chain == "":
                    break
                chain = chain.rsplit(".", 1)[0] if "." in chain else ""
        for path, produced in self.module_outputs.items():
            if path in modules:  # modules that hold nodes
                modules[path].outputs = {k: v for k, v in produced.items() if v in self.by_id}
        return modules


def make_example(model: "nn.Module", input_shape: Shape, device: Any = "cpu") -> Any:
    """The input one forward pass needs: a batch of one for classifiers, a list of one 3×H×W image in [0, 1]
    for torchvision's detectors (GeneralizedRCNN takes a list of images)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    image = torch.rand(tuple(input_shape), generator=gen)
    if _is_rcnn(model):
        return [image.to(device)]
    return image.unsqueeze(0).to(device)


def _is_rcnn(model: "nn.Module") -> bool:
    try:
        from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
    except ImportError:  # pragma: no cover
        return False
    return isinstance(model, GeneralizedRCNN)


_MISSING = object()


def _wrap_method_steps(model: "nn.Module", rec: _Recorder) -> list[tuple[Any, str, Any]]:
    """Shadow each METHOD_STEPS method of `model` and its submodules with an instance attribute that records its call as one node
    (the ops inside are hidden, as inside a leaf module). Returns what `_unwrap_method_steps` restores."""
    saved: list[tuple[Any, str, Any]] = []
    for mod, (attr, step) in ((m, a) for m in model.modules() for a in METHOD_STEPS.items()):
        original = getattr(mod, attr, None)
        if not callable(original):
            continue

        def wrapper(*args: Any, _original: Any = original, _step: MethodStep = step, **kwargs: Any) -> Any:
            if threading.get_ident() != rec.thread or rec.leaf_depth or rec.busy:
                return _original(*args, **kwargs)
            inputs = _tensors(args) + _tensors(kwargs)
            rec.leaf_depth += 1
            try:
                out = _original(*args, **kwargs)
            finally:
                rec.leaf_depth -= 1
            given = {id(t) for t in inputs}
            outputs = [t for t in _tensors(out) if id(t) not in given]
            if outputs:  # transform_input=False hands x back: nothing happened, no node
                rec.busy = True
                try:
                    rec.method_node(_step, inputs, outputs)
                finally:
                    rec.busy = False
            return out

        saved.append((mod, attr, mod.__dict__.get(attr, _MISSING)))
        setattr(mod, attr, wrapper)
    return saved


def _unwrap_method_steps(saved: list[tuple[Any, str, Any]]) -> None:
    for mod, attr, old in saved:
        if old is _MISSING:
            delattr(mod, attr)
        else:
            setattr(mod, attr, old)


def _output_shapes(output: Any, tensors: list["torch.Tensor"]) -> list[Shape]:
    """Shapes of the model's outputs, with the detection count of torchvision-style detectors marked.

    In eval mode torchvision's detectors (GeneralizedRCNN, and RetinaNet, SSD, FCOS alike) return one dict per
    image whose tensors all start with the number of detections N (torchvision's docs: boxes FloatTensor[N, 4],
    labels Int64Tensor[N], scores Tensor[N]); that N is whatever the dummy image produced, so it becomes
    VARIABLE_DIM.
    """
    import torch

    shapes = [_shape(t) for t in tensors]
    if not (isinstance(output, (list, tuple)) and output and all(isinstance(o, dict) for o in output)):
        return shapes
    per_detection = {id(t) for d in output for t in d.values() if isinstance(t, torch.Tensor) and t.dim() >= 1}
    return [(VARIABLE_DIM, *s[1:]) if id(t) in per_detection else s for t, s in zip(tensors, shapes)]


def _forward(model: "nn.Module", example: Any) -> Any:
    if isinstance(example, tuple):
        return model(*example)
    return model(example)


def capture_graph(model: "nn.Module", model_name: str, input_shape: tuple[int, ...] = (3, 224, 224), *,
                  device: Any = "cpu", example: Any = None) -> ModelGraph:
    """Record `model`'s graph from one forward pass on a random input of `input_shape` (C, H, W).

    `example` replaces the generated input (a tensor, a list of images, or a tuple of positional arguments).
    Raises ModelInputError when the input does not fit the model (too small: the message names the layer
    whose output would be empty).
    """
    import torch
    from torch.overrides import TorchFunctionMode

    input_shape = tuple(int(d) for d in input_shape)
    params = list(model.parameters())
    if params:
        device = params[0].device
    if example is None:
        example = make_example(model, input_shape, device)
    rec = _Recorder(model, model_name, input_shape)

    class _Mode(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            if rec.leaf_depth or rec.busy:
                return out
            # an ATen overload (a loaded program's graph) is named "conv2d.default": the op is before the dot
            name = getattr(func, "__name__", "").split(".", 1)[0]
            if name in _IGNORE:
                return out
            rec.busy = True
            try:
                rec.on_op(name, args, kwargs, out)
            finally:
                rec.busy = False
            return out

    ex_tensors = _tensors(example)
    input_node = GraphNode(id="input", label="input", op="input", kind="input", module_path="", parent="",
                           output_shapes=[_shape(t) for t in ex_tensors], receptive_field=1, stride=1, offset=0)
    rec.nodes.append(input_node)
    rec.by_id["input"] = input_node
    rec.preds["input"] = set()
    for i, t in enumerate(ex_tensors):
        rec.set_info(t, _Info((("input", i),), RF.identity()))

    for mod in model.modules():
        rec.handles.append(mod.register_forward_pre_hook(rec.pre_hook, with_kwargs=True))
        rec.handles.append(mod.register_forward_hook(rec.post_hook, with_kwargs=True))
    saved_methods = _wrap_method_steps(model, rec)
    was_training = model.training
    model.eval()
    proposals, restore_proposals = fix_proposals(model)
    try:
        with torch.inference_mode(), _Mode():
            try:
                output = _forward(model, example)
            except (RuntimeError, ValueError, IndexError) as exc:
                raise rec.input_error(exc) from exc
    finally:
        for h in rec.handles:
            h.remove()
        _unwrap_method_steps(saved_methods)
        restore_proposals()
        model.train(was_training)

    outs = _tensors(output)
    out_shapes = _output_shapes(output, outs)
    out_node = GraphNode(id="output", label="output", op="output", kind="output", module_path="", parent="",
                         input_shapes=list(out_shapes), output_shapes=list(out_shapes))
    rec.add_node(out_node, outs)
    modules = rec.hierarchy()
    total_params = sum(p.numel() for p in model.parameters())
    total_macs = sum(n.macs for n in rec.nodes)
    return ModelGraph(model_name=model_name, input_shape=input_shape, nodes=rec.nodes, edges=rec.edges,
                      modules=modules, total_params=total_params, total_macs=total_macs, proposals=proposals)


def capture_zoo_model(name: str, input_shape: tuple[int, ...] | None = None, *, device: Any = "cpu") -> ModelGraph:
    """Build zoo model `name` (random weights) and capture it at `input_shape` (default: the entry's size)."""
    from explorer.core import zoo

    entry = zoo.get(name)
    shape = tuple(input_shape) if input_shape else (3, *entry.input_size)
    model = zoo.build(name)
    return capture_graph(model, name, shape, device=device)

