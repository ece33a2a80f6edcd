"""explorer.core.threads: each thread keeps the count it set, whatever other threads set afterwards."""

from __future__ import annotations

import threading

import torch

from explorer.core.threads import compute_threads, use_compute_threads, use_one_thread


def _in_thread(fn):
    out = {}
    t = threading.Thread(target=lambda: out.update(v=fn()))
    t.start()
    t.join()
    return out["v"]


def test_compute_thread_keeps_its_count_when_another_thread_sets_one():
    # The order that broke the naive version: the model's thread sets its count, another thread sets 1
    # before the model's thread runs its first kernel (ATen's lazy init then copied the 1).
    set_done, other_done = threading.Event(), threading.Event()
    out = {}

    def model_thread():
        use_compute_threads()
        set_done.set()
        other_done.wait(10)
        torch.ones(256, 256) @ torch.ones(256, 256)
        out["model"] = torch.get_num_threads()

    def other_thread():
        set_done.wait(10)
        use_one_thread()
        out["other"] = torch.get_num_threads()
        other_done.set()

    threads = [threading.Thread(target=model_thread), threading.Thread(target=other_thread)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {"model": compute_threads(), "other": 1}


def test_compute_threads_is_torchs_default_and_one_thread_is_one():
    assert compute_threads() >= 1
    assert _in_thread(lambda: (use_compute_threads(), torch.get_num_threads())[1]) == compute_threads()
    assert _in_thread(lambda: (use_one_thread(), torch.get_num_threads())[1]) == 1


def test_usable_cpus_follow_the_affinity_mask_in_a_fresh_process():
    """Under `taskset` to one CPU (a container's quota looks the same), compute_threads is 1 and the inference
    worker sees no spare core for prefetching, however many the machine has."""
    import os
    import subprocess
    import sys

    import pytest

    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no affinity call on this platform")
    cpu = sorted(os.sched_getaffinity(0))[0]
    code = ("import os, sys; os.sched_setaffinity(0, {%d}); "
            "from explorer.core.threads import usable_cpus, compute_threads; "
            "print(usable_cpus(), compute_threads(), os.cpu_count())" % cpu)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    usable, compute, machine = map(int, out)
    assert usable == 1 and compute == 1
    assert machine == os.cpu_count()  # what the old test used: the machine's count, not the process's
