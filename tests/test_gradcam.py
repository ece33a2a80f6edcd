"""Grad-CAM (Selvaraju et al. 2017) against a hand computation on a tiny model, and on a real detector's
chosen detection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from explorer.core.errors import ExplorerError
from explorer.core.gradcam import (class_target, detection_target, grad_cam, input_gradient,
                                   proposal_logit_target)


def _tiny() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(2, 3)).eval()


def test_grad_cam_matches_hand_computation():
    """y_c = Σ_k W[c,k]·mean(A_k) + b_c, so ∂y_c/∂A_k,ij = W[c,k]/(HW) everywhere: α_k = W[c,k]/(HW) and
    L = ReLU(Σ_k α_k A_k)."""
    model = _tiny()
    x = torch.randn(1, 1, 6, 5)
    with torch.no_grad():
        a = model[1](model[0](x))[0].numpy()          # A: (2, 6, 5), the ReLU output
        logits = model(x)[0].numpy()
    w = model[4].weight.detach().numpy()
    for c in range(3):
        res = grad_cam(model, "1", x, c)
        alpha = w[c] / (6 * 5)
        expected = np.maximum((alpha[:, None, None] * a).sum(0), 0)
        np.testing.assert_allclose(res.weights, alpha, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(res.cam, expected, rtol=1e-5, atol=1e-7)
        assert res.score == pytest.approx(float(logits[c]), rel=1e-5)
        assert res.cam_input.shape == (6, 5)
        if expected.max() > 0:
            assert res.cam_input.max() == pytest.approx(1.0)
    assert not any(m._forward_hooks for m in model.modules())


def test_grad_cam_matches_autograd_reference_on_a_real_layer():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    x = torch.rand(1, 3, 64, 64)
    res = grad_cam(model, "layer3", x, class_target(5))
    # reference written directly with autograd
    feats = {}
    h = model.layer3.register_forward_hook(lambda m, i, o: feats.setdefault("a", o))
    out = model(x)
    h.remove()
    (g,) = torch.autograd.grad(out[0, 5], feats["a"])
    alpha = g[0].mean((1, 2))
    ref = torch.relu((alpha[:, None, None] * feats["a"][0]).sum(0)).detach().numpy()
    np.testing.assert_allclose(res.cam, ref, rtol=1e-4, atol=1e-6)


def test_grad_cam_inside_inference_mode():
    """The engine's probes run under inference_mode; Grad-CAM must still get gradients."""
    model = _tiny()
    with torch.inference_mode():
        x = torch.randn(1, 1, 4, 4)
        res = grad_cam(model, "0", x, 1)
        g = input_gradient(model, "0", x, 1, 1, channel=0)
    assert np.isfinite(res.cam).all() and g.magnitude.shape == (4, 4)
    # 3×3 conv: pixel (1, 1) depends on rows/cols 0..2 only
    assert set(zip(*np.nonzero(g.magnitude))) <= {(r, c) for r in range(3) for c in range(3)}


def test_grad_cam_for_a_chosen_detection():
    from explorer.core import zoo

    model = zoo.build("fasterrcnn_mobilenet_v3_large_320_fpn")
    model.roi_heads.score_thresh = 0.0  # random weights: keep low-score detections so there is one to explain
    model.roi_heads.detections_per_img = 5
    model.rpn._pre_nms_top_n["testing"], model.rpn._post_nms_top_n["testing"] = 50, 10  # fewer proposals: fast
    torch.manual_seed(0)
    x = torch.rand(1, 3, 160, 200)
    with torch.no_grad():
        det = model([x[0]])[0]
    assert len(det["boxes"]) > 0
    box, label, score = det["boxes"][0].tolist(), int(det["labels"][0]), float(det["scores"][0])
    res = grad_cam(model, "backbone.body", x, detection_target(tuple(box), label), output_key=None)
    assert res.score == pytest.approx(score, rel=1e-4)
    assert res.cam.ndim == 2 and (res.cam >= 0).all() and res.cam_input.shape == (160, 200)
    target, remove = proposal_logit_target(model, 0, label)
    try:
        res2 = grad_cam(model, "backbone.body", x, target)
    finally:
        remove()
    assert np.isfinite(res2.cam).all()
    with pytest.raises(ExplorerError):
        grad_cam(model, "backbone.body", x, detection_target((0, 0, 1, 1), label, min_iou=0.99))
    assert not any(m._forward_hooks for m in model.modules())


def test_grad_cam_at_a_conv_followed_by_inplace_relu():
    """A is the conv's output (signed), not the in-place ReLU's: compare with a copy of the model whose ReLUs
    are not in place."""
    import copy

    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.alexnet().eval()
    plain = copy.deepcopy(model)
    for mod in plain.modules():
        if isinstance(mod, nn.ReLU):
            mod.inplace = False
    x = torch.rand(1, 3, 96, 96)
    res = grad_cam(model, "features.3", x, 7)
    feats = {}
    h = plain.features[3].register_forward_hook(lambda m, i, o: feats.setdefault("a", o))
    out = plain(x)
    h.remove()
    (g,) = torch.autograd.grad(out[0, 7], feats["a"])
    ref = torch.relu((g[0].mean((1, 2))[:, None, None] * feats["a"][0]).sum(0)).detach().numpy()
    np.testing.assert_allclose(res.cam, ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("layout", ["darknet", "cells"])
def test_yolo_cell_target_reads_the_score_that_detect_ranks_by(layout):
    from explorer.core import yolo
    from explorer.core.gradcam import yolo_cell_target

    S, B, C = 3, 2, 4
    torch.manual_seed(0)
    flat = torch.rand(1, S * S * (B * 5 + C))
    cells = yolo.flat_to_cells(flat, S, B, C)  # the independent reader: (S, S, B·5+C) per cell
    output = flat if layout == "darknet" else torch.from_numpy(cells).reshape(1, -1)
    for row, col, label in ((0, 0, 0), (1, 2, 3), (2, 1, 1)):
        conf = cells[row, col, : B * 5].reshape(B, 5)[:, 4]
        expected = float((conf * cells[row, col, B * 5 + label]).max())
        got = yolo_cell_target(row, col, label, S, B, C, layout)(output)
        assert float(got) == pytest.approx(expected, rel=1e-6)
        for box in range(B):  # one box: the score of that detection
            one = yolo_cell_target(row, col, label, S, B, C, layout, box)(output)
            assert float(one) == pytest.approx(float(conf[box] * cells[row, col, B * 5 + label]), rel=1e-6)


def test_grad_cam_of_a_yolov1_tiny_detection_cell():
    from explorer.core import zoo
    from explorer.core.gradcam import yolo_cell_target

    torch.manual_seed(0)
    model = zoo.build("yolov1-tiny").eval()
    x = torch.rand(1, 3, *zoo.get("yolov1-tiny").input_size)
    layer = next(name for name, m in model.named_modules() if isinstance(m, nn.Conv2d))
    target = yolo_cell_target(3, 4, 2, model.S, model.B, model.C, model.layout)
    cam = grad_cam(model, layer, x, target)
    assert cam.cam_input.shape == tuple(x.shape[-2:]) and np.isfinite(cam.cam_input).all()
    assert cam.target == "class 2 at cell (3, 4)"
    with torch.no_grad():
        assert cam.score == pytest.approx(float(target(model(x))), rel=1e-5)
