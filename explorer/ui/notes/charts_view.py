"""Charts (pyqtgraph): ILSVRC top-5 error by year; per-layer parameters against MACs; two models by stage."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from explorer.ui.notes.common import NotesJobs, NotesView, note_label

if TYPE_CHECKING:
    from explorer.ui.bridge import SessionBridge
    from explorer.ui.state import AppState

KIND_COLOURS = {"conv": "#4e79a7", "dense": "#f28e2b", "other": "#9c9c9c"}
MODEL_COLOURS = ("#4e79a7", "#e15759")
TEXT = "#202124"


def _plot(title: str, left: str, bottom: str) -> pg.PlotWidget:
    p = pg.PlotWidget(background="w")
    p.setTitle(title, color=TEXT, size="11pt")
    p.setLabel("left", left, color=TEXT)
    p.setLabel("bottom", bottom, color=TEXT)
    for axis in ("left", "bottom"):
        p.getAxis(axis).setTextPen(TEXT)
        p.getAxis(axis).setPen(TEXT)
    p.showGrid(y=True, alpha=0.25)
    p.setMenuEnabled(False)
    return p


def _text(plot: pg.PlotWidget, text: str, x: float, y: float, anchor=(0.5, 1.0), colour: str = TEXT) -> None:
    item = pg.TextItem(text, color=colour, anchor=anchor)
    item.setPos(x, y)
    plot.addItem(item)


def _model_combo(default: str) -> QComboBox:
    from explorer.core import zoo
    combo = QComboBox()
    for name in zoo.names():
        combo.addItem(name, name)
    i = combo.findData(default)
    combo.setCurrentIndex(max(i, 0))
    return combo


def _stats_work(name: str) -> Any:
    """layer_stats of `name`: with the live model when given one (in its thread), else a fresh build."""
    def work(model: Any) -> Any:
        from explorer.core import zoo
        from explorer.core.notes.layer_stats import layer_stats
        entry = zoo.get(name)
        return layer_stats(model if model is not None else zoo.build(name), (3, *entry.input_size), name)
    return work


def _failed(label: Any) -> Any:
    return lambda message: label.setText(f"<span style='color:#c00'>{message}</span>")


class IlsvrcChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from explorer.core.notes import ilsvrc
        layout = QVBoxLayout(self)
        self.plot = _plot("ILSVRC classification: top-5 error of the winner", "top-5 error (%)", "year")
        years = [r.year for r in ilsvrc.WINNERS]
        errors = [r.top5_error for r in ilsvrc.WINNERS]
        deep = [r.year >= 2012 for r in ilsvrc.WINNERS]
        brushes = ["#e15759" if d else "#9c9c9c" for d in deep]
        self.bars = pg.BarGraphItem(x=years, height=errors, width=0.6, brushes=brushes, pen=pg.mkPen("w"))
        self.plot.addItem(self.bars)
        others = {r.year: r for r in ilsvrc.OTHERS}
        for r in ilsvrc.WINNERS:
            name = r.model.split(" (")[0] if r.year >= 2012 else r.team
            top = r.top5_error
            label = f"{r.top5_error:g}%  {name}"
            if r.year in others:             # the runner-up the notes discuss (VGG), as a diamond on the bar
                o = others[r.year]
                self.plot.addItem(pg.ScatterPlotItem([r.year], [o.top5_error], symbol="d", size=12,
                                                     brush="#4e79a7", pen=pg.mkPen("w")))
                label = f"{label}\n◆ {o.team} {o.top5_error:g}% ({o.note})"
                top = o.top5_error
            _text(self.plot, label, r.year, top + 0.6)
        self.plot.getAxis("bottom").setTicks([[(y, str(y)) for y in years]])
        self.plot.setXRange(2009.4, 2015.8, padding=0)
        self.plot.setYRange(0, 34, padding=0)
        layout.addWidget(self.plot)
        layout.addWidget(note_label(
            "Grey: hand-engineered features (NEC-UIUC, XRCE); red: CNNs. Published winners' test-set figures with the "
            "provided training data (SuperVision's 15.3% and Clarifai's 11.2% used extra data). Sources: "
            "Russakovsky et al., IJCV 2015; Krizhevsky et al. 2012; He et al. 2016. The notes: 28.2% → 3.5%."))


class ParamsMacsChart(QWidget):
    """Per-layer parameters against MACs of any model: dense layers hold the parameters, convolutions the compute."""

    def __init__(self, state: "AppState", jobs: NotesJobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.stats: Any = None
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        handle = state.handle
        self.model = _model_combo(handle.name if handle is not None else "alexnet")
        self.model.currentIndexChanged.connect(self.compute)
        row.addWidget(self.model)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = note_label()
        layout.addWidget(self.status)
        plots = QHBoxLayout()
        self.scatter = _plot("Each layer: parameters against MACs (log–log)", "parameters", "multiply-accumulates")
        self.share = _plot("Share of the model's total", "% of total", "")
        plots.addWidget(self.scatter, 3)
        plots.addWidget(self.share, 2)
        layout.addLayout(plots)
        self.compute()

    @staticmethod
    def _log_ticks(plot: pg.PlotWidget, xs: list[float], ys: list[float]) -> None:
        """Powers of ten as ticks on axes that hold log10 values (pyqtgraph's log mode crowds its labels)."""
        sup = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
        for axis, values in (("bottom", xs), ("left", ys)):
            if not values:
                continue
            lo, hi = math.floor(min(values)), math.ceil(max(values))
            plot.getAxis(axis).setTicks([[(k, f"10{str(k).translate(sup)}") for k in range(lo, hi + 1)]])
        if xs and ys:
            plot.setXRange(math.floor(min(xs)), math.ceil(max(xs)) + 0.3, padding=0.02)
            plot.setYRange(math.floor(min(ys)), math.ceil(max(ys)), padding=0.02)

    def compute(self) -> None:
        name = self.model.currentData()
        self.status.setText(f"Counting {name}'s layers…")
        self.jobs.run_with("params-macs", self.state.handle, name, _stats_work(name), self.show_stats,
                           _failed(self.status))

    def show_stats(self, stats: Any) -> None:
        self.stats = stats
        self.scatter.clear()
        self.share.clear()
        layers = [la for la in stats.layers if la.params > 0 and la.macs > 0]
        for kind in ("conv", "dense"):
            pts = [la for la in layers if la.kind == kind]
            if pts:
                self.scatter.addItem(pg.ScatterPlotItem(
                    [math.log10(la.macs) for la in pts], [math.log10(la.params) for la in pts], size=10,
                    brush=KIND_COLOURS[kind], pen=pg.mkPen("w"), name=kind))
        for la in sorted((la for la in layers if la.kind == "dense"), key=lambda la: -la.params)[:3]:
            _text(self.scatter, la.name, math.log10(la.macs), math.log10(la.params), anchor=(-0.1, 0.5),
                  colour=KIND_COLOURS["dense"])
        self._log_ticks(self.scatter, [math.log10(la.macs) for la in layers], [math.log10(la.params) for la in layers])
        legend = self.scatter.addLegend(offset=(10, 10), labelTextColor=TEXT, brush=pg.mkBrush(255, 255, 255, 220))
        legend.clear()
        for kind in ("conv", "dense"):
            legend.addItem(pg.ScatterPlotItem(brush=KIND_COLOURS[kind], size=10), f"{kind} layers")
        kinds = stats.by_kind()
        total_p, total_m = max(stats.total_params, 1), max(stats.total_macs, 1)
        x = 0
        ticks = []
        for label, idx in (("parameters", 0), ("MACs", 1)):
            bottom = 0.0
            for kind in ("conv", "dense", "other"):
                value = kinds.get(kind, (0, 0))[idx] / (total_p if idx == 0 else total_m) * 100
                if value <= 0:
                    continue
                self.share.addItem(pg.BarGraphItem(x=[x], y0=[bottom], height=[value], width=0.6,
                                                   brush=KIND_COLOURS[kind], pen=pg.mkPen("w")))
                if value > 6:
                    _text(self.share, f"{kind}\n{value:.0f}%", x, bottom + value / 2, anchor=(0.5, 0.5), colour="w")
                bottom += value
            ticks.append((x, label))
            x += 1
        self.share.getAxis("bottom").setTicks([ticks])
        self.share.setYRange(0, 100, padding=0.02)
        self.share.setXRange(-0.6, 1.6, padding=0)
        conv_p, conv_m = kinds.get("conv", (0, 0))
        dense_p, dense_m = kinds.get("dense", (0, 0))
        self.status.setText(
            f"<b>{stats.model_name}</b> at {stats.input_shape[-1]}×{stats.input_shape[-2]}: "
            f"{stats.total_params:,} parameters, {stats.total_macs:,} MACs. Dense layers: {dense_p / total_p:.0%} of "
            f"the parameters, {dense_m / total_m:.0%} of the MACs; convolutions: {conv_p / total_p:.0%} and "
            f"{conv_m / total_m:.0%} (a conv kernel is shared by every position).")


class StageChart(QWidget):
    """Two models side by side, stage by stage (stages = output stride, comparable across models)."""

    def __init__(self, state: "AppState", jobs: NotesJobs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state, self.jobs = state, jobs
        self.stats: dict[int, Any] = {}
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.combos = [_model_combo("alexnet"), _model_combo("vgg16")]
        for i, combo in enumerate(self.combos):
            swatch = QLabel("■")
            swatch.setStyleSheet(f"color: {MODEL_COLOURS[i]}; font-size: 16pt;")
            row.addWidget(swatch)
            row.addWidget(combo)
            combo.currentIndexChanged.connect(lambda _=0, i=i: self.compute(i))
        row.addStretch(1)
        layout.addLayout(row)
        self.status = note_label("Stages are output strides (stride 4 = a quarter of the input's side), so AlexNet's "
                                 "55×55 and VGG's 56×56 line up; the head is everything after global pooling or "
                                 "flattening.")
        layout.addWidget(self.status)
        plots = QHBoxLayout()
        self.params_plot = _plot("Parameters by stage", "millions", "stage")
        self.macs_plot = _plot("MACs by stage", "billions (G)", "stage")
        plots.addWidget(self.params_plot)
        plots.addWidget(self.macs_plot)
        layout.addLayout(plots)
        self.compute(0)
        self.compute(1)

    def compute(self, i: int) -> None:
        name = self.combos[i].currentData()
        self.stats.pop(i, None)
        self.jobs.run_with(f"stage-{i}", self.state.handle, name, _stats_work(name),
                           lambda stats: self._on_stats(i, stats), _failed(self.status))

    def _on_stats(self, i: int, stats: Any) -> None:
        self.stats[i] = stats
        if len(self.stats) == 2:
            self.draw()

    def stage_table(self) -> tuple[list[str], dict[int, dict[str, tuple[int, int]]]]:
        order: list[str] = []
        per: dict[int, dict[str, tuple[int, int]]] = {}
        for i in (0, 1):
            rows = self.stats[i].by_stride()
            per[i] = {s: (p, m) for s, p, m in rows}
            for s, _, _ in rows:
                if s not in order:
                    order.append(s)
        order.sort(key=lambda s: (s == "head", int(s.split()[1]) if s != "head" else 0))
        return order, per

    def draw(self) -> None:
        order, per = self.stage_table()
        for plot, idx, scale in ((self.params_plot, 0, 1e6), (self.macs_plot, 1, 1e9)):
            plot.clear()
            for i in (0, 1):
                xs = np.arange(len(order)) + (i - 0.5) * 0.38
                hs = [per[i].get(s, (0, 0))[idx] / scale for s in order]
                plot.addItem(pg.BarGraphItem(x=xs, height=hs, width=0.36, brush=MODEL_COLOURS[i],
                                             pen=pg.mkPen("w")))
            plot.getAxis("bottom").setTicks([[(k, s.replace("stride ", "/")) for k, s in enumerate(order)]])
            plot.setXRange(-0.7, len(order) - 0.3, padding=0)
        names = [self.stats[i].model_name for i in (0, 1)]
        totals = ", ".join(f"{self.stats[i].model_name}: {self.stats[i].total_params / 1e6:.1f} M parameters, "
                           f"{self.stats[i].total_macs / 1e9:.2f} G MACs" for i in (0, 1))
        self.status.setText(f"<b>{names[0]}</b> (blue) against <b>{names[1]}</b> (red) by output stride "
                            f"(/4 = a quarter of the input's side; head = after global pooling or flattening). "
                            f"{totals}.")


class ChartsView(NotesView):
    """Three tabs: ILSVRC's winners by year, one model's layers (parameters against MACs), two models by stage."""

    TITLE = "Charts: ILSVRC, parameters against MACs, models by stage"

    def __init__(self, state: "AppState", bridge: "SessionBridge", parent: QWidget | None = None) -> None:
        super().__init__(state, bridge, parent)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.ilsvrc = IlsvrcChart()
        self.params_macs = ParamsMacsChart(state, self.jobs)
        self.stages = StageChart(state, self.jobs)
        self.tabs.addTab(self.ilsvrc, "ILSVRC top-5 error")
        self.tabs.addTab(self.params_macs, "Parameters vs MACs")
        self.tabs.addTab(self.stages, "Two models by stage")
        layout.addWidget(self.tabs)
