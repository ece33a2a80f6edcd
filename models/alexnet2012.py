"""The original two-GPU AlexNet.

Krizhevsky, Sutskever, Hinton. "ImageNet Classification with Deep Convolutional Neural Networks", NeurIPS 2012,
Section 3 and Figure 2. torchvision's `alexnet` is the later single-GPU variant ("one weird trick", 64-192-384-
256-256 filters, no LRN); this module rebuilds the network of the paper:

    input 227×227×3 (the paper says 224, but 11×11 stride-4 filters only give the 55×55 map of Figure 2 on 227)
    conv1  96 × 11×11 s4  → ReLU → LRN → max-pool 3/2     55×55 → 27×27
    conv2 256 × 5×5  p2, groups=2 → ReLU → LRN → max-pool 13×13
    conv3 384 × 3×3  p1            → ReLU                 13×13
    conv4 384 × 3×3  p1, groups=2  → ReLU                 13×13
    conv5 256 × 3×3  p1, groups=2  → ReLU → max-pool      6×6×256
    fc6 4096 → ReLU → dropout, fc7 4096 → ReLU → dropout, fc8 1000

Why groups: the network was split over two GTX 580 GPUs (3 GB each). Each GPU held half of every layer's
kernels, and "the GPUs communicate only in certain layers": conv2, conv4 and conv5 take input only from the
feature maps on their own GPU, which is exactly a grouped convolution with groups=2 (each kernel sees Cin/2
channels: conv2's weight is 5×5×48×256 = 2 × 5×5×48×128). conv3 and the dense layers read both GPUs' maps, so
they are ordinary layers (groups=1). conv1 sees the full RGB input on both GPUs (48 kernels each).

Local response normalisation (Section 3.3) uses the paper's k=2, n=5, alpha=1e-4, beta=0.75; PyTorch's
LocalResponseNorm divides alpha by n, like Caffe's LRN layer with which the paper's model was re-implemented.
Dropout 0.5 follows the first two dense layers (Section 4.2). Weights keep PyTorch's default initialisation:
the paper's N(0, 0.01) initialisation makes random-weight activations vanish, which hides the feature maps.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

INPUT_SIZE = 227


class AlexNet2012(nn.Module):
    """AlexNet as in the 2012 paper; `features` holds conv1..pool5, `classifier` holds fc6..fc8."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 96, kernel_size=11, stride=4)),
            ("relu1", nn.ReLU(inplace=True)),
            ("norm1", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)),
            ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
            # groups=2: each GPU's 128 kernels see only that GPU's 48 conv1 maps
            ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2)),
            ("relu2", nn.ReLU(inplace=True)),
            ("norm2", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)),
            ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
            # conv3 is where the two GPUs exchange maps: every kernel sees all 256 channels
            ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)),
            ("relu3", nn.ReLU(inplace=True)),
            ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2)),
            ("relu4", nn.ReLU(inplace=True)),
            ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2)),
            ("relu5", nn.ReLU(inplace=True)),
            ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("fc6", nn.Linear(256 * 6 * 6, 4096)),
            ("relu6", nn.ReLU(inplace=True)),
            ("drop6", nn.Dropout(p=dropout)),
            ("fc7", nn.Linear(4096, 4096)),
            ("relu7", nn.ReLU(inplace=True)),
            ("drop7", nn.Dropout(p=dropout)),
            ("fc8", nn.Linear(4096, num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = torch.flatten(x, 1)  # the pooled 6×6×256 map: fc6's real input
        return self.classifier(x)


def alexnet2012(num_classes: int = 1000, dropout: float = 0.5) -> AlexNet2012:
    """Build the two-GPU AlexNet of Krizhevsky et al. 2012 (random weights)."""
    return AlexNet2012(num_classes=num_classes, dropout=dropout)
