"""The collapse state -> visible graph: blocks, virtual groups, totals, ×N runs and derived edges."""

from __future__ import annotations

import functools

import pytest

from explorer.core.graph import GraphEdge, GraphNode, ModelGraph, ModuleInfo
from explorer.core.graph_view import ROOT, BlockTree, GraphView, count_text, shape_text


def make_graph(modules: dict[str, str], nodes: list[tuple[str, str, str, str]], edges: list[tuple[str, str]],
               name: str = "toy") -> ModelGraph:
    """modules: {path: type}; nodes: (id, op, kind, parent) in execution order; edges: (source, target)."""
    infos = {}
    for path, typ in modules.items():
        parent = None if path == "" else (path.rsplit(".", 1)[0] if "." in path else "")
        infos[path] = ModuleInfo(path, typ, parent)
    for info in infos.values():
        if info.parent is not None:
            infos[info.parent].children.append(info.path)
    gnodes = [GraphNode(id=i, label=i.rsplit(".", 1)[-1], op=op, kind=kind, module_path=i, parent=parent,
                        output_shapes=[(1, 4, 8, 8)], params=10, macs=100) for i, op, kind, parent in nodes]
    gedges = [GraphEdge(a, b, (1, 4, 8, 8)) for a, b in edges]
    return ModelGraph(name, (3, 32, 32), gnodes, gedges, infos, 10 * len(gnodes), 100 * len(gnodes))


def toy_resnet() -> ModelGraph:
    """input -> conv1/bn1/relu/maxpool -> layer1 (3 blocks; block 0 with a downsample) -> avgpool -> fc -> output."""
    mods = {"": "ResNet", "layer1": "Sequential"}
    nodes = [("input", "input", "input", "")]
    for n, op in (("conv1", "Conv2d"), ("bn1", "BatchNorm2d"), ("relu", "ReLU"), ("maxpool", "MaxPool2d")):
        nodes.append((n, op, "conv", ""))
    edges = [("input", "conv1"), ("conv1", "bn1"), ("bn1", "relu"), ("relu", "maxpool")]
    prev = "maxpool"
    for b in range(3):
        blk = f"layer1.{b}"
        mods[blk] = "BasicBlock"
        nodes += [(f"{blk}.conv1", "Conv2d", "conv", blk), (f"{blk}.conv2", "Conv2d", "conv", blk)]
        edges += [(prev, f"{blk}.conv1"), (f"{blk}.conv1", f"{blk}.conv2")]
        skip = prev
        if b == 0:
            mods[f"{blk}.downsample"] = "Sequential"
            nodes.append((f"{blk}.downsample.0", "Conv2d", "conv", f"{blk}.downsample"))
            edges.append((prev, f"{blk}.downsample.0"))
            skip = f"{blk}.downsample.0"
        nodes.append((f"{blk}.add_0", "add", "merge", blk))
        edges += [(f"{blk}.conv2", f"{blk}.add_0"), (skip, f"{blk}.add_0")]
        prev = f"{blk}.add_0"
    nodes += [("avgpool", "AdaptiveAvgPool2d", "pool", ""), ("fc", "Linear", "linear", ""),
              ("output", "output", "output", "")]
    edges += [(prev, "avgpool"), ("avgpool", "fc"), ("fc", "output")]
    return make_graph(mods, nodes, edges)


def test_blocks_groups_and_default_view():
    g = toy_resnet()
    tree = BlockTree.build(g)
    assert tree.items[ROOT].children == ["input", "stem", "layer1", "head", "output"]
    assert tree.items["stem"].virtual and tree.items["stem"].children == ["conv1", "bn1", "relu", "maxpool"]
    assert tree.items["head"].children == ["avgpool", "fc"]
    view = GraphView(g, tree)
    assert view.visible().boxes == ["input", "stem", "layer1", "head", "output"]
    # Collapsed: one chain, edges inside blocks gone.
    assert [(e.source, e.target) for e in view.visible().edges] == [
        ("input", "stem"), ("stem", "layer1"), ("layer1", "head"), ("head", "output")]


def test_totals_and_repeats():
    g = toy_resnet()
    tree = BlockTree.build(g)
    layer1 = tree.items["layer1"]
    # 3 blocks × (2 convs + add) + 1 downsample conv = 10 calls of 10 params / 100 MACs each (hand count).
    assert len(layer1.nodes) == 10
    assert layer1.macs == 1000
    assert tree.items["stem"].params == 40
    # Blocks 1 and 2 are identical (block 0 has the downsample): a run of two.
    assert [tree.items[c].repeat for c in layer1.children] == [1, 2, 2]
    assert [tree.items[c].repeat_index for c in layer1.children] == [0, 0, 1]
    assert tree.items["layer1"].output_shape == (1, 4, 8, 8)


def test_expand_collapse_and_boundary_edges():
    g = toy_resnet()
    view = GraphView(g)
    view.expand("layer1")
    vis = view.visible()
    assert vis.containers == ["layer1"]
    assert vis.boxes == ["input", "stem", "layer1.0", "layer1.1", "layer1.2", "head", "output"]
    pairs = {(e.source, e.target) for e in vis.edges}
    # The skip edge of block 0 runs inside it and disappears; the edge from the stem reaches block 0.
    assert ("stem", "layer1.0") in pairs and ("layer1.0", "layer1.1") in pairs and ("layer1.2", "head") in pairs
    assert len(pairs) == len(vis.edges) == 6
    view.expand("layer1.0")
    pairs = {(e.source, e.target) for e in view.visible().edges}
    # stem feeds both conv1 and the downsample of block 0: two edges crossing into the expanded block.
    assert {("stem", "layer1.0.conv1"), ("stem", "layer1.0.downsample")} <= pairs
    assert view.toggle("layer1") and "layer1" not in view.expanded
    assert view.representative("layer1.0.conv1") == "layer1"
    view.expand_all()
    assert set(view.visible().boxes) == {n.id for n in g.nodes}
    assert len(view.visible().edges) == len(g.edges)
    view.collapse_all()
    assert view.expanded == {ROOT}
    view.reveal("layer1.0.downsample.0")
    assert {"layer1", "layer1.0", "layer1.0.downsample"} <= view.expanded
    assert not view.toggle("conv1")          # a call is not a block


def test_resolve_and_text_helpers():
    tree = BlockTree.build(toy_resnet())
    assert tree.resolve("layer1.0.conv2") == "layer1.0.conv2"
    assert tree.resolve("layer1.0.conv2.weight") == "layer1.0.conv2"
    assert tree.resolve("nothing") is None
    assert shape_text((1, 64, 56, 56)) == "64×56×56"
    assert shape_text((2, 10)) == "2×10"
    assert count_text(25_557_032) == "25.6M" and count_text(999) == "999"


# -- real torchvision models --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def captured(name: str, size: int):
    from explorer.core import zoo
    from explorer.core.capture import capture_graph

    model = zoo.build(name)
    return model, capture_graph(model, name, (3, size, size))


def test_resnet18_blocks_match_torchvision():
    model, g = captured("resnet18", 64)
    view = GraphView(g)
    assert view.visible().boxes == ["input", "stem", "layer1", "layer2", "layer3", "layer4", "head", "output"]
    tree = view.tree
    for name in ("layer1", "layer2", "layer3", "layer4"):
        # Block totals against torchvision's own modules.
        assert tree.items[name].params == sum(p.numel() for p in getattr(model, name).parameters())
    stem_params = sum(p.numel() for m in (model.conv1, model.bn1) for p in m.parameters())
    assert tree.items["stem"].params == stem_params == 7 * 7 * 3 * 64 + 2 * 64
    assert tree.items["layer4"].output_shape == (1, 512, 2, 2)     # 64 px input / stride 32
    # layer1's two BasicBlocks are identical; layer2.0 has a downsample, layer2.1 not.
    assert [tree.items[c].repeat for c in tree.items["layer1"].children] == [2, 2]
    assert [tree.items[c].repeat for c in tree.items["layer2"].children] == [1, 1]
    chain = [(e.source, e.target) for e in view.visible().edges]
    assert chain == [("input", "stem"), ("stem", "layer1"), ("layer1", "layer2"), ("layer2", "layer3"),
                     ("layer3", "layer4"), ("layer4", "head"), ("head", "output")]


@pytest.mark.slow
def test_densenet_dense_layers_marked_as_repeats():
    _, g = captured("densenet121", 32)
    tree = BlockTree.build(g)
    view = GraphView(g, tree)
    assert "features" in view.expanded
    # torchvision densenet121: block_config (6, 12, 24, 16) dense layers.
    for k, n in zip(range(1, 5), (6, 12, 24, 16)):
        block = tree.items[f"features.denseblock{k}"]
        layers = [c for c in block.children if tree.items[c].type == "_DenseLayer"]
        assert len(layers) == n
        assert tree.items[layers[0]].repeat == n
        assert [tree.items[c].repeat_index for c in layers] == list(range(n))


def test_shape_text_writes_variable_dims_as_n():
    from explorer.core.graph import VARIABLE_DIM

    assert shape_text((VARIABLE_DIM, 4)) == "N×4"
    assert shape_text((VARIABLE_DIM,)) == "N"
    assert shape_text((1, VARIABLE_DIM, 4)) == "N×4"     # batch of one dropped as usual
    assert shape_text((2, 3)) == "2×3" and shape_text(()) == "–"


def test_classifier_output_shape_text_unchanged():
    """A classifier's output has no data-dependent size: resnet18's output box reads 1000, as torchvision's
    own forward gives (1, 1000)."""
    import torch

    model, g = captured("resnet18", 64)
    with torch.inference_mode():
        ref = tuple(model.eval()(torch.zeros(1, 3, 64, 64)).shape)
    assert g.node("output").output_shapes == [ref] == [(1, 1000)]
    tree = BlockTree.build(g)
    assert shape_text(tree.items["output"].output_shape) == "1000"
    assert all(n.description == "" for n in g.nodes)  # no named steps in ResNet


def test_alexnets_first_view_shows_its_stages():
    """AlexNet's `features` opens on its stages as VGG's does (the paper draws its conv layers, not one box);
    each stage ends in its max-pool, which is what the layer views show for it."""
    _, g = captured("alexnet", 64)
    view = GraphView(g)
    assert "features" in view.expanded
    boxes = view.visible().boxes
    assert boxes[:4] == ["input", "features.stage1", "features.stage2", "features.stage3"]
    for stage in ("features.stage1", "features.stage2", "features.stage3"):
        assert g.node(view.tree.layer_of(stage)).op == "MaxPool2d"


def test_densenets_stem_is_one_group():
    """DenseNet's conv0, norm0, relu0 and pool0 are its stem (Huang et al. 2017, Table 1: "Convolution 7×7,
    Pooling"), one box of the first view like ResNet's, showing pool0."""
    _, g = captured("densenet121", 32)
    view = GraphView(g)
    stem = view.tree.items["features.stem"]
    assert stem.virtual and [view.tree.items[c].label for c in stem.children] == ["conv0", "norm0", "relu0", "pool0"]
    assert view.visible().boxes[:3] == ["input", "features.stem", "features.denseblock1"]
    assert view.tree.layer_of("features.stem") == "features.pool0"


def test_box_lines_give_each_repeat_its_place():
    """A run of identical blocks: each box says its place in the run, in the title line (the boxes are sized
    for it; a separate corner mark overlapped the title), after a name a reader can place: a bare index in a
    Sequential is named by its path from the named module (new-user trial: it read "1  ×2")."""
    from explorer.core.layout import box_lines, box_size, frame_title

    tree = BlockTree.build(toy_resnet())
    assert box_lines(tree.items["layer1.1"])[0] == "layer1.1 · 1 of 2"
    assert box_lines(tree.items["layer1.2"])[0] == "layer1.2 · 2 of 2"
    assert box_lines(tree.items["layer1.0"])[0] == "layer1.0"
    title = frame_title(tree.items["layer1.1"])
    assert title.startswith("layer1.1 (") and title.endswith(" · 1 of 2")
    # the box is as wide as its longest line (the layout sizes it from the same text it shows)
    lines = box_lines(tree.items["layer1.1"])
    assert box_size(tree.items["layer1.1"])[0] >= min(260.0, max(len(s) for s in lines) * 6.9 + 16)
