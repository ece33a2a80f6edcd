"""Measured time per module: a timed forward pass with hooks on every module (for the graph's time overlay).

Pre- and post-forward hooks record `time.perf_counter()` around every module call; a module's time is
inclusive (its children's included), summed over its calls and averaged over `repeats` passes after one warm-up
pass. The window runs it in the model's own thread between two frames (SessionBridge.run_on_model: a model
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


def time_modules(model: Any, input_shape: Shape, repeats: int = 2) -> dict[str, float]:
    """Seconds per module path ("" = the whole model), inclusive, mean over `repeats` passes."""
    import torch

    totals: dict[str, float] = {}
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
    try:
        with torch.inference_mode():
            model(x)                       # warm-up, untimed
            for name, mod in model.named_modules():
                handles.append(mod.register_forward_pre_hook(pre))
                handles.append(mod.register_forward_hook(make_post(name)))
            for _ in range(repeats):
                model(x)
    finally:
        for h in handles:
            h.remove()
    return {k: v / repeats for k, v in totals.items()}
