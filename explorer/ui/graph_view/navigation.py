"""Arrow-key moves between the laid-out boxes (pure geometry on a GraphLayout: no Qt)."""

from __future__ import annotations

from explorer.core.layout import GraphLayout, LayoutBox


def first_box(lay: GraphLayout) -> str | None:
    """The top-left box that is not a frame: where the keys start without a selection."""
    boxes = [b for b in lay.boxes.values() if not b.container]
    return min(boxes, key=lambda b: (b.y, b.x)).id if boxes else None


def neighbour(lay: GraphLayout, current: str, direction: str) -> str | None:
    """The box an arrow key moves to from `current`: up = a predecessor, down = a successor (into a frame:
    its first child; out of one: its parent), left/right = the nearest sibling on the same row."""
    cur = lay.boxes[current]
    cx = cur.x + cur.width / 2

    def nearest(ids: list[str]) -> str:
        return min(ids, key=lambda i: abs(lay.boxes[i].x + lay.boxes[i].width / 2 - cx))

    if direction in ("up", "down"):
        if cur.container:
            kids = [b for b in lay.boxes.values() if b.parent == cur.id]
            if direction == "down" and kids:
                return min(kids, key=lambda b: (b.y, abs(b.x + b.width / 2 - cx))).id
            return cur.parent if direction == "up" else None
        ids = [e.source for e in lay.edges if e.target == cur.id] if direction == "up" else \
              [e.target for e in lay.edges if e.source == cur.id]
        if ids:
            return nearest(ids)
        return cur.parent if direction == "up" else None
    row = [b for b in lay.boxes.values() if b.parent == cur.parent and b.id != cur.id and _same_row(b, cur)]
    if direction == "left":
        row = [b for b in row if b.x < cur.x]
        return max(row, key=lambda b: b.x).id if row else None
    row = [b for b in row if b.x > cur.x]
    return min(row, key=lambda b: b.x).id if row else None


def _same_row(a: LayoutBox, b: LayoutBox) -> bool:
    return a.y < b.bottom and b.y < a.bottom
