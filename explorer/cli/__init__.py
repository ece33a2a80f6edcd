"""The headless command line: `python -m explorer SUBCOMMAND ...`.

Each sub-command lives in its own module of this package with two functions:
`add_parser(subparsers) -> argparse.ArgumentParser` and `run(args) -> int`. Modules import torch lazily
inside `run`, so `--help` stays fast. Any error reaches the user as one `error:` line on stderr and a non-zero
exit status (below), never a traceback; warnings the core issues for the user (explorer's own warning
classes, e.g. weights holding NaN) are one `warning:` line each.

Exit status: 0 done; 2 (EXIT_USAGE) what was given cannot be used, so the work did not start: a malformed
command line (argparse's own convention), a number out of range, an unknown model or layer, an image, video,
camera, weights file or input size that cannot be used, a device this machine lacks, a file to write that is
a folder or whose folder cannot be (checked before any work: explorer.cli.common.usable_device and
check_output_file); 1 (EXIT_FAILURE) something failed while running: a download, a stream that broke, an
output that could not be written after all, memory, an unexpected error; 130 interrupted (128 + SIGINT, the
shell's convention).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from explorer import __version__
from explorer.cli.common import ArgumentParser, CLIError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

EPILOG = """exit status:
  0    done
  2    what was given cannot be used: a malformed command line, a number out of range, an unknown
       model or layer, an image, video, camera, weights file or input size that cannot be used, a
       device this machine lacks, a file to write that is a folder or whose folder cannot be
  1    a failure while running: a download, a stream that broke, an output that could not be
       written after all, memory, an unexpected error
  130  interrupted (Ctrl+C)
Errors are one 'error:' line on stderr; warnings (e.g. weights holding NaN) one 'warning:' line each."""

# (sub-command, module): the order of `--help`.
SUBCOMMANDS: list[tuple[str, str]] = [
    ("summary", "explorer.cli.summary"),
    ("graph", "explorer.cli.graph"),
    ("predict", "explorer.cli.predict"),
    ("activations", "explorer.cli.activations"),
    ("anchors", "explorer.cli.anchors"),
    ("train", "explorer.cli.train"),
    ("evaluate", "explorer.cli.evaluate"),
    ("index", "explorer.cli.index"),
    ("top", "explorer.cli.top"),
]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="python -m explorer",
        description="CNN Explorer's headless commands: inspect, run and measure classic CNNs without a window.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
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


def exit_status(exc: BaseException) -> int:
    """The exit status for an error that ended a command (the rule in this module's docstring)."""
    from explorer.core.errors import (ConsentRequired, ImageLoadError, ModelInputError, ModelSpecError, SourceError,
                                      UnknownModelError)
    from explorer.core.weights import DownloadError, WeightsError

    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, DownloadError):
        return EXIT_FAILURE
    usage: tuple[type[BaseException], ...] = (CLIError, UnknownModelError, ImageLoadError, ModelInputError,
                                              SourceError, WeightsError, ModelSpecError, ConsentRequired)
    # the layer lookup, anchor settings and the patch index live in modules that import torch: named by
    # class, not imported
    if isinstance(exc, usage) or type(exc).__name__ in ("UnknownLayerError", "AnchorConfigError",
                                                        "NoIndexError"):
        return EXIT_USAGE
    return EXIT_FAILURE


def _is_ours(category: type[Warning]) -> bool:
    return category.__module__.startswith("explorer.")


def main(argv: Sequence[str] | None = None) -> int:
    shown = warnings.showwarning

    def one_line(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if _is_ours(category):
            print(f"warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = one_line
    try:
        return _main(argv)
    finally:
        warnings.showwarning = shown


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the contract is one line, never a traceback
        from explorer.core.errors import ExplorerError

        if isinstance(exc, (ExplorerError, CLIError)):
            print(f"error: {exc}", file=sys.stderr)
        elif isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            print("error: out of memory; try a smaller input or the CPU", file=sys.stderr)
        else:
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exit_status(exc)
