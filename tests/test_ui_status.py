"""The status bar's rules from the new-user trial: an error goes when the user's next request works, and a file
of a folder that is skipped is a note, not an error that stays while the next images show fine."""

from __future__ import annotations

import shutil

LOAD_TIMEOUT = 120_000


def test_an_error_goes_when_a_model_asked_for_after_it_opens(window, qtbot):
    """'no camera at index 0' stayed in sight after the user switched to another model that opened."""
    window.state.show_error("no camera at index 57")
    assert window.status.error_in_sight
    with qtbot.waitSignal(window.state.modelChanged, timeout=LOAD_TIMEOUT):
        window.bridge.open_model("resnet18", "random")
    assert not window.status.error_in_sight
    assert any(m.text == "no camera at index 57" and m.level == "error"
               for m in window.status.log.entries)  # still in View > Messages
    # an error that comes while the model is loading is about that load: it stays
    window.bridge.open_model("alexnet", "random")
    window.state.show_error("something about this load")
    qtbot.waitUntil(lambda: window.state.handle.name == "alexnet", timeout=LOAD_TIMEOUT)
    assert window.status.error_in_sight and window.status.current == "something about this load"


def test_a_skipped_file_of_a_folder_is_a_note_that_does_not_stay(window, qtbot, tmp_path, sample_image_path):
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(sample_image_path, folder / "a.jpg")
    (folder / "b.jpg").write_bytes(b"not a picture at all")
    shutil.copy(sample_image_path, folder / "c.jpg")
    assert window.open_folder(str(folder))
    window.bridge.next_item()  # past b.jpg, which cannot be decoded
    qtbot.waitUntil(lambda: window.state.source.name.endswith("c.jpg") or "c.jpg" in window.state.source.describe,
                    timeout=LOAD_TIMEOUT)
    qtbot.waitUntil(lambda: any("b.jpg" in m.text for m in window.status.log.entries), timeout=5000)
    said = next(m for m in window.status.log.entries if "b.jpg" in m.text)
    assert said.text.startswith("skipped:") and said.level == "note"
    assert not window.status.error_in_sight


def test_a_detectors_size_is_its_shorter_side_not_a_box(window, qtbot):
    """New-user trial: the status bar said "fasterrcnn_resnet50_fpn · 800×800", but a torchvision detector resizes
    each image to a shorter side (min_size) with its aspect kept (a 640×480 frame runs at 1067×800). The label
    names the shorter side and the tooltip the rule, from the model's own transform; a classifier keeps H×W."""
    assert "227×227" in window.model_label.text() or "224×224" in window.model_label.text()
    with qtbot.waitSignal(window.state.modelChanged, timeout=LOAD_TIMEOUT):
        window.bridge.open_model("fasterrcnn-tiny", "bundled")
    transform = window.state.handle.model.transform
    short, longest = transform.min_size[-1], transform.max_size
    assert f"fasterrcnn-tiny · short side {short} ·" in window.model_label.text()
    assert "×" not in window.model_label.text().split("·")[1]
    assert f"shorter side of {short} px, the longer at most {longest} px" in window.model_label.toolTip()
