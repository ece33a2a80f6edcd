"""Layout speed: explorer.core.layout against grandalf on the same fully expanded graphs, and one expand/collapse.

    python bench/layout.py [--models densenet121,fasterrcnn_resnet50_fpn] [--repeats 5] [--no-grandalf]

Targets (issue 4): fully expanded densenet121 under 0.15 s, fasterrcnn_resnet50_fpn under 0.5 s, one
expand/collapse under 50 ms. Our time is a cold layout (a fresh LayoutEngine, no cache) of every block
expanded; grandalf (a bench-only dependency) lays out the same boxes and edges as one flat graph, with the same
box sizes. The expand/collapse figure starts from the default view with a warm engine and toggles the largest
block (what a double-click does).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ours(graph, repeats: int) -> tuple[float, int]:
    from explorer.core.graph_view import BlockTree, GraphView
    from explorer.core.layout import LayoutEngine

    tree = BlockTree.build(graph)
    times = []
    for _ in range(repeats):
        view = GraphView(graph, tree)
        view.expand_all()
        t0 = time.perf_counter()
        lay = LayoutEngine(tree).layout(view)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(lay.boxes)


def toggle(graph, repeats: int) -> tuple[float, float, str]:
    """Median seconds of one expand and one collapse of the block with the most calls in the default view."""
    from explorer.core.graph_view import BlockTree, GraphView
    from explorer.core.layout import LayoutEngine

    tree = BlockTree.build(graph)
    view = GraphView(graph, tree)
    engine = LayoutEngine(tree)
    engine.layout(view)
    vis = view.visible().boxes
    block = max((b for b in vis if view.is_block(b)), key=lambda b: len(tree.items[b].nodes))
    exp, col = [], []
    for i in range(repeats):
        view.expand(block)
        t0 = time.perf_counter()
        engine.layout(view)
        exp.append(time.perf_counter() - t0)
        view.collapse(block)
        t0 = time.perf_counter()
        engine.layout(view)
        col.append(time.perf_counter() - t0)
    # The first expand is the cold one (the block's own layout is computed): report it, not the cached median.
    return exp[0], statistics.median(col), block


def toggle_in_full(graph, repeats: int) -> tuple[float, float, str]:
    """Collapse then re-expand the largest block while everything else stays expanded (ancestors re-placed)."""
    from explorer.core.graph_view import BlockTree, GraphView
    from explorer.core.layout import LayoutEngine

    tree = BlockTree.build(graph)
    view = GraphView(graph, tree)
    view.expand_all()
    engine = LayoutEngine(tree)
    engine.layout(view)
    # The largest block below the top level, so that its ancestors (two or more) are re-placed too.
    block = max((b for b in tree.blocks() if b and tree.items[b].parent), key=lambda b: len(tree.items[b].nodes))
    col, exp = [], []
    for _ in range(repeats):
        view.collapse(block)
        t0 = time.perf_counter()
        engine.layout(view)
        col.append(time.perf_counter() - t0)
        view.expand(block)
        t0 = time.perf_counter()
        engine.layout(view)
        exp.append(time.perf_counter() - t0)
    return col[0], exp[0], block


def grandalf_time(graph) -> float:
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    from explorer.core.graph_view import BlockTree
    from explorer.core.layout import box_size

    tree = BlockTree.build(graph)

    class View:
        def __init__(self, w: float, h: float):
            self.w, self.h = w, h

    verts = {}
    for n in graph.nodes:
        v = Vertex(n.id)
        v.view = View(*box_size(tree.items[n.id]))
        verts[n.id] = v
    edges = [Edge(verts[e.source], verts[e.target]) for e in graph.edges
             if e.source in verts and e.target in verts and e.source != e.target]
    g = Graph(list(verts.values()), edges)
    t0 = time.perf_counter()
    for comp in g.C:
        sug = SugiyamaLayout(comp)
        sug.init_all()
        sug.draw()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="densenet121,fasterrcnn_resnet50_fpn")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-grandalf", action="store_true")
    args = ap.parse_args()
    import torch

    from explorer.core.capture import capture_zoo_model

    torch.set_num_threads(2)
    targets = {"densenet121": 0.15, "fasterrcnn_resnet50_fpn": 0.5}
    for name in args.models.split(","):
        graph = capture_zoo_model(name)
        t, n_boxes = ours(graph, args.repeats)
        line = (f"{name}: {len(graph.nodes)} calls, {len(graph.edges)} edges, fully expanded {n_boxes} boxes: "
                f"ours {t * 1000:.0f} ms (target {targets.get(name, 0.5) * 1000:.0f} ms)")
        if not args.no_grandalf:
            try:
                g = grandalf_time(graph)
                line += f", grandalf {g * 1000:.0f} ms, ratio {g / t:.1f}x"
            except ImportError:
                line += ", grandalf not installed"
        print(line, flush=True)
        e, c, block = toggle(graph, args.repeats)
        print(f"{name}: default view, expand {block!r} {e * 1000:.1f} ms, collapse {c * 1000:.1f} ms "
              f"(target 50 ms)", flush=True)
        c, e, block = toggle_in_full(graph, args.repeats)
        print(f"{name}: fully expanded, collapse {block!r} {c * 1000:.1f} ms, expand it again {e * 1000:.1f} ms "
              f"(target 50 ms)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
