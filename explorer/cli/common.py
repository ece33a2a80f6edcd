"""Helpers shared by the sub-commands: argument parsing that never prints a traceback, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn


class CLIError(Exception):
    """A usage error: printed as one `error:` line, exit status 2."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises CLIError instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise CLIError(message)


def parse_size(text: str) -> tuple[int, ...]:
    """'3x224x224' or '224' -> tuple of ints; raises CLIError on anything else."""
    try:
        dims = tuple(int(p) for p in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise CLIError(f"invalid size '{text}': expected numbers separated by 'x', e.g. 3x224x224") from None
    if not dims or any(d <= 0 for d in dims):
        raise CLIError(f"invalid size '{text}': every dimension must be positive")
    return dims


INPUT_FORMS = "CxHxW (e.g. 3x224x224) or a single number N for 3xNxN (e.g. 224)"


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """A model input size: 'CxHxW' -> (C, H, W); 'N' -> (3, N, N). Anything else raises CLIError.

    Two numbers are refused on purpose: '3x224' could mean C×H (a typo for 3x224x224) or H×W, and guessing
    either silently gives the wrong table.
    """
    dims = parse_size(text)
    if len(dims) == 1:
        return (3, dims[0], dims[0])
    if len(dims) == 3:
        return dims  # type: ignore[return-value]
    raise CLIError(f"invalid input size '{text}': expected {INPUT_FORMS}")


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")
