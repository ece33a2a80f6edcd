"""The Session without Qt: a generated video through a model with a probe, a model switch mid-stream, a weights
file that fails, folder stepping, and the pipeline's latest-wins delivery."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from explorer.core.session import Session, SessionListener
from tests.test_sources import write_video

ROOT = Path(__file__).resolve().parents[1]


class Recorder(SessionListener):
    """Keeps every report, with the thread it came from."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.lock = threading.Lock()
        self.results = []
        self.ready = threading.Event()
        self.failed = threading.Event()

    def _add(self, *event) -> None:
        with self.lock:
            self.events.append(event)

    def model_loading(self, name, weights, device):
        self._add("loading", name, weights)

    def model_ready(self, opened):
        self._add("ready", opened.handle.name, opened.handle.weights)
        self.ready.set()

    def model_failed(self, message, name, weights):
        self._add("failed", message, name, weights)
        self.failed.set()

    def source_changed(self, info):
        self._add("source", info.kind, info.status, info.position, info.count)

    def source_warning(self, message):
        self._add("warning", message)

    def frame_shown(self, frame):
        self._add("frame", frame.index)

    def result_ready(self, result, stats):
        with self.lock:
            self.results.append(result)
        self._add("result", result.model_name, result.frame.index, sorted(result.extras))

    def inference_failed(self, message):
        self._add("error", message)

    def kinds(self, kind):
        with self.lock:
            return [e for e in self.events if e[0] == kind]


class ShapeProbe:
    """Records the output shape of one module (the engine's probe contract)."""

    def __init__(self, module: str) -> None:
        self.name = f"shape:{module}"
        self.module = module
        self.handle = None
        self.shape = None

    def attach(self, model):
        self.handle = model.get_submodule(self.module).register_forward_hook(
            lambda m, i, o: setattr(self, "shape", tuple(o.shape)))

    def detach(self):
        self.handle.remove()
        self.handle = None

    def collect(self, ctx):
        return self.shape


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def session():
    recorder = Recorder()
    s = Session(recorder, capture_graph=False)
    s.recorder = recorder
    yield s
    s.shutdown()


def test_a_video_through_a_model_with_a_probe_a_model_switch_and_a_failing_weights_file(session, tmp_path):
    rec = session.recorder
    video = write_video(tmp_path / "clip.avi", n=40, size=(64, 48), fps=30.0)
    session.open_model("resnet18", "random", "cpu")
    assert rec.ready.wait(60)
    probe = ShapeProbe("layer4")
    session.add_probe(probe)
    session.open_video(str(video), loop=True)
    assert wait_for(lambda: len(rec.kinds("result")) >= 3)
    resnet = [e for e in rec.kinds("result") if e[1] == "resnet18"]
    assert all(probe.name in e[3] for e in resnet)  # the probe's data comes with every frame
    assert rec.results[-1].extras[probe.name] == (1, 512, 7, 7)
    # switch models while the video plays: the probe moves to the new model's module of the same name? no:
    # alexnet has no layer4, so the view removes it first (as the feature-map dock does on a model change)
    session.remove_probe(probe.name)
    rec.ready.clear()
    session.open_model("alexnet", "random", "cpu")
    assert rec.ready.wait(60)
    session.add_probe(ShapeProbe("features.0"))
    assert wait_for(lambda: any(e[1] == "alexnet" for e in rec.kinds("result")))
    names = [e[1] for e in rec.kinds("result")]
    first_alexnet = names.index("alexnet")
    assert set(names[first_alexnet:]) == {"alexnet"}  # nothing of the old model after the new one's first result
    assert probe.handle is None  # removed probes leave no hook behind
    # a weights file of another architecture: one message, the model and the stream go on
    bad = tmp_path / "resnet.pt"
    import torch

    torch.save({"fc.weight": torch.zeros(3, 3)}, bad)
    session.open_model("alexnet", str(bad), "cpu")
    assert rec.failed.wait(60)
    message = rec.kinds("failed")[-1][1]
    assert "resnet.pt" in message and "\n" not in message
    assert session.handle.name == "alexnet" and session.handle.weights == "random"
    count = len(rec.kinds("result"))
    assert wait_for(lambda: len(rec.kinds("result")) > count + 2)  # the stream still runs through alexnet


def test_the_pipeline_keeps_only_the_newest_frame_and_results_come_in_order(session, tmp_path):
    rec = session.recorder
    session.open_model("resnet18", "random", "cpu")
    assert rec.ready.wait(60)
    # a stream read as fast as it decodes (no pacing): the model cannot keep up, stale frames are dropped
    video = write_video(tmp_path / "fast.avi", n=42, size=(64, 48), fps=30.0)
    session.open_video(str(video), pace=False)
    assert wait_for(lambda: session.source_info.status == "ended", 60)
    assert session.wait_idle(30)
    indices = [e[2] for e in rec.kinds("result")]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert session.dropped > 0 and len(indices) < 42
    assert rec.kinds("source")[-1][1:3] == ("video", "ended")


def test_stills_a_folder_and_a_rerun_for_a_new_probe(session, tmp_path):
    import cv2

    rec = session.recorder
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((40, 50, 3), 40 * i, np.uint8))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    info = session.open_folder(str(tmp_path))  # without a model: frames are shown, nothing runs
    assert (info.kind, info.position, info.count) == ("folder", 1, 4)  # broken.png, first by name, is skipped
    assert info.describe == "folder: img0.png (2 of 4)"
    assert rec.kinds("warning") and "broken.png" in rec.kinds("warning")[0][1]
    assert rec.kinds("frame") and not rec.kinds("result")
    session.open_model("resnet18", "random", "cpu")
    assert rec.ready.wait(60)
    assert wait_for(lambda: rec.kinds("result"))  # the still on screen runs once the model is there
    session.next_item()
    assert session.source_info.position == 2 and session.source_info.describe == "folder: img1.png (3 of 4)"
    assert wait_for(lambda: rec.results and rec.results[-1].frame.source.endswith("img1.png"))
    probe = ShapeProbe("layer1")
    before = len(rec.results)
    session.add_probe(probe)  # a still runs again for the new probe
    assert wait_for(lambda: len(rec.results) > before)
    assert rec.results[-1].extras[probe.name] == (1, 64, 56, 56)
    assert rec.results[-1].frame.source.endswith("img1.png")


def test_run_on_model_runs_between_frames_in_the_pipeline_thread(session):
    rec = session.recorder
    session.open_model("resnet18", "random", "cpu")
    assert rec.ready.wait(60)
    out = {}
    done = threading.Event()

    def job(handle):
        out["thread"] = threading.current_thread().name
        return sum(p.numel() for p in handle.model.parameters())

    session.run_on_model(job, on_done=lambda n: (out.update(n=n), done.set()))
    assert done.wait(30)
    assert out == {"thread": "pipeline", "n": 11689512}  # torchvision's resnet18 num_params


def test_random_weights_are_seeded_and_said_so(session):
    rec = session.recorder
    session.open_model("resnet18", "random", "cpu", seed=7)
    assert rec.ready.wait(60)
    first = next(session.handle.model.parameters()).detach().clone()
    assert session.handle.seed == 7 and "seed 7" in session.handle.weights_note
    rec.ready.clear()
    session.open_model("resnet18", "random", "cpu", seed=7)
    assert rec.ready.wait(60)
    assert next(session.handle.model.parameters()).detach().equal(first)


def test_the_session_runs_without_qt():
    """Driving a Session imports no Qt module (the core is usable from a shell, the CLI and scripts)."""
    code = (
        "import sys\n"
        "from explorer.core.session import Session, SessionListener\n"
        "import threading\n"
        "ready = threading.Event()\n"
        "class L(SessionListener):\n"
        "    def model_ready(self, opened): ready.set()\n"
        "s = Session(L(), capture_graph=False)\n"
        "s.open_model('alexnet', 'random', 'cpu')\n"
        "assert ready.wait(120)\n"
        "s.open_image('resources/images/chelsea.jpg')\n"
        "assert s.wait_idle(60)\n"
        "s.shutdown()\n"
        "qt = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'shiboken', 'pyqtgraph'))]\n"
        "print('qt:', qt)\n"
        "sys.exit(1 if qt else 0)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
