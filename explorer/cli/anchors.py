"""`python -m explorer anchors`: Faster R-CNN's anchors (py-faster-rcnn's or torchvision's convention)."""

from __future__ import annotations

import argparse

from explorer.cli.common import CLIError, parse_size, print_json


def _positive_floats(values: list[str], what: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)
    except ValueError:
        raise CLIError(f"invalid {what} {' '.join(values)}: expected numbers") from None
    return out


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "anchors", help="list Faster R-CNN anchors",
        description="List the RPN's anchors (x1 y1 x2 y2, input pixels): the k = sizes × ratios anchors of the "
                    "first position, or every anchor of a feature map with --feature-size. Order: ratio-major "
                    "then size; positions row by row.")
    p.add_argument("--convention", choices=("original", "torchvision"), default="original",
                   help="original: py-faster-rcnn's generate_anchors (inclusive pixels, centres at (stride-1)/2 + "
                        "stride·i); torchvision: AnchorGenerator (centred on stride·i). Default: original")
    p.add_argument("--sizes", nargs="+", default=["128", "256", "512"], metavar="PX",
                   help="anchor sizes in pixels (square root of the area); default 128 256 512")
    p.add_argument("--ratios", nargs="+", default=["0.5", "1", "2"], metavar="H/W",
                   help="aspect ratios height/width; default 0.5 1 2")
    p.add_argument("--stride", type=int, default=16, help="feature stride in pixels; default 16")
    p.add_argument("--feature-size", metavar="HxW", help="list every anchor of an H×W feature map")
    p.add_argument("--json", action="store_true", help='print {"anchors": [[x1, y1, x2, y2], ...]}')
    return p


def run(args: argparse.Namespace) -> int:
    from explorer.core import anchors as A

    sizes = _positive_floats(args.sizes, "sizes")
    ratios = _positive_floats(args.ratios, "ratios")
    cfg = A.AnchorConfig(sizes, ratios, args.stride, args.convention)  # raises a one-line error on bad values
    if args.feature_size:
        fs = parse_size(args.feature_size)
        if len(fs) != 2:
            raise CLIError(f"invalid feature size '{args.feature_size}': expected HxW, e.g. 38x50")
        boxes = cfg.grid_anchors(fs)
    else:
        fs = None
        boxes = cfg.cell_anchors()
    if args.json:
        print_json({"anchors": [[_num(v) for v in row] for row in boxes.tolist()]})
        return 0
    k = cfg.num_anchors
    where = f"{fs[0]}x{fs[1]} feature map, {fs[0] * fs[1]} positions × {k} = {len(boxes)} anchors" if fs else \
        f"first position, {k} anchors"
    print(f"{args.convention} convention, stride {args.stride}: {where}")
    header = ("y", "x", "a", "size", "h:w", "x1", "y1", "x2", "y2", "width", "height")
    print("  ".join(f"{h:>8}" for h in header))
    fw = fs[1] if fs else 1
    inclusive = 1 if args.convention == "original" else 0  # py-faster-rcnn counts both end pixels
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        pos, a = divmod(i, k)
        y, x = divmod(pos, fw)
        size, ratio = cfg.shape_of(a)
        row = (y, x, a, f"{size:g}", f"{ratio:g}", _num(x1), _num(y1), _num(x2), _num(y2),
               _num(x2 - x1 + inclusive), _num(y2 - y1 + inclusive))
        print("  ".join(f"{v:>8}" for v in row))
    return 0


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else round(float(v), 4)
