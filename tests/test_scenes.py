"""Synthetic scenes: deterministic by seed, boxes inside the image and tight around the drawn shapes."""

from __future__ import annotations

import numpy as np

from explorer.core.scenes import MAX_OBJECTS, SCENE_SIZE, SHAPE_CLASSES, make_scene, make_scenes, scene_seed


def test_same_seed_same_scene_other_seed_other_scene():
    a, b, c = make_scene(123), make_scene(123), make_scene(124)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)


def test_scene_sets_do_not_share_scenes():
    assert scene_seed(0, 5) != scene_seed(1, 5)
    train, test = make_scenes(3, 0), make_scenes(3, 1)
    for s in train:
        assert all(not np.array_equal(s.image, t.image) for t in test)


def test_boxes_inside_image_and_tight_around_each_shape():
    scenes = make_scenes(40, 7, keep_masks=True)
    counts = np.zeros(len(SHAPE_CLASSES), int)
    for s in scenes:
        assert s.image.shape == (SCENE_SIZE, SCENE_SIZE, 3) and s.image.dtype == np.uint8
        assert 1 <= len(s.boxes) <= MAX_OBJECTS and len(s.boxes) == len(s.labels) == len(s.masks)
        for box, label, mask in zip(s.boxes, s.labels, s.masks):
            x1, y1, x2, y2 = box
            assert 0 <= x1 < x2 <= SCENE_SIZE and 0 <= y1 < y2 <= SCENE_SIZE
            ys, xs = np.nonzero(mask)  # independent reference: the drawn pixels themselves
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x1, y1, x2, y2)
            assert max(x2 - x1, y2 - y1) >= 8
            counts[label] += 1
        # objects never overlap
        total = np.sum([m.astype(int) for m in s.masks], axis=0)
        assert total.max() <= 1
    assert (counts > 0).all(), counts  # every class appears


def test_shapes_are_visible_against_their_background():
    """The pixels inside an object differ from the pixels around it (the detector has something to see)."""
    s = make_scenes(1, 3, keep_masks=True)[0]
    img = s.image.astype(float)
    for mask, box in zip(s.masks, s.boxes):
        x1, y1, x2, y2 = box.astype(int)
        ring = np.zeros_like(mask)
        ring[max(0, y1 - 4):y2 + 4, max(0, x1 - 4):x2 + 4] = True
        ring &= ~mask
        assert np.linalg.norm(img[mask].mean(0) - img[ring].mean(0)) > 20
