"""The MODEL argument shared by summary, graph, predict and activations: a zoo name or any model spec.

On the command line, naming a Python file is consent to run it (as `python net.py` would); a torch.export
program (.pt2), whose loading can unpickle Python objects, needs --trust (explorer.core.model_specs).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from explorer.arguments import INPUT_FORMS, CLIError, parse_image_size, parse_input_shape

if TYPE_CHECKING:
    from explorer.core.zoo import ZooEntry

MODEL_HELP = ("a zoo name (list: `python -m explorer summary --list`), torchvision:NAME, timm:NAME, "
              "path/to/net.py[:callable], a TorchScript .pt, a torch.export .pt2 or an .onnx file")
TRUST_HELP = ("open a torch.export program (.pt2) although loading one can run Python code pickled inside it "
              "(only for files you trust)")
INPUT_HELP = f"input size: {INPUT_FORMS} (default: the model's own, else 3x224x224)"


def add_model_argument(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    """MODEL and --trust."""
    if optional:
        parser.add_argument("model", metavar="MODEL", nargs="?", default=None, help=MODEL_HELP)
    else:
        parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument("--trust", action="store_true", help=TRUST_HELP)


def add_input_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", metavar="CxHxW", default=None, help=INPUT_HELP)


def resolve(model: str, trust: bool = False) -> "ZooEntry":
    """The entry of MODEL, consenting for the user where the command line may (see the module docstring)."""
    from explorer.core import model_specs, zoo

    if model not in zoo.ZOO and model_specs.is_spec(model):
        spec = model_specs.parse(model)
        if spec.kind == "python" or (spec.kind == "export" and trust):
            model_specs.grant_consent(model)
    return zoo.get(model)


def input_shape(entry: "ZooEntry", text: str | None) -> tuple[int, int, int]:
    """--input, else the model's own (C, H, W)."""
    if text is None:
        return (entry.input_channels, *entry.input_size)  # type: ignore[return-value]
    return checked_input_shape(text)


def checked_input_shape(text: str) -> tuple[int, int, int]:
    """--input parsed (CxHxW or N), its height and width held to the window's rule (Model > Input size…,
    `main.py --input`: explorer.arguments.parse_image_size), so that a size the window refuses is refused here
    too (new-user trial: the window refused 5x5 while `summary --input 3x1x1` printed a table). A size within it
    that the model cannot take is the model's error (ModelInputError), here as in the window."""
    shape = parse_input_shape(text)
    try:
        parse_image_size(f"{shape[1]}x{shape[2]}")
    except CLIError as exc:
        reason = str(exc).partition(": write")[0]  # the window's forms (H×W) are not this option's
        raise CLIError(f"invalid input size '{text}': {reason}") from None
    return shape


def chosen_size(shape: tuple[int, int, int], text: str | None) -> tuple[int, int] | None:
    """open_model's `input_size` for --input: (H, W) when given (a torchvision detector's own resize follows
    it: explorer.core.detection_builders.set_input_size), else None (the model's own)."""
    return None if text is None else (shape[1], shape[2])


def with_input(entry: "ZooEntry", shape: tuple[int, int, int]) -> "ZooEntry":
    """The entry preprocessed at `shape` (models without a preset of their own take the given size)."""
    if (entry.input_channels, *entry.input_size) == tuple(shape):
        return entry
    return dataclasses.replace(entry, input_channels=shape[0], input_size=(shape[1], shape[2]))


def inspection_weights(entry: "ZooEntry") -> str:
    """Weights for commands whose figures do not depend on them: random (nothing read or downloaded), or the
    file's own where it carries them."""
    return "random" if "random" in entry.weight_choices else entry.weight_choices[0]
