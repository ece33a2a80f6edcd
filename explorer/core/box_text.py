"""What a graph box says and how big the layout makes it for that (no Qt: sizes use a mean glyph width).

Split from explorer.core.layout, which re-exports these names; the items draw the same text (ui.graph_view.items).
"""

from __future__ import annotations

from explorer.core.graph_view import TreeItem, count_text, shape_text

CHAR_W = 6.9          # mean glyph width of the graph's 11 px font (ui.graph_view.style): box sizes without Qt
LINE_H = 14.0


def box_lines(item: TreeItem) -> list[str]:
    """The text a box shows: its title (box_title), then for a call its op and output shape and parameters;
    for a collapsed block its summary, shape and totals."""
    if item.is_block:
        kids = item.children
        return [box_title(item), item.summary or item.type, shape_text(item.output_shape),
                f"{count_text(item.params)} params · {count_text(item.macs)} MACs" if kids else ""]
    third = f"{count_text(item.params)} params" if item.params else (
        f"{count_text(item.macs)} MACs" if item.macs else "")
    return [box_title(item), f"{item.type}  {shape_text(item.output_shape)}", third]


# Names (new-user trial: layer1's first BasicBlock read "0  ×2", and once expanded "0 (BasicBlock)"): a module in
# a Sequential is named by its index alone, so a box names it by its path from the nearest named module
# ("layer1.0", "features.1.0"), and a run of identical sibling blocks says each one's place in it ("1 of 2").
def display_name(item: TreeItem) -> str:
    """The item's name as a reader can place it: its own name, or where that is a bare index in a Sequential,
    its path from the nearest named module ("layer1.0"); an index at the top of a Sequential model is named
    with its type ("BasicBlock 0")."""
    if not item.label.isdigit():
        return item.label
    parts = item.id.split(".")
    start = len(parts) - 1
    while start > 0 and parts[start].isdigit():
        start -= 1
    if parts[start].isdigit():
        return f"{item.type} {item.id}"
    return ".".join(parts[start:])


def repeat_text(item: TreeItem) -> str:
    """A block's place in a run of identical siblings ("1 of 2"), '' outside one."""
    return f"{item.repeat_index + 1} of {item.repeat}" if item.is_block and item.repeat > 1 else ""


def box_title(item: TreeItem) -> str:
    """A box's first line: the name, and for a block in a run of identical ones, its place in the run."""
    run = repeat_text(item)
    return f"{display_name(item)} · {run}" if run else display_name(item)


def frame_title(item: TreeItem) -> str:
    """An expanded block's title bar: the name, its type where that says more, its place in a run."""
    name = display_name(item)
    title = name if item.type in (item.label, name) or item.virtual else f"{name} ({item.type})"
    run = repeat_text(item)
    return f"{title} · {run}" if run else title


def frame_text(item: TreeItem) -> str:
    """What an expanded block's title bar shows: the expanded mark, then frame_title."""
    return "▾ " + frame_title(item)


def title_width(item: TreeItem) -> float:
    """Width reserved for a frame's title text (frame_text at CHAR_W a glyph, a generous estimate of the bold
    font); items elide the text to it, so no edge routed beside this width ever strikes through a letter."""
    return len(frame_text(item)) * CHAR_W


def box_size(item: TreeItem) -> tuple[float, float]:
    lines = box_lines(item)
    width = max(len(s) for s in lines) * CHAR_W + 16
    # Blocks get room for their composition bar under the text.
    return float(min(max(width, 96.0), 260.0)), len(lines) * LINE_H + (14.0 if item.is_block else 8.0)
