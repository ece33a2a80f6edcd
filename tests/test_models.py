"""The project's own networks (models/): layer sizes against the notes and the papers, computed by hand here."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explorer.core import zoo


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def record_shape(store: dict, key: str):
    """A forward hook that records the output shape (and returns None, so the output is left alone)."""
    def hook(module, inputs, output) -> None:
        store[key] = tuple(output.shape)
    return hook


# --------------------------------------------------------------------------------------------- AlexNet 2012

# The notes' per-layer weight counts (two GPUs: "×2"), written as the notes write them.
ALEXNET_NOTES = {
    "conv1": 11 * 11 * 3 * 48 * 2,            # 34,848
    "conv2": 5 * 5 * 48 * 128 * 2,            # 307,200
    "conv3": 3 * 3 * 128 * 2 * 192 * 2,       # 884,736
    "conv4": 3 * 3 * 192 * 192 * 2,           # 663,552
    "conv5": 3 * 3 * 192 * 128 * 2,           # 442,368
    "fc7": 2048 * 2 * 2048 * 2,               # 16,777,216
    "fc8": 2048 * 2 * 1000,                   # 4,096,000
}
NOTES_FC6 = 13 * 13 * 128 * 2 * 2048 * 2      # what the notes wrote for fc6
REAL_FC6 = 6 * 6 * 256 * 4096                 # fc6 reads the pooled 6×6×256 map


@pytest.fixture(scope="module")
def alexnet():
    return zoo.build("alexnet2012")


def _alexnet_layer(model: nn.Module, name: str) -> nn.Module:
    part = model.features if name.startswith("conv") else model.classifier
    return getattr(part, name)


def test_alexnet2012_conv_and_fc_weights_match_the_notes(alexnet):
    assert ALEXNET_NOTES["conv1"] == 34_848 and ALEXNET_NOTES["conv3"] == 884_736  # the notes' printed figures
    assert ALEXNET_NOTES["fc7"] == 16_777_216 and ALEXNET_NOTES["fc8"] == 4_096_000
    for name, expected in ALEXNET_NOTES.items():
        assert _alexnet_layer(alexnet, name).weight.numel() == expected, name


def test_alexnet2012_fc6_is_the_pooled_map_not_the_notes_figure(alexnet):
    fc6 = alexnet.classifier.fc6
    assert NOTES_FC6 == 177_209_344
    assert fc6.weight.numel() == REAL_FC6 == 37_748_736
    assert fc6.weight.numel() != NOTES_FC6
    assert fc6.in_features == 256 * 6 * 6


def test_alexnet2012_groups_follow_the_two_gpus(alexnet):
    groups = {n: _alexnet_layer(alexnet, n).groups for n in ("conv1", "conv2", "conv3", "conv4", "conv5")}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    assert [_alexnet_layer(alexnet, f"conv{i}").out_channels for i in range(1, 6)] == [96, 256, 384, 384, 256]
    lrn = [m for m in alexnet.features if isinstance(m, nn.LocalResponseNorm)]
    assert [(m.size, m.alpha, m.beta, m.k) for m in lrn] == [(5, 1e-4, 0.75, 2.0)] * 2


def test_alexnet2012_total_is_weights_plus_biases(alexnet):
    biases = 96 + 256 + 384 + 384 + 256 + 4096 + 4096 + 1000
    assert n_params(alexnet) == sum(ALEXNET_NOTES.values()) + REAL_FC6 + biases == 60_965_224


def test_alexnet2012_shapes_for_a_227_input(alexnet):
    x = torch.randn(1, 3, 227, 227)
    with torch.inference_mode():
        pooled = alexnet.features(x)
        out = alexnet(x)
    assert pooled.shape == (1, 256, 6, 6)
    assert out.shape == (1, 1000)
    assert zoo.get("alexnet2012").input_size == (227, 227)


# --------------------------------------------------------------------------------------------- YOLOv1

# Figure 3 of Redmon et al. 2016, written out independently of models/yolov1.py: (kernel, in, out).
YOLO_FIGURE3 = (
    [(7, 3, 64), (3, 64, 192), (1, 192, 128), (3, 128, 256), (1, 256, 256), (3, 256, 512)]
    + [(1, 512, 256), (3, 256, 512)] * 4 + [(1, 512, 512), (3, 512, 1024)]
    + [(1, 1024, 512), (3, 512, 1024)] * 2 + [(3, 1024, 1024)] * 4
)
YOLO_CONV_PARAMS = sum(k * k * cin * cout + cout for k, cin, cout in YOLO_FIGURE3)
YOLO_FC_PARAMS = (7 * 7 * 1024 * 4096 + 4096) + (4096 * 7 * 7 * 30 + 7 * 7 * 30)


@pytest.fixture(scope="module")
def yolo():
    return zoo.build("yolov1")  # ~272M parameters: built once for this module


@pytest.fixture(scope="module")
def yolo_run(yolo):
    """One forward pass on a 448 input, recording the conv stack's output map."""
    seen = {}
    handle = yolo.features.register_forward_hook(record_shape(seen, "features"))
    try:
        with torch.inference_mode():
            out = yolo(torch.randn(1, 3, 448, 448))
    finally:
        handle.remove()
    return out, seen["features"]


def test_yolov1_has_figure3_layers(yolo):
    convs = [m for m in yolo.features.modules() if isinstance(m, nn.Conv2d)]
    assert len(YOLO_FIGURE3) == 24
    assert len(convs) == 24
    assert [(c.kernel_size[0], c.in_channels, c.out_channels) for c in convs] == YOLO_FIGURE3
    assert all(c.bias is not None for c in convs)
    assert [c.stride[0] for c in convs].count(2) == 2  # the first 7×7 and the 22nd conv
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in yolo.modules())
    assert sum(isinstance(m, nn.MaxPool2d) for m in yolo.features) == 4
    leaky = [m for m in yolo.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 25 and all(m.negative_slope == 0.1 for m in leaky)
    linears = [m for m in yolo.head.modules() if isinstance(m, nn.Linear)]
    assert [(fc.in_features, fc.out_features) for fc in linears] == [(7 * 7 * 1024, 4096), (4096, 1470)]
    assert any(isinstance(m, nn.Dropout) and m.p == 0.5 for m in yolo.head)


def test_yolov1_parameter_count_equals_figure3_by_hand(yolo):
    assert n_params(yolo.features) == YOLO_CONV_PARAMS
    assert n_params(yolo.head) == YOLO_FC_PARAMS
    assert n_params(yolo) == YOLO_CONV_PARAMS + YOLO_FC_PARAMS


def test_yolov1_outputs_1470_and_a_7x7_map(yolo, yolo_run):
    out, feature_shape = yolo_run
    assert tuple(feature_shape) == (1, 1024, 7, 7)
    assert out.shape == (1, 7 * 7 * (2 * 5 + 20)) == (1, 1470)
    assert torch.isfinite(out).all()
    assert (yolo.S, yolo.B, yolo.C, yolo.layout) == (7, 2, 20, "darknet")
    assert zoo.get("yolov1").input_size == (448, 448)


def test_yolov1_S_B_C_are_parameters():
    from models.yolov1 import yolov1

    with torch.device("meta"):  # shapes only: no 270M-parameter allocation
        model = yolov1(S=4, B=3, C=5)
        out = model(torch.empty(2, 3, 4 * 64, 4 * 64))
    assert (model.S, model.B, model.C, model.layout) == (4, 3, 5, "darknet")
    assert out.shape == (2, 4 * 4 * (3 * 5 + 5))


def test_yolo_head_is_the_papers_head():
    from models.yolov1 import yolo_head

    head = yolo_head(8 * 3 * 3, S=3, B=2, C=4, hidden=16)
    assert [type(m).__name__ for m in head] == ["Flatten", "Linear", "LeakyReLU", "Dropout", "Linear"]
    assert head(torch.randn(2, 8, 3, 3)).shape == (2, 3 * 3 * (2 * 5 + 4))
    assert head.dropout.p == 0.5 and yolo_head(8, 1, 1, 1, hidden=4, dropout=0.2).dropout.p == 0.2


# --------------------------------------------------------------------------------------------- Faster R-CNN VGG-16

@pytest.fixture(scope="module")
def frcnn():
    return zoo.build("fasterrcnn_vgg16")


def test_fasterrcnn_vgg16_parts(frcnn):
    from torchvision.models import VGG16_Weights
    from torchvision.ops import RoIPool

    backbone, head = frcnn.backbone, frcnn.rpn.head
    assert backbone.out_channels == 512
    assert sum(isinstance(m, nn.Conv2d) for m in backbone) == 13
    assert sum(isinstance(m, nn.MaxPool2d) for m in backbone) == 4  # pool5 dropped: stride 16
    assert isinstance(backbone[-1], nn.ReLU)
    assert head.cls_logits.out_channels == 9 and head.bbox_pred.out_channels == 36
    assert head.cls_logits.kernel_size == (1, 1) and head.bbox_pred.kernel_size == (1, 1)
    assert frcnn.rpn.anchor_generator.num_anchors_per_location() == [9]
    pool = [m for m in frcnn.roi_heads.box_roi_pool.modules() if isinstance(m, RoIPool)]
    assert len(pool) == 1 and pool[0].output_size == (7, 7) and pool[0].spatial_scale == 1 / 16
    assert frcnn.roi_heads.box_predictor.cls_score.out_features == 21
    assert frcnn.roi_heads.box_predictor.bbox_pred.out_features == 21 * 4
    assert (frcnn.transform.min_size, frcnn.transform.max_size) == ((600,), 1000)
    assert (frcnn.rpn.nms_thresh, frcnn.rpn._pre_nms_top_n["testing"], frcnn.rpn._post_nms_top_n["testing"]) \
        == (0.7, 6000, 300)  # py-faster-rcnn's test-time proposals
    assert frcnn.roi_heads.nms_thresh == 0.3
    # VGG-16 minus fc8 (torchvision's own metadata) is the backbone plus fc6/fc7
    vgg16_without_fc8 = VGG16_Weights.IMAGENET1K_V1.meta["num_params"] - (4096 * 1000 + 1000)
    assert n_params(backbone) + n_params(frcnn.roi_heads.box_head) == vgg16_without_fc8


def test_fasterrcnn_vgg16_stride_16_and_9_anchors_per_position(frcnn):
    image = torch.rand(3, 320, 320)
    with torch.inference_mode():
        batch, _ = frcnn.transform([image])
        feature = frcnn.backbone(batch.tensors)
        objectness, deltas = frcnn.rpn.head([feature])
        anchors = frcnn.rpn.anchor_generator(batch, [feature])
    # the transform scales the shorter side to min_size=600 and pads to a multiple of 32
    assert batch.image_sizes == [(600, 600)]
    assert tuple(batch.tensors.shape[-2:]) == (608, 608)
    assert tuple(feature.shape) == (1, 512, 38, 38)  # 608 / 16
    assert objectness[0].shape == (1, 9, 38, 38) and deltas[0].shape == (1, 36, 38, 38)
    assert anchors[0].shape == (38 * 38 * 9, 4)
    # the 9 anchors at the first position: areas 128², 256², 512² (three ratios each), centred on (0, 0)
    first = anchors[0][:9]
    areas = sorted(((first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1])).tolist())
    for area, size in zip(areas, [128] * 3 + [256] * 3 + [512] * 3):
        assert area == pytest.approx(size * size, rel=0.02)
    assert torch.allclose((first[:, :2] + first[:, 2:]) / 2, torch.zeros(9, 2), atol=0.5)


def test_fasterrcnn_vgg16_detects_on_a_small_image():
    # min_size=320 keeps the 320×320 image as is (feature map 20×20); fewer proposals keep fc6 cheap
    model = zoo.build("fasterrcnn_vgg16", min_size=320, max_size=320, rpn_post_nms_top_n_test=50,
                      box_score_thresh=0.0)
    seen = {}
    handle = model.backbone.register_forward_hook(record_shape(seen, "feature"))
    try:
        with torch.inference_mode():
            (result,) = model([torch.rand(3, 320, 320)])
    finally:
        handle.remove()
    assert tuple(seen["feature"]) == (1, 512, 20, 20)
    boxes, labels, scores = result["boxes"], result["labels"], result["scores"]
    assert boxes.ndim == 2 and boxes.shape[1] == 4 and len(boxes) > 0
    assert len(labels) == len(scores) == len(boxes)
    assert ((labels >= 1) & (labels < 21)).all()
    assert (boxes >= 0).all() and (boxes <= 320).all()


def test_zoo_entries_for_own_models():
    for name, size, task in [("alexnet2012", 227, "classification"), ("yolov1", 448, "detection"),
                             ("fasterrcnn_vgg16", 600, "detection")]:
        entry = zoo.get(name)
        assert entry.input_size == (size, size) and entry.task == task
        assert entry.builder.startswith("models.")
