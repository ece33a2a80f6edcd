"""Reading the patch index: a channel's strongest patches, with their receptive-field boxes in source pixels.

No model is needed: the index keeps each layer's receptive field and each file's preprocessing geometry, and the
box is computed by `patch_box`, the dock's computation (explorer.core.patch_index.geometry).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explorer.arguments import DEFAULT_SEED
from explorer.core.errors import ImageLoadError
from explorer.core.patch_index.errors import NoIndexError
from explorer.core.patch_index.geometry import FrameGeometry, patch_box
from explorer.core.patch_index.identity import WeightsIdentity, weights_identity
from explorer.core.patch_index.store import IndexInfo, PatchStore, default_db_path
from explorer.core.receptive import Box


@dataclass(frozen=True)
class Patch:
    """One of a channel's top activations: where (image, frame, feature pixel y, x) and how strong."""

    rank: int                 # 0: the strongest
    image: str                # the file's path when it was last indexed
    frame: int                # 0 for an image; a video's frame number
    score: float              # the activation at (y, x)
    y: int                    # feature pixel (row, column) in the layer's map
    x: int
    box: Box                  # receptive field in source pixels, clipped to what the model saw (x1, y1, x2, y2)
    field: Box                # the whole receptive field (may reach past the image, into the padding)
    source_size: tuple[int, int]  # (width, height) of the frame
    digest: str               # SHA-256 of the file


@dataclass(frozen=True)
class ChannelTop:
    """A channel's patches, strongest first."""

    model: str
    weights: str              # the weights key ("random, seed 0" or "sha256:...")
    weights_label: str
    layer: str
    channel: int
    channels: int
    top_k: int
    patches: list[Patch]


def find_layer_index(store: PatchStore, model: str, weights: WeightsIdentity, layer: str) -> IndexInfo:
    """The stored index of (model, weights, layer), or NoIndexError saying what is indexed instead."""
    info = store.find_index(model, weights.key, layer)
    if info is not None:
        return info
    same = store.list_indexes(model, weights.key)
    if same:
        listed = ", ".join(i.layer for i in same)
        raise NoIndexError(f"no index of {model} layer '{layer}' with {weights.label} weights in '{store.path}'; "
                           f"indexed layers: {listed}")
    others = store.list_indexes(model)
    if others:
        labels = ", ".join(sorted({i.weights_label for i in others}))
        raise NoIndexError(f"no index of {model} with {weights.label} weights in '{store.path}' (indexed with: "
                           f"{labels}; choose them with --weights/--seed)")
    raise NoIndexError(f"no index of {model} in '{store.path}': index a folder first (`python -m explorer index "
                       f"{model} FOLDER --layer {layer}`)")


def channel_patches(store: PatchStore, info: IndexInfo, channel: int, k: int | None = None) -> list[Patch]:
    """The top `k` (default: all kept) patches of `channel` in the index `info`."""
    if not 0 <= channel < info.channels:
        raise NoIndexError(f"channel {channel} is out of range: {info.layer} has {info.channels} channels "
                           f"(0..{info.channels - 1})")
    patches = []
    for row in store.channel_entries(info.id, channel, k):
        g = row.geometry
        frame = FrameGeometry(g.source_size, g.scale, g.crop, g.input_size)
        boxes = patch_box(info.field, row.y, row.x, frame)
        patches.append(Patch(row.rank, row.path, row.frame, row.score, row.y, row.x, boxes.box, boxes.field,
                             g.source_size, row.digest))
    return patches


def top_patches(model: str, layer: str, channel: int, *, weights: str = "", seed: int | None = DEFAULT_SEED,
                db: str | os.PathLike | None = None, k: int | None = None) -> ChannelTop:
    """Channel `channel` of `layer` of `model` with `weights` ("" = the model's default; random weights by
    `seed`): its strongest patches from the index `db` (default_db_path())."""
    from explorer.core import zoo

    entry = zoo.get(model)
    identity = weights_identity(entry, weights, seed)
    with PatchStore(Path(db) if db else default_db_path(), create=False) as store:
        info = find_layer_index(store, model, identity, layer)
        patches = channel_patches(store, info, channel, k)
    return ChannelTop(model, info.weights, info.weights_label, layer, channel, info.channels, info.top_k, patches)


def patch_image(patch: Patch) -> np.ndarray:
    """The patch's pixels (RGB uint8) cut from its file: the clipped box, rounded outwards to whole pixels.
    Raises ImageLoadError when the file has gone or changed (its content hash differs)."""
    from explorer.core.patch_index.files import content_hash, is_video_path

    path = Path(patch.image)
    try:
        same = path.is_file() and content_hash(path) == patch.digest
    except OSError:
        same = False
    if not same:
        raise ImageLoadError(f"'{path}' is no longer the indexed file (moved, changed or deleted); index its "
                             "folder again")
    image = _video_frame(path, patch.frame) if is_video_path(path) else _image(path)
    x0, y0, x1, y1 = patch.box
    h, w = image.shape[:2]
    c0, r0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    c1, r1 = min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1)))
    return np.ascontiguousarray(image[r0:r1, c0:c1])


def _image(path: Path) -> np.ndarray:
    from explorer.core.images import load_image

    return load_image(path)


def _video_frame(path: Path, frame: int) -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        for _ in range(frame):  # grab() in order: seeking by frame number is not exact in every container
            if not cap.grab():
                break
        ok, bgr = cap.read()
    finally:
        cap.release()
    if not ok or bgr is None:
        raise ImageLoadError(f"cannot read frame {frame} of '{path.name}'")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
