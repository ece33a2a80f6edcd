"""fasterrcnn-tiny: a small single-level Faster R-CNN for the project's synthetic shape scenes.

Ren, He, Girshick, Sun. Faster R-CNN: Towards Real-Time Object Detection with Region Proposal Networks.
NeurIPS 2015. As in the paper: one feature map at stride 16, an RPN with 9 anchors per position (3 sizes × the
ratios 1:2, 1:1, 2:1), RoI pooling to 7×7 and two fully connected layers before the classifier and box regressor.
Differences (to train on a 2-core CPU in minutes, with no pretrained weights offline): a 6-conv backbone with
batch norm instead of VGG-16, anchor sizes scaled to the 224-pixel scenes ((32, 64, 128) instead of
(128, 256, 512) for ~600-pixel images), and fewer sampled RoIs. Built from torchvision's FasterRCNN,
AnchorGenerator and TwoMLPHead.
"""

from __future__ import annotations

from torch import Tensor, nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign, roi_pool

INPUT_SIZE = 224
ANCHOR_SIZES = (32, 64, 128)
ASPECT_RATIOS = (0.5, 1.0, 2.0)


def _conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SingleLevelRoIPool(MultiScaleRoIAlign):
    """The paper's RoI max pooling (Fast R-CNN, Girshick 2015) on the single stride-16 map.

    A MultiScaleRoIAlign subclass only because torchvision's FasterRCNN type-checks `box_roi_pool`; forward is
    plain torchvision.ops.roi_pool (also much faster to train on a CPU than RoIAlign's backward)."""

    def __init__(self, output_size: int = 7, spatial_scale: float = 1 / 16, featmap_name: str = "0") -> None:
        super().__init__([featmap_name], output_size, sampling_ratio=0)
        self.output_size, self.spatial_scale, self.featmap_name = output_size, spatial_scale, featmap_name

    def forward(self, features: dict[str, Tensor], proposals: list[Tensor], image_shapes: list) -> Tensor:
        return roi_pool(features[self.featmap_name], proposals, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class TinyBackbone(nn.Sequential):
    """Six 3×3 conv+BN+ReLU layers, four of them with stride 2: stride 16, `out_channels` channels."""

    def __init__(self, width: int = 16, out_channels: int = 96) -> None:
        w = width
        super().__init__(
            *_conv(3, w, 2),                 # /2
            *_conv(w, 2 * w, 2),             # /4
            *_conv(2 * w, 4 * w, 2),         # /8
            *_conv(4 * w, 4 * w),
            *_conv(4 * w, out_channels, 2),  # /16
            *_conv(out_channels, out_channels),
        )
        self.out_channels = out_channels


def fasterrcnn_tiny(num_classes: int = 5, width: int = 16, out_channels: int = 96,
                    representation_size: int = 256, image_size: int = INPUT_SIZE,
                    class_names: tuple[str, ...] | list[str] = ()) -> FasterRCNN:
    """Faster R-CNN with TinyBackbone. num_classes includes the background: by default the synthetic scenes'
    four shape classes + 1; the zoo passes their names (`class_names`, background not included) so that this
    module needs nothing from the app."""
    if class_names:
        num_classes = len(class_names) + 1
    backbone = TinyBackbone(width, out_channels)
    anchors = AnchorGenerator(sizes=(ANCHOR_SIZES,), aspect_ratios=(ASPECT_RATIOS,))
    box_head = TwoMLPHead(out_channels * 7 * 7, representation_size)
    return FasterRCNN(
        backbone,
        num_classes=None,  # given by the box predictor below
        min_size=image_size, max_size=image_size,   # no upscaling to 800: the scenes are already the right size
        rpn_anchor_generator=anchors,
        box_roi_pool=SingleLevelRoIPool(7, 1 / 16),
        box_head=box_head,
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
        rpn_batch_size_per_image=128,
        box_batch_size_per_image=64,
        box_detections_per_img=50,
        box_score_thresh=0.05,
    )
