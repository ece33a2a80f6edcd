"""R-CNN: proposals on the image, the 227×227 warp with 16 px context, and one CNN pass per region."""

import cv2
import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from explorer.core.errors import ModelInputError
from explorer.core.notes import rcnn


@pytest.fixture(scope="module")
def scene():
    img = np.full((240, 320, 3), 210, np.uint8)
    img[70:170, 120:220] = (200, 40, 40)        # one red square on a light background
    return img


def test_rcnn_proposals_inside_image_ranked_and_deduplicated(scene):
    props = rcnn.propose(scene, max_proposals=10, iou_threshold=0.4)
    assert 1 <= len(props) <= 10
    for p in props:
        x1, y1, x2, y2 = p.box
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240
    scores = [p.score for p in props]
    assert scores == sorted(scores, reverse=True)
    iou = box_iou(torch.tensor([p.box for p in props]), torch.tensor([p.box for p in props]))
    assert (iou - torch.eye(len(props))).max() <= 0.4 + 1e-6


def test_rcnn_best_proposal_finds_the_object(scene):
    best = rcnn.propose(scene)[0]
    assert box_iou(torch.tensor([best.box]), torch.tensor([[120.0, 70.0, 220.0, 170.0]])).item() > 0.6


def test_rcnn_proposals_reject_non_rgb():
    with pytest.raises(ModelInputError):
        rcnn.propose(np.zeros((100, 100), np.uint8))


def test_rcnn_warp_without_context_is_a_plain_resize(scene):
    box = (100, 50, 260, 130)
    warped = rcnn.warp_region(scene, box, 227, padding=0)
    assert warped.shape == (227, 227, 3)
    assert np.array_equal(warped, cv2.resize(scene[50:130, 100:260], (227, 227), interpolation=cv2.INTER_LINEAR))


def test_rcnn_warp_context_padding_16px_around_box(scene):
    # the square warped with p=16: the box fills the central 195×195, context the 16 px border
    box = (120.0, 70.0, 220.0, 170.0)
    assert rcnn.context_box(box) == pytest.approx((120 - 1600 / 195, 70 - 1600 / 195, 220 + 1600 / 195,
                                                   170 + 1600 / 195))
    warped = rcnn.warp_region(scene, box, 227, padding=16).astype(int)
    assert warped.shape == (227, 227, 3)
    assert np.abs(warped[113, 113] - (200, 40, 40)).max() <= 2          # centre: object
    assert np.abs(warped[20:207, 20:207] - (200, 40, 40)).max() <= 2    # inside the 16 px border: object
    assert np.abs(warped[5, 113] - (210, 210, 210)).max() <= 2          # border: background context
    assert np.abs(warped[113, 221] - (210, 210, 210)).max() <= 2


def test_rcnn_warp_context_outside_image_filled_with_mean(scene):
    warped = rcnn.warp_region(scene, (0, 0, 100, 100), 227, padding=16)
    mean = scene.reshape(-1, 3).mean(0)
    assert np.abs(warped[2, 2] - mean).max() <= 1.0


def test_rcnn_one_cnn_pass_per_region(scene):
    from explorer.core import zoo
    model = zoo.build("alexnet")
    boxes = [p.box for p in rcnn.propose(scene, max_proposals=3)]
    run = rcnn.classify_regions(model, scene, boxes, (224, 224), topk=3)
    assert run.cnn_passes == len(boxes) == len(run.regions) == 3
    for region in run.regions:
        assert region.crop.shape == (224, 224, 3)
        probs = [p for _, p in region.top]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        assert region.top[0][0] in rcnn.imagenet_categories()
