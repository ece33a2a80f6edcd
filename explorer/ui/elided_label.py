"""A one-line label that ends in "…" where its text does not fit, with the whole text in its tooltip.

QLabel's minimum width is its whole text, so a long layer name ("backbone.body.layer4.2.relu#2 [pool]:
2048×7×7 ...") would force the dock wider than a laptop's screen; clipping it silently hides the part that
matters. Qt has no such widget (QFontMetrics.elidedText does the cutting)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QWidget


class ElidedLabel(QLabel):
    """QLabel for plain one-line text that shrinks below its text's width, eliding at the right."""

    def __init__(self, text: str = "", parent: QWidget | None = None, min_chars: int = 12,
                 width_chars: int | None = None) -> None:
        """`width_chars`: a size hint of that many average characters whatever the text (a layout that does
        not move when the text changes); None: the text's own width."""
        super().__init__(text, parent)
        self._min_chars = min_chars
        self._width_chars = width_chars
        # Preferred, not Ignored: a layout asks an Ignored widget for no width at all
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().sizeHint()
        if self._width_chars is None:
            return hint
        return QSize(self.fontMetrics().averageCharWidth() * self._width_chars, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # the same whatever the text: a status line that changes must not move the window's docks
        hint = super().minimumSizeHint()
        return QSize(self.fontMetrics().averageCharWidth() * self._min_chars, hint.height())

    def shown_text(self) -> str:
        """The text as drawn at the current width (ending in "…" when cut)."""
        margin = self.contentsMargins().left() + self.contentsMargins().right()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.width() - margin)

    def is_elided(self) -> bool:
        return self.shown_text() != self.text()

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(self.alignment()) | int(Qt.TextFlag.TextSingleLine),
                         self.shown_text())

    def event(self, event: Any) -> bool:
        if event.type() == QEvent.Type.ToolTip and not self.toolTip():  # the whole text, where it is cut
            if self.is_elided():
                QToolTip.showText(event.globalPos(), self.text(), self)
            return True
        return super().event(event)
