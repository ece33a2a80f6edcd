"""What one frame through the engine gives: predictions, raw outputs, probe data and timings.

The data flows one way: source -> Frame -> engine (model + probes on the selected layers) -> FrameResult ->
views. Views never run the model; they draw a FrameResult.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Frame:
    """One RGB uint8 image (H, W, 3) from a source."""

    image: np.ndarray
    source: str = ""             # file path, "camera:0", "video.mp4"
    index: int = 0               # frame number within the source
    timestamp: float = 0.0       # time.perf_counter() when captured
    capture_ms: float = 0.0


@dataclass
class ClassScore:
    index: int
    label: str
    score: float


@dataclass
class Detection:
    box: tuple[float, float, float, float]   # x1, y1, x2, y2 in source-image pixels
    label: str
    score: float
    class_index: int = -1


@dataclass
class Segmentation:
    mask: np.ndarray                 # (H, W) int class index per source pixel
    classes: list[str]               # names of the classes present, by index order in `labels`
    labels: list[str] = field(default_factory=list)  # all class names of the model


@dataclass
class FrameResult:
    frame: Frame
    model_name: str
    weights: str                     # "random", "pretrained", "bundled" or a file path
    device: str
    task: str
    topk: list[ClassScore] | None = None
    boxes: list[Detection] | None = None
    segmentation: Segmentation | None = None
    raw: Any = None                  # the model's raw output moved to the CPU (e.g. YOLO's S×S×(B·5+C) tensor)
    input_size: tuple[int, int] | None = None  # (H, W) of the tensor the model saw
    extras: dict[str, Any] = field(default_factory=dict)  # probe name -> what the probe collected
    timing_ms: dict[str, float] = field(default_factory=dict)  # capture, preprocess, forward, postprocess, draw
