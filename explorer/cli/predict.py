"""`python -m explorer predict MODEL SOURCE`: run a model (a zoo name or any model spec) on an image, a folder, a
video or a camera.

Every frame of a video is processed in order (no frames are dropped on the command line: the results are
meant to be reproducible); a camera gives `--frames` frames (default 1). A folder's unreadable files are
reported on stderr as `warning:` lines and skipped; the exit status is 0 when at least one image was
processed (a folder where nothing decodes is an error). A video that breaks in the middle prints the results
so far, then one `error:` line, and exits 1.

Numbering: results of a folder, video or camera are numbered #0, #1, ... in the order processed (the JSON
`frame` field): a folder's decodable images in name order, so a skipped file leaves no gap; a video's frame
index. A single image is frame 0 and printed without a number. With --json, a folder's skipped files are also
listed under "skipped" ({"source", "error"} each).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from explorer.arguments import add_seed_option
from explorer.cli.common import CLIError, print_json, skipped_warning, usable_device
from explorer.cli.specs import add_input_option, add_model_argument


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict", help="run a model on an image, folder, video or camera",
        description="Run a zoo model on an image, a folder of images, a video file or a camera index and print "
                    "its top-5 classes, boxes (in the source image's pixels) or segmentation classes. "
                    "Results of a folder, video or camera are numbered #0, #1, ... in the order processed "
                    "(JSON field \"frame\"): a folder's decodable images in name order, so files that cannot "
                    "be decoded take no number; they are reported on stderr as 'warning: skipped' lines (and "
                    "under \"skipped\" with --json).")
    add_model_argument(p)
    p.add_argument("source", help="image file, folder, video file or camera index (0, 1, ...)")
    p.add_argument("--weights", default=None,
                   help="random | pretrained | bundled | PATH to a state_dict (default: the model's default: "
                        "bundled where shipped, else random)")
    p.add_argument("--device", default="auto", help="auto (CUDA, else MPS, else CPU) | cpu | cuda | cuda:N | mps")
    add_seed_option(p)
    add_input_option(p)
    p.add_argument("--frames", type=int, default=None,
                   help="frames to process from a video or camera (default: the whole video, 1 camera frame)")
    p.add_argument("--threshold", type=float, default=0.5, help="detection score threshold (default 0.5)")
    p.add_argument("--resolution", default=None, help="camera resolution WxH, e.g. 640x480")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--raw", action="store_true",
                   help="with --json, for YOLO models: add each result's raw S×S×(B·5+C) output per cell")
    return p


def result_json(result: Any) -> dict[str, Any]:
    """One FrameResult in the command line's JSON shape (issue 5)."""
    out: dict[str, Any] = {"source": result.frame.source, "frame": int(result.frame.index)}
    if result.topk is not None:
        out["topk"] = [{"index": c.index, "label": c.label, "score": round(c.score, 6)} for c in result.topk]
    if result.boxes is not None:
        out["boxes"] = [{"box": [round(v, 2) for v in d.box], "label": d.label, "score": round(d.score, 6)}
                        for d in result.boxes]
    if result.segmentation is not None:
        out["segmentation"] = {"classes": list(result.segmentation.classes)}
    out["timing_ms"] = {k: round(v, 3) for k, v in result.timing_ms.items()}
    return out


def result_text(result: Any, numbered: bool = True) -> str:
    """The text block of one result; `numbered` adds the frame number (#0, #1, ...) to the source line."""
    head = f"{result.frame.source}" + (f" #{result.frame.index}" if numbered else "")
    lines = [head]
    if result.topk is not None:
        lines += [f"  {i}. {c.label} ({c.index}) {c.score:.4f}" for i, c in enumerate(result.topk, 1)]
    if result.boxes is not None:
        if not result.boxes:
            lines.append("  no boxes above the threshold")
        lines += [f"  {d.label} {d.score:.3f} [{d.box[0]:.1f}, {d.box[1]:.1f}, {d.box[2]:.1f}, {d.box[3]:.1f}]"
                  for d in result.boxes]
        note = result.extras.get("note") if isinstance(result.extras, dict) else None
        if note:
            lines.append(f"  ({note})")
    if result.segmentation is not None:
        lines.append("  classes present: " + ", ".join(result.segmentation.classes))
    t = result.timing_ms
    lines.append("  ms: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
    return "\n".join(lines)


def _frames(source: Any, limit: int | None):
    """Frames of any source, in order; a broken stream raises after the frames read so far."""
    from explorer.core.sources import EndOfStream, FolderSource, ImageSource

    if isinstance(source, ImageSource):
        yield source.current()
        return
    if isinstance(source, FolderSource):
        # the folder's frames carry their position in the file list (bad files included, for stepping in
        # the UI); here they are numbered in the order processed, so skipped files leave no gap
        for i, frame in enumerate(source):
            if limit is not None and i >= limit:
                return
            yield dataclasses.replace(frame, index=i)
        return
    n = limit if limit is not None else (1 if source.live else None)
    count = 0
    while n is None or count < n:
        try:
            frame = source.read()
        except EndOfStream:
            return
        yield frame
        count += 1


def run(args: argparse.Namespace) -> int:
    import torch  # noqa: F401 - imported here, not at module level (fast --help)

    from explorer.cli import specs
    from explorer.core.engine import Engine
    from explorer.core.errors import ExplorerError, SourceError
    from explorer.core.opening import open_model
    from explorer.core.sources import FolderSource, ImageSource, open_source
    from explorer.core.weights import RANDOM_NOTE

    if args.frames is not None and args.frames <= 0:
        raise CLIError("--frames must be a positive number")
    if not 0.0 <= args.threshold <= 1.0:
        raise CLIError("--threshold must be between 0 and 1")
    resolution = None
    if args.resolution:
        from explorer.cli.common import parse_size

        dims = parse_size(args.resolution)
        if len(dims) != 2:
            raise CLIError(f"invalid resolution '{args.resolution}': expected WxH, e.g. 640x480")
        resolution = (dims[0], dims[1])
    entry = specs.resolve(args.model, args.trust)
    shape = specs.input_shape(entry, args.input)
    if args.raw and (not args.json or entry.preprocess != "yolo"):
        raise CLIError("--raw needs --json and a YOLO model (yolov1, yolov1-tiny)")
    device = usable_device(args.device)
    source = open_source(args.source, resolution)  # fails fast, before the model is built
    warned: list[dict[str, str]] = []
    if isinstance(source, FolderSource):
        def warn(item):
            warned.append({"source": str(item.path), "error": item.message})
            print(skipped_warning(item.path, item.message), file=sys.stderr)
        source.on_skip = warn
        for item in source.skipped:  # found while opening
            warn(item)

    handle = open_model(entry.name, args.weights or "", device, seed=args.seed, capture=False,
                        input_size=specs.chosen_size(shape, args.input)).handle
    model, is_random = handle.model, handle.weights == "random"
    engine = Engine(model, specs.with_input(entry, shape), device, handle.weights, score_threshold=args.threshold)
    if not args.json:
        print(f"{args.model} on {device}, weights: {handle.weights_label}")
        if is_random:
            print(f"warning: {args.model} has {RANDOM_NOTE}", file=sys.stderr)
    for note in entry.notes:
        print(f"note: {note}", file=sys.stderr)
    numbered = not isinstance(source, ImageSource)
    results = []
    failure: ExplorerError | None = None
    try:
        for frame in _frames(source, args.frames):
            res = engine.run(frame)
            results.append(res)
            if not args.json:
                print(result_text(res, numbered) + (f"\n  [{RANDOM_NOTE}]" if is_random else ""),
                      flush=True)
    except SourceError as exc:
        failure = exc
    finally:
        source.close()
    if args.json:
        out: dict[str, Any] = {"model": args.model, "weights": handle.weights, "device": device,
                               "results": [_with_raw(result_json(r), r, model, args.raw) for r in results]}
        if isinstance(source, FolderSource):
            out["skipped"] = warned
        print_json(out)
    if failure is not None:
        print(f"error: {failure}", file=sys.stderr)
        return 1
    if not results:
        print("error: no frames were processed", file=sys.stderr)
        return 1
    return 0


def _with_raw(out: dict[str, Any], result: Any, model: Any, raw: bool) -> dict[str, Any]:
    """--raw: YOLO's output as a nested [S][S][B·5+C] list beside the decoded boxes (explorer.core.yolo)."""
    if not raw or result.raw is None:
        return out
    from explorer.core.yolo import model_layout, yolo_raw_json

    S, B, C, _ = model_layout(model)
    return {**out, **yolo_raw_json(result.raw, S, B, C)}
