"""Pure geometry on a GraphLayout (no Qt): arrow-key moves between the laid-out boxes, and where a view that
cannot show the whole graph is placed on it."""

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


def view_origin(lay: GraphLayout, seen: tuple[float, float], margin: float, keep: str | None) -> tuple[float, float]:
    """The scene point for the view's top-left corner when it shows `seen` (width, height, in scene units) of
    `lay` at a set zoom: an axis the graph fits on is centred; otherwise the view starts at the graph's left
    and top edges, as a document opens, and moves only as far as it must to show the box `keep` (the
    selection, or the input) with `margin` around it.

    Moved across, its left edge goes where it cuts the fewest boxes, frames included (a frame's title is at its
    left: cut there, "features (Sequential)" read "eatures (Sequential)"; new-user trial)."""
    w, h = seen
    box = lay.boxes.get(keep or "")
    return _origin_x(lay, w, margin, box), _origin_y(lay, h, margin, box)


def _origin_x(lay: GraphLayout, w: float, m: float, box: LayoutBox | None) -> float:
    if lay.width + 2 * m <= w:
        return lay.width / 2 - w / 2
    last = lay.width + m - w                      # the view's left edge when its right is at the graph's right
    if box is None or box.x + box.width + m <= -m + w:
        return -m
    if box.width + 2 * m > w:                     # wider than the view: its left end, where its title is
        return min(box.x - m, last)
    lefts = [x for x in {-m, last, *(b.x - m for b in lay.boxes.values())}
             if -m <= x <= min(box.x - m, last) and x + w >= box.x + box.width + m]
    if not lefts:
        return min(box.x - m, last)

    def cuts(x: float) -> int:
        return sum(1 for b in lay.boxes.values() if b.x < x < b.x + b.width)

    return min(lefts, key=lambda x: (cuts(x), x))


def _origin_y(lay: GraphLayout, h: float, m: float, box: LayoutBox | None) -> float:
    if lay.height + 2 * m <= h:
        return lay.height / 2 - h / 2
    if box is None or box.y + box.height + m <= -m + h:
        return -m                                 # the input end
    if box.height + 2 * m > h:                    # taller than the view: its top, where a frame's title is
        return box.y - m
    return min(box.y + box.height / 2 - h / 2, lay.height + m - h)
