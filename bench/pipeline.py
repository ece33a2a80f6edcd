"""Live pipeline throughput against a bare forward loop and a hand-written OpenCV loop, same model, same process.

    python bench/pipeline.py [--model resnet18] [--device auto] [--seconds 5] [--size 640x480] [--repeats 3]
                             [--maps conv1] [--maps-rate 10]

Three loops on the same model and frames, interleaved (bare, pipeline, pipeline with maps, hand-written, and
again) so that a shared machine's load hits them alike; medians are compared.

- bare: `model(x)` on one preprocessed (1, 3, H, W) tensor (a frame of the video) under inference_mode, in a
  thread of its own with the compute thread count, as the pipeline runs the model.
- pipeline: the app's own path. A generated MJPG video (standing in for a camera, played at 1.25× the bare
  rate or 30 fps, whichever is higher, so the source is never the bottleneck) → the Session's capture thread
  (decode into reused memory, latest wins) → the pipeline thread (lean preprocessing, forward, postprocessing,
  probes) → SessionBridge → AppState → the InferencePanel draws the result, shown on a real (offscreen) window
  whose repaints Qt paces itself. Counted: results the pipeline delivered per second.
- pipeline with maps: the same, plus the feature-map dock on `--maps` (conv1) refreshing at 10/s, as a user
  watching the maps of a webcam would have it.
- session: the Session alone (capture thread and pipeline thread, no window): what the pipeline costs without
  the display, so that the display's own share shows.
- loop: the 25 lines a user would write instead: cv2.VideoCapture → cv2.cvtColor → the weights' torchvision
  preset → model → top-5 → cv2.putText, every frame of the same video, in one thread.

Prints `bare_fps`, `pipeline_fps`, `maps_fps`, `session_fps`, `loop_fps`, their ratios to bare, and `overhead_ms`: the cost per
frame outside the forward pass, 1000/fps − 1000/bare_fps, for the pipeline and for the loop. Targets (issue 18,
this 2-core CPU, resnet18 at 640×480): pipeline_fps ≥ loop_fps, pipeline overhead ≤ 3 ms, maps ratio ≥ 0.9 of
the pipeline's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_video(path: Path, size: tuple[int, int], fps: float, n: int = 90) -> Path:
    import cv2
    import numpy as np

    from explorer.core.images import load_image

    photo = load_image(Path(__file__).resolve().parents[1] / "resources" / "images" / "chelsea.jpg")
    base = cv2.resize(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), size)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(n):  # a slow pan, so frames differ
        w.write(np.roll(base, i * 4, axis=1))
    w.release()
    return path


def in_compute_thread(fn):
    """Run `fn()` in a plain thread with the compute thread count, as the pipeline runs the model; the thread
    ends afterwards, so its OpenMP team does not outlive it (explorer.core.threads)."""
    out = {}

    def work():
        from explorer.core.threads import use_compute_threads

        use_compute_threads()
        out["value"] = fn()

    t = threading.Thread(target=work)
    t.start()
    t.join()
    return out["value"]


def bare_fps(model, x, seconds: float, autocast=None) -> float:
    import torch

    def run():
        with torch.inference_mode():
            for _ in range(3):
                model(x)
            if x.is_cuda:
                torch.cuda.synchronize()
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                model(x)
                n += 1
            if x.is_cuda:
                torch.cuda.synchronize()
            return n / (time.perf_counter() - t0)

    if autocast is None:
        return run()
    with torch.autocast("cuda", dtype=autocast):
        return run()


def loop_fps(model, entry, video: Path, seconds: float, device: str) -> float:
    """The loop a user would write (every frame, in order; the video starts again at its end)."""
    import cv2
    import torch

    from explorer.core import zoo
    from explorer.core.labels import class_names

    weights = zoo.tv_weights_enum(entry)
    preset = weights.transforms() if weights is not None else None
    if preset is None:
        from torchvision.transforms._presets import ImageClassification

        preset = ImageClassification(crop_size=entry.input_size[0])
    names = class_names(entry.categories, 1000, None)
    cap = cv2.VideoCapture(str(video))
    n, t0 = 0, None
    with torch.inference_mode():
        while True:
            ok, bgr = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            x = preset(torch.from_numpy(rgb).permute(2, 0, 1)).unsqueeze(0).to(device)
            probs = model(x).softmax(1)[0]
            scores, classes = probs.topk(5)
            for i, (s, c) in enumerate(zip(scores.tolist(), classes.tolist())):
                cv2.putText(bgr, f"{names[c]} {s:.2f}", (8, 20 + 18 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                            (255, 255, 255), 1)
            n += 1
            if n == 3:
                t0 = time.perf_counter()  # after the warm-up
                n0 = n
            if t0 is not None and time.perf_counter() - t0 >= seconds:
                break
    cap.release()
    return (n - n0) / (time.perf_counter() - t0)


def run_event_loop(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def pipeline_fps(app, opened, video: Path, seconds: float, maps: str = "", maps_rate: int = 10,
                 engine_options: dict | None = None, prefetch: bool | None = None) -> tuple[float, dict]:
    """The app's path on a window of its own: returns (results per second, median stage times in ms)."""
    from PySide6.QtWidgets import QSplitter

    from explorer.ui.bridge import SessionBridge
    from explorer.ui.inference_panel import InferencePanel
    from explorer.ui.state import AppState

    state = AppState()
    bridge = SessionBridge(state, engine_options=engine_options)
    if prefetch is not None:
        bridge.session.pipeline.prefetch = prefetch
    window = QSplitter()
    panel = InferencePanel(state, bridge)
    window.addWidget(panel)
    if maps:
        from explorer.ui.feature_maps import FeatureMapsPanel

        maps_panel = FeatureMapsPanel(state, bridge)
        maps_panel.set_live_rate(maps_rate)
        window.addWidget(maps_panel)
    window.resize(1400 if maps else 800, 700)
    window.show()
    bridge.session.use_model(opened)
    if maps:
        state.select(maps)
    stages: dict[str, list[float]] = {}
    seen: list[int] = []

    def on_result(result):
        seen.append(1)
        for k, v in result.timing_ms.items():
            stages.setdefault(k, []).append(v)
        # how old the frame is when its result reaches the window (from the end of its decoding)
        stages.setdefault("age", []).append((time.perf_counter() - result.frame.timestamp) * 1000)

    state.resultReady.connect(on_result)
    try:
        bridge.open_video(str(video), loop=True)
        t_end = time.perf_counter() + 60  # warm-up: the first results (oneDNN picks kernels) do not count
        while len(seen) < 3 and time.perf_counter() < t_end:
            run_event_loop(0.05)
        pipeline = bridge.session.pipeline
        start, t0 = pipeline.frames_done, time.perf_counter()
        run_event_loop(seconds)  # Qt's own event loop, as in the app: no polling by the benchmark
        fps = (pipeline.frames_done - start) / (time.perf_counter() - t0)
    finally:
        state.resultReady.disconnect(on_result)
        bridge.shutdown()
        window.close()
        window.deleteLater()
        app.processEvents()
    return fps, {k: statistics.median(v[-50:]) for k, v in stages.items() if v}


def session_fps(opened, video: Path, seconds: float, engine_options: dict | None = None) -> float:
    """The app's core alone: the Session's capture thread and pipeline thread with no window (its listener
    does nothing). Against pipeline_fps, what the window's display costs on the same cores."""
    from explorer.core.session import Session

    session = Session(capture_graph=False, engine_options=engine_options)
    session.use_model(opened)
    try:
        session.open_video(str(video), loop=True)
        t_end = time.perf_counter() + 60
        while session.pipeline.frames_done < 3 and time.perf_counter() < t_end:  # warm-up, as pipeline_fps
            time.sleep(0.05)
        start, t0 = session.pipeline.frames_done, time.perf_counter()
        time.sleep(seconds)
        return (session.pipeline.frames_done - start) / (time.perf_counter() - t0)
    finally:
        session.shutdown()


def measure(model_name: str = "resnet18", device: str = "auto", precision: str = "fp32", seconds: float = 5.0,
            repeats: int = 3, size: tuple[int, int] = (640, 480), maps: str = "conv1", maps_rate: int = 10,
            loop: bool = True, prefetch: bool | None = None, source_fps: float = 0.0,
            channels_last: bool = False) -> dict:
    """Interleaved runs of the three loops; returns the figures (prints nothing)."""
    import cv2
    import torch
    from PySide6.QtWidgets import QApplication

    from explorer.core.opening import open_model
    from explorer.core.preprocess import Preprocessor
    from explorer.core.threads import compute_threads, use_one_thread

    use_one_thread()  # the main thread is the UI thread: no OpenMP team (explorer.core.threads)
    opened = open_model(model_name, "random", device, capture=bool(maps))
    model, entry, device = opened.handle.model, opened.handle.entry, opened.handle.device
    app = QApplication.instance() or QApplication([])
    w, h = size
    with tempfile.TemporaryDirectory() as tmp:
        cap = cv2.VideoCapture(str(make_video(Path(tmp) / "one.avi", (w, h), 30.0, n=1)))
        ok, bgr = cap.read()
        cap.release()
    # the bare loop sees exactly what the pipeline feeds the model: a frame of the same video (not zeros: a
    # constant input drives a random network's activations into denormals, which are slow)
    x = Preprocessor(entry, device)(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).model_input
    cuda = device.startswith("cuda")
    autocast = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision) if cuda else None
    options = {"precision": precision, "channels_last": channels_last}
    if channels_last and cuda and isinstance(x, torch.Tensor):
        x = x.contiguous(memory_format=torch.channels_last)  # as the engine feeds it (the model is converted there)
    runs: dict[str, list[float]] = {"bare": [], "pipeline": [], "maps": [], "session": [], "loop": []}
    stages: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        probe = in_compute_thread(lambda: bare_fps(model, x, min(3.0, seconds), autocast))
        video_fps = source_fps or min(max(1.25 * probe, 30.0), 500.0)
        video = make_video(Path(tmp) / "clip.avi", (w, h), fps=video_fps)
        for _ in range(repeats):
            runs["bare"].append(in_compute_thread(lambda: bare_fps(model, x, seconds, autocast)))
            fps, st = pipeline_fps(app, opened, video, seconds, engine_options=options, prefetch=prefetch)
            runs["pipeline"].append(fps)
            for k, v in st.items():
                stages.setdefault(k, []).append(v)
            if maps:
                runs["maps"].append(pipeline_fps(app, opened, video, seconds, maps, maps_rate, options,
                                                 prefetch)[0])
            runs["session"].append(session_fps(opened, video, seconds, options))
            if loop and entry.preprocess == "imagenet" and precision == "fp32":
                runs["loop"].append(in_compute_thread(lambda: loop_fps(model, entry, video, seconds, device)))
    med = {k: statistics.median(v) for k, v in runs.items() if v}
    return {"model": model_name, "device": device, "precision": precision, "size": size,
            "threads": compute_threads(), "load": os.getloadavg()[0], "runs": runs, "median": med,
            "stages": {k: statistics.median(v) for k, v in stages.items()}, "source_fps": video_fps,
            "maps": maps, "maps_rate": maps_rate}


def overhead_ms(fps: float, bare: float) -> float:
    """Milliseconds per frame spent outside the forward pass."""
    return 1000.0 / fps - 1000.0 / bare


def report(m: dict) -> None:
    w, h = m["size"]
    med = m["median"]
    bare = med["bare"]
    print(f"model {m['model']} · device {m['device']} · precision {m['precision']} · frames {w}x{h} at "
          f"{m['source_fps']:.0f} fps · torch threads {m['threads']} · load average {m['load']:.1f}")
    for name, values in m["runs"].items():
        if values:
            print(f"{name} fps runs: " + " ".join(f"{v:.2f}" for v in values))
    print("pipeline stages (median, ms): " + ", ".join(f"{k} {v:.1f}" for k, v in m["stages"].items()))
    print(f"bare_fps {bare:.2f}")
    print(f"pipeline_fps {med['pipeline']:.2f}   ratio {med['pipeline'] / bare:.3f}   "
          f"overhead_ms {overhead_ms(med['pipeline'], bare):.2f}")
    if "maps" in med:
        print(f"maps_fps {med['maps']:.2f}   ratio {med['maps'] / bare:.3f}   "
              f"({m['maps']} maps at {m['maps_rate']}/s: {med['maps'] / med['pipeline']:.3f} of the pipeline's)")
    if "session" in med:
        print(f"session_fps {med['session']:.2f}   ratio {med['session'] / bare:.3f}   "
              f"overhead_ms {overhead_ms(med['session'], bare):.2f}   (no window: the display costs "
              f"{overhead_ms(med['pipeline'], bare) - overhead_ms(med['session'], bare):.2f} ms a frame)")
    if "loop" in med:
        print(f"loop_fps {med['loop']:.2f}   ratio {med['loop'] / bare:.3f}   "
              f"overhead_ms {overhead_ms(med['loop'], bare):.2f}")
        print(f"pipeline/loop {med['pipeline'] / med['loop']:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    ap.add_argument("--size", default="640x480", help="video frame size WxH")
    ap.add_argument("--repeats", type=int, default=3, help="rounds of the interleaved runs")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    ap.add_argument("--maps", default="conv1", help="layer whose feature maps a run shows ('' = no such run)")
    ap.add_argument("--maps-rate", type=int, default=10, help="feature-map refreshes per second")
    ap.add_argument("--no-loop", action="store_true", help="skip the hand-written loop")
    ap.add_argument("--source-fps", type=float, default=0.0,
                    help="the video's frame rate (0: 1.25× the bare rate, so the source is never the bottleneck)")
    ap.add_argument("--capture-nice", type=int, default=None,
                    help="the capture thread's nice level (default: explorer.core.threads.CAPTURE_NICE, 19)")
    ap.add_argument("--prefetch", choices=("auto", "on", "off"), default="auto",
                    help="preprocess the next frame during the forward pass (auto: the pipeline's own choice)")
    args = ap.parse_args()
    if args.capture_nice is not None:
        import explorer.core.threads as threads

        threads.CAPTURE_NICE = args.capture_nice
    w, h = (int(v) for v in args.size.lower().split("x"))
    report(measure(args.model, args.device, args.precision, args.seconds, args.repeats, (w, h), args.maps,
                   args.maps_rate, not args.no_loop, {"auto": None, "on": True, "off": False}[args.prefetch],
                   args.source_fps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
