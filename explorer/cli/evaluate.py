"""`python -m explorer evaluate MODEL`: mAP@0.5 (VOC style) of a project detector on fresh synthetic scenes."""

from __future__ import annotations

import argparse

from explorer.cli.common import CLIError, check_seed, print_json, usable_device

MODELS = ("yolov1-tiny", "fasterrcnn-tiny")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate", help="mAP@0.5 of yolov1-tiny or fasterrcnn-tiny on fresh synthetic scenes",
        description="Generate N fresh scenes (set --seed; training uses set 0) and print mAP@0.5, PASCAL VOC "
                    "all-point interpolated AP, overall and per class.")
    p.add_argument("model", choices=MODELS, help="detector to evaluate")
    p.add_argument("--weights", default="bundled", help="bundled (default), random, or a state_dict file")
    p.add_argument("--scenes", type=int, default=200, help="number of scenes (default 200)")
    p.add_argument("--seed", type=int, default=1,
                   help="scene-set seed, 0 or more (default 1; set 0 is the training set)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def run(args: argparse.Namespace) -> int:
    if args.scenes <= 0:
        raise CLIError("--scenes must be positive")
    check_seed(args.seed)
    device = usable_device(args.device)  # a device this machine lacks: one line, exit status 2, as predict
    import torch

    from explorer.core.evaluate import evaluate

    torch.set_num_threads(min(2, torch.get_num_threads()))
    result = evaluate(args.model, args.weights, args.scenes, args.seed, device)
    if args.json:
        print_json(result.to_json())
        return 0
    if args.seed == 0:
        print("note: seed 0 is the training set; use another seed for a fair score")
    print(f"{result.model} ({result.weights} weights): mAP@0.5 = {result.map50:.3f} on {result.scenes} scenes, "
          f"seed {result.seed}")
    for cls, ap in result.per_class.items():
        print(f"  {cls:<10} AP {ap:.3f}")
    return 0
