"""A probe on a torchvision Faster R-CNN's Region Proposal Network: objectness, deltas, anchors and proposals.

Ren et al., Faster R-CNN, NeurIPS 2015, section 3.1: on the backbone's feature map a 3×3 conv, then two sibling
1×1 convs: `cls` scores k anchors per position (the paper: 2k softmax scores; torchvision's RPNHead: k sigmoid
logits) and `reg` regresses 4k deltas. torchvision runs the head on every FPN level (one anchor size × 3
ratios per level); the paper's VGG-16 detector has one level with 9 anchors.

Forward hooks sit on `model.transform` (the resize that the model applies itself), `model.rpn.head`,
`model.rpn.head.conv` and `model.rpn.anchor_generator`; nothing else is hooked. Proposals are rebuilt from the
collected objectness and deltas exactly as torchvision's RegionProposalNetwork.filter_proposals does (top-N
per level, decode, clip, drop tiny boxes, score threshold, NMS per level, keep the best post-NMS N), so the
view can change N, the NMS IoU and the score threshold without running the model again.

Coordinates: everything is kept in the model's transformed-image pixels ("model pixels"); `to_source`
maps boxes back to the source frame's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.core.errors import ExplorerError, ModelInputError


class NoRPNError(ExplorerError):
    """The model has no region proposal network to probe."""


@dataclass
class RPNLevel:
    """One feature level as the RPN head saw it."""

    index: int
    feature_size: tuple[int, int]          # (H, W) of the feature map
    stride: tuple[int, int]                # (sy, sx) model pixels per feature cell (torchvision: padded // grid)
    sizes: tuple[float, ...]               # anchor sizes of this level
    ratios: tuple[float, ...]              # anchor ratios h/w of this level
    objectness: np.ndarray                 # (A, H, W) logits of the cls conv
    conv_shape: tuple[int, ...]            # (C, H, W) of the 3×3 conv output
    cls_shape: tuple[int, ...]             # (A, H, W) (k channels; the paper's softmax would have 2k)
    reg_shape: tuple[int, ...]             # (4A, H, W)
    first_anchor: int = 0                  # offset of this level in RPNOutput.anchors

    @property
    def num_anchors(self) -> int:
        return int(self.objectness.shape[0])

    @property
    def count(self) -> int:
        return int(np.prod(self.objectness.shape))

    def probability(self) -> np.ndarray:
        """(A, H, W) objectness probabilities (sigmoid of the logits, as torchvision's RPN)."""
        return 1.0 / (1.0 + np.exp(-self.objectness.astype(np.float64)))

    def shape_label(self, a: int) -> str:
        size = self.sizes[a % len(self.sizes)] if self.sizes else 0
        ratio = self.ratios[a // len(self.sizes)] if self.sizes else 0
        return f"{size:g}px, h:w {_ratio_text(ratio)}"


def _ratio_text(ratio: float) -> str:
    return {0.5: "1:2", 1.0: "1:1", 2.0: "2:1"}.get(float(ratio), f"{ratio:g}")


@dataclass
class Proposals:
    """Top-N anchors with their deltas applied, before and after NMS (model pixels)."""

    anchors: np.ndarray                    # (N, 4) the chosen anchors
    boxes: np.ndarray                      # (N, 4) their proposals (decoded, clipped)
    scores: np.ndarray                     # (N,) objectness probabilities
    levels: np.ndarray                     # (N,) feature level of each
    anchor_index: np.ndarray               # (N,) index into RPNOutput.anchors
    keep: np.ndarray                       # indices into the N that survive the threshold, NMS and post-NMS N
    pre_nms_top_n: int
    post_nms_top_n: int
    nms_iou: float
    score_thresh: float

    @property
    def after_boxes(self) -> np.ndarray:
        return self.boxes[self.keep]

    @property
    def after_scores(self) -> np.ndarray:
        return self.scores[self.keep]


@dataclass
class RPNOutput:
    levels: list[RPNLevel]
    anchors: np.ndarray                    # (sum H·W·A, 4) every anchor, level by level, y, x, anchor
    deltas: np.ndarray                     # (sum H·W·A, 4) the reg conv's (dx, dy, dw, dh), same order
    image_size: tuple[int, int]            # (H, W) after the model's transform (resize), before padding
    padded_size: tuple[int, int]           # (H, W) of the batched tensor the backbone saw
    input_size: tuple[int, int]            # (H, W) of the tensor given to the model
    scale: tuple[float, float]             # (sx, sy) model pixels per source pixel
    offset: tuple[float, float] = (0.0, 0.0)  # (x, y) in model pixels: model = source·scale − offset
    proposals: Proposals | None = None
    defaults: dict[str, Any] = field(default_factory=dict)   # the model's own pre/post N, NMS IoU, score threshold
    model_boxes: np.ndarray | None = None  # the RPN's own output proposals (model pixels), for comparison

    @property
    def objectness(self) -> np.ndarray:
        """(sum H·W·A,) logits in the order of `anchors`."""
        return np.concatenate([lv.objectness.transpose(1, 2, 0).reshape(-1) for lv in self.levels])

    def to_source(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes in model pixels -> source-frame pixels."""
        sx, sy = self.scale
        ox, oy = self.offset
        return (np.asarray(boxes, dtype=np.float64) + np.array([ox, oy, ox, oy])) / np.array([sx, sy, sx, sy])

    def to_model(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) source-frame points -> model pixels."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return p * np.array(self.scale) - np.array(self.offset)

    def select(self, pre_nms_top_n: int | None = None, post_nms_top_n: int | None = None,
               nms_iou: float | None = None, score_thresh: float | None = None) -> Proposals:
        return select_proposals(self, pre_nms_top_n, post_nms_top_n, nms_iou, score_thresh)

    def head_shapes(self) -> list[dict[str, Any]]:
        """The RPN head's tensor shapes per level, for the tensor panel."""
        return [dict(level=lv.index, feature=lv.feature_size, stride=lv.stride, conv=lv.conv_shape,
                     cls=lv.cls_shape, reg=lv.reg_shape, anchors=lv.count) for lv in self.levels]


def select_proposals(out: RPNOutput, pre_nms_top_n: int | None = None, post_nms_top_n: int | None = None,
                     nms_iou: float | None = None, score_thresh: float | None = None,
                     min_size: float | None = None) -> Proposals:
    """torchvision's filter_proposals on the collected outputs (defaults: the model's own test settings)."""
    import torch
    from torchvision.ops import boxes as box_ops

    from explorer.core.anchors import decode

    d = out.defaults
    pre = int(pre_nms_top_n if pre_nms_top_n is not None else d.get("pre_nms_top_n", 1000))
    post = int(post_nms_top_n if post_nms_top_n is not None else d.get("post_nms_top_n", 1000))
    iou = float(nms_iou if nms_iou is not None else d.get("nms_iou", 0.7))
    thresh = float(score_thresh if score_thresh is not None else d.get("score_thresh", 0.0))
    min_size = float(min_size if min_size is not None else d.get("min_size", 1e-3))

    logits = torch.from_numpy(out.objectness.astype(np.float32))
    chosen, lvl_of = [], []
    for lv in out.levels:
        n = lv.count
        ob = logits[lv.first_anchor:lv.first_anchor + n]
        k = min(pre, n)
        idx = ob.topk(k).indices + lv.first_anchor
        chosen.append(idx)
        lvl_of.append(torch.full((k,), lv.index, dtype=torch.int64))
    idx = torch.cat(chosen) if chosen else torch.zeros(0, dtype=torch.int64)
    levels = torch.cat(lvl_of) if lvl_of else torch.zeros(0, dtype=torch.int64)
    anchors = torch.from_numpy(out.anchors.astype(np.float32))[idx]
    deltas = torch.from_numpy(out.deltas.astype(np.float32))[idx]
    boxes = decode(deltas, anchors)
    boxes = box_ops.clip_boxes_to_image(boxes, out.image_size)
    scores = torch.sigmoid(logits[idx])

    keep = box_ops.remove_small_boxes(boxes, min_size)
    keep = keep[scores[keep] >= thresh]
    order = box_ops.batched_nms(boxes[keep], scores[keep], levels[keep], iou)
    keep = keep[order][:post]
    return Proposals(anchors=anchors.numpy(), boxes=boxes.numpy(), scores=scores.numpy(), levels=levels.numpy(),
                     anchor_index=idx.numpy(), keep=keep.numpy(), pre_nms_top_n=pre, post_nms_top_n=post,
                     nms_iou=iou, score_thresh=thresh)


def has_rpn(model: Any) -> bool:
    """Whether `model` is a torchvision GeneralizedRCNN-style detector with an RPN to probe."""
    rpn = getattr(model, "rpn", None)
    return rpn is not None and hasattr(rpn, "head") and hasattr(rpn, "anchor_generator")


class RPNProbe:
    """Engine probe: hooks a GeneralizedRCNN's transform and RPN; collect() returns an RPNOutput."""

    def __init__(self, name: str = "rpn", pre_nms_top_n: int | None = None, post_nms_top_n: int | None = None,
                 nms_iou: float | None = None, score_thresh: float | None = None) -> None:
        self.name = name
        self.pre_nms_top_n, self.post_nms_top_n = pre_nms_top_n, post_nms_top_n
        self.nms_iou, self.score_thresh = nms_iou, score_thresh
        self._handles: list[Any] = []
        self._model: Any = None
        self._reset()

    def _reset(self) -> None:
        self._transform: tuple | None = None
        self._head: tuple | None = None
        self._conv_shapes: list[tuple[int, ...]] = []
        self._anchors: Any = None
        self._rpn_boxes: Any = None

    # -- hooks -----------------------------------------------------------------------------------------------
    def attach(self, model: Any) -> None:
        self.detach()
        self._model = None
        if not has_rpn(model):
            return  # stays inert: the engine may keep this probe across a change to a model without an RPN
        self._model = model
        rpn = model.rpn
        if hasattr(model, "transform"):
            self._handles.append(model.transform.register_forward_hook(self._on_transform))
        self._handles.append(rpn.head.register_forward_hook(self._on_head))
        if hasattr(rpn.head, "conv"):
            self._handles.append(rpn.head.conv.register_forward_hook(self._on_conv))
        self._handles.append(rpn.anchor_generator.register_forward_hook(self._on_anchors))
        self._handles.append(rpn.register_forward_hook(self._on_rpn))

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _on_transform(self, module, inputs, output) -> None:
        self._reset()  # a new forward pass starts here
        images = inputs[0]
        image_list = output[0]
        self._transform = (tuple(images[0].shape[-2:]), tuple(int(v) for v in image_list.image_sizes[0]),
                           tuple(image_list.tensors.shape[-2:]))

    def _on_conv(self, module, inputs, output) -> None:
        self._conv_shapes.append(tuple(output.shape[1:]))

    def _on_head(self, module, inputs, output) -> None:
        logits, deltas = output
        self._head = ([t[0].detach().float().cpu() for t in logits], [t[0].detach().float().cpu() for t in deltas])

    def _on_anchors(self, module, inputs, output) -> None:
        self._anchors = output[0].detach().float().cpu()
        if self._transform is None:  # the model was called without its transform (e.g. the RPN alone)
            image_list = inputs[0]
            size = tuple(int(v) for v in image_list.image_sizes[0])
            self._transform = (size, size, tuple(image_list.tensors.shape[-2:]))

    def _on_rpn(self, module, inputs, output) -> None:
        self._rpn_boxes = output[0][0].detach().float().cpu()

    # -- results ---------------------------------------------------------------------------------------------
    def collect(self, ctx: Any = None) -> RPNOutput | None:
        """What the RPN did on the last forward pass; None when the model has no RPN or it did not run."""
        if self._model is None or self._head is None or self._anchors is None or self._transform is None:
            return None
        model = self._model
        rpn = model.rpn
        ag = rpn.anchor_generator
        in_size, image_size, padded = self._transform
        logits, deltas = self._head
        levels: list[RPNLevel] = []
        offset = 0
        delta_rows = []
        for i, (lg, dl) in enumerate(zip(logits, deltas)):
            a, h, w = lg.shape
            sizes = tuple(float(s) for s in ag.sizes[i]) if i < len(ag.sizes) else ()
            ratios = tuple(float(r) for r in ag.aspect_ratios[i]) if i < len(ag.aspect_ratios) else ()
            conv = self._conv_shapes[i] if i < len(self._conv_shapes) else tuple(dl.shape)
            levels.append(RPNLevel(index=i, feature_size=(h, w), stride=(padded[0] // h, padded[1] // w),
                                   sizes=sizes, ratios=ratios, objectness=lg.numpy().copy(), conv_shape=conv,
                                   cls_shape=tuple(lg.shape), reg_shape=tuple(dl.shape), first_anchor=offset))
            # (4A, H, W) -> (H, W, A, 4), the anchors' order (torchvision's permute_and_flatten)
            delta_rows.append(dl.view(a, 4, h, w).permute(2, 3, 0, 1).reshape(-1, 4).numpy())
            offset += a * h * w
        anchors = self._anchors.numpy().copy()
        if anchors.shape[0] != offset:
            raise ModelInputError("the RPN's anchors do not match its head's outputs")
        # model pixels per source pixel: the engine's preprocessing scale times the model's own resize
        # (input = source·scale − offset, then the model's resize by t: model = input·t)
        sx0, sy0 = (getattr(ctx, "scale", None) or (1.0, 1.0)) if ctx is not None else (1.0, 1.0)
        ox0, oy0 = (getattr(ctx, "offset", None) or (0.0, 0.0)) if ctx is not None else (0.0, 0.0)
        tx, ty = image_size[1] / in_size[1], image_size[0] / in_size[0]
        scale = (sx0 * tx, sy0 * ty)
        crop = (ox0 * tx, oy0 * ty)
        pre = rpn._pre_nms_top_n.get("testing", 1000) if isinstance(rpn._pre_nms_top_n, dict) else 1000
        post = rpn._post_nms_top_n.get("testing", 1000) if isinstance(rpn._post_nms_top_n, dict) else 1000
        defaults = dict(pre_nms_top_n=int(pre), post_nms_top_n=int(post), nms_iou=float(rpn.nms_thresh),
                        score_thresh=float(rpn.score_thresh), min_size=float(rpn.min_size))
        out = RPNOutput(levels=levels, anchors=anchors, deltas=np.concatenate(delta_rows), image_size=image_size,
                        padded_size=padded, input_size=in_size, scale=scale, offset=crop, defaults=defaults,
                        model_boxes=None if self._rpn_boxes is None else self._rpn_boxes.numpy().copy())
        out.proposals = select_proposals(out, self.pre_nms_top_n, self.post_nms_top_n, self.nms_iou,
                                         self.score_thresh)
        return out


def run_rpn(model: Any, image: Any, **params: Any) -> RPNOutput:
    """Run a GeneralizedRCNN on one (3, H, W) float image in [0, 1] and return what its RPN did."""
    import torch

    if not has_rpn(model):
        raise NoRPNError(f"{type(model).__name__} has no region proposal network (model.rpn) to show")
    image = torch.as_tensor(image)
    if image.ndim != 3 or image.shape[0] != 3:
        raise ModelInputError(f"expected one RGB image tensor (3, H, W), got shape {tuple(image.shape)}")
    probe = RPNProbe(**params)
    probe.attach(model)
    try:
        with torch.inference_mode():
            model([image])
        out = probe.collect(None)
        if out is None:
            raise ModelInputError("the region proposal network did not run on this image")
        return out
    finally:
        probe.detach()


def level_anchor_set(out: RPNOutput, level: int = 0):
    """One level of a model's RPN as an anchors.AnchorSet in source-frame pixels (with its objectness)."""
    from explorer.core.anchors import AnchorSet

    lv = out.levels[level]
    anchors = out.anchors[lv.first_anchor:lv.first_anchor + lv.count]
    k = lv.num_anchors
    boxes = out.to_source(anchors)
    centres = (boxes[::k, :2] + boxes[::k, 2:]) / 2  # every anchor of a position shares its centre
    sizes, ratios = lv.sizes, lv.ratios
    if len(sizes) * len(ratios) != k:  # a head that does not say its shapes: number them
        sizes, ratios = tuple(float(i) for i in range(k)), (1.0,)
    return AnchorSet(feature_size=lv.feature_size, sizes=sizes, ratios=ratios, anchors=boxes, centres=centres,
                     scale=out.scale, level=level, objectness=lv.probability())


def model_anchor_shapes(model: Any) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """(sizes, ratios) per feature level as the model's AnchorGenerator is configured: what its RPN's anchors
    will be before any image has run (the view names them from the start, never the paper's defaults)."""
    if not has_rpn(model):
        raise NoRPNError(f"{type(model).__name__} has no region proposal network (model.rpn) to show")
    ag = model.rpn.anchor_generator
    return [(tuple(float(s) for s in sizes), tuple(float(r) for r in ratios))
            for sizes, ratios in zip(ag.sizes, ag.aspect_ratios)]


@dataclass
class LevelMap:
    """One value per feature cell of a level, laid over the image it was computed on.

    Cell (i, j) of a stride-s level covers model pixels [j·s, (j+1)·s) × [i·s, (i+1)·s): the part of the input
    the feature stands for. torchvision's AnchorGenerator centres that cell's anchors at its top-left corner
    (shifts = arange(W)·stride, not (j + ½)·stride), so the anchors' centres are the cells' corners. The map is
    cropped to the resized image: the padding the batch added right and below is not drawn."""

    values: np.ndarray                                # (h, w): one value per model pixel of the resized image
    rect: tuple[float, float, float, float]           # x, y, width, height of `values` in source pixels
    cells: tuple[int, int]                            # (rows, columns) of cells that reach into the image

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.values.shape[0]), int(self.values.shape[1])


def level_map(out: RPNOutput, level: int, values: np.ndarray) -> LevelMap:
    """`values` (H, W), one per cell of `level` (an objectness map), as a LevelMap over the source image."""
    lv = out.levels[level]
    values = np.asarray(values)
    if values.shape != tuple(lv.feature_size):
        raise ModelInputError(f"a map of level {level} is {lv.feature_size[0]}×{lv.feature_size[1]}, "
                              f"not {'×'.join(map(str, values.shape))}")
    sy, sx = lv.stride
    h, w = out.image_size
    rows = np.minimum(np.arange(h) // sy, lv.feature_size[0] - 1)   # the cell of each model pixel
    cols = np.minimum(np.arange(w) // sx, lv.feature_size[1] - 1)
    x1, y1, x2, y2 = out.to_source([[0.0, 0.0, float(w), float(h)]])[0]
    return LevelMap(values=values[rows][:, cols], rect=(float(x1), float(y1), float(x2 - x1), float(y2 - y1)),
                    cells=(int(rows[-1]) + 1, int(cols[-1]) + 1))
