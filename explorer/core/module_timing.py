"""Measured time per module: a timed forward pass with hooks on every module (for the graph's time overlay).

Pre- and post-forward hooks record `time.perf_counter()` around every module call; a module's time is
inclusive (its children's included), summed over its calls in a pass, and the least over `repeats` passes (as
timeit advises: the other passes' extra is other programs' and threads' time, not the module's). Untimed
warm-up passes come first until one is no more than 1.3× faster than the one before (at most
MAX_WARM_UP): a model's first passes at a size include one-off set-up (oneDNN's primitives, cuDNN's kernel
choice), and one warm-up pass was not enough at a busy start-up (new-user trial: "forward pass 583.7 ms" for a
resnet18 that settles at 21–31 ms). The window runs it in the model's own thread between two frames (SessionBridge.run_on_model: a model
never runs in two threads at once), never on the UI thread; only calls from the calling thread are timed, and
the hooks are removed afterwards.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from explorer.core.graph import Shape


def example_input(model: Any, input_shape: Shape) -> Any:
    """The input capture uses: a batch of one, or a list of one image for torchvision's detectors."""
    from explorer.core.capture import make_example

    shape = tuple(input_shape)
    if len(shape) == 4:
        shape = shape[1:]
    param = next(iter(model.parameters()), None)
    return make_example(model, shape, param.device if param is not None else "cpu")


MAX_WARM_UP = 4


def time_modules(model: Any, input_shape: Shape, repeats: int = 2) -> dict[str, float]:
    """Seconds per module path ("" = the whole model), inclusive, the least over `repeats` passes."""
    import torch

    totals: dict[str, float] = {}  # of the pass being timed
    starts: dict[int, list[float]] = {}
    handles = []
    me = threading.get_ident()    # only this pass: hooks see every call of the model while they are on
    param = next(iter(model.parameters()), None)
    # CUDA kernels run asynchronously: wait for them around every module, or only launch times are measured.
    sync = torch.cuda.synchronize if param is not None and param.is_cuda else (lambda: None)

    def pre(mod, _inp):
        if threading.get_ident() == me:
            sync()
            starts.setdefault(id(mod), []).append(time.perf_counter())

    def make_post(name: str):
        def post(mod, _inp, _out):
            if threading.get_ident() != me:
                return
            stack = starts.get(id(mod))
            if stack:
                sync()
                totals[name] = totals.get(name, 0.0) + time.perf_counter() - stack.pop()
        return post

    x = example_input(model, input_shape)
    best: dict[str, float] = {}
    try:
        with torch.inference_mode():
            previous = None
            for _ in range(MAX_WARM_UP):   # untimed, until a pass is not much faster than the one before
                t0 = time.perf_counter()
                model(x)
                sync()
                took = time.perf_counter() - t0
                if previous is not None and took * 1.3 >= previous:
                    break
                previous = took
            for name, mod in model.named_modules():
                handles.append(mod.register_forward_pre_hook(pre))
                handles.append(mod.register_forward_hook(make_post(name)))
            for _ in range(max(1, repeats)):
                totals.clear()
                model(x)
                for k, v in totals.items():
                    best[k] = min(v, best.get(k, v))
    finally:
        for h in handles:
            h.remove()
    return best
