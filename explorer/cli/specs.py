"""The MODEL argument shared by summary, graph, predict and activations: a zoo name or any model spec.

On the command line, naming a Python file is consent to run it (as `python net.py` would); a torch.export
program (.pt2), whose loading can unpickle Python objects, needs --trust (explorer.core.model_specs).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from explorer.arguments import INPUT_FORMS, parse_input_shape

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
    return parse_input_shape(text)


def with_input(entry: "ZooEntry", shape: tuple[int, int, int]) -> "ZooEntry":
    """The entry preprocessed at `shape` (models without a preset of their own take the given size)."""
    if (entry.input_channels, *entry.input_size) == tuple(shape):
        return entry
    return dataclasses.replace(entry, input_channels=shape[0], input_size=(shape[1], shape[2]))


def inspection_weights(entry: "ZooEntry") -> str:
    """Weights for commands whose figures do not depend on them: random (nothing read or downloaded), or the
    file's own where it carries them."""
    return "random" if "random" in entry.weight_choices else entry.weight_choices[0]
