"""Anchors against their references: py-faster-rcnn's published output and torchvision's AnchorGenerator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core import anchors as A
from explorer.core.errors import ExplorerError

# py-faster-rcnn/lib/rpn/generate_anchors.py, __main__: generate_anchors() for base 16, ratios [0.5, 1, 2],
# scales 2**[3, 4, 5] prints exactly this array.
PUBLISHED = np.array([
    [-84., -40., 99., 55.], [-176., -88., 191., 103.], [-360., -184., 375., 199.],
    [-56., -56., 71., 71.], [-120., -120., 135., 135.], [-248., -248., 263., 263.],
    [-36., -80., 51., 95.], [-80., -168., 95., 183.], [-168., -344., 183., 359.]])


def test_original_matches_published_output():
    np.testing.assert_array_equal(A.cell_anchors(convention="original"), PUBLISHED)
    np.testing.assert_array_equal(A.generate_anchors_original(), PUBLISHED)


def test_original_grid_shifts_and_centres():
    grid = A.grid_anchors((2, 3), convention="original")
    assert grid.shape == (2 * 3 * 9, 4)
    # position (y=1, x=2) is the 6th position, row-major; its anchors are the cell anchors shifted by 16·(2, 1)
    np.testing.assert_array_equal(grid[5 * 9:6 * 9], PUBLISHED + np.array([32, 16, 32, 16]))
    centres = A.anchor_centres((2, 3), 16, "original")
    np.testing.assert_array_equal(centres[5], [7.5 + 32, 7.5 + 16])
    # every original anchor is centred on (stride - 1)/2 + stride·i (inclusive pixel coordinates)
    mid = (grid[:, :2] + grid[:, 2:]) / 2
    np.testing.assert_array_equal(mid, np.repeat(centres, 9, axis=0))


def _torchvision_anchors(sizes, ratios, feature_size, stride):
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    h, w = feature_size
    gen = AnchorGenerator((tuple(sizes),), (tuple(ratios),))
    images = ImageList(torch.zeros(1, 3, h * stride, w * stride), [(h * stride, w * stride)])
    features = [torch.zeros(1, 8, h, w)]
    return gen(images, features)[0].numpy()


@pytest.mark.parametrize("sizes,ratios,stride,fs", [
    ((128, 256, 512), (0.5, 1.0, 2.0), 16, (3, 4)),
    ((32,), (0.5, 1.0, 2.0), 8, (5, 2)),
    ((64, 100), (0.25, 1.0, 3.0), 32, (2, 2)),
])
def test_torchvision_matches_anchor_generator(sizes, ratios, stride, fs):
    ours = A.grid_anchors(fs, sizes, ratios, stride, "torchvision")
    ref = _torchvision_anchors(sizes, ratios, fs, stride)
    np.testing.assert_array_equal(ours, ref)


def test_ratio_major_order_and_shape_of():
    cfg = A.AnchorConfig()
    base = cfg.cell_anchors()
    w, h = base[:, 2] - base[:, 0] + 1, base[:, 3] - base[:, 1] + 1
    for a in range(9):
        size, ratio = cfg.shape_of(a)
        assert abs(np.sqrt(w[a] * h[a]) - size) / size < 0.05  # rounding at the base size (23×12)
        assert abs(h[a] / w[a] - ratio) / ratio < 0.1
    assert cfg.shape_of(0) == (128, 0.5) and cfg.shape_of(1) == (256, 0.5) and cfg.shape_of(3) == (128, 1.0)


def test_encode_decode_round_trip_and_torchvision_box_coder():
    from torchvision.models.detection._utils import BoxCoder

    anchors = torch.tensor(A.grid_anchors((2, 2), convention="torchvision"), dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    deltas = torch.randn(anchors.shape[0], 4, generator=g) * 0.3
    boxes = A.decode(deltas, anchors)
    torch.testing.assert_close(A.encode(boxes, anchors), deltas, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(boxes, BoxCoder((1.0, 1.0, 1.0, 1.0)).decode_single(deltas, anchors))


def test_decode_by_hand():
    # anchor centred (50, 50), 100×100; dx = 0.1 moves by 10 px, dw = log 2 doubles the width
    box = A.decode(torch.tensor([[0.1, 0.0, float(np.log(2.0)), 0.0]]), torch.tensor([[0.0, 0.0, 100.0, 100.0]]))
    torch.testing.assert_close(box, torch.tensor([[-40.0, 0.0, 160.0, 100.0]]))


def test_labels_hand_computed():
    anchors = np.array([
        [0, 0, 10, 10],      # IoU 1.0 with gt0 -> positive
        [0, 0, 10, 8],       # IoU 0.8 with gt0 -> positive (≥ 0.7)
        [0, 0, 10, 5],       # IoU 0.5 -> ignored
        [0, 0, 10, 2],       # IoU 0.2 -> negative
        [100, 100, 110, 110],  # no overlap -> negative
        [50, 50, 60, 70],    # IoU with gt1 (50,50,60,60): 100/200 = 0.5 and the best for gt1 -> positive
        [50, 50, 60, 90],    # IoU 100/400 = 0.25 -> negative
    ], dtype=np.float32)
    gts = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], dtype=np.float32)
    res = A.label_anchors(anchors, gts)
    assert res.labels.tolist() == [1, 1, -1, 0, 0, 1, 0]
    np.testing.assert_allclose(res.max_iou, [1.0, 0.8, 0.5, 0.2, 0.0, 0.5, 0.25], atol=1e-6)
    assert res.matched_gt[:2].tolist() == [0, 0] and res.matched_gt[5] == 1
    assert res.counts == {"positive": 3, "negative": 3, "ignored": 1}


def test_labels_cross_boundary_ignored_and_no_ground_truth():
    anchors = np.array([[-5, 0, 10, 10], [0, 0, 10, 10], [0, 0, 2, 10]], dtype=np.float32)
    res = A.label_anchors(anchors, [[0, 0, 10, 10]], image_size=(20, 20))
    assert res.labels.tolist() == [-1, 1, 0]
    assert A.label_anchors(anchors, np.zeros((0, 4))).labels.tolist() == [0, 0, 0]


def test_labels_match_torchvision_matcher():
    """Our rule equals torchvision's RPN Matcher (0.7 / 0.3, allow_low_quality_matches) on random boxes."""
    from torchvision.models.detection._utils import Matcher
    from torchvision.ops import box_iou

    anchors = A.grid_anchors((6, 6), stride=16, convention="torchvision")
    g = np.random.default_rng(1)
    xy = g.uniform(0, 80, size=(4, 2))
    gts = np.concatenate([xy, xy + g.uniform(30, 200, size=(4, 2))], axis=1)
    ours = A.label_anchors(anchors, gts).labels
    m = Matcher(0.7, 0.3, allow_low_quality_matches=True)
    idx = m(box_iou(torch.tensor(gts, dtype=torch.float32), torch.tensor(anchors, dtype=torch.float32))).numpy()
    ref = np.where(idx >= 0, 1, np.where(idx == Matcher.BELOW_LOW_THRESHOLD, 0, -1))
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("kwargs", [dict(sizes=()), dict(ratios=(0, 1)), dict(stride=0), dict(convention="x")])
def test_bad_config(kwargs):
    with pytest.raises(ExplorerError):
        A.AnchorConfig(**kwargs)
    with pytest.raises(ExplorerError):
        A.grid_anchors((0, 3))


def test_ground_truth_of_a_generated_scene(tmp_path):
    """A saved scene's objects come back from the JSON beside its image, equal to the scene made again from its
    seed; an image without one (or with a broken one) has none."""
    import json

    from explorer.core.scenes import SAMPLES_DIR, SHAPE_CLASSES, make_scene

    png = SAMPLES_DIR / "scene_03.png"
    found = A.ground_truth_for(png)
    scene = make_scene(json.loads(png.with_suffix(".json").read_text())["seed"])
    assert [g.box for g in found] == [tuple(float(v) for v in b) for b in scene.boxes]
    assert [g.label for g in found] == [SHAPE_CLASSES[int(c)] for c in scene.labels]
    assert found[0].area == pytest.approx((203 - 141) * (191 - 130))
    assert A.ground_truth_for(tmp_path / "photo.jpg") == []
    (tmp_path / "bad.json").write_text("{ not json")
    (tmp_path / "odd.json").write_text(json.dumps({"objects": [{"box": [5, 5, 1, 1]}, {"box": "x"}]}))
    assert A.ground_truth_for(tmp_path / "bad.png") == [] and A.ground_truth_for(tmp_path / "odd.png") == []
