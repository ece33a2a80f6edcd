"""`torchvision:NAME`: every image classification, detection and segmentation builder of torchvision.models.

The catalogue is `torchvision.models.list_models(module=...)` for torchvision.models (classification),
.detection and .segmentation; quantized, video and optical-flow builders are left out (they do not take one
RGB image, or run on the CPU's int8 kernels only).

Each network is built as torchvision builds it for its default weights (`Weights.DEFAULT`), never downloading:
a builder given weights changes the architecture before it loads them (the number of classes from the
weights' categories, FrozenBatchNorm2d in detection backbones, GoogLeNet/Inception's transform_input and aux
heads, FCN/DeepLab's aux classifier, `overwrite_eps` for the first COCO detectors; torchvision/models/*.py),
so building with `weights=None` would give another network than the one the weights fit. Every builder ends
with `model.load_state_dict(weights.get_state_dict(...))` (torchvision/models/_api.py), so while building, that
one method of the weights' enum is replaced by one that hands the builder's own, randomly initialised state
back: the builder runs unchanged and nothing is read from the network. Checked for every builder: the meta-
device build's sum(numel) equals `Weights.meta["num_params"]` (tests/test_model_specs_torchvision.py).

`pretrained` comes through torchvision's weights API as for zoo entries: the weights' URL and torch.hub's cache
(explorer.core.weights: download with progress and cancel, `torch.load(weights_only=True)`), and
preprocessing from `Weights.transforms()`.
"""

from __future__ import annotations

import difflib
import sys
import threading
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Iterator

from explorer.core.errors import UnknownModelError

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.weights import CancelCheck, ProgressFn, WeightsInfo
    from explorer.core.zoo import ZooEntry

TASK_MODULES = (("classification", "torchvision.models"), ("detection", "torchvision.models.detection"),
                ("segmentation", "torchvision.models.segmentation"))
PREPROCESS = {"classification": "imagenet", "detection": "detection", "segmentation": "segmentation"}
_build_lock = threading.Lock()


@lru_cache(maxsize=1)
def catalogue() -> dict[str, str]:
    """Builder name -> task, for every builder this spec accepts."""
    import importlib

    import torchvision.models as tvm

    out: dict[str, str] = {}
    for task, module in TASK_MODULES:
        for name in tvm.list_models(module=importlib.import_module(module)):
            out[name] = task
    return out


def names() -> list[str]:
    return sorted(catalogue())


def default_weights(name: str) -> Any:
    import torchvision.models as tvm

    return tvm.get_model_weights(name).DEFAULT


@contextmanager
def _built_as_trained(weights: Any) -> Iterator[None]:
    """While a builder runs with `weights`, its final load_state_dict gets the model's own state back.

    The builder's frame holds the network as `model` (every torchvision builder: `model = X(...)`, then
    `model.load_state_dict(weights.get_state_dict(...))`). The replacement lives on this weights enum class
    only, under a lock, and is removed at once; it refuses to guess when the frame holds no module."""
    from torch import nn

    cls = type(weights)

    def own_state(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        model = sys._getframe(1).f_locals.get("model")
        if not isinstance(model, nn.Module):
            raise RuntimeError(f"cannot build {self} without its weights: the builder holds no 'model'")
        return model.state_dict()

    with _build_lock:
        original = cls.__dict__.get("get_state_dict")
        cls.get_state_dict = own_state
        try:
            yield
        finally:
            if original is None:
                del cls.get_state_dict
            else:
                cls.get_state_dict = original


def build(name: str) -> "nn.Module":
    """The network of torchvision:`name`, as built for its default weights, with random weights."""
    import torchvision.models as tvm

    weights = default_weights(name)
    with _built_as_trained(weights):
        return tvm.get_model(name, weights=weights)


def _meta_model(name: str) -> "nn.Module | None":
    """The network on the meta device (shapes only, no memory), or None for builders that compute on tensors
    while building (RegNet's block widths call .tolist())."""
    import torch

    try:
        with torch.device("meta"):
            return build(name)
    except (NotImplementedError, RuntimeError):
        return None


def _category_kind(weights: Any) -> str:
    """A labels.categories kind for the weights' categories: a shared list when it is one, else the weights."""
    from explorer.core.labels import categories

    cats = tuple(weights.meta.get("categories") or ())
    for kind in ("imagenet", "coco", "voc"):
        if cats == categories(kind):
            return kind
    return f"weights:{type(weights).__name__}.{weights.name}" if cats else ""


def _input_size(task: str, weights: Any, meta_model: "nn.Module | None") -> tuple[int, int]:
    preset = weights.transforms()
    if task == "classification":
        crop = preset.crop_size
        return (int(crop[0]), int(crop[-1]))
    if task == "segmentation":
        side = int(preset.resize_size[0]) if preset.resize_size else 520
        return (side, side)
    transform = getattr(meta_model, "transform", None)  # GeneralizedRCNNTransform: min_size (800, 320, 300, ...)
    side = int(transform.min_size[0]) if transform is not None else 800
    return (side, side)


def _card(name: str, weights: Any) -> Any:
    from explorer.core.zoo import ModelCard

    meta = weights.meta
    metrics = "; ".join(f"{data}: " + ", ".join(f"{k} {v}" for k, v in values.items())
                        for data, values in (meta.get("_metrics") or {}).items())
    idea = f"torchvision's {name} with {type(weights).__name__}.{weights.name}" + (f" ({metrics})" if metrics else "")
    return ModelCard(0, f"torchvision.models.{name}", idea, meta.get("recipe", ""))


def entry(text: str, name: str) -> "ZooEntry":
    """The ZooEntry of torchvision:`name`; an unknown name lists the closest builders."""
    from explorer.core.model_specs import memory
    from explorer.core.zoo import ZooEntry

    tasks = catalogue()
    if name not in tasks:
        close = difflib.get_close_matches(name, list(tasks), n=3)
        hint = f"; did you mean {', '.join('torchvision:' + c for c in close)}?" if close else ""
        raise UnknownModelError(f"torchvision has no classification, detection or segmentation model "
                                f"'{name}'{hint} (torchvision.models.list_models() lists them)")
    task = tasks[name]
    weights = default_weights(name)
    meta_model = _meta_model(name)
    size = (memory.tensor_bytes(meta_model) if meta_model is not None
            else int(weights.meta.get("num_params", 0)) * 4)
    return ZooEntry(
        name=text, family="torchvision", task=task, builder=f"torchvision.models:{name}",
        input_size=_input_size(task, weights, meta_model), preprocess=PREPROCESS[task],
        categories=_category_kind(weights), card=_card(name, weights),
        tv_weights=f"{type(weights).__name__}.{weights.name}", source="torchvision",
        loader=partial(build, name), size_bytes=size)


def load_pretrained(model: "nn.Module", entry: "ZooEntry", progress: "ProgressFn | None",
                    cancel: "CancelCheck | None") -> "WeightsInfo":
    """torchvision's default weights for `entry`: from torch.hub's cache, else downloaded into it (with progress
    and cancel), read with weights_only=True and loaded strictly (GoogLeNet's dropped aux heads excepted)."""
    import os
    from urllib.parse import urlparse

    from explorer.core import weights as w

    url = w.pretrained_url(entry)
    cached = w.hub_checkpoint_dir() / os.path.basename(urlparse(url).path)
    if not cached.is_file():
        w.download(url, cached, progress=progress, cancel=cancel)
    state = w.read_checkpoint(cached)
    if entry.builder.split(":")[-1].startswith("densenet"):
        state = w._densenet_keys(state)  # torchvision/models/densenet.py renames these keys the same way
    ignored = w.apply_state_dict(model, state, cached.name, entry.name, ignore_prefixes=("aux1.", "aux2."))
    return w.WeightsInfo("pretrained", "pretrained", str(cached), ignored_keys=ignored)
