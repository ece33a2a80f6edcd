"""A model's first passes at an input size are marked as warm-up, and the graph's module times leave them out
(new-user trial: "forward 956 ms" and "forward pass 583.7 ms" for a resnet18 that settles at 21–31 ms)."""

from __future__ import annotations

import numpy as np
import torch
import torchvision.models as tvm

from explorer.core import zoo
from explorer.core.engine import WARM_UP_RUNS, Engine
from explorer.core.module_timing import time_modules
from explorer.core.results import Frame


def _frame(h: int, w: int) -> Frame:
    rng = np.random.default_rng(0)
    return Frame(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), "test", 0, 0.0, 0.0)


def test_the_first_passes_at_each_input_size_are_marked_as_warm_up():
    torch.manual_seed(0)
    engine = Engine(tvm.resnet18().eval(), zoo.get("resnet18"), "cpu", "random")
    flags = [engine.run(_frame(120, 160)).warm_up for _ in range(WARM_UP_RUNS + 2)]
    assert flags == [True] * WARM_UP_RUNS + [False, False]
    # a classifier crops every frame to 224×224: another frame size is the same model input, still warm
    assert not engine.run(_frame(90, 90)).warm_up
    # a detector takes each frame at its own size: a new size warms up again
    from models.fasterrcnn_tiny import fasterrcnn_tiny

    detector = Engine(fasterrcnn_tiny().eval(), zoo.get("fasterrcnn-tiny"), "cpu", "random")
    assert [detector.run(_frame(96, 128)).warm_up for _ in range(WARM_UP_RUNS + 1)][-1] is False
    assert detector.run(_frame(128, 96)).warm_up


def test_module_times_are_inclusive_and_the_least_of_the_timed_passes():
    torch.manual_seed(0)
    model = tvm.resnet18().eval()
    times = time_modules(model, (3, 64, 64), repeats=3)
    assert times[""] > 0 and 0 < times["layer1"] < times[""]
    assert times["layer1"] >= times["layer1.0"] and times["layer1.0"] >= times["layer1.0.conv1"]
    assert not model._forward_hooks and not model.layer1._forward_pre_hooks  # the hooks are gone afterwards
