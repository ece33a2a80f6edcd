"""Command-line parsing shared by the window (`python main.py`) and the headless commands (`python -m explorer`).

Both import this module and neither imports the other (a test checks it): the options they share (model,
weights, device, seed) are declared once here, and every usage error is a CLIError, printed by the caller as
one `error:` line with exit status 2, never argparse's usage dump and exit.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

DEFAULT_SEED = 0  # as explorer.core.opening.DEFAULT_SEED (that module imports torch's side; this one must not)


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


def parse_image_size(text: str) -> tuple[int, int] | None:
    """A model's input size as the window takes it: 'H×W', 'C×H×W' or one number N (N×N) → (H, W); '' → None.
    Raises CLIError with one sentence (the window's Input size… dialog and `main.py --input` share it)."""
    text = text.strip().lower().replace("×", "x").replace(" ", "")
    if not text:
        return None
    try:
        dims = [int(p) for p in text.split("x")]
    except ValueError:
        raise CLIError(f"'{text}' is not a size: write H×W (e.g. 320x320), C×H×W or one number") from None
    if len(dims) == 3:
        dims = dims[1:]
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or not all(8 <= d <= 4096 for d in dims):
        raise CLIError(f"'{text}' is not a size from 8 to 4096 pixels: write H×W, C×H×W or one number")
    return dims[0], dims[1]


WEIGHTS_HELP = ("random | pretrained | bundled | PATH to a state_dict (default: the model's default: bundled "
                "where shipped, else pretrained when cached, else random)")
DEVICE_HELP = "auto (CUDA, else MPS, else CPU) | cpu | cuda | cuda:N | mps"
SEED_HELP = f"seed of random weights (default {DEFAULT_SEED}: the same maps and numbers every run)"


def add_weights_option(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    parser.add_argument("--weights", default=default, help=WEIGHTS_HELP)


def add_seed_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=_seed, default=DEFAULT_SEED, metavar="N", help=SEED_HELP)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed '{text}': expected a whole number") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"invalid seed '{text}': expected 0 ≤ N < 2⁶³")
    return value
