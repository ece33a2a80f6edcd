"""Opening any CNN in the window (issue 19): a torch.export program after its confirmation, an ONNX file, their
feature maps; recent models; the input size; a refused confirmation."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

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


def test_an_input_size_the_model_cannot_take_is_refused_with_the_layer_that_says_so(window, qtbot):
    """New-user trial: Input size… 16×16 for vgg16 was accepted; the graph, the layers, the maps and the
    classes went blank on PyTorch's raw error (naming the photo's size). Now the open fails with the capture's
    sentence (which layer's output would be empty), and the model stays at the size it had, still running."""
    handle, graph = window.state.handle, window.state.graph
    with qtbot.waitSignal(window.state.modelFailed, timeout=LOAD_TIMEOUT) as failed:
        window.bridge.set_input_size((16, 16))
    message = failed.args[0]
    assert "too small for alexnet" in message and "3×16×16" in message and "would be 0×0" in message
    assert window.state.handle is handle and window.state.graph is graph
    assert window.state.handle.entry.input_size == (224, 224) and "224×224" in window.model_label.text()
    with qtbot.waitSignal(window.state.resultReady, timeout=LOAD_TIMEOUT):  # the model still runs
        assert window.bridge.rerun()
    assert window.state.result.topk and window.state.result.input_size == (224, 224)


def _recent_models_shown(window) -> list[str]:
    """Model > Recent models as a user sees it when opening it: the entries' texts without their '&N '."""
    window.recent_models_menu.aboutToShow.emit()
    texts = [a.text() for a in window.recent_models_menu.actions() if not a.isSeparator()]
    return [t.split(" ", 1)[1] if t.startswith("&") else t for t in texts]


def test_models_opened_from_the_model_menus_zoo_lists_are_recent_models(window, qtbot):
    """New-user trial: five models opened from the Model menu's zoo lists, and Recent models said '(none)'."""
    assert _recent_models_shown(window)[0] == "alexnet"  # the model the window opened on
    for name in ("fasterrcnn-tiny", "yolov1-tiny", "alexnet"):
        with qtbot.waitSignal(window.state.modelChanged, timeout=LOAD_TIMEOUT):
            window.model_actions[name].trigger()  # as a click on the Model menu's entry
        assert window.state.handle.name == name
    shown = _recent_models_shown(window)
    assert "(none)" not in shown
    assert shown[:3] == ["alexnet", "yolov1-tiny", "fasterrcnn-tiny"]  # most recent first, each once
    assert shown[-1] == "Clear list" and shown.count("alexnet") == 1
    assert read_list(window.settings, "recentModels") == ["alexnet", "yolov1-tiny", "fasterrcnn-tiny"]
    # a recent entry opens its model again and comes first
    entry = next(a for a in window.recent_models_menu.actions() if a.text().endswith(" fasterrcnn-tiny"))
    with qtbot.waitSignal(window.state.modelChanged, timeout=LOAD_TIMEOUT):
        entry.trigger()
    assert _recent_models_shown(window)[:3] == ["fasterrcnn-tiny", "alexnet", "yolov1-tiny"]


def test_the_open_model_dialog_opens_on_one_return_and_grows_for_its_error(qtbot):
    """New-user trial: typing "densenet121" and pressing Return did nothing (the completion list took it); a second
    Return was needed. And a long error ("unknown model 'resnet19' …") was cut in half at the dialog's edge."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from explorer.core import zoo
    from explorer.ui.open_model import OpenModelDialog
    from explorer.ui.settings import open_settings

    dialog = OpenModelDialog(None, open_settings(), sorted(zoo.ZOO), "")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    before = dialog.height()
    QTest.keyClicks(dialog.spec_edit, "resnet19")
    popup = dialog.spec_edit.completer().popup()
    dialog.spec_edit.completer().complete()
    QTest.keyClick(popup if popup.isVisible() else dialog.spec_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(dialog.error.text()), timeout=2000)
    assert "unknown model 'resnet19'" in dialog.error.text() and dialog.isVisible()
    qtbot.wait(50)
    label = dialog.error
    assert dialog.height() > before
    assert label.geometry().bottom() <= dialog.contentsRect().bottom()
    assert label.height() >= label.heightForWidth(label.width())  # every line of the error shows
    dialog.spec_edit.clear()
    QTest.keyClicks(dialog.spec_edit, "densenet121")
    dialog.spec_edit.completer().complete()  # the list is open, nothing chosen in it
    assert popup.isVisible() and not popup.currentIndex().isValid()
    with qtbot.waitSignal(dialog.accepted, timeout=2000):
        QTest.keyClick(popup, Qt.Key.Key_Return)
    assert dialog.spec == "densenet121"
