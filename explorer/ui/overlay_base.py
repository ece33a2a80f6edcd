"""Overlays over the image: the one mechanism every view's pictures on the source image go through.

What the overlays share: putting their items on a ViewBox and taking them off cleanly (OverlayBase), tags
laid out again on a zoom (ZoomWatch, place_tags), a legend that lives in the dock panel (not over the image,
where it hid objects), and the host that shows each overlay only while its dock can be seen (OverlayHost,
DockVisibility)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QResizeEvent
from PySide6.QtWidgets import QDockWidget, QLabel, QWidget

# a legend row: (rgb, Qt pen style or "square", text)
LegendRow = tuple[tuple[int, int, int], Any, str]

def view_pixel_size(view_box: Any) -> tuple[float, float]:
    """Image pixels per screen pixel (x, y) of `view_box`; 1 before the view has a size."""
    try:
        px, py = view_box.viewPixelSize()
    except TypeError:  # not on screen yet: pyqtgraph maps a None pixel vector
        return 1.0, 1.0
    ok = all(v is not None and np.isfinite(v) and v > 0 for v in (px, py))
    return (float(px), float(py)) if ok else (1.0, 1.0)


class ZoomWatch:
    """Calls `on_scale` when a ViewBox's scale changes (a zoom, a resize; a pan keeps it). Text tags keep their
    screen size, so their size in image pixels, and with it their layout, follows the scale; the layout calls
    `laid_out` to remember the scale it was made for."""

    def __init__(self, on_scale: Callable[[], None]) -> None:
        self._on_scale = on_scale
        self._view_box: Any = None
        self._scale: tuple[float, float] | None = None

    def watch(self, view_box: Any) -> None:
        self.unwatch()
        self._view_box = view_box
        view_box.sigTransformChanged.connect(self._changed)  # a ViewBox signal, not a scene one

    def unwatch(self) -> None:
        if self._view_box is not None:
            try:
                self._view_box.sigTransformChanged.disconnect(self._changed)
            except (RuntimeError, TypeError):
                pass
        self._view_box = None

    def laid_out(self) -> None:
        if self._view_box is not None:
            self._scale = view_pixel_size(self._view_box)

    def _changed(self, *_args: Any) -> None:
        if self._view_box is not None and view_pixel_size(self._view_box) != self._scale:
            self._on_scale()


def place_tags(view_box: Any, texts: list[Any], boxes: list[Any], scores: list[float],
               image_size: tuple[float, float]) -> None:
    """Put pyqtgraph TextItems (anchor (0, 0)) labelling `boxes` where no two overlap
    (explorer.core.label_layout: the best score at its box's top-left); a tag with no free place is hidden.
    TextItems draw in screen pixels, so their sizes in image pixels follow the view's zoom."""
    from explorer.core.label_layout import place_labels

    px, py = view_pixel_size(view_box)
    sizes = [(t.boundingRect().width() * px, t.boundingRect().height() * py) for t in texts]
    for t, pos in zip(texts, place_labels(boxes, sizes, image_size, scores)):
        if pos is not None:
            t.setPos(*pos)
        t.setVisible(pos is not None)


# line styles as text, for the legend label (Qt pen styles cannot be drawn in rich text)
_STYLE_GLYPHS = {Qt.PenStyle.SolidLine: "━━━", Qt.PenStyle.DashLine: "╸ ╸ ╸", Qt.PenStyle.DotLine: "┅┅┅",
                 Qt.PenStyle.DashDotLine: "━ · ━", Qt.PenStyle.DashDotDotLine: "━ ·· ━"}


def remove_item(view_box: Any, item: Any) -> None:
    """Take `item` off `view_box` only if it is there: an item already off the scene (or on another scene)
    would make Qt print "QGraphicsScene::removeItem: item ...'s scene is different from this scene"."""
    added = getattr(view_box, "addedItems", [])
    if item in added:
        if item.scene() is not None and item.scene() is view_box.scene():
            view_box.removeItem(item)
            return
        added.remove(item)
    if item.scene() is not None and item.scene() is view_box.scene():
        item.scene().removeItem(item)


class OverlayBase:
    """Graphics items over a ViewBox (source pixels, y down). Subclasses fill `_items` (always on the view
    box, shown or hidden by redraw), use add_dynamic/clear_dynamic for per-redraw items, fill `legend_rows`
    in redraw, and list the scene signals they listen to in `_scene_slots`."""

    def __init__(self, owner: QWidget | None = None) -> None:
        self.owner = owner          # the panel whose dock decides when the overlay shows (OverlayHost)
        self.view_box: Any = None
        self._items: list[Any] = []
        self._dynamic: list[Any] = []
        # legend rows: (rgb, Qt pen style or "square", text); the panel shows them beside the controls
        self.legend_rows: list[LegendRow] = []

    def _scene_slots(self) -> list[tuple[str, Any]]:
        return []

    def attach(self, view_box: Any) -> None:
        if self.view_box is view_box:
            return
        self.detach()
        self.view_box = view_box
        for item in self._extra_items():
            view_box.addItem(item, ignoreBounds=True)
        scene = view_box.scene()
        if scene is not None:
            for name, slot in self._scene_slots():
                getattr(scene, name).connect(slot)
        self.redraw()

    def detach(self) -> None:
        vb = self.view_box
        if vb is None:
            return
        scene = vb.scene()
        if scene is not None:
            for name, slot in self._scene_slots():
                try:
                    getattr(scene, name).disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self.clear_dynamic()
        for item in self._extra_items():
            remove_item(vb, item)
        self.view_box = None

    def _extra_items(self) -> list[Any]:
        """The items kept on the view box while attached (default: `_items`)."""
        return list(self._items)

    def add_dynamic(self, item: Any) -> Any:
        if self.view_box is not None:
            self.view_box.addItem(item, ignoreBounds=True)
            self._dynamic.append(item)
        return item

    def clear_dynamic(self) -> None:
        if self.view_box is not None:
            for item in self._dynamic:
                remove_item(self.view_box, item)
        self._dynamic = []

    def redraw(self) -> None:   # pragma: no cover - overridden
        raise NotImplementedError

    def clear(self) -> None:
        """Forget what was drawn (a new model or source); the next result draws again."""
        self.clear_dynamic()
        for item in self._items:
            item.setVisible(False)

    def legend_html(self) -> str:
        """The legend as rich text: a colour swatch (line style or square) and a label per row."""
        return legend_html(self.legend_rows)


def _glyph(style: Any) -> str:
    return "■" if style == "square" else _STYLE_GLYPHS.get(style, "━━━")


def legend_html(rows: Sequence[LegendRow], whole: Sequence[bool] = ()) -> str:
    """Rich text for legend rows: a colour swatch and a label each. The swatch never parts from its label's first
    word (a dashed line's glyph never breaks either); a row marked in `whole` never breaks at all."""
    entries = []
    for i, (rgb, style, text) in enumerate(rows):
        label = html.escape(text, quote=False)
        if i < len(whole) and whole[i]:
            label = label.replace(" ", "&nbsp;")
        glyph = _glyph(style).replace(" ", "&nbsp;")
        entries.append(f"<span style='color:rgb{tuple(rgb)}'><b>{glyph}</b></span>&nbsp;{label}")
    return "&nbsp;&nbsp; ".join(entries)   # the one breakable space: between two entries


class LegendLabel(QLabel):
    """A compact dark strip for a legend (bright overlay colours read on it as on the image).

    Its entries wrap as wholes: "h:w 1:1 square" was cut into "h:w 1:1" and "square" in a docked panel's
    width. An entry wider than the strip (a sentence, in a very narrow dock) wraps at its spaces rather than
    running off the edge, so the strip never asks its dock for more width than a few characters."""

    MIN_CHARS = 12

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[LegendRow] = []
        self._whole: list[bool] | None = None   # which rows fit on one line at the width last laid out
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setStyleSheet("QLabel { background: #202020; color: #f0f0f0; padding: 3px 6px; border-radius: 3px; }")
        self.setVisible(False)

    def set_rows(self, rows: Sequence[LegendRow]) -> None:
        """Show `rows` (none: the strip hides)."""
        self.rows = list(rows)
        self._whole = None
        self._lay_out()
        self.setVisible(bool(self.rows))

    def entry_width(self, row: LegendRow) -> int:
        """One entry's width on one line: its bold swatch, a space and its label."""
        bold = self.font()
        bold.setBold(True)
        return QFontMetrics(bold).horizontalAdvance(_glyph(row[1])) + \
            self.fontMetrics().horizontalAdvance("\u00a0" + row[2])

    def _lay_out(self) -> None:
        room = self.contentsRect().width()
        whole = [self.entry_width(row) <= room for row in self.rows]
        if whole != self._whole:   # a new text (and a new layout pass) only when an entry changes its mind
            self._whole = whole
            self.setText(legend_html(self.rows, whole))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._lay_out()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # a few characters, not the widest unbreakable entry: the legend must not hold its dock wide
        hint = super().minimumSizeHint()
        margins = self.contentsMargins()
        least = self.fontMetrics().averageCharWidth() * self.MIN_CHARS + margins.left() + margins.right()
        return QSize(min(hint.width(), least), hint.height())


def legend_label() -> LegendLabel:
    """The legend strip a dock panel shows beside its controls."""
    return LegendLabel()


def show_legend(label: LegendLabel, overlay: OverlayBase) -> None:
    """The overlay's legend in `label` while the overlay is on the image; hidden while it is not."""
    label.set_rows(overlay.legend_rows if overlay.view_box is not None else [])


class DockVisibility(QObject):
    """Whether a panel can be seen: shown, and its dock's tab in front. `changed(bool)` on every change.

    A dock in a tab group that is not the current tab stays isVisible() (Qt hides only its contents' region);
    QDockWidget.visibilityChanged, emitted when its tab is selected or unselected, says whether it is on
    screen. The dock is found when the panel is first shown (docks get their panels after they are made)."""

    changed = Signal(bool)

    def __init__(self, panel: QWidget) -> None:
        super().__init__(panel)
        self.panel = panel
        self._dock: QDockWidget | None = None
        self._dock_visible: bool | None = None
        self.shown = False
        panel.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide, QEvent.Type.ParentChange):
            self._track_dock()
            # once the show/hide has settled; `self` as the context: no call after the panel (and this) are gone
            QTimer.singleShot(0, self, self.update)
        return False

    def _track_dock(self) -> None:
        w = self.panel.parentWidget()
        while w is not None and not isinstance(w, QDockWidget):
            w = w.parentWidget()
        if w is not self._dock:
            if self._dock is not None:
                try:
                    self._dock.visibilityChanged.disconnect(self._on_dock)
                except (RuntimeError, TypeError):
                    pass
            self._dock, self._dock_visible = w, None
            if w is not None:
                w.visibilityChanged.connect(self._on_dock)

    def _on_dock(self, visible: bool) -> None:
        self._dock_visible = bool(visible)
        QTimer.singleShot(0, self, self.update)

    def is_shown(self) -> bool:
        try:
            if not self.panel.isVisible():
                return False
        except RuntimeError:  # the panel is gone
            return False
        if self._dock_visible is not None:
            return self._dock_visible
        if self._dock is not None:
            # the panel came after the dock's last visibilityChanged: its region is empty behind another tab
            return not self._dock.visibleRegion().isEmpty()
        return not self.panel.visibleRegion().isEmpty()

    def update(self) -> None:
        shown = self.is_shown()
        if shown != self.shown:
            self.shown = shown
            self.changed.emit(shown)


class OverlayHost(QObject):
    """The image view's side of the one overlay mechanism.

    Views register their overlays in the state (`AppState.add_overlay`); each has an `owner` panel (None: the
    image view's own, always shown). An overlay is on the view box while its owner can be seen (its dock's tab
    in front, DockVisibility), off when it cannot (so a feature-map heat map never stacks with the RPN's
    anchors), and cleared when the model or the source changes (its pictures belong to them)."""

    def __init__(self, view_box: Any, state: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view_box = view_box
        self.state = state
        self._watches: dict[int, tuple[Any, DockVisibility | None]] = {}
        state.overlayAdded.connect(self.add)
        state.overlayRemoved.connect(self.remove)
        state.modelChanged.connect(self.clear_all)
        state.sourceChanged.connect(self._on_source)
        self._source_key: tuple[str, str] = ("", "")
        for overlay in list(state.overlays):
            self.add(overlay)

    @property
    def overlays(self) -> list[Any]:
        return [o for o, _ in self._watches.values()]

    def add(self, overlay: Any) -> None:
        if id(overlay) in self._watches:
            return
        owner = overlay.owner  # every overlay says whose it is (None: the image view's own)
        watch = DockVisibility(owner) if owner is not None else None
        self._watches[id(overlay)] = (overlay, watch)
        if owner is not None:  # an overlay goes with the panel that draws it
            owner.destroyed.connect(lambda *_args, o=overlay: self._owner_gone(o))
        if watch is None:
            overlay.attach(self.view_box)
            return
        watch.changed.connect(lambda shown, o=overlay: self._show(o, shown))
        watch.update()

    def _owner_gone(self, overlay: Any) -> None:
        try:
            self.state.remove_overlay(overlay)
        except RuntimeError:  # the state went first (the window is closing): nothing left to tell
            self._watches.pop(id(overlay), None)

    def remove(self, overlay: Any) -> None:
        entry = self._watches.pop(id(overlay), None)
        if entry is not None:
            overlay.detach()
            if entry[1] is not None:
                entry[1].deleteLater()

    def _show(self, overlay: Any, shown: bool) -> None:
        if id(overlay) not in self._watches:
            return
        if shown:
            overlay.attach(self.view_box)
        else:
            overlay.detach()

    def is_attached(self, overlay: Any) -> bool:
        return getattr(overlay, "view_box", None) is self.view_box

    def clear_all(self, *_args: Any) -> None:
        for overlay in self.overlays:
            overlay.clear()

    def _on_source(self, info: Any) -> None:
        key = (info.kind, info.path)
        if key != self._source_key:  # a new source, not a pause or the next frame
            self._source_key = key
            self.clear_all()
