"""Where to put detection label tags so that no two overlap (Qt-free, image pixels, y downward).

Each label wants its box's top-left corner: outside, just above the box, or inside under the top edge when
there is no room above the image edge. Overlapping detections (NMS leftovers, one shape found as two classes)
want the same corner, so labels are placed greedily in descending score order: the best detection keeps the
natural place and each following one takes the first of its candidates (inside under the top edge, the
bottom-left inside, under the box, the same right-aligned, then steps of one label height through the box and
up to AWAY heights above or below it, nearest first, then beside the box) that hits no label placed before.

Why greedy by score: the label that matters most is never displaced by a weaker one, a weak detection that
comes and goes in a video never moves the stronger labels, and it is cheap (candidates × placed rectangle
tests per label, vectorised) where an optimal placement is NP-hard. A label whose candidates are all taken is
not placed (None): a missing tag is better than one hiding another, and the results table still lists it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = tuple[float, float, float, float]   # x1, y1, x2, y2
AWAY = 3                                  # label heights a tag may sit above or below its box
EPS = 1e-6                                # labels that only touch (float rounding of y1 - h + h) do not overlap


def candidates(box: Box, size: tuple[float, float], image_size: tuple[float, float]) -> np.ndarray:
    """(K, 2) top-left positions for a label of `size` (w, h) on `box`, best first, all inside the image
    (W, H) where the label fits, without duplicates."""
    x1, y1, x2, y2 = (float(v) for v in box)
    w, h = float(size[0]), float(size[1])
    natural = y1 - h if y1 - h >= 0 else y1          # above the box, else inside when the image edge is there
    first = [natural, y1, y2 - h, y2]
    steps: list[float] = []
    if h > 0:  # steps of one label height down through the box and a few beyond, and up above it (a stack)
        down = [y1 + k * h for k in range(1, int((y2 - y1) // h) + 1 + AWAY)]
        up = [y1 - h - k * h for k in range(1, AWAY + 1)]
        steps = sorted(down + up, key=lambda y: abs(y - natural))   # nearest the natural place first
    inside = [y for y in steps if y1 <= y <= y2 - h]
    xy = ([(x, y) for x in (x1, x2 - w) for y in first] + [(x, y) for y in steps for x in (x1, x2 - w)]
          + [(x, y) for x in (x2, x1 - w) for y in [y1, *inside, y2 - h]])        # beside the box, last
    out = np.array(xy, dtype=np.float64).reshape(-1, 2)
    # within the image: a label larger than the image sits at its origin (np.clip would take the upper bound)
    out[:, 0] = np.maximum(np.minimum(out[:, 0], image_size[0] - w), 0.0)
    out[:, 1] = np.maximum(np.minimum(out[:, 1], image_size[1] - h), 0.0)
    _, keep = np.unique(out, axis=0, return_index=True)
    return out[np.sort(keep)]


def place_labels(boxes: Sequence[Box], sizes: Sequence[tuple[float, float]], image_size: tuple[float, float],
                 scores: Sequence[float] | None = None) -> list[tuple[float, float] | None]:
    """Top-left corners (image pixels) of the labels of `boxes`, in the order given, such that no two label
    rectangles overlap and all lie within `image_size` (W, H). `sizes` are the labels' (w, h) in image pixels;
    labels are placed by descending `scores` (default: the given order). None: no free place near its box."""
    if len(sizes) != len(boxes) or (scores is not None and len(scores) != len(boxes)):
        raise ValueError("boxes, sizes and scores must have the same length")
    order = sorted(range(len(boxes)), key=lambda i: -scores[i]) if scores is not None else range(len(boxes))
    placed = np.empty((0, 4))                        # x1, y1, x2, y2 of the labels placed so far
    out: list[tuple[float, float] | None] = [None] * len(boxes)
    for i in order:
        w, h = float(sizes[i][0]), float(sizes[i][1])
        cand = candidates(boxes[i], (w, h), image_size)
        # all candidates against all placed labels at once: a (K, n) overlap matrix
        hit = ((cand[:, None, 0] < placed[None, :, 2] - EPS) & (placed[None, :, 0] < cand[:, None, 0] + w - EPS)
               & (cand[:, None, 1] < placed[None, :, 3] - EPS) & (placed[None, :, 1] < cand[:, None, 1] + h - EPS))
        free = np.flatnonzero(~hit.any(axis=1))
        if free.size:
            x, y = cand[free[0]]
            out[i] = (float(x), float(y))
            placed = np.vstack([placed, [x, y, x + w, y + h]])
    return out
