"""Colours, fonts and the readable-zoom rule the graph's items, legend and panel share (no widgets here).

The pixel arithmetic lives apart from painting, as in pyqtgraph's `functions.py`: the panel's first view, the
items' level of detail and the tests all ask `readable_scale()` how far the graph may be zoomed out.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont

KIND_COLORS: dict[str, str] = {
    "input": "#cfd8dc", "output": "#cfd8dc", "conv": "#90caf9", "linear": "#ef9a9a", "norm": "#a5d6a7",
    "activation": "#fff59d", "pool": "#ce93d8", "merge": "#ffcc80", "reshape": "#e0e0e0",
    "upsample": "#80cbc4", "roi": "#f48fb1", "dropout": "#eeeeee", "detection": "#ffab91", "other": "#f5f5f5",
    "block": "#b0bec5",
}
SELECTED = QColor("#1565c0")
MATCH = QColor("#ef6c00")
EDGE = QColor("#607d8b")
OVERLAYS: list[tuple[str, str]] = [("kind", "Op kind"), ("params", "Parameters"), ("macs", "MACs"),
                                   ("time", "Time")]
# A light-to-dark sequential scale (ColorBrewer YlOrRd) so black text stays legible on most of it.
SCALE = [(0.0, (255, 255, 204)), (0.35, (254, 217, 118)), (0.65, (253, 141, 60)), (1.0, (189, 0, 38))]

# Every text in the graph's scene is drawn at LABEL_PX (scene units); the first view never shrinks it below
# MIN_TEXT_PX on screen (issue 21: fitted whole, resnet18's labels were 5–6 px tall and nobody could read them).
LABEL_PX = 11
MIN_TEXT_PX = 9.0
# Below this on-screen size a box draws no text at all (the minimap, a graph zoomed far out): unreadable glyphs
# cost most of the painting time and only add grey noise.
TEXT_LOD_PX = 5.0


def scale_color(t: float) -> QColor:
    """A value in [0, 1] on the sequential scale."""
    t = min(max(t, 0.0), 1.0)
    for (a, ca), (b, cb) in zip(SCALE, SCALE[1:]):
        if t <= b:
            f = (t - a) / (b - a)
            return QColor(*(round(x + (y - x) * f) for x, y in zip(ca, cb)))
    return QColor(*SCALE[-1][1])


_FONTS: dict[tuple[bool, int], QFont] = {}


def font(bold: bool = False, pixel: int = LABEL_PX) -> QFont:
    """The graph's font (pixel-sized: scene units, so the view's zoom alone decides its size on screen)."""
    f = _FONTS.get((bold, pixel))
    if f is None:
        f = QFont()
        f.setPixelSize(pixel)
        f.setBold(bold)
        _FONTS[(bold, pixel)] = f
    return f


def readable_scale() -> float:
    """The smallest zoom at which the graph's text is MIN_TEXT_PX tall on screen."""
    return MIN_TEXT_PX / LABEL_PX
