"""yolov1-tiny: a small YOLOv1 for the project's synthetic shape scenes (explorer.core.scenes).

Redmon, Divvala, Girshick, Farhadi. You Only Look Once: Unified, Real-Time Object Detection. CVPR 2016.
The detection head is the paper's: the conv features are flattened, go through one hidden fully connected layer
and a final fully connected layer with S·S·(B·5+C) outputs, in darknet's flat order (see the YOLO output
convention of this project: S·S·C class probabilities, then S·S·B confidences, then S·S·B·4 boxes as x, y within
the cell and sqrt(w), sqrt(h) relative to the image). The backbone is much smaller than the paper's 24 conv layers
(8 conv layers with batch norm, which YOLOv2 added; the first six are fasterrcnn-tiny's backbone and are
initialised from its trained weights, as the paper initialised from ImageNet-trained convs) so that it trains on
a 2-core CPU in minutes. Input: RGB in [0, 1], 224×224 (32-pixel cells for S=7).
"""

from __future__ import annotations

import torch
from torch import nn

from models.fasterrcnn_tiny import TinyBackbone

INPUT_SIZE = 224


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.1)]


def _head(in_channels: int, S: int, B: int, C: int, hidden_per_cell: int) -> nn.Sequential:
    """The paper's head: flatten → fc(hidden) → LeakyReLU(0.1) → dropout → fc(S·S·(B·5+C)), darknet order."""
    head = nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_channels * S * S, hidden_per_cell * S * S),
        nn.LeakyReLU(0.1),
        nn.Dropout(0.1),
        nn.Linear(hidden_per_cell * S * S, S * S * (B * 5 + C)),
    )
    _init_cell_local(head[1], head[4], in_channels, hidden_per_cell, S, B, C)
    return head


@torch.no_grad()
def _init_cell_local(fc1: nn.Linear, fc2: nn.Linear, in_channels: int, hidden_per_cell: int, S: int, B: int,
                     C: int) -> None:
    """Initialise both dense layers so that, at the start, each cell's outputs depend only on its own features.

    The layers stay fully connected (every weight is trained, as in the paper); only the initial weights outside
    a cell's own block are zero. From a random dense start the fc layers must first discover which of the S·S
    feature positions belong to which output cell, which takes far more steps than a 2-core CPU allows; starting
    cell-local, the head learns like a per-cell detector and then uses the whole image where it helps.
    """
    cells = S * S
    m1 = torch.zeros_like(fc1.weight)            # (hidden, in): flatten order of (C_in, S, S) is channel-major
    m2 = torch.zeros_like(fc2.weight)            # (out, hidden)
    for i in range(cells):
        hid = slice(i * hidden_per_cell, (i + 1) * hidden_per_cell)
        m1[hid, i::cells] = 1                    # this cell's features: channel c at c·S·S + i
        outs = [*range(i * C, (i + 1) * C),                                   # class probabilities
                *range(cells * C + i * B, cells * C + (i + 1) * B),           # confidences
                *range(cells * (C + B) + i * B * 4, cells * (C + B) + (i + 1) * B * 4)]  # boxes
        m2[outs, hid] = 1
    nn.init.kaiming_uniform_(fc1.weight, a=0.1)
    fc1.weight.mul_(m1 * (fc1.weight.shape[1] / in_channels) ** 0.5)        # fan-in is in_channels, not all
    nn.init.uniform_(fc2.weight, -(1 / hidden_per_cell) ** 0.5, (1 / hidden_per_cell) ** 0.5)
    fc2.weight.mul_(m2)
    nn.init.zeros_(fc1.bias)
    nn.init.zeros_(fc2.bias)


class YOLOv1Tiny(nn.Module):
    layout = "darknet"

    def __init__(self, S: int = 7, B: int = 2, C: int = 4, hidden_per_cell: int = 16, width: int = 16) -> None:
        super().__init__()
        self.S, self.B, self.C = S, B, C
        w = width
        # The conv layers up to stride 16 are fasterrcnn-tiny's backbone, so that they can start from its trained
        # weights, as the paper's first 20 conv layers started from ImageNet pre-training (section 2.2).
        self.backbone = TinyBackbone(w, 96)                 # 224 → 14×14×96
        self.neck = nn.Sequential(
            *_conv(96, 8 * w, stride=2),                     # 7×7: one position per grid cell
            *_conv(8 * w, 8 * w),
            *_conv(8 * w, 2 * w, k=1),                       # 1×1 reduction keeps the fc layers small
            nn.AdaptiveAvgPool2d(S),                         # S×S whatever the input size (a no-op at 224)
        )
        self.head = _head(2 * w, S, B, C, hidden_per_cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] → (N, S·S·(B·5+C)), darknet's flat order."""
        return self.head(self.neck(self.backbone(x)))


def yolov1_tiny(S: int = 7, B: int = 2, C: int = 4, hidden_per_cell: int = 16, width: int = 16,
                class_names: tuple[str, ...] | list[str] = ()) -> YOLOv1Tiny:
    """yolov1-tiny. C defaults to the synthetic scenes' four shape classes; the zoo passes their names
    (`class_names`, whose length sets C) so that this module needs nothing from the app."""
    if class_names:
        C = len(class_names)
    model = YOLOv1Tiny(S=S, B=B, C=C, hidden_per_cell=hidden_per_cell, width=width)
    model.class_names = tuple(class_names)
    return model
