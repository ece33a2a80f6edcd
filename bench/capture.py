"""Benchmark graph capture (explorer.core.capture): how much a recorded forward pass costs.

Prints, in one process, with random weights on the CPU:
- resnet50 at 224×224: bare forward time and capture time (target: capture < 1 s);
- fasterrcnn_resnet50_fpn at its default 800×800: bare forward time, capture time and their ratio
  (target: < 2×; the capture adds module hooks and a TorchFunctionMode to one forward pass).
Each figure is the median of a few runs after one warm-up run.

    python bench/capture.py [--repeat N] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_time(fn, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads) of `fn`, after one warm-up call. CPU time is the
    steadier figure on a shared machine."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()

    import torch

    from explorer.core import zoo
    from explorer.core.capture import capture_graph, make_example

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    for name, target in (("resnet50", None), ("fasterrcnn_resnet50_fpn", 2.0)):
        entry = zoo.get(name)
        shape = (3, *entry.input_size)
        model = zoo.build(name)
        example = make_example(model, shape)

        def bare() -> None:
            with torch.inference_mode():
                model(example)

        forward, forward_cpu = median_time(bare, args.repeat)
        graph = capture_graph(model, name, shape)
        capture, capture_cpu = median_time(lambda: capture_graph(model, name, shape), args.repeat)
        ratio, ratio_cpu = capture / forward, capture_cpu / forward_cpu
        verdict = (f"target < {target:.0f}×: {'ok' if ratio < target else 'MISSED'}" if target
                   else f"target < 1 s: {'ok' if capture < 1.0 else 'MISSED'}")
        print(f"{name} input {'×'.join(map(str, shape))}: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
        print(f"  wall: forward {forward * 1000:8.1f} ms  capture {capture * 1000:8.1f} ms  ratio {ratio:5.2f}×"
              f"  ({verdict})")
        print(f"  cpu:  forward {forward_cpu * 1000:8.1f} ms  capture {capture_cpu * 1000:8.1f} ms  "
              f"ratio {ratio_cpu:5.2f}×")


if __name__ == "__main__":
    main()
