"""The notes' views, built with pytest-qt as the hub builds them, View(state, bridge): each one's numbers, and a
screenshot of each; they close with Esc and Ctrl+W, run the current model only in its own thread, and the model
cards count every model in the background.

Screenshots go to the test's tmp_path, or to $NOTES_SCREENSHOTS when set (to look at them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.core import zoo
from tests.conftest import open_model_and_wait

WAIT_MS = 120_000


@pytest.fixture
def opened(qtbot, app_state):
    """(state, bridge) with alexnet opened through the bridge, as the window opens it (random weights)."""
    state, bridge = app_state
    open_model_and_wait(qtbot, state, bridge, "alexnet")
    return state, bridge


@pytest.fixture
def state(opened):
    return opened[0]


@pytest.fixture
def bridge(opened):
    return opened[1]


def _shot(widget, name: str, tmp_path: Path, size=(1100, 800)) -> Path:
    widget.resize(*size)
    widget.show()
    out_dir = Path(os.environ.get("NOTES_SCREENSHOTS", tmp_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    assert widget.grab().save(str(path))
    assert path.stat().st_size > 10_000
    return path


def _wait(qtbot, view):
    qtbot.waitUntil(lambda: not view.busy, timeout=WAIT_MS)


def test_ui_notes_hub_imports_without_torch():
    code = ("import sys; import explorer.ui.notes.hub, explorer.ui.notes.common, explorer.ui.notes.calculator_view; "
            "assert 'torch' not in sys.modules")
    import subprocess
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1]).returncode == 0


def test_ui_notes_hub_card_and_views(qtbot, state, bridge, tmp_path):
    from explorer.ui.notes.hub import VIEWS, NotesPanel
    panel = NotesPanel(state, bridge)
    qtbot.addWidget(panel)
    # the year once, on the card's first line, not again in the title (new-user trial)
    assert "Krizhevsky" in panel.card.text() and "· 2012</p>" in panel.card.text() and panel.title.text() == "alexnet"
    assert f"{state.graph.total_params:,}" in panel.card.text()          # from the captured graph
    assert len(VIEWS) == 8 and all(":" in ref for _, ref in VIEWS)
    view = panel.open("explorer.ui.notes.calculator_view:CalculatorView")
    assert view.isVisible() and panel.open("explorer.ui.notes.calculator_view:CalculatorView") is view
    assert view.isWindow() and view.parent() is panel.window()         # a window of its own, kept by Qt
    _shot(panel, "notes_hub", tmp_path, (430, 520))


def test_ui_notes_windows_close_with_esc_and_ctrl_w(qtbot, app_state):
    """Issue 21: the notes' windows did not close with Esc or Ctrl+W. Closed, a view is only hidden: the next
    open shows it as it was."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget
    from explorer.ui.notes.hub import open_view
    state, bridge = app_state
    owner = QWidget()
    qtbot.addWidget(owner)
    ref = "explorer.ui.notes.calculator_view:CalculatorView"
    for key, modifier in ((Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier),
                          (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)):
        view = open_view(state, bridge, ref, owner)
        qtbot.waitUntil(view.isActiveWindow, timeout=5000)          # keys go to the window in front
        view.k.setValue(7)
        view.k.setFocus()
        qtbot.keyClick(view.k, key, modifier)
        qtbot.waitUntil(lambda: not view.isVisible(), timeout=5000)
        again = open_view(state, bridge, ref, owner)
        assert again is view and view.isVisible() and view.k.value() == 7
        view.close()


def test_ui_notes_calculator_view_numbers(qtbot, app_state, tmp_path):
    from explorer.ui.notes.calculator_view import CalculatorView
    view = CalculatorView(*app_state)
    qtbot.addWidget(view)
    assert "294,912" in view.stack_result.text() and "409,600" in view.stack_result.text()
    assert "15,872" in view.red_result.text() and "153,600" in view.red_result.text()
    view.set_reduction(192, 96, 128, 3)           # inception (3a) 3×3 branch
    assert "221,184" in view.red_result.text() and "129,024" in view.red_result.text()
    view.k.setValue(5)
    view.cin.setValue(48 * 2)
    view.cout.setValue(128 * 2)
    view.groups.setValue(2)
    assert "307,200" in view.conv_result.text()
    view.groups.setValue(3)                        # 96 and 256 are not both divisible by 3
    assert "groups" in view.conv_result.text()
    column = [view.alexnet.item(r, 3).text() for r in range(5)]
    assert column == ["34,848", "307,200", "884,736", "663,552", "442,368"]
    view.groups.setValue(1)
    _shot(view, "notes_calculator", tmp_path, (1000, 800))


def test_ui_notes_spp_view_fixed_length_for_drawn_regions(qtbot, state, bridge, tmp_path):
    from explorer.ui.notes.spp_view import SppView
    view = SppView(state, bridge)
    qtbot.addWidget(view)
    _wait(qtbot, view)
    assert view.fmap is not None and view.fmap.backbone == "alexnet" and view.fmap.channels == 256
    lengths = set()
    for box in [(10, 10, 60, 50), (100, 40, 400, 290), (200, 100, 230, 120)]:
        view.set_region(box)
        lengths.add(view.result.length)
        assert f"21·256 = <b>{21 * 256:,}</b>" in view.summary.text()
    assert lengths == {21 * 256}
    view.set_region((120, 60, 330, 250))
    _shot(view, "notes_spp", tmp_path, (1150, 820))


def test_ui_notes_spp_view_region_drawn_with_mouse(qtbot, state, bridge):
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication
    from explorer.ui.notes.spp_view import SppView
    view = SppView(state, bridge)
    qtbot.addWidget(view)
    view.resize(1100, 800)
    view.show()
    _wait(qtbot, view)
    box = view.image_box
    vb = box.view
    start_img, end_img = QPointF(100, 60), QPointF(300, 200)
    to_widget = lambda p: box.mapFromScene(vb.mapViewToScene(p))  # noqa: E731 - image px → widget px
    s, e = QPointF(to_widget(start_img)), QPointF(to_widget(end_img))
    vp = box.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    mods = Qt.KeyboardModifier.NoModifier
    QApplication.sendEvent(vp, QMouseEvent(QMouseEvent.Type.MouseButtonPress, s, s, left, left, mods))
    for t in np.linspace(0.1, 1.0, 6):
        p = s + (e - s) * float(t)
        QApplication.sendEvent(vp, QMouseEvent(QMouseEvent.Type.MouseMove, p, p, none, left, mods))
    with qtbot.waitSignal(box.regionDrawn, timeout=2000) as blocker:
        QApplication.sendEvent(vp, QMouseEvent(QMouseEvent.Type.MouseButtonRelease, e, e, left, none, mods))
    x1, y1, x2, y2 = blocker.args[0]
    assert abs(x1 - 100) < 3 and abs(y1 - 60) < 3 and abs(x2 - 300) < 3 and abs(y2 - 200) < 3
    assert view.box == pytest.approx(blocker.args[0])
    assert view.result.length == 21 * 256


def test_ui_notes_roi_view_pooled_equals_torchvision(qtbot, state, bridge, tmp_path):
    from torchvision.ops import roi_pool
    from explorer.ui.notes.roi_view import RoiView
    view = RoiView(state, bridge)
    qtbot.addWidget(view)
    _wait(qtbot, view)
    view.set_region((60.0, 30.0, 330.0, 260.0))
    ref = roi_pool(view.fmap.features[None], torch.tensor([[0.0, 60, 30, 330, 260]]), 7, 1 / 16)[0]
    assert torch.equal(view.pooled, ref)
    view.channel.setValue(5)
    assert view.table.item(2, 3).text() == f"{ref[5, 2, 3].item():.3f}"
    assert "7×7×256 = 12,544" in view.summary.text()
    passes = {view.passes.item(r, 0).text(): view.passes.item(r, 1).text() for r in range(3)}
    assert passes == {"R-CNN": "2,000", "SPPNet": "1", "Fast R-CNN": "1"}
    view.regions.setValue(300)
    assert view.passes.item(0, 1).text() == "300"
    view.channel.setValue(-1)
    _shot(view, "notes_roi", tmp_path, (1150, 820))


def test_ui_notes_rcnn_view_one_pass_per_region(qtbot, state, bridge, tmp_path):
    import threading

    from explorer.ui.notes.rcnn_view import RcnnView
    threads: set[str] = set()
    state.handle.model.features.register_forward_hook(lambda *_: threads.add(threading.current_thread().name))
    view = RcnnView(state, bridge)
    qtbot.addWidget(view)
    _wait(qtbot, view)
    run = view.run_result
    assert run.cnn_passes == len(run.regions) == 6 and run.model_name == "alexnet"
    assert threads == {"pipeline"}       # the live classifier ran in its own thread only, between frames
    assert "CNN passes: 6 for 6 regions" in view.passes_label.text()
    assert run.regions[0].crop.shape == (224, 224, 3)
    tiles = [view.strip.itemAt(i).widget() for i in range(view.strip.count()) if view.strip.itemAt(i).widget()]
    assert len(tiles) == 6
    view.count.setValue(3)
    view.run()
    _wait(qtbot, view)
    assert view.run_result.cnn_passes == 3
    view.count.setValue(6)
    view.run()
    _wait(qtbot, view)
    _shot(view, "notes_rcnn", tmp_path, (1100, 800))


def test_ui_notes_fcn_view_output_follows_input(qtbot, state, bridge, tmp_path):
    from explorer.core.notes.fcn_sizes import fcn_output_size
    from explorer.ui.notes.fcn_view import FcnView
    view = FcnView(state, bridge, sizes=(64, 100, 129))
    qtbot.addWidget(view)
    _wait(qtbot, view)
    assert [r.coarse_size for r in view.runs] == [(8, 8), (13, 13), (17, 17)]
    assert all(r.coarse_size == fcn_output_size(r.input_size) and r.output_size == r.input_size for r in view.runs)
    heads = [view.grid.itemAtPosition(0, c).widget().text() for c in (1, 2, 3)]
    assert "<b>8×8</b> map" in heads[0] and "⌈100/8⌉ = 13" in heads[1] and "129×129" in heads[2]
    view.sizes_edit.setText("64, abc")
    view.run()
    assert "abc" in view.status.text()
    _shot(view, "notes_fcn", tmp_path, (1000, 700))


def filled_rows(view) -> set[str]:
    return {view.table.item(r, 0).text() for r in range(view.table.rowCount())
            if view.table.item(r, 4).text().endswith(" M")}


def test_ui_notes_card_view_params_and_macs(qtbot, state, bridge, tmp_path):
    """The current model's totals come from its captured graph; every other model is counted in the
    background, one at a time, with the progress on the status line (issue 21: the table filled only for the
    models already opened); the model on show is counted first; closing the window stops the counting and
    showing it again goes on."""
    import re

    import torchvision.models as tvm
    from explorer.ui.notes.card_view import CardView
    view = CardView(state, bridge)
    qtbot.addWidget(view)
    meta = tvm.AlexNet_Weights.IMAGENET1K_V1.meta
    assert f"{meta['num_params']:,}" in view.body.text() and "714,188,480" in view.body.text()
    assert view.table.rowCount() == len(zoo.names())
    assert view.table.item(0, 4).text() == "61.1 M" and view.table.item(0, 5).text() == f"{meta['_ops']:.2f} G"
    view.combo.setCurrentIndex(zoo.names().index("resnet18"))
    view.resize(1000, 760)
    view.show()
    assert re.search(rf"\d+ of {len(zoo.names())} \(resnet18\)", view.status.text())   # the one on show first
    qtbot.waitUntil(lambda: "11,689,512" in view.body.text(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(filled_rows(view)) >= 3, timeout=WAIT_MS)           # and the others after it
    assert {"alexnet", "resnet18"} <= filled_rows(view)
    _shot(view, "notes_cards", tmp_path, (1000, 760))
    view.close()                                             # stops: nothing more arrives while it is closed
    assert not view.busy and not view.counting
    before = filled_rows(view)
    assert bridge.jobs.wait_idle(WAIT_MS)
    qtbot.wait(50)
    assert filled_rows(view) == before
    view.show()                                              # goes on where it stopped
    qtbot.waitUntil(lambda: len(filled_rows(view)) > len(before), timeout=WAIT_MS)
    view.close()


@pytest.mark.slow
def test_ui_notes_card_view_counts_every_model(qtbot, state, bridge):
    from explorer.ui.notes.card_view import CardView
    view = CardView(state, bridge)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.missing() and not view.busy, timeout=10 * WAIT_MS)
    assert filled_rows(view) == set(zoo.names()) and not view.failed
    assert view.status.text() == ""
    view.close()


def test_ui_notes_charts_ilsvrc_params_macs_and_stages(qtbot, state, bridge, tmp_path):
    from explorer.core.notes import ilsvrc
    from explorer.ui.notes.charts_view import ChartsView
    view = ChartsView(state, bridge)
    qtbot.addWidget(view)
    _wait(qtbot, view)
    bars = view.ilsvrc.bars.opts
    assert list(bars["x"]) == [r.year for r in ilsvrc.WINNERS]
    assert list(bars["height"]) == [28.2, 25.8, 16.4, 11.7, 6.7, 3.57]
    text = view.params_macs.status.text()
    assert "61,100,840 parameters" in text and "Dense layers: 96% of the parameters, 8% of the MACs" in text
    order, per = view.stages.stage_table()
    assert order[-1] == "head" and "stride 4" in order
    assert per[0]["head"][0] == 58_631_144 and per[1]["head"][0] == 123_642_856   # alexnet, vgg16 fc layers
    for i in range(3):
        view.tabs.setCurrentIndex(i)
        _shot(view, f"notes_charts_{i}", tmp_path, (1000, 650))


def test_ui_notes_faster_pipeline_opens_existing_views(qtbot, app_state, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWidget
    from explorer.ui.notes.faster_pipeline_view import FasterPipelineView
    from explorer.ui.notes.hub import _OPEN
    state, bridge = app_state
    open_model_and_wait(qtbot, state, bridge, "fasterrcnn-tiny")
    owner = QWidget()                               # the window the view belongs to (the main window in the app)
    qtbot.addWidget(owner)
    view = FasterPipelineView(state, bridge)
    view.setParent(owner, view.windowFlags() | Qt.WindowType.Window)
    docks: list[str] = []
    state.dockRequested.connect(docks.append)
    with qtbot.waitSignal(state.selectionChanged) as sel:
        qtbot.mouseClick(view.buttons["backbone"], Qt.MouseButton.LeftButton)
    assert sel.args[0].item == "backbone"
    with qtbot.waitSignal(state.selectionChanged) as sel:
        qtbot.mouseClick(view.buttons["rpn"], Qt.MouseButton.LeftButton)
    assert sel.args[0].item == "rpn" and docks == ["anchorsDock"]    # the window brings its dock to the front
    qtbot.mouseClick(view.buttons["heads"], Qt.MouseButton.LeftButton)
    assert state.selected_layer == "roi_heads.box_head"
    qtbot.mouseClick(view.buttons["image"], Qt.MouseButton.LeftButton)
    assert docks == ["anchorsDock", "inferenceDock"]
    qtbot.mouseClick(view.buttons["roi"], Qt.MouseButton.LeftButton)
    assert state.selected_layer == "roi_heads.box_roi_pool"
    roi_view = _OPEN[(id(state), "explorer.ui.notes.roi_view:RoiView")]
    assert roi_view.isVisible() and roi_view.parent() is owner
    _wait(qtbot, roi_view)
    assert view.opened == ["backbone", "rpn", "heads", "image", "roi"]
    _shot(view, "notes_faster_pipeline", tmp_path, (1250, 330))
    roi_view.close()


def test_ui_notes_dock_in_main_window_shows_current_model_card(qtbot, tmp_path):
    from PySide6.QtWidgets import QDockWidget
    from explorer.ui.main_window import MainWindow, StartOptions
    from explorer.ui.notes.hub import NotesPanel
    window = MainWindow(StartOptions())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.state.graph is not None, timeout=WAIT_MS)
    dock = window.findChild(QDockWidget, "notesDock")
    panel = window.panels["notesDock"]
    assert dock is not None and isinstance(panel, NotesPanel)
    qtbot.waitUntil(lambda: "11,689,512" in panel.card.text(), timeout=WAIT_MS)   # resnet18, from the graph
    assert "He, Zhang, Ren, Sun" in panel.card.text()
    dock.show()
    dock.raise_()
    _shot(window, "notes_in_main_window", tmp_path, (1400, 900))
