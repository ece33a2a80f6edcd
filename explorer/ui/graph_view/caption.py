"""The graph's caption: which input the shapes in the graph are for.

The graph is captured once, at the model's input size (ModelHandle.entry.input_size: 224×224 for the
classifiers, 520×520 for FCN, what Model > Input size… set), so every shape in its boxes, edges and exports is
for that input. Most models see every live frame at that size too (the classifiers' centre crop, YOLO's
resize); FCN does not: it is fully convolutional and its preprocessing keeps each frame's own aspect (shorter
side to 520, no crop), and torchvision's detectors resize each frame themselves. Their live feature maps then
follow the frame's size, not the graph's, and the caption says so (new-user trial: nothing did).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.core.graph_view import shape_text

if TYPE_CHECKING:
    from explorer.core.graph import ModelGraph
    from explorer.core.opening import ModelHandle

# ZooEntry.preprocess kinds whose live input keeps the frame's own size (explorer.core.preprocess)
FRAME_SIZED = {
    "segmentation": "it is fully convolutional and its live frames keep their own size (shorter side resized, "
                    "no crop)",
    "detection": "the detector resizes each live frame itself, keeping its aspect ratio",
}


def frame_sized(graph: "ModelGraph", handle: "ModelHandle | None") -> str:
    """Why the live maps of `graph`'s model follow each frame's size ('' when they have the graph's)."""
    if handle is None or handle.name != graph.model_name:
        return ""
    return FRAME_SIZED.get(handle.entry.preprocess, "")


def caption(graph: "ModelGraph | None", handle: "ModelHandle | None") -> tuple[str, str]:
    """(one line, tooltip) for the graph of the current model; ('', '') without a graph."""
    if graph is None:
        return "", ""
    size = shape_text(tuple(graph.input_shape))
    line = f"Shapes for a {size} input"
    tip = f"The graph was captured with one {size} input: every shape in it is for that size."
    why = frame_sized(graph, handle)
    if why:
        line += " · live frames keep their own size"
        tip += (f" {graph.model_name}: {why}, so the live feature maps' sizes follow each frame's, not these "
                "(their channels are the same).")
    if graph.proposals is not None:
        tip += f" MACs of the RoI heads are for {graph.proposals:,} proposals."
    return line, tip
