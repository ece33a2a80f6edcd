"""Helpers shared by the sub-commands: argument parsing that never prints a traceback, strict JSON output."""

from __future__ import annotations

import json
import math
import sys
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
