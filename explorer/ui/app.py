"""GUI entry point: `python main.py` / `cnn-explorer`.

Only Qt is imported before the window is shown; torch loads in the model worker afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.arguments import ArgumentParser, CLIError, add_seed_option, add_weights_option

if TYPE_CHECKING:
    from explorer.core import zoo


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog="cnn-explorer", description="CNN Explorer: look inside classic CNNs.")
    parser.add_argument("--model", help="a zoo name (python -m explorer summary --list lists them), torchvision:NAME, "
                                        "timm:NAME, path/to/net.py[:callable], a TorchScript .pt, a .pt2 or an "
                                        ".onnx file")
    parser.add_argument("--input", metavar="HxW", help="input size of the model (default: the model's own)")
    add_weights_option(parser)
    add_seed_option(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--image", help="image file to open")
    source.add_argument("--video", help="video file to play")
    source.add_argument("--camera", type=int, metavar="INDEX", help="camera index to capture")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="where the model runs")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="load everything, let the window paint, save a PNG of the window and exit")
    parser.add_argument("--quit-after-shown", action="store_true",
                        help="exit as soon as the window has first painted (start-up measurement)")
    return parser.parse_args(argv)


def _check(args: argparse.Namespace) -> None:
    """What can be checked before the window opens, as the command line checks it: one `error:` line and exit 2
    rather than a window without the model or the source that was asked for. A weights file's contents are
    checked when the model loads (that needs torch); the window then says so and opens the default weights."""
    from explorer.core import zoo

    if args.model is not None:
        from explorer.core import model_specs

        if args.model in zoo.ZOO or not model_specs.is_spec(args.model):
            zoo.get(args.model)  # UnknownModelError lists the choices
        elif model_specs.parse(args.model).kind == "python":  # a missing file is one error line here
            model_specs.grant_consent(args.model)  # naming a Python file on the command line is consent
        # a .pt2's loading can unpickle Python objects: the window asks before it opens one
    for flag in ("image", "video"):
        path = getattr(args, flag)
        if path is not None and not Path(path).exists():
            raise CLIError(f"--{flag}: no such file: {path}")
    if args.image is not None:
        from explorer.core.images import load_image

        load_image(args.image)  # ImageError: empty, truncated, not an image, too large
    if args.video is not None:
        from explorer.core.sources import VideoSource

        video = VideoSource(args.video)  # SourceError: OpenCV cannot open it
        try:
            video.read()  # and its first frame decodes
        finally:
            video.close()
    if args.weights:
        # without --model the window opens the last model, which only the settings know: files only then
        _check_weights(args.weights, zoo.get(args.model) if args.model in zoo.ZOO else None)
    if args.device in ("cuda", "mps"):
        from explorer.core.engine import pick_device

        pick_device(args.device)  # imports torch: only when a device is named
    _input_size(args.input)
    if args.screenshot:
        parent = Path(args.screenshot).resolve().parent
        if not parent.is_dir():
            raise CLIError(f"--screenshot: no such folder: {parent}")


def _input_size(text: str | None) -> tuple[int, int] | None:
    from explorer.arguments import parse_image_size

    try:
        return parse_image_size(text or "")
    except CLIError as exc:
        raise CLIError(f"--input: {exc}") from None


def _check_weights(spec: str, entry: "zoo.ZooEntry | None") -> None:
    if spec in ("random", "pretrained", "bundled"):
        if entry is not None and spec not in entry.weight_choices:
            raise CLIError(f"--weights: {entry.name} has no {spec} weights; choose one of: "
                           f"{', '.join(entry.weight_choices)} or a file")
        return
    path = Path(spec).expanduser()
    if not path.is_file():
        raise CLIError(f"--weights: no such file: {spec}" if not path.exists() else f"--weights: not a file: {spec}")


@contextlib.contextmanager
def _private_settings() -> Iterator[Path]:
    """A --screenshot run neither reads nor writes the user's settings (README; new-user trial: it wrote
    recentFiles): the window and each panel that keeps options (graph colours, feature maps, exports) open
    theirs through explorer.ui.settings.open_settings, which follows CNN_EXPLORER_SETTINGS_DIR
    (explorer.core.app_dirs), so the run gets an empty folder of its own, removed when it ends; the picture
    then shows the defaults whatever was chosen last. The patch index stays where it was (its default follows
    that variable too): CNN_EXPLORER_DATA_DIR is pinned to it meanwhile. The environment is restored after (a
    test may call main() again in its process)."""
    import shutil
    import tempfile

    from explorer.core.app_dirs import SETTINGS_DIR_ENV
    from explorer.core.patch_index.store import default_db_path

    keys = (SETTINGS_DIR_ENV, "CNN_EXPLORER_DATA_DIR")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.setdefault("CNN_EXPLORER_DATA_DIR", str(default_db_path().parent))
    folder = Path(tempfile.mkdtemp(prefix="cnn-explorer-screenshot-"))
    os.environ[SETTINGS_DIR_ENV] = str(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _collect_in_gui_thread() -> object:
    """Python's cyclic garbage collector runs in whichever thread happens to allocate: in the model loader it
    can destroy a dead Qt widget off the GUI thread and deadlock against it (seen: the loader building a resnet
    collected a closed window's QMenu). pyqtgraph's GarbageCollector disables automatic collection and collects
    from a timer in the GUI thread instead. After the first paint: importing pyqtgraph costs ~0.3 s."""
    from pyqtgraph.util.garbage_collector import GarbageCollector

    return GarbageCollector(interval=1.0)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        _check(args)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2

    if args.screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with _private_settings() if args.screenshot else contextlib.nullcontext():
        return _run_window(args)


def _run_window(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    from explorer.ui.main_window import MainWindow, StartOptions

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CNN Explorer")
    app.setOrganizationName("cnn-explorer")
    window = MainWindow(StartOptions(
        model=args.model, weights=args.weights, image=args.image, video=args.video, camera=args.camera,
        device=args.device, seed=args.seed, input_size=_input_size(args.input), screenshot=args.screenshot,
        quit_after_shown=args.quit_after_shown))
    from PySide6.QtCore import QTimer

    collector: list[object] = []  # from the event loop's next turn after the first paint, not in its way
    window.first_painted.connect(lambda: QTimer.singleShot(0, lambda: collector.append(_collect_in_gui_thread())))
    window.show()
    code = app.exec()
    if window.isVisible():
        window.close()
    return int(code)
