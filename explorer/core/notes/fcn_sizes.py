"""FCN: a fully convolutional network runs at any input size; its output map follows the input size.

Long, Shelhamer, Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015: the classifier's
dense layers become convolutions, so the net takes any input and gives a coarse class map that is upsampled
back to the input's resolution. torchvision's fcn_resnet50 (torchvision/models/segmentation/fcn.py) uses a
ResNet-50 whose layer3 and layer4 are dilated instead of strided (replace_stride_with_dilation=[False, True,
True]), so its output stride is 8: conv1 (7×7, s2, p3), max pool (3×3, s2, p1) and layer2's 3×3 s2 p1 conv each
give ⌈n/2⌉, hence out = ⌈⌈⌈in/2⌉/2⌉/2⌉ = ⌈in/8⌉. The head keeps that size; F.interpolate (bilinear) then
resizes the logits to the input size.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.core.errors import ModelInputError
from explorer.core.labels import voc_palette

if TYPE_CHECKING:
    from torch import nn

# the stride-2 layers of fcn_resnet50's backbone, as (kernel, stride, padding)
FCN_RESNET50_DOWNSAMPLING: list[tuple[str, int, int, int]] = [
    ("conv1", 7, 2, 3),
    ("maxpool", 3, 2, 1),
    ("layer2.0.conv2", 3, 2, 1),
]
FCN_RESNET50_STRIDE = 8


def conv_out(n: int, k: int, s: int, p: int, dilation: int = 1) -> int:
    """PyTorch's output size of a convolution or pooling: ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1."""
    return (n + 2 * p - dilation * (k - 1) - 1) // s + 1


def fcn_output_size(size: tuple[int, int]) -> tuple[int, int]:
    """Size (h, w) of fcn_resnet50's class map before upsampling, from the layer formulas."""
    out = []
    for n in size:
        for _name, k, s, p in FCN_RESNET50_DOWNSAMPLING:
            n = conv_out(n, k, s, p)
        out.append(n)
    return out[0], out[1]


def fcn_output_size_closed_form(size: tuple[int, int]) -> tuple[int, int]:
    """The same as a closed form: ⌈in/8⌉."""
    return math.ceil(size[0] / FCN_RESNET50_STRIDE), math.ceil(size[1] / FCN_RESNET50_STRIDE)


@dataclass
class FcnRun:
    input_size: tuple[int, int]        # (H, W) fed to the model
    coarse_size: tuple[int, int]       # (h, w) of the classifier's logits before upsampling
    output_size: tuple[int, int]       # (H, W) of the model's "out" after F.interpolate
    coarse_mask: np.ndarray            # (h, w) argmax class of the coarse logits
    mask: np.ndarray                   # (H, W) argmax class of the upsampled logits
    image: np.ndarray                  # the RGB uint8 input at input_size
    formula_size: tuple[int, int]      # fcn_output_size(input_size)


def run_fcn(model: "nn.Module", image: np.ndarray, size: tuple[int, int]) -> FcnRun:
    """Resize the image to `size`, run the FCN, and record the coarse and upsampled maps (call in a worker)."""
    import cv2
    import torch

    from explorer.core.notes.conv_features import to_tensor
    h, w = size
    if h < 16 or w < 16:
        raise ModelInputError(f"the FCN needs an input of at least 16×16 pixels, got {w}×{h}.")
    resized = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    captured = {}
    me = threading.get_ident()   # ignore forwards of the same model in other threads (the app's inference)

    def keep(_m: Any, _i: Any, out: Any) -> None:
        if threading.get_ident() == me:
            captured["coarse"] = out

    # the head's last conv gives the coarse logits (torchvision FCNHead = Sequential(..., Conv2d(512, classes, 1)))
    hook = model.classifier[-1].register_forward_hook(keep)
    try:
        device = next(model.parameters()).device
        with torch.inference_mode():
            out = model(to_tensor(resized).to(device))["out"][0].cpu()
    finally:
        hook.remove()
    coarse = captured["coarse"][0].cpu()
    return FcnRun((h, w), (int(coarse.shape[1]), int(coarse.shape[2])), (int(out.shape[1]), int(out.shape[2])),
                  coarse.argmax(0).numpy().astype(np.int32), out.argmax(0).numpy().astype(np.int32), resized,
                  fcn_output_size((h, w)))



def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The image with each pixel tinted by its class colour (background, class 0, left untinted)."""
    import cv2
    if mask.shape != image.shape[:2]:
        mask = cv2.resize(mask.astype(np.int32).astype(np.float32), (image.shape[1], image.shape[0]),
                          interpolation=cv2.INTER_NEAREST).astype(np.int32)
    colours = voc_palette(max(int(mask.max()) + 1, 21))[mask]
    out = image.astype(np.float32)
    fg = mask > 0
    out[fg] = (1 - alpha) * out[fg] + alpha * colours[fg]
    return out.clip(0, 255).astype(np.uint8)


VOC_CLASSES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor"]
