"""A layered (Sugiyama) layout for captured model graphs, compound and cached per block.

Follows Sugiyama, Tagawa & Toda, "Methods for Visual Understanding of Hierarchical System Structures" (IEEE
SMC 1981): (1) cycle removal, (2) layering (longest path, then nodes with more outputs than inputs are pulled
down to shorten edges), (3) dummy nodes on long edges, (4) crossing reduction by barycenter sweeps, keeping the
best order seen, (5) coordinates: each sweep places a layer at the weighted mean of its neighbours while
keeping the order and the minimum gaps, solved exactly as an isotonic regression by pool-adjacent-violators
(a quadratic-programming variant of the priority method); dummies weigh more so long edges stay straight.

Compound graphs are laid out as in Google's Model Explorer: every expanded block lays out its own children
as a small layered graph, with an IN port on its top layer and an OUT port on its bottom layer standing for
edges that enter or leave it; the block is then one big node in its parent's layout. The order of each block
depends only on the graph, so it is computed once; coordinates depend on the children's sizes and are cached
on them, so expanding or collapsing one block re-lays out only that block and its ancestors.

Geometry: y grows downward; boxes are top-aligned within their layer; an edge leaves its source at the bottom,
runs down its own column to the layer's bottom, crosses each gap diagonally and passes every layer in its
dummy's slot, so it never crosses a box and always runs downward.

Title bars: edges never cross a frame's title text. Edges enter a frame through its title bar in the IN port's
column (its entry lane), so the frame's content slides right, and the frame widens where it must, until that
column lies LANE_GAP right of the title text (as ELK grows a compound node for a label placed INSIDE it,
nodeSize.constraints NODE_LABELS, so nothing is drawn over the label). A block's own IN and OUT ports are then
put in the columns of the lanes they meet, so an edge runs straight down through nested title bars.
"""

from __future__ import annotations

import time
from bisect import bisect_right, insort
from dataclasses import dataclass, field

# Box text and sizes live in box_text; re-exported here, where the items and tests have always found them.
from explorer.core.box_text import (CHAR_W, LINE_H, box_lines, box_size, box_title, display_name,  # noqa: F401
                                    frame_text, frame_title, repeat_text, title_width)
from explorer.core.graph_view import ROOT, BlockTree, GraphView

IN, OUT = "\x00in", "\x00out"

LAYER_GAP = 26.0      # vertical gap between layers: room for the diagonal edge segments
NODE_GAP = 18.0       # horizontal gap between boxes
DUMMY_GAP = 8.0       # between an edge's slot and its neighbours
PAD_X = 10.0          # container padding
HEADER = 22.0         # container title bar
TITLE_X = 6.0         # the title text's inset from a frame's left edge (ui.graph_view.items draws it there)
LANE_GAP = 8.0        # clear space between a title's text and an edge crossing the title bar
PAD_BOTTOM = 8.0
MARGIN = 12.0


@dataclass
class LayoutBox:
    id: str
    x: float             # top-left corner
    y: float
    width: float
    height: float
    parent: str | None   # id of the enclosing expanded block, None at the top level
    container: bool      # an expanded block drawn as a frame around its children

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def right(self) -> float:
        return self.x + self.width


@dataclass
class EdgeRoute:
    source: str
    target: str
    points: list[tuple[float, float]]
    shapes: list[tuple[int, ...]] = field(default_factory=list)


@dataclass
class GraphLayout:
    boxes: dict[str, LayoutBox]
    edges: list[EdgeRoute]
    width: float
    height: float
    seconds: float = 0.0

    def to_json(self, tree: BlockTree) -> dict:
        """The `graph --json` format: boxes (x, y = top-left corner, y downward) and routed edges."""
        def node(b: LayoutBox) -> dict:
            it = tree.items[b.id]
            return dict(id=b.id, label=it.label, type=it.type, x=round(b.x, 2), y=round(b.y, 2),
                        width=round(b.width, 2), height=round(b.height, 2), parent=b.parent,
                        kind=it.kind, container=b.container)
        return {
            "nodes": [node(b) for b in self.boxes.values()],
            "edges": [dict(source=e.source, target=e.target, points=[[round(x, 2), round(y, 2)] for x, y in e.points])
                      for e in self.edges],
            "layout_seconds": self.seconds,
        }


# ---------------------------------------------------------------------------------------------------------
# One flat layered graph
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Structure:
    """Layers and orders of one block's graph: depends only on the graph, computed once per block."""

    names: list[str]                 # real nodes (children, then ports); dummies follow, unnamed
    index: dict[str, int]
    layer: list[int]                 # per node, dummies included
    layers: list[list[int]]          # node indices, left to right
    chains: dict[tuple[str, str], tuple[list[int], bool]]  # edge -> (dummies from source to target, reversed)
    preds: list[list[int]]           # between adjacent layers only
    succs: list[list[int]]
    n_real: int


def build_structure(items: list[str], edges: list[tuple[str, str]]) -> Structure:
    names = list(items)
    if any(a == IN for a, _ in edges):
        names.append(IN)
    if any(b == OUT for _, b in edges):
        names.append(OUT)
    index = {nm: i for i, nm in enumerate(names)}
    n = len(names)
    out: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        if a != b:
            out[index[a]].append(index[b])
    # 1. cycles: reverse the back edges of a depth-first search in call order.
    reversed_edges: set[tuple[int, int]] = set()
    state = [0] * n
    for root in range(n):
        if state[root]:
            continue
        stack = [(root, iter(out[root]))]
        state[root] = 1
        while stack:
            v, it = stack[-1]
            for w in it:
                if state[w] == 1:
                    reversed_edges.add((v, w))
                elif state[w] == 0:
                    state[w] = 1
                    stack.append((w, iter(out[w])))
                    break
            else:
                state[v] = 2
                stack.pop()
    dag_edges = sorted({(w, v) if (v, w) in reversed_edges else (v, w) for v in range(n) for w in out[v]})
    succ: list[list[int]] = [[] for _ in range(n)]
    pred: list[list[int]] = [[] for _ in range(n)]
    for v, w in dag_edges:
        succ[v].append(w)
        pred[w].append(v)
    # 2. layering: longest path from the sources (Kahn's order), IN alone on layer 0, OUT alone at the bottom.
    indeg = [len(p) for p in pred]
    order = [v for v in range(n) if indeg[v] == 0]
    for v in order:
        for w in succ[v]:
            indeg[w] -= 1
            if indeg[w] == 0:
                order.append(w)
    i_in, i_out = index.get(IN), index.get(OUT)
    first = 1 if i_in is not None else 0
    layer = [0] * n
    for v in order:
        if v == i_in:
            continue
        layer[v] = max([layer[p] + 1 for p in pred[v]] + [first])
    real_max = max([layer[v] for v in range(n) if v != i_out and v != i_in] + [first])
    if i_out is not None:
        layer[i_out] = real_max + 1
    # Pull down nodes whose outputs outnumber their inputs (a source feeding a node far below, e.g. a constant).
    for v in reversed(order):
        if v in (i_in, i_out) or not succ[v] or len(succ[v]) <= len(pred[v]):
            continue
        target = min(layer[w] for w in succ[v]) - 1
        if i_out is not None and all(w == i_out for w in succ[v]):
            target = real_max
        if target > layer[v]:
            layer[v] = target
    # 3. dummies. The long edges of one source share one chain (a bus, as in a hand-drawn DenseNet): the
    # chain runs down to the deepest target and each target branches off the dummy just above it. This turns
    # DenseNet's quadratic number of dummies into a linear one per source.
    n_real = n
    adj_succ: list[list[int]] = [[] for _ in range(n)]
    chains: dict[tuple[str, str], tuple[list[int], bool]] = {}
    by_source: dict[int, list[int]] = {}
    for v, w in dag_edges:
        by_source.setdefault(v, []).append(w)
    buses: dict[int, list[int]] = {}
    for v, targets in by_source.items():
        bus: list[int] = []
        prev = v
        for lay in range(layer[v] + 1, max(layer[w] for w in targets)):
            d = len(layer)
            layer.append(lay)
            adj_succ.append([])
            adj_succ[prev].append(d)
            bus.append(d)
            prev = d
        buses[v] = bus
        for w in targets:
            span = layer[w] - layer[v] - 1
            adj_succ[bus[span - 1] if span > 0 else v].append(w)
    for v in range(n):
        for w in out[v]:
            rev = (v, w) in reversed_edges
            src, dst = (w, v) if rev else (v, w)
            dummies = buses[src][:layer[dst] - layer[src] - 1]
            chains[(names[v], names[w])] = (dummies[::-1] if rev else dummies, rev)
    total = len(layer)
    adj_pred: list[list[int]] = [[] for _ in range(total)]
    for v in range(total):
        for w in adj_succ[v]:
            adj_pred[w].append(v)
    # 4. ordering: start from call order (dummies next to their source), then barycenter sweeps.
    key = [float(v) for v in range(n)] + [0.0] * (total - n)
    for v in range(total):
        for w in adj_succ[v]:
            if w >= n:
                key[w] = key[v] + 0.5
    n_layers = max(layer) + 1 if layer else 0
    layers: list[list[int]] = [[] for _ in range(n_layers)]
    for v in sorted(range(total), key=lambda v: key[v]):
        layers[layer[v]].append(v)
    layers = _reduce_crossings(layers, adj_pred, adj_succ, total)
    return Structure(names, index, layer, layers, chains, adj_pred, adj_succ, n_real)


def _count_crossings(layers: list[list[int]], succ: list[list[int]], pos: list[int]) -> int:
    total = 0
    for lay in layers[:-1]:
        pairs = sorted((pos[v], pos[w]) for v in lay for w in succ[v])
        seen: list[int] = []
        for _, b in pairs:
            total += len(seen) - bisect_right(seen, b)
            insort(seen, b)
    return total


def _reduce_crossings(layers, pred, succ, total, rounds: int = 5):
    pos = [0] * total
    for lay in layers:
        for i, v in enumerate(lay):
            pos[v] = i
    best = [list(lay) for lay in layers]
    best_c = _count_crossings(layers, succ, pos)
    if best_c == 0:
        return best
    for _ in range(rounds):
        for down in (True, False):
            seq = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
            for li in seq:
                lay = layers[li]
                nb = pred if down else succ
                bary = {}
                for v in lay:
                    ns = nb[v]
                    bary[v] = sum(pos[u] for u in ns) / len(ns) if ns else pos[v]
                lay.sort(key=lambda v: (bary[v], pos[v]))
                for i, v in enumerate(lay):
                    pos[v] = i
            c = _count_crossings(layers, succ, pos)
            if c < best_c:
                best_c, best = c, [list(lay) for lay in layers]
        if best_c == 0:
            break
    return best


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def _isotonic(targets: list[float], weights: list[float]) -> list[float]:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    vals: list[float] = []
    wts: list[float] = []
    cnt: list[int] = []
    for t, w in zip(targets, weights):
        vals.append(t)
        wts.append(w)
        cnt.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            w2 = wts[-2] + wts[-1]
            v2 = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / w2
            c2 = cnt[-2] + cnt[-1]
            vals.pop(); wts.pop(); cnt.pop()
            vals[-1], wts[-1], cnt[-1] = v2, w2, c2
    out: list[float] = []
    for v, c in zip(vals, cnt):
        out.extend([v] * c)
    return out


@dataclass
class Placement:
    """Coordinates of one block's graph for given child sizes (relative to the block's content area)."""

    x: list[float]             # centres
    layer_top: list[float]
    layer_bottom: list[float]
    width: float
    height: float


@dataclass(frozen=True)
class Frame:
    """An expanded block's frame around its placement; x offsets are from the frame's left edge."""

    width: float
    height: float
    content_x: float        # the content area's left edge
    entry: float | None     # where entering edges cross the title bar (the IN port's column), clear of the text
    exit: float | None      # where leaving edges cross the bottom (the OUT port's column)


def frame_for(pl: Placement, st: Structure, text_w: float) -> Frame:
    """Fit a frame around a block's placement under a title of width `text_w`.

    The content is centred, unless the IN port's column would then meet the title text: the content slides
    right (into the spare width a long title leaves), and the frame widens only by what is still missing, so
    the entering edges cross the bar in a lane LANE_GAP right of the text and run straight on to the port."""
    width = max(pl.width + 2 * PAD_X, TITLE_X + text_w + 10)
    cx = (width - pl.width) / 2
    entry = exit_ = None
    i_in = st.index.get(IN)
    if i_in is not None:
        lane = TITLE_X + text_w + LANE_GAP
        if cx + pl.x[i_in] < lane:
            cx = lane - pl.x[i_in]
            width = max(width, cx + pl.width + PAD_X)
        entry = cx + pl.x[i_in]
    i_out = st.index.get(OUT)
    if i_out is not None:
        exit_ = cx + pl.x[i_out]
    return Frame(width, HEADER + pl.height + PAD_BOTTOM, cx, entry, exit_)


def place(st: Structure, sizes: dict[str, tuple[float, float]], passes: int = 3,
          anchors: dict[str, tuple[float, float]] | None = None) -> Placement:
    """Coordinates for one block's layered graph. `anchors` gives, for a frame child, the x offsets from its
    centre of the columns its edges enter and leave by (see the ports below)."""
    anchors = anchors or {}
    total = len(st.layer)
    w = [0.0] * total
    h = [0.0] * total
    for i, nm in enumerate(st.names):
        if nm in sizes:
            w[i], h[i] = sizes[nm]
    is_dummy = [i >= st.n_real for i in range(total)]
    is_port = [i < st.n_real and st.names[i] in (IN, OUT) for i in range(total)]
    weight = [40.0 if is_dummy[i] else (4.0 if is_port[i] else 1.0) for i in range(total)]
    x = [0.0] * total
    offsets: list[list[float]] = []
    for lay in st.layers:
        off, acc = [], 0.0
        for k, v in enumerate(lay):
            if k:
                u = lay[k - 1]
                gap = DUMMY_GAP if (is_dummy[u] or is_dummy[v] or is_port[u] or is_port[v]) else NODE_GAP
                acc += (w[u] + w[v]) / 2 + gap
            off.append(acc)
        offsets.append(off)
        for k, v in enumerate(lay):
            x[v] = off[k] - acc / 2

    def sweep(li: int, nb: list[list[int]]) -> None:
        lay, off = st.layers[li], offsets[li]
        if len(lay) == 1:                      # nothing to keep apart: go straight to the target
            v = lay[0]
            ns = nb[v]
            if ns:
                x[v] = _median([x[u] for u in ns])
            return
        targets, weights = [], []
        for k, v in enumerate(lay):
            ns = nb[v]
            if ns:
                med = x[ns[0]] if len(ns) == 1 else _median([x[u] for u in ns])
                targets.append(med - off[k])
                weights.append(weight[v])
            else:
                targets.append(x[v] - off[k])
                weights.append(0.05)
        for k, y in enumerate(_isotonic(targets, weights)):
            x[lay[k]] = y + off[k]

    nl = len(st.layers)
    for _ in range(passes):
        for li in range(1, nl):
            sweep(li, st.preds)
        for li in range(nl - 2, -1, -1):
            sweep(li, st.succs)
    for li in range(1, nl):      # end aligned with the predecessors: chains come out straight
        sweep(li, st.preds)
    # The ports are bend points alone in their layers: put each at the median of the columns its edges really
    # meet (a frame child's entry or exit lane, not its centre), so an edge runs straight down through nested
    # title bars. Frames themselves stay centre-aligned: aligning them by their ports too would make a chain
    # of frames (DenseNet's dense layers) drift sideways, one lane offset per frame.
    for port, nb, offs in ((IN, st.succs, 0), (OUT, st.preds, 1)):
        i = st.index.get(port)
        if i is not None and nb[i]:
            x[i] = _median([x[u] + (anchors[st.names[u]][offs] if u < st.n_real and st.names[u] in anchors
                                    else 0.0) for u in nb[i]])
    left = min((x[v] - w[v] / 2 for v in range(total)), default=0.0)
    right = max((x[v] + w[v] / 2 for v in range(total)), default=0.0)
    x = [v - left for v in x]
    tops, bottoms, y = [], [], 0.0
    for lay in st.layers:
        hh = max((h[v] for v in lay), default=0.0)
        tops.append(y)
        bottoms.append(y + hh)
        y += hh + LAYER_GAP
    height = bottoms[-1] if bottoms else 0.0
    return Placement(x, tops, bottoms, right - left, height)


# ---------------------------------------------------------------------------------------------------------
# The compound layout of a GraphView
# ---------------------------------------------------------------------------------------------------------
class LayoutEngine:
    """Lays out the visible graph of a `GraphView`; keeps per-block caches across expand/collapse."""

    def __init__(self, tree: BlockTree):
        self.tree = tree
        self._block_edges: dict[str, set[tuple[str, str]]] = {b: set() for b in tree.blocks()}
        for e in tree.graph.edges:
            if e.source not in tree.node_chain or e.target not in tree.node_chain or e.source == e.target:
                continue
            cs = tree.node_chain[e.source] + (e.source,)
            ct = tree.node_chain[e.target] + (e.target,)
            k = 1
            while k < min(len(cs), len(ct)) and cs[k] == ct[k]:
                k += 1
            self._block_edges[cs[k - 1]].add((cs[k], ct[k]))
            for i in range(k, len(cs) - 1):
                self._block_edges[cs[i]].add((cs[i + 1], OUT))
            for i in range(k, len(ct) - 1):
                self._block_edges[ct[i]].add((IN, ct[i + 1]))
        self._structures: dict[str, Structure] = {}
        self._placements: dict[tuple, Placement] = {}
        self._frames: dict[tuple, Frame] = {}
        self._leaf_sizes: dict[str, tuple[float, float]] = {}

    def structure(self, block: str) -> Structure:
        st = self._structures.get(block)
        if st is None:
            edges = sorted(self._block_edges[block], key=lambda ab: (self._order(ab[0]), self._order(ab[1])))
            st = build_structure(self.tree.items[block].children, edges)
            self._structures[block] = st
        return st

    def _order(self, name: str) -> float:
        if name == IN:
            return -1.0
        if name == OUT:
            return float("inf")
        return float(self.tree.items[name].order)

    def leaf_size(self, item_id: str) -> tuple[float, float]:
        s = self._leaf_sizes.get(item_id)
        if s is None:
            s = self._leaf_sizes[item_id] = box_size(self.tree.items[item_id])
        return s

    def _placement(self, block: str, expanded: set[str], memo: dict | None = None
                   ) -> tuple[Placement, dict[str, tuple[float, float]], Frame | None]:
        """The block's placement for the children's current sizes, those sizes, and its frame (None for ROOT)."""
        if memo is not None and block in memo:
            return memo[block]
        items = self.tree.items
        sizes: dict[str, tuple[float, float]] = {}
        anchors: dict[str, tuple[float, float]] = {}
        for c in items[block].children:
            if c in expanded:
                fr = self._frame(c, expanded, memo)
                sizes[c] = (fr.width, fr.height)
                half = fr.width / 2
                anchors[c] = (0.0 if fr.entry is None else fr.entry - half,
                              0.0 if fr.exit is None else fr.exit - half)
            else:
                sizes[c] = self.leaf_size(c)
        key = (block, tuple(sizes[c] for c in items[block].children), tuple(sorted(anchors.items())))
        pl = self._placements.get(key)
        if pl is None:
            # Leaves of one block share one slot width, so chains of differently sized boxes stay straight
            # beside the long edges that pass them (boxes are centred in their slot).
            leaves = [c for c in items[block].children if c not in expanded]
            slot = max((sizes[c][0] for c in leaves), default=0.0)
            slots = {c: ((slot, sizes[c][1]) if c not in expanded else sizes[c]) for c in sizes}
            pl = self._placements[key] = place(self.structure(block), slots, anchors=anchors)
        fr = None
        if block != ROOT:
            fr = self._frames.get(key)
            if fr is None:
                fr = self._frames[key] = frame_for(pl, self.structure(block), title_width(items[block]))
        if memo is not None:
            memo[block] = (pl, sizes, fr)
        return pl, sizes, fr

    def _frame(self, block: str, expanded: set[str], memo: dict | None = None) -> Frame:
        fr = self._placement(block, expanded, memo)[2]
        assert fr is not None
        return fr

    def layout(self, view: GraphView) -> GraphLayout:
        t0 = time.perf_counter()
        expanded = view.expanded
        items = self.tree.items
        boxes: dict[str, LayoutBox] = {}
        origin: dict[str, tuple[float, float]] = {}   # content-area top-left of every expanded block
        placements: dict[str, Placement] = {}

        memo: dict = {}
        frames: dict[str, Frame] = {}                  # of every expanded block

        def put(block: str, ox: float, oy: float) -> None:
            pl, sizes, _ = self._placement(block, expanded, memo)
            st = self.structure(block)
            placements[block] = pl
            origin[block] = (ox, oy)
            for c in items[block].children:
                i = st.index[c]
                wc, hc = sizes[c]
                left, top = ox + pl.x[i] - wc / 2, oy + pl.layer_top[st.layer[i]]
                is_cont = c in expanded
                boxes[c] = LayoutBox(c, left, top, wc, hc, None if block == ROOT else block, is_cont)
                if is_cont:
                    fr = frames[c] = self._frame(c, expanded, memo)
                    put(c, left + fr.content_x, top + HEADER)

        put(ROOT, MARGIN, MARGIN)
        root_pl = placements[ROOT]

        def port_x(block: str, port: str) -> float | None:
            """A frame's entry lane (IN) or exit column (OUT), in scene x."""
            fr = frames[block]
            dx = fr.entry if port == IN else fr.exit
            return None if dx is None else boxes[block].x + dx

        seg_memo: dict[tuple[str, str, str], list[tuple[float, float]]] = {}

        def segment(block: str, a: str, b: str) -> list[tuple[float, float]]:
            key = (block, a, b)
            pts = seg_memo.get(key)
            if pts is None:
                pts = seg_memo[key] = _segment(block, a, b)
            return pts

        def _segment(block: str, a: str, b: str) -> list[tuple[float, float]]:
            st, pl = self._structures[block], placements[block]
            ox, oy = origin[block]
            dummies, rev = st.chains.get((a, b), ([], False))
            if rev:
                a, b = b, a
            pts: list[tuple[float, float]] = []
            ia, ib = st.index[a], st.index[b]
            if a == IN:
                px = port_x(block, IN)
                pts += [(px, boxes[block].y), (px, oy)]
            else:
                ba = boxes[a]
                sx = port_x(a, OUT) if ba.container else None
                sx = ba.x + ba.width / 2 if sx is None else sx
                pts.append((sx, ba.bottom))
                lb = oy + pl.layer_bottom[st.layer[ia]]
                if lb > ba.bottom + 0.01:
                    pts.append((sx, lb))
            for d in dummies:
                dx = ox + pl.x[d]
                top, bot = oy + pl.layer_top[st.layer[d]], oy + pl.layer_bottom[st.layer[d]]
                pts.append((dx, top))
                if bot > top:
                    pts.append((dx, bot))
            if b == OUT:
                px = port_x(block, OUT)
                pts += [(px, oy + pl.layer_top[st.layer[ib]]), (px, boxes[block].bottom)]
            else:
                bb = boxes[b]
                ex = port_x(b, IN) if bb.container else None
                ex = bb.x + bb.width / 2 if ex is None else ex
                pts.append((ex, bb.y))
            return pts[::-1] if rev else pts

        tree = self.tree
        routes: list[EdgeRoute] = []
        for ve in view.visible().edges:
            cs = tree.chain(ve.source) + (ve.source,)
            ct = tree.chain(ve.target) + (ve.target,)
            k = 1
            while k < min(len(cs), len(ct)) and cs[k] == ct[k]:
                k += 1
            pts: list[tuple[float, float]] = []
            segs = [(cs[i], cs[i + 1], OUT) for i in range(len(cs) - 2, k - 1, -1)]
            segs.append((cs[k - 1], cs[k], ct[k]))
            segs += [(ct[i], IN, ct[i + 1]) for i in range(k, len(ct) - 1)]
            for blk, a, b in segs:
                part = segment(blk, a, b)
                if pts and abs(pts[-1][0] - part[0][0]) < 1e-6 and abs(pts[-1][1] - part[0][1]) < 1e-6:
                    pts.extend(part[1:])
                else:
                    pts.extend(part)
            routes.append(EdgeRoute(ve.source, ve.target, pts, ve.shapes))
        return GraphLayout(boxes, routes, root_pl.width + 2 * MARGIN, root_pl.height + 2 * MARGIN,
                           time.perf_counter() - t0)


def layout_view(view: GraphView, engine: LayoutEngine | None = None) -> GraphLayout:
    """One-shot helper: lay out a view (a fresh engine unless one is given)."""
    return (engine or LayoutEngine(view.tree)).layout(view)
