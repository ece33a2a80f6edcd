"""`python -m explorer graph MODEL`: the laid-out graph viewer's boxes and edge routes, without a window."""

from __future__ import annotations

import argparse
import difflib

from explorer.cli.common import CLIError, print_json
from explorer.cli.specs import add_input_option, add_model_argument


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "graph", help="lay out a model's graph (collapsed blocks, layered layout)",
        description="Capture MODEL's graph from one forward pass, collapse it to its main blocks (or expand the "
                    "blocks asked for) and lay it out top to bottom. --json prints every box drawn (x, y = "
                    "top-left corner, y downward; expanded blocks are container boxes, `parent` is the enclosing "
                    "container) and every edge's route.")
    add_model_argument(p)
    p.add_argument("--expand", default="", metavar="all|none|PATH,...",
                   help="blocks to expand: 'all', 'none', or module paths added to the default view "
                        "(e.g. layer2,layer2.0)")
    add_input_option(p)
    p.add_argument("--json", action="store_true", help="print the layout as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from explorer.cli import specs
    from explorer.core.capture import capture_graph
    from explorer.core.graph_view import GraphView, tree_for
    from explorer.core.layout import LayoutEngine
    from explorer.core.opening import open_model

    entry = specs.resolve(args.model, args.trust)
    shape = specs.input_shape(entry, args.input)  # the same forms as `summary --input`
    opened = open_model(entry.name, specs.inspection_weights(entry), "cpu", capture=False,
                        input_size=specs.chosen_size(shape, args.input))
    graph = capture_graph(opened.handle.model, args.model, shape)
    tree = tree_for(graph)
    view = GraphView(graph, tree)
    expand = args.expand.strip()
    if expand == "all":
        view.expand_all()
    elif expand == "none":
        view.collapse_all()
    elif expand:
        blocks = tree.blocks()
        for path in (p.strip() for p in expand.split(",") if p.strip()):
            if not view.is_block(path):
                close = difflib.get_close_matches(path, [b for b in blocks if b], n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise CLIError(f"'{path}' is not a block of {args.model}{hint}")
            view.expand(path)
    layout = LayoutEngine(tree).layout(view)
    if args.json:
        print_json(layout.to_json(tree))
        return 0
    leaves = [b for b in layout.boxes.values() if not b.container]
    print(f"{args.model}: {len(leaves)} boxes, {len(layout.boxes) - len(leaves)} expanded blocks, "
          f"{len(layout.edges)} edges; {layout.width:.0f}×{layout.height:.0f} px; "
          f"layout {layout.seconds * 1000:.1f} ms")
    for b in layout.boxes.values():
        it = tree.items[b.id]
        depth = len(tree.chain(b.id)) - 1
        mark = "▾ " if b.container else ("▸ " if it.is_block else "  ")
        rep = f" ×{it.repeat}" if it.repeat > 1 and it.repeat_index == 0 else ""
        print(f"{'  ' * depth}{mark}{it.label}{rep}  [{it.type}]")
    return 0
