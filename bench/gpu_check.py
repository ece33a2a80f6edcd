"""The live pipeline against a bare forward loop on CUDA: resnet50 and fasterrcnn_resnet50_fpn, fp32 and fp16.

    python bench/gpu_check.py [--seconds 4] [--repeats 2] [--size 640x480] [--channels-last]

The same measurement as bench/pipeline.py (the app's own path: the Session's capture thread → the pipeline
thread with a pinned-buffer, non-blocking upload, preprocessing on the GPU, forward under inference_mode and
optional autocast → SessionBridge → the panel draws it on an offscreen window) against `model(x)` in a loop on
the same GPU in the same process; prints the ratio and the overhead per frame outside the forward pass
(1000/pipeline_fps − 1000/bare_fps; the goal is a ratio of at least 0.9). Exits with status 2 and one message
when there is no CUDA device.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/pipeline.py

MODELS = ("resnet50", "fasterrcnn_resnet50_fpn")
PRECISIONS = ("fp32", "fp16")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("error: no CUDA device here; bench/gpu_check.py needs an NVIDIA GPU (use bench/pipeline.py on a CPU)",
              file=sys.stderr)
        return 2
    from pipeline import measure, report

    w, h = (int(v) for v in args.size.lower().split("x"))
    print(f"GPU: {torch.cuda.get_device_name(0)} · torch {torch.__version__} · CUDA {torch.version.cuda}")
    rows = []
    for name in args.models.split(","):
        for precision in PRECISIONS:
            m = measure(name, "cuda", precision, args.seconds, args.repeats, (w, h), maps="", loop=False,
                        channels_last=args.channels_last)
            report(m)
            print()
            rows.append(m)
    print(f"{'model':28s} {'precision':9s} {'bare fps':>9s} {'pipeline fps':>13s} {'ratio':>6s} {'overhead ms':>12s}")
    for m in rows:
        bare, pipe = m["median"]["bare"], m["median"]["pipeline"]
        print(f"{m['model']:28s} {m['precision']:9s} {bare:9.2f} {pipe:13.2f} {pipe / bare:6.3f} "
              f"{1000 / pipe - 1000 / bare:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
