"""Model cards: every zoo entry has year, paper and key idea; parameters and MACs match torchvision metadata."""

import pytest

from explorer.core import zoo
from explorer.core.notes import cards
from explorer.core.notes.layer_stats import layer_stats


def test_card_for_every_zoo_entry():
    all_cards = cards.all_cards()
    assert [c.name for c in all_cards] == zoo.names()
    for c in all_cards:
        assert 2010 <= c.year <= 2020 and c.paper and c.key_idea
        assert c.params is None and c.params_text == "…"


def test_card_key_ideas_of_the_notes():
    ideas = {c.name: c.key_idea for c in cards.all_cards()}
    assert "two GPUs" in ideas["alexnet2012"] and "3×3" in ideas["vgg16"] and "1×1" in ideas["googlenet"]
    assert "batch norm" in ideas["resnet50"] and "concatenated" in ideas["densenet121"]
    assert "any input size" in ideas["fcn_resnet50"] and "Region Proposal" in ideas["fasterrcnn_resnet50_fpn"]
    assert "S×S" in ideas["yolov1"]


@pytest.mark.parametrize("name,weights", [("alexnet", "AlexNet_Weights"), ("resnet18", "ResNet18_Weights")])
def test_card_params_and_macs_match_torchvision_metadata(name, weights):
    import torchvision.models as tvm
    meta = getattr(tvm, weights).IMAGENET1K_V1.meta
    c = cards.card_with_totals(name)
    assert c.params == meta["num_params"]
    assert round(c.macs / 1e9, 3) == meta["_ops"]          # torchvision's "GFLOPS" are giga multiply-adds
    assert c.source in ("captured graph", "forward hooks")


def test_card_layer_stats_dense_layers_hold_params_convs_hold_macs():
    s = layer_stats(zoo.build("alexnet"), (3, 224, 224), "alexnet")
    kinds = s.by_kind()
    assert kinds["dense"][0] > 20 * kinds["conv"][0]      # 58.6 M dense vs 2.5 M conv parameters
    assert kinds["conv"][1] > 10 * kinds["dense"][1]      # 656 M conv vs 59 M dense MACs
    fc6 = next(la for la in s.layers if la.name == "classifier.1")
    assert fc6.params == 256 * 6 * 6 * 4096 + 4096 and fc6.macs == 256 * 6 * 6 * 4096
    conv1 = next(la for la in s.layers if la.name == "features.0")
    assert conv1.macs == 55 * 55 * 64 * 3 * 11 * 11 and conv1.stage == "55×55"
    assert sum(p for _, p, _ in s.by_stage()) == s.total_params


def test_card_layer_stats_small_net_by_hand():
    from torch import nn
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1, groups=2, bias=False), nn.Flatten(), nn.Linear(16 * 16 * 16, 10))
    s = layer_stats(net, (3, 32, 32), "small")
    stages = {st: (p, m) for st, p, m in s.by_stage()}
    assert stages["32×32"] == (3 * 3 * 3 * 8 + 8, 32 * 32 * 8 * 3 * 3 * 3)
    assert stages["16×16"] == (3 * 3 * 4 * 16, 16 * 16 * 16 * 3 * 3 * 4)          # groups=2: 4 inputs per kernel
    assert stages["dense"] == (4096 * 10 + 10, 4096 * 10)
    assert [st for st, _, _ in s.by_stride()] == ["stride 1", "stride 2", "head"]
    assert s.total_params == sum(p.numel() for p in net.parameters())


def test_card_stage_by_stride_alexnet_vs_resnet18():
    a = layer_stats(zoo.build("alexnet"), (3, 224, 224), "alexnet").by_stride()
    r = layer_stats(zoo.build("resnet18"), (3, 224, 224), "resnet18").by_stride()
    assert [s for s, _, _ in a] == ["stride 4", "stride 8", "stride 16", "stride 32", "head"]
    assert [s for s, _, _ in r] == ["stride 2", "stride 4", "stride 8", "stride 16", "stride 32", "head"]
    # AlexNet stride 4 = conv1 (55×55): 11·11·3·64 + 64 params; ResNet-18's head is fc: 512·1000 + 1000
    assert a[0][1] == 11 * 11 * 3 * 64 + 64 and r[-1][1:] == (512 * 1000 + 1000, 512 * 1000)
