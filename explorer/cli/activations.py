"""`python -m explorer activations MODEL IMAGE --layer NAME`: one layer's feature maps as a mosaic PNG.

The image goes through the model's own preprocessing (explorer.core.preprocess), a forward hook on the layer
keeps its output (explorer.core.activations), and every channel is tiled into one mosaic
(explorer.core.mosaic). `--json` prints {"layer", "shape": [C, H, W], "mosaic": [width, height], "min", "max",
"mean"} (statistics of the raw activation).
"""

from __future__ import annotations

import argparse
from typing import Any

from explorer.arguments import add_seed_option
from explorer.cli.common import CLIError, check_output_file, print_json, usable_device
from explorer.cli.specs import add_input_option, add_model_argument
from explorer.core.errors import ExplorerError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "activations", help="write a layer's feature maps as a mosaic PNG",
        description="Run MODEL on IMAGE and write every channel of layer NAME as one mosaic image. NAME is a "
                    "module path (layer1, features.0, backbone) or a graph node name (layer1.0.relu#1).")
    add_model_argument(p)
    p.add_argument("image", metavar="IMAGE", help="image file")
    p.add_argument("--layer", required=True, metavar="NAME", help="module path or graph node name")
    p.add_argument("--weights", default=None,
                   help="random, pretrained, bundled or a checkpoint file (default: the model's default)")
    p.add_argument("--out", default="mosaic.png", help="PNG to write (default: mosaic.png)")
    p.add_argument("--output", dest="output_key", default=None, metavar="KEY",
                   help="which output of a multi-output module (an FPN level such as 0 or pool; default: first)")
    p.add_argument("--order", default="index", choices=("index", "mean", "max"), help="channel order")
    p.add_argument("--top-k", type=int, default=None, help="keep only the first K channels of the order")
    p.add_argument("--norm", default="channel", choices=("channel", "layer", "fixed"), help="normalisation")
    p.add_argument("--range", dest="value_range", default=None, metavar="LO,HI",
                   help="value range for --norm fixed (default 0,1)")
    p.add_argument("--colormap", default=None,
                   help="viridis, inferno, gray, rdbu or coolwarm (default: viridis, or rdbu for signed outputs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")
    add_seed_option(p)
    add_input_option(p)
    p.add_argument("--json", action="store_true", help="print the layer's shape and statistics as JSON")
    return p


def _parse_range(text: str | None) -> tuple[float, float]:
    if text is None:
        return 0.0, 1.0
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise CLIError(f"invalid --range '{text}': expected LO,HI such as -1,1") from None
    if not hi > lo:
        raise CLIError(f"invalid --range '{text}': HI must be greater than LO")
    return lo, hi


def run(args: argparse.Namespace) -> int:
    import cv2
    import torch

    from explorer.cli import specs
    from explorer.core.activations import capture_activation
    from explorer.core.images import load_image
    from explorer.core.mosaic import COLORMAPS, MosaicOptions, build_mosaic
    from explorer.core.opening import open_model
    from explorer.core.preprocess import Preprocessor

    if args.colormap is not None and args.colormap not in COLORMAPS:
        raise CLIError(f"unknown colormap '{args.colormap}'; choose one of: {', '.join(COLORMAPS)}")
    if args.top_k is not None and args.top_k < 1:
        raise CLIError("--top-k must be at least 1")
    value_range = _parse_range(args.value_range)
    if not str(args.out).lower().endswith(".png"):
        raise CLIError(f"--out '{args.out}' must be a .png file")
    check_output_file(args.out, "--out", example="mosaic.png")
    args.device = usable_device(args.device)

    entry = specs.resolve(args.model, args.trust)
    shape = specs.input_shape(entry, args.input)
    image = load_image(args.image)
    model = open_model(entry.name, args.weights or "", args.device, seed=args.seed, capture=False,
                       input_size=specs.chosen_size(shape, args.input)).handle.model
    prepared = Preprocessor(specs.with_input(entry, shape), args.device)(image)

    graph = None
    if args.layer not in dict(model.named_modules()):
        # a graph node name (a shared module's second call, a functional op): capture the graph to resolve it
        from explorer.core.capture import capture_graph

        graph = capture_graph(model, entry.name, (3, *prepared.input_size), example=prepared.model_input)

    with torch.inference_mode():
        act, key, keys, ref = capture_activation(model, args.layer, lambda: model(prepared.model_input), graph,
                                                 args.output_key)
    if args.output_key is not None and key != args.output_key:
        raise CLIError(f"layer '{args.layer}' has no output '{args.output_key}'; choose one of: {', '.join(keys)}")
    signed = bool((act < 0).any())
    colormap = args.colormap or ("rdbu" if signed else "viridis")
    mosaic = build_mosaic(act, MosaicOptions(order=args.order, top_k=args.top_k, norm=args.norm,
                                             fixed_range=value_range, colormap=colormap))
    if not cv2.imwrite(str(args.out), cv2.cvtColor(mosaic.image, cv2.COLOR_RGB2BGR)):
        raise ExplorerError(f"cannot write '{args.out}': does its folder exist, and may it be written?")
    c, h, w = (int(v) for v in act.shape)
    stats = {"min": float(act.min()), "max": float(act.max()), "mean": float(act.float().mean())}
    if args.json:
        out: dict[str, Any] = {"layer": args.layer, "shape": [c, h, w], "mosaic": [mosaic.width, mosaic.height],
                               **stats, "module": ref.module_path, "output": key, "outputs": keys,
                               "grid": list(mosaic.grid), "colormap": colormap, "file": str(args.out)}
        if ref.note:
            out["note"] = ref.note
        print_json(out)
    else:
        where = f" [{key}]" if len(keys) > 1 else ""
        print(f"{args.layer}{where}: {c}×{h}×{w}, min {stats['min']:.4g}, max {stats['max']:.4g}, "
              f"mean {stats['mean']:.4g} → {args.out} ({mosaic.width}×{mosaic.height}, "
              f"{mosaic.grid[0]}×{mosaic.grid[1]} tiles, {colormap})")
        if ref.note:
            print(f"note: {ref.note}")
    return 0
