"""The inference engine: one frame → preprocess → forward → postprocess → probes → FrameResult.

`Engine.run` is called from one worker thread. Probes (forward hooks on selected layers, wanted by the
feature-map, anchor and YOLO views) live in a ProbeSet (explorer.core.probes) that views change from any
thread; `run` brings the model's hooks in line with it first, so hooks never change during a forward pass.

Speed (PyTorch's performance tuning guide): everything runs under `torch.inference_mode()`; on CUDA the frame
goes through a pinned host buffer with a non-blocking copy, `cudnn.benchmark` is on, and fp16/bf16 autocast
and channels_last are options. Timings are per stage in milliseconds; on CUDA the forward time includes a
synchronize so that it is the GPU's time, not the launch time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from explorer.core.errors import ExplorerError, ModelInputError
from explorer.core.labels import class_names, label
from explorer.core.probes import AttachedProbes, ProbeSet
from explorer.core.results import ClassScore, Detection, Frame, FrameResult, Segmentation

if TYPE_CHECKING:
    import torch
    from torch import nn

    from explorer.core.zoo import ZooEntry

PRECISIONS = ("fp32", "fp16", "bf16")
# The first passes at an input size include one-off set-up (oneDNN creates its primitives, cuDNN's benchmark
# tries kernels, the allocator grows), 5–30× a settled pass here: their times are marked, not shown as the
# model's speed (new-user trial: "forward 956 ms" for resnet18, which settles at 21–31 ms).
WARM_UP_RUNS = 3


def available_devices() -> list[str]:
    """Devices this machine can run on, best first ("cuda", "mps", "cpu")."""
    import torch

    out = []
    if torch.cuda.is_available():
        out.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    out.append("cpu")
    return out


def pick_device(requested: str | None = "auto") -> str:
    """'auto' (or None): CUDA when present, else MPS, else CPU. A named device that is absent is an error."""
    devices = available_devices()
    if requested in (None, "", "auto"):
        return devices[0]
    base = requested.split(":")[0]
    if base not in devices:
        raise ExplorerError(f"device '{requested}' is not available here; choose one of: {', '.join(devices)}")
    if base == "cuda" and ":" in requested:
        import torch

        index = int(requested.split(":")[1])
        if index >= torch.cuda.device_count():
            raise ExplorerError(f"device '{requested}' is not available: this machine has "
                                f"{torch.cuda.device_count()} CUDA device(s)")
    return requested


class Probe(Protocol):
    name: str

    def attach(self, model: "nn.Module") -> None: ...
    def detach(self) -> None: ...
    def collect(self, ctx: "ProbeContext") -> Any: ...


@dataclass
class ProbeContext:
    """What a probe sees after the forward pass (all in the worker thread)."""

    model: Any
    frame: Frame
    input_tensor: Any                  # (1, 3, H, W) what the model saw, on the device
    input_size: tuple[int, int]        # (H, W)
    scale: tuple[float, float]         # (sx, sy) model-input pixels per source pixel
    output: Any                        # raw model output
    device: str
    offset: tuple[float, float] = (0.0, 0.0)  # (x, y) centre-crop offset: input = source·scale − offset
    entry: Any = None                  # the ZooEntry


class Engine:
    """Runs one zoo model on frames, from one thread at a time (probes may be added or removed from any
    thread: they take effect at the next run)."""

    def __init__(self, model: "nn.Module", entry: "ZooEntry", device: str = "cpu", weights: str = "random", *,
                 precision: str = "fp32", channels_last: bool = False, score_threshold: float = 0.5,
                 topk: int = 5, probes: ProbeSet | None = None) -> None:
        import torch

        from explorer.core.preprocess import Preprocessor

        if precision not in PRECISIONS:
            raise ExplorerError(f"unknown precision '{precision}'; choose one of: {', '.join(PRECISIONS)}")
        self.entry = entry
        self.device = device
        self.weights = weights
        self.is_cuda = device.startswith("cuda")
        # Half precision only where it pays and is supported: autocast on CUDA. On the CPU fp32 stays.
        self.precision = precision if self.is_cuda else "fp32"
        self.model = model.to(device).eval()
        if channels_last and self.is_cuda:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.channels_last = channels_last and self.is_cuda
        if self.is_cuda:
            torch.backends.cudnn.benchmark = True  # fixed input sizes per source: let cuDNN pick kernels
        self.prep = Preprocessor(entry, device)
        self.score_threshold = float(score_threshold)
        self.topk = int(topk)
        self.probes = probes if probes is not None else ProbeSet()
        self._attached = AttachedProbes(self.model)
        self._lock = threading.Lock()  # run() and close() may come from two threads (a close at shutdown)
        self.names = self._names()
        self._runs_at: dict[tuple, int] = {}  # passes run per input shape (WARM_UP_RUNS)

    # -- probes ---------------------------------------------------------------------------------------------
    def add_probe(self, probe: Probe) -> None:
        """Want `probe` from the next run on (the set may be shared with the live pipeline: `probes`)."""
        self.probes.add(probe)

    def remove_probe(self, name: str) -> None:
        self.probes.remove(name)

    @property
    def probe_names(self) -> list[str]:
        """The probes whose hooks are on the model now (after the next run: the wanted ones)."""
        with self._lock:
            return self._attached.names

    def close(self) -> None:
        """Take every probe's hooks off the model (the probes stay wanted, for the next engine)."""
        with self._lock:
            self._attached.close()

    def set_score_threshold(self, value: float) -> None:
        self.score_threshold = float(value)

    # -- labels -----------------------------------------------------------------------------------------------
    def _num_classes(self) -> int | None:
        m = self.model
        if self.entry.preprocess == "yolo":
            return int(getattr(m, "C", 0)) or None
        if self.entry.task == "detection":
            predictor = getattr(getattr(m, "roi_heads", None), "box_predictor", None)
            cls = getattr(predictor, "cls_score", None)
            return int(cls.out_features) if cls is not None else None
        if self.entry.task == "segmentation":
            conv = m.classifier[-1] if hasattr(m, "classifier") else None
            return int(conv.out_channels) if conv is not None and hasattr(conv, "out_channels") else None
        return None

    def _names(self) -> list[str]:
        n = self._num_classes()
        background = None
        if self.entry.preprocess == "yolo":
            background = False
        elif self.entry.task in ("detection", "segmentation"):
            background = True
        return class_names(self.entry.categories, n, background)

    # -- the pipeline -----------------------------------------------------------------------------------------
    def prepare(self, frame: Frame) -> tuple[Any, float]:
        """Preprocess `frame` (may run in another thread than `run`, e.g. while the previous frame's forward
        pass runs); returns the Prepared input and the milliseconds it took."""
        import torch

        t0 = time.perf_counter()
        with torch.inference_mode():
            prepared = self.prep(frame.image)
        return prepared, (time.perf_counter() - t0) * 1000

    def run(self, frame: Frame, prepared: Any = None, prepare_ms: float = 0.0) -> FrameResult:
        """preprocess (unless `prepared` is given by `prepare`) → forward → postprocess → probes."""
        import torch

        with self._lock:
            probes = self._attached.sync(self.probes)
            return self._run(frame, probes, prepared, prepare_ms)

    def _run(self, frame: Frame, probes: list[Probe], prepared: Any, prepare_ms: float) -> FrameResult:
        import torch

        timing = {"capture": float(frame.capture_ms)}
        t0 = time.perf_counter()
        with torch.inference_mode():
            if prepared is None:
                prepared = self.prep(frame.image)
            else:
                t0 -= prepare_ms / 1000.0  # report the time it took where it ran
            x = prepared.model_input
            if self.channels_last and isinstance(x, torch.Tensor):
                x = x.contiguous(memory_format=torch.channels_last)
            t1 = time.perf_counter()
            try:
                if self.precision != "fp32":
                    dtype = torch.float16 if self.precision == "fp16" else torch.bfloat16
                    with torch.autocast("cuda", dtype=dtype):
                        output = self.model(x)
                else:
                    output = self.model(x)
            except RuntimeError as exc:
                text = str(exc)
                if "out of memory" in text.lower():
                    raise
                if "size" in text.lower() or "shape" in text.lower():
                    h, w = frame.image.shape[:2]
                    # name what the model was given: a preprocessed frame is not the frame's size
                    fed = tuple(x.shape[1:]) if isinstance(x, torch.Tensor) else ()
                    given = f" (given to it as {'×'.join(map(str, fed))})" if fed[-2:] != (h, w) and fed else ""
                    raise ModelInputError(f"{self.entry.name} cannot process a {w}×{h} image{given}: "
                                          f"{text.splitlines()[0]}") from None
                raise
            if self.is_cuda:
                torch.cuda.synchronize()
            t2 = time.perf_counter()
            result = FrameResult(frame=frame, model_name=self.entry.name, weights=self.weights,
                                 device=self.device, task=self.entry.task,
                                 input_size=prepared.input_size, warm_up=self._warming_up(x))
            self._postprocess(output, frame, result)
            t3 = time.perf_counter()
            if probes:
                ctx = ProbeContext(self.model, frame, prepared.tensor, prepared.input_size, prepared.scale,
                                   output, self.device, prepared.offset, self.entry)
                for p in probes:
                    result.extras[p.name] = p.collect(ctx)
            t4 = time.perf_counter()
        timing.update(preprocess=(t1 - t0) * 1000, forward=(t2 - t1) * 1000, postprocess=(t3 - t2) * 1000)
        if probes:
            timing["probes"] = (t4 - t3) * 1000
        result.timing_ms = timing
        return result

    def _warming_up(self, x: Any) -> bool:
        """Count a pass at x's shape; True for the first WARM_UP_RUNS at that shape."""
        key = tuple(x.shape) if hasattr(x, "shape") else tuple(tuple(t.shape) for t in x)
        if len(self._runs_at) > 64:  # a detector sees each frame size: keep the count small
            self._runs_at.clear()
        n = self._runs_at.get(key, 0)
        self._runs_at[key] = n + 1
        return n < WARM_UP_RUNS

    def _postprocess(self, output: Any, frame: Frame, result: FrameResult) -> None:
        import torch

        h, w = frame.image.shape[:2]
        if self.entry.preprocess == "yolo":
            raw = output.detach().float().cpu()
            result.raw = raw
            result.boxes = self._yolo_boxes(raw, w, h, result)
        elif self.entry.task == "classification":
            logits = output.logits if hasattr(output, "logits") else output
            probs = torch.softmax(logits.float(), dim=1)[0]
            k = min(self.topk, probs.numel())
            scores, idx = probs.topk(k)
            result.topk = [ClassScore(int(i), label(self.names, int(i)), float(s))
                           for s, i in zip(scores.cpu().tolist(), idx.cpu().tolist())]
            result.raw = logits.detach().float().cpu()
        elif self.entry.task == "segmentation":
            import cv2

            out = output["out"] if isinstance(output, dict) else output
            small = out[0].argmax(0).to(torch.uint8).cpu().numpy()
            mask = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
            counts = np.bincount(mask.ravel(), minlength=len(self.names))
            present = sorted(np.nonzero(counts)[0], key=lambda i: (-counts[i], i))  # the dominant class first
            result.segmentation = Segmentation(mask=mask, classes=[label(self.names, int(i)) for i in present],
                                               labels=list(self.names),
                                               shares=[float(counts[i]) / max(mask.size, 1) for i in present])
        else:  # torchvision detectors: list of {"boxes", "labels", "scores"} in the given image's pixels
            det = output[0]
            boxes = det["boxes"].float().cpu().numpy()
            labels_ = det["labels"].cpu().numpy()
            scores = det["scores"].float().cpu().numpy()
            result.boxes = [Detection(tuple(float(v) for v in b), label(self.names, int(c)), float(s), int(c))
                            for b, c, s in zip(boxes, labels_, scores) if s >= self.score_threshold]
            result.raw = {"boxes": boxes, "labels": labels_, "scores": scores}

    def _yolo_boxes(self, raw: Any, w: int, h: int, result: FrameResult) -> list[Detection]:
        try:
            from explorer.core import yolo
        except ImportError:
            result.extras["note"] = "YOLO decoding is not available (explorer.core.yolo missing): raw output only"
            return []
        S, B, C, layout = yolo.model_layout(self.model)
        grid = yolo.parse(raw[0], S, B, C, layout)
        dets = yolo.detect(grid, w, h, score_thresh=self.score_threshold, labels=self.names)
        return [Detection(d.box, d.label, d.score, d.class_index, d.cell, d.box_index) for d in dets]
