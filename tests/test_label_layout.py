"""Detection label placement: natural place at the box's top-left, greedy by score, no overlaps, in the image."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core.label_layout import candidates, place_labels

W, H = 200.0, 100.0   # label size 40×10 in most cases below


def rects(positions, sizes):
    return [(p[0], p[1], p[0] + w, p[1] + h) for p, (w, h) in zip(positions, sizes) if p is not None]


def overlap(a, b, eps=1e-6):
    return a[0] < b[2] - eps and b[0] < a[2] - eps and a[1] < b[3] - eps and b[1] < a[3] - eps


def test_a_lone_label_sits_above_its_box_top_left():
    assert place_labels([(50, 30, 120, 80)], [(40, 10)], (W, H)) == [(50.0, 20.0)]


def test_a_box_at_the_top_edge_gets_its_label_inside():
    assert place_labels([(50, 0, 120, 80)], [(40, 10)], (W, H)) == [(50.0, 0.0)]
    # some room above, but less than a label height: inside too (not half over the edge)
    assert place_labels([(50, 6, 120, 80)], [(40, 10)], (W, H)) == [(50.0, 6.0)]


def test_two_identical_boxes_best_score_keeps_the_natural_place_the_other_goes_inside():
    boxes = [(50, 30, 120, 80), (50, 30, 120, 80)]
    # the second detection scores higher: it takes the place above; the first goes under the top edge
    out = place_labels(boxes, [(40, 10), (40, 10)], (W, H), scores=[0.55, 0.87])
    assert out == [(50.0, 30.0), (50.0, 20.0)]
    assert not overlap(*rects(out, [(40, 10)] * 2))


def test_three_identical_boxes_step_inside_the_box():
    boxes = [(50, 30, 120, 80)] * 3
    out = place_labels(boxes, [(40, 10)] * 3, (W, H), scores=[0.9, 0.8, 0.7])
    assert out == [(50.0, 20.0), (50.0, 30.0), (50.0, 70.0)]   # above, inside top, inside bottom


def test_labels_stay_inside_the_image():
    # boxes at the right and bottom edges, a label wider than its box, a box running off the image
    boxes = [(190, 40, 200, 60), (0, 95, 10, 100), (-5, -5, 30, 30), (170, 90, 230, 120)]
    sizes = [(40, 10)] * 4
    out = place_labels(boxes, sizes, (W, H))
    assert None not in out
    for x, y, x2, y2 in rects(out, sizes):
        assert 0 <= x and x2 <= W and 0 <= y and y2 <= H
    assert out[0] == (160.0, 30.0)   # pushed left to fit, still above its box
    assert out[2] == (0.0, 0.0)      # off the top-left: at the corner


def test_a_label_wider_than_the_image_starts_at_its_left_edge():
    assert place_labels([(5, 5, 10, 10)], [(300, 10)], (W, H)) == [(0.0, 5.0)]   # no room above: inside


def test_no_free_place_near_the_box_leaves_the_weakest_label_unplaced():
    # a tiny box in a tiny image: one 40×10 label fills the width, a second 10-high one fits under it,
    # there is no third place
    boxes = [(0, 0, 40, 20)] * 3
    out = place_labels(boxes, [(40, 10)] * 3, (40, 20), scores=[0.3, 0.9, 0.6])
    assert out == [None, (0.0, 0.0), (0.0, 10.0)]


def test_candidates_start_with_the_natural_place_and_have_no_duplicates():
    c = candidates((50, 30, 120, 80), (40, 10), (W, H))
    assert tuple(c[0]) == (50, 20) and tuple(c[1]) == (50, 30) and tuple(c[2]) == (50, 70)
    assert len({tuple(p) for p in c}) == len(c)


def test_lengths_must_match():
    with pytest.raises(ValueError):
        place_labels([(0, 0, 1, 1)], [], (W, H))


@pytest.mark.parametrize("seed", range(5))
def test_thirty_random_boxes_no_two_labels_overlap(seed):
    rng = np.random.default_rng(seed)
    size = (640.0, 480.0)
    xy = rng.uniform(0, [600, 440], (30, 2))
    wh = rng.uniform(10, 200, (30, 2))
    boxes = [tuple(b) for b in np.hstack([xy, xy + wh]).tolist()]
    sizes = [(float(w), 16.0) for w in rng.uniform(50, 110, 30)]
    scores = rng.random(30).tolist()
    out = place_labels(boxes, sizes, size, scores)
    placed = [(i, p) for i, p in enumerate(out) if p is not None]
    assert len(placed) >= 25   # few are crowded out
    r = [(x, y, x + sizes[i][0], y + sizes[i][1]) for i, (x, y) in placed]
    for a in range(len(r)):
        assert 0 <= r[a][0] and r[a][2] <= size[0] + 1e-9 and 0 <= r[a][1] and r[a][3] <= size[1] + 1e-9
        for b in range(a + 1, len(r)):
            assert not overlap(r[a], r[b]), (placed[a], placed[b])
    best = int(np.argmax(scores))   # the best detection keeps its natural place
    x1, y1 = boxes[best][:2]
    assert out[best] == (min(x1, size[0] - sizes[best][0]), y1 - 16.0 if y1 >= 16.0 else y1)
