"""Benchmark: build and show feature-map mosaics, and the live pipeline with feature maps shown.

Prints
1. the time to build the mosaic (explorer.core.mosaic.build_mosaic: order, normalise, colormap, tile, copy the
   uint8 image to the host) and to show it (one pyqtgraph ImageItem.setImage + a paint of its view) for
   resnet50's layer1 (256×56×56) and layer4 (2048×7×7), median of N runs (target: each under 10 ms), and
   layer1 at the size the 600×600 view shows it (the dock's shrink, explorer.core.mosaic.display_shrink);
2. the live pipeline ratio (pipeline fps / bare model(x) fps) on the Session, as bench/pipeline.py measures
   it, without and with the feature-map dock showing `--layer` (its probe builds the mosaic in the pipeline
   thread; the dock draws it and is rendered whenever the maps change: at the dock's live rate, `--rate`,
   10/s by default, 0 = every frame); and once more with the mosaic built with every feature pixel although
   the view shows it smaller (shrink 1: the baseline of the dock's shrinking, explorer.core.mosaic.display_shrink).

    python bench/mosaic.py [--model resnet18] [--layer conv1] [--rate 10] [--seconds 5] [--repeats 3] [--threads N]

Timings on a shared machine are noisy: medians are printed; compare ratios from the same run only.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _times_ms(fn, n: int, sync=None) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _median_ms(fn, n: int, sync=None) -> float:
    return statistics.median(_times_ms(fn, n, sync))


def bench_mosaics(args, app, pg) -> None:
    import torch
    import torchvision

    from explorer.core.activations import capture_activation
    from explorer.core.mosaic import MosaicOptions, build_mosaic, display_shrink

    from explorer.ui.feature_maps import ImageView

    device = args.device
    model = torchvision.models.resnet50().eval().to(device)
    x = torch.rand(1, 3, 224, 224, device=device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else None
    view = ImageView()  # the feature-map dock's view: one ImageItem, filtered where it shrinks the mosaic
    view.resize(600, 600)
    view.show()
    app.processEvents()
    from explorer.core.threads import compute_threads

    print(f"mosaic build + show, resnet50, {device}, torch threads {compute_threads()}, "
          f"median (min) of {args.n}:")
    from explorer.core.threads import use_compute_threads

    for layer in ("layer1", "layer4"):
        got: dict[str, object] = {}

        def capture(layer=layer, got=got) -> None:
            use_compute_threads()
            with torch.inference_mode():
                got["act"] = capture_activation(model, layer, lambda: model(x))[0]
        t = threading.Thread(target=capture)
        t.start()
        t.join()
        act = got["act"]
        c, h, w = act.shape
        fit = MosaicOptions(shrink=display_shrink(c, h, w, view.width(), view.height()))
        for opts in (MosaicOptions(), MosaicOptions(order="mean", top_k=None, colormap="rdbu"), fit):
            if opts is fit and fit.shrink == 1:
                continue  # already shown at its size
            # built in another thread, as the inference worker does; the threads end, so no OpenMP team stays
            # behind to slow the pipeline runs below (explorer.core.threads)
            out: dict[str, list[float]] = {}

            def work(act=act, opts=opts, out=out) -> None:
                use_compute_threads()
                with torch.inference_mode():
                    build_mosaic(act, opts)  # warm up (LUT upload, scratch buffers)
                    out["t"] = _times_ms(lambda: build_mosaic(act, opts), args.n, sync)

            worker = threading.Thread(target=work)
            worker.start()
            worker.join()
            build_times = out["t"]
            build, build_min = statistics.median(build_times), min(build_times)
            mosaic = build_mosaic(act, opts)

            def show() -> None:
                view.set_image(mosaic.rgba)
                view.viewport().repaint()  # paint now, not at the next event-loop turn

            show()
            show_times = _times_ms(show, args.n)
            shown, shown_min = statistics.median(show_times), min(show_times)
            c, h, w = act.shape
            label = f"{layer} {c}×{h}×{w} order={opts.order} cmap={opts.colormap}"
            if opts.shrink > 1:
                label += f" shrink {opts.shrink}"
            print(f"  {label:<56} build {build:6.2f} ({build_min:5.2f}) ms   "
                  f"show {shown:6.2f} ({shown_min:5.2f}) ms   "
                  f"total {build + shown:6.2f} ({build_min + shown_min:5.2f}) ms   {mosaic.width}×{mosaic.height}")


def bench_pipeline(args, app, pg) -> None:
    """The live pipeline on the Session (explorer.core.session, the app's own path: MJPG video → capture thread
    → pipeline thread: preprocess, forward, probes → SessionBridge → AppState → InferencePanel), with the
    feature-map dock added: its probe on `args.layer` runs in the pipeline thread (hook + mosaic) and the dock,
    drawing the mosaic, is rendered whenever its maps change (as the screen would be). Interleaved runs: bare
    model(x), pipeline without maps, pipeline with maps, and with maps built with every feature pixel; medians
    compared."""
    import cv2
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QSplitter

    sys.path.insert(0, str(ROOT / "bench"))
    import pipeline as P  # noqa: E402 - bench/pipeline.py's video and bare loop, reused

    from explorer.core.opening import open_model
    from explorer.core.preprocess import Preprocessor
    from explorer.core.threads import use_one_thread
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.feature_maps import FeatureMapsPanel
    from explorer.ui.inference_panel import InferencePanel
    from explorer.ui.state import AppState

    use_one_thread()  # the main thread is the UI thread: no OpenMP team of its own (explorer.core.threads)
    device, (w, h) = args.device, (640, 480)
    opened = open_model(args.model, "random", device)  # the one opening function (seeded random weights)
    model, entry = opened.handle.model, opened.handle.entry
    with tempfile.TemporaryDirectory() as tmp:
        cap = cv2.VideoCapture(str(P.make_video(Path(tmp) / "one.avi", (w, h), 30.0, n=1)))
        ok, bgr = cap.read()
        cap.release()
    x = Preprocessor(entry, device)(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).model_input

    def bare(secs: float) -> float:  # in a thread that ends afterwards, as in bench/pipeline.py
        return P.in_compute_thread(lambda: P.bare_fps(model, x, secs))

    def pipeline(video: Path, layer: str, full_size: bool = False) -> float:
        # a new state, session and panels per run, shut down afterwards: the pipeline's thread and OpenMP team
        # end with them, so the next bare run has the machine to itself (bench/pipeline.py)
        state = AppState()
        bridge = SessionBridge(state)
        window = QSplitter()
        window.addWidget(InferencePanel(state, bridge))
        maps = FeatureMapsPanel(state, bridge)
        window.addWidget(maps)
        window.resize(1400, 600)
        window.show()
        maps.set_live_rate(args.rate)
        fitted = FeatureMapsPanel._view_options
        if full_size:  # the dock as it was before it built mosaics at the view's size
            FeatureMapsPanel._view_options = staticmethod(lambda *a: replace(fitted(*a), shrink=1))
        target = QImage(maps.size(), QImage.Format.Format_ARGB32_Premultiplied)
        done: list[float] = []
        runs: dict[str, list[float]] = {}

        def on_result(result) -> None:
            if maps.probe is not None and result.extras.get(maps.probe.name) is not None:
                # the dock painted whenever its maps changed, as the screen would be (while a stream plays the
                # maps refresh at the dock's rate, 10/s by default)
                t0 = time.perf_counter()
                maps.render(target)
                result.timing_ms["draw"] = result.timing_ms.get("draw", 0.0) + (time.perf_counter() - t0) * 1000
            done.append(time.perf_counter())
            for k, v in result.timing_ms.items():
                runs.setdefault(k, []).append(v)

        state.resultReady.connect(on_result)
        try:
            bridge.session.use_model(opened)
            if layer:
                state.select(layer)
            bridge.open_video(str(video), loop=True)
            t_end = time.perf_counter() + 60  # warm-up: the first results (oneDNN picks kernels) do not count
            while len(done) < 3 and time.perf_counter() < t_end:
                P.run_event_loop(0.05)
            pipe = bridge.session.pipeline
            start, t0 = pipe.frames_done, time.perf_counter()
            P.run_event_loop(args.seconds)  # Qt's own event loop, as in the app: no polling by the benchmark
            fps = (pipe.frames_done - start) / (time.perf_counter() - t0)
            key = layer + (" full-size" if full_size else "")
            # means, not medians: with maps at 10/s most frames skip the probe, and the mean shows what it costs
            stages.setdefault(key, []).append({k: statistics.fmean(v[-50:]) for k, v in runs.items() if v})
            if layer and maps.mosaic is not None:
                m, view = maps.mosaic, maps.mosaic_view
                shown[key] = (f"{m.width}×{m.height} mosaic (shrink {m.shrink}) in a {view.width()}×"
                              f"{view.height()} view")
            return fps
        finally:
            FeatureMapsPanel._view_options = staticmethod(fitted)
            state.resultReady.disconnect(on_result)
            state.select("")
            bridge.shutdown()
            window.close()
            window.deleteLater()
            app.processEvents()

    bares, plains, withs, fulls = [], [], [], []
    stages: dict[str, list[dict[str, float]]] = {}
    shown: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        first = bare(min(3.0, args.seconds))
        video = P.make_video(Path(tmp) / "clip.avi", (w, h), fps=min(max(1.25 * first, 30.0), 500.0))
        for _ in range(args.repeats):
            bares.append(bare(args.seconds))
            plains.append(pipeline(video, ""))
            withs.append(pipeline(video, args.layer))
            fulls.append(pipeline(video, args.layer, full_size=True))
    b, p0, p1 = statistics.median(bares), statistics.median(plains), statistics.median(withs)
    p2 = statistics.median(fulls)
    from explorer.core.threads import compute_threads

    print(f"live pipeline (the Session's path), {args.model}, {w}×{h} MJPG video, {device}, torch threads "
          f"{compute_threads()}, load average {os.getloadavg()[0]:.1f}, {args.repeats} interleaved runs of "
          f"{args.seconds:g} s:")
    print("  bare model(x) fps runs:        " + " ".join(f"{v:.2f}" for v in bares))
    print("  pipeline fps runs:             " + " ".join(f"{v:.2f}" for v in plains))
    print(f"  pipeline + {args.layer} maps fps runs: " + " ".join(f"{v:.2f}" for v in withs))
    print(f"  pipeline + {args.layer} maps built full-size fps runs: " + " ".join(f"{v:.2f}" for v in fulls))
    for key, runs in stages.items():
        names = list(runs[0])
        print(f"  stages {'with ' + key + ' maps' if key else 'without maps'} (ms, median of run means): "
              + ", ".join(f"{n} {statistics.median(r.get(n, 0.0) for r in runs):.1f}" for n in names))
    for key, text in shown.items():
        print(f"  {key} maps drawn as a {text}")
    print(f"  ratio without feature maps {p0 / b:.3f}   with {args.layer} feature maps shown {p1 / b:.3f}"
          f" (maps at {args.rate or 'every frame'}{'/s' if args.rate else ''}); with/without {p1 / p0:.3f}"
          "   (pipeline fps / bare fps, medians)")
    print(f"  full-size mosaics (shrink 1): ratio {p2 / b:.3f}, with/without {p2 / p0:.3f}; at the view's size "
          f"{p1 / p2:.3f}× the fps of full-size")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--layer", default="conv1")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each pipeline run")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved bare/pipeline/pipeline+maps runs")
    parser.add_argument("--rate", type=int, default=10, choices=(0, 5, 10, 20),
                        help="feature-map refreshes per second while the video plays (0: every frame)")
    parser.add_argument("--n", type=int, default=30, help="repetitions for the mosaic timings")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import pyqtgraph as pg
    import torch
    from PySide6.QtWidgets import QApplication

    if args.threads:
        torch.set_num_threads(args.threads)
    from explorer.core.threads import compute_threads, use_one_thread

    compute_threads()  # the count the worker threads use (--threads or torch's default)
    use_one_thread()   # the main thread, like the app's UI thread, runs its kernels inline
    app = QApplication.instance() or QApplication([])
    bench_mosaics(args, app, pg)
    if args.repeats > 0:
        bench_pipeline(args, app, pg)


if __name__ == "__main__":
    main()
