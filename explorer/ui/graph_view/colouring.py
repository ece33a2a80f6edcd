"""What the boxes' colour shows: the op kind, or parameters, MACs or measured time on a log scale."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtGui import QColor

from explorer.core.graph_view import TreeItem
from explorer.ui.graph_view.items import BoxItem
from explorer.ui.graph_view.style import KIND_COLORS, OVERLAYS, scale_color

NOT_MEASURED = (QColor("#eceff1"), QColor("#607d8b"))   # fill, text of a box with no value


@dataclass
class LegendSpec:
    """What the legend shows after colouring: the kinds' chips, or a scale from `lo` to `hi`."""

    kinds: list[str] = field(default_factory=list)
    title: str = ""
    lo: float = 1.0
    hi: float = 1.0

    @property
    def is_scale(self) -> bool:
        return bool(self.title)


def overlay_value(item: TreeItem, mode: str, times: dict[str, float] | None) -> float | None:
    """A box's number under `mode` (None: none, or not measured). A virtual group's time is its children's sum:
    it is no module, so no hook timed it."""
    if mode == "params":
        return float(item.params) if item.params else None
    if mode == "macs":
        return float(item.macs) if item.macs else None
    if mode == "time":
        if not times:
            return None
        if item.virtual:
            values = [times[c] for c in item.children if c in times]
            return sum(values) if values else None
        return times.get(item.id)
    return None


def colour_boxes(boxes: dict[str, BoxItem], mode: str, times: dict[str, float] | None) -> LegendSpec:
    """Give every box its fill and text colour under `mode`; returns what the legend should show."""
    if mode == "kind":
        kinds: list[str] = []
        for box in boxes.values():
            it = box.item
            kind = "block" if it.is_block else it.kind
            box.set_look(QColor(KIND_COLORS.get(kind, "#f5f5f5")), QColor("#000000"))
            if not box.container:
                for k in ([kind, *it.kinds] if it.is_block else [kind]):
                    if k not in kinds:
                        kinds.append(k)
        return LegendSpec(kinds=sorted(kinds))
    values = {bid: overlay_value(box.item, mode, times) for bid, box in boxes.items() if not box.container}
    present = [v for v in values.values() if v]
    lo, hi = (min(present), max(present)) if present else (1.0, 1.0)
    llo, lhi = math.log10(lo), math.log10(hi)
    for bid, value in values.items():
        if not value:
            boxes[bid].set_look(*NOT_MEASURED)
            continue
        t = (math.log10(value) - llo) / (lhi - llo) if lhi > llo else 1.0
        boxes[bid].set_look(scale_color(t), QColor("#ffffff") if t > 0.8 else QColor("#000000"))
    title = dict(OVERLAYS)[mode]
    if mode == "time" and times is None:
        title = "Time (measuring…)"
    return LegendSpec(title=title, lo=lo, hi=hi)
