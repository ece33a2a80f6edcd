"""One convolutional pass over the whole image: the shared feature map of SPPNet and Fast R-CNN.

SPPNet (He et al. ECCV 2014) and Fast R-CNN (Girshick ICCV 2015) run the convolutional layers once per image
at stride 16 (ZF-5 / VGG-16 conv5) and pool each region from that map. We use torchvision's VGG-16 up to
conv5_3 + ReLU (the last max pool dropped, as both papers do: stride 16) or AlexNet up to conv5 + ReLU
(stride 16 too: 4·2·2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.errors import ModelInputError

if TYPE_CHECKING:
    import torch
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# backbone name -> (zoo model, number of `features` modules kept, stride, description)
BACKBONES: dict[str, tuple[str, int, int, str]] = {
    "vgg16": ("vgg16", 30, 16, "VGG-16 conv5_3 (stride 16)"),
    "alexnet": ("alexnet", 12, 16, "AlexNet conv5 (stride 16)"),
}


@dataclass
class FeatureMap:
    """Features (C, h, w) of one image (H, W) at `stride` input pixels per feature cell."""

    features: "torch.Tensor"
    stride: int
    image_size: tuple[int, int]
    backbone: str
    weights: str              # "random" or the weights the current model was loaded with

    @property
    def channels(self) -> int:
        return int(self.features.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.features.shape[1]), int(self.features.shape[2])

    @property
    def spatial_scale(self) -> float:
        return 1.0 / self.stride


def to_tensor(image: np.ndarray) -> "torch.Tensor":
    """RGB uint8 (H, W, 3) -> normalised float (1, 3, H, W) (ImageNet mean and std)."""
    import torch
    if image.ndim != 3 or image.shape[2] != 3:
        raise ModelInputError(f"expected an RGB image of shape (H, W, 3), got {tuple(image.shape)}.")
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def trunk(backbone: str, model: "nn.Module | None" = None) -> "nn.Module":
    """The convolutional trunk of `backbone`, taken from `model` (same architecture) or built with random weights."""
    from torch import nn

    from explorer.core import zoo
    if backbone not in BACKBONES:
        raise ModelInputError(f"unknown backbone '{backbone}'; choose one of: {', '.join(BACKBONES)}.")
    name, keep, _stride, _ = BACKBONES[backbone]
    model = model if model is not None else zoo.build(name)
    return nn.Sequential(*list(model.features.children())[:keep]).eval()


def conv_features(image: np.ndarray, backbone: str = "vgg16", model: "nn.Module | None" = None,
                  weights: str = "random") -> FeatureMap:
    """Run the trunk once over the whole image (call this in a worker thread)."""
    import torch
    net = trunk(backbone, model)
    h, w = image.shape[:2]
    if min(h, w) < 32:
        raise ModelInputError(f"the image ({w}×{h}) is too small for a stride-16 feature map; use at least 32×32.")
    device = next(net.parameters()).device
    with torch.inference_mode():
        feats = net(to_tensor(image).to(device))[0].cpu()
    return FeatureMap(feats, BACKBONES[backbone][2], (h, w), backbone, weights)


def model_backbone(model_name: str) -> str | None:
    """The backbone name usable with the current model's own weights, if it has one."""
    return model_name if model_name in BACKBONES else None


def describe(backbone: str) -> str:
    return BACKBONES[backbone][3]


