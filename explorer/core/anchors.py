"""Faster R-CNN anchors: generation in two conventions, regression-delta coding, and the paper's training labels.

Ren, He, Girshick, Sun. Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks,
NeurIPS 2015, section 3.1: at every position of the feature map (stride 16 for VGG-16's conv5_3) the RPN
scores and regresses k = 9 anchors, 3 sizes (128², 256², 512² pixels) × 3 aspect ratios (1:2, 1:1, 2:1).

Two conventions, both ratio-major then size (anchor a = ratio_index · len(sizes) + size_index), positions
row-major (y, then x, then anchor), ratio = height / width:

- ``original``: py-faster-rcnn's ``generate_anchors.py`` (the authors' reference code): a stride×stride base box
  [0, 0, 15, 15] with inclusive pixel widths (w = x2 − x1 + 1), the ratios enumerated at the base size with
  rounding (ws = round(sqrt(w·h / ratio)), hs = round(ws · ratio)), then multiplied by the scales
  sizes / stride; centres at (stride − 1)/2 + stride·i.
- ``torchvision``: ``torchvision.models.detection.anchor_utils.AnchorGenerator``: zero-centred boxes
  (±w/2, ±h/2 with w = size / sqrt(ratio), h = size · sqrt(ratio)), rounded after scaling; centres at stride·i.

Box coding (dx, dy, dw, dh) is torchvision's ``BoxCoder`` (weights 1, 1, 1, 1 as in its RPN), which follows the
paper's eq. 2 with widths x2 − x1. Labels follow section 3.1.2: positive if IoU ≥ 0.7 with some ground truth,
or the anchor(s) with the highest IoU for a ground truth; negative if IoU < 0.3 with every ground truth;
otherwise ignored; anchors crossing the image border are ignored during training (section 3.3).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Sequence

import numpy as np

from explorer.core.errors import ExplorerError

if TYPE_CHECKING:
    import torch

Convention = Literal["original", "torchvision"]
CONVENTIONS: tuple[str, ...] = ("original", "torchvision")

DEFAULT_SIZES: tuple[float, ...] = (128.0, 256.0, 512.0)
DEFAULT_RATIOS: tuple[float, ...] = (0.5, 1.0, 2.0)
DEFAULT_STRIDE: int = 16

# Training-label values, as in py-faster-rcnn's anchor_target_layer (1 positive, 0 negative, -1 ignored).
POSITIVE, NEGATIVE, IGNORED = 1, 0, -1


class AnchorConfigError(ExplorerError):
    """Sizes, ratios, stride or feature-map size that cannot make anchors."""


@dataclass(frozen=True)
class AnchorConfig:
    """What defines a set of anchors: sizes in input pixels (sqrt of the area), ratios h/w, feature stride."""

    sizes: tuple[float, ...] = DEFAULT_SIZES
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    stride: int = DEFAULT_STRIDE
    convention: Convention = "original"

    def __post_init__(self) -> None:
        validate(self.sizes, self.ratios, self.stride, self.convention)

    @property
    def num_anchors(self) -> int:
        return len(self.sizes) * len(self.ratios)

    def shape_of(self, a: int) -> tuple[float, float]:
        """(size, ratio) of anchor index a (ratio-major, then size)."""
        return self.sizes[a % len(self.sizes)], self.ratios[a // len(self.sizes)]

    def cell_anchors(self) -> np.ndarray:
        return cell_anchors(self.sizes, self.ratios, self.stride, self.convention)

    def grid_anchors(self, feature_size: tuple[int, int]) -> np.ndarray:
        return grid_anchors(feature_size, self.sizes, self.ratios, self.stride, self.convention)

    def centres(self, feature_size: tuple[int, int]) -> np.ndarray:
        return anchor_centres(feature_size, self.stride, self.convention)


def validate(sizes: Sequence[float], ratios: Sequence[float], stride: int, convention: str) -> None:
    if convention not in CONVENTIONS:
        raise AnchorConfigError(f"unknown anchor convention '{convention}'; choose one of: {', '.join(CONVENTIONS)}")
    if not sizes or any(not math.isfinite(s) or s <= 0 for s in sizes):
        raise AnchorConfigError("anchor sizes must be positive numbers, e.g. 128 256 512")
    if not ratios or any(not math.isfinite(r) or r <= 0 for r in ratios):
        raise AnchorConfigError("anchor ratios (height/width) must be positive numbers, e.g. 0.5 1 2")
    if int(stride) != stride or stride <= 0:
        raise AnchorConfigError(f"the feature stride must be a positive whole number of pixels, not {stride}")


# -- the authors' reference algorithm (py-faster-rcnn/lib/rpn/generate_anchors.py) ------------------------------
def _whctrs(anchor: np.ndarray) -> tuple[float, float, float, float]:
    w = anchor[2] - anchor[0] + 1  # inclusive pixel coordinates
    h = anchor[3] - anchor[1] + 1
    return w, h, anchor[0] + 0.5 * (w - 1), anchor[1] + 0.5 * (h - 1)


def _mkanchors(ws: np.ndarray, hs: np.ndarray, x_ctr: float, y_ctr: float) -> np.ndarray:
    ws, hs = ws[:, None], hs[:, None]
    return np.hstack((x_ctr - 0.5 * (ws - 1), y_ctr - 0.5 * (hs - 1), x_ctr + 0.5 * (ws - 1), y_ctr + 0.5 * (hs - 1)))


def _ratio_enum(anchor: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    w, h, x_ctr, y_ctr = _whctrs(anchor)
    ws = np.round(np.sqrt(w * h / ratios))  # numpy rounds halves to even, as the reference does
    hs = np.round(ws * ratios)
    return _mkanchors(ws, hs, x_ctr, y_ctr)


def _scale_enum(anchor: np.ndarray, scales: np.ndarray) -> np.ndarray:
    w, h, x_ctr, y_ctr = _whctrs(anchor)
    return _mkanchors(w * scales, h * scales, x_ctr, y_ctr)


def generate_anchors_original(base_size: int = 16, ratios: Sequence[float] = DEFAULT_RATIOS,
                              scales: Sequence[float] = (8, 16, 32)) -> np.ndarray:
    """py-faster-rcnn's generate_anchors(): (len(ratios)·len(scales), 4) boxes around the first cell."""
    base_anchor = np.array([1, 1, base_size, base_size], dtype=np.float64) - 1
    ratio_anchors = _ratio_enum(base_anchor, np.asarray(ratios, dtype=np.float64))
    scales = np.asarray(scales, dtype=np.float64)
    return np.vstack([_scale_enum(ratio_anchors[i], scales) for i in range(ratio_anchors.shape[0])])


# -- torchvision's AnchorGenerator.generate_anchors, in numpy ---------------------------------------------------
def generate_anchors_torchvision(sizes: Sequence[float] = DEFAULT_SIZES,
                                 ratios: Sequence[float] = DEFAULT_RATIOS) -> np.ndarray:
    """Zero-centred anchors as torchvision computes them (float32 arithmetic, rounded after scaling)."""
    scales = np.asarray(sizes, dtype=np.float32)
    r = np.asarray(ratios, dtype=np.float32)
    h_ratios = np.sqrt(r)
    w_ratios = np.float32(1) / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * scales[None, :]).reshape(-1)
    base = np.stack([-ws, -hs, ws, hs], axis=1) / np.float32(2)
    return np.round(base).astype(np.float64)


def cell_anchors(sizes: Sequence[float] = DEFAULT_SIZES, ratios: Sequence[float] = DEFAULT_RATIOS,
                 stride: int = DEFAULT_STRIDE, convention: str = "original") -> np.ndarray:
    """The k = len(ratios)·len(sizes) anchors of the first position (row 0, column 0), (k, 4) x1 y1 x2 y2."""
    validate(sizes, ratios, stride, convention)
    if convention == "original":
        return generate_anchors_original(int(stride), ratios, np.asarray(sizes, dtype=np.float64) / stride)
    return generate_anchors_torchvision(sizes, ratios)


def anchor_centres(feature_size: tuple[int, int], stride: int | tuple[int, int] = DEFAULT_STRIDE,
                   convention: str = "original") -> np.ndarray:
    """(H·W, 2) anchor centres (x, y) in input pixels, row-major."""
    fh, fw = _check_feature_size(feature_size)
    sy, sx = _pair(stride)
    oy, ox = ((sy - 1) / 2, (sx - 1) / 2) if convention == "original" else (0.0, 0.0)
    ys, xs = np.meshgrid(np.arange(fh) * sy + oy, np.arange(fw) * sx + ox, indexing="ij")
    return np.stack([xs.reshape(-1), ys.reshape(-1)], axis=1).astype(np.float64)


def grid_anchors(feature_size: tuple[int, int], sizes: Sequence[float] = DEFAULT_SIZES,
                 ratios: Sequence[float] = DEFAULT_RATIOS, stride: int | tuple[int, int] = DEFAULT_STRIDE,
                 convention: str = "original") -> np.ndarray:
    """Every anchor of an H×W feature map, (H·W·k, 4), ordered y, then x, then anchor (as both references).

    `stride` may be (sy, sx): torchvision's strides are padded size // grid size along each axis."""
    fh, fw = _check_feature_size(feature_size)
    sy, sx = _pair(stride)
    if convention == "original" and sy != sx:
        raise AnchorConfigError("the original convention needs the same stride along x and y")
    base = cell_anchors(sizes, ratios, sx, convention)
    ys, xs = np.meshgrid(np.arange(fh) * sy, np.arange(fw) * sx, indexing="ij")
    shifts = np.stack([xs.reshape(-1), ys.reshape(-1), xs.reshape(-1), ys.reshape(-1)], axis=1).astype(np.float64)
    return (shifts[:, None, :] + base[None, :, :]).reshape(-1, 4)


def _pair(stride: int | Sequence[int]) -> tuple[int, int]:
    sy, sx = (stride, stride) if np.isscalar(stride) else tuple(stride)
    for v in (sy, sx):
        if int(v) != v or v <= 0:
            raise AnchorConfigError(f"the feature stride must be a positive whole number of pixels, not {v}")
    return int(sy), int(sx)


def _check_feature_size(feature_size: tuple[int, int]) -> tuple[int, int]:
    try:
        fh, fw = (int(v) for v in feature_size)
    except (TypeError, ValueError):
        raise AnchorConfigError(f"a feature-map size is two whole numbers H×W, not {feature_size!r}") from None
    if fh <= 0 or fw <= 0:
        raise AnchorConfigError(f"a feature-map size must be positive, not {fh}×{fw}")
    if fh * fw > 4_000_000:
        raise AnchorConfigError(f"a {fh}×{fw} feature map is too large to list its anchors")
    return fh, fw


def feature_size_for(image_size: tuple[int, int], stride: int = DEFAULT_STRIDE) -> tuple[int, int]:
    """Feature-map size of a stride-`stride` backbone on an H×W input (ceil, as VGG-16's padded convs give)."""
    return max(1, math.ceil(image_size[0] / stride)), max(1, math.ceil(image_size[1] / stride))


# -- regression deltas (paper eq. 2) ----------------------------------------------------------------------------
def box_coder(weights: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)):
    """torchvision's BoxCoder with the RPN's weights (1, 1, 1, 1)."""
    from torchvision.models.detection._utils import BoxCoder

    return BoxCoder(weights)


def encode(boxes: "torch.Tensor", anchors: "torch.Tensor") -> "torch.Tensor":
    """(dx, dy, dw, dh) that move each anchor onto its box: tx = (x − xa)/wa, tw = log(w/wa)."""
    import torch

    boxes, anchors = torch.as_tensor(boxes, dtype=torch.float32), torch.as_tensor(anchors, dtype=torch.float32)
    return box_coder().encode_single(boxes, anchors)


def decode(deltas: "torch.Tensor", anchors: "torch.Tensor") -> "torch.Tensor":
    """Boxes (x1, y1, x2, y2) from deltas applied to anchors (dw, dh clipped at log(1000/16) as torchvision)."""
    import torch

    deltas, anchors = torch.as_tensor(deltas, dtype=torch.float32), torch.as_tensor(anchors, dtype=torch.float32)
    return box_coder().decode_single(deltas, anchors)


# -- training labels (paper section 3.1.2) ---------------------------------------------------------------------
@dataclass
class AnchorLabels:
    labels: np.ndarray          # (num_anchors,) 1 positive, 0 negative, -1 ignored
    max_iou: np.ndarray         # (num_anchors,) best IoU with any ground truth
    matched_gt: np.ndarray      # (num_anchors,) index of that ground truth (-1 with no ground truth)

    @property
    def counts(self) -> dict[str, int]:
        return {"positive": int((self.labels == POSITIVE).sum()), "negative": int((self.labels == NEGATIVE).sum()),
                "ignored": int((self.labels == IGNORED).sum())}


def label_anchors(anchors, gt_boxes, positive_iou: float = 0.7, negative_iou: float = 0.3,
                  image_size: tuple[int, int] | None = None) -> AnchorLabels:
    """Label anchors positive / negative / ignored against ground-truth boxes (all x1 y1 x2 y2).

    Positive: IoU ≥ positive_iou with some ground truth, or the anchor(s) with the highest IoU (> 0) for a ground
    truth (so every ground truth gets at least one anchor). Negative: IoU < negative_iou with every ground truth
    and not positive. The rest are ignored. With `image_size` (H, W), anchors that cross the image border are
    ignored, as during the paper's training.
    """
    import torch
    from torchvision.ops import box_iou

    a_all = np.asarray(anchors, dtype=np.float32).reshape(-1, 4)
    g = torch.as_tensor(np.asarray(gt_boxes, dtype=np.float32).reshape(-1, 4))
    n = a_all.shape[0]
    inside = np.ones(n, dtype=bool)
    if image_size is not None:  # py-faster-rcnn drops border-crossing anchors before matching
        h, w = image_size
        inside = (a_all[:, 0] >= 0) & (a_all[:, 1] >= 0) & (a_all[:, 2] <= w) & (a_all[:, 3] <= h)
    labels = np.full(n, IGNORED, dtype=np.int64)
    max_iou = np.zeros(n, dtype=np.float32)
    matched = np.full(n, -1, dtype=np.int64)
    idx = np.nonzero(inside)[0]
    if g.shape[0] == 0:
        labels[idx] = NEGATIVE
    elif len(idx):
        iou = box_iou(torch.as_tensor(a_all[idx]), g)   # (inside anchors, gt)
        best, matched_t = iou.max(dim=1)
        sub = np.full(len(idx), IGNORED, dtype=np.int64)
        sub[best.numpy() < negative_iou] = NEGATIVE
        gt_best = iou.max(dim=0).values                   # best anchor IoU per ground truth
        is_best = ((iou == gt_best[None, :]) & (gt_best[None, :] > 0)).any(dim=1).numpy()
        sub[is_best] = POSITIVE
        sub[best.numpy() >= positive_iou] = POSITIVE
        labels[idx], max_iou[idx], matched[idx] = sub, best.numpy(), matched_t.numpy()
    return AnchorLabels(labels, max_iou, matched)


@dataclass(frozen=True)
class GroundTruth:
    """One object of an image's ground truth: its box (x1, y1, x2, y2, source pixels) and class name."""

    box: tuple[float, float, float, float]
    label: str

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


def ground_truth_for(image_path: str | os.PathLike[str]) -> list[GroundTruth]:
    """The objects of an image that carries its ground truth beside it: the JSON file of the same name that
    explorer.core.scenes.save_samples writes for each generated scene ({"objects": [{"box", "label"}, ...]}).
    An image without one (a photograph), or with one that cannot be read, has none: []."""
    import json

    path = Path(image_path).with_suffix(".json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        objects = data["objects"]
        found = []
        for obj in objects:
            x1, y1, x2, y2 = (float(v) for v in obj["box"])
            if all(math.isfinite(v) for v in (x1, y1, x2, y2)) and x2 > x1 and y2 > y1:
                found.append(GroundTruth((x1, y1, x2, y2), str(obj.get("label", ""))))
        return found
    except (OSError, ValueError, KeyError, TypeError):
        return []


# -- one level's anchors in source-frame pixels (what the anchor view draws) ------------------------------------
@dataclass
class AnchorSet:
    """The anchors of one feature level mapped to source-frame pixels."""

    feature_size: tuple[int, int]           # (H, W)
    sizes: tuple[float, ...]
    ratios: tuple[float, ...]
    anchors: np.ndarray                     # (H·W·k, 4) source pixels, y, x, anchor order
    centres: np.ndarray                     # (H·W, 2) source pixels
    scale: tuple[float, float]              # (sx, sy) model pixels per source pixel
    level: int = 0
    objectness: np.ndarray | None = None    # (k, H, W) probabilities from a model's RPN, or None

    @property
    def k(self) -> int:
        return len(self.sizes) * len(self.ratios)

    @property
    def count(self) -> int:
        return self.feature_size[0] * self.feature_size[1] * self.k

    def shape_of(self, a: int) -> tuple[float, float]:
        return self.sizes[a % len(self.sizes)], self.ratios[a // len(self.sizes)]

    def nearest_position(self, x: float, y: float) -> int:
        """Index (row-major) of the anchor centre nearest to source point (x, y)."""
        d = (self.centres[:, 0] - x) ** 2 + (self.centres[:, 1] - y) ** 2
        return int(np.argmin(d))

    def at_position(self, pos: int) -> np.ndarray:
        return self.anchors[pos * self.k:(pos + 1) * self.k]

    def of_shape(self, a: int) -> np.ndarray:
        return self.anchors[a::self.k]


def paper_scale(image_size: tuple[int, int], short_side: int = 600, max_side: int = 1000) -> float:
    """The paper's rescale: shorter side to 600 pixels, longer side at most 1000 (Fast/Faster R-CNN)."""
    h, w = image_size
    return min(short_side / min(h, w), max_side / max(h, w))


def config_anchor_set(cfg: AnchorConfig, image_size: tuple[int, int], short_side: int = 600,
                      max_side: int = 1000) -> AnchorSet:
    """Anchors of `cfg` over an H×W source image rescaled as the paper does, in source pixels."""
    s = paper_scale(image_size, short_side, max_side)
    model_size = (max(1, round(image_size[0] * s)), max(1, round(image_size[1] * s)))
    fs = feature_size_for(model_size, cfg.stride)
    return AnchorSet(feature_size=fs, sizes=tuple(cfg.sizes), ratios=tuple(cfg.ratios),
                     anchors=cfg.grid_anchors(fs) / s, centres=cfg.centres(fs) / s, scale=(s, s))
