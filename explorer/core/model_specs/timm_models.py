"""`timm:NAME`: PyTorch Image Models (Wightman, github.com/huggingface/pytorch-image-models), optional extra [timm].

NAME is anything `timm.create_model` takes: an architecture (`resnet18`) or one with its pretrained tag
(`resnet18.a1_in1k`). The network is built with `pretrained=False` (random weights, nothing downloaded); its
`pretrained_cfg` gives the input size, mean, std, crop fraction and interpolation, which preprocessing follows as
timm's own eval transform does (resize the shorter side to size/crop_pct, centre crop, normalise;
timm/data/transforms_factory.py `transforms_imagenet_eval`).

`pretrained` goes through timm's own loader (`timm.models.load_pretrained`): the Hugging Face hub (safetensors)
or the config's URL, read by timm with weights_only=True, into their caches; without internet it fails with
one message.
"""

from __future__ import annotations

import difflib
import math
from functools import partial
from typing import TYPE_CHECKING, Any

from explorer.core.errors import MissingExtraError, UnknownModelError, WeightsError

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.weights import WeightsInfo
    from explorer.core.zoo import ZooEntry

INSTALL = "pip install 'cnn-explorer[timm]'"


def _timm() -> Any:
    try:
        import timm
    except ImportError:
        raise MissingExtraError(f"timm: models need the timm package: {INSTALL}") from None
    return timm


def build(name: str) -> "nn.Module":
    """timm's `name` with random weights."""
    return _timm().create_model(name, pretrained=False)


def _check_name(timm: Any, name: str) -> None:
    arch = name.split(".", 1)[0]
    if timm.is_model(arch):
        return
    close = difflib.get_close_matches(arch, timm.list_models(), n=3)
    hint = f"; did you mean {', '.join('timm:' + c for c in close)}?" if close else ""
    raise UnknownModelError(f"timm has no model '{name}'{hint} (timm.list_models() lists them)")


def _category_kind(model: "nn.Module", num_classes: int) -> str:
    """"imagenet" for ImageNet-1k classifiers (timm and torchvision share the synset order), else ""."""
    try:
        from timm.data import infer_imagenet_subset

        subset = infer_imagenet_subset(model)
    except Exception:  # noqa: BLE001 - older timm, or a config it cannot read: fall back to the class count
        subset = None
    return "imagenet" if subset == "imagenet-1k" or (subset is None and num_classes == 1000) else ""


def entry(text: str, name: str) -> "ZooEntry":
    """The ZooEntry of timm:`name`, from a build on the meta device (no memory, no download)."""
    import torch

    from explorer.core.model_specs import memory
    from explorer.core.zoo import ModelCard, ZooEntry

    timm = _timm()
    _check_name(timm, name)
    try:
        with torch.device("meta"):
            model = build(name)
    except Exception:  # noqa: BLE001 - a builder that computes on tensors (.item()) cannot run on meta
        try:
            model = build(name)
        except Exception as exc:  # noqa: BLE001 - timm raises anything for a bad name or config
            raise UnknownModelError(f"timm cannot build '{name}': {exc}") from None
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    channels, height, width = (int(v) for v in cfg.get("input_size", (3, 224, 224)))
    crop_pct = float(cfg.get("crop_pct") or 0.875)
    num_classes = int(getattr(model, "num_classes", 0) or cfg.get("num_classes") or 0)
    has_weights = bool(cfg.get("hf_hub_id") or cfg.get("url") or cfg.get("file"))
    tag = f".{cfg['tag']}" if cfg.get("tag") else ""
    card = ModelCard(0, f"timm {cfg.get('architecture', name)}{tag}",
                     f"timm's {name}" + (f", paper {cfg['paper_ids']}" if cfg.get("paper_ids") else ""),
                     cfg.get("origin_url", ""))
    return ZooEntry(
        name=text, family="timm", task="classification", builder=f"timm:create_model({name!r})",
        input_size=(height, width), preprocess="imagenet", categories=_category_kind(model, num_classes),
        card=card, source="timm", loader=partial(build, name), input_channels=channels,
        mean=tuple(float(v) for v in cfg.get("mean", ())) or None,
        std=tuple(float(v) for v in cfg.get("std", ())) or None,
        resize_size=int(math.floor(height / crop_pct)),  # timm: scale_size = floor(img_size / crop_pct)
        interpolation=cfg.get("interpolation") if cfg.get("interpolation") in ("bilinear", "bicubic", "nearest")
        else "bilinear",
        pretrained_from="timm" if has_weights else "", size_bytes=memory.tensor_bytes(model))


def _cfg(model: "nn.Module", entry: "ZooEntry") -> dict[str, Any]:
    cfg = getattr(model, "pretrained_cfg", None)
    if not cfg:
        raise WeightsError(f"{entry.name} has no pretrained configuration in timm")
    return dict(cfg)


def is_cached(entry: "ZooEntry") -> bool:
    """True when timm's weights for `entry` are already on disk (Hugging Face cache), so `pretrained` is free."""
    try:
        import timm
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        cfg = timm.models.get_pretrained_cfg(entry.builder.split("'")[1])
        repo = getattr(cfg, "hf_hub_id", None)
        if not repo:
            return False
        return any(isinstance(try_to_load_from_cache(repo, f), str)
                   for f in ("model.safetensors", "pytorch_model.bin"))
    except Exception:  # noqa: BLE001 - a cache question must never stop a model from opening
        return False


def load_pretrained(model: "nn.Module", entry: "ZooEntry", *, file: str | None = None) -> "WeightsInfo":
    """timm's pretrained weights into `model` through timm's loader; `file` replaces the download (a local
    .safetensors or state_dict). Raises WeightsError with one sentence when they cannot be had."""
    from explorer.core.weights import WeightsInfo

    timm = _timm()
    cfg = _cfg(model, entry)
    if file is not None:
        cfg = {**cfg, "file": str(file), "hf_hub_id": None, "url": None}
    source = cfg.get("file") or cfg.get("hf_hub_id") or cfg.get("url") or ""
    try:
        timm.models.load_pretrained(model, pretrained_cfg=cfg, num_classes=int(getattr(model, "num_classes", 1000)),
                                    in_chans=entry.input_channels, strict=True)
    except Exception as exc:  # noqa: BLE001 - network, cache and key errors all end as one sentence
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"cannot load timm's pretrained weights for {entry.name} from {source} "
                           f"(no internet, or not in the cache?): {first[:200]}") from None
    return WeightsInfo("pretrained", "pretrained", str(source))
