"""What one frame through the engine gives: predictions, raw outputs, probe data and timings.

The data flows one way: source -> Frame -> engine (model + probes on the selected layers) -> FrameResult ->
views. Views never run the model; they draw a FrameResult.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where it is used: the window imports these types before its first paint
    import numpy as np


@dataclass
class Frame:
    """One RGB uint8 image (H, W, 3) from a source."""

    image: np.ndarray
    source: str = ""             # file path, "camera:0", "video.mp4"
    index: int = 0               # frame number within the source
    timestamp: float = 0.0       # time.perf_counter() when captured
    capture_ms: float = 0.0
    generation: int = 0          # which opening of a source it came from (the Session's count): see Session


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
    cell: tuple[int, int] | None = None      # YOLO: (row, col) of the grid cell that predicted it
    box_index: int | None = None             # YOLO: which of that cell's B boxes


@dataclass
class Segmentation:
    mask: np.ndarray                 # (H, W) int class index per source pixel
    classes: list[str]               # names of the classes present, largest share of the pixels first
    labels: list[str] = field(default_factory=list)  # all class names of the model
    shares: list[float] = field(default_factory=list)  # fraction of the pixels of each of `classes`

    def __post_init__(self) -> None:
        if not self.shares and self.classes:  # built by hand (tests, notes): count them from the mask
            import numpy as np

            counts = np.bincount(np.asarray(self.mask).ravel().astype(np.int64), minlength=len(self.labels))
            index = {name: i for i, name in enumerate(self.labels)}
            total = max(int(np.asarray(self.mask).size), 1)
            self.shares = [float(counts[index[n]]) / total if n in index else 0.0 for n in self.classes]


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
    warm_up: bool = False            # one of the first passes at this input size: its times are not the model's speed
