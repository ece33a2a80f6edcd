"""YOLOv1, the paper's network exactly.

Redmon, Divvala, Girshick, Farhadi. "You Only Look Once: Unified, Real-Time Object Detection", CVPR 2016,
Section 2.2 and Figure 3: a 448×448 input, 24 convolutional layers (biases, no batch norm: batch norm came with
YOLOv2), leaky ReLU with slope 0.1 after every layer but the last, then two fully connected layers: 4096 units
(dropout 0.5 after it, Section 2.2) and S·S·(B·5+C) = 7·7·30 = 1470 linear outputs.

Output convention (shared by every YOLO model of the project, see explorer/core/yolo.py): the final linear layer
produces a tensor (N, S·S·(B·5+C)) in darknet's flat order, as darknet's detection layer reads it:
  [0, S·S·C)                 class probabilities, cell-major (cell i = row·S + col, then class)
  [S·S·C, S·S·(C+B))         box confidences, cell-major (cell, then box)
  [S·S·(C+B), S·S·(C+B·5))   boxes: x, y relative to the cell, sqrt(w), sqrt(h) relative to the image
The model carries `S`, `B`, `C` and `layout = "darknet"` so that decoders need nothing else.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

INPUT_SIZE = 448

# Figure 3, top to bottom: ("conv", kernel, out_channels, stride) or ("pool",); 'same' padding (k // 2).
FIGURE3: tuple[tuple, ...] = (
    ("conv", 7, 64, 2), ("pool",),
    ("conv", 3, 192, 1), ("pool",),
    ("conv", 1, 128, 1), ("conv", 3, 256, 1), ("conv", 1, 256, 1), ("conv", 3, 512, 1), ("pool",),
    *(("conv", 1, 256, 1), ("conv", 3, 512, 1)) * 4, ("conv", 1, 512, 1), ("conv", 3, 1024, 1), ("pool",),
    *(("conv", 1, 512, 1), ("conv", 3, 1024, 1)) * 2, ("conv", 3, 1024, 1), ("conv", 3, 1024, 2),
    ("conv", 3, 1024, 1), ("conv", 3, 1024, 1),
)


def yolo_outputs(S: int, B: int, C: int) -> int:
    """Length of the flat output: S·S·(B·5+C)."""
    return S * S * (B * 5 + C)


def yolo_head(in_features: int, S: int, B: int, C: int, hidden: int = 4096, dropout: float = 0.5) -> nn.Sequential:
    """The paper's head: flatten → fc `hidden` → leaky ReLU 0.1 → dropout (0.5) → fc S·S·(B·5+C) (linear).

    Its output is already in darknet's flat order (module docstring); models/yolov1_tiny.py reuses it.
    State-dict keys: fc1.weight, fc1.bias, fc2.weight, fc2.bias.
    """
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten(1)),
        ("fc1", nn.Linear(in_features, hidden)),
        ("act1", nn.LeakyReLU(0.1, inplace=True)),
        ("dropout", nn.Dropout(dropout)),
        ("fc2", nn.Linear(hidden, yolo_outputs(S, B, C))),
    ]))


def _conv_stack(spec: tuple[tuple, ...]) -> tuple[nn.Sequential, int, int]:
    """Build conv/pool layers from a Figure-3-style list; returns (stack, out_channels, total stride)."""
    layers: list[tuple[str, nn.Module]] = []
    cin, stride, n_conv, n_pool = 3, 1, 0, 0
    for item in spec:
        if item[0] == "pool":
            n_pool += 1
            layers.append((f"pool{n_pool}", nn.MaxPool2d(2, 2)))
            stride *= 2
            continue
        _, k, cout, s = item
        n_conv += 1
        layers.append((f"conv{n_conv}", nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, bias=True)))
        layers.append((f"leaky{n_conv}", nn.LeakyReLU(0.1, inplace=True)))
        cin, stride = cout, stride * s
    return nn.Sequential(OrderedDict(layers)), cin, stride


class YOLOv1(nn.Module):
    """YOLOv1 (Figure 3): `features` is the 24-layer conv stack, `head` the two fully connected layers."""

    layout = "darknet"

    def __init__(self, S: int = 7, B: int = 2, C: int = 20) -> None:
        super().__init__()
        self.S, self.B, self.C = S, B, C
        self.features, channels, stride = _conv_stack(FIGURE3)
        self.stride = stride  # 64: a 448 input gives the S×S = 7×7 map the head flattens
        self.input_size = S * stride
        self.head = yolo_head(channels * S * S, S, B, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def yolov1(S: int = 7, B: int = 2, C: int = 20) -> YOLOv1:
    """Build the paper's YOLOv1 (random weights); input (S·64)×(S·64), 448×448 for S=7."""
    return YOLOv1(S=S, B=B, C=C)
