"""YOLOv1's S×S×(B·5+C) output: layouts, decoding, class-specific scores, threshold and NMS.

Redmon, Divvala, Girshick, Farhadi. You Only Look Once: Unified, Real-Time Object Detection. CVPR 2016,
section 2: the image is divided into an S×S grid; each cell predicts B boxes (x, y, w, h, confidence) and C
conditional class probabilities Pr(class_i | object). (x, y) are the box centre relative to the bounds of the
cell, (w, h) relative to the whole image (the network predicts their square roots, section 2.2). At test
time the class-specific confidence of a box is Pr(class_i | object) × confidence.

Two layouts of the same numbers:

- ``darknet`` (flat, what this project's YOLO models return, as darknet's detection layer reads its fc output):
  S·S·C class probabilities (cell-major, cell = row·S + col, then class), then S·S·B confidences (cell, box),
  then S·S·B·4 box values (cell, box, [x, y, sqrt(w), sqrt(h)]).
- ``cells``: an (S, S, B·5+C) array, per cell [x, y, w, h, confidence] × B then the C class probabilities
  (w, h as the model gives them: square roots when sqrt is on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from explorer.core.errors import ModelInputError

LAYOUTS = ("darknet", "cells")
# The IoU above which per-class NMS drops the weaker of two boxes. The paper gives no value (section 2.4 only
# says non-maximal suppression adds 2-3% mAP); the engine and the YOLO view both use this one.
DEFAULT_NMS_IOU = 0.5


def cell_size(S: int, B: int, C: int) -> int:
    return B * 5 + C


def _check(S: int, B: int, C: int) -> None:
    if S <= 0 or B <= 0 or C <= 0:
        raise ModelInputError(f"YOLO needs positive S, B and C, not S={S}, B={B}, C={C}")


def _as_array(raw: Any) -> np.ndarray:
    if hasattr(raw, "detach"):  # a torch tensor
        raw = raw.detach().float().cpu().numpy()
    return np.asarray(raw, dtype=np.float32)


def flat_to_cells(flat: Any, S: int, B: int, C: int) -> np.ndarray:
    """darknet's flat order (one image: S·S·(B·5+C) values, or batch 1) -> (S, S, B·5+C) per-cell layout."""
    _check(S, B, C)
    v = _as_array(flat).reshape(-1)
    n = S * S * (B * 5 + C)
    if v.size != n:
        raise ModelInputError(f"a YOLO output with S={S}, B={B}, C={C} has {n} values, not {v.size}")
    probs = v[: S * S * C].reshape(S, S, C)
    conf = v[S * S * C: S * S * (C + B)].reshape(S, S, B, 1)
    boxes = v[S * S * (C + B):].reshape(S, S, B, 4)
    per_box = np.concatenate([boxes, conf], axis=3).reshape(S, S, B * 5)
    return np.concatenate([per_box, probs], axis=2)


def cells_to_flat(cells: Any, S: int, B: int, C: int) -> np.ndarray:
    """(S, S, B·5+C) per-cell layout -> darknet's flat order (S·S·(B·5+C),)."""
    _check(S, B, C)
    c = _as_array(cells)
    if c.shape != (S, S, B * 5 + C):
        raise ModelInputError(f"expected a per-cell YOLO tensor of shape ({S}, {S}, {B * 5 + C}), got {c.shape}")
    per_box = c[:, :, : B * 5].reshape(S, S, B, 5)
    return np.concatenate([c[:, :, B * 5:].reshape(-1), per_box[..., 4].reshape(-1),
                           per_box[..., :4].reshape(-1)])


def layout_description(S: int, B: int, C: int, sqrt: bool = True) -> str:
    wh = "sqrt(w), sqrt(h)" if sqrt else "w, h"
    return (f"raw[row][col] is cell (row, col) of the {S}x{S} grid (row 0 at the top); its {B * 5 + C} values are "
            f"{B} boxes of [x, y, {wh}, confidence] (values 0..{B * 5 - 1}: box b at 5b..5b+4; x, y: centre "
            f"relative to the cell, 0..1; w, h relative to the image) followed by {C} class probabilities "
            f"Pr(class|object) (values {B * 5}..{B * 5 + C - 1}). darknet's flat order: {S * S * C} class "
            f"probabilities (cell = row*{S}+col, then class), {S * S * B} confidences, {S * S * B * 4} box values.")


@dataclass
class YoloGrid:
    """One image's YOLO output, split into its parts (w, h already squared when sqrt is on)."""

    S: int
    B: int
    C: int
    xy: np.ndarray        # (S, S, B, 2) centre relative to the cell
    wh: np.ndarray        # (S, S, B, 2) size relative to the image
    conf: np.ndarray      # (S, S, B) confidence = Pr(object) × IoU
    probs: np.ndarray     # (S, S, C) Pr(class | object)
    cells: np.ndarray     # (S, S, B·5+C) the raw values in the per-cell layout
    sqrt: bool = True

    def class_scores(self) -> np.ndarray:
        """(S, S, B, C) class-specific confidence scores Pr(class|object) × confidence (paper eq. 1)."""
        return self.probs[:, :, None, :] * self.conf[:, :, :, None]

    def class_map(self) -> tuple[np.ndarray, np.ndarray]:
        """(S, S) most probable class per cell and its probability (the paper's Figure 2 class map)."""
        return self.probs.argmax(axis=2), self.probs.max(axis=2)

    def boxes(self, width: float, height: float) -> np.ndarray:
        """(S, S, B, 4) boxes x1 y1 x2 y2 in pixels of a width×height image (not clipped)."""
        S = self.S
        cols = np.arange(S, dtype=np.float64)[None, :, None]
        rows = np.arange(S, dtype=np.float64)[:, None, None]
        cx = (cols + self.xy[..., 0]) / S * width
        cy = (rows + self.xy[..., 1]) / S * height
        w = self.wh[..., 0] * width
        h = self.wh[..., 1] * height
        return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def parse(raw: Any, S: int, B: int, C: int, layout: str = "darknet", sqrt: bool = True) -> YoloGrid:
    """Read one image's output in `layout` ("darknet" flat order or "cells")."""
    if layout == "darknet":
        cells = flat_to_cells(raw, S, B, C)
    elif layout == "cells":
        _check(S, B, C)
        cells = _as_array(raw)
        if cells.size != S * S * (B * 5 + C):
            raise ModelInputError(f"a YOLO output with S={S}, B={B}, C={C} has {S * S * (B * 5 + C)} values, "
                                  f"not {cells.size}")
        cells = cells.reshape(S, S, B * 5 + C)
    else:
        raise ModelInputError(f"unknown YOLO layout '{layout}'; choose one of: {', '.join(LAYOUTS)}")
    per_box = cells[:, :, : B * 5].reshape(S, S, B, 5).astype(np.float64)
    wh = per_box[..., 2:4] ** 2 if sqrt else per_box[..., 2:4]
    return YoloGrid(S, B, C, xy=per_box[..., 0:2], wh=wh, conf=per_box[..., 4],
                    probs=cells[:, :, B * 5:].astype(np.float64), cells=cells, sqrt=sqrt)


@dataclass
class YoloDetection:
    box: tuple[float, float, float, float]   # x1 y1 x2 y2, source pixels, clipped to the image
    score: float                             # Pr(class|object) × confidence
    class_index: int
    label: str
    cell: tuple[int, int]                    # (row, col) of the cell that predicted it (holds its centre)
    box_index: int                           # which of the cell's B boxes


def detect(grid: YoloGrid, width: float, height: float, score_thresh: float = 0.2,
           nms_iou: float = DEFAULT_NMS_IOU, labels: Sequence[str] | None = None) -> list[YoloDetection]:
    """Final detections: each box takes its most probable class; keep class-specific scores ≥ score_thresh;
    non-maximum suppression per class (torchvision.ops.batched_nms); boxes clipped to the image; best first."""
    import torch
    from torchvision.ops import batched_nms, clip_boxes_to_image

    S, B = grid.S, grid.B
    scores = grid.class_scores().reshape(S * S * B, grid.C)
    best_class = scores.argmax(axis=1)
    best = scores[np.arange(scores.shape[0]), best_class]
    boxes = grid.boxes(width, height).reshape(-1, 4)
    sel = np.nonzero(best >= score_thresh)[0]
    if sel.size == 0:
        return []
    b = clip_boxes_to_image(torch.as_tensor(boxes[sel], dtype=torch.float32), (int(round(height)), int(round(width))))
    s = torch.as_tensor(best[sel], dtype=torch.float32)
    keep = batched_nms(b, s, torch.as_tensor(best_class[sel]), float(nms_iou)).numpy()
    out = []
    for k in keep:
        i = int(sel[k])
        cell, bi = divmod(i, B)
        ci = int(best_class[i])
        out.append(YoloDetection(box=tuple(float(v) for v in b[k].tolist()), score=float(best[i]), class_index=ci,
                                 label=labels[ci] if labels is not None and ci < len(labels) else str(ci),
                                 cell=divmod(cell, S), box_index=bi))
    return out


def grid_lines(S: int, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """x positions of the vertical lines and y positions of the horizontal lines: k·width/S, k = 0..S."""
    k = np.arange(S + 1, dtype=np.float64)
    return k * width / S, k * height / S


def cell_of(x: float, y: float, S: int, width: float, height: float) -> tuple[int, int] | None:
    """(row, col) of the cell holding point (x, y), None outside the image."""
    if not (0 <= x < width and 0 <= y < height):
        return None
    return int(y * S // height), int(x * S // width)


def model_layout(model: Any) -> tuple[int, int, int, str]:
    """S, B, C and layout of a YOLO model of this project."""
    try:
        return int(model.S), int(model.B), int(model.C), str(getattr(model, "layout", "darknet"))
    except AttributeError:
        raise ModelInputError(f"{type(model).__name__} is not a YOLO model (it has no S, B and C)") from None


def yolo_raw_json(raw_tensor: Any, S: int, B: int, C: int, sqrt: bool = True) -> dict[str, Any]:
    """The raw output of one image as JSON-ready data: {"raw": [S][S][B·5+C], "S", "B", "C", "layout"}.

    `raw_tensor` is darknet's flat order (batch 1 or none), as the project's YOLO models return it.
    """
    cells = flat_to_cells(raw_tensor, S, B, C)
    return {"raw": [[[float(v) for v in cells[r, c]] for c in range(S)] for r in range(S)],
            "S": S, "B": B, "C": C, "layout": layout_description(S, B, C, sqrt)}
