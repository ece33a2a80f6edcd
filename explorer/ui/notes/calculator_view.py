"""The notes' arithmetic as an interactive calculator: a k×k conv's parameters, two 3×3 against one 5×5, a 1×1
reduction before a 3×3 or 5×5, with receptive fields; the notes' AlexNet figures as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QGridLayout, QGroupBox, QHeaderView, QLabel, QPushButton,
                               QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from explorer.core.notes import calculator as calc
from explorer.ui.notes.common import NotesView, note_label, title_label

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState


def _spin(value: int, bounds: tuple[int, int] = calc.CHANNEL_RANGE) -> QSpinBox:
    """A spin box whose range is said where it is typed: the tooltip, and `_row`'s label (a spin box clamps what
    is typed silently: 99999 in a 1–15 box gives 9)."""
    lo, hi = bounds
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    s.setGroupSeparatorShown(True)
    s.setMaximumWidth(110)
    s.setToolTip(f"{lo:,} to {hi:,}")
    return s


def _row(form: QFormLayout, label: str, spin: QSpinBox) -> None:
    """`label (lo–hi)`, the spin box's range shown next to its name."""
    form.addRow(f"{label} ({spin.minimum():,}–{spin.maximum():,})", spin)


class CalculatorView(NotesView):
    """Pure arithmetic (explorer.core.notes.calculator): no model, no background job needed."""

    TITLE = "Parameter calculator"

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(state, bridge, parent)
        root = QVBoxLayout(self)
        root.addWidget(title_label("The notes' arithmetic: parameters and receptive fields", 13))
        top = QGridLayout()
        root.addLayout(top)

        # 1. one k×k convolution
        box = QGroupBox("One k×k convolution")
        form = QFormLayout(box)
        self.k, self.cin, self.cout, self.groups = (_spin(3, calc.KERNEL_RANGE), _spin(128), _spin(128),
                                                    _spin(1, calc.CHANNEL_RANGE))
        self.bias = QCheckBox("bias")
        for label, w in (("kernel k", self.k), ("input channels", self.cin), ("output channels", self.cout),
                         ("groups", self.groups)):
            _row(form, label, w)
        form.addRow("", self.bias)
        self.conv_result = title_label("", 11)
        self.conv_result.setWordWrap(True)
        form.addRow(self.conv_result)
        top.addWidget(box, 0, 0)

        # 2. stacked 3×3 against one larger kernel (VGG)
        box = QGroupBox("Stacked k×k against one convolution of the same field (VGG)")
        form = QFormLayout(box)
        self.stack_c, self.stack_k, self.stack_n = _spin(128), _spin(3, calc.KERNEL_RANGE), \
            _spin(2, calc.STACK_RANGE)
        for label, w in (("channels C (in = out)", self.stack_c), ("kernel k", self.stack_k),
                         ("stacked layers n", self.stack_n)):
            _row(form, label, w)
        self.stack_result = title_label("", 11)
        self.stack_result.setWordWrap(True)
        form.addRow(self.stack_result)
        top.addWidget(box, 0, 1)

        # 3. 1×1 reduction before a k×k (GoogLeNet)
        box = QGroupBox("1×1 reduction before a k×k (GoogLeNet)")
        form = QFormLayout(box)
        b = calc.INCEPTION_3A
        self.red_in, self.red_mid, self.red_out, self.red_k = _spin(b.c_in), _spin(b.n5x5red), _spin(b.n5x5), \
            _spin(5, calc.KERNEL_RANGE)
        for label, w in (("input channels", self.red_in), ("1×1 reduces to", self.red_mid),
                         ("output channels", self.red_out), ("kernel k", self.red_k)):
            _row(form, label, w)
        presets = QGridLayout()
        p3 = QPushButton("inception (3a) 3×3 branch")
        p3.clicked.connect(lambda: self.set_reduction(b.c_in, b.n3x3red, b.n3x3, 3))
        p5 = QPushButton("inception (3a) 5×5 branch")
        p5.clicked.connect(lambda: self.set_reduction(b.c_in, b.n5x5red, b.n5x5, 5))
        presets.addWidget(p3, 0, 0)
        presets.addWidget(p5, 0, 1)
        form.addRow(presets)
        self.red_result = title_label("", 11)
        self.red_result.setWordWrap(True)
        form.addRow(self.red_result)
        top.addWidget(box, 1, 0, 1, 2)

        # 4. the notes' AlexNet figures
        root.addWidget(QLabel("<b>AlexNet on two GPUs (the notes' figures; weights only)</b>"))
        self.alexnet = QTableWidget(len(calc.ALEXNET_NOTES), 4)
        self.alexnet.setHorizontalHeaderLabels(["Layer", "The notes' arithmetic", "As a convolution", "Parameters"])
        self.alexnet.verticalHeader().setVisible(False)
        self.alexnet.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.alexnet.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, layer in enumerate(calc.ALEXNET_NOTES):
            sp = layer.spec
            conv = f"k={sp.k}, C_in={sp.c_in}, C_out={sp.c_out}, groups={sp.groups}"
            for c, text in enumerate((layer.name, layer.notes_text, conv, f"{sp.weights:,}")):
                item = QTableWidgetItem(text)
                if c == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.alexnet.setItem(r, c, item)
        self.alexnet.setFixedHeight(190)
        root.addWidget(self.alexnet)
        root.addWidget(note_label(
            "Receptive field of stride-1 convolutions: r = 1 + Σ(kᵢ − 1). Groups split the channels: each group's "
            "kernels see C_in/g channels (AlexNet's two GPUs are groups = 2)."))
        root.addStretch(1)

        for s in (self.k, self.cin, self.cout, self.groups, self.stack_c, self.stack_k, self.stack_n,
                  self.red_in, self.red_mid, self.red_out, self.red_k):
            s.valueChanged.connect(self.update_results)
        self.bias.toggled.connect(self.update_results)
        self.update_results()

    def set_reduction(self, c_in: int, c_red: int, c_out: int, k: int) -> None:
        for spin, v in ((self.red_in, c_in), (self.red_mid, c_red), (self.red_out, c_out), (self.red_k, k)):
            spin.blockSignals(True)
            spin.setValue(v)
            spin.blockSignals(False)
        self.update_results()

    def update_results(self) -> None:
        try:
            spec = calc.ConvSpec(self.k.value(), self.cin.value(), self.cout.value(), self.groups.value(),
                                 self.bias.isChecked())
            self.conv_result.setText(f"{spec.formula}<br>receptive field {spec.k}×{spec.k}")
        except calc.CalculatorInputError as exc:
            self.conv_result.setText(f"<span style='color:#c00'>{exc}</span>")
        s = calc.stacked_vs_single(self.stack_c.value(), self.stack_k.value(), self.stack_n.value())
        k, n, c = self.stack_k.value(), self.stack_n.value(), self.stack_c.value()
        self.stack_result.setText(
            f"{n} × {k}×{k}: {' + '.join([f'{k}×{k}×{c}×{c}'] * n)} = {s.stacked_params:,} (field {s.stacked_rf})<br>"
            f"1 × {s.single.k}×{s.single.k}: {s.single.k}×{s.single.k}×{c}×{c} = {s.single_params:,} "
            f"(field {s.single_rf})<br>"
            f"{calc.saving_text(s.stacked_params, s.single_params, f'one {s.single.k}×{s.single.k}')}")
        r = calc.reduction_1x1(self.red_in.value(), self.red_mid.value(), self.red_out.value(), self.red_k.value())
        d, a, m = r.direct, r.reduce, r.after
        self.red_result.setText(
            f"direct {d.k}×{d.k}: {d.k}×{d.k}×{d.c_in}×{d.c_out} = {r.direct_params:,}<br>"
            f"1×1 then {m.k}×{m.k}: 1×1×{a.c_in}×{a.c_out} + {m.k}×{m.k}×{m.c_in}×{m.c_out} = "
            f"{a.params:,} + {m.params:,} = {r.reduced_params:,}<br>"
            f"same field ({r.receptive_field}×{r.receptive_field}); "
            f"{calc.saving_text(r.reduced_params, r.direct_params, f'the direct {d.k}×{d.k}')}")
