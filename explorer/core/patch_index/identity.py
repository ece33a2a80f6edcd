"""Which weights an index belongs to: "random, seed N" or the SHA-256 of the weights file.

A name ("bundled", "pretrained", a path) is not enough: a retrained bundled file or an overwritten checkpoint
keeps its name, and its activations are different. So the key is the content of the file the weights were read
from; random weights are identified by their seed (explorer.core.opening builds them from it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from explorer.core.errors import WeightsError
from explorer.core.patch_index.files import content_hash

if TYPE_CHECKING:
    from explorer.core.zoo import ZooEntry

_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> digest: a 100 MB file once per process


@dataclass(frozen=True)
class WeightsIdentity:
    key: str      # stored: "random, seed 0" or "sha256:<hex>"
    label: str    # shown: "random (seed 0)", "bundled", "pretrained", the file's name


def weights_file(entry: "ZooEntry", spec: str) -> Path:
    """The file that weights `spec` ("bundled", "pretrained" or a path) are read from."""
    from explorer.core import weights

    if spec == "bundled":
        if not entry.bundled_weights:
            raise WeightsError(f"{entry.name} has no bundled weights")
        return weights.resources_root() / entry.bundled_weights
    if spec == "pretrained":
        url = weights.pretrained_url(entry)
        return weights.hub_checkpoint_dir() / os.path.basename(urlparse(url).path)
    return Path(spec).expanduser()


def file_digest(path: Path) -> str:
    try:
        st = path.stat()
    except OSError as exc:
        raise WeightsError(f"cannot read weights '{path}': {exc.strerror or exc}") from None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        try:
            _HASHES[key] = content_hash(path)
        except OSError as exc:
            raise WeightsError(f"cannot read weights '{path}': {exc.strerror or exc}") from None
    return _HASHES[key]


def weights_identity(entry: "ZooEntry", spec: str, seed: int | None) -> WeightsIdentity:
    """The identity of weights `spec` ("" = the entry's default, as explorer.core.weights.default_spec) for
    `entry`; random weights need their seed."""
    from explorer.core.weights import default_spec

    spec = (spec or default_spec(entry)).strip()
    if spec == "random":
        if seed is None:
            raise WeightsError("random weights without a seed cannot be indexed: they differ on every run")
        return WeightsIdentity(f"random, seed {int(seed)}", f"random (seed {int(seed)})")
    path = weights_file(entry, spec)
    if not path.is_file():
        raise WeightsError(f"no weights file at '{path}'" if spec not in ("bundled", "pretrained")
                           else f"{spec} weights of {entry.name} are not on this machine (expected '{path}')")
    label = spec if spec in ("bundled", "pretrained") else path.name
    return WeightsIdentity(f"sha256:{file_digest(path)}", label)
