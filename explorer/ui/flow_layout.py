"""A layout that places its items left to right and wraps them onto the next line where the width ends.

Qt ships none (its documentation has it only as the "Flow Layout" example, which this follows): the feature-map
dock's controls need two lines in a wide dock and three or four in a laptop's narrow one, where a fixed
QHBoxLayout would make the dock scroll sideways.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QLayout, QLayoutItem, QSizePolicy, QWidget


class FlowLayout(QLayout):
    """Items in reading order, each at its size hint (cut to the width where one alone is wider), wrapped."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4, line_spacing: int = 2) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._line_spacing = line_spacing
        self.setContentsMargins(0, 0, 0, 0)

    # -- QLayout's item list ----------------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt's name
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt's name
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802 - Qt's name
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    # -- sizes ---------------------------------------------------------------------------------------------------
    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802 - Qt's name
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        return self._arrange(QRect(0, 0, width, 0), place=False)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Everything on one line."""
        visible = [item for item in self._items if not item.isEmpty()]
        width = sum(item.sizeHint().width() for item in visible) + self._spacing * max(0, len(visible) - 1)
        height = max((item.sizeHint().height() for item in visible), default=0)
        m = self.contentsMargins()
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802 - Qt's name
        """The widest single item: any narrower and it would be cut."""
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802 - Qt's name
        super().setGeometry(rect)
        self._arrange(rect, place=True)

    def _arrange(self, rect: QRect, place: bool) -> int:
        """Lay the items out in `rect` (or only measure); returns the height they need. Items of one line share
        its vertical centre, so a check box sits level with the combo box beside it."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        lines: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = area.x()
        for item in self._items:
            if item.isEmpty():  # hidden widgets take no place
                continue
            hint = item.sizeHint()
            size = QSize(min(hint.width(), max(area.width(), item.minimumSize().width())), hint.height())
            if lines[-1] and x + size.width() > area.x() + area.width():
                lines.append([])
                x = area.x()
            lines[-1].append((item, size))
            x += size.width() + self._spacing
        y = area.y()
        for line in lines:
            if not line:
                continue
            height = max(size.height() for _, size in line)
            x = area.x()
            for item, size in line:
                if place:
                    item.setGeometry(QRect(QPoint(x, y + (height - size.height()) // 2), size))
                x += size.width() + self._spacing
            y += height + self._line_spacing
        return y - self._line_spacing - rect.y() + m.bottom() if y > area.y() else m.top() + m.bottom()


class FlowBox(QWidget):
    """A widget holding a FlowLayout (`flow`) that takes the height its lines need at its width.

    It does not report height-for-width to its parent: QScrollArea (the docks' container) would take the
    parent layout's preferred height for the width as its minimum and scroll what should shrink. Instead the
    box fixes its own height whenever its width changes."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4, line_spacing: int = 2) -> None:
        super().__init__(parent)
        self.flow = FlowLayout(self, spacing, line_spacing)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's name
        return False

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self.fit_height()

    def event(self, event: Any) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:  # a control shown or hidden: maybe another line count
            self.fit_height()
        return handled

    def fit_height(self) -> None:
        """Take the height the lines need at the current width (a shown or hidden control changes it too)."""
        height = self.flow.heightForWidth(self.width())
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)


def group(*widgets: QWidget, spacing: int = 3) -> QWidget:
    """Widgets that belong together ("norm" and its combo box) as one item of a FlowLayout: they wrap as one."""
    box = QWidget()
    box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(spacing)
    for widget in widgets:
        lay.addWidget(widget)
    return box
