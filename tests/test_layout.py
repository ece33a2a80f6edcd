"""The layered layout: no two boxes overlap, children sit inside their container, every edge runs downward
and never crosses a box; expand/collapse re-lays out only the changed block and its ancestors."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from explorer.core import zoo
from explorer.core.graph_view import BlockTree, GraphView
from explorer.core.layout import IN, LANE_GAP, OUT, PAD_X, TITLE_X, LayoutEngine, build_structure, frame_for, place
from tests.test_graph_view import make_graph, toy_resnet


def check_geometry(layout) -> None:
    boxes = list(layout.boxes.values())
    by_id = layout.boxes
    # Children inside their container.
    for b in boxes:
        if b.parent is not None:
            p = by_id[b.parent]
            assert p.container
            assert p.x - 1e-6 <= b.x and b.right <= p.right + 1e-6 and p.y - 1e-6 <= b.y and \
                b.bottom <= p.bottom + 1e-6, (b.id, p.id)
    # Siblings never overlap (non-siblings are then apart too: their ancestors are disjoint siblings).
    groups: dict = {}
    for b in boxes:
        groups.setdefault(b.parent, []).append(b)
    for sib in groups.values():
        x = np.array([[b.x, b.y, b.right, b.bottom] for b in sib])
        ov = (x[:, None, 0] < x[None, :, 2] - 1e-6) & (x[None, :, 0] < x[:, None, 2] - 1e-6) & \
             (x[:, None, 1] < x[None, :, 3] - 1e-6) & (x[None, :, 1] < x[:, None, 3] - 1e-6)
        np.fill_diagonal(ov, False)
        assert not ov.any(), [(sib[i].id, sib[j].id) for i, j in zip(*np.nonzero(ov))][:3]
    # Every edge runs downward and crosses no box other than its own ends.
    leaves = [b for b in boxes if not b.container]
    rect = np.array([[b.x, b.y, b.right, b.bottom] for b in leaves]) + np.array([0.5, 0.5, -0.5, -0.5])
    ids = [b.id for b in leaves]
    for e in layout.edges:
        pts = np.array(e.points)
        assert len(pts) >= 2
        assert np.all(np.diff(pts[:, 1]) >= -1e-6) and pts[-1, 1] > pts[0, 1], (e.source, e.target)
        others = np.array([i not in (e.source, e.target) for i in ids])
        r = rect[others]
        for (x1, y1), (x2, y2) in zip(pts[:-1], pts[1:]):
            assert not _segment_hits(x1, y1, x2, y2, r).any(), (e.source, e.target)
    # The edges start at their source's bottom and end at their target's top.
    for e in layout.edges:
        s, t = by_id[e.source], by_id[e.target]
        assert abs(e.points[0][1] - s.bottom) < 1e-6 and abs(e.points[-1][1] - t.y) < 1e-6
        assert s.x <= e.points[0][0] <= s.right and t.x <= e.points[-1][0] <= t.right


def _segment_hits(x1, y1, x2, y2, r: np.ndarray) -> np.ndarray:
    """Liang–Barsky: does the segment meet the interior of each rectangle [l, t, r, b]?"""
    dx, dy = x2 - x1, y2 - y1
    t0 = np.zeros(len(r))
    t1 = np.ones(len(r))
    hit = np.ones(len(r), bool)
    for p, q in ((-dx, x1 - r[:, 0]), (dx, r[:, 2] - x1), (-dy, y1 - r[:, 1]), (dy, r[:, 3] - y1)):
        if p == 0:
            hit &= q > 0
        else:
            t = q / p
            if p < 0:
                t0 = np.maximum(t0, t)
            else:
                t1 = np.minimum(t1, t)
    return hit & (t0 < t1)


def test_flat_structure_layers_and_dummies():
    # a -> b -> c, a -> c (long edge), IN -> a, c -> OUT
    st = build_structure(["a", "b", "c"], [(IN, "a"), ("a", "b"), ("b", "c"), ("a", "c"), ("c", OUT)])
    layer = {nm: st.layer[st.index[nm]] for nm in st.names}
    assert layer == {"a": 1, "b": 2, "c": 3, IN: 0, OUT: 4}
    dummies, rev = st.chains[("a", "c")]
    assert len(dummies) == 1 and not rev and st.layer[dummies[0]] == 2
    pl = place(st, {"a": (100, 40), "b": (100, 40), "c": (100, 40)})
    # The long edge's dummy keeps clear of b: at least half b's width plus a gap away.
    assert abs(pl.x[dummies[0]] - pl.x[st.index["b"]]) >= 50
    assert pl.layer_top == sorted(pl.layer_top)


def test_bus_shares_dummies_of_one_source():
    # DenseNet-like: s feeds t1..t4 on successive layers; one chain of dummies serves all long edges.
    items = ["s", "t1", "t2", "t3", "t4"]
    edges = [("s", t) for t in items[1:]] + [("t1", "t2"), ("t2", "t3"), ("t3", "t4")]
    st = build_structure(items, edges)
    assert len(st.layer) - st.n_real == 3             # layers 1-3 once, not 1 + 2 + 3 = 6 without sharing
    assert st.chains[("s", "t4")][0][:2] == st.chains[("s", "t3")][0]
    assert st.chains[("s", "t3")][0][:1] == st.chains[("s", "t2")][0]


def test_frame_keeps_its_entry_lane_clear_of_the_title():
    """A long title over a narrow block: the content slides right (the frame grows only by what is missing) so the
    IN port's column, where entering edges cross the bar, lies LANE_GAP right of the title text."""
    st = build_structure(["a", "b"], [(IN, "a"), ("a", "b"), ("b", OUT)])
    pl = place(st, {"a": (100, 40), "b": (100, 40)})
    short = frame_for(pl, st, 20.0)                   # port already clear of the text: content centred
    assert short.content_x == PAD_X and short.entry == PAD_X + pl.x[st.index[IN]]
    long = frame_for(pl, st, 200.0)
    assert long.entry == TITLE_X + 200.0 + LANE_GAP
    assert long.width == long.content_x + pl.width + PAD_X
    assert long.exit == long.content_x + pl.x[st.index[OUT]]


def test_cycle_is_broken_without_losing_edges():
    st = build_structure(["a", "b"], [("a", "b"), ("b", "a")])
    assert ("a", "b") in st.chains and ("b", "a") in st.chains
    assert st.chains[("b", "a")][1] is True           # drawn reversed


def test_toy_layout_geometry_and_incremental_cache(monkeypatch):
    g = toy_resnet()
    tree = BlockTree.build(g)
    view = GraphView(g, tree)
    engine = LayoutEngine(tree)
    check_geometry(engine.layout(view))
    import explorer.core.layout as layout_mod

    calls: list[int] = []
    real_place = layout_mod.place
    monkeypatch.setattr(layout_mod, "place", lambda st, sizes, **kw: calls.append(1) or real_place(st, sizes, **kw))
    view.expand("layer1")
    lay = engine.layout(view)
    check_geometry(lay)
    assert len(calls) == 2            # layer1 itself and its ancestor (the root); nothing else
    calls.clear()
    view.expand("layer1.0")
    check_geometry(engine.layout(view))
    assert len(calls) == 3            # layer1.0, layer1, root
    calls.clear()
    view.collapse("layer1.0")
    again = engine.layout(view)
    assert calls == []                # back to a cached state: no layout work at all
    assert {k: (b.x, b.y) for k, b in again.boxes.items()} == {k: (b.x, b.y) for k, b in lay.boxes.items()}
    view.expand_all()
    check_geometry(engine.layout(view))


def test_every_call_is_drawn_when_fully_expanded():
    g = make_graph({"": "Net", "a": "Sequential", "a.b": "Sequential"},
                   [("input", "input", "input", ""), ("a.x", "Conv2d", "conv", "a"), ("a.b.y", "ReLU", "activation", "a.b"),
                    ("a.z", "add", "merge", "a"), ("output", "output", "output", "")],
                   [("input", "a.x"), ("a.x", "a.b.y"), ("a.b.y", "a.z"), ("input", "a.z"), ("a.z", "output")])
    view = GraphView(g)
    view.expand_all()
    lay = LayoutEngine(view.tree).layout(view)
    assert {b.id for b in lay.boxes.values() if not b.container} == {n.id for n in g.nodes}
    assert {b.id for b in lay.boxes.values() if b.container} == {"a", "a.b"}
    assert lay.boxes["a.b.y"].parent == "a.b" and lay.boxes["a.b"].parent == "a" and lay.boxes["a"].parent is None
    assert len(lay.edges) == len(g.edges)
    check_geometry(lay)


# -- every zoo model, collapsed and fully expanded -------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def zoo_graph(name: str):
    """Captured once per test session; classifiers at 96 px where they accept it (fast), others at their size."""
    from explorer.core.capture import capture_graph
    from explorer.core.errors import ExplorerError

    entry = zoo.get(name)
    model = zoo.build(name)
    transform = getattr(model, "transform", None)
    if transform is not None and hasattr(transform, "min_size"):
        # Same architecture and graph, a quarter of the pixels: detectors resize every input to min_size.
        transform.min_size, transform.max_size = (320,), 320
        return capture_graph(model, name, (3, 320, 320))
    if entry.task != "detection":
        try:
            return capture_graph(model, name, (3, 96, 96))
        except ExplorerError:
            pass
    return capture_graph(model, name, (3, *entry.input_size))


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.names())
def test_zoo_model_layouts(name):
    g = zoo_graph(name)
    tree = BlockTree.build(g)
    view = GraphView(g, tree)
    engine = LayoutEngine(tree)
    collapsed = engine.layout(view)
    check_geometry(collapsed)
    assert len(collapsed.boxes) < len(g.nodes) or len(g.nodes) < 40     # the first view is a summary
    view.expand_all()
    full = engine.layout(view)
    check_geometry(full)
    assert {b.id for b in full.boxes.values() if not b.container} == {n.id for n in g.nodes}
    fine = {(e.source, e.target) for e in g.edges if e.source != e.target}
    assert {(e.source, e.target) for e in full.edges} == fine


# -- the command line ------------------------------------------------------------------------------------------
def test_cli_graph_json(capsys):
    import json

    from explorer.cli import main

    assert main(["graph", "resnet18", "--input", "3x64x64", "--expand", "layer1,layer1.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    nodes = {n["id"]: n for n in out["nodes"]}
    assert set(nodes["layer1"]) >= {"id", "label", "type", "x", "y", "width", "height", "parent"}
    assert nodes["layer1"]["parent"] is None and nodes["layer1.0"]["parent"] == "layer1"
    assert nodes["layer1.0.conv1"]["parent"] == "layer1.0" and nodes["layer1.0.conv1"]["type"] == "Conv2d"
    assert nodes["layer1.1"]["type"] == "BasicBlock"               # collapsed: one box
    assert "layer1.1.conv1" not in nodes
    for e in out["edges"]:
        ys = [p[1] for p in e["points"]]
        assert ys == sorted(ys) and ys[-1] > ys[0]
    assert out["layout_seconds"] >= 0
    assert main(["graph", "resnet18", "--input", "3x64x64"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("resnet18: 8 boxes") and "▸ layer4" in text


def test_cli_graph_bad_block(capsys):
    from explorer.cli import main

    assert main(["graph", "resnet18", "--input", "3x64x64", "--expand", "layer9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 'layer9' is not a block of resnet18") and err.count("\n") == 1


def test_graph_input_takes_the_forms_summary_takes(capsys):
    import json

    from explorer.cli import main

    def nodes(size):
        assert main(["graph", "resnet18", "--input", size, "--json"]) == 0
        return json.loads(capsys.readouterr().out)["nodes"]

    assert nodes("64") == nodes("3x64x64")  # N is 3xNxN
    assert main(["graph", "resnet18", "--input", "3x64"]) == 2  # two numbers: C×H or H×W? refused
    err = capsys.readouterr().err
    assert err.startswith("error: invalid input size '3x64'") and err.count("\n") == 1
