"""torchvision's Faster R-CNN detectors, built as torchvision builds them for their COCO weights.

torchvision's builders switch to FrozenBatchNorm2d and 3 trainable backbone layers only when weights are
given (torchvision/models/detection/faster_rcnn.py); we build that same architecture without downloading, so
`pretrained` weights load later without a key mismatch and parameter counts match the weights' metadata.
"""

from __future__ import annotations

from torch import nn


def fasterrcnn_resnet50_fpn(num_classes: int = 91) -> nn.Module:
    from torchvision.models import resnet50
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.models.detection.faster_rcnn import FasterRCNN
    from torchvision.ops.misc import FrozenBatchNorm2d

    backbone = _resnet_fpn_extractor(resnet50(weights=None, norm_layer=FrozenBatchNorm2d), 3)
    return FasterRCNN(backbone, num_classes=num_classes)


def fasterrcnn_mobilenet_v3_large_320_fpn(num_classes: int = 91) -> nn.Module:
    from torchvision.models import mobilenet_v3_large
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.backbone_utils import _mobilenet_extractor
    from torchvision.models.detection.faster_rcnn import FasterRCNN
    from torchvision.ops.misc import FrozenBatchNorm2d

    backbone = _mobilenet_extractor(mobilenet_v3_large(weights=None, norm_layer=FrozenBatchNorm2d), True, 3)
    anchor_sizes = ((32, 64, 128, 256, 512),) * 3
    aspect_ratios = ((0.5, 1.0, 2.0),) * len(anchor_sizes)
    return FasterRCNN(backbone, num_classes, rpn_anchor_generator=AnchorGenerator(anchor_sizes, aspect_ratios),
                      min_size=320, max_size=640, rpn_score_thresh=0.05,
                      rpn_pre_nms_top_n_test=150, rpn_post_nms_top_n_test=150)


def set_input_size(model: nn.Module, size: tuple[int, int]) -> bool:
    """Make a torchvision detector resize its images for the input size (H, W) chosen by the user; False (and
    nothing changed) for a model without torchvision's GeneralizedRCNNTransform.

    Such a detector resizes every image itself (torchvision/models/detection/transform.py): the shorter side to
    `min_size`, unless the longer one would then pass `max_size`. Preprocessing to H×W would be undone there, so
    the size sets those knobs: min_size = min(H, W); max_size = max(H, W), or more where the model's own
    max_size/min_size allows more (torchvision's 1333/800), so that the model's own size gives back its own
    transform. An H×W image then passes the transform unscaled: the graph captured at H×W shows H×W, and live
    frames are resized by the same rule. A fixed-size transform (SSD's) takes H×W as it is.
    """
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    transform = getattr(model, "transform", None)
    if not isinstance(transform, GeneralizedRCNNTransform):
        return False
    h, w = (int(v) for v in size)
    if transform.fixed_size is not None:
        transform.fixed_size = (w, h)  # (width, height): _resize_image_and_masks resizes to [fixed[1], fixed[0]]
        return True
    short, long = min(h, w), max(h, w)
    ratio = float(transform.max_size) / float(transform.min_size[-1])
    transform.min_size = (short,)
    transform.max_size = max(long, int(round(short * ratio)))
    return True


def aspect_resize(model: nn.Module) -> tuple[int, int] | None:
    """resize_rule for a detector that keeps each image's aspect (shorter side, longest longer side); None for a
    fixed-size transform (SSD's: H×W as given) and for other models. What the window says a detector's size is."""
    if getattr(getattr(model, "transform", None), "fixed_size", None) is not None:
        return None
    return resize_rule(model)


def resize_rule(model: nn.Module) -> tuple[int, int] | None:
    """(shorter side, longest longer side) to which a torchvision detector resizes each image (its
    GeneralizedRCNNTransform's min_size and max_size; a fixed size (SSD's) as (H, W)); None for other models."""
    from torchvision.models.detection.transform import GeneralizedRCNNTransform

    transform = getattr(model, "transform", None)
    if not isinstance(transform, GeneralizedRCNNTransform):
        return None
    if transform.fixed_size is not None:
        return int(transform.fixed_size[1]), int(transform.fixed_size[0])
    return int(transform.min_size[-1]), int(transform.max_size)
