"""What the top-patches view shows for (model, weights, layer, channel): read from the patch index, with the crops.

Zeiler and Fergus show each unit's strongest activations over a dataset as the image patches under its receptive
field ("Visualizing and Understanding Convolutional Networks", ECCV 2014, Fig. 2); explorer.core.patch_index
keeps them per channel. `look_up` runs in the views' jobs thread (bridge.jobs): it hashes the weights file once
(the index is keyed by content, explorer.core.patch_index.identity), reads one channel's rows from SQLite and
decodes the files to cut the crops, none of which belongs on the UI thread. It never raises: every outcome is a
`Lookup` whose `status` says which state the view is in and whose `text` says it in one sentence.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.errors import ExplorerError, ImageLoadError
from explorer.core.patch_index import (IndexCorruptError, IndexInfo, IndexLockedError, IndexStoreError, NoIndexError,
                                       Patch, PatchStore, channel_patches, patch_image, weights_identity)

if TYPE_CHECKING:
    from explorer.core.zoo import ZooEntry

# the view's states
SHOWN = "shown"                  # the channel's patches (maybe none yet: an index that has saved nothing)
NO_CHANNEL = "no-channel"        # the layer is indexed; no channel is clicked
NOT_INDEXED = "not-indexed"      # nothing for this model, weights and layer: offer to index
OTHER_WEIGHTS = "other-weights"  # the layer (or model) is indexed with other weights only: offer to index
CORRUPT = "corrupt"              # the database is damaged or not an index: offer to rebuild it
LOCKED = "locked"                # another program holds the database
FAILED = "failed"                # anything else (unreadable weights, a channel out of range...)
PROBLEMS = (CORRUPT, LOCKED, FAILED)

CROP_CACHE = 256  # crops kept: clicking back and forth between channels decodes nothing twice


@dataclass(frozen=True)
class Crop:
    """One patch and its pixels (RGB uint8); `pixels` None and `problem` set when the file moved or changed."""

    patch: Patch
    pixels: np.ndarray | None
    problem: str = ""


@dataclass(frozen=True)
class Target:
    """What to look up: the model's identity as the state has it, the layer and the clicked channel."""

    db: Path
    model: str
    entry: "ZooEntry"
    weights: str
    seed: int | None
    layer: str
    channel: int | None
    k: int
    check: bool = True       # PRAGMA quick_check on opening (once per file version: it reads every page)


@dataclass(frozen=True)
class Lookup:
    """The answer for a Target."""

    target: Target
    status: str
    text: str
    info: IndexInfo | None = None
    weights_label: str = ""
    crops: tuple[Crop, ...] = ()


def look_up(target: Target) -> Lookup:
    """The view's state for `target`, its crops cut from their files (see the module docstring)."""
    t = target
    try:
        identity = weights_identity(t.entry, t.weights, t.seed)
    except ExplorerError as exc:
        return Lookup(t, FAILED, f"These weights cannot be indexed: {exc}")
    label = identity.label
    try:
        with PatchStore(t.db, create=False, check=t.check) as store:
            info = store.find_index(t.model, identity.key, t.layer)
            if info is None:
                return _missing(t, label, store.list_indexes(t.model))
            if t.channel is None:
                return Lookup(t, NO_CHANNEL, f"Layer {t.layer}: {_amount(info)} indexed ({label} weights). Click a "
                                             "channel to see the image patches that activate it most.", info, label)
            if not 0 <= t.channel < info.channels:
                return Lookup(t, FAILED, f"The index of {t.layer} has {info.channels} channels; channel "
                                         f"{t.channel} is not one of them (another output of the layer?).", info,
                              label)
            patches = channel_patches(store, info, t.channel, max(1, t.k))
    except NoIndexError:  # no database file yet
        return _missing(t, label, [])
    except IndexCorruptError as exc:
        return Lookup(t, CORRUPT, str(exc), weights_label=label)
    except IndexLockedError as exc:
        return Lookup(t, LOCKED, str(exc), weights_label=label)
    except IndexStoreError as exc:
        return Lookup(t, FAILED, str(exc), weights_label=label)
    crops = tuple(_crop(p) for p in patches)
    if not crops:
        text = f"Channel {t.channel} of {t.layer}: nothing saved yet ({_amount(info)} indexed)."
    else:
        text = f"Channel {t.channel} · top {len(crops)} of {_amount(info)}"
    return Lookup(t, SHOWN, text, info, label, crops)


def _amount(info: IndexInfo) -> str:
    files = f"{info.files} file" + ("" if info.files == 1 else "s")
    return files if info.frames == info.files else f"{files}, {info.frames} frames"


def _missing(t: Target, label: str, indexed: list[IndexInfo]) -> Lookup:
    """Not indexed for these weights: say which weights are (the view offers to index in both cases)."""
    other = sorted({i.weights_label for i in indexed if i.layer == t.layer and i.weights_label != label})
    if other:
        return Lookup(t, OTHER_WEIGHTS, f"Layer {t.layer} of {t.model} is indexed with other weights "
                                        f"({', '.join(other)}), not with {label}: index it for these weights.",
                      weights_label=label)
    # other layers of this model may be indexed with these weights: name them (a user who indexed "backbone"
    # and selected "backbone.0" was told its weights differed: new-user trial)
    layers = sorted({i.layer for i in indexed if i.weights_label == label and i.layer != t.layer})
    also = f" Indexed with these weights: {', '.join(layers[:4])}{' …' if len(layers) > 4 else ''}." if layers else ""
    return Lookup(t, NOT_INDEXED, f"Layer {t.layer} of {t.model} is not indexed yet ({label} weights).{also}",
                  weights_label=label)


_crops: OrderedDict[tuple, np.ndarray] = OrderedDict()  # only the jobs thread uses it


def _crop(patch: Patch) -> Crop:
    """The patch's pixels (explorer.core.patch_index.patch_image checks the file is still the indexed one)."""
    try:
        st = os.stat(patch.image)
    except OSError:
        return Crop(patch, None, f"'{patch.image}' is gone (moved or deleted); index its folder again")
    key = (patch.image, st.st_size, st.st_mtime_ns, patch.frame, patch.box)
    pixels = _crops.get(key)
    if pixels is None:
        try:
            pixels = patch_image(patch)
        except ImageLoadError as exc:
            return Crop(patch, None, str(exc))
        _crops[key] = pixels
        while len(_crops) > CROP_CACHE:
            _crops.popitem(last=False)
    else:
        _crops.move_to_end(key)
    return Crop(patch, pixels)
