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
