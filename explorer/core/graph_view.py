"""The collapse state of a captured graph and the visible graph it gives.

A captured `ModelGraph` holds every leaf call; drawing DenseNet-121's 400-odd calls at once helps nobody. As in
Google's Model Explorer, the nn.Module hierarchy groups them: every module that holds calls is a *block* that
is either collapsed (one box with the block's totals) or expanded (a container with its children laid out
inside). A few virtual groups make the first view match how the papers draw the networks: ResNet's stem
(conv1, bn1, relu, maxpool) and head (avgpool, flatten, fc), and VGG-like convolution stacks split into stages
at each max-pool (Simonyan & Zisserman 2015, Table 1).

`BlockTree.build(graph)` derives the tree once per graph; `GraphView` holds the set of expanded blocks and
answers which boxes and edges are visible. Nothing here imports Qt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from explorer.core.graph import VARIABLE_DIM, GraphNode, ModelGraph, Shape

ROOT = ""


@dataclass
class TreeItem:
    """A block (module or virtual group) or a leaf call of the graph."""

    id: str
    label: str
    type: str                       # module class name, "Group" for a virtual group, or the op of a call
    kind: str                       # "block" or the NODE_KINDS kind of a call
    parent: str | None              # enclosing block id (None for the root)
    children: list[str] = field(default_factory=list)   # blocks only, in call order
    virtual: bool = False           # a group the viewer made (stem, head, stage), not a module
    params: int = 0
    macs: int = 0
    output_shape: Shape = ()
    order: int = 0                  # index of the first call inside, in execution order
    signature: tuple = ()           # structure used to find identical repeated siblings
    repeat: int = 1                 # length of the run of identical siblings this item belongs to
    repeat_index: int = 0           # position in that run (0 = first)
    nodes: list[str] = field(default_factory=list)      # blocks: every call inside, in execution order
    summary: str = ""               # virtual groups: what they hold, e.g. "Conv2d ×2 · ReLU ×2 · MaxPool2d"
    kinds: dict[str, int] = field(default_factory=dict)  # blocks: calls per op kind (for the composition bar)
    description: str = ""           # calls: GraphNode.description (what a named non-module step does)

    @property
    def is_block(self) -> bool:
        return self.kind == "block"


class BlockTree:
    """The module hierarchy of a graph, with virtual groups, as blocks and calls."""

    def __init__(self, graph: ModelGraph, items: dict[str, TreeItem], node_chain: dict[str, tuple[str, ...]]):
        self.graph = graph
        self.items = items
        # For every call: the blocks that enclose it, root first.
        self.node_chain = node_chain

    # -- construction -----------------------------------------------------------------------------------
    @classmethod
    def build(cls, graph: ModelGraph) -> "BlockTree":
        node_ids = {n.id for n in graph.nodes}
        modules = graph.modules
        # Blocks are modules that hold calls and are not themselves a leaf call.
        holders: dict[str, list[GraphNode]] = {}
        for n in graph.nodes:
            holders.setdefault(_block_of(n.parent, modules, node_ids), []).append(n)
        block_paths: set[str] = {ROOT}
        for path in list(holders):
            p: str | None = path
            while p is not None and p not in block_paths:
                block_paths.add(p)
                p = _parent_path(p, modules)
        items: dict[str, TreeItem] = {}
        for path in block_paths:
            info = modules.get(path)
            label = path.rsplit(".", 1)[-1] if path else (graph.model_name or "model")
            items[path] = TreeItem(id=path, label=label, type=info.type if info else "Module", kind="block",
                                   parent=None if path == ROOT else _parent_path(path, modules),
                                   params=info.params if info else 0)
        for i, n in enumerate(graph.nodes):
            parent = _block_of(n.parent, modules, node_ids)
            items[n.id] = TreeItem(id=n.id, label=n.label or n.id.rsplit(".", 1)[-1], type=n.op, kind=n.kind,
                                   parent=parent, params=n.params, macs=n.macs,
                                   output_shape=tuple(n.output_shapes[0]) if n.output_shapes else (), order=i,
                                   signature=(n.op,), description=n.description)
        # Children in call order: a block's order is its first call.
        first: dict[str, int] = {}
        for i, n in enumerate(graph.nodes):
            p = items[n.id].parent
            while p is not None and p not in first:
                first[p] = i
                p = items[p].parent
        for bid in block_paths:
            items[bid].order = first.get(bid, 0)
        for item in sorted(items.values(), key=lambda it: it.order):
            if item.parent is not None:
                items[item.parent].children.append(item.id)
        for bid in block_paths:
            items[bid].children.sort(key=lambda c: (items[c].order, not items[c].is_block))
        tree = cls(graph, items, {})
        tree._add_virtual_groups()
        tree._finish()
        return tree

    def _add_group(self, parent: str, name: str, members: list[str]) -> None:
        """Put `members` (consecutive children of `parent`) into a new virtual block."""
        gid = f"{parent}.{name}" if parent else name
        while gid in self.items:
            gid += "~"
        p = self.items[parent]
        at = p.children.index(members[0])
        p.children[at:at + len(members)] = [gid]
        self.items[gid] = TreeItem(id=gid, label=name, type="Group", kind="block", parent=parent,
                                   children=list(members), virtual=True, order=self.items[members[0]].order)
        for m in members:
            self.items[m].parent = gid

    def _add_virtual_groups(self) -> None:
        for bid in [i.id for i in self.items.values() if i.is_block]:
            item = self.items[bid]
            kids = item.children
            labels = [self.items[c].label for c in kids]
            # ResNet stems (also inside FCN's and Faster R-CNN's IntermediateLayerGetter backbones) and
            # DenseNet's (Huang et al. 2017, Table 1: "Convolution 7×7, Pooling" before the first dense block).
            for stem in (["conv1", "bn1", "relu", "maxpool"], ["conv0", "norm0", "relu0", "pool0"]):
                for i in range(len(labels) - 3):
                    if labels[i:i + 4] == stem and len(kids) > 4:
                        self._add_group(bid, "stem", kids[i:i + 4])
                        kids, labels = item.children, [self.items[c].label for c in item.children]
                        break
            # GoogLeNet's stem: the convolutions and pools before the first inception module.
            if item.type == "GoogLeNet" and "conv1" in labels and "inception3a" in labels:
                a, b = labels.index("conv1"), labels.index("inception3a")
                if b - a > 1:
                    self._add_group(bid, "stem", kids[a:b])
                    kids, labels = item.children, [self.items[c].label for c in item.children]
            # Classification heads: global pooling to the last fc (ResNet, GoogLeNet).
            if item.type in ("ResNet", "GoogLeNet") and "avgpool" in labels and "fc" in labels:
                a, b = labels.index("avgpool"), labels.index("fc")
                if b > a:
                    self._add_group(bid, "head", kids[a:b + 1])
                    kids, labels = item.children, [self.items[c].label for c in item.children]
            # Detectors: the functional tail of the RPN (decode, NMS) and of the RoI heads (softmax, NMS).
            if item.type in ("RegionProposalNetwork", "RoIHeads"):
                funcs = [i for i, c in enumerate(kids) if not self.items[c].is_block and c not in self.graph.modules
                         and self.items[c].type[:1].islower()]
                if len(funcs) >= 3 and funcs == list(range(funcs[0], funcs[0] + len(funcs))) and funcs[0] > 0:
                    name = "proposals" if item.type == "RegionProposalNetwork" else "postprocess"
                    self._add_group(bid, name, kids[funcs[0]:funcs[-1] + 1])
                    kids, labels = item.children, [self.items[c].label for c in item.children]
            # VGG-like stacks: split at each max-pool into stages.
            types = [self.items[c].type for c in kids]
            pools = [i for i, t in enumerate(types) if t == "MaxPool2d"]
            if (len(pools) >= 3 and len(kids) >= 10 and not any(self.items[c].is_block for c in kids)
                    and item.type in ("Sequential", "Module")):
                bounds, start = [], 0
                for p in pools:
                    bounds.append((start, p + 1))
                    start = p + 1
                if start < len(kids):
                    bounds.append((start, len(kids)))
                groups = [kids[a:b] for a, b in bounds]
                for k, members in enumerate(groups, 1):
                    if len(members) > 1:
                        self._add_group(bid, f"stage{k}", members)

    def _finish(self) -> None:
        items = self.items
        node_index = {n.id: i for i, n in enumerate(self.graph.nodes)}

        def visit(bid: str) -> None:
            item = items[bid]
            nodes: list[str] = []
            for c in item.children:
                child = items[c]
                if child.is_block:
                    visit(c)
                    nodes.extend(child.nodes)
                else:
                    nodes.append(c)
            nodes.sort(key=node_index.__getitem__)
            item.nodes = nodes
            item.macs = sum(items[n].macs for n in nodes)
            if item.virtual or bid not in self.graph.modules:
                item.params = sum(items[c].params for c in item.children)
            item.signature = (item.type, tuple(items[c].signature for c in item.children))
            kinds: dict[str, int] = {}
            for n in nodes:
                kinds[items[n].kind] = kinds.get(items[n].kind, 0) + 1
            item.kinds = kinds
            if item.virtual:
                runs: list[list] = []
                for c in item.children:
                    t = items[c].type
                    if runs and runs[-1][0] == t:
                        runs[-1][1] += 1
                    else:
                        runs.append([t, 1])
                item.summary = " · ".join(t if k == 1 else f"{t} ×{k}" for t, k in runs)

        visit(ROOT)
        # Chains of enclosing blocks for every call.
        chain: dict[str, tuple[str, ...]] = {}

        def walk(bid: str, prefix: tuple[str, ...]) -> None:
            here = prefix + (bid,)
            for c in items[bid].children:
                if items[c].is_block:
                    walk(c, here)
                else:
                    chain[c] = here
        walk(ROOT, ())
        self.node_chain = chain
        self.block_chain: dict[str, tuple[str, ...]] = {}
        for bid, item in items.items():
            if item.is_block:
                ch, p = [], item.parent
                while p is not None:
                    ch.append(p)
                    p = items[p].parent
                self.block_chain[bid] = tuple(reversed(ch))
        # Output shape of a block: the last call inside whose result leaves the block.
        leaving: dict[str, set[str]] = {}
        for e in self.graph.edges:
            cs, ct = chain.get(e.source, ()), chain.get(e.target, ())
            for b in cs:
                if b not in ct:
                    leaving.setdefault(b, set()).add(e.source)
        for bid, item in items.items():
            if not item.is_block or not item.nodes:
                continue
            out = [n for n in item.nodes if n in leaving.get(bid, ())] or item.nodes
            item.output_shape = items[out[-1]].output_shape
            item.signature = item.signature + (item.output_shape,)
        # Runs of identical consecutive sibling blocks: "×N".
        for item in items.values():
            if not item.is_block:
                continue
            kids = item.children
            i = 0
            while i < len(kids):
                j = i + 1
                if items[kids[i]].is_block:
                    while j < len(kids) and items[kids[j]].is_block and \
                            items[kids[j]].signature == items[kids[i]].signature:
                        j += 1
                if j - i > 1:
                    for k in range(i, j):
                        items[kids[k]].repeat = j - i
                        items[kids[k]].repeat_index = k - i
                i = j

    # -- queries ----------------------------------------------------------------------------------------
    def blocks(self) -> list[str]:
        return [i.id for i in self.items.values() if i.is_block]

    def chain(self, item_id: str) -> tuple[str, ...]:
        """Blocks enclosing an item, root first (not the item itself)."""
        if item_id in self.node_chain:
            return self.node_chain[item_id]
        return self.block_chain[item_id]

    def resolve(self, some_id: str) -> str | None:
        """The tree item for a node id, block id or module path (a leaf module's path is its call's id)."""
        if some_id in self.items:
            return some_id
        p = some_id
        while "." in p:
            p = p.rsplit(".", 1)[0]
            if p in self.items:
                return p
        return None

    def output_node(self, block: str) -> str | None:
        """The call whose output leaves `block` last in execution order (what the block hands on): a ResNet
        stem's max-pool, a head's fc, a VGG stage's pool. None for an empty block."""
        item = self.items.get(block)
        if item is None:
            return None
        if not item.is_block:
            return item.id
        inside = set(item.nodes)
        leaving = [n for n in item.nodes if any(s not in inside for s in self.graph.successors(n))]
        chosen = leaving or item.nodes
        return chosen[-1] if chosen else None

    def layer_of(self, item_id: str) -> str | None:
        """The layer whose output a view shows for a tree item: a call's own id, a module block's module path
        (its forward's output), a virtual group's output call (stem, head, stage). None for the whole model."""
        item = self.items.get(item_id)
        if item is None or item_id == ROOT:
            return None
        if not item.is_block or (not item.virtual and item_id in self.graph.modules):
            return item_id
        return self.output_node(item_id)

    def default_expanded(self) -> set[str]:
        """The first view: the model's main blocks (see the module docstring)."""
        items = self.items
        root = items[ROOT]
        expanded = {ROOT}
        kids = [c for c in root.children if items[c].is_block]
        for name in ("features", "backbone", "rpn"):
            if name in items and items[name].parent == ROOT and items[name].is_block:
                # DenseNet's dense blocks and VGG's and AlexNet's stages live in `features` (the papers draw
                # those, not one "features" box); detectors show backbone and RPN.
                if any(items[c].is_block for c in items[name].children) and (
                        name != "features" or root.type in ("DenseNet", "VGG", "AlexNet", "AlexNet2012")
                        or any(items[c].type == "_DenseBlock" for c in items[name].children)):
                    expanded.add(name)
        if len(kids) == 1 and len(root.children) <= 3:
            expanded.add(kids[0])       # a thin wrapper around one network
        return expanded

    def describe(self, item_id: str) -> dict:
        """What the inspector shows for a block: path, type, totals, calls."""
        item = self.items[item_id]
        return dict(id=item.id, label=item.label, type=item.type, virtual=item.virtual, params=item.params,
                    macs=item.macs, output_shape=item.output_shape, calls=len(item.nodes),
                    repeat=item.repeat, children=list(item.children))


@dataclass
class VisibleEdge:
    source: str          # a visible box (a call or a collapsed block)
    target: str
    shapes: list[Shape]  # tensor shapes of the fine edges it stands for
    count: int = 1


@dataclass
class VisibleGraph:
    boxes: list[str]          # visible leaf boxes: calls and collapsed blocks
    containers: list[str]     # expanded blocks (drawn as frames), the root excluded
    edges: list[VisibleEdge]


class GraphView:
    """The collapse state: which blocks are expanded, and the visible graph that follows."""

    def __init__(self, graph: ModelGraph, tree: BlockTree | None = None, expanded: Iterable[str] | None = None):
        self.graph = graph
        self.tree = tree or BlockTree.build(graph)
        self.expanded: set[str] = set(self.tree.default_expanded() if expanded is None else expanded) | {ROOT}

    # -- state changes ----------------------------------------------------------------------------------
    def is_block(self, item_id: str) -> bool:
        return item_id in self.tree.items and self.tree.items[item_id].is_block

    def expand(self, block: str) -> None:
        if self.is_block(block):
            self.expanded.add(block)
            self.expanded.update(self.tree.chain(block))

    def collapse(self, block: str) -> None:
        if block != ROOT and self.is_block(block):
            self.expanded.discard(block)

    def toggle(self, block: str) -> bool:
        """Expand a collapsed block or collapse an expanded one; returns whether anything changed."""
        if not self.is_block(block) or block == ROOT:
            return False
        if block in self.expanded:
            self.collapse(block)
        else:
            self.expand(block)
        return True

    def expand_all(self) -> None:
        self.expanded = set(self.tree.blocks())

    def collapse_all(self) -> None:
        self.expanded = {ROOT}

    def reveal(self, item_id: str) -> None:
        """Expand every block around an item so that it is drawn as its own box."""
        self.expanded.update(self.tree.chain(item_id))

    # -- the visible graph --------------------------------------------------------------------------------
    def representative(self, item_id: str) -> str:
        """The visible box that stands for an item: itself, or its outermost collapsed enclosing block."""
        for b in self.tree.chain(item_id):
            if b not in self.expanded:
                return b
        return item_id

    def visible(self) -> VisibleGraph:
        items = self.tree.items
        boxes: list[str] = []
        containers: list[str] = []

        def walk(bid: str) -> None:
            for c in items[bid].children:
                if items[c].is_block and c in self.expanded:
                    containers.append(c)
                    walk(c)
                else:
                    boxes.append(c)
        walk(ROOT)
        rep: dict[str, str] = {}
        for n in self.graph.nodes:
            rep[n.id] = self.representative(n.id)
        merged: dict[tuple[str, str], VisibleEdge] = {}
        for e in self.graph.edges:
            s, t = rep.get(e.source), rep.get(e.target)
            if s is None or t is None or s == t:
                continue
            ve = merged.get((s, t))
            if ve is None:
                merged[(s, t)] = VisibleEdge(s, t, [tuple(e.shape)])
            else:
                ve.count += 1
                if tuple(e.shape) not in ve.shapes:
                    ve.shapes.append(tuple(e.shape))
        return VisibleGraph(boxes, containers, list(merged.values()))


def _parent_path(path: str, modules: dict) -> str | None:
    """The enclosing module path ("" is the root; None above it)."""
    if path == ROOT:
        return None
    info = modules.get(path)
    if info is not None and info.parent is not None:
        return info.parent
    return path.rsplit(".", 1)[0] if "." in path else ROOT


def _block_of(parent: str, modules: dict, node_ids: set[str]) -> str:
    """The block that holds a call whose enclosing module is `parent` (a leaf call is never a block)."""
    p: str | None = parent
    while p and p in node_ids:
        p = _parent_path(p, modules)
    return p or ROOT


def shape_text(shape: Shape) -> str:
    """(1, 64, 56, 56) -> '64×56×56'. The app's one rule for shapes: per image, as the papers and the notes
    write them (AlexNet's 55×55×96) and as the input is given (3×224×224), so the traced batch of 1 is not
    written; a data-dependent size (VARIABLE_DIM) is written N, as torchvision's docs write detections:
    (VARIABLE_DIM, 4) -> 'N×4'."""
    dims = list(shape)
    if len(dims) > 1 and dims[0] == 1:
        dims = dims[1:]
    return "×".join("N" if d == VARIABLE_DIM else str(d) for d in dims) if dims else "–"


def count_text(n: int) -> str:
    """Compact counts: 1234 -> '1.2K', 25_557_032 -> '25.6M'."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)


_TREE_CACHE: list[tuple[ModelGraph, BlockTree]] = []


def tree_for(graph: ModelGraph) -> BlockTree:
    """The block tree of a graph, shared by the panels that show the same graph (the last few are kept)."""
    for g, t in _TREE_CACHE:
        if g is graph:
            return t
    tree = BlockTree.build(graph)
    _TREE_CACHE.append((graph, tree))
    del _TREE_CACHE[:-3]
    return tree
