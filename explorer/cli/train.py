"""`python -m explorer train yolov1-tiny|fasterrcnn-tiny`: train a project detector on synthetic scenes.

The weights go to a new file, ./MODEL-trained.pt, by default. The bundled weights (resources/weights/) are
replaced only when --out names them and --force is given: a quick trial run (--max-steps 1) once overwrote
them by default and left the app's detector scoring mAP 0.000.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from explorer.cli.common import CLIError, check_output_file, check_seed, make_folder, usable_device

MODELS = ("yolov1-tiny", "fasterrcnn-tiny")
# Defaults that reproduce the bundled weights (resources/weights/README.md; to replace them, add
# --out resources/weights/MODEL.pt --force); train fasterrcnn-tiny first.
DEFAULTS = {
    "yolov1-tiny": dict(epochs=30, scenes=4000, batch_size=16, lr=1e-3),
    "fasterrcnn-tiny": dict(epochs=8, scenes=2000, batch_size=8, lr=1e-3),
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train yolov1-tiny or fasterrcnn-tiny on synthetic shape scenes",
        description="Train one of the project's small detectors from scratch on generated scenes "
                    "(explorer.core.scenes), with a progress bar. A checkpoint (OUT.ckpt) is written after every "
                    "epoch; --resume continues from it. The result is a plain state_dict, written to "
                    "./MODEL-trained.pt unless --out says otherwise; the bundled weights are replaced only with "
                    "--out resources/weights/MODEL.pt --force.")
    p.add_argument("model", choices=MODELS, help="detector to train")
    p.add_argument("--epochs", type=int, help="passes over the training scenes (default: the bundled recipe)")
    p.add_argument("--scenes", type=int, help="number of training scenes, generated once (default: recipe)")
    p.add_argument("--seed", type=int, default=0, help="scene-set and torch seed, 0 or more (default 0)")
    p.add_argument("--batch-size", type=int, help="images per step (default: recipe)")
    p.add_argument("--lr", type=float, help="peak learning rate of Adam, above 0 (default: recipe)")
    p.add_argument("--out", type=Path,
                   help="file to save the weights to (default ./MODEL-trained.pt), checked before training starts; "
                        "a missing folder is created, with a line saying so; an existing file is replaced")
    p.add_argument("--force", action="store_true",
                   help="allow --out to replace a file in the bundled resources folder (the shipped weights)")
    p.add_argument("--resume", type=Path, help="checkpoint to continue from (OUT.ckpt of an earlier run)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for torch (default 2)")
    p.add_argument("--init-backbone", default="bundled",
                   help="yolov1-tiny only: start its conv layers from a trained fasterrcnn-tiny (bundled: the "
                        "shipped weights; a state_dict file; none: random init). Default bundled")
    p.add_argument("--backbone-lr-scale", type=float, default=1.0,
                   help="yolov1-tiny: learning-rate factor of the initialised conv layers, 0 or more (0 keeps them "
                        "as initialised; default 1)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (quick checks)")
    return p


def bundled_folders() -> list[Path]:
    """Folders whose files ship with the app: the repository's resources/ and the one in use (env
    CNN_EXPLORER_RESOURCES moves it)."""
    from explorer.core.train_common import RESOURCES
    from explorer.core.weights import resources_root

    return [RESOURCES.resolve(), resources_root().resolve()]


def check_out(out: Path, force: bool) -> None:
    """Refuse, before any training, to replace a bundled file without --force (CLIError, exit status 2)."""
    target = out.expanduser().resolve()
    bundled = any(target.is_relative_to(folder) for folder in bundled_folders())
    if bundled and (target.exists() or target.with_name(target.name + ".ckpt").exists()) and not force:
        raise CLIError(f"refusing to replace the bundled weights '{out}'; choose another --out, or add --force "
                       f"to replace them")


def check_numbers(args: argparse.Namespace) -> None:
    """Every numeric option, before any work: one sentence each (CLIError, exit status 2). A bad --lr used to
    reach Adam after the scenes were generated ("error: ValueError: Invalid learning rate: -1.0", status 1)."""
    for name in ("epochs", "scenes", "batch_size", "threads", "max_steps"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise CLIError(f"--{name.replace('_', '-')} must be positive")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise CLIError(f"--lr must be a positive number, such as 0.001 (not {args.lr:g})")
    if not (math.isfinite(args.backbone_lr_scale) and args.backbone_lr_scale >= 0):
        raise CLIError(f"--backbone-lr-scale must be 0 or more (not {args.backbone_lr_scale:g})")
    check_seed(args.seed)


def check_paths(out: Path, force: bool, model: str) -> Path | None:
    """The weights file and its checkpoint beside it can be written (checked before any work: a file where
    --out's folder should be once failed after a whole epoch); returns the folder to create, if missing."""
    check_out(out, force)
    missing = check_output_file(out, "--out", make_folder=True, example=f"{model}-trained.pt")
    check_output_file(out.with_name(out.name + ".ckpt"), "the checkpoint beside --out", make_folder=True)
    return missing


def run(args: argparse.Namespace) -> int:
    import time

    check_numbers(args)
    args.device = usable_device(args.device)  # as predict and evaluate say it
    out = args.out or Path(f"{args.model}-trained.pt")
    missing = check_paths(out, args.force, args.model)

    from explorer.core.train_common import RESOURCES, TrainConfig

    recipe = DEFAULTS[args.model]
    init_backbone = None
    if args.model == "yolov1-tiny" and args.init_backbone.lower() != "none":
        init_backbone = (RESOURCES / "weights" / "fasterrcnn-tiny.pt" if args.init_backbone == "bundled"
                         else Path(args.init_backbone))
    make_folder(missing, "--out")
    config = TrainConfig(
        model=args.model,
        epochs=args.epochs or recipe["epochs"], scenes=args.scenes or recipe["scenes"], seed=args.seed,
        batch_size=args.batch_size or recipe["batch_size"], lr=args.lr or recipe["lr"], out=out,
        resume=args.resume, device=args.device, threads=args.threads, max_steps=args.max_steps,
        init_backbone=init_backbone, backbone_lr_scale=args.backbone_lr_scale)
    if args.model == "yolov1-tiny":
        from explorer.core.train_yolo import train
    else:
        from explorer.core.train_fasterrcnn import train
    t0 = time.perf_counter()
    train(config)
    size_mb = out.stat().st_size / 1e6
    print(f"saved {out} ({size_mb:.1f} MB) after {time.perf_counter() - t0:.0f} s on {args.device}; "
          f"checkpoint {out.name}.ckpt; evaluate with: python -m explorer evaluate {args.model} --weights {out}")
    return 0
