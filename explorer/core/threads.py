"""Which threads may run PyTorch's CPU kernels on several cores: the model's thread, and no other.

PyTorch's CPU kernels (and oneDNN's convolutions) run on OpenMP; the pip wheels bundle GNU libgomp. Every OS
thread that runs a parallel kernel gets its own OpenMP team, and the team stays until that thread exits.
libgomp lets a team's threads spin between parallel regions only while the whole process manages no more
OpenMP threads than there are CPUs (GOMP_SPINCOUNT in the libgomp manual: "If there are more OpenMP threads
than available CPUs, 1000 and 100 spins are used"); past that, every parallel region of every forward pass
pays a futex sleep and wake. One idle extra team anywhere in the process is enough: on this 2-core machine a
resnet18 forward pass ran at 32 instead of 46 frames per second once the UI thread (or the model loader) had
run one parallel kernel (`python bench/pipeline.py --extra-team` against `python bench/pipeline.py`).

So the app keeps one team: the inference worker calls `use_compute_threads()`; every other thread that runs
torch (the model loader, the preprocessing helper, background jobs of the views) calls `use_one_thread()`
first and runs its kernels inline. `torch.set_num_threads` sets the calling thread's OpenMP count (and a
process-wide default that only threads which never set their own inherit), so each thread sets its own.

One trap, measured here: ATen initialises each thread's count lazily, at that thread's first parallel kernel
or get_num_threads(), from the process-wide default, and that overrides an earlier set_num_threads in the same
thread. So `_set` first forces the lazy initialisation, then sets: otherwise the worker's 2 became 1 whenever
the helper set 1 between the worker's set_num_threads and its first kernel.
"""

from __future__ import annotations

import os
import sys

_default: int | None = None


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (a container or `taskset` may allow fewer than
    os.cpu_count(), which counts the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def compute_threads() -> int:
    """PyTorch's own intra-op thread count for this machine (captured before anything here changes it), at
    most the usable CPUs."""
    global _default
    if _default is None:
        import torch

        _default = max(1, min(int(torch.get_num_threads()), usable_cpus()))
    return _default


def use_compute_threads() -> int:
    """In the thread that runs the model: use all of `compute_threads()`; returns the count."""
    import torch

    n = compute_threads()
    _set(torch, n)
    return n


def use_one_thread() -> None:
    """In any other thread that runs torch: run kernels inline, with no OpenMP team of its own.

    Does nothing while torch is not imported (importing it only to set a count would cost a second); a thread
    that imports torch later should call this after the import.
    """
    if "torch" not in sys.modules:
        return
    compute_threads()  # remember the default before it changes
    _set(sys.modules["torch"], 1)


def _set(torch, n: int) -> None:
    torch.get_num_threads()  # ATen's lazy per-thread initialisation now, so it cannot override `n` later
    torch.set_num_threads(n)


def use_one_opencv_thread() -> None:
    """OpenCV's own thread pool off: its resize and colour conversions run inline in the calling thread.

    OpenCV parallelises cvtColor and resize over a pool of its own threads that wait spinning for work. On 2
    cores next to the model's OpenMP team that pool cost 1.8 ms of CPU per processed frame of the live
    pipeline, and the model lost as much (resnet18 on a 640×480 video, CPU time per thread from /proc: the pool
    thread vanished and the total fell from 40.7 to 37.2 ms a frame). The app's OpenCV calls are small; the
    parallelism that pays is across frames (the capture thread, decoding threads), not inside one call.
    Called when explorer.core.images first imports cv2, before any OpenCV call (in a forked child of a process
    that has used the pool, setNumThreads never returns)."""
    import cv2

    cv2.setNumThreads(1)


CAPTURE_NICE = 19   # a capture thread's decoding fits in the gaps the model's threads leave (see below)
BACKGROUND_NICE = 10  # background jobs (graph layouts, model cards): after the live model and the window


def lower_priority(nice: int) -> None:
    """Lower the calling thread's CPU priority (Linux: setpriority on the thread's id sets that thread alone;
    threads it starts afterwards inherit it). Elsewhere, or when refused, nothing happens.

    Why for capture: on 2 cores the model's OpenMP team keeps both busy, and a capture thread decoding at equal
    priority took a core from one of the team's threads in the middle of a parallel region, stalling the other
    at its barrier: each decode cost the forward pass about its own length again. At nice 19 the decoding runs
    where the team leaves a gap (between two forward passes, while it waits for a frame), and the pipeline went
    from 0.81 to 0.90 of a bare forward loop (resnet18 on a 640×480 MJPG file at 86 fps, five paired rounds;
    `python bench/pipeline.py --capture-nice 0` against the default), and the age of the frames reaching the
    window did not change (37 ms). A capture starved for long would fall behind a camera: cameras keep a
    one-frame driver buffer (explorer.core.sources.CameraSource), so what is read late is still the newest."""
    if not hasattr(os, "setpriority"):
        return
    try:
        import threading

        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), int(nice))
    except (OSError, AttributeError):
        pass
