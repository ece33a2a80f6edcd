"""Helpers shared by the sub-commands: argument parsing that never prints a traceback, strict JSON output, and
the checks of what was given (a device, a seed, a file to write) that run before any work and fail with one
sentence and exit status 2 (CLIError)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from explorer.arguments import (INPUT_FORMS, ArgumentParser, CLIError, parse_input_shape,  # noqa: F401
                                 parse_size)


def finite_json(obj: Any) -> Any:
    """`obj` with every NaN or infinite float replaced by None (null): JSON (RFC 8259, section 6) has no NaN
    or Infinity, and strict parsers reject Python's `NaN` extension. NumPy scalars and arrays become plain
    numbers and lists first."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_json(v) for v in obj]
    if hasattr(obj, "tolist") and type(obj).__module__ in ("numpy", "torch"):
        return finite_json(obj.tolist())  # numpy scalars and arrays, tensors
    return obj


def print_json(obj: Any) -> None:
    """Print `obj` as one line of strict JSON (allow_nan=False after finite_json, so a NaN that slips
    through fails loudly here instead of producing output other tools cannot read)."""
    json.dump(finite_json(obj), sys.stdout, indent=None, separators=(",", ":"), allow_nan=False)
    sys.stdout.write("\n")


def skipped_warning(path: object, message: str, frame: int = 0) -> str:
    """'warning: skipped PATH[ (frame N)]: WHY', one line for a file (or a video's frame) that could not be
    decoded (new-user trial: "warning: skipped cannot decode …" read as a broken sentence). The core's message
    names the file again ("cannot decode 'PATH': the file is empty"); it is said once, as "it"."""
    where = f" (frame {frame})" if frame else ""
    why = message.replace(f"'{path}'", "it", 1)
    return f"warning: skipped {path}{where}: {why}"


SEED_LIMIT = 2**63  # torch.manual_seed takes a signed 64-bit number


def check_seed(seed: int, option: str = "--seed") -> None:
    """A seed torch and NumPy both take (0 ≤ seed < 2⁶³), else CLIError (was a ValueError from NumPy)."""
    if not 0 <= seed < SEED_LIMIT:
        raise CLIError(f"{option} must be a whole number from 0 to 2⁶³−1 (not {seed})")


def usable_device(requested: str) -> str:
    """`requested` (auto, cpu, cuda, cuda:N, mps) as the device to run on; one that this machine lacks, or a
    name that is no device, is a CLIError (exit status 2: a value given that cannot be used), checked before
    any work (new-user trial: `--device banana` was exit status 1)."""
    from explorer.core.engine import pick_device
    from explorer.core.errors import ExplorerError

    index = (requested or "").partition(":")[2]
    if index and not index.isdigit():
        raise CLIError(f"device '{requested}' is not a device name: write auto, cpu, cuda, cuda:N or mps")
    try:
        return pick_device(requested)
    except ExplorerError as exc:
        raise CLIError(str(exc)) from None


def _first_existing(path: Path) -> Path:
    """`path` or its nearest ancestor that exists (the root at worst)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_output_file(path: str | Path, option: str, make_folder: bool = False,
                      example: str = "") -> Path | None:
    """Check, before any work, that `path` (the value of `option`) can be written as a file: it is not a
    folder, no file stands where one of its folders should be, and its folder exists (or, with `make_folder`,
    can be made) and may be written. Raises CLIError (exit status 2) with one sentence; returns the missing
    folder the caller is to create (make_folder=True), else None. `example` names a file for the "is a
    folder" message."""
    try:
        return _check_output_file(Path(path).expanduser(), str(path), option, make_folder, example)
    except OSError as exc:  # a folder on the way that may not be searched, say
        raise CLIError(f"{option} '{path}' cannot be used: {exc.strerror or exc}") from None


def _check_output_file(target: Path, path: str, option: str, make_folder: bool, example: str) -> Path | None:
    """check_output_file's checks; `target` is `path` with ~ expanded (relative stays relative, as given)."""
    if target.is_dir():
        hint = f"; name a file in it, such as '{target / example}'" if example else "; name a file in it"
        raise CLIError(f"{option} '{path}' is a folder, not a file{hint}")
    if target.exists() and not os.access(target, os.W_OK):
        raise CLIError(f"{option} '{path}' cannot be written (no permission to replace it)")
    folder = target.parent
    existing = _first_existing(folder)
    if not existing.is_dir():
        raise CLIError(f"{option} '{path}' cannot be written: '{existing}' is a file, not a folder")
    if existing != folder and not make_folder:
        raise CLIError(f"{option} '{path}' cannot be written: the folder '{folder}' does not exist")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise CLIError(f"{option} '{path}' cannot be written: no permission to write in '{existing}'")
    return folder if existing != folder else None


def make_folder(folder: Path | None, option: str) -> None:
    """Create `folder` (from check_output_file) and say so in one line on stdout; CLIError if it cannot be."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create the folder '{folder}' for {option}: {exc.strerror or exc}") from None
    print(f"created folder {folder} for {option}", flush=True)
