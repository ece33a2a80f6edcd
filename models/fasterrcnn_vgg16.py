"""Faster R-CNN with VGG-16, the paper's single-level detector, assembled from torchvision's detection parts.

Ren, He, Girshick, Sun. "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks",
NeurIPS 2015 (arXiv 1506.01497), Sections 3.1-3.2, with the settings of its reference code (py-faster-rcnn):
- backbone: VGG-16's 13 conv layers up to conv5_3 and its ReLU, without pool5: 512 channels at stride 16.
  The layers keep torchvision's vgg16 `features` indices (0..29), so ImageNet VGG-16 weights load into it.
- RPN: 9 anchors per position, areas 128², 256², 512² × aspect ratios 1:2, 1:1, 2:1; torchvision's RPNHead is
  the paper's 3×3 conv (512 channels) and two sibling 1×1 convs: box regression 4k = 36 channels and objectness
  k = 9 channels. The paper's cls layer has 2k = 18 outputs (a two-class softmax per anchor); torchvision scores
  each anchor with one logit and a sigmoid (a logistic regression, which the paper mentions as the equivalent
  alternative), so the objectness map has 9 channels.
  Proposals: NMS at IoU 0.7, 12000 → 2000 boxes in training, 6000 → 300 at test time; 256 anchors per image.
- RoI pooling 7×7 (Fast R-CNN's RoI max pooling, torchvision.ops.RoIPool) on conv5_3 at spatial scale 1/16.
- box head: VGG's fc6 and fc7 (4096 each; torchvision's TwoMLPHead, without VGG's dropout), then the sibling
  classifier (num_classes scores) and per-class box regressor (4·num_classes), 128 RoIs per image in training;
  at test time per-class NMS at IoU 0.3 (Fast R-CNN's setting).
- images rescaled so the shorter side is 600 pixels, the longer at most 1000.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

FEATURE_STRIDE = 16
ANCHOR_SIZES = (128, 256, 512)
ASPECT_RATIOS = (0.5, 1.0, 2.0)
ROI_SIZE = 7


class SingleLevelRoIPool(nn.Module):
    """Fast R-CNN's RoI max pooling on one feature map, with MultiScaleRoIAlign's forward signature.

    torchvision's RoIHeads calls `box_roi_pool(features, proposals, image_shapes)`; this pools the one level
    `featmap_name` with torchvision.ops.RoIPool at a fixed 1/stride scale. The scale is exact because
    GeneralizedRCNNTransform pads images to a multiple of 32, so the feature map is exactly 1/16 of the batch.
    """

    def __init__(self, output_size: int = ROI_SIZE, stride: int = FEATURE_STRIDE, featmap_name: str = "0") -> None:
        super().__init__()
        from torchvision.ops import RoIPool

        self.featmap_name = featmap_name
        self.roi_pool = RoIPool((output_size, output_size), spatial_scale=1.0 / stride)

    def forward(self, x: dict[str, torch.Tensor], boxes: list[torch.Tensor],
                image_shapes: list[tuple[int, int]]) -> torch.Tensor:
        return self.roi_pool(x[self.featmap_name], boxes)


def vgg16_conv5_3() -> nn.Sequential:
    """VGG-16's features up to conv5_3 + ReLU (pool5 dropped): 512 channels, stride 16."""
    from torchvision.models import vgg16

    backbone = vgg16(weights=None).features[:30]
    backbone.out_channels = 512  # FasterRCNN reads this attribute
    return backbone


def fasterrcnn_vgg16(num_classes: int = 21, **kwargs: Any) -> nn.Module:
    """Build the paper's Faster R-CNN VGG-16 (random weights); num_classes includes the background (VOC: 21).

    Extra keyword arguments go to torchvision's FasterRCNN (for instance min_size, rpn_post_nms_top_n_test)."""
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FasterRCNN, FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.rpn import RPNHead

    anchors = AnchorGenerator(sizes=(ANCHOR_SIZES,), aspect_ratios=(ASPECT_RATIOS,))
    settings: dict[str, Any] = dict(
        min_size=600, max_size=1000,
        rpn_pre_nms_top_n_train=12000, rpn_post_nms_top_n_train=2000,
        rpn_pre_nms_top_n_test=6000, rpn_post_nms_top_n_test=300,
        rpn_nms_thresh=0.7, rpn_batch_size_per_image=256,
        box_batch_size_per_image=128, box_nms_thresh=0.3,
    )
    settings.update(kwargs)
    model = FasterRCNN(
        vgg16_conv5_3(), num_classes=None,
        rpn_anchor_generator=anchors,
        rpn_head=RPNHead(512, anchors.num_anchors_per_location()[0]),
        box_head=TwoMLPHead(512 * ROI_SIZE * ROI_SIZE, 4096),
        box_predictor=FastRCNNPredictor(4096, num_classes),
        **settings,
    )
    # FasterRCNN only accepts MultiScaleRoIAlign (an isinstance check) and builds one when given None;
    # RoIHeads itself only calls it, so the paper's RoI max pooling replaces it here.
    model.roi_heads.box_roi_pool = SingleLevelRoIPool()
    return model
