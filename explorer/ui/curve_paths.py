"""Point arrays for pyqtgraph's PlotCurveItem: many boxes or arrows drawn as one item (one paint call, not one
item per box). Pure numpy: the geometry apart from the painting, as pyqtgraph keeps its pixel arithmetic in
functions.py."""

from __future__ import annotations

import numpy as np

__all__ = ["arrow_path", "rect_path"]


def rect_path(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and connect arrays drawing every box (x1, y1, x2, y2) as a closed outline in one PlotCurveItem."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x = np.stack([b[:, 0], b[:, 2], b[:, 2], b[:, 0], b[:, 0]], axis=1).reshape(-1)
    y = np.stack([b[:, 1], b[:, 1], b[:, 3], b[:, 3], b[:, 1]], axis=1).reshape(-1)
    connect = np.ones(len(x), dtype=bool)
    connect[4::5] = False  # no line from one box to the next
    return x, y, connect


def arrow_path(starts: np.ndarray, ends: np.ndarray, head: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """x and y of line segments (connect="pairs") for arrows: a shaft and two head strokes each."""
    s, e = np.asarray(starts, float).reshape(-1, 2), np.asarray(ends, float).reshape(-1, 2)
    d = e - s
    length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-6)[:, None]
    u = d / length
    h = np.minimum(length * head, 12.0)
    n = np.stack([-u[:, 1], u[:, 0]], axis=1)
    left, right = e - u * h + n * h * 0.5, e - u * h - n * h * 0.5
    segs = np.stack([s, e, e, left, e, right], axis=1).reshape(-1, 2)
    return segs[:, 0], segs[:, 1]
