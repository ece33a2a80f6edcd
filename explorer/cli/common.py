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


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")
