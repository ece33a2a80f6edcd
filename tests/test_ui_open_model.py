"""Opening any CNN in the window (issue 19): a torch.export program after its confirmation, an ONNX file, their
feature maps; recent models; the input size; a refused confirmation."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from explorer.ui.main_window import MainWindow, StartOptions
from explorer.ui.settings import read_list
from tests.spec_nets import numel, small_net

SIZE = (3, 64, 64)
LOAD_TIMEOUT = 120_000


def _export_pt2(path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.export.save(torch.export.export(small_net(), (torch.rand(1, *SIZE),)), str(path))
    return path


def _export_onnx(path: Path) -> Path:
    pytest.importorskip("onnx2torch")
    pytest.importorskip("onnxscript")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(small_net(), (torch.rand(1, *SIZE),), str(path), dynamo=True)
    return path


def _answer_consent(qtbot, accept: bool) -> list[str]:
    """Press a button of the confirmation when it shows (it is modal); returns what it said."""
    said: list[str] = []

    def press():
        box = next((w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QMessageBox) and w.objectName() == "consentBox" and w.isVisible()), None)
        if box is None:
            QTimer.singleShot(50, press)
            return
        said.append(box.text())
        for button in box.buttons():
            if (box.buttonRole(button) == QMessageBox.ButtonRole.AcceptRole) == accept:
                button.click()
                return

    QTimer.singleShot(50, press)
    return said


@pytest.fixture
def window(qtbot):
    w = MainWindow(StartOptions(model="alexnet"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.state.handle is not None and w.state.frame is not None, timeout=LOAD_TIMEOUT)
    yield w
    w.close()


def _maps_of(window) -> object:
    return window.panels["featureMapsDock"]


def test_a_pt2_program_opens_after_its_confirmation_and_shows_its_feature_maps(window, qtbot, tmp_path):
    path = _export_pt2(tmp_path / "net.pt2")
    said = _answer_consent(qtbot, accept=True)
    with qtbot.waitSignal(window.state.modelChanged, timeout=LOAD_TIMEOUT):
        assert window.load_model(str(path))
    assert said and "pickled" in said[0]  # the confirmation says why opening it can run code
    handle = window.state.handle
    assert handle.name == str(path) and handle.weights == "embedded"
    qtbot.waitUntil(lambda: window.state.graph is not None, timeout=LOAD_TIMEOUT)
    graph = window.state.graph
    assert graph.total_params == numel(small_net())
    assert not any(a.isChecked() for a in window.model_actions.values())  # not a zoo model
    # feature maps of its first convolution, drawn on the photo
    conv = next(n.id for n in graph.nodes if n.kind == "conv")
    window.state.select(conv)
    maps = _maps_of(window)
    qtbot.waitUntil(lambda: maps.mosaic is not None, timeout=LOAD_TIMEOUT)
    assert maps.frame.activation.shape[0] == small_net().get_submodule(conv).out_channels
    assert read_list(window.settings, "recentModels")[0] == str(path)
    # the second time the same file opens without asking
    window.load_model("alexnet")
    qtbot.waitUntil(lambda: window.state.handle.name == "alexnet", timeout=LOAD_TIMEOUT)
    with qtbot.waitSignal(window.state.modelChanged, timeout=LOAD_TIMEOUT):
        assert window.load_model(str(path))


def test_a_refused_confirmation_opens_nothing(window, qtbot, tmp_path):
    path = _export_pt2(tmp_path / "other.pt2")
    said = _answer_consent(qtbot, accept=False)
    assert not window.load_model(str(path))
    assert said and window.state.handle.name == "alexnet" and window.state.loading == ""


def test_an_onnx_file_opens_without_asking_and_shows_its_feature_maps_and_its_assumption(window, qtbot, tmp_path):
    path = _export_onnx(tmp_path / "net.onnx")
    with qtbot.waitSignal(window.state.modelChanged, timeout=LOAD_TIMEOUT):
        assert window.load_model(str(path))  # a protobuf: nothing in it runs, no confirmation
    qtbot.waitUntil(lambda: window.state.graph is not None and window.state.result is not None,
                    timeout=LOAD_TIMEOUT)
    panel = window.inference_panel
    assert panel.model_note.isVisibleTo(panel) and "ImageNet" in panel.model_note.text()
    assert window.state.result.topk[0].label.startswith("class ")
    conv = next(n.id for n in window.state.graph.nodes if n.kind == "conv")
    window.state.select(conv)
    maps = _maps_of(window)
    qtbot.waitUntil(lambda: maps.mosaic is not None, timeout=LOAD_TIMEOUT)
    assert maps.frame.activation.ndim == 3


def test_the_input_size_is_shown_and_can_be_changed(window, qtbot):
    assert "227×227" not in window.model_label.text()
    h, w = window.state.handle.entry.input_size
    assert f"{h}×{w}" in window.model_label.text()
    with qtbot.waitSignal(window.state.graphChanged, timeout=LOAD_TIMEOUT):
        window.bridge.set_input_size((320, 320))
    qtbot.waitUntil(lambda: window.state.handle.entry.input_size == (320, 320), timeout=LOAD_TIMEOUT)
    assert window.state.graph.input_shape[-2:] == (320, 320)
    assert "320×320" in window.model_label.text()
