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


# -- the targets a user can choose, and the jobs the probe runs (Qt-free) ---------------------------------------
def _result(**kwargs):
    from explorer.core.results import Frame, FrameResult

    task = kwargs.pop("task", "detection")
    return FrameResult(Frame(np.zeros((10, 10, 3), np.uint8), "x"), "m", "random", "cpu", task, **kwargs)


def test_target_choices_of_a_classifier_are_its_top_classes():
    from explorer.core.gradcam import target_choices
    from explorer.core.results import ClassScore

    result = _result(task="classification", topk=[ClassScore(281, "tabby", 0.53), ClassScore(282, "tiger cat", 0.2)])
    choices = target_choices(result, threshold=0.9)          # the threshold is the detectors' only
    assert [(c.text, c.spec, c.name) for c in choices] == [("tabby (0.53)", ("class", 281), "tabby"),
                                                           ("tiger cat (0.20)", ("class", 282), "tiger cat")]


def test_target_choices_of_a_detector_are_the_tables_rows_numbered_from_one():
    """Only detections at or above the threshold, numbered as the inference table numbers them (#1 first), at
    most 20; a YOLO detection is explained by its cell and box, a region detector's by its box."""
    from explorer.core.gradcam import MAX_DETECTION_TARGETS, target_choices
    from explorer.core.results import Detection

    boxes = [Detection((1, 2, 3, 4), "cat", 0.9, 17), Detection((5, 6, 7, 8), "dog", 0.4, 18),
             Detection((0, 0, 2, 2), "circle", 0.7, 2, cell=(3, 4), box_index=1)]
    choices = target_choices(_result(boxes=boxes), threshold=0.5)
    assert [c.text for c in choices] == ["#1 cat (0.90)", "#2 circle (0.70)"]
    assert choices[0].spec == ("detection", (1.0, 2.0, 3.0, 4.0), 17) and choices[0].name == "cat"
    assert choices[1].spec == ("yolo", (3, 4), 2, 1)
    assert [c.text for c in target_choices(_result(boxes=boxes), threshold=0.3)][1] == "#2 dog (0.40)"
    assert target_choices(_result(boxes=boxes), threshold=0.95) == []
    many = [Detection((0, 0, 1, 1), "x", 0.99, 1)] * 30
    assert len(target_choices(_result(boxes=many), threshold=0.5)) == MAX_DETECTION_TARGETS == 20


def test_target_choices_of_a_segmentation_start_with_its_largest_class():
    from explorer.core.gradcam import target_choices
    from explorer.core.results import Segmentation

    labels = ["__background__", "aeroplane", "bicycle", "bird"]
    mask = np.zeros((10, 10), np.int64)
    mask[:, :7] = 3   # bird: 70 % of the pixels
    mask[0, 9] = 2    # bicycle: 1 %
    counts = np.bincount(mask.ravel(), minlength=4)
    present = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i]]
    seg = Segmentation(mask, [labels[i] for i in present], labels)
    choices = target_choices(_result(task="segmentation", segmentation=seg))
    assert [c.text for c in choices] == ["bird", "__background__", "bicycle"]
    assert choices[0].spec == ("class", 3)
    assert target_choices(_result(task="classification")) == []


def test_a_detection_target_is_matched_in_the_input_tensors_pixels():
    """Engine boxes are in source pixels; the detector's own boxes in its input tensor's (x_in = x·s − crop)."""
    from explorer.core.gradcam import make_target

    scale, offset = (0.5, 0.5), (10.0, 0.0)
    output = [{"boxes": torch.tensor([[0.0, 0.0, 20.0, 20.0], [40.0, 10.0, 60.0, 30.0]]),
               "labels": torch.tensor([3, 3]), "scores": torch.tensor([0.6, 0.8])}]
    source_box = ((40 + 10) / 0.5, 10 / 0.5, (60 + 10) / 0.5, 30 / 0.5)   # the second box, in source pixels
    target = make_target(("detection", source_box, 3), "cat", scale=scale, offset=offset)
    assert float(target(output)) == pytest.approx(0.8)
    assert target.description == "detection of class 3 (cat)"
    with pytest.raises(ExplorerError, match="label"):
        make_target(("detection", source_box, 5), scale=scale, offset=offset)(output)


def test_gradcam_and_gradient_jobs_run_on_the_engines_context():
    """What the probe runs after a forward pass: the same answers as grad_cam and input_gradient; a target this
    model's output cannot give is an ExplorerError (shown on the line below the maps), never a failed frame."""
    from types import SimpleNamespace

    from explorer.core.gradcam import gradcam_job, gradient_job

    model = _tiny()
    x = torch.randn(1, 1, 6, 5)
    ctx = SimpleNamespace(model=model, input_tensor=x, scale=(1.0, 1.0), offset=(0.0, 0.0))
    res = gradcam_job("1", ("class", 2), "two")(ctx)
    np.testing.assert_allclose(res.cam, grad_cam(model, "1", x, 2).cam)
    assert res.target == "class 2 (two)"
    grad = gradient_job("0", 2, 3, channel=1)(ctx)
    np.testing.assert_allclose(grad.magnitude, input_gradient(model, "0", x, 2, 3, 1).magnitude)
    with pytest.raises(ExplorerError, match="no detections"):
        gradcam_job("1", ("detection", (0, 0, 1, 1), 1))(ctx)
    with pytest.raises(ExplorerError, match="Grad-CAM cannot run"):
        gradcam_job("1", ("class", 7))(ctx)                        # the tiny model has 3 classes
    with pytest.raises(ExplorerError):
        gradcam_job("1", ("yolo", (0, 0), 1, 0))(ctx)            # not a YOLO model: it has no S, B, C
