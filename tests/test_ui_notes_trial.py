"""A new-user trial of the notes' windows and model cards: Return in the FCN sizes runs them and an error leaves no
old result under it; the calculator's and Fast R-CNN's spin boxes say their ranges; the passes table keeps its
word-wrap; a detector's card says what its MACs assume, as `explorer summary` does; windows fit the screen;
R-CNN's class names are elided, not cut; a card shows its year once and the project's own models as such."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFormLayout, QLabel

from tests.conftest import open_model_and_wait

WAIT_MS = 120_000


def _wait(qtbot, view):
    qtbot.waitUntil(lambda: not view.busy, timeout=WAIT_MS)


def _columns(view) -> list[int]:
    """Grid columns holding a run's pictures (column 0 holds the row captions)."""
    return sorted({view.grid.getItemPosition(i)[1] for i in range(view.grid.count())} - {0})


# ------------------------------------------------------------------------------------------------------ FCN
def test_fcn_return_runs_and_an_error_clears_the_old_result(qtbot, app_state):
    from explorer.ui.notes.fcn_view import FcnView
    view = FcnView(*app_state, sizes=(64,))
    qtbot.addWidget(view)
    view.show()
    _wait(qtbot, view)
    assert [r.coarse_size for r in view.runs] == [(8, 8)]
    view.sizes_edit.setText("72, 40")
    qtbot.keyClick(view.sizes_edit, Qt.Key.Key_Return)      # Return runs, as "Run FCN" does
    _wait(qtbot, view)
    assert [r.coarse_size for r in view.runs] == [(9, 9), (5, 5)]     # ⌈72/8⌉ = 9, ⌈40/8⌉ = 5, by hand
    assert _columns(view) == [1, 2]
    for bad, culprit in (("0, -5", "'0'"), ("abc", "'abc'"), ("7", "'7'"), ("99999", "'99999'"),
                         ("161,,9", "'9'"), ("64, 72, 80, 96, 128", "at most 4")):
        view.sizes_edit.setText("72")
        qtbot.keyClick(view.sizes_edit, Qt.Key.Key_Return)
        _wait(qtbot, view)
        assert _columns(view) == [1]
        view.sizes_edit.setText(bad)
        qtbot.keyClick(view.sizes_edit, Qt.Key.Key_Return)
        text = view.status.text()
        assert culprit in text and "#c00" in text and "Nothing was run" in text, bad
        assert view.runs == [] and _columns(view) == [], bad       # no old pictures under the error
        assert not view.busy
    view.sizes_edit.setText("abc")
    view.run_button.click()                                          # the button: the same
    assert "'abc'" in view.status.text() and _columns(view) == []


def test_fcn_error_drops_a_run_still_out(qtbot, app_state):
    """A run for the old sizes that lands after the error must not put its pictures under it."""
    from explorer.ui.notes.fcn_view import FcnView
    view = FcnView(*app_state, sizes=(64,))
    qtbot.addWidget(view)
    _wait(qtbot, view)
    view.sizes_edit.setText("96")
    qtbot.keyClick(view.sizes_edit, Qt.Key.Key_Return)
    assert view.busy
    view.sizes_edit.setText("abc")
    qtbot.keyClick(view.sizes_edit, Qt.Key.Key_Return)
    assert not view.busy
    qtbot.wait(1500)
    assert view.runs == [] and _columns(view) == [] and "'abc'" in view.status.text()


# ------------------------------------------------------------------------------------------------ calculator
def _form_label(spin) -> str:
    form = spin.parentWidget().layout()
    assert isinstance(form, QFormLayout)
    label = form.labelForField(spin)
    return label.text() if isinstance(label, QLabel) else ""


def test_calculator_ranges_are_shown_and_the_same_everywhere(qtbot, app_state):
    from explorer.core.notes import calculator as calc
    from explorer.ui.notes.calculator_view import CalculatorView
    view = CalculatorView(*app_state)
    qtbot.addWidget(view)
    kernels = [view.k, view.stack_k, view.red_k]
    channels = [view.cin, view.cout, view.groups, view.stack_c, view.red_in, view.red_mid, view.red_out]
    assert {(s.minimum(), s.maximum()) for s in kernels} == {calc.KERNEL_RANGE} == {(1, 15)}
    assert {(s.minimum(), s.maximum()) for s in channels} == {calc.CHANNEL_RANGE}
    assert (view.stack_n.minimum(), view.stack_n.maximum()) == calc.STACK_RANGE
    for spin in [*kernels, *channels, view.stack_n]:
        lo, hi = spin.minimum(), spin.maximum()
        assert f"({lo:,}–{hi:,})" in _form_label(spin)                 # the range next to the box's name
        assert spin.toolTip() == f"{lo:,} to {hi:,}"
    # AlexNet's 11×11 and VGG's 4096 fit every box of their kind
    for spin in kernels:
        spin.setValue(11)
        assert spin.value() == 11
    for spin in (view.cin, view.stack_c, view.red_in):
        spin.setValue(4096)
        assert spin.value() == 4096


def test_calculator_says_costs_more_not_a_negative_saving(qtbot, app_state):
    from explorer.core.notes import calculator as calc
    from explorer.ui.notes.calculator_view import CalculatorView
    view = CalculatorView(*app_state)
    qtbot.addWidget(view)
    view.stack_c.setValue(128)
    view.stack_k.setValue(1)
    view.stack_n.setValue(5)
    text = view.stack_result.text()
    # by hand: five 1×1×128×128 = 81,920 against one 1×1×128×128 = 16,384: 5.0 times
    assert "81,920" in text and "16,384" in text
    assert "costs 5.0× as many as one 1×1" in text and "%" not in text.split("<br>")[-1]
    view.stack_k.setValue(3)
    view.stack_n.setValue(2)
    assert view.stack_result.text().endswith("saving: 28%")            # 1 − 18/25, the notes' VGG figure
    view.set_reduction(16, 64, 16, 1)     # a 1×1 "reduction" that widens: 16·64 + 64·16 = 2,048 against 256
    assert "costs 8.0× as many as the direct 1×1" in view.red_result.text()
    view.set_reduction(192, 16, 32, 5)
    assert view.red_result.text().endswith("saving: 90%")               # 1 − 15,872/153,600
    assert calc.saving_text(3, 4, "x") == "saving: 25%" and calc.saving_text(4, 4, "x") == "saving: 0%"
    assert calc.saving_text(6, 4, "x") == "no saving: costs 1.5× as many as x"


# ------------------------------------------------------------------------------------------------ Fast R-CNN
@pytest.fixture
def opened(qtbot, app_state):
    state, bridge = app_state
    open_model_and_wait(qtbot, state, bridge, "alexnet")
    return state, bridge


def test_roi_passes_table_stays_wrapped_after_an_update(qtbot, opened):
    from explorer.ui.notes.roi_view import RoiView
    view = RoiView(*opened)
    qtbot.addWidget(view)
    view.resize(1150, 820)
    view.show()
    _wait(qtbot, view)
    table = view.passes
    for value in (300, 2000, 17):
        view.regions.setValue(value)
        QApplication.processEvents()
        widths = sum(table.columnWidth(c) for c in range(table.columnCount()))
        assert widths <= table.viewport().width()                       # "How" is not one long cut-off line
        line = table.fontMetrics().lineSpacing()
        for r in range(3):
            text = table.item(r, 2).text()
            needed = table.fontMetrics().horizontalAdvance(text) > table.columnWidth(2) - 8
            if needed:                                                  # a wrapped row is two lines tall
                assert table.rowHeight(r) >= 2 * line, (value, text)
        assert table.item(0, 1).text() == f"{value:,}"
    # the range is said next to the box (a spin box clamps 0 and 99999999999 silently)
    labels = [w.text() for w in view.findChildren(QLabel) if w.text().startswith("Regions per image")]
    assert labels == ["Regions per image (1–100,000):"]
    assert "1 to 100,000" in view.regions.toolTip()


# ------------------------------------------------------------------------------------------------ model cards
def test_detector_card_says_its_proposals_and_what_torchvision_counts():
    import torch

    from explorer.cli.summary import format_table
    from explorer.core import zoo
    from explorer.core.capture import capture_graph
    from explorer.core.notes import cards
    from explorer.ui.notes.card_view import card_html
    name = "fasterrcnn_mobilenet_v3_large_320_fpn"
    torch.manual_seed(0)
    graph = capture_graph(zoo.build(name), name, (3, 320, 320))
    c = cards.with_graph(cards.card(name), graph)
    summary = format_table(graph)
    html = card_html(c)
    # the summary's own figures and assumption
    assert f"Total MACs: {c.macs:,}" in summary and f"{c.macs:,}" in html
    assert "RoI heads at 150 proposals" in summary and "RoI heads at 150 proposals" in html
    # by hand: TwoMLPHead (256·7·7 → 1024 → 1024) and the predictor (1024 → 91 scores, 91·4 box deltas)
    per_proposal = 256 * 7 * 7 * 1024 + 1024 * 1024 + 1024 * 91 + 1024 * 91 * 4
    assert c.proposals == 150 and c.heads_macs == 150 * per_proposal
    ops = zoo.tv_weights_enum(zoo.get(name)).meta["_ops"]
    assert c.published_macs == ops == 0.719
    assert round((c.macs - c.heads_macs) / 1e9, 3) == ops           # torchvision's figure: no RoI heads
    assert "torchvision's published 0.719 G counts the backbone and RPN alone" in html
    assert f"{c.heads_macs / 1e9:.2f} G" in html


def test_classifier_card_agrees_with_torchvision_and_has_no_proposals(qtbot, opened):
    from explorer.core import zoo
    from explorer.core.notes import cards
    from explorer.ui.notes.hub import NotesPanel
    state, bridge = opened
    c = cards.with_graph(cards.card("alexnet"), state.graph)
    assert c.proposals is None and "proposals" not in c.macs_assumption
    ops = zoo.tv_weights_enum(zoo.get("alexnet")).meta["_ops"]
    assert f"torchvision publishes the same figure, {ops:g} G" == c.macs_assumption
    panel = NotesPanel(state, bridge)
    qtbot.addWidget(panel)
    assert panel.title.text() == "alexnet"                 # the year once, on the card's first line
    assert "2012" not in panel.title.text() and panel.card.text().count("2012") >= 1
    assert "· 2012</p>" in panel.card.text()
    assert "torchvision publishes the same figure" in panel.card.text()


def test_project_models_are_labelled_as_such(qtbot, app_state):
    from explorer.core.notes import cards
    from explorer.ui.notes.card_view import CardView, card_html
    tiny = cards.card("fasterrcnn-tiny")
    assert tiny.project_model and tiny.year == 2015
    assert "the project's model, after the 2015 design" in card_html(tiny)
    vgg = cards.card("fasterrcnn_vgg16")
    assert not vgg.project_model and "· 2015</p>" in card_html(vgg)
    assert cards.card("yolov1-tiny").project_model
    view = CardView(*app_state)
    qtbot.addWidget(view)
    row = list(view.cards).index("fasterrcnn-tiny")
    assert view.table.item(row, 1).text() == "project, 2015"
    assert view.table.item(list(view.cards).index("fcn_resnet50"), 1).text() == "2015"


# ------------------------------------------------------------------------------------------ windows, R-CNN
def test_views_open_inside_the_available_screen(qtbot, app_state):
    from explorer.ui.notes import hub
    state, bridge = app_state
    ref = "explorer.ui.notes.calculator_view:CalculatorView"        # asks for 1000×800
    view = hub.open_view(state, bridge, ref, None)
    qtbot.addWidget(view)
    area = view.screen().availableGeometry()
    frame = 40                                   # a title bar and borders, which geometry() leaves out
    assert hub.VIEW_SIZES["CalculatorView"][1] + frame > area.height()   # the case in point
    g = view.geometry()
    assert g.left() >= area.left() and g.right() <= area.right()
    assert g.top() >= area.top() and g.bottom() + frame <= area.bottom()
    view.close()


def test_rcnn_scores_elide_long_class_names(qtbot, opened):
    from types import SimpleNamespace

    import numpy as np

    from explorer.ui.notes.rcnn_view import RcnnView
    view = RcnnView(*opened)
    qtbot.addWidget(view)
    _wait(qtbot, view)
    region = SimpleNamespace(box=(0, 0, 50, 50), crop=np.zeros((224, 224, 3), np.uint8),
                             top=[("Greater Swiss Mountain dog", 0.5), ("cat", 0.25)])
    tile = view._tile(0, region)
    scores = tile.findChildren(QLabel)[-1]
    lines = scores.text().split("<br>")
    assert lines[0].endswith("…") and lines[0].startswith("50.0% Greater Swiss")
    assert scores.fontMetrics().horizontalAdvance(lines[0]) <= tile.width() - 2 * (3 + 4)   # border, margin
    assert lines[1] == "25.0% cat"
    assert scores.toolTip() == "50.0% Greater Swiss Mountain dog\n25.0% cat"
