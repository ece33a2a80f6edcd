"""What both detector trainers share: the pre-generated scene set, seeding, progress lines, checkpoints.

A checkpoint holds only tensors and plain Python values (model and optimiser state dicts, the epoch, the torch
generator that shuffles and augments), so it loads with torch.load(weights_only=True) and a resumed run draws
exactly the batches the uninterrupted run would have drawn.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from explorer.core.errors import WeightsError
from explorer.core.scenes import SCENE_SIZE, make_scene, scene_seed

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


@dataclass
class TrainConfig:
    model: str                      # zoo name: "yolov1-tiny" or "fasterrcnn-tiny"
    epochs: int
    scenes: int                     # training scenes, generated once
    seed: int = 0                   # scene-set seed and torch seed
    batch_size: int = 16
    lr: float = 1e-3
    out: Path = field(default_factory=Path)
    resume: Path | None = None
    device: str = "cpu"
    threads: int = 2
    init_backbone: Path | None = None  # yolov1-tiny: state_dict whose "backbone.*" tensors initialise its convs
    backbone_lr_scale: float = 1.0     # learning-rate factor of the initialised convs (1: fine-tune all alike)
    max_steps: int | None = None    # stop after this many steps (smoke tests; the schedule still spans all epochs)


@dataclass
class SceneSet:
    """Scenes held in memory: images (N, 3, H, W) uint8, and per scene boxes (K, 4) and labels (K,)."""

    images: torch.Tensor
    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]

    def __len__(self) -> int:
        return int(self.images.shape[0])


def generate_scene_set(n: int, seed: int, size: int = SCENE_SIZE, log: bool = True) -> SceneSet:
    """Scenes 0..n-1 of the set `seed` (explorer.core.scenes), packed into one uint8 tensor."""
    images = torch.empty((n, 3, size, size), dtype=torch.uint8)
    boxes, labels = [], []
    t0, last = time.perf_counter(), {}
    for i in range(n):
        s = make_scene(scene_seed(seed, i), size)
        images[i] = torch.from_numpy(s.image).permute(2, 0, 1)
        boxes.append(torch.from_numpy(s.boxes))
        labels.append(torch.from_numpy(s.labels))
        if log and ((i + 1) % 200 == 0 or i + 1 == n):
            _progress(f"generating scenes {i + 1}/{n}", t0, (i + 1) / n, last)
    if log and sys.stderr.isatty():
        print(file=sys.stderr)  # end the redrawn bar's line
    return SceneSet(images, boxes, labels)


def flip_batch(images: torch.Tensor, boxes: list[torch.Tensor], g: torch.Generator
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Random horizontal and vertical flips per image (shapes stay shapes of their class), boxes flipped along."""
    n, _, h, w = images.shape
    hflip = torch.rand(n, generator=g) < 0.5
    vflip = torch.rand(n, generator=g) < 0.5
    images = images.clone()
    out = []
    for i in range(n):
        b = boxes[i].clone()
        if hflip[i]:
            images[i] = images[i].flip(-1)
            b[:, [0, 2]] = w - b[:, [2, 0]]
        if vflip[i]:
            images[i] = images[i].flip(-2)
            b[:, [1, 3]] = h - b[:, [3, 1]]
        out.append(b)
    return images, out


def _fmt(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 60:d}:{seconds % 60:02d}"


# Into a file or pipe (a log, CI) a bar redrawn with \r every step becomes megabytes of one line: there the
# progress is a plain line at most every LOG_EVERY_S seconds, and at the end.
LOG_EVERY_S = 30.0


def _emit(line: str, last: dict[str, float], final: bool = False) -> None:
    """Redraw the bar on a terminal; elsewhere print a line when `final` or LOG_EVERY_S after the `last` one."""
    if sys.stderr.isatty():
        print(f"\r{line}", end="\n" if final else "", file=sys.stderr, flush=True)
        return
    now = time.perf_counter()
    if final or now - last.get("t", float("-inf")) >= LOG_EVERY_S:
        last["t"] = now
        print(line.rstrip(), file=sys.stderr, flush=True)


def _progress(text: str, t0: float, fraction: float, last: dict[str, float]) -> None:
    elapsed = time.perf_counter() - t0
    eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
    width = 24
    bar = "#" * int(round(width * fraction)) + "." * (width - int(round(width * fraction)))
    _emit(f"[{bar}] {text}  elapsed {_fmt(elapsed)}  eta {_fmt(eta)}", last,
          final=fraction >= 1.0 and not sys.stderr.isatty())


class Progress:
    """A print-based progress bar over all steps of a run (tqdm is not installed), on stderr."""

    def __init__(self, total_steps: int, done_steps: int = 0) -> None:
        self.total, self.done, self.t0, self.start_done = total_steps, done_steps, time.perf_counter(), done_steps
        self._last: dict[str, float] = {}

    def step(self, text: str) -> None:
        self.done += 1
        ran = self.done - self.start_done
        remaining = self.total - self.done
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / max(ran, 1) * remaining
        frac = self.done / max(self.total, 1)
        width = 24
        bar = "#" * int(round(width * frac)) + "." * (width - int(round(width * frac)))
        _emit(f"[{bar}] {self.done}/{self.total} {text}  elapsed {_fmt(elapsed)}  eta {_fmt(eta)}   ", self._last,
              final=self.done >= self.total and not sys.stderr.isatty())

    def line(self, text: str) -> None:
        _emit(f"{text}  elapsed {_fmt(time.perf_counter() - self.t0)}" + " " * 20, self._last, final=True)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


def save_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, epoch: int,
                    generator: torch.Generator, config: TrainConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
        "config": {"model": config.model, "scenes": config.scenes, "seed": config.seed, "epochs": config.epochs,
                   "batch_size": config.batch_size, "lr": config.lr},
    }, tmp)
    os.replace(tmp, path)  # never leave a half-written checkpoint behind


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator, config: TrainConfig) -> int:
    """Restore a checkpoint written by save_checkpoint; returns the number of finished epochs."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        saved = ckpt["config"]
        if saved["model"] != config.model:
            raise WeightsError(f"checkpoint {path} is for {saved['model']}, not {config.model}")
        if (saved["scenes"], saved["seed"]) != (config.scenes, config.seed):
            raise WeightsError(f"checkpoint {path} was trained on --scenes {saved['scenes']} --seed {saved['seed']}; "
                               f"resume with the same options")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        generator.set_state(ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        return int(ckpt["epoch"])
    except WeightsError:
        raise
    except FileNotFoundError:
        raise WeightsError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one clear message
        raise WeightsError(f"cannot resume from {path}: not a training checkpoint of this project ({exc})") from None


def save_weights(path: Path, model: torch.nn.Module) -> int:
    """Save a plain state_dict (CPU tensors); returns its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    torch.save(state, path)
    return path.stat().st_size


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def lr_at(epoch_fraction: float, base: float, warmup: float = 0.02) -> float:
    """Linear warm-up then cosine decay to 2% of `base` (a smooth version of the paper's step schedule)."""
    import math
    if epoch_fraction < warmup:
        return base * (0.1 + 0.9 * epoch_fraction / warmup)
    t = (epoch_fraction - warmup) / max(1e-9, 1 - warmup)
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))
