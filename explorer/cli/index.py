"""`python -m explorer index MODEL SOURCE --layer L`: index a folder or video's top activations per channel.

For every channel of each `--layer`, the K frames (`--top`, default 9) whose activation is strongest, each with
its feature position (explorer.core.patch_index; Zeiler and Fergus, ECCV 2014, Fig. 2). Progress goes to
stderr (one line rewritten on a terminal, a line every few seconds otherwise); files that cannot be decoded are
`warning: skipped` lines; the summary goes to stdout (`--json`: one object). Ctrl+C saves what was indexed,
exit status 130; running the command again continues from there. `top` reads the index.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any

from explorer.arguments import DEVICE_HELP, WEIGHTS_HELP, add_seed_option
from explorer.cli.common import CLIError, check_output_file, print_json, skipped_warning, usable_device
from explorer.cli.specs import add_model_argument

EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "index", help="index a folder's or video's strongest activations per channel",
        description="For every channel of the chosen layers, find the K images (or video frames) of SOURCE that "
                    "activate it most, and keep them in an index database (SQLite). Folders are searched "
                    "recursively; files already indexed (by content hash) are skipped, so running again only "
                    "adds new files, and an interrupted run continues where it stopped. Read the index with "
                    "`python -m explorer top`.")
    add_model_argument(p)
    p.add_argument("source", metavar="SOURCE", help="a folder of images (searched recursively), an image or a "
                                                    "video file")
    p.add_argument("--layer", action="append", required=True, metavar="L",
                   help="a layer to index (module path or graph node name); repeat for several")
    p.add_argument("--top", type=int, default=None, metavar="K", help="activations kept per channel (default 9)")
    p.add_argument("--db", default=None, metavar="PATH",
                   help="index database file (default: $CNN_EXPLORER_DATA_DIR/patch-index.sqlite, else "
                        "$CNN_EXPLORER_SETTINGS_DIR/patch-index.sqlite, else "
                        "~/.local/share/cnn-explorer/patch-index.sqlite, $XDG_DATA_HOME standing for ~/.local/share)")
    p.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    add_seed_option(p)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--batch", type=int, default=16, metavar="N", help="frames per forward pass (default 16)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="decoding threads or processes (default: one per spare CPU, 1 to 4; 0: decode in turn "
                        "with the forward passes)")
    p.add_argument("--loader", default="auto", choices=("auto", "thread", "process"),
                   help="decode in threads of this process or in DataLoader worker processes (default auto: "
                        "threads on the CPU, processes on a GPU)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="a video's every Nth frame (default 1)")
    p.add_argument("--several-per-image", action="store_true",
                   help="allow several entries of one channel from the same image (default: one per image)")
    p.add_argument("--fresh", action="store_true",
                   help="discard what is indexed for these layers (this model and weights) and start again: "
                        "needed to change --top or --several-per-image")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the shards on Ray Data: 'local' starts a Ray instance on this machine, 'auto' or "
                        "ray://HOST:PORT joins a cluster whose nodes see SOURCE at the same path (needs the "
                        "[cluster] extra)")
    p.add_argument("--rebuild", action="store_true",
                   help="if the database is damaged or not an index, move it aside (kept as "
                        "PATH.damaged-TIME) and start a new one")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return p


def source_unit(source: str) -> str:
    """What a run counts: a video's "frames", a folder's (or one image's) "images" (as the window's index bar:
    explorer.ui.feature_maps.indexing.IndexJob.unit; new-user trial: "5/5 frames" of a folder, then "4 frames
    of 4 files")."""
    from explorer.core.patch_index.files import is_video_path

    return "frames" if is_video_path(source) else "images"


def counted(n: int, unit: str) -> str:
    """'7 images', '1 image', '1 frame'."""
    return f"{n} {unit if n != 1 else unit.removesuffix('s')}"


class _Reporter:
    """Progress on stderr: rewritten in place on a terminal, else a line every `every_s` seconds."""

    def __init__(self, every_s: float = 5.0, unit: str = "frames") -> None:
        self.unit = unit
        self.tty = sys.stderr.isatty()
        self.every_s = every_s
        self.last = 0.0
        self.shown = False

    def __call__(self, p: Any) -> None:
        now = time.monotonic()
        final = p.total and p.done >= p.total
        if not self.tty and not final and now - self.last < self.every_s:
            return
        self.last = now
        if p.stage == "hashing":
            text = f"hashing {p.done}/{p.total} files"
        else:
            share = f" ({100 * p.done / p.total:.0f}%)" if p.total else ""
            eta = f", ETA {_duration(p.eta_s)}" if p.eta_s is not None and not final else ""
            skipped = f", {p.skipped} skipped" if p.skipped else ""
            text = f"indexing {p.done}/{p.total or '?'} {self.unit}{share}, {p.rate:.1f} {self.unit}/s{eta}{skipped}"
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
            self.shown = True
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def warn(self, text: str) -> None:
        """A line of its own, above the progress line on a terminal."""
        sys.stderr.write(("\r\033[K" if self.tty and self.shown else "") + text + "\n")
        self.shown = False
        sys.stderr.flush()

    def end(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\n")
            self.shown = False


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def summary_json(summary: Any) -> dict[str, Any]:
    return {
        "db": str(summary.db), "model": summary.model, "weights": summary.weights.label,
        "weights_key": summary.weights.key,
        "layers": [{"layer": i.layer, "channels": i.channels, "top_k": i.top_k, "frames": i.frames,
                    "files": i.files, "one_per_image": i.distinct_images} for i in summary.layers],
        "indexed": summary.frames_indexed, "files_indexed": summary.files_indexed,
        "already_indexed": summary.already_indexed,
        "skipped": [{"source": s.path, "frame": s.frame, "error": s.message} for s in summary.skipped],
        "cancelled": summary.cancelled, "seconds": round(summary.seconds, 3),
        "frames_per_s": round(summary.rate, 3),
    }


def summary_text(summary: Any, unit: str = "frames") -> str:
    """The summary in the run's `unit` (source_unit): an image is one file and one frame, so a folder's counts
    are images; a video's are frames of files."""
    def amount(frames: int, files: int) -> str:
        return counted(frames, unit) if unit == "images" else f"{counted(frames, unit)} of {counted(files, 'files')}"

    lines = [f"{summary.model} ({summary.weights.label} weights) → {summary.db}",
             f"indexed {amount(summary.frames_indexed, summary.files_indexed)} in "
             f"{summary.seconds:.1f} s ({summary.rate:.1f} {unit}/s while indexing); "
             f"{counted(summary.already_indexed, 'files')} already indexed; {len(summary.skipped)} skipped"]
    lines += [f"  {i.layer}: {i.channels} channels, top {i.top_k}"
              f"{'' if i.distinct_images else ' (several per image)'}, {amount(i.frames, i.files)}"
              for i in summary.layers]
    return "\n".join(lines)


def corrupt_message(exc: Any, rebuild_hint: str) -> str:
    """A damaged database: what is wrong, then how to rebuild it from the command line."""
    return f"the index database '{exc.path}' is damaged or not an index ({exc.reason}); {rebuild_hint}"


def run(args: argparse.Namespace) -> int:
    from explorer.cli.specs import resolve
    from explorer.core.patch_index import (DEFAULT_TOP_K, IndexCorruptError, IndexMismatchError, IndexRequest,
                                           PatchStore, default_db_path, index_source, rebuild_store)

    top = DEFAULT_TOP_K if args.top is None else args.top
    for name, value in (("--top", top), ("--batch", args.batch), ("--every", args.every)):
        if value < 1:
            raise CLIError(f"{name} must be at least 1")
    if args.workers is not None and args.workers < 0:
        raise CLIError("--workers cannot be negative")
    cluster = None
    if args.ray is not None:
        from explorer.core.patch_index.shards import RAY_MISSING, RayCluster

        try:
            import ray  # noqa: F401 # pyflakes: ignore - only whether it is installed
        except ImportError:
            raise CLIError(RAY_MISSING) from None
        cluster = RayCluster(address=None if args.ray == "local" else args.ray)
    if cluster is None:  # on Ray, the device is the nodes', not this machine's
        usable_device(args.device)
    entry = resolve(args.model, args.trust)
    db = default_db_path() if args.db is None else args.db
    # a folder, or a file where its folder should be: exit status 2 before any work (was 1); a missing folder
    # is created by the store, as for the default database
    check_output_file(db, "--db" if args.db is not None else "the index database", make_folder=True,
                      example="patch-index.sqlite")
    if args.rebuild:
        try:
            PatchStore(db).close()
        except IndexCorruptError:
            backup = rebuild_store(db)
            print(f"warning: moved the damaged index aside to '{backup}' and started a new one", file=sys.stderr)
    request = IndexRequest(entry.name, list(args.layer), weights=args.weights or "", seed=args.seed, top_k=top,
                           distinct_images=not args.several_per_image, device=args.device, batch_size=args.batch,
                           workers=args.workers, loader=args.loader, frame_step=args.every, restart=args.fresh)
    cancel = threading.Event()
    unit = source_unit(args.source)
    reporter = _Reporter(unit=unit)

    def skipped(item: Any) -> None:
        reporter.warn(skipped_warning(item.path, item.message, item.frame))

    previous = signal.getsignal(signal.SIGINT)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:  # Ctrl+C: finish the batch in flight, save, stop
        signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        summary = index_source(args.source, request, db, progress=reporter, cancel=cancel, on_skip=skipped,
                               cluster=cluster)
    except IndexCorruptError as exc:
        reporter.end()
        print("error: " + corrupt_message(exc, "run again with --rebuild to move it aside and start a new index"),
              file=sys.stderr)
        return EXIT_FAILURE
    except IndexMismatchError as exc:
        reporter.end()
        print(f"error: {exc} (--fresh)", file=sys.stderr)
        return EXIT_USAGE
    finally:
        reporter.end()
        if in_main:
            signal.signal(signal.SIGINT, previous)
    if args.json:
        print_json(summary_json(summary))
    else:
        print(summary_text(summary, unit))
    if summary.cancelled:
        print(f"error: interrupted; {counted(summary.frames_indexed, unit)} indexed so far are saved: run the same "
              "command again to continue", file=sys.stderr)
        return EXIT_INTERRUPTED
    if summary.frames_indexed == 0 and summary.already_indexed == 0:
        print(f"error: no {unit.removesuffix('s')} could be indexed", file=sys.stderr)
        return EXIT_FAILURE
    return 0
