"""R-CNN's first two steps: region proposals on the image, and each region warped to the CNN's input size.

Girshick, Donahue, Darrell, Malik. "Rich feature hierarchies for accurate object detection and semantic
segmentation", CVPR 2014. Section 2.1: ~2000 selective-search proposals per image; each is warped to 227×227
whatever its aspect ratio, after dilating the box so that the warped frame has p = 16 pixels of original
context around it (Appendix A); where that context leaves the image it is filled with the image mean. One CNN
pass per region, then class-specific SVMs.

Proposals: selective search lives only in OpenCV's contrib wheel (cv2.ximgproc.segmentation), which cannot
be installed beside opencv-python-headless (both install the same `cv2` package, and pip does not know they
conflict), and the project depends on the headless wheel. So we propose boxes with a simple objectness of our
own in the spirit of Alexe, Deselaers, Ferrari, "What is an object?" (CVPR 2010): sliding windows at several
scales and aspect ratios, scored by colour contrast against their surroundings (the CC cue, here the weakest of the four sides) and by edge
density inside (the ED cue), computed from integral images; torchvision.ops.nms removes near-duplicates.
It is a teaching stand-in: fast (a few ms) and deterministic, not a replacement for selective search's recall.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from explorer.core.errors import ModelInputError

if TYPE_CHECKING:
    from torch import nn

Box = tuple[float, float, float, float]

RCNN_WARP_SIZE = 227        # R-CNN's AlexNet input
RCNN_CONTEXT_PAD = 16       # pixels of context in the warped frame (Appendix A)


@dataclass(frozen=True)
class Proposal:
    box: Box                 # x1, y1, x2, y2 in image pixels
    score: float             # objectness (higher = more object-like)


def _box_sum(ii: np.ndarray, x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> np.ndarray:
    """Sums over boxes [x1, x2) × [y1, y2) from an integral image (cv2.integral layout, (H+1, W+1, ...))."""
    return ii[y2, x2] - ii[y1, x2] - ii[y2, x1] + ii[y1, x1]


def propose(image: np.ndarray, max_proposals: int = 12, iou_threshold: float = 0.4,
            scales: tuple[float, ...] = (0.25, 0.35, 0.5, 0.7, 0.9),
            ratios: tuple[float, ...] = (0.5, 1.0, 2.0), work_size: int = 192) -> list[Proposal]:
    """Object-like boxes of an RGB uint8 image, best first (see the module docstring)."""
    import torch
    from torchvision.ops import nms

    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 16:
        raise ModelInputError(f"expected an RGB image of at least 16×16 pixels, got shape {tuple(image.shape)}.")
    H, W = image.shape[:2]
    f = work_size / max(H, W)                   # score on a small copy: the cues are coarse anyway
    small = cv2.resize(image, (max(int(round(W * f)), 8), max(int(round(H * f)), 8)), interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]

    lab = cv2.cvtColor(small, cv2.COLOR_RGB2Lab).astype(np.float64)
    gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), (3, 3), 0)
    edges = (cv2.Canny(gray, 60, 150) > 0).astype(np.float64)
    ii_lab = cv2.integral(lab)                  # (h+1, w+1, 3)
    ii_edge = cv2.integral(edges)               # (h+1, w+1)
    edge_mean = max(edges.mean(), 1e-6)

    boxes = []
    side = min(h, w)
    for s in scales:
        for r in ratios:                        # r = height / width
            bw, bh = side * s / np.sqrt(r), side * s * np.sqrt(r)
            if bw > w or bh > h:
                continue
            step_x, step_y = max(bw / 6, 2), max(bh / 6, 2)
            xs = np.arange(0, w - bw + 1e-6, step_x)
            ys = np.arange(0, h - bh + 1e-6, step_y)
            gx, gy = np.meshgrid(xs, ys)
            boxes.append(np.stack([gx.ravel(), gy.ravel(), gx.ravel() + bw, gy.ravel() + bh], 1))
    if not boxes:
        return []
    b = np.concatenate(boxes)
    x1, y1 = np.floor(b[:, 0]).astype(int), np.floor(b[:, 1]).astype(int)
    x2, y2 = np.minimum(np.ceil(b[:, 2]).astype(int), w), np.minimum(np.ceil(b[:, 3]).astype(int), h)
    bw, bh = x2 - x1, y2 - y1
    # colour contrast against the surroundings, side by side: an object differs from what lies above, below,
    # left and right of it, so the cue is the smallest of the four contrasts (a box around half an object
    # has its own colour on one side). Each side strip is half the box deep, clipped to the image; a side on
    # the image border is left out.
    area_in = (bw * bh).astype(np.float64)
    mean_in = _box_sum(ii_lab, x1, y1, x2, y2) / area_in[:, None]
    strips = [
        (x1, np.maximum(y1 - bh // 2, 0), x2, y1),                        # above
        (x1, y2, x2, np.minimum(y2 + bh // 2, h)),                         # below
        (np.maximum(x1 - bw // 2, 0), y1, x1, y2),                        # left
        (x2, y1, np.minimum(x2 + bw // 2, w), y2),                         # right
    ]
    contrasts = []
    for sx1, sy1, sx2, sy2 in strips:
        area = ((sx2 - sx1) * (sy2 - sy1)).astype(np.float64)
        mean = _box_sum(ii_lab, sx1, sy1, sx2, sy2) / np.maximum(area, 1.0)[:, None]
        contrasts.append(np.where(area > 0, np.linalg.norm(mean_in - mean, axis=1), np.inf))
    cc = np.min(contrasts, axis=0)
    cc[~np.isfinite(cc)] = 0.0                                              # the whole image: no surroundings
    ed = _box_sum(ii_edge, x1, y1, x2, y2) / area_in / edge_mean
    score = cc * (0.5 + np.minimum(ed, 2.0))

    keep = nms(torch.from_numpy(b).float(), torch.from_numpy(score).float(), iou_threshold)[:max_proposals]
    out = []
    for i in keep.tolist():
        bx = b[i] / f
        out.append(Proposal((float(max(bx[0], 0)), float(max(bx[1], 0)), float(min(bx[2], W)), float(min(bx[3], H))),
                            float(score[i])))
    return out


def context_box(box: Box, size: int = RCNN_WARP_SIZE, padding: int = RCNN_CONTEXT_PAD) -> Box:
    """The box dilated so that, warped to size×size, the original box fills size − 2·padding pixels."""
    x1, y1, x2, y2 = box
    inner = size - 2 * padding
    if inner <= 0:
        raise ModelInputError(f"context padding {padding} leaves nothing of a {size}-pixel warp.")
    px, py = padding * (x2 - x1) / inner, padding * (y2 - y1) / inner
    return (x1 - px, y1 - py, x2 + px, y2 + py)


def warp_region(image: np.ndarray, box: Box, size: int | tuple[int, int] = RCNN_WARP_SIZE,
                padding: int = 0) -> np.ndarray:
    """R-CNN's warp: the box (optionally with `padding` pixels of context) resized to size×size, anisotropically.

    Context outside the image is filled with the image's mean colour, as in R-CNN (Appendix A).
    """
    out_h, out_w = (size, size) if isinstance(size, int) else size
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        raise ModelInputError(f"the region ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is empty.")
    if padding:
        x1, y1, x2, y2 = context_box(box, min(out_h, out_w), padding)
    H, W = image.shape[:2]
    ix1, iy1, ix2, iy2 = int(np.floor(x1)), int(np.floor(y1)), int(np.ceil(x2)), int(np.ceil(y2))
    crop = image[max(iy1, 0):min(iy2, H), max(ix1, 0):min(ix2, W)]
    if crop.size == 0:
        raise ModelInputError("the region lies outside the image.")
    top, left = max(-iy1, 0), max(-ix1, 0)
    bottom, right = max(iy2 - H, 0), max(ix2 - W, 0)
    if top or left or bottom or right:
        mean = [float(v) for v in image.reshape(-1, 3).mean(0)]
        crop = cv2.copyMakeBorder(crop, top, bottom, left, right, cv2.BORDER_CONSTANT, value=mean)
    return cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_LINEAR)


@dataclass
class RegionScores:
    box: Box
    crop: np.ndarray                         # the warped region (size × size × 3, uint8)
    top: list[tuple[str, float]]             # (class name, softmax probability), best first


@dataclass
class RcnnRun:
    regions: list[RegionScores]
    cnn_passes: int                          # forward passes of the CNN: one per region
    warp_size: tuple[int, int]
    model_name: str
    weights: str


def imagenet_categories() -> list[str]:
    """ImageNet class names from torchvision's weights metadata (no download needed)."""
    from torchvision.models import AlexNet_Weights
    return list(AlexNet_Weights.IMAGENET1K_V1.meta["categories"])


def classify_regions(model: "nn.Module", image: np.ndarray, boxes: list[Box], warp_size: tuple[int, int],
                     padding: int = RCNN_CONTEXT_PAD, topk: int = 3, categories: list[str] | None = None,
                     model_name: str = "", weights: str = "random") -> RcnnRun:
    """Warp each region and run the classifier once per region, as R-CNN does (call this in a worker thread)."""
    import torch

    from explorer.core.notes.conv_features import to_tensor

    categories = categories or imagenet_categories()
    passes = 0
    me = threading.get_ident()   # count only this thread's passes: the app may run the model elsewhere too

    def count(*_: Any) -> None:
        nonlocal passes
        if threading.get_ident() == me:
            passes += 1

    hook = model.register_forward_hook(count)
    device = next(model.parameters()).device
    regions = []
    try:
        with torch.inference_mode():
            for box in boxes:
                crop = warp_region(image, box, warp_size, padding)
                logits = model(to_tensor(crop).to(device))
                if isinstance(logits, tuple):        # e.g. GoogLeNet's named tuple when aux heads are on
                    logits = logits[0]
                probs = torch.softmax(logits[0].float().cpu(), 0)
                p, idx = probs.topk(min(topk, probs.numel()))
                names = [categories[i] if i < len(categories) else f"class {i}" for i in idx.tolist()]
                regions.append(RegionScores(box, crop, list(zip(names, p.tolist()))))
    finally:
        hook.remove()
    return RcnnRun(regions, passes, warp_size, model_name, weights)
