"""The weights of spec models that explorer.core.weights hands over: `pretrained` for torchvision:/timm: specs,
`embedded` for files that carry their weights (TorchScript, .pt2, ONNX).

`load_weights` and `default_spec` in explorer.core.weights call these first for any entry whose source is not
the zoo; None means "not mine": random weights and state_dict files (`--weights FILE`, read with
weights_only=True) go the zoo's way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.core.errors import WeightsError

if TYPE_CHECKING:
    from torch import nn

    from explorer.core.weights import CancelCheck, ProgressFn, WeightsInfo
    from explorer.core.zoo import ZooEntry

EMBEDDED = "embedded"


def default_spec(entry: "ZooEntry") -> str | None:
    """The weights a spec model opens with, or None to let explorer.core.weights decide."""
    if entry.embedded_weights:
        return EMBEDDED
    if entry.pretrained_from == "timm":
        from explorer.core.model_specs import timm_models

        return "pretrained" if timm_models.is_cached(entry) else "random"
    return None


def load(model: "nn.Module", entry: "ZooEntry", spec: str, *, progress: "ProgressFn | None" = None,
         cancel: "CancelCheck | None" = None) -> "WeightsInfo | None":
    """Put `spec`'s weights into a spec model, or return None when explorer.core.weights should."""
    from explorer.core.weights import WeightsInfo

    if entry.embedded_weights:
        if spec == EMBEDDED:
            return WeightsInfo(EMBEDDED, EMBEDDED, entry.path)
        if spec in ("random", "pretrained", "bundled"):
            raise WeightsError(f"{entry.name} carries its own weights: choose 'embedded' or a state_dict file")
        return None
    if spec == EMBEDDED:
        raise WeightsError(f"{entry.name} has no embedded weights; choose one of: "
                           f"{', '.join(entry.weight_choices)} or a file")
    if spec == "pretrained" and entry.source == "torchvision":
        from explorer.core.model_specs import torchvision_models

        return torchvision_models.load_pretrained(model, entry, progress, cancel)
    if spec == "pretrained" and entry.pretrained_from == "timm":
        from explorer.core.model_specs import timm_models

        return timm_models.load_pretrained(model, entry)
    return None
