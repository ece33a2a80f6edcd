"""`python -m explorer summary MODEL`: a per-layer table like torchinfo's, with the parameter formula.

Every figure comes from one recorded forward pass (explorer.core.capture): output shapes, parameters (weights
and biases), the formula that explains them (`5×5×48×256 = 307,200`), multiply-accumulates, and the receptive
field and effective stride in input pixels. `--depth N` folds deeper modules into one row each; `--json`
prints one object with one row per leaf-module call, in execution order. Shapes are per image, as the table
and the window write them (explorer.core.graph_view.shape_text): `input_shape` [3, 224, 224], a conv's
`output_shape` [64, 112, 112], without the traced batch of 1; a size that depends on the image (a detector's
number of boxes) is -1.

MODEL is a zoo name or any model spec (explorer.core.model_specs: torchvision:NAME, timm:NAME, a .py, .pt, .pt2 or
.onnx file). `summary --list` (no MODEL) lists the zoo instead: one line per model with its family, task, default
input size and the weights it can use, then how to name every other model; with `--json`, a list of objects
(the zoo only).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.cli.common import CLIError, print_json
from explorer.cli.specs import add_input_option, add_model_argument

if TYPE_CHECKING:
    from explorer.core.graph import GraphNode, ModelGraph


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "summary", help="per-layer table: shapes, parameters with their formula, MACs, receptive field",
        description="Record one forward pass of MODEL (random weights) and print each layer's output shape, "
                    "parameters with the arithmetic behind them, multiply-accumulates, receptive field and "
                    "stride (input pixels). `summary --list` lists the models of the zoo instead.")
    add_model_argument(p, optional=True)
    p.add_argument("--list", action="store_true",
                   help="list the zoo's models (name, family, task, default input, weights) and how to name any "
                        "other model, instead of MODEL")
    add_input_option(p)
    p.add_argument("--depth", type=int, default=None, metavar="N",
                   help="show modules down to depth N only, deeper layers folded into their module's row")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of the table (with --list: a list of objects); shapes "
                        "are per image, as in the table: input_shape [3,224,224], output_shape [64,112,112]")
    return p


def input_shape_from(text: str | None, default_hw: tuple[int, int]) -> tuple[int, int, int]:
    """'3x224x224' -> (3, 224, 224); '224' -> (3, 224, 224); None -> (3, *default_hw); else CLIError."""
    if text is None:
        return (3, *default_hw)
    from explorer.cli.specs import checked_input_shape

    return checked_input_shape(text)


def zoo_rows() -> list[dict[str, Any]]:
    """One object per zoo model, in the zoo's order: what `summary --list --json` prints."""
    from explorer.core import zoo

    rows = []
    for name in zoo.names():
        entry = zoo.get(name)
        rows.append({"name": entry.name, "family": entry.family, "task": entry.task,
                     "input_shape": [3, *entry.input_size], "weights": list(entry.weight_choices)})
    return rows


def format_zoo(rows: list[dict[str, Any]]) -> str:
    header = ["Model", "Family", "Task", "Input", "Weights"]
    body = [[r["name"], r["family"], r["task"], "×".join(str(d) for d in r["input_shape"]), ", ".join(r["weights"])]
            for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in [header, *body]]
    return "\n".join(lines + ["", *OTHER_MODELS])


OTHER_MODELS = [
    "Any other model is named by a spec (summary, graph, predict and activations take them all):",
    "  torchvision:NAME        a torchvision classification, detection or segmentation builder "
    "(torchvision:efficientnet_b0)",
    "  timm:NAME               a timm model (timm:convnext_tiny; pip install 'cnn-explorer[timm]')",
    "  path/to/net.py[:NAME]   the network NAME() returns, or the file's only nn.Module subclass (runs the file)",
    "  model.pt                a TorchScript archive (torch.jit.save)",
    "  model.pt2               a torch.export program (torch.export.save; needs --trust: loading can run "
    "pickled code)",
    "  model.onnx              an ONNX file, converted to PyTorch (pip install 'cnn-explorer[onnx]')",
]


def run(args: argparse.Namespace) -> int:
    if args.list:
        if args.model is not None or args.input is not None or args.depth is not None:
            raise CLIError("--list takes no MODEL, --input or --depth")
        rows = zoo_rows()
        if args.json:
            print_json(rows)
        else:
            print(format_zoo(rows))
        return 0
    if args.model is None:
        raise CLIError("the following arguments are required: MODEL (or --list to see the zoo)")

    from explorer.cli import specs
    from explorer.core.capture import capture_graph
    from explorer.core.opening import open_model

    entry = specs.resolve(args.model, args.trust)  # UnknownModelError lists the choices
    shape = specs.input_shape(entry, args.input)
    if args.depth is not None and args.depth < 1:
        raise CLIError("--depth must be at least 1")
    opened = open_model(entry.name, specs.inspection_weights(entry), "cpu", capture=False,
                        input_size=specs.chosen_size(shape, args.input))
    graph = capture_graph(opened.handle.model, entry.name, shape)
    if args.json:
        print_json(summary_json(graph))
    else:
        print(format_table(graph, depth=args.depth))
    return 0


# ------------------------------------------------------------------------------------------------ JSON
def leaf_rows(graph: "ModelGraph") -> list["GraphNode"]:
    """The leaf-module calls, in execution order (functional ops and input/output left out)."""
    from explorer.core.capture import is_module_call

    return [n for n in graph.nodes if is_module_call(n)]


def per_image(shape: tuple[int, ...]) -> list[int]:
    """(1, 64, 112, 112) -> [64, 112, 112]: the rule of explorer.core.graph_view.shape_text (the table's and the
    window's), in numbers, so that output shapes are written as the input shape is (new-user trial: the JSON
    gave [1, 64, 112, 112] beside an input_shape of [3, 224, 224])."""
    dims = [int(d) for d in shape]
    return dims[1:] if len(dims) > 1 and dims[0] == 1 else dims


def summary_json(graph: "ModelGraph") -> dict[str, Any]:
    return {
        "model": graph.model_name,
        "input_shape": list(graph.input_shape),
        "total_params": int(graph.total_params),
        "total_macs": int(graph.total_macs),
        "proposals": graph.proposals,  # the RoI heads' fixed proposal count (two-stage detectors), else null
        "layers": [
            {"name": n.id, "type": n.op, "output_shape": per_image(n.output_shapes[0]) if n.output_shapes else [],
             "params": n.params, "weight_params": n.weight_params, "macs": n.macs,
             "receptive_field": n.receptive_field, "stride": n.stride, "formula": n.formula}
            for n in leaf_rows(graph)
        ],
    }


# ----------------------------------------------------------------------------------------------- table
@dataclass
class Row:
    name: str
    depth: int
    type: str
    output_shape: str
    params: int
    formula: str
    macs: int
    rf: Any
    stride: Any


def _shape_text(n: "GraphNode") -> str:
    """Per image, as the window writes shapes (explorer.core.graph_view.shape_text): 64×56×56, N×4."""
    from explorer.core.graph_view import shape_text

    if not n.output_shapes:
        return ""
    text = shape_text(n.output_shapes[0])
    return text + (f" (+{len(n.output_shapes) - 1})" if len(n.output_shapes) > 1 else "")


def _chain(path: str) -> list[str]:
    """Module paths from the top down to `path` itself: 'layer1.0' -> ['layer1', 'layer1.0']."""
    parts = path.split(".") if path else []
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def table_rows(graph: "ModelGraph", depth: int | None = None) -> list[Row]:
    """Rows in execution order, torchinfo-style: a header row each time the enclosing module changes, then one
    row per node (leaf-module calls and functional ops). With `depth`, everything deeper than `depth` is folded
    into one row for its module at that depth (parameters and MACs of the whole module)."""
    from explorer.core.capture import is_module_call

    rows: list[Row] = []
    open_chain: list[str] = []
    folded_row: Row | None = None
    for n in graph.nodes:
        if n.kind in ("input", "output"):
            continue
        # a module call sits inside its parent module; a functional op inside the module that ran it
        enclosing = _chain(n.module_path)[:-1] if is_module_call(n) else _chain(n.module_path)
        d = len(enclosing) + 1
        if depth is not None and d > depth:
            fold = enclosing[depth - 1]
            if folded_row is None or folded_row.name != fold or open_chain[-1:] != [fold]:
                info = graph.modules.get(fold)
                folded_row = Row(fold, depth, info.type if info else "?", "", info.params if info else 0, "",
                                 info.macs if info else 0, None, None)
                self_chain = enclosing[:depth]
                _open(rows, graph, open_chain, self_chain[:-1])
                rows.append(folded_row)
                open_chain[:] = self_chain
            folded_row.output_shape, folded_row.rf, folded_row.stride = _shape_text(n), n.receptive_field, n.stride
            continue
        folded_row = None
        _open(rows, graph, open_chain, enclosing)
        rows.append(Row(n.id, d, n.op, _shape_text(n), n.params, n.formula, n.macs, n.receptive_field, n.stride))
    return rows


def _open(rows: list[Row], graph: "ModelGraph", open_chain: list[str], chain: list[str]) -> None:
    """Emit header rows for the modules of `chain` that are not open yet."""
    common = 0
    while common < min(len(open_chain), len(chain)) and open_chain[common] == chain[common]:
        common += 1
    for i, path in enumerate(chain[common:], start=common):
        info = graph.modules.get(path)
        rows.append(Row(path, i + 1, info.type if info else "?", "", 0, "", 0, None, None))
    open_chain[:] = chain


def _fmt_macs(m: int) -> str:
    if m >= 10**9:
        return f"{m / 1e9:.2f} G"
    if m >= 10**6:
        return f"{m / 1e6:.2f} M"
    if m >= 10**3:
        return f"{m / 1e3:.1f} K"
    return str(m) if m else ""


def format_table(graph: "ModelGraph", depth: int | None = None) -> str:
    from explorer.core.stats import fmt_int, fmt_shape

    rows = table_rows(graph, depth)
    header = ["Layer", "Type", "Output shape", "Params", "Formula", "MACs", "RF", "Stride"]
    body = [["  " * max(r.depth - 1, 0) + r.name, r.type, r.output_shape, fmt_int(r.params) if r.params else "",
             r.formula, _fmt_macs(r.macs), "" if r.rf is None else str(r.rf),
             "" if r.stride is None else str(r.stride)] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    right = {3, 5, 6, 7}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "-" * len(line(header))
    weights = sum(n.weight_params for n in graph.nodes)
    biases = sum(n.bias_params for n in graph.nodes)
    out = [f"{graph.model_name}  input {fmt_shape(graph.input_shape)}", rule, line(header), rule]
    out += [line(b) for b in body]
    out += [rule,
            f"Total params: {fmt_int(graph.total_params)} (weights {fmt_int(weights)}, biases {fmt_int(biases)})",
            f"Total MACs: {fmt_int(graph.total_macs)} ({_fmt_macs(graph.total_macs)}, multiply-accumulates of "
            f"convolutions and linear layers)",
            "RF: receptive field and effective stride in input pixels (empty after flatten, dense layers and "
            "global pooling: the whole image)"]
    if graph.proposals is not None:
        out.insert(-1, f"RoI heads at {graph.proposals} proposals (the model's test-time maximum, rpn "
                       f"post_nms_top_n; an image on which fewer survive NMS costs less)")
    return "\n".join(out)
