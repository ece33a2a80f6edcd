"""Writing the graph out: the scene as SVG or PNG, the captured graph's layer table as CSV."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QGraphicsScene

from explorer.core.graph import ModelGraph
from explorer.core.graph_view import shape_text

PNG_MAX_SIDE = 16000   # px: within the image formats' and QImage's limits

CSV_COLUMNS = ["id", "label", "op", "kind", "module_path", "input_shapes", "output_shapes", "params",
               "weight_params", "bias_params", "macs", "receptive_field", "stride", "offset", "formula"]


def export_svg(scene: QGraphicsScene, rect: QRectF, path: str | Path, title: str = "graph") -> None:
    """`rect` of the scene as an SVG drawing of the same size."""
    from PySide6.QtSvg import QSvgGenerator

    gen = QSvgGenerator()
    gen.setFileName(str(path))
    gen.setSize(QSize(math.ceil(rect.width()), math.ceil(rect.height())))
    gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    gen.setTitle(title)
    painter = QPainter(gen)
    scene.render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    painter.end()
    if not Path(path).exists():
        raise OSError(f"could not write {path}")


def export_png(scene: QGraphicsScene, rect: QRectF, path: str | Path, scale: float = 1.5) -> None:
    """`rect` of the scene at `scale` (less where the picture would exceed PNG_MAX_SIDE)."""
    scale = min(scale, PNG_MAX_SIDE / max(rect.width(), rect.height(), 1))
    img = QImage(max(1, math.ceil(rect.width() * scale)), max(1, math.ceil(rect.height() * scale)),
                 QImage.Format_ARGB32)
    img.fill(QColor("#ffffff"))
    painter = QPainter(img)
    painter.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
    scene.render(painter, QRectF(0, 0, img.width(), img.height()), rect)
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
