"""Live pipeline throughput against a bare forward loop, same model, same device, same process.

    python bench/pipeline.py [--model resnet18] [--device auto] [--seconds 10] [--size 640x480] [--repeats 2]

Pipeline: the live panel's own code path. A generated MJPG video (standing in for a camera, played at 1.25× the bare
model's rate or 30 fps, whichever is higher, so the source is never the bottleneck) → SourceController's capture thread (latest wins)
→ AppState.set_frame → InferencePanel → InferenceWorker (Engine: preprocessing with the weights' transforms,
forward, postprocessing) → queued result → the panel draws it (image, overlays, table, timing) and the view
is rendered into a QImage each frame (QWidget.render), as the screen would be painted.

Baseline: `model(x)` on a preprocessed (1, 3, H, W) tensor (a frame of the same video) in a loop under
inference_mode, in a plain thread like the worker's.

Prints both frame rates and ratio = pipeline fps / bare fps (target ≥ 0.9 for resnet18 on a CPU). Runs are
interleaved (bare, pipeline, bare, pipeline, ...) and the medians are compared, because the machine may be
shared (every run and the load average are printed too).

Fairness: the bare loop runs in a thread of its own with the compute thread count, and each pipeline run gets
a new panel that is shut down afterwards, so no idle OpenMP team of one side slows the other (libgomp stops
spinning once a process holds more OpenMP threads than CPUs: explorer.core.threads). `--extra-team` leaves
such a team in the main thread to show what it costs (both rates drop by about a third on 2 cores).

What bounds the ratio on a small CPU: the bare loop keeps every core busy, and the pipeline must also decode
each frame (about 1.1 ms for 640×480 MJPG here), preprocess it (about 2 ms) and draw it (about 2.6 ms with
the render), on the same cores; on 2 cores that caps the ratio near 0.86 even with perfect overlap.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
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


def bare_fps(model, x, seconds: float) -> float:
    import torch

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


def run_event_loop(seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def pipeline_fps(app, panel, video: Path, seconds: float, render: bool) -> tuple[float, dict[str, float]]:
    from PySide6.QtGui import QImage

    done: list[float] = []
    stages: dict[str, list[float]] = {}
    target = QImage(panel.size(), QImage.Format.Format_ARGB32_Premultiplied)

    def on_drawn(result):
        if render:  # paint the panel into an image, as a screen refresh would
            t0 = time.perf_counter()
            panel.render(target)
            result.timing_ms["draw"] += (time.perf_counter() - t0) * 1000
        done.append(time.perf_counter())
        for k, v in result.timing_ms.items():
            stages.setdefault(k, []).append(v)

    panel.resultDrawn.connect(on_drawn)
    try:
        panel.open_video(str(video), loop=True)
        # warm-up: the first results (oneDNN/cuDNN choose kernels) are not counted
        t_end = time.perf_counter() + 60
        while len(done) < 3 and time.perf_counter() < t_end:
            run_event_loop(0.05)
        start = len(done)
        t0 = time.perf_counter()
        run_event_loop(seconds)  # Qt's own event loop, as in the app: no polling by the benchmark
        n = len(done) - start
        fps = n / (time.perf_counter() - t0)
    finally:
        panel.resultDrawn.disconnect(on_drawn)
        panel.controller.close()
    k = max(len(done) - start, 1)
    means = {name: sum(v[-k:]) / len(v[-k:]) for name, v in stages.items() if v}
    return fps, means


def measure(model_name: str, device: str = "auto", precision: str = "fp32", seconds: float = 5.0,
            repeats: int = 4, size: tuple[int, int] = (640, 480), render: bool = True,
            channels_last: bool = False, prefetch: bool | None = None, extra_team: bool = False,
            source_fps: float = 0.0) -> dict:
    """Interleaved bare/pipeline runs for one model; returns the figures (and prints nothing).

    `extra_team`: leave an idle OpenMP team in the main thread first, as the app did before
    explorer.core.threads (every thread that ran torch kept one); it slows bare and pipeline alike.
    """
    import statistics
    import threading

    import cv2
    import torch
    from PySide6.QtWidgets import QApplication

    from explorer.core import zoo
    from explorer.core.engine import pick_device
    from explorer.core.preprocess import Preprocessor
    from explorer.core.threads import compute_threads, use_compute_threads, use_one_thread

    device = pick_device(device)
    w, h = size
    entry = zoo.get(model_name)
    threads = compute_threads()
    if extra_team:
        use_compute_threads()
        torch.ones(4096, 4096).mul_(2.0)  # one parallel kernel: this thread's team now exists, idle
    else:
        use_one_thread()  # the main thread is the UI thread: no OpenMP team (explorer.core.threads)
    torch.manual_seed(0)
    model = zoo.build(model_name).to(device).eval()
    app = QApplication.instance() or QApplication([])

    # the bare loop sees exactly the tensor the pipeline feeds the model: a frame of the same video
    # (not zeros: a constant input drives a random network's activations into denormals, which are slow)
    with tempfile.TemporaryDirectory() as tmp:
        cap = cv2.VideoCapture(str(make_video(Path(tmp) / "one.avi", (w, h), 30.0, n=1)))
        ok, bgr = cap.read()
        cap.release()
    x = Preprocessor(entry, device)(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).model_input
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cudnn.benchmark = True
        if channels_last and isinstance(x, torch.Tensor):
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)

    def bare_in_thread(secs):
        use_compute_threads()  # as the inference worker does
        if precision == "fp32" or not cuda:
            return bare_fps(model, x, secs)
        with torch.autocast("cuda", dtype=torch.float16 if precision == "fp16" else torch.bfloat16):
            return bare_fps(model, x, secs)

    def bare(secs):
        # In a plain thread, as the inference worker runs the model; the thread ends after the run, so its
        # OpenMP team does not outlive it (a second idle team would slow the next pipeline run).
        out = {}
        t = threading.Thread(target=lambda: out.update(fps=bare_in_thread(secs)))
        t.start()
        t.join()
        return out["fps"]

    def pipeline(video, secs):
        # A new panel per run, shut down afterwards: its worker thread (and OpenMP team) ends with it, so
        # the next bare run has the machine to itself, as the pipeline has.
        from explorer.ui.inference_panel import InferencePanel
        from explorer.ui.state import AppState, ModelHandle

        state = AppState()
        panel = InferencePanel(state, None)
        panel.engine_options = {"precision": precision, "channels_last": channels_last}
        if prefetch is not None:
            panel.worker.prefetch = prefetch
        panel.resize(1000, 700)
        panel.show()
        state.set_model(ModelHandle(model_name, entry, model, "random", device))
        try:
            return pipeline_fps(app, panel, video, secs, render)
        finally:
            panel.shutdown()
            panel.close()
            panel.deleteLater()
            app.processEvents()

    with tempfile.TemporaryDirectory() as tmp:
        probe = bare(min(3.0, seconds))
        video_fps = source_fps or min(max(1.25 * probe, 30.0), 500.0)
        video = make_video(Path(tmp) / "clip.avi", (w, h), fps=video_fps)
        bares, pipes, stages = [], [], {}
        for _ in range(repeats):
            bares.append(bare(seconds))
            pipe_fps, stages_i = pipeline(video, seconds)
            pipes.append(pipe_fps)
            for k, v in stages_i.items():
                stages.setdefault(k, []).append(v)
    b, p = statistics.median(bares), statistics.median(pipes)
    return {"model": model_name, "device": device, "precision": precision, "size": (w, h),
            "threads": threads, "load": os.getloadavg()[0], "bares": bares, "pipes": pipes,
            "stages": {k: statistics.median(v) for k, v in stages.items()}, "bare_fps": b, "pipeline_fps": p,
            "ratio": p / b, "extra_team": extra_team, "source_fps": video_fps}


def report(m: dict) -> None:
    w, h = m["size"]
    print(f"model {m['model']} · device {m['device']} · precision {m['precision']} · frames {w}x{h} "
          f"at {m['source_fps']:.0f} fps · "
          f"torch threads {m['threads']} · load average {m['load']:.1f}")
    print("bare fps runs:     " + " ".join(f"{v:.2f}" for v in m["bares"]))
    print("pipeline fps runs: " + " ".join(f"{v:.2f}" for v in m["pipes"]))
    print("pipeline stages (median of run means, ms): "
          + ", ".join(f"{k} {v:.1f}" for k, v in m["stages"].items()))
    print(f"bare_fps {m['bare_fps']:.2f}   (median of runs)")
    print(f"pipeline_fps {m['pipeline_fps']:.2f}   (median of runs)")
    print(f"ratio {m['ratio']:.3f}   (best/best {max(m['pipes']) / max(m['bares']):.3f}; per pair: "
          + " ".join(f"{pp / bb:.2f}" for pp, bb in zip(m["pipes"], m["bares"])) + ")")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each run")
    ap.add_argument("--size", default="640x480", help="video frame size WxH")
    ap.add_argument("--repeats", type=int, default=4, help="bare/pipeline pairs")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"))
    ap.add_argument("--no-render", action="store_true", help="do not paint the panel into an image per frame")
    ap.add_argument("--source-fps", type=float, default=0.0,
                    help="the video's frame rate (0: 1.25× the bare rate, so the source is never the bottleneck; "
                         "30: a webcam)")
    ap.add_argument("--extra-team", action="store_true",
                    help="leave an idle OpenMP team in the main thread first, as the app did before "
                         "explorer.core.threads: shows what one extra team costs")
    ap.add_argument("--prefetch", choices=("auto", "on", "off"), default="auto",
                    help="preprocess the next frame during the forward pass (auto: the worker's own choice)")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.lower().split("x"))
    report(measure(args.model, args.device, args.precision, args.seconds, args.repeats, (w, h),
                   not args.no_render, prefetch={"auto": None, "on": True, "off": False}[args.prefetch],
                   extra_team=args.extra_team, source_fps=args.source_fps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
