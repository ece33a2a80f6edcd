"""`python -m explorer top MODEL --layer L --channel C`: a channel's strongest patches from the index.

Reads what `python -m explorer index` stored (explorer.core.patch_index); no model is run, only the weights
file is hashed to find its index. Each patch: the image (its path when indexed), the frame (0 for an image),
the score, the feature pixel (y, x) in the layer's map, and its receptive field in the source image's pixels,
clipped to the image (x1, y1, x2, y2; x2 and y2 exclusive). `--json` prints
{"layer", "channel", "top": [{"image", "frame", "score", "y", "x", "box"}]}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from explorer.arguments import WEIGHTS_HELP, add_seed_option
from explorer.cli.common import CLIError, print_json
from explorer.cli.specs import add_model_argument

EXIT_FAILURE = 1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "top", help="print a channel's strongest patches from the index",
        description="Print the images (or video frames) that activate CHANNEL of LAYER most, from the index "
                    "built by `python -m explorer index`, with each feature position and its receptive field "
                    "in the source image's pixels.")
    add_model_argument(p)
    p.add_argument("--layer", required=True, metavar="L", help="an indexed layer")
    p.add_argument("--channel", required=True, type=int, metavar="C", help="channel number (from 0)")
    p.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    add_seed_option(p)
    p.add_argument("--db", default=None, metavar="PATH", help="index database file (default: as `index`)")
    p.add_argument("-k", type=int, default=None, metavar="N", help="at most N patches (default: all kept)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def top_json(top: Any) -> dict[str, Any]:
    return {"layer": top.layer, "channel": top.channel,
            "top": [{"image": p.image, "frame": p.frame, "score": round(p.score, 6), "y": p.y, "x": p.x,
                     "box": [round(v, 3) for v in p.box]} for p in top.patches]}


def top_text(top: Any) -> str:
    lines = [f"{top.model} ({top.weights_label} weights) {top.layer} channel {top.channel} of {top.channels}: "
             f"{len(top.patches)} of the top {top.top_k}"]
    for p in top.patches:
        frame = f" frame {p.frame}" if p.frame else ""
        x0, y0, x1, y1 = p.box
        lines.append(f"  {p.rank + 1}. {p.score:.4g}  {p.image}{frame}  (y {p.y}, x {p.x})  "
                     f"box [{x0:.1f}, {y0:.1f}, {x1:.1f}, {y1:.1f}]")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from explorer.cli.index import corrupt_message
    from explorer.cli.specs import resolve
    from explorer.core.patch_index import IndexCorruptError, top_patches

    if args.k is not None and args.k < 1:
        raise CLIError("-k must be at least 1")
    if args.channel < 0:
        raise CLIError("--channel must be 0 or more")
    if args.db is not None and Path(args.db).expanduser().is_dir():  # exit status 2, as index says it (was 1)
        raise CLIError(f"--db '{args.db}' is a folder, not a file; name the index database in it, such as "
                       f"'{Path(args.db) / 'patch-index.sqlite'}'")
    entry = resolve(args.model, args.trust)
    try:
        top = top_patches(entry.name, args.layer, args.channel, weights=args.weights or "", seed=args.seed,
                          db=args.db, k=args.k)
    except IndexCorruptError as exc:
        print("error: " + corrupt_message(exc, "rebuild it with `python -m explorer index MODEL SOURCE --layer L "
                                               "--rebuild`"), file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print_json(top_json(top))
    else:
        print(top_text(top))
    return 0
