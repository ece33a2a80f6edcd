"""ActivationProbe: hooks only on the selected module, removed on detach; the collected tensor is the layer's
real output; multi-output modules give one chosen leaf; names resolve from module paths and graph node ids."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torchvision

from explorer.core.activations import (ActivationProbe, UnknownLayerError, capture_activation, flatten_outputs,
                                       pick_output, resolve_layer, resolve_module)
from explorer.core.mosaic import MosaicOptions


def _hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return torchvision.models.resnet18().eval()


def _ctx(x):
    return SimpleNamespace(input_size=tuple(x.shape[-2:]), scale=(1.0, 1.0), offset=(0.0, 0.0), model=None)


def test_probe_collects_the_layer_output_and_builds_c_tiles(resnet18):
    m = resnet18
    x = torch.rand(1, 3, 64, 64)
    probe = ActivationProbe("layer1", options=MosaicOptions(order="mean"))
    probe.attach(m)
    hooked = [name for name, mod in m.named_modules() if mod._forward_hooks]
    assert hooked == ["layer1"]  # one forward hook, on the selected module only
    with torch.inference_mode():
        m(x)
        frame = probe.collect(_ctx(x))
        reference = m.layer1(m.maxpool(m.relu(m.bn1(m.conv1(x)))))[0]  # the same layer, called by hand
    probe.detach()
    assert _hook_count(m) == 0
    assert frame.shape == (64, 16, 16)
    assert torch.equal(frame.activation, reference)
    assert frame.mosaic.num_tiles == 64 and frame.mosaic.num_channels == 64
    assert frame.output_keys == [""] and frame.input_size == (64, 64)
    # nothing captured until the next forward pass: memory holds one tensor per probe at most
    assert probe.collect(_ctx(x)) is None


def test_detach_leaves_no_hooks_and_reattach_moves_them(resnet18):
    m = resnet18
    probe = ActivationProbe("layer2.0.conv1")
    probe.attach(m)
    assert _hook_count(m) == 2  # the layer's hook + the model's call-counter pre-hook
    probe.layer = "layer3"
    probe.attach(m)             # re-attaching removes the old hooks first
    assert [n for n, mod in m.named_modules() if mod._forward_hooks] == ["layer3"]
    probe.detach()
    probe.detach()              # idempotent
    assert _hook_count(m) == 0


def test_shared_module_second_call_from_graph_node(resnet18):
    from explorer.core.capture import capture_graph

    m = resnet18
    graph = capture_graph(m, "resnet18", (3, 64, 64))
    ref = resolve_layer(m, "layer1.0.relu#1", graph)
    assert (ref.module_path, ref.call_index) == ("layer1.0.relu", 1)
    x = torch.rand(1, 3, 64, 64)
    probe = ActivationProbe("layer1.0.relu#1", graph)
    probe.attach(m)
    with torch.inference_mode():
        m(x)
        frame = probe.collect(_ctx(x))
        stem = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        block_out = m.layer1[0](stem)[0]   # the block's last op is its second ReLU call
    probe.detach()
    assert torch.equal(frame.activation, block_out)
    # a functional op (the residual add) has no module: its enclosing block is hooked, with a note
    add = resolve_layer(m, "layer1.0.add_0", graph)
    assert add.module_path == "layer1.0" and "add" in add.note


def test_multi_output_modules_pick_a_leaf():
    fpn = torchvision.ops.FeaturePyramidNetwork([8, 16], 4).eval()
    feats = {"c3": torch.rand(1, 8, 16, 16), "c4": torch.rand(1, 16, 8, 8)}
    with torch.no_grad():
        out = fpn(feats)
    assert [k for k, _ in flatten_outputs(out)] == ["c3", "c4"]
    key, t, keys = pick_output(out)
    assert key == "c3" and t.shape == (1, 4, 16, 16) and keys == ["c3", "c4"]
    key, t, _ = pick_output(out, "c4")
    assert key == "c4" and t.shape == (1, 4, 8, 8)
    nested = ([torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 2, 2)], [torch.ones(1, 12, 4, 4)])  # RPN head style
    assert [k for k, _ in flatten_outputs(nested)] == ["0.0", "0.1", "1.0"]
    assert pick_output(nested, "1.0")[1].shape == (1, 12, 4, 4)
    assert pick_output(nested, "nope")[0] == "0.0"  # unknown key: the first


def test_detector_backbone_fpn_level_and_rpn_head():
    from explorer.core import zoo

    model = zoo.build("fasterrcnn_mobilenet_v3_large_320_fpn")
    x = torch.rand(3, 200, 240)
    with torch.inference_mode():
        act, key, keys, ref = capture_activation(model, "backbone", lambda: model([x]), output_key="pool")
        assert keys == ["0", "1", "pool"] and key == "pool" and act.shape[0] == 256
        first, key0, _, _ = capture_activation(model, "backbone", lambda: model([x]))
        assert key0 == "0" and first.shape[0] == 256 and first.shape[1] > act.shape[1]
        logits, k, keys, _ = capture_activation(model, "rpn.head", lambda: model([x]))
        assert k == "0.0" and keys[0] == "0.0" and "1.0" in keys
        assert logits.shape[0] == model.rpn.anchor_generator.num_anchors_per_location()[0]
    assert _hook_count(model) == 0


def test_unknown_layer_lists_close_matches(resnet18):
    with pytest.raises(UnknownLayerError) as err:
        resolve_module(resnet18, "layr1")
    assert "layer1" in str(err.value) and str(err.value).startswith("unknown layer 'layr1'")
    assert resolve_module(resnet18, "layer1.0.conv1") is resnet18.layer1[0].conv1
    assert resolve_module(resnet18, "fc") is resnet18.fc


def test_requests_run_once_in_collect(resnet18):
    m = resnet18
    x = torch.rand(1, 3, 32, 32)
    probe = ActivationProbe("conv1")
    probe.attach(m)
    probe.request("echo", lambda ctx: ctx.input_size)
    with torch.inference_mode():
        m(x)
        first = probe.collect(_ctx(x))
        m(x)
        second = probe.collect(_ctx(x))
    probe.detach()
    assert first.extras == {"echo": (32, 32)} and second.extras == {}


def test_inplace_relu_after_the_layer_does_not_overwrite_it():
    """torchvision's AlexNet runs ReLU(inplace=True) on conv1's output: the probe must keep the conv's values."""
    torch.manual_seed(0)
    m = torchvision.models.alexnet().eval()
    x = torch.rand(1, 3, 96, 96)
    with torch.inference_mode():
        act, _, _, _ = capture_activation(m, "features.0", lambda: m(x))
        reference = m.features[0](x)[0]
    assert torch.equal(act, reference) and bool((act < 0).any())


def test_empty_outputs_and_image_lists_never_fail_the_frame():
    """No detections: the RoI heads' first leaf is an empty box tensor. The probe skips to a leaf with values
    by default, and an empty chosen leaf gives a frame without mosaic and a note, not an exception."""
    from torchvision.models.detection.image_list import ImageList

    empty = ({"boxes": torch.zeros(0, 4), "scores": torch.zeros(0)}, {"features": torch.ones(1, 2, 3, 3)})
    key, t, _ = pick_output(empty)
    assert key == "1.features" and t.shape == (1, 2, 3, 3)
    assert flatten_outputs((ImageList(torch.zeros(1, 3, 8, 8), [(8, 8)]), None))[0][0] == "0.tensors"

    class Boxes(torch.nn.Module):
        def forward(self, x):
            return {"boxes": x[:0, :4]}

    model = torch.nn.Sequential()
    model.add_module("head", Boxes())
    probe = ActivationProbe("head")
    probe.attach(model)
    with torch.inference_mode():
        model(torch.zeros(3, 4))
        frame = probe.collect(None)
    probe.detach()
    assert frame.mosaic is None and "empty" in frame.note and frame.activation.numel() == 0


def test_min_interval_skips_the_copy_between_collections_except_for_requests(resnet18):
    m = resnet18
    x = torch.rand(1, 3, 32, 32)
    probe = ActivationProbe("conv1")
    probe.min_interval_s = 3600.0  # one collection per hour: every pass after the first is skipped
    probe.attach(m)
    with torch.inference_mode():
        m(x)
        first = probe.collect(_ctx(x))
        m(x)
        skipped = probe.collect(_ctx(x))
        probe.request("echo", lambda ctx: ctx.input_size)  # a request (Grad-CAM ...) is never skipped
        m(x)
        requested = probe.collect(_ctx(x))
        probe.min_interval_s = 0.0  # every pass again
        m(x)
        again = probe.collect(_ctx(x))
    probe.detach()
    assert first is not None and first.shape == (64, 16, 16)
    assert skipped is None
    assert requested is not None and requested.extras == {"echo": (32, 32)}
    assert again is not None and torch.equal(again.activation, first.activation)


def test_a_request_arriving_during_a_skipped_pass_waits_for_the_next_pass(resnet18):
    m = resnet18
    x = torch.rand(1, 3, 32, 32)
    probe = ActivationProbe("conv1")
    probe.min_interval_s = 3600.0
    probe.attach(m)
    with torch.inference_mode():
        m(x)
        assert probe.collect(_ctx(x)) is not None
        # the UI thread's request lands while the worker is inside a pass that was already skipped
        hook = m.layer4.register_forward_hook(lambda *a: probe.request("cam", lambda ctx: "CAM"))
        m(x)
        hook.remove()
        during = probe.collect(_ctx(x))
        m(x)
        after = probe.collect(_ctx(x))
    probe.detach()
    assert during is None
    assert after is not None and after.extras == {"cam": "CAM"}


def test_a_pass_in_another_thread_is_never_collected(resnet18):
    import threading

    m = resnet18
    x, other = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 64, 64)
    probe = ActivationProbe("conv1")
    probe.attach(m)
    with torch.inference_mode():
        m(x)
        # a timing job runs the same model on another thread between this pass and its collect
        worker = threading.Thread(target=lambda: m(other))
        worker.start()
        worker.join()
        frame = probe.collect(_ctx(x))
        alone = probe.collect(_ctx(x))
    probe.detach()
    assert frame is not None and frame.shape == (64, 16, 16)  # this thread's 32×32 input, not the 64×64 one
    assert alone is None
