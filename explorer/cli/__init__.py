"""The headless command line: `python -m explorer SUBCOMMAND ...`.

Each sub-command lives in its own module of this package with two functions:
`add_parser(subparsers) -> argparse.ArgumentParser` and `run(args) -> int`. Modules import torch lazily
inside `run`, so `--help` stays fast. Any error reaches the user as one `error:` line on stderr and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from explorer import __version__
from explorer.cli.common import CLIError, ArgumentParser

# (sub-command, module): the order of `--help`.
SUBCOMMANDS: list[tuple[str, str]] = [
    ("summary", "explorer.cli.summary"),
    ("graph", "explorer.cli.graph"),
    ("predict", "explorer.cli.predict"),
    ("activations", "explorer.cli.activations"),
    ("anchors", "explorer.cli.anchors"),
    ("train", "explorer.cli.train"),
    ("evaluate", "explorer.cli.evaluate"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m explorer",
        description="CNN Explorer's headless commands: inspect, run and measure classic CNNs without a window.",
    )
    parser.add_argument("--version", action="version", version=f"cnn-explorer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name, module_name in SUBCOMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # a sub-command not built yet
        sub_parser = module.add_parser(sub)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - the contract is one line, never a traceback
        from explorer.core.errors import ExplorerError

        if isinstance(exc, ExplorerError):
            print(f"error: {exc}", file=sys.stderr)
        elif isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            print("error: out of memory; try a smaller input or the CPU", file=sys.stderr)
        else:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
