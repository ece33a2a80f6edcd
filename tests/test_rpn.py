"""The RPN probe against the model's own RPN: same anchors, same proposals, the right head shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core import anchors as A
from explorer.core.errors import ExplorerError
from explorer.core.rpn import NoRPNError, RPNProbe, run_rpn


@pytest.fixture(scope="module")
def tiny():
    from models.fasterrcnn_tiny import fasterrcnn_tiny

    torch.manual_seed(0)
    return fasterrcnn_tiny().eval()


@pytest.fixture(scope="module")
def mobilenet():
    from explorer.core import zoo

    torch.manual_seed(0)
    model = zoo.build("fasterrcnn_mobilenet_v3_large_320_fpn")
    model.transform.min_size, model.transform.max_size = (160,), 160  # smaller input: a faster test
    return model


@pytest.fixture(scope="module")
def tiny_out(tiny):
    torch.manual_seed(1)
    return run_rpn(tiny, torch.rand(3, 150, 200))


def test_single_level_shapes_anchors_and_scale(tiny, tiny_out):
    out = tiny_out
    assert len(out.levels) == 1
    lv = out.levels[0]
    # min_size = max_size = 224: the long side 200 becomes 224 (×1.12), 150×200 → 168×224, padded to 192×224
    assert out.input_size == (150, 200) and out.image_size == (168, 224) and out.padded_size == (192, 224)
    fh, fw = lv.feature_size
    assert out.padded_size == (fh * 16, fw * 16) and lv.stride == (16, 16)
    assert lv.cls_shape == (9, fh, fw) and lv.reg_shape == (36, fh, fw) and lv.conv_shape == (96, fh, fw)
    assert out.anchors.shape == (fh * fw * 9, 4) and out.deltas.shape == (fh * fw * 9, 4)
    # torchvision's anchors are our torchvision convention with the model's sizes and ratios
    np.testing.assert_array_equal(out.anchors, A.grid_anchors((fh, fw), lv.sizes, lv.ratios, 16, "torchvision"))
    # scale: model pixels per source pixel
    assert out.scale == pytest.approx((out.image_size[1] / 200, out.image_size[0] / 150))
    np.testing.assert_allclose(out.to_source([[0, 0, out.image_size[1], out.image_size[0]]]), [[0, 0, 200, 150]])


def test_proposals_equal_the_models_own(tiny_out):
    p = tiny_out.proposals
    assert p.pre_nms_top_n == 300 and p.post_nms_top_n == 100 and p.nms_iou == 0.7
    np.testing.assert_allclose(p.after_boxes, tiny_out.model_boxes, atol=1e-4)
    # the pre-NMS boxes are the chosen anchors moved by their deltas
    ref = A.decode(tiny_out.deltas[p.anchor_index], tiny_out.anchors[p.anchor_index]).numpy()
    h, w = tiny_out.image_size
    ref = np.stack([ref[:, 0].clip(0, w), ref[:, 1].clip(0, h), ref[:, 2].clip(0, w), ref[:, 3].clip(0, h)], 1)
    np.testing.assert_allclose(p.boxes, ref, atol=1e-4)
    # they are the top-N objectness logits
    logits = tiny_out.objectness
    assert np.sort(logits[p.anchor_index]).min() >= np.sort(logits)[-300]


def test_parameters_change_the_selection(tiny_out):
    from torchvision.ops import box_iou

    base = tiny_out.select(pre_nms_top_n=200, post_nms_top_n=1000, nms_iou=0.5, score_thresh=0.0)
    assert len(base.boxes) == 200
    kept = torch.tensor(base.after_boxes)
    iou = box_iou(kept, kept) - torch.eye(len(kept))
    assert float(iou.max()) <= 0.5 + 1e-6                       # NMS: no two kept boxes overlap more
    fewer = tiny_out.select(pre_nms_top_n=200, post_nms_top_n=5, nms_iou=0.5, score_thresh=0.0)
    np.testing.assert_array_equal(fewer.keep, base.keep[:5])    # post-NMS N keeps the best ones
    median = float(np.median(base.scores))
    high = tiny_out.select(pre_nms_top_n=200, post_nms_top_n=1000, nms_iou=0.5, score_thresh=median)
    assert (high.after_scores >= median).all() and len(high.keep) <= len(base.keep)
    strict = tiny_out.select(pre_nms_top_n=200, post_nms_top_n=1000, nms_iou=1.0, score_thresh=0.0)
    assert len(strict.keep) >= len(base.keep)


def test_fpn_levels(mobilenet):
    torch.manual_seed(2)
    out = run_rpn(mobilenet, torch.rand(3, 120, 160))
    assert len(out.levels) == len(mobilenet.rpn.anchor_generator.sizes)
    total = 0
    for lv in out.levels:
        a = len(lv.sizes) * len(lv.ratios)
        assert lv.cls_shape[0] == a and lv.reg_shape[0] == 4 * a
        sl = out.anchors[lv.first_anchor:lv.first_anchor + lv.count]
        np.testing.assert_array_equal(sl, A.grid_anchors(lv.feature_size, lv.sizes, lv.ratios, lv.stride,
                                                         "torchvision"))
        total += lv.count
    assert total == len(out.anchors)
    np.testing.assert_allclose(out.proposals.after_boxes, out.model_boxes, atol=1e-4)


def test_probe_contract(tiny):
    probe = RPNProbe(post_nms_top_n=7)
    assert probe.name == "rpn"
    probe.attach(tiny)
    try:
        with torch.inference_mode():
            tiny([torch.rand(3, 64, 64)])
        ctx = type("Ctx", (), {"scale": (0.5, 0.5)})()   # the engine had halved the source frame
        out = probe.collect(ctx)
    finally:
        probe.detach()
    assert len(out.proposals.keep) <= 7
    # 64 px model input -> resized to 224: 3.5 model px per input px, times the engine's 0.5
    assert out.scale == pytest.approx((1.75, 1.75))
    assert not tiny.rpn.head._forward_hooks and not tiny.transform._forward_hooks


def test_no_rpn_is_a_clear_error_standalone_and_inert_as_a_probe(tiny):
    with pytest.raises(NoRPNError):
        run_rpn(torch.nn.Conv2d(3, 3, 1), torch.rand(3, 8, 8))
    with pytest.raises(ExplorerError):
        run_rpn(tiny, torch.rand(1, 8, 8))
    # the engine keeps probes across model changes: on a model without an RPN the probe does nothing
    probe = RPNProbe()
    conv = torch.nn.Conv2d(3, 3, 1)
    probe.attach(conv)
    conv(torch.rand(1, 3, 4, 4))
    assert probe.collect(None) is None and not conv._forward_hooks


def test_paper_vgg16_head_shapes():
    from models.fasterrcnn_vgg16 import fasterrcnn_vgg16

    torch.manual_seed(0)
    model = fasterrcnn_vgg16(min_size=160, max_size=160).eval()
    out = run_rpn(model, torch.rand(3, 160, 160))
    lv = out.levels[0]
    assert lv.feature_size == (10, 10) and lv.stride == (16, 16)
    assert lv.conv_shape == (512, 10, 10) and lv.cls_shape == (9, 10, 10) and lv.reg_shape == (36, 10, 10)
    assert lv.sizes == (128.0, 256.0, 512.0) and lv.ratios == (0.5, 1.0, 2.0)
    assert out.proposals.post_nms_top_n == 300


def test_model_anchor_shapes_are_the_generators_own(tiny, mobilenet):
    from explorer.core.rpn import model_anchor_shapes

    assert model_anchor_shapes(tiny) == [((32.0, 64.0, 128.0), (0.5, 1.0, 2.0))]
    # torchvision's mobilenet_v3 320 FPN: 5 sizes × 3 ratios on each of its 3 levels
    assert model_anchor_shapes(mobilenet) == [((32.0, 64.0, 128.0, 256.0, 512.0), (0.5, 1.0, 2.0))] * 3
    with pytest.raises(NoRPNError):
        model_anchor_shapes(torch.nn.Conv2d(3, 3, 1))


def test_level_map_puts_each_value_on_its_cell_from_its_anchors_centre(tiny_out):
    """Cell (i, j) covers model pixels [j·s, (j+1)·s) × [i·s, (i+1)·s): its anchors' centre (j·s, i·s) is its
    top-left corner, as torchvision's AnchorGenerator places it; the map stops at the resized image (168×224 of
    the padded 192×224) and maps to the whole 150×200 source."""
    from explorer.core.rpn import level_map

    out = tiny_out
    lv = out.levels[0]
    fh, fw = lv.feature_size                                  # 12×14 at stride 16
    values = np.arange(fh * fw, dtype=np.float64).reshape(fh, fw)
    m = level_map(out, 0, values)
    assert m.shape == (168, 224) and m.cells == (11, 14)      # 168 / 16 = 10.5: 11 rows reach into the image
    centres = (out.anchors[::9, :2] + out.anchors[::9, 2:]) / 2
    assert tuple(centres[2 * fw + 3]) == (48.0, 32.0)         # cell (2, 3): (3·16, 2·16)
    assert m.values[32, 48] == values[2, 3] and m.values[47, 63] == values[2, 3]
    assert m.values[31, 47] == values[1, 2] and m.values[48, 64] == values[3, 4]
    assert m.values[167, 223] == values[10, 13]
    assert m.rect == pytest.approx((0.0, 0.0, 200.0, 150.0))
    with pytest.raises(ExplorerError):
        level_map(out, 0, values[:-1])
