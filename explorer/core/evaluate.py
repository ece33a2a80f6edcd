"""mAP@0.5 of the project's detectors on fresh synthetic scenes, PASCAL VOC style.

Everingham et al., The PASCAL Visual Object Classes (VOC) Challenge, IJCV 2010, and the VOC2010+ devkit
(`VOCevaldet`, all-point interpolation): per class, detections of all images are ranked by score; a detection is
a true positive if its IoU with a not-yet-matched ground-truth box of its class exceeds 0.5, otherwise a false
positive (duplicates included); AP is the area under the precision envelope (precision made monotonically
decreasing) over recall. mAP is the mean AP over the classes that have ground truth. IoU is torchvision.ops.box_iou
on continuous pixel coordinates (no VOC "+1" pixel convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torchvision.ops import box_iou

from explorer.core.errors import UnknownModelError
from explorer.core.scenes import SCENE_SIZE, SHAPE_CLASSES, make_scenes

DETECTORS = ("yolov1-tiny", "fasterrcnn-tiny")


@dataclass
class ImageDetections:
    boxes: torch.Tensor   # (K, 4) x1, y1, x2, y2 pixels
    scores: torch.Tensor  # (K,)
    labels: torch.Tensor  # (K,) indices into SHAPE_CLASSES (no background)


@dataclass
class EvalResult:
    model: str
    scenes: int
    seed: int
    map50: float
    per_class: dict[str, float] = field(default_factory=dict)
    weights: str = ""

    def to_json(self) -> dict:
        return {"model": self.model, "scenes": self.scenes, "seed": self.seed, "map50": self.map50,
                "per_class": dict(self.per_class), "weights": self.weights}


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """All-point interpolated AP (VOC2010+ devkit): area under the monotone precision envelope."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def class_ap(detections: list[ImageDetections], gt_boxes: list[torch.Tensor], gt_labels: list[torch.Tensor],
             cls: int, iou_thresh: float = 0.5) -> float | None:
    """AP of class `cls` over all images; None if the class has no ground truth."""
    n_gt = sum(int((lab == cls).sum()) for lab in gt_labels)
    if n_gt == 0:
        return None
    entries = []  # (score, image index, box)
    for i, det in enumerate(detections):
        keep = det.labels == cls
        for s, b in zip(det.scores[keep].tolist(), det.boxes[keep]):
            entries.append((s, i, b))
    entries.sort(key=lambda e: -e[0])  # stable: equal scores keep image order
    matched = [torch.zeros(int((lab == cls).sum()), dtype=torch.bool) for lab in gt_labels]
    tp = np.zeros(len(entries))
    for k, (_, i, box) in enumerate(entries):
        gts = gt_boxes[i][gt_labels[i] == cls]
        if len(gts) == 0:
            continue
        ious = box_iou(box[None].float(), gts.float())[0]
        best = int(ious.argmax())
        if float(ious[best]) > iou_thresh and not matched[i][best]:
            tp[k] = 1
            matched[i][best] = True
    fp = 1 - tp
    tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
    recall = tp_c / n_gt
    precision = tp_c / np.maximum(tp_c + fp_c, np.finfo(np.float64).eps)
    return voc_ap(recall, precision)


def mean_ap(detections: list[ImageDetections], gt_boxes: list[torch.Tensor], gt_labels: list[torch.Tensor],
            num_classes: int = len(SHAPE_CLASSES), iou_thresh: float = 0.5) -> tuple[float, dict[int, float]]:
    """(mAP, {class: AP}) over the classes that have ground truth."""
    aps = {}
    for c in range(num_classes):
        ap = class_ap(detections, gt_boxes, gt_labels, c, iou_thresh)
        if ap is not None:
            aps[c] = ap
    return (float(np.mean(list(aps.values()))) if aps else 0.0), aps


def load_detector(name: str, weights: str = "bundled", device: str = "cpu") -> torch.nn.Module:
    """Build `name` from the zoo and load `weights` ("bundled", "random", a state_dict or a training checkpoint)."""
    from explorer.core import zoo

    if name not in DETECTORS:
        raise UnknownModelError(f"cannot evaluate '{name}' on shape scenes; choose one of: {', '.join(DETECTORS)}")
    from explorer.core.weights import load_weights

    entry = zoo.get(name)
    model = zoo.build(name)
    load_weights(model, entry, weights)  # strict, weights_only=True; training checkpoints are unwrapped
    return model.to(device).eval()


@torch.inference_mode()
def predict(name: str, model: torch.nn.Module, images: torch.Tensor, batch_size: int = 16
            ) -> list[ImageDetections]:
    """Detections for uint8 images (N, 3, H, W), labels as indices into SHAPE_CLASSES."""
    device = next(model.parameters()).device
    out: list[ImageDetections] = []
    for b0 in range(0, len(images), batch_size):
        x = images[b0:b0 + batch_size].to(device, torch.float32) / 255.0
        if name == "yolov1-tiny":
            from explorer.core.yolo import detect, parse
            for raw in model(x).cpu():
                found = detect(parse(raw, model.S, model.B, model.C, model.layout), x.shape[-1], x.shape[-2],
                               score_thresh=0.01)  # a low threshold: AP ranks the whole list
                out.append(ImageDetections(
                    torch.tensor([d.box for d in found], dtype=torch.float32).reshape(-1, 4),
                    torch.tensor([d.score for d in found], dtype=torch.float32),
                    torch.tensor([d.class_index for d in found], dtype=torch.int64)))
        else:
            for d in model(list(x.unbind(0))):
                out.append(ImageDetections(d["boxes"].cpu(), d["scores"].cpu(), d["labels"].cpu() - 1))
    return out


def evaluate(name: str, weights: str = "bundled", scenes: int = 200, seed: int = 1, device: str = "cpu",
             model: torch.nn.Module | None = None) -> EvalResult:
    """mAP@0.5 of detector `name` on `scenes` fresh scenes of the set `seed` (training uses set 0)."""
    if model is None:
        model = load_detector(name, weights, device)
    scene_list = make_scenes(scenes, seed, SCENE_SIZE)
    images = torch.from_numpy(np.stack([s.image for s in scene_list])).permute(0, 3, 1, 2)
    dets = predict(name, model, images)
    m, aps = mean_ap(dets, [torch.from_numpy(s.boxes) for s in scene_list],
                     [torch.from_numpy(s.labels) for s in scene_list])
    return EvalResult(name, scenes, seed, m, {SHAPE_CLASSES[c]: ap for c, ap in aps.items()}, weights)
