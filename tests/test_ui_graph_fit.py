"""The graph viewer's placement, toolbar and export as a new user met them (new-user trial): Fit (F) shows the
whole graph, the automatic view cuts no box at the left and keeps the selection in sight, the search's count
leaves the toolbar's flow alone and does not outlive its model, and an export is the window's graph with its
legend and without the selection and search marks.

Real widgets throughout (the `app_state` fixture's state and bridge, as the window builds the panel)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage

from explorer.ui.graph_view.items import HEADER_PX
from explorer.ui.graph_view.style import KIND_COLORS, MATCH, SCALE, SELECTED, readable_scale
from tests.test_ui_graph_view import CENTRE, captured, in_view, shown_panel, visible_rect, wait


def boxes_outside_view(p) -> list[str]:
    """Boxes whose scene rectangle does not map inside the viewport."""
    vp = p.canvas.viewport().rect()
    return [bid for bid, box in p.boxes.items()
            if not vp.contains(p.canvas.mapFromScene(box.sceneBoundingRect()).boundingRect())]


def cut_at_left(p) -> list[str]:
    """Boxes in view that the view's left edge cuts: a box, or a frame whose title bar (the title is at its
    left) is in view."""
    seen = visible_rect(p)
    return [bid for bid, b in p.layout_result.boxes.items()
            if seen.intersects(QRectF(b.x, b.y, b.width, HEADER_PX if b.container else b.height))
            and b.x < seen.left() < b.x + b.width]


def open_graph(qtbot, app_state, name: str, size: int, panel_size=CENTRE):
    p = shown_panel(qtbot, app_state, panel_size)
    app_state[0].set_graph(captured(name, size)[1])
    wait(qtbot, p)
    return p


# --------------------------------------------------------------------------------------------------- Fit (F)
def test_f_fits_the_whole_graph_though_the_first_view_stops_at_readable_text(qtbot, app_state):
    """resnet18's 8 boxes do not fit the centre pane at the readable zoom: the first view shows its input end,
    and F (which did nothing: it stopped at the same zoom) shows every box."""
    p = open_graph(qtbot, app_state, "resnet18", 224)
    assert p.canvas.transform().m11() == pytest.approx(readable_scale())   # the automatic view keeps its floor
    assert boxes_outside_view(p)                                           # so layer3, layer4, head are below
    p.canvas.setFocus()
    qtbot.keyClick(p.canvas, Qt.Key_F)
    qtbot.waitUntil(lambda: not boxes_outside_view(p), timeout=5000)
    assert not p.canvas.horizontalScrollBar().maximum() and not p.canvas.verticalScrollBar().maximum()
    assert not p.minimap.isVisible()                                        # all in sight: no overview
    assert "readable" not in p.toolbar.act_fit.toolTip() and "whole" in p.toolbar.act_fit.toolTip()


def test_fit_after_zooming_out_an_expanded_graph_shows_all_of_it(qtbot, app_state):
    """Expanded, a graph is far taller than the view: Fit zoomed back in to 82 % at the top. It shows all of it,
    follows resizes until the user moves the view, and the wheel zooms in from there."""
    p = open_graph(qtbot, app_state, "resnet18", 64)
    p.toolbar.act_expand_all.trigger()
    wait(qtbot, p)
    p.canvas.set_zoom(0.3)                                                  # the user zoomed out
    p.toolbar.act_fit.trigger()
    qtbot.waitUntil(lambda: not boxes_outside_view(p), timeout=5000)
    assert p.canvas.transform().m11() < 0.3
    p.resize(CENTRE[0] + 120, CENTRE[1] + 200)
    qtbot.waitUntil(lambda: p.canvas.viewport().height() > CENTRE[1], timeout=5000)
    qtbot.waitUntil(lambda: not boxes_outside_view(p), timeout=5000)
    seen, whole = visible_rect(p), p.area()
    assert whole.height() > 0.8 * seen.height()                             # fitted again to the taller view


# ------------------------------------------------------------------------------------- the automatic view
def test_a_detector_opens_with_nothing_cut_at_the_left(qtbot, app_state):
    """fasterrcnn-tiny opened on "on (RegionProposalNetwork)" and its head box cut at the left: the view was
    centred on the input, and the RPN's frame is left of what that showed."""
    p = open_graph(qtbot, app_state, "fasterrcnn-tiny", 128)
    assert p.canvas.transform().m11() >= readable_scale() - 1e-9
    assert in_view(p, "input")
    assert cut_at_left(p) == []
    assert p.boxes["rpn.head"].sceneBoundingRect().left() >= visible_rect(p).left()


def test_expand_all_keeps_the_selection_in_view_and_cuts_nothing_at_the_left(qtbot, app_state):
    p = open_graph(qtbot, app_state, "resnet18", 64)
    p.select("layer3")
    p.toolbar.act_expand_all.trigger()
    wait(qtbot, p)
    assert p.selected == "layer3" and p.layout_result.boxes["layer3"].container
    # a frame taller than the view: its title bar is in sight, whole across
    title = p.boxes["layer3"].mapRectToScene(0, 0, p.layout_result.boxes["layer3"].width, HEADER_PX)
    assert visible_rect(p).contains(title)
    assert cut_at_left(p) == []
    p.select("layer4.1.conv2")
    p.toolbar.act_collapse_all.trigger()
    wait(qtbot, p)
    assert p.selected == "layer4" and in_view(p, "layer4") and cut_at_left(p) == []


def test_densenet_expanded_cuts_no_frame_title(qtbot, app_state):
    """After Expand all, densenet121's features frame read "eatures (Sequential)"."""
    p = open_graph(qtbot, app_state, "densenet121", 224)
    p.toolbar.act_expand_all.trigger()
    wait(qtbot, p)
    assert in_view(p, "input") and cut_at_left(p) == []
    p.toolbar.act_collapse_all.trigger()
    wait(qtbot, p)
    p.select("features.denseblock2")                   # a box of the collapsed view, low in the graph
    p.toolbar.act_expand_all.trigger()
    wait(qtbot, p)
    assert p.selected == "features.denseblock2" and in_view(p, "features.denseblock2")
    assert cut_at_left(p) == []


# ---------------------------------------------------------------------------------------------- the search
def geometries(p) -> list[QRect]:
    return [QRect(w.mapTo(p, w.rect().topLeft()), w.size()) for w in p.toolbar.controls()]


@pytest.mark.parametrize("width", [574, 700, 1000])
def test_the_match_count_never_reflows_the_toolbar(qtbot, app_state, width):
    """The count beside the search pushed Colour and Export onto another line; it is inside the field now, and
    neither it nor the field's clear button changes where any control is."""
    p = open_graph(qtbot, app_state, "resnet18", 64, (width, 470))
    before, height = geometries(p), p.toolbar.height()
    p.toolbar.search_box.setText("conv")
    qtbot.wait(50)
    assert geometries(p) == before and p.toolbar.height() == height
    p.toolbar.search_box.setText("dropout")
    qtbot.wait(50)
    assert geometries(p) == before and p.toolbar.height() == height
    label = p.toolbar.match_label
    assert label.text() == "no match" and label.isVisible()
    assert p.toolbar.search_box.rect().contains(label.geometry())   # in the field, not over another control


def test_the_count_is_written_in_words_and_steps(qtbot, app_state):
    p = open_graph(qtbot, app_state, "resnet18", 64)
    tb = p.toolbar
    tb.search_box.setText("layer3.1.conv1")
    assert tb.match_label.text() == "1 match"
    tb.search_box.setText("layer3.1.conv")
    assert tb.match_label.text() == "2 matches"
    p.next_match()
    assert tb.match_label.text() == "1/2"
    tb.search_box.setText("zzz")
    assert tb.match_label.text() == "no match" and not tb.act_next.isEnabled()
    tb.search_box.clear()
    assert tb.match_label.text() == "" and not tb.match_label.isVisible()


def test_a_search_does_not_outlive_its_model(qtbot, app_state):
    p = open_graph(qtbot, app_state, "resnet18", 64)
    p.toolbar.search_box.setText("layer")
    assert any(b.matched for b in p.boxes.values())
    app_state[0].set_graph(captured("alexnet2012", 227)[1])
    wait(qtbot, p)
    assert p.toolbar.search_box.text() == "" and p.toolbar.match_label.text() == ""
    assert p.matches == [] and not any(b.matched for b in p.boxes.values())


# ---------------------------------------------------------------------------------------------- the export
def near(c: QColor, ref: QColor, tol: int = 10) -> bool:
    return max(abs(c.red() - ref.red()), abs(c.green() - ref.green()), abs(c.blue() - ref.blue())) <= tol


def colours_in(img: QImage, top: int, bottom: int) -> list[QColor]:
    return [img.pixelColor(x, y) for y in range(max(top, 0), min(bottom, img.height()))
            for x in range(0, img.width(), 1)]


def test_an_exported_graph_has_its_legend_and_no_selection_or_search_marks(qtbot, app_state, tmp_path):
    p = open_graph(qtbot, app_state, "resnet18", 64)
    p.select("layer2")
    p.toolbar.search_box.setText("layer")                                     # layer1..4 marked as matches
    assert p.boxes["layer2"].selected and p.boxes["layer1"].matched
    p.export_png(tmp_path / "kind.png", scale=2.0)
    img = QImage(str(tmp_path / "kind.png"))
    everything = colours_in(img, 0, img.height())
    assert not any(near(c, SELECTED, 25) or near(c, MATCH, 25) for c in everything)
    pic = p.picture()
    graph_bottom = round((pic.title_h + pic.rect.height()) * 2)
    assert img.height() == pytest.approx(pic.height * 2, abs=1) and pic.legend_h > 0
    strip = colours_in(img, graph_bottom, img.height())
    for kind in p.legend.kinds:                                               # every chip, none left out
        assert any(near(c, QColor(KIND_COLORS[kind]), 2) for c in strip), kind
    assert p.boxes["layer2"].selected and p.boxes["layer1"].matched           # the window keeps its marks
    # The fills are the window's: each box's colour where no text or outline is.
    for bid, b in p.layout_result.boxes.items():
        if not b.container:
            at = QPointF(b.x + 2 - pic.rect.x() + (pic.width - pic.rect.width()) / 2,
                         b.y + b.height / 2 - pic.rect.y() + pic.title_h) * 2
            assert near(img.pixelColor(int(at.x()), int(at.y())), p.boxes[bid].fill, 3), bid


def test_an_overlay_exports_with_its_scale(qtbot, app_state, tmp_path):
    p = open_graph(qtbot, app_state, "resnet18", 64)
    p.set_overlay("params")
    p.export_svg(tmp_path / "params.svg")
    svg = (tmp_path / "params.svg").read_text()
    assert "Parameters (log scale)" in svg and "resnet18" in svg
    p.export_png(tmp_path / "params.png", scale=1.0)
    img = QImage(str(tmp_path / "params.png"))
    pic = p.picture()
    strip = colours_in(img, round(pic.title_h + pic.rect.height()), img.height())
    for _t, rgb in (SCALE[0], SCALE[-1]):                                    # both ends of the colour bar
        assert any(near(c, QColor(*rgb), 6) for c in strip)
