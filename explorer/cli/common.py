"""Helpers shared by the sub-commands: argument parsing that never prints a traceback, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any

from explorer.arguments import (INPUT_FORMS, ArgumentParser, CLIError, parse_input_shape,  # noqa: F401
                                 parse_size)


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")
