"""The dock's exports: the mosaic as a PNG with every feature pixel, the raw activations as .npy.

No Qt here: each function writes one file and returns its path, or raises ExplorerError with the sentence the
status bar shows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.errors import ExplorerError
from explorer.core.mosaic import Mosaic, build_mosaic

if TYPE_CHECKING:
    import torch


def default_name(layer: str, suffix: str) -> str:
    """A file name for `layer`'s export ("layer1.0.relu#1" → "layer1.0.relu_1.png")."""
    return (layer or "layer").replace("#", "_").replace("/", "_") + suffix


def export_png(path: str | Path, mosaic: Mosaic, activation: torch.Tensor | None = None) -> str:
    """Write `mosaic` as an RGB PNG. A mosaic shrunk for its view is built again at full size from `activation`
    (the file gets every feature pixel). A name without a suffix gets ".png"; a suffix OpenCV cannot encode is
    refused."""
    import cv2

    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    if mosaic.shrink > 1 and activation is not None:
        mosaic = build_mosaic(activation, replace(mosaic.options, shrink=1))
    try:
        written = cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(mosaic.image), cv2.COLOR_RGB2BGR))
    except cv2.error:  # no encoder for the suffix
        raise ExplorerError(f"Cannot write '{path}': not an image type OpenCV can write; use .png.") from None
    if not written:
        why = "no such folder" if not path.parent.is_dir() else "the folder is not writable or the disk is full"
        raise ExplorerError(f"Cannot write '{path}': {why}.")
    return str(path)


def export_npy(path: str | Path, activation: torch.Tensor) -> str:
    """Write the raw activations (C, H, W) as float32 .npy (numpy adds the suffix when it is missing)."""
    path = str(path) if str(path).endswith(".npy") else f"{path}.npy"
    try:
        np.save(path, activation.detach().float().cpu().numpy())
    except OSError as exc:
        raise ExplorerError(f"Cannot write '{path}': {exc.strerror or exc}.") from None
    return path
