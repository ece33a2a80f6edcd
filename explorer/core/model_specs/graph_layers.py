"""torch.nn layers back from a program's ATen calls, so that a loaded program looks like the network it came from.

An unflattened ExportedProgram (torch.export.unflatten) keeps the module hierarchy from nn_module_stack, but
each leaf module is an InterpreterModule whose graph holds one ATen call (`aten.conv2d(x, weight, bias,
stride, padding, dilation, groups)`). Graph capture (explorer.core.capture), the parameter formulas, the MAC
counter and the receptive-field arithmetic (explorer.core.stats) know torch.nn's layer classes, not ATen
calls: `layer_for_call` makes the nn layer that performs the same call with the same parameter tensors (the
same objects: nothing is copied, parameter counts stay exact), and `rebuild_leaves` swaps them in.

A program whose hierarchy was lost (a TorchScript archive converted by torch._export.converter) gets the same
layers placed by their weights' names: `aten.conv2d(x, layer1.0.conv1.weight, ...)` becomes the module
`layer1.0.conv1` (`place_layers_by_weight`). Calls without weights (relu, add, pooling) stay functional: capture
records them as ops.

The ATen signatures are those of native_functions.yaml (aten/src/ATen/native/native_functions.yaml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import torch
    from torch import fx, nn

# Original layer classes by the name nn_module_stack records, for layers one ATen call cannot tell apart.
_BATCH_NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d"}


def _arg(node: "fx.Node", index: int, name: str, default: Any) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _pair_list(v: Any, n: int) -> tuple[int, ...]:
    if isinstance(v, (list, tuple)):
        return tuple(int(x) for x in v) if len(v) == n else tuple(int(v[0]) for _ in range(n))
    return tuple(int(v) for _ in range(n))


def _as_param(t: "torch.Tensor | None") -> Any:
    import torch

    if t is None or isinstance(t, torch.nn.Parameter):
        return t
    return torch.nn.Parameter(t, requires_grad=False)


def _original_class(node: "fx.Node") -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    _, type_name = list(stack.values())[-1]
    text = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "")
    return text.rsplit(".", 1)[-1]


def _conv(node: "fx.Node", tensors: Callable[[Any], Any], dims: int | None) -> "nn.Module | None":
    """conv1d/2d/3d(input, weight, bias, stride, padding, dilation, groups), or (dims None) the general
    convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups) that
    TorchScript's traces record."""
    from torch import nn

    weight = tensors(_arg(node, 1, "weight", None))
    if weight is None or weight.dim() < 3 or (dims is not None and weight.dim() != dims + 2):
        return None
    dims = weight.dim() - 2
    general = op_name(node.target) == "convolution"
    transposed = bool(_arg(node, 6, "transposed", False)) if general else False
    groups = int(_arg(node, 8, "groups", 1) if general else _arg(node, 6, "groups", 1))
    bias = tensors(_arg(node, 2, "bias", None))
    padding = _arg(node, 4, "padding", 0)
    common = dict(stride=_pair_list(_arg(node, 3, "stride", 1), dims),
                  padding=padding if isinstance(padding, str) else _pair_list(padding, dims),
                  dilation=_pair_list(_arg(node, 5, "dilation", 1), dims), groups=groups, bias=bias is not None,
                  device="meta")
    if transposed:  # weight (in, out/groups, k...)
        cls = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[dims - 1]
        layer = cls(int(weight.shape[0]), int(weight.shape[1]) * groups, tuple(weight.shape[2:]),
                    output_padding=_pair_list(_arg(node, 7, "output_padding", 0), dims), **common)
    else:            # weight (out, in/groups, k...)
        cls = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dims - 1]
        layer = cls(int(weight.shape[1]) * groups, int(weight.shape[0]), tuple(weight.shape[2:]), **common)
    layer.weight, layer.bias = _as_param(weight), _as_param(bias)
    return layer


def _linear(node: "fx.Node", tensors: Callable[[Any], Any]) -> "nn.Module | None":
    from torch import nn

    weight = tensors(_arg(node, 1, "weight", None))
    if weight is None or weight.dim() != 2:
        return None
    bias = tensors(_arg(node, 2, "bias", None))
    layer = nn.Linear(int(weight.shape[1]), int(weight.shape[0]), bias=bias is not None, device="meta")
    layer.weight, layer.bias = _as_param(weight), _as_param(bias)
    return layer


def _batch_norm(node: "fx.Node", tensors: Callable[[Any], Any], eps_index: int) -> "nn.Module | None":
    from torch import nn

    weight, bias = tensors(_arg(node, 1, "weight", None)), tensors(_arg(node, 2, "bias", None))
    mean, var = tensors(_arg(node, 3, "running_mean", None)), tensors(_arg(node, 4, "running_var", None))
    if mean is None or var is None:
        return None
    name = _original_class(node)
    cls = getattr(nn, name) if name in _BATCH_NORMS else nn.BatchNorm2d
    layer = cls(int(mean.shape[0]), eps=float(_arg(node, eps_index, "eps", 1e-5)), affine=weight is not None,
                device="meta")
    if weight is not None:
        layer.weight, layer.bias = _as_param(weight), _as_param(bias)
    layer.running_mean, layer.running_var = mean, var
    layer.num_batches_tracked = None  # not part of the program's state
    return layer


def _simple(node: "fx.Node", op: str) -> "nn.Module | None":
    from torch import nn

    inplace = op.endswith("_")
    base = op.rstrip("_")
    if base == "relu":
        return nn.ReLU(inplace=inplace)
    if base == "hardtanh":
        lo, hi = float(_arg(node, 1, "min_val", -1.0)), float(_arg(node, 2, "max_val", 1.0))
        return nn.ReLU6(inplace=inplace) if (lo, hi) == (0.0, 6.0) else nn.Hardtanh(lo, hi, inplace=inplace)
    simple = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid,
              "silu": nn.SiLU, "mish": nn.Mish}
    if base in simple:
        cls = simple[base]
        return cls(inplace=True) if inplace and "inplace" in cls.__init__.__code__.co_varnames else cls()
    if base == "gelu":
        return nn.GELU(approximate=str(node.kwargs.get("approximate", "none")))
    if base == "leaky_relu":
        return nn.LeakyReLU(float(_arg(node, 1, "negative_slope", 0.01)), inplace=inplace)
    if base == "max_pool2d":
        kernel = _pair_list(_arg(node, 1, "kernel_size", 1), 2)
        stride = _arg(node, 2, "stride", [])
        return nn.MaxPool2d(kernel, _pair_list(stride, 2) if stride else kernel,
                            _pair_list(_arg(node, 3, "padding", 0), 2), _pair_list(_arg(node, 4, "dilation", 1), 2),
                            ceil_mode=bool(_arg(node, 5, "ceil_mode", False)))
    if base == "avg_pool2d":
        kernel = _pair_list(_arg(node, 1, "kernel_size", 1), 2)
        stride = _arg(node, 2, "stride", [])
        return nn.AvgPool2d(kernel, _pair_list(stride, 2) if stride else kernel,
                            _pair_list(_arg(node, 3, "padding", 0), 2), ceil_mode=bool(_arg(node, 4, "ceil_mode", False)),
                            count_include_pad=bool(_arg(node, 5, "count_include_pad", True)),
                            divisor_override=_arg(node, 6, "divisor_override", None))
    if base == "adaptive_avg_pool2d":
        return nn.AdaptiveAvgPool2d(tuple(int(v) for v in _arg(node, 1, "output_size", (1, 1))))
    if base == "flatten":
        return nn.Flatten(int(_arg(node, 1, "start_dim", 0)), int(_arg(node, 2, "end_dim", -1)))
    if base == "dropout":
        return nn.Dropout(float(_arg(node, 1, "p", 0.5)))
    return None


def op_name(target: Any) -> str:
    """'conv2d' for torch.ops.aten.conv2d.default, '' for anything that is not an ATen overload."""
    import torch

    if isinstance(target, torch._ops.OpOverload) and target.namespace == "aten":
        return target._opname
    return ""


def layer_for_call(node: "fx.Node", tensors: Callable[[Any], Any]) -> "nn.Module | None":
    """The nn layer doing what the ATen call `node` does, with the same tensors; None when there is none.

    `tensors(arg)` gives the tensor an argument refers to (a get_attr node's value), or None."""
    op = op_name(node.target)
    if op in ("conv1d", "conv2d", "conv3d"):
        return _conv(node, tensors, int(op[4]))
    if op == "convolution":
        return _conv(node, tensors, None)
    if op == "linear":
        return _linear(node, tensors)
    if op == "batch_norm":
        return _batch_norm(node, tensors, 7)      # (input, weight, bias, mean, var, training, momentum, eps, ...)
    if op == "_native_batch_norm_legit_no_training":
        return _batch_norm(node, tensors, 6)      # (input, weight, bias, mean, var, momentum, eps)
    return _simple(node, op) if op else None


def _single_call(graph: "fx.Graph") -> "fx.Node | None":
    """The one ATen call of a leaf's graph (placeholders, get_attrs, one call, output; or an identity)."""
    import operator

    calls = [n for n in graph.nodes if n.op not in ("placeholder", "get_attr", "output")]
    output = next(n for n in graph.nodes if n.op == "output")
    result = output.args[0]
    if isinstance(result, (tuple, list)) and len(result) == 1:
        result = result[0]
    if len(calls) == 1 and result is calls[0]:
        return calls[0]
    # _native_batch_norm_legit_no_training returns (out, mean, invstd); the leaf keeps out = getitem(call, 0)
    if (len(calls) == 2 and calls[1].op == "call_function" and calls[1].target is operator.getitem
            and calls[1].args[0] is calls[0] and calls[1].args[1] == 0 and result is calls[1]):
        return calls[0]
    return None


def _attr(root: "nn.Module", target: str) -> Any:
    obj: Any = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def leaf_layer(module: "nn.Module") -> "nn.Module | None":
    """The nn layer an InterpreterModule leaf stands for, or None (several calls, or an unknown one)."""
    import torch
    from torch import fx

    graph = getattr(module, "graph", None)
    if not isinstance(graph, fx.Graph):
        return None
    if not [n for n in graph.nodes if n.op not in ("placeholder", "get_attr", "output")]:
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        output = next(n for n in graph.nodes if n.op == "output").args[0]
        if len(placeholders) == 1 and (output is placeholders[0] or output == (placeholders[0],)):
            return torch.nn.Identity()  # dropout in eval mode, a no-op layer
        return None
    call = _single_call(graph)
    if call is None or call.op != "call_function":
        return None

    def tensors(arg: Any) -> Any:
        if isinstance(arg, fx.Node) and arg.op == "get_attr":
            value = _attr(module, str(arg.target))
            return value if isinstance(value, torch.Tensor) else None
        return None

    return layer_for_call(call, tensors)


def rebuild_leaves(root: "nn.Module") -> int:
    """Swap every leaf InterpreterModule of an unflattened program for its nn layer; returns how many.

    A module called several times is unflattened into a dispatcher over one InterpreterModule per call: it
    becomes one nn layer when every call is the same layer over the same tensors."""
    from torch.export.unflatten import InterpreterModule, InterpreterModuleDispatcher

    swapped = 0
    for parent in list(root.modules()):
        for name, child in list(parent.named_children()):
            layer = None
            if isinstance(child, InterpreterModule) and not list(child.children()):
                layer = leaf_layer(child)
            elif isinstance(child, InterpreterModuleDispatcher):
                calls = list(child.children())
                layers = [leaf_layer(c) for c in calls if not list(c.children())]
                if calls and len(layers) == len(calls) and all(layer_ is not None for layer_ in layers):
                    first = layers[0]
                    same = all(type(x) is type(first) and _same_tensors(x, first) for x in layers[1:])
                    layer = first if same else None
            if layer is not None:
                parent._modules[name] = layer
                swapped += 1
    for module in root.modules():  # regenerate the code that calls the swapped children
        finalize = getattr(module, "finalize", None)
        if callable(finalize) and getattr(module, "graph", None) is not None:
            finalize()
    return swapped


def _same_tensors(a: "nn.Module", b: "nn.Module") -> bool:
    ta = [id(t) for t in [*a.parameters(recurse=False), *a.buffers(recurse=False)]]
    tb = [id(t) for t in [*b.parameters(recurse=False), *b.buffers(recurse=False)]]
    return ta == tb and repr(a) == repr(b)


def place_layers_by_weight(gm: "nn.Module") -> int:
    """In a flat program (an fx.GraphModule or UnflattenedModule without hierarchy), replace each conv/linear/batch-norm call whose weight is a get_attr
    `path.weight` by a call of an nn layer installed at `path`; returns how many. Calls sharing a weight
    share the layer."""
    import torch
    from torch import fx

    placed: dict[str, str] = {}
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or op_name(node.target) not in (
                "conv1d", "conv2d", "conv3d", "convolution", "linear", "batch_norm",
                "_native_batch_norm_legit_no_training"):
            continue
        weight = _arg(node, 1, "weight", None)
        if not (isinstance(weight, fx.Node) and weight.op == "get_attr" and "." in str(weight.target)):
            continue
        path = str(weight.target).rsplit(".", 1)[0]
        if path not in placed:
            def tensors(arg: Any) -> Any:
                if isinstance(arg, fx.Node) and arg.op == "get_attr":
                    value = _attr(gm, str(arg.target))
                    return value if isinstance(value, torch.Tensor) else None
                return None

            layer = layer_for_call(node, tensors)
            if layer is None:
                continue
            _install(gm, path, layer)
            placed[path] = path
        with gm.graph.inserting_before(node):
            call = gm.graph.call_module(path, (node.args[0],))
        if op_name(node.target) == "_native_batch_norm_legit_no_training":
            for user in list(node.users):  # getitem(bn, 0) is the output; the statistics are unused in eval
                if user.target.__name__ == "getitem" and user.args[1] == 0:
                    user.replace_all_uses_with(call)
                    gm.graph.erase_node(user)
        node.replace_all_uses_with(call)
        gm.graph.erase_node(node)
        count += 1
    gm.graph.eliminate_dead_code()
    regenerate = getattr(gm, "recompile", None) or getattr(gm, "finalize")  # GraphModule / UnflattenedModule
    regenerate()
    return count


def _install(root: "nn.Module", path: str, layer: "nn.Module") -> None:
    """Put `layer` at dotted `path`, making empty containers on the way; a container that only held the
    layer's tensors (its weight, bias) is replaced by it."""
    from torch import nn

    parts = path.split(".")
    obj = root
    for part in parts[:-1]:
        child = obj._modules.get(part)
        if child is None:
            child = nn.Module()
            obj.add_module(part, child)
        obj = child
    old = obj._modules.get(parts[-1])
    if old is not None:
        for name, sub in old.named_children():
            layer.add_module(name, sub)
    obj._modules[parts[-1]] = layer
