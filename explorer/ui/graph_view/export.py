"""Writing the graph out: the scene as SVG or PNG with its title and legend (Picture), the captured graph's layer
table as CSV."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from explorer.core.graph import ModelGraph
from explorer.core.graph_view import shape_text
from explorer.ui.graph_view.items import BoxItem
from explorer.ui.graph_view.legend import Legend
from explorer.ui.graph_view.style import font

PNG_MAX_SIDE = 16000   # px: within the image formats' and QImage's limits

CSV_COLUMNS = ["id", "label", "op", "kind", "module_path", "input_shapes", "output_shapes", "params",
               "weight_params", "bias_params", "macs", "receptive_field", "stride", "offset", "formula"]


class Picture:
    """What an exported graph shows: `rect` of the scene as the window draws it, under a `title` line (the model
    and the input its shapes are for) and over the `legend` that says what the colours mean (with a numeric
    overlay's range: exported without it, a Time-coloured graph's colours meant nothing; new-user trial). The
    boxes' selection and search marks are the window's passing state: `boxes` are drawn without them.

    Sizes are in scene units; the PNG scales them, the SVG keeps them."""

    PAD = 8.0           # scene units around the title and the legend
    MIN_WIDTH = 260.0   # a narrow graph still gets a legend wide enough for the colour scale's line

    def __init__(self, scene: QGraphicsScene, rect: QRectF, boxes: Iterable[BoxItem] = (),
                 legend: Legend | None = None, title: str = "") -> None:
        self.scene, self.rect, self.boxes, self.legend, self.title = scene, QRectF(rect), list(boxes), legend, title
        self.width = max(self.rect.width(), self.MIN_WIDTH if legend is not None or title else 0.0)
        self.title_h = Legend.ROW + self.PAD if title else 0.0
        self.legend_h = legend.full_height(self.width - 2 * self.PAD) + self.PAD if legend is not None else 0.0
        self.height = self.title_h + self.rect.height() + self.legend_h

    def paint(self, painter: QPainter) -> None:
        """Draw the picture with its top-left at the painter's origin, in scene units."""
        if self.title:
            painter.setFont(font(True))
            painter.setPen(QColor("#263238"))
            room = QRectF(self.PAD, self.PAD / 2, self.width - 2 * self.PAD, Legend.ROW)
            shown = QFontMetricsF(painter.font()).elidedText(self.title, Qt.ElideRight, room.width())
            painter.drawText(room, Qt.AlignVCenter | Qt.AlignLeft, shown)
        target = QRectF((self.width - self.rect.width()) / 2, self.title_h, self.rect.width(), self.rect.height())
        with unmarked(self.boxes):
            self.scene.render(painter, target, self.rect)
        if self.legend is not None:
            self.legend.render_full(painter, QPointF(self.PAD, self.title_h + self.rect.height()),
                                    self.width - 2 * self.PAD)


@contextmanager
def unmarked(boxes: Iterable[BoxItem]) -> Iterator[None]:
    """The boxes drawn without their selection and search marks for as long as the block runs."""
    marked = [(b, b.selected, b.matched) for b in boxes if b.selected or b.matched]
    for b, _selected, _matched in marked:
        b.set_marks(selected=False, matched=False)
    try:
        yield
    finally:
        for b, selected, matched in marked:
            b.set_marks(selected=selected, matched=matched)


def export_svg(picture: Picture, path: str | Path, title: str = "graph") -> None:
    """The picture as an SVG drawing of the same size (scene units)."""
    from PySide6.QtSvg import QSvgGenerator

    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QSize(math.ceil(picture.width), math.ceil(picture.height)))
    gen.setViewBox(QRectF(0, 0, picture.width, picture.height))
    gen.setTitle(title)
    painter = QPainter(gen)
    picture.paint(painter)
    painter.end()
    if not Path(path).exists():
        raise OSError(f"could not write {path}")


def export_png(picture: Picture, path: str | Path, scale: float = 1.5) -> None:
    """The picture at `scale` (less where it would exceed PNG_MAX_SIDE)."""
    scale = min(scale, PNG_MAX_SIDE / max(picture.width, picture.height, 1))
    img = QImage(max(1, math.ceil(picture.width * scale)), max(1, math.ceil(picture.height * scale)),
                 QImage.Format_ARGB32)
    img.fill(QColor("#ffffff"))
    painter = QPainter(img)
    painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    painter.scale(scale, scale)
    picture.paint(painter)
    painter.end()
    if not img.save(str(path)):
        raise OSError(f"could not write {path}")


def export_csv(graph: ModelGraph, path: str | Path) -> None:
    """The layer table: one row per call of the captured graph, shapes written as everywhere in the app."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for n in graph.nodes:
            w.writerow([n.id, n.label, n.op, n.kind, n.module_path,
                        " ".join(shape_text(s) for s in n.input_shapes),
                        " ".join(shape_text(s) for s in n.output_shapes), n.params, n.weight_params,
                        n.bias_params, n.macs, "" if n.receptive_field is None else n.receptive_field,
                        "" if n.stride is None else n.stride, "" if n.offset is None else n.offset, n.formula])
