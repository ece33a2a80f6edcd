"""A two-stage detector's RoI heads run once per proposal: for a graph capture, fix that count.

torchvision's Faster R-CNN keeps up to `rpn.post_nms_top_n()` proposals per image after NMS (1000 for
fasterrcnn_resnet50_fpn at test time); how many survive depends on the weights and the image, and the RoI
heads' multiply-accumulates follow (14.4 M per proposal for fasterrcnn_resnet50_fpn). `explorer.core.capture`
records the graph at the stated count, the model's own maximum, and `ModelGraph.proposals` says which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from torch import nn


def fix_proposals(model: "nn.Module") -> tuple[int | None, Callable[[], None]]:
    """Make a torchvision-style two-stage detector keep exactly its own test-time proposal count
    (`rpn.post_nms_top_n()`, e.g. 1000 for fasterrcnn_resnet50_fpn) for the capture pass; returns that count
    (None for other models) and a function that undoes it.

    The RoI heads cost MACs per proposal (fasterrcnn_resnet50_fpn: 14.4 M each), and how many proposals
    survive NMS depends on the weights and the image: builds with different weights differed by 9% in total
    MACs. So the pass is measured at the stated count, the most the model runs at: fewer survivors are padded
    by repeating them (the whole image when none survive), more are cut. torchvision's `_ops` of
    fasterrcnn_resnet50_fpn, 134.38 G, is this capture's total at 800×800 and 1000 proposals; its 0.719 G for
    fasterrcnn_mobilenet_v3_large_320_fpn is the backbone and RPN alone, no RoI heads (tests/test_capture.py).
    """
    import torch

    rpn = getattr(model, "rpn", None)
    filter_proposals = getattr(rpn, "filter_proposals", None)
    if rpn is None or not callable(filter_proposals) or not callable(getattr(rpn, "post_nms_top_n", None)):
        return None, lambda: None
    was_training = rpn.training
    rpn.eval()
    count = int(rpn.post_nms_top_n())
    rpn.train(was_training)

    def fixed(proposals: Any, objectness: Any, image_shapes: Any, *args: Any, **kwargs: Any) -> Any:
        boxes, scores = filter_proposals(proposals, objectness, image_shapes, *args, **kwargs)
        out_boxes, out_scores = [], []
        for b, sc, (h, w) in zip(boxes, scores, image_shapes):
            if len(b) == 0:
                b = torch.tensor([[0.0, 0.0, float(w), float(h)]], device=proposals.device, dtype=proposals.dtype)
                sc = torch.zeros(1, device=proposals.device, dtype=proposals.dtype)
            index = torch.arange(count, device=b.device) % len(b)
            out_boxes.append(b[index])
            out_scores.append(sc[index])
        return out_boxes, out_scores

    own = rpn.__dict__.get("filter_proposals")  # an instance attribute to put back, if there was one
    rpn.filter_proposals = fixed

    def restore() -> None:
        if own is None:
            del rpn.filter_proposals
        else:
            rpn.filter_proposals = own

    return count, restore
