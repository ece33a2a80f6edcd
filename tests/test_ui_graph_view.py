"""The graph viewer driven like a user would: clicks, double-clicks, keys, search, overlays, export."""

from __future__ import annotations

import csv
import functools
import html
import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage

from explorer.ui.graph_view import GraphPanel
from explorer.ui.inspector import InspectorPanel
from explorer.ui.state import AppState, ModelHandle


@functools.lru_cache(maxsize=None)
def captured(name: str, size: int):
    from explorer.core import zoo
    from explorer.core.capture import capture_graph

    model = zoo.build(name)
    return model, capture_graph(model, name, (3, size, size))


@pytest.fixture
def panel(qtbot):
    model, graph = captured("resnet18", 64)
    state = AppState()
    p = GraphPanel(state)
    qtbot.addWidget(p)
    p.resize(1000, 800)
    p.show()
    state.set_graph(graph)
    qtbot.waitUntil(p.wait_layout, timeout=10000)
    return p


def wait(qtbot, p):
    qtbot.waitUntil(p.wait_layout, timeout=10000)


def box_point(p, bid: str, header: bool = False) -> QPoint:
    b = p.layout_result.boxes[bid]
    p.canvas.centerOn(b.x + b.width / 2, b.y + 10)
    y = b.y + 8 if header else b.y + b.height / 2
    return p.canvas.mapFromScene(QPointF(b.x + b.width / 2, y))


def test_opens_collapsed_and_click_selects(qtbot, panel):
    state = panel.state
    assert set(panel.boxes) == {"input", "stem", "layer1", "layer2", "layer3", "layer4", "head", "output"}
    assert len(panel.edges) == 7
    inspector = InspectorPanel(state, None)
    qtbot.addWidget(inspector)
    qtbot.mouseClick(panel.canvas.viewport(), Qt.LeftButton, pos=box_point(panel, "layer2"))
    assert state.selected_layer == "layer2" and panel.boxes["layer2"].selected
    text = inspector.label.text()
    params = sum(p.numel() for p in captured("resnet18", 64)[0].layer2.parameters())
    assert f"{params:,}" in text and "Sequential" in text


def test_double_click_expands_and_collapses(qtbot, panel):
    qtbot.mouseDClick(panel.canvas.viewport(), Qt.LeftButton, pos=box_point(panel, "layer1"))
    wait(qtbot, panel)
    assert panel.layout_result.boxes["layer1"].container
    assert {"layer1.0", "layer1.1"} <= set(panel.boxes)
    qtbot.mouseDClick(panel.canvas.viewport(), Qt.LeftButton, pos=box_point(panel, "layer1", header=True))
    wait(qtbot, panel)
    assert not panel.layout_result.boxes["layer1"].container and "layer1.0" not in panel.boxes


def test_expand_all_and_collapse_all(qtbot, panel):
    graph = panel.graph
    panel.act_expand_all.trigger()
    wait(qtbot, panel)
    leaves = {b.id for b in panel.layout_result.boxes.values() if not b.container}
    assert leaves == {n.id for n in graph.nodes}
    panel.act_collapse_all.trigger()
    wait(qtbot, panel)
    assert set(panel.boxes) == {"input", "stem", "layer1", "layer2", "layer3", "layer4", "head", "output"}


def test_search_jumps_between_matches(qtbot, panel):
    panel.canvas.setFocus()
    qtbot.keyClick(panel, Qt.Key_F, Qt.ControlModifier)
    assert panel.search_box.hasFocus()
    qtbot.keyClicks(panel.search_box, "layer3.1.conv")
    assert panel.matches == ["layer3.1.conv1", "layer3.1.conv2"]
    qtbot.keyClick(panel.search_box, Qt.Key_Return)
    wait(qtbot, panel)
    assert panel.state.selected_layer == "layer3.1.conv1"
    assert "layer3.1.conv1" in panel.boxes                      # revealed: its blocks were expanded
    qtbot.keyClick(panel.search_box, Qt.Key_F3)
    wait(qtbot, panel)
    assert panel.selected == "layer3.1.conv2"
    panel.previous_match()
    assert panel.selected == "layer3.1.conv1"
    panel.search_box.setText("Conv2d")                            # op types match too
    assert len(panel.matches) == sum(1 for n in panel.graph.nodes if n.op == "Conv2d")


def test_arrow_keys_and_enter(qtbot, panel):
    panel.select("stem")
    panel.canvas.setFocus()
    qtbot.keyClick(panel.canvas, Qt.Key_Down)
    assert panel.state.selected_layer == "layer1"
    qtbot.keyClick(panel.canvas, Qt.Key_Down)
    assert panel.selected == "layer2"
    qtbot.keyClick(panel.canvas, Qt.Key_Up)
    assert panel.selected == "layer1"
    qtbot.keyClick(panel.canvas, Qt.Key_Return)
    wait(qtbot, panel)
    assert panel.layout_result.boxes["layer1"].container
    # Inside layer1.0 (expanded): conv1 -> bn1 ...; Left/Right move between side-by-side siblings.
    panel.expand("layer2")
    wait(qtbot, panel)
    panel.expand("layer2.0")
    wait(qtbot, panel)
    panel.select("layer2.0.conv1")
    qtbot.keyClick(panel.canvas, Qt.Key_Down)
    assert panel.selected == "layer2.0.bn1"
    lay = panel.layout_result
    side = [b for b in lay.boxes.values() if b.parent == "layer2.0" and b.id != "layer2.0.conv1"
            and b.y < lay.boxes["layer2.0.conv1"].bottom and lay.boxes["layer2.0.conv1"].y < b.bottom]
    panel.select("layer2.0.conv1")
    if side:    # the downsample branch sits beside conv1
        key = Qt.Key_Right if side[0].x > lay.boxes["layer2.0.conv1"].x else Qt.Key_Left
        qtbot.keyClick(panel.canvas, key)
        assert panel.selected == side[0].id


def test_follows_the_app_selection(qtbot, panel):
    panel.state.select_layer("layer2.0.conv1")
    assert panel.selected == "layer2"              # drawn inside the collapsed layer2
    panel.state.select_layer("")
    assert panel.selected == ""


def test_overlays_colour_by_params_and_time(qtbot, panel):
    panel.overlay_combo.setCurrentIndex(panel.overlay_combo.findData("params"))
    assert panel.overlay == "params"
    light = {b: panel.boxes[b].fill.lightnessF() for b in ("layer1", "layer4")}
    assert light["layer4"] < light["layer1"]       # layer4 holds ~8.4M params, layer1 ~148K
    assert panel.legend.scale is not None and panel.legend.scale[2] == panel.view.tree.items["layer4"].params
    model, graph = captured("resnet18", 64)
    panel.state.set_model(ModelHandle("resnet18", None, model, "random", "cpu"))
    with qtbot.waitSignal(panel.timesReady, timeout=30000):
        panel.set_overlay("time")
    times = panel.times
    assert times[""] > 0 and 0 < times["layer1"] < times[""]
    assert panel.overlay_value("stem") == pytest.approx(sum(times[m] for m in ("conv1", "bn1", "relu", "maxpool")))


def test_export_svg_png_csv(qtbot, panel, tmp_path):
    panel.export_svg(tmp_path / "g.svg")
    panel.export_png(tmp_path / "g.png")
    panel.export_csv(tmp_path / "g.csv")
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "layer4" in svg
    img = QImage(str(tmp_path / "g.png"))
    assert not img.isNull() and img.height() > img.width()
    rows = list(csv.DictReader(open(tmp_path / "g.csv")))
    assert len(rows) == len(panel.graph.nodes)
    conv1 = next(r for r in rows if r["id"] == "conv1")
    assert int(conv1["params"]) == 7 * 7 * 3 * 64 and conv1["output_shapes"] == "64×32×32"


@pytest.mark.slow
def test_resnet50_layer2_screenshot(qtbot, tmp_path):
    _, graph = captured("resnet50", 224)
    state = AppState()
    p = GraphPanel(state)
    qtbot.addWidget(p)
    p.resize(1200, 900)
    p.show()
    state.set_graph(graph)
    wait(qtbot, p)
    p.expand("layer2")
    wait(qtbot, p)
    p.fit()
    # Set GRAPH_SCREENSHOT_DIR to keep the picture and look at it.
    path = Path(os.environ.get("GRAPH_SCREENSHOT_DIR", tmp_path)) / "resnet50_layer2.png"
    assert p.grab().save(str(path))
    assert {"layer2.0", "layer2.1", "layer2.2", "layer2.3"} <= set(p.boxes)
    assert p.view.tree.items["layer2.1"].repeat == 3          # bottlenecks 1-3 of layer2 are identical


def test_inspector_shows_a_call(qtbot):
    model, graph = captured("resnet18", 64)
    state = AppState()
    inspector = InspectorPanel(state, None)
    qtbot.addWidget(inspector)
    state.set_graph(graph)
    state.select_layer("layer1.0.conv1")
    text = inspector.label.text()
    # 3×3×64×64 weights, no bias (torchvision's resnet convs). Receptive field by hand: conv1 7×7/2 -> 7 px,
    # jump 2; maxpool 3×3/2 -> 7 + 2·2 = 11 px, jump 4; layer1.0.conv1 3×3/1 -> 11 + 2·4 = 19 px, stride 4.
    assert f"{3 * 3 * 64 * 64:,}" in text and "Conv2d" in text and "layer1.0.conv1" in text
    node = graph.node("layer1.0.conv1")
    assert node.receptive_field == 19 and node.stride == 4 and "19 px" in text and "4 px" in text
    assert node.formula and html.escape(node.formula) in text
    state.select_layer("stem")
    assert "a group of its siblings" in inspector.label.text()
    state.select_layer("")
    assert "Select a layer" in inspector.label.text()


def test_wheel_zooms_around_the_cursor_and_f_fits(qtbot, panel):
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    canvas = panel.canvas
    canvas.resetTransform()
    target = box_point(panel, "layer3")
    before_scene = canvas.mapToScene(target)
    ev = QWheelEvent(QPointF(target), QPointF(canvas.viewport().mapToGlobal(target)), P(0, 0), P(0, 240),
                     Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication_send(canvas.viewport(), ev)
    assert canvas.transform().m11() == pytest.approx(1.0015 ** 240)
    after_scene = canvas.mapToScene(target)
    # The point under the cursor stays under the cursor (to within a pixel of scrolling granularity).
    assert abs(after_scene.x() - before_scene.x()) < 3 and abs(after_scene.y() - before_scene.y()) < 3
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_F)
    lay = panel.layout_result
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert visible.contains(QPointF(lay.width / 2, lay.height / 2))
    assert canvas.transform().m11() < 1.0015 ** 240


def QApplication_send(widget, event) -> None:  # noqa: N802
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(widget, event)


def test_legend_wraps_in_a_narrow_pane_without_hiding_entries(qtbot, panel):
    """At the default centre width (~570 px) every op kind of the legend is drawn inside the legend, on more
    than one line, and the status text sits beside it without overlapping."""
    panel.resize(570, 450)
    qtbot.waitUntil(lambda: panel.legend.width() < 570, timeout=5000)
    legend = panel.legend
    assert len(legend.kinds) >= 8
    placed = legend._flow(legend.width())
    assert [e[1] for _l, _x, e in placed] == legend.kinds                    # every kind, in order
    assert all(x + e[2] <= legend.width() for _l, x, e in placed)              # none clipped on the right
    lines = max(line for line, _x, _e in placed) + 1
    assert lines >= 2 and legend.height() >= lines * legend.ROW              # wrapped and tall enough
    assert legend.geometry().right() < panel.status.geometry().left()       # no overlap with the status
    panel.resize(1400, 450)                                                  # wide: one line again
    qtbot.waitUntil(lambda: max(line for line, _x, _e in legend._flow(legend.width())) == 0, timeout=5000)
