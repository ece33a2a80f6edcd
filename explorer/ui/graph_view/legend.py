"""The graph's legend: the op kinds' colour chips, or the colour scale of a numeric overlay."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize
from PySide6.QtGui import QColor, QFontMetricsF, QLinearGradient, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from explorer.core.graph_view import count_text
from explorer.ui.graph_view.style import KIND_COLORS, SCALE, font


class Legend(QWidget):
    """Colour chips of the op kinds shown, or the colour scale of a numeric overlay. The entries flow onto the
    lines the width needs (height-for-width), so none is clipped in a narrow centre pane; past MAX_LINES the
    remaining kinds are counted in a "+N more" entry, so that the legend never takes the graph's height (at a
    1024 px window the kinds took 7 lines of a 413 px pane)."""

    ROW = 18.0      # line height (px)
    GAP = 10.0      # space between entries
    MAX_LINES = 2

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(22)
        policy = QSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.kinds: list[str] = []
        self.scale: tuple[str, float, float] | None = None

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, self.heightForWidth(400))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(120, 22)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        lines = max((line for line, _x, _entry in self._flow(width)), default=0) + 1
        return int(lines * self.ROW + 4)

    def show_kinds(self, kinds: list[str]) -> None:
        self.kinds, self.scale = kinds, None
        self.updateGeometry()
        self.update()
        hidden = self.hidden_kinds()
        self.setToolTip("Also: " + ", ".join(hidden) if hidden else "")

    def show_scale(self, title: str, lo: float, hi: float) -> None:
        self.scale = (title, lo, hi)
        self.updateGeometry()
        self.update()

    def _entries(self) -> list[tuple[str, str, float]]:
        """(kind of entry, text, width): 'chip' = a colour chip and its kind, 'text', 'bar' = the colour scale."""
        fm = QFontMetricsF(font(False))
        if self.scale is None:
            return [("chip", k, 18 + fm.horizontalAdvance(k)) for k in self.kinds]
        title, lo, hi = self.scale
        fmt = (lambda v: f"{v * 1000:.2f} ms") if title.startswith("Time") else (lambda v: count_text(int(v)))
        low = f"{title} (log scale): {fmt(lo)}"
        return [("text", low, fm.horizontalAdvance(low)), ("bar", fmt(hi), 166 + fm.horizontalAdvance(fmt(hi))),
                ("text", "grey: not measured / none", fm.horizontalAdvance("grey: not measured / none"))]

    def _flow(self, width: float) -> list[tuple[int, float, tuple[str, str, float]]]:
        """(line, x, entry) for each entry shown: left to right, a new line when the next one does not fit, at
        most MAX_LINES lines. Kinds that would need more end in a "+N more" entry (its tooltip names them):
        in a narrow pane the graph keeps its height."""
        entries = self._entries()
        placed = self._place(entries, width)
        if not placed or placed[-1][0] < self.MAX_LINES or self.scale is not None:
            return placed
        fm = QFontMetricsF(font(False))
        for keep in range(len(entries) - 1, -1, -1):
            more = f"+{len(entries) - keep} more"
            attempt = self._place([*entries[:keep], ("more", more, fm.horizontalAdvance(more))], width)
            if attempt[-1][0] < self.MAX_LINES:
                return attempt
        return placed

    def full_height(self, width: float) -> float:
        """The height of every entry at `width`, on as many lines as they need (an exported picture's legend,
        which has no tooltip to name the kinds a "+N more" would leave out)."""
        placed = self._place(self._entries(), width)
        return (placed[-1][0] + 1) * self.ROW + 4 if placed else 0.0

    def render_full(self, painter: QPainter, origin: QPointF, width: float) -> None:
        """Draw every entry at `width` with its top-left at `origin` (in the painter's units: pixel-sized fonts
        follow its scale, as the scene's do)."""
        painter.save()
        painter.translate(origin)
        self._paint(painter, self._place(self._entries(), width))
        painter.restore()

    def _place(self, entries: list[tuple[str, str, float]], width: float) -> list[tuple[int, float, tuple]]:
        placed, line, x = [], 0, 6.0
        for entry in entries:
            if x > 6.0 and x + entry[2] > width - 4:
                line, x = line + 1, 6.0
            placed.append((line, x, entry))
            x += entry[2] + self.GAP
        return placed

    def hidden_kinds(self) -> list[str]:
        """The kinds left out at the current width (named in the "+N more" entry's tooltip)."""
        shown = {e[1] for _line, _x, e in self._flow(self.width()) if e[0] == "chip"}
        return [k for k in self.kinds if k not in shown] if self.scale is None else []

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        hidden = self.hidden_kinds()
        self.setToolTip("Also: " + ", ".join(hidden) if hidden else "")

    def paintEvent(self, event: Any) -> None:  # noqa: N802, ARG002 - Qt API
        p = QPainter(self)
        self._paint(p, self._flow(self.width()))
        p.end()

    def _paint(self, p: QPainter, placed: list[tuple[int, float, tuple]]) -> None:
        p.setFont(font(False))
        for line, x, (kind, text, _w) in placed:
            top = 3 + line * self.ROW
            if kind == "chip":
                p.setBrush(QColor(KIND_COLORS.get(text, "#f5f5f5")))
                p.setPen(QColor("#546e7a"))
                p.drawRect(QRectF(x, top + 1, 14, 12))
                p.setPen(QColor("#263238"))
                p.drawText(QPointF(x + 18, top + 11), text)
            elif kind == "bar":
                # the boxes' scale (style.SCALE) as a gradient: it stays whole at an exported picture's scale
                ramp = QLinearGradient(x, 0, x + 160, 0)
                for t, rgb in SCALE:
                    ramp.setColorAt(t, QColor(*rgb))
                p.fillRect(QRectF(x, top + 1, 160, 12), ramp)
                p.setPen(QColor("#263238"))
                p.drawText(QPointF(x + 166, top + 11), text)
            else:   # "text", or "more" (the kinds left out)
                p.setPen(QColor("#263238") if kind == "text" else QColor("#546e7a"))
                p.drawText(QPointF(x, top + 11), text)
