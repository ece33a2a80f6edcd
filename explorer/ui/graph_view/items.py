"""The graph's scene items: a box per call or block (BoxItem) and a routed edge (EdgeItem).

Items hold their tree item and their look (fill, text colour, selected, matched); they know nothing of the
panel or the window. Text is skipped where it would be too small to read (the minimap, a far zoom), as Qt's
"40000 chips" example does with `levelOfDetailFromTransform`.

Names and titles come from explorer.core.layout (box_title, frame_text), which sizes the boxes for them and
routes edges clear of a frame's title text (title_width): the title is elided to that width, never wider.
"""

from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen,
                           QPolygonF)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem

from explorer.core.graph_view import TreeItem, shape_text
from explorer.core.layout import TITLE_X, box_lines, box_title, frame_text, repeat_text, title_width
from explorer.ui.graph_view.style import (EDGE, KIND_COLORS, LABEL_PX, MATCH, SELECTED, TEXT_LOD_PX, font)

LINE_PX = 14.0     # text line height inside a box (core.layout.LINE_H sizes the boxes for it)
HEADER_PX = 20.0   # an expanded block's title bar


def _lod(option: QStyleOptionGraphicsItem, painter: QPainter) -> float:
    return option.levelOfDetailFromTransform(painter.worldTransform())


class BoxItem(QGraphicsItem):
    """One box: a call, a collapsed block (with its totals) or the frame of an expanded block."""

    def __init__(self, item: TreeItem, container: bool, width: float, height: float) -> None:
        super().__init__()
        self.item = item
        self.container = container
        self.w, self.h = width, height
        self.fill = QColor(KIND_COLORS.get("block" if item.is_block else item.kind, "#f5f5f5"))
        self.text_color = QColor("#000000")
        self.selected = False
        self.matched = False
        self.setZValue(0 if container else 2)
        self.setAcceptHoverEvents(False)
        self.set_tooltip()

    @staticmethod
    def fonts() -> list[QFont]:
        """Every font a box draws with (the first view's readability is measured on the smallest)."""
        return [font(True), font(False)]

    def set_tooltip(self, extra: str = "") -> None:
        it = self.item
        lines = [f"<b>{html.escape(it.id or it.label)}</b>", html.escape(it.type)]
        if repeat_text(it):
            lines.append(f"{repeat_text(it)} identical {html.escape(it.type)} blocks in a row")
        if it.output_shape:
            lines.append(f"output {shape_text(it.output_shape)}")
        lines.append(f"{it.params:,} params · {it.macs:,} MACs")
        if it.description:
            lines.append(html.escape(it.description))
        if it.is_block:
            lines.append("double-click to collapse" if self.container else "double-click to expand")
        if extra:
            lines.append(extra)
        self.setToolTip("<br>".join(lines))

    def set_size(self, width: float, height: float, container: bool) -> None:
        if (width, height, container) != (self.w, self.h, self.container):
            self.prepareGeometryChange()
            self.w, self.h, self.container = width, height, container
            self.setZValue(0 if container else 2)
            self.set_tooltip()

    def lines(self) -> list[str]:
        """The text a collapsed block or a call shows, line by line."""
        return box_lines(self.item)

    def title(self) -> str:
        """The bold first line, or an expanded block's title bar."""
        return frame_text(self.item) if self.container else box_title(self.item)

    def set_look(self, fill: QColor, text: QColor) -> None:
        if fill != self.fill or text != self.text_color:
            self.fill, self.text_color = fill, text
            self.update()

    def set_marks(self, selected: bool | None = None, matched: bool | None = None) -> None:
        changed = False
        if selected is not None and selected != self.selected:
            self.selected, changed = selected, True
        if matched is not None and matched != self.matched:
            self.matched, changed = matched, True
        if changed:
            self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return QRectF(-2, -2, self.w + 4, self.h + 4)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:  # noqa: ARG002
        rect = QRectF(0, 0, self.w, self.h)
        it = self.item
        marked = self.selected or self.matched
        border = QPen(SELECTED if self.selected else (MATCH if self.matched else QColor("#546e7a")),
                      3 if marked else (1.6 if it.is_block else 1))
        text = _lod(option, painter) * LABEL_PX >= TEXT_LOD_PX
        if self.container:
            self._paint_frame(painter, rect, border, text)
            return
        painter.setPen(border)
        painter.setBrush(self.fill)
        painter.drawRoundedRect(rect, 6 if it.is_block else 3, 6 if it.is_block else 3)
        if it.is_block:   # a second outline hints "there is more inside"
            painter.setPen(QPen(QColor("#78909c"), 1))
            painter.setBrush(Qt.NoBrush)
            painter.drawRoundedRect(rect.adjusted(3, 3, -3, -3), 4, 4)
            self._paint_composition(painter)
        if not text:
            return
        painter.setPen(self.text_color)
        y = 4.0
        for i, line in enumerate(self.lines()):
            f = font(i == 0)
            painter.setFont(f)
            shown = QFontMetricsF(f).elidedText(line, Qt.ElideRight, self.w - 10)
            painter.drawText(QRectF(5, y, self.w - 10, LINE_PX), Qt.AlignVCenter | Qt.AlignHCenter, shown)
            y += LINE_PX

    def _paint_frame(self, painter: QPainter, rect: QRectF, border: QPen, text: bool) -> None:
        """An expanded block: a translucent frame with a title bar."""
        painter.setPen(border)
        painter.setBrush(QColor(236, 239, 241, 110))
        painter.drawRoundedRect(rect, 6, 6)
        header = QRectF(0, 0, self.w, HEADER_PX)
        painter.setBrush(QColor("#cfd8dc"))
        painter.setPen(Qt.NoPen)
        painter.drawRoundedRect(header.adjusted(1, 1, -1, 0), 5, 5)
        if not text:
            return
        painter.setPen(QColor("#263238"))
        painter.setFont(font(True))
        # Within the width the layout reserved for it: edges enter the frame through the bar right of it.
        room = min(title_width(self.item), self.w - TITLE_X - 4)
        painter.drawText(QRectF(TITLE_X, 0, room, HEADER_PX), Qt.AlignVCenter | Qt.AlignLeft,
                         QFontMetricsF(painter.font()).elidedText(self.title(), Qt.ElideRight, room))

    def _paint_composition(self, painter: QPainter) -> None:
        """A collapsed block's bar: the share of each op kind among the calls inside, in the legend's colours."""
        it = self.item
        total = sum(it.kinds.values())
        if not total:
            return
        x, bar_w = 6.0, self.w - 12
        painter.setPen(Qt.NoPen)
        for kind in sorted(it.kinds, key=lambda k: -it.kinds[k]):
            w = bar_w * it.kinds[kind] / total
            painter.setBrush(QColor(KIND_COLORS.get(kind, "#f5f5f5")).darker(115))
            painter.drawRect(QRectF(x, self.h - 8, w, 3))
            x += w


class EdgeItem(QGraphicsPathItem):
    """A routed edge with an arrowhead; hovering shows the tensor shapes it carries."""

    def __init__(self, source: str, target: str, points: list[tuple[float, float]], shapes: list) -> None:
        super().__init__()
        self.source, self.target = source, target
        path = QPainterPath()
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points]))   # an open polyline
        self.setPath(path)
        self.setPen(QPen(EDGE, 1.2))
        self.setZValue(1)
        (x1, y1), (x2, y2) = points[-2], points[-1]
        ang = math.atan2(y2 - y1, x2 - x1)
        tip = QPointF(x2, y2)
        self.arrow = QPolygonF([tip, tip - QPointF(math.cos(ang - 0.4) * 8, math.sin(ang - 0.4) * 8),
                                tip - QPointF(math.cos(ang + 0.4) * 8, math.sin(ang + 0.4) * 8)])
        text = ", ".join(shape_text(s) for s in shapes) if shapes else "?"
        self.setToolTip(f"{html.escape(source)} → {html.escape(target)}<br>tensor {text}")
        self._shape: QPainterPath | None = None

    def shape(self) -> QPainterPath:
        if self._shape is None:     # built on first hover/hit test only: most edges never need it
            stroker = QPainterPathStroker()
            stroker.setWidth(8)
            self._shape = stroker.createStroke(self.path())
        return self._shape

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt API
        return super().boundingRect().united(self.arrow.boundingRect()).adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:  # noqa: ARG002
        detailed = _lod(option, painter) >= 0.3     # no antialiasing or arrowheads in the minimap
        painter.setRenderHint(QPainter.Antialiasing, detailed)
        painter.setPen(self.pen())
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(self.path())
        if detailed:
            painter.setBrush(self.pen().color())
            painter.drawPolygon(self.arrow)
