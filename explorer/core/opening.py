"""Opening a model: build → weights → device → graph capture, the one function every caller shares.

The window's Session (explorer.core.session), `predict`, `activations`, `evaluate` and the bench scripts all
open models through `open_model`, so a model is built, seeded, given its weights and moved the same way
everywhere.

Random weights are seeded (`DEFAULT_SEED` unless asked otherwise), so two runs with random weights show the
same maps and numbers; the seed is part of what the user is told ("random weights, seed 0").
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from explorer.core.errors import ExplorerError, ModelInputError

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.graph import ModelGraph
    from explorer.core.zoo import ZooEntry

from explorer.arguments import DEFAULT_SEED  # noqa: E402 - one constant for the window and the CLI

StageFn = Callable[[str], None]


@dataclass(frozen=True)
class ModelHandle:
    """A model ready to run and what it was opened with."""

    name: str                 # the zoo name (or model spec) the user asked for
    entry: "ZooEntry"
    model: "nn.Module"        # in eval mode, on `device`
    weights: str              # "random", "pretrained", "bundled" or a file path
    device: str               # "cpu", "cuda", "cuda:1", "mps"
    weights_note: str = ""    # e.g. "random weights (seed 0): predictions are meaningless"
    seed: int | None = None   # the seed of random weights (None: the weights came from somewhere else)
    ignored_keys: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        """"classification", "segmentation" or "detection": what the model's output means."""
        return self.entry.task

    @property
    def weights_label(self) -> str:
        """How the weights are named to a user: "random (seed 0)", "pretrained", or the file's name."""
        from pathlib import Path

        if self.weights == "random":
            return f"random (seed {self.seed})" if self.seed is not None else "random"
        if self.weights in ("pretrained", "bundled"):
            return self.weights
        return Path(self.weights).name


@dataclass
class OpenedModel:
    """What `open_model` gives: the handle, its graph (None when it cannot be captured) and why not."""

    handle: ModelHandle
    graph: "ModelGraph | None" = None
    graph_error: str = ""
    seconds: float = 0.0
    stages: list[str] = field(default_factory=list)


def random_note(seed: int | None) -> str:
    from explorer.core.weights import RANDOM_NOTE

    return RANDOM_NOTE.replace("random weights", f"random weights (seed {seed})") if seed is not None \
        else RANDOM_NOTE


def build_seeded(entry: "ZooEntry", seed: int | None = DEFAULT_SEED) -> "nn.Module":
    """Build `entry` with random weights drawn from `seed` (the global RNG state is left as it was)."""
    import torch

    from explorer.core import zoo

    if seed is None:
        return zoo.build(entry.name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return zoo.build(entry.name)


def open_model(name: str, weights: str = "", device: str | None = "auto", *, seed: int | None = DEFAULT_SEED,
               capture: bool = True, input_size: tuple[int, int] | None = None,
               progress: Callable[[int, int], None] | None = None, cancel: Any = None,
               stage: StageFn | None = None) -> OpenedModel:
    """Build `name`, put in its weights ("" = the entry's default), move it to `device` and capture its graph.

    `input_size` (H, W) replaces the entry's: the graph is captured at it, models without a preset of their own
    are preprocessed to it, and torchvision's detectors resize their images by it
    (explorer.core.detection_builders.set_input_size).
    Raises ExplorerError (unknown model, missing or mismatched weights, absent device, an `input_size` the
    model cannot take) with one sentence; a graph that cannot be captured is not an error otherwise (the model
    still runs): `graph_error` says why.
    `progress(done, total)` and `cancel` (an Event or a callable) follow a pretrained download.
    """
    from explorer.core import zoo
    from explorer.core.engine import pick_device
    from explorer.core.weights import default_spec, load_weights

    t0 = time.perf_counter()
    stages: list[str] = []

    def say(text: str) -> None:
        stages.append(text)
        if stage is not None:
            stage(text)

    entry = zoo.get(name)
    if input_size and tuple(input_size) != tuple(entry.input_size):
        # the size the user chose: the graph is captured at it, and models without a preset of their own (file
        # specs, timm) are preprocessed to it
        entry = dataclasses.replace(entry, input_size=(int(input_size[0]), int(input_size[1])))
    target = pick_device(None if device in (None, "", "auto") else device)  # fail before building anything
    say(f"Building {name}…")
    model = build_seeded(entry, seed)
    if input_size:
        from explorer.core.detection_builders import set_input_size

        # a torchvision detector resizes every image itself: the size is its transform's (min_size, max_size),
        # or the graph and the live results would go on at the built-in size (new-user trial: 8×8 was said,
        # 224×224 was run)
        set_input_size(model, entry.input_size)
    spec = weights or default_spec(entry)
    say(f"Loading {spec} weights…")
    info = load_weights(model, entry, spec, progress=progress, cancel=cancel)
    model = model.to(target).eval()
    used_seed = seed if info.is_random else None
    note = random_note(used_seed) if info.is_random else (info.note or "")
    handle = ModelHandle(name, entry, model, info.spec, str(target), note, used_seed,
                         tuple(getattr(info, "ignored_keys", ()) or ()))
    opened = OpenedModel(handle, stages=stages)
    if capture:
        say(f"Capturing the graph of {name}…")
        from explorer.core.capture import capture_graph

        size = input_size or tuple(entry.input_size)
        try:
            opened.graph = capture_graph(model, name, (entry.input_channels, *size), device=str(target))
        except MemoryError:
            raise
        except ModelInputError as exc:
            if input_size:  # a size the user chose that the model cannot take: refuse it (new-user trial: 16×16
                raise       # for vgg16 was accepted, and every view went blank on a raw PyTorch error)
            opened.graph_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - the model still runs without its graph
            opened.graph_error = str(exc) if isinstance(exc, ExplorerError) else f"No graph for {name}: {exc}"
    opened.seconds = time.perf_counter() - t0
    return opened
