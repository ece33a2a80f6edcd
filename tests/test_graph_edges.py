"""Edges and frame titles in the expanded graph: no edge strikes through a frame's title text, every edge still
joins its own boxes, and an edge entering nested frames runs straight down through their title bars.

The title text's rectangle comes from the layout's own sizes (title_width: the width the layout reserves for
frame_text, to which the items elide it), as a reader sees it: the bar's text, left-aligned at TITLE_X.
"""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core.graph_view import ROOT, BlockTree, GraphView
from explorer.core.layout import CHAR_W, HEADER, TITLE_X, GraphLayout, LayoutEngine, frame_text, title_width
from tests.test_graph_view import toy_resnet
from tests.test_layout import _segment_hits, check_geometry, zoo_graph


def expanded_layout(graph) -> tuple[GraphLayout, BlockTree]:
    tree = BlockTree.build(graph)
    view = GraphView(graph, tree)
    view.expand_all()
    return LayoutEngine(tree).layout(view), tree


def title_text_rects(lay: GraphLayout, tree: BlockTree) -> tuple[list[str], np.ndarray]:
    """Per frame: [left, top, right, bottom] of its title text (frame_text at CHAR_W a glyph, from TITLE_X)."""
    frames = [b for b in lay.boxes.values() if b.container]
    rects = np.array([[b.x + TITLE_X, b.y, b.x + TITLE_X + len(frame_text(tree.items[b.id])) * CHAR_W,
                       b.y + HEADER] for b in frames]).reshape(-1, 4)
    return [b.id for b in frames], rects


def title_crossings(lay: GraphLayout, tree: BlockTree) -> list[tuple[str, str, str]]:
    """(source, target, frame) for every edge segment that meets a frame's title text."""
    ids, rects = title_text_rects(lay, tree)
    out = []
    for e in lay.edges:
        for (x1, y1), (x2, y2) in zip(e.points[:-1], e.points[1:]):
            out += [(e.source, e.target, ids[i]) for i in np.nonzero(_segment_hits(x1, y1, x2, y2, rects))[0]]
    return out


def check_edges_join_their_boxes(lay: GraphLayout, graph) -> None:
    """Every graph edge has one route, leaving its source's bottom and arriving at its target's top."""
    routes = {(e.source, e.target): e for e in lay.edges}
    assert set(routes) == {(e.source, e.target) for e in graph.edges if e.source != e.target}
    for (s, t), e in routes.items():
        sb, tb = lay.boxes[s], lay.boxes[t]
        (x0, y0), (x1, y1) = e.points[0], e.points[-1]
        assert abs(y0 - sb.bottom) < 1e-6 and sb.x <= x0 <= sb.right, (s, t)
        assert abs(y1 - tb.y) < 1e-6 and tb.x <= x1 <= tb.right, (s, t)


def test_title_width_is_the_text_the_layout_reserves():
    tree = BlockTree.build(toy_resnet())
    item = tree.items["layer1.1"]
    assert frame_text(item).startswith("▾ layer1.1 (BasicBlock)")
    assert title_width(item) == len(frame_text(item)) * CHAR_W


def test_toy_resnet_edges_pass_beside_titles():
    g = toy_resnet()
    lay, tree = expanded_layout(g)
    assert title_crossings(lay, tree) == []
    check_edges_join_their_boxes(lay, g)
    check_geometry(lay)


@pytest.mark.parametrize("name", ["resnet18", "googlenet"])
def test_zoo_edges_never_strike_through_a_frame_title(name):
    """resnet18: maxpool's edges into layer1.0 struck through "layer1 (Sequential)" and "· 1 of 2";
    googlenet: every Inception branch's title was struck through by the edges entering it."""
    g = zoo_graph(name)
    lay, tree = expanded_layout(g)
    assert title_crossings(lay, tree) == []
    check_edges_join_their_boxes(lay, g)
    check_geometry(lay)


def test_edge_runs_straight_through_nested_title_bars():
    """resnet18: maxpool -> layer1.0.conv1 crosses layer1's bar and then layer1.0's bar in one vertical line (it
    bent between the two bars), and turns towards conv1 only below layer1.0's bar."""
    lay, _ = expanded_layout(zoo_graph("resnet18"))
    route = next(e for e in lay.edges if (e.source, e.target) == ("maxpool", "layer1.0.conv1"))
    outer, inner = lay.boxes["layer1"], lay.boxes["layer1.0"]

    def x_at(y: float) -> float:
        for (x1, y1), (x2, y2) in zip(route.points[:-1], route.points[1:]):
            if y1 <= y <= y2 and y2 > y1:
                return x1 + (x2 - x1) * (y - y1) / (y2 - y1)
        raise AssertionError(f"route does not reach y={y}")

    xs = [x_at(y) for y in np.linspace(outer.y, inner.y + HEADER, 12)]
    assert max(xs) - min(xs) < 1e-6, xs


@pytest.mark.parametrize("name", ["resnet18", "googlenet", "densenet121"])
def test_drawn_title_fits_the_reserved_width(qapp, name):
    """The bar draws frame_text in the bold graph font within title_width (elided past it, never wider), so the
    lane the layout keeps right of that width is clear of every drawn letter; real titles are not elided."""
    from PySide6.QtGui import QFontMetricsF

    from explorer.ui.graph_view.items import BoxItem
    from explorer.ui.graph_view.style import font

    tree = BlockTree.build(zoo_graph(name))
    metrics = QFontMetricsF(font(True))
    for bid in tree.blocks():
        item = tree.items[bid]
        if bid == ROOT or not item.children:
            continue
        assert BoxItem(item, True, 100.0, 60.0).title() == frame_text(item)
        assert metrics.horizontalAdvance(frame_text(item)) <= title_width(item), bid
