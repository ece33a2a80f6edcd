"""Receptive fields: AlexNet conv1's pixel (i, j) covers input rows 4i − 2 .. 4i + 8 (k = 11, s = 4, p = 2),
checked three ways (hand formula, the captured graph, and autograd's true dependence), then mapped back to the
source image through the preprocessing's resize and centre crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision

from explorer.core.capture import capture_graph
from explorer.core.gradcam import input_gradient
from explorer.core.receptive import (InputGeometry, clip_box, conv_chain_geometry, field_box, field_geometry,
                                     input_geometry, rcnn_resize, source_box)


@pytest.fixture(scope="module")
def alexnet():
    torch.manual_seed(0)
    return torchvision.models.alexnet().eval()


@pytest.fixture(scope="module")
def alexnet_graph(alexnet):
    return capture_graph(alexnet, "alexnet", (3, 224, 224))


def test_alexnet_conv1_field_is_11x11_at_4i_minus_2(alexnet_graph):
    geo = field_geometry(alexnet_graph.node("features.0"), alexnet_graph)
    for i, j in [(0, 0), (10, 20), (54, 54), (27, 3)]:
        x0, y0, x1, y1 = field_box(geo, i, j)
        # rows 4i−2 .. 4i+8 inclusive = [4i−2, 4i+9) in edge coordinates
        assert (x0, y0, x1, y1) == (4 * j - 2, 4 * i - 2, 4 * j + 9, 4 * i + 9)
        assert (x1 - x0, y1 - y0) == (11, 11)
    assert field_box(geo, 3, 5) == field_box(conv_chain_geometry([(11, 4, 2)]), 3, 5)
    assert clip_box(field_box(geo, 0, 0), 224, 224) == (0, 0, 9, 9)


def test_field_matches_autograd_dependence(alexnet, alexnet_graph):
    """The true set of input pixels that influence a conv1 output (non-zero gradient) is the 11×11 box."""
    torch.manual_seed(1)
    x = torch.rand(1, 3, 224, 224) + 0.1
    geo = field_geometry(alexnet_graph.node("features.0"), alexnet_graph)
    for i, j in [(10, 20), (0, 0)]:
        g = input_gradient(alexnet, "features.0", x, i, j, channel=7)
        ys, xs = np.nonzero(g.magnitude)
        x0, y0, x1, y1 = clip_box(field_box(geo, i, j), 224, 224)
        assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (x0, x1, y0, y1)


def test_deeper_layer_against_the_recurrence(alexnet_graph):
    # conv2 (features.3): conv1 (11,4,2) -> maxpool (3,2,0) -> conv2 (5,1,2): r = 11 + 2·4 + 4·8 = 51, j = 8
    geo = field_geometry(alexnet_graph.node("features.3"), alexnet_graph)
    ref = conv_chain_geometry([(11, 4, 2), (3, 2, 0), (5, 1, 2)])
    assert (geo.receptive_field, geo.stride) == (51, 8) == (ref.receptive_field, ref.stride)
    assert field_box(geo, 2, 3) == field_box(ref, 2, 3)


def test_source_mapping_through_resize_and_centre_crop(alexnet_graph):
    """ImageNet preset on a 640×480 source: shorter side 480 -> 256 (×8/15), width 341, centre crop 224 at
    x offset round((341 − 224)/2) = 58 (torchvision's center_crop), y offset 16."""
    from explorer.core import zoo
    from explorer.core.preprocess import Preprocessor

    prep = Preprocessor(zoo.get("alexnet"))(np.zeros((480, 640, 3), np.uint8))
    assert prep.offset == (58.0, 16.0)
    geo_in = input_geometry(prep.scale, prep.offset)
    geo = field_geometry(alexnet_graph.node("features.0"), alexnet_graph)
    x0, y0, x1, y1 = source_box(geo, 10, 20, geo_in)
    sx, sy = 341 / 640, 256 / 480
    assert (x0, y0, x1, y1) == pytest.approx(((78 + 58) / sx, (38 + 16) / sy, (89 + 58) / sx, (49 + 16) / sy))
    # and back
    assert geo_in.to_input((x0, y0, x1, y1)) == pytest.approx((78, 38, 89, 49))
    assert InputGeometry((0.5, 0.5)).to_source((1, 2, 3, 4)) == (2, 4, 6, 8)


def test_detector_internal_resize():
    m = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None)
    m.eval()
    with torch.no_grad():
        images, _ = m.transform([torch.rand(3, 480, 640)])
    h, w = images.image_sizes[0]
    assert rcnn_resize(m, 480, 640) == (w / 640, h / 480)
    geo = input_geometry((1.0, 1.0), (0.0, 0.0), m, (480, 640))
    assert geo.scale == (w / 640, h / 480)
    # a fixed, non-square size (SSD-style): torchvision's fixed_size is (width, height); it was read as (H, W)
    m.transform.fixed_size = (320, 240)
    with torch.no_grad():
        images, _ = m.transform([torch.rand(3, 480, 640)])
    assert images.image_sizes[0] == (240, 320)
    assert rcnn_resize(m, 480, 640) == (320 / 640, 240 / 480)


def test_each_fpn_level_and_rpn_head_output_has_its_own_stride():
    """A multi-output module's picked output is measured at the node that produced it: FPN level "0" of
    fasterrcnn_mobilenet_v3_large_320_fpn has stride 32 (320 / its 10×10 map), its max-pooled "pool" level
    stride 64 with the same receptive field as the level it pools (kernel 1: r grows by (k − 1)·j = 0), and the
    RPN head's third call (on "pool") the pool level's stride. The module's last node, what a single-output
    lookup returns, is the "pool" level, stride 64 for every level."""
    from explorer.core.capture import find_node, find_output_node

    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None,
                                                                               weights_backbone=None).eval()
    graph = capture_graph(model, "fasterrcnn_mobilenet_v3_large_320_fpn", (3, 320, 320))
    with torch.no_grad():
        images, _ = model.transform([torch.rand(3, 320, 320)])
        levels = model.backbone(images.tensors)
    assert list(levels) == ["0", "1", "pool"]
    size = images.tensors.shape[-1]
    for key, level in levels.items():
        node = find_output_node(graph, "backbone.fpn", key)
        assert node.stride * level.shape[-1] == size, key          # stride from the map's own size
        assert find_output_node(graph, "backbone", key).id == node.id  # the same leaf through the parent
    pool, last = find_output_node(graph, "backbone.fpn", "pool"), find_output_node(graph, "backbone.fpn", "1")
    assert pool.receptive_field == last.receptive_field and pool.stride == 2 * last.stride
    assert find_node(graph, "backbone.fpn").stride == 64                  # what every level used to get
    objectness = find_output_node(graph, "rpn.head", "0.2")
    assert objectness.op == "Conv2d" and objectness.id.startswith("rpn.head.cls_logits")
    assert objectness.stride == pool.stride
    assert find_output_node(graph, "rpn.head", "1.0").id == "rpn.head.bbox_pred"
    assert find_output_node(graph, "backbone.fpn", "no such key").id == find_node(graph, "backbone.fpn").id


# -- a feature pixel of a captured layer on the source image (the dock's and the patch index's function) ----------
def test_receptive_field_box_through_resize_and_centre_crop_clipped_to_the_photo(alexnet_graph):
    """The public function: feature pixel → source pixels, clipped to what the model saw. Pixel (10, 20) of
    features.0 is the box [78, 89) × [38, 49) of the 224 crop; pixel (0, 0) reaches 2 pixels into the padding,
    which the clipped box leaves out; a deep layer's field (alexnet features.12: 195 px) is cut to the crop, so
    the photo's sides the centre crop dropped are never part of it."""
    from explorer.core import zoo
    from explorer.core.preprocess import Preprocessor
    from explorer.core.receptive import feature_field, layer_field_geometry, receptive_field_box

    prep = Preprocessor(zoo.get("alexnet"))(np.zeros((480, 640, 3), np.uint8))
    geo_in = input_geometry(prep.scale, prep.offset)
    (sx, sy), (ox, oy) = prep.scale, prep.offset
    box = receptive_field_box(alexnet_graph, "features.0", 10, 20, geo_in, (224, 224), (480, 640))
    assert box == pytest.approx(((78 + ox) / sx, (38 + oy) / sy, (89 + ox) / sx, (49 + oy) / sy))
    corner = receptive_field_box(alexnet_graph, "features.0", 0, 0, geo_in, (224, 224), (480, 640))
    assert corner == pytest.approx((ox / sx, oy / sy, (9 + ox) / sx, (9 + oy) / sy))
    whole = feature_field(layer_field_geometry(alexnet_graph, "features.12"), 0, 0, geo_in, (224, 224), (480, 640))
    assert whole.size == 195 and whole.source_box[0] < 0             # unclipped: far past the photo's edge
    x0, y0, x1, y1 = whole.source_clipped
    assert (x0, y0) == pytest.approx((ox / sx, oy / sy))              # the crop's corner, not the photo's
    assert x1 <= (224 + ox) / sx + 1e-9 and y1 <= (224 + oy) / sy + 1e-9


def test_receptive_field_box_of_a_layer_with_no_place_or_no_name_raises(alexnet_graph):
    from explorer.core.errors import ExplorerError
    from explorer.core.receptive import receptive_field_box

    geo_in = InputGeometry()
    with pytest.raises(ExplorerError, match="no receptive field"):
        receptive_field_box(alexnet_graph, "classifier.1", 0, 0, geo_in, (224, 224), (224, 224))
    with pytest.raises(ExplorerError, match="unknown layer"):
        receptive_field_box(alexnet_graph, "no.such.layer", 0, 0, geo_in, (224, 224), (224, 224))


def test_a_graph_group_is_measured_at_its_output_call():
    """resnet18's "stem" group shows maxpool (conv1 7×7/2 → maxpool 3×3/2: r = 7 + 2·2 = 11, stride 4)."""
    from explorer.core.graph_view import tree_for
    from explorer.core.receptive import layer_field_geometry

    graph = capture_graph(torchvision.models.resnet18().eval(), "resnet18", (3, 224, 224))
    layer = tree_for(graph).layer_of("stem")
    assert layer == "maxpool"
    geo = layer_field_geometry(graph, layer)
    ref = conv_chain_geometry([(7, 2, 3), (3, 2, 1)])
    assert (geo.receptive_field, geo.stride, geo.first_centre) == (11, 4, ref.first_centre)


def test_backbone_size_and_feature_map_box():
    """A detector's inner resize: the backbone sees round(input × ratio) pixels (481 × 481/451 is 480.99…, not
    480); the map laid over the image lines up with the fields: pixel (i, j) covers stride × stride around its
    centre (alexnet conv1: 55 pixels from 1.5 to 221.5)."""
    from explorer.core.receptive import backbone_size, feature_map_box

    tensor = InputGeometry((1.0, 1.0))
    inner = InputGeometry((481 / 451, 481 / 451))
    assert backbone_size((451, 600), inner, tensor) == (481, round(600 * 481 / 451))
    assert backbone_size((224, 224), tensor, tensor) == (224, 224) == backbone_size((224, 224), tensor)
    conv1 = conv_chain_geometry([(11, 4, 2)])
    assert feature_map_box(conv1, (55, 55), (224, 224)) == (1.5, 1.5, 221.5, 221.5)
    assert feature_map_box(None, (6, 6), (224, 200)) == (0.0, 0.0, 200.0, 224.0)


# ------------------------------------------------------------------------- adaptive pooling, measured by autograd
def _linearised(features: torch.nn.Module) -> torch.nn.Module:
    """A copy whose every input pixel in a window reaches the output with a positive weight: ReLU -> identity,
    max pooling -> average pooling of the same geometry, all weights 1/fan-in, no biases. The
    window geometry (kernels, strides, padding, ceil mode) is untouched, so the set of input pixels an output
    depends on is exactly the receptive field; with max pooling and random ReLUs autograd would see only the
    winning pixels."""
    import copy

    model = copy.deepcopy(features)
    for name, child in list(model.named_modules()):
        for attr, sub in list(child.named_children()):
            if isinstance(sub, torch.nn.ReLU):
                setattr(child, attr, torch.nn.Identity())
            elif isinstance(sub, torch.nn.MaxPool2d):
                setattr(child, attr, torch.nn.AvgPool2d(sub.kernel_size, sub.stride, sub.padding, sub.ceil_mode))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
    return model.eval()


def _measured_field(net: torch.nn.Module, shape: tuple[int, int, int], row: int) -> tuple[int, int, int]:
    """(first row, last row, input height) of the input pixels with a non-zero gradient of output row `row`
    (channel 0, the middle column) of `net`."""
    x = torch.ones(1, *shape, requires_grad=True)
    out = net(x)
    out[0, 0, row, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0].abs().sum(dim=(0, 2)) > 0).flatten()
    return int(rows[0]), int(rows[-1]), shape[1]


@pytest.mark.parametrize("model, shape, pooled", [
    ("vgg16", (3, 260, 224), (8, 7)),     # uneven: 8 -> 7, every window 2 rows (was shown as 276; 244 is real)
    ("alexnet", (3, 300, 400), (8, 6)),   # uneven: 8 -> 6, every window 2 rows (was 259; 227 is real)
    ("alexnet", (3, 416, 224), (12, 6)),  # even: 12 -> 6, windows of 2 = kernel 2, stride 2
])
def test_adaptive_pooling_field_is_the_widest_window(model, shape, pooled):
    torch.manual_seed(0)
    net = getattr(torchvision.models, model)().eval()
    graph = capture_graph(net, model, shape)
    node = graph.node("avgpool")
    assert (node.input_shapes[0][2], node.output_shapes[0][2]) == pooled
    probe = torch.nn.Sequential(_linearised(net.features), net.avgpool)
    # the middle row: its window is as wide as any here (all are 2 rows) and its field lies inside the image
    first, last, height = _measured_field(probe, shape, pooled[1] // 2)
    assert first > 0 and last < height - 1, "the field is clipped by the border: not a full measurement"
    assert node.receptive_field == last - first + 1
