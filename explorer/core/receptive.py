"""Which input pixels a feature-map pixel sees: its receptive-field box, in model-input and source pixels.

The graph (explorer.core.capture) gives every node its receptive field r, effective stride j and the centre of
its first output pixel ("offset"), from the recurrences of Araujo, Norris and Sim, "Computing Receptive Fields
of Convolutional Neural Networks", Distill 2019: r_out = r_in + (k - 1)·j_in, j_out = j_in·s,
start_out = start_in + ((k - 1)/2 - p)·j_in. Output pixel (i, j) is centred on start + i·j_out and covers r
input pixels around it.

Coordinates here are continuous, pixel k spanning [k, k + 1) (so its centre is k + 0.5), the convention of
pyqtgraph's ImageItem and of the source-image view; boxes are (x0, y0, x1, y1) with x1, y1 exclusive.
Example (AlexNet conv1: k = 11, s = 4, p = 2): output pixel (i, j) covers input rows 4i − 2 .. 4i + 8,
i.e. the box [4j − 2, 4j + 9) × [4i − 2, 4i + 9), 11 × 11, partly in the zero padding at the border.

The model's input is the source image resized (and maybe cropped) by the preprocessing; `InputGeometry`
maps model-input pixels back to source pixels: x_src = (x_in + crop_x) / sx.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from explorer.core.errors import ExplorerError

if TYPE_CHECKING:
    from explorer.core.graph import GraphNode, ModelGraph

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FieldGeometry:
    """Receptive field r, stride j and the first output pixel's centre, in continuous input coordinates."""

    receptive_field: float
    stride: float
    first_centre: float          # centre of output pixel 0 (pixel k of the input has its centre at k + 0.5)

    def centre(self, index: int) -> float:
        return self.first_centre + index * self.stride

    def span(self, index: int) -> tuple[float, float]:
        c = self.centre(index)
        return c - self.receptive_field / 2.0, c + self.receptive_field / 2.0


@dataclass(frozen=True)
class InputGeometry:
    """How the source image became the model input: model pixels per source pixel (sx, sy), then a crop whose
    top-left corner is at (crop_x, crop_y) in the resized image. x_in = x_src·sx − crop_x."""

    scale: tuple[float, float] = (1.0, 1.0)
    crop: tuple[float, float] = (0.0, 0.0)

    def to_source(self, box: Box) -> Box:
        sx, sy = self.scale
        cx, cy = self.crop
        x0, y0, x1, y1 = box
        return (x0 + cx) / sx, (y0 + cy) / sy, (x1 + cx) / sx, (y1 + cy) / sy

    def to_input(self, box: Box) -> Box:
        sx, sy = self.scale
        cx, cy = self.crop
        x0, y0, x1, y1 = box
        return x0 * sx - cx, y0 * sy - cy, x1 * sx - cx, y1 * sy - cy


def field_geometry(node: "GraphNode", graph: "ModelGraph | None" = None) -> FieldGeometry:
    """The receptive-field geometry of `node`, converted to continuous coordinates.

    The graph's offsets are in its own coordinates; the input node's offset (the centre of input pixel 0 in
    those coordinates: 0 when pixels are indexed from their centres, 0.5 when from their edges) converts them.
    """
    if node.receptive_field is None or node.stride is None or node.offset is None:
        raise ExplorerError(f"layer '{node.id}' has no receptive field (after a flatten or a fully connected "
                            "layer every output sees the whole image)")
    origin = 0.0
    if graph is not None and graph.has_node("input"):
        inp = graph.node("input")
        if inp.offset is not None:
            origin = float(inp.offset)
    return FieldGeometry(float(node.receptive_field), float(node.stride), float(node.offset) - origin + 0.5)


def field_box(geometry: FieldGeometry, fy: int, fx: int) -> Box:
    """The receptive field of feature pixel (fy, fx) in model-input pixels (square fields; may extend past the
    image into the padding)."""
    x0, x1 = geometry.span(fx)
    y0, y1 = geometry.span(fy)
    return x0, y0, x1, y1


def clip_box(box: Box, width: float, height: float) -> Box:
    """`box` limited to the image [0, width) × [0, height) (the part that holds real pixels)."""
    x0, y0, x1, y1 = box
    return max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)


def source_box(geometry: FieldGeometry, fy: int, fx: int, input_geometry: InputGeometry) -> Box:
    """The receptive field of feature pixel (fy, fx) in source-image pixels."""
    return input_geometry.to_source(field_box(geometry, fy, fx))


def conv_chain_geometry(layers: list[tuple[int, int, int]]) -> FieldGeometry:
    """Receptive field of a chain of (kernel, stride, padding) layers by the recurrences above (a reference for
    tests and for models without a captured graph). Input pixel k's centre is k + 0.5."""
    r, j, start = 1.0, 1.0, 0.5
    for k, s, p in layers:
        r = r + (k - 1) * j
        start = start + ((k - 1) / 2.0 - p) * j
        j = j * s
    return FieldGeometry(r, j, start)


def rcnn_resize(model: object, height: int, width: int) -> tuple[float, float]:
    """(sx, sy) of the resize inside torchvision's GeneralizedRCNNTransform (eval): scale =
    min(min_size / shorter side, max_size / longer side), output size floor(side·scale) (torchvision
    detection/transform.py, _resize_image_and_masks with recompute_scale_factor=True)."""
    transform = getattr(model, "transform", None)
    if transform is None or not hasattr(transform, "min_size"):
        return 1.0, 1.0
    if getattr(transform, "fixed_size", None):
        fw, fh = transform.fixed_size[1], transform.fixed_size[0]
        return fw / width, fh / height
    scale = min(float(transform.min_size[-1]) / min(height, width), float(transform.max_size) / max(height, width))
    import math

    return math.floor(width * scale) / width, math.floor(height * scale) / height


def input_geometry(scale: tuple[float, float], offset: tuple[float, float] = (0.0, 0.0),
                   model: object | None = None, input_size: tuple[int, int] | None = None) -> InputGeometry:
    """The source → backbone-input geometry: the engine's preprocessing (`scale`, crop `offset`, as in
    explorer.core.preprocess.Prepared), then, for torchvision's detectors, their internal resize (the
    captured graph measures their receptive fields in pixels of that resized image)."""
    sx, sy = scale
    ox, oy = offset
    if model is not None and input_size is not None and hasattr(model, "transform") and hasattr(model, "rpn"):
        rx, ry = rcnn_resize(model, int(input_size[0]), int(input_size[1]))
        sx, sy, ox, oy = sx * rx, sy * ry, ox * rx, oy * ry
    return InputGeometry((float(sx), float(sy)), (float(ox), float(oy)))
