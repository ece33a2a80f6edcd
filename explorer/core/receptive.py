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
        fw, fh = transform.fixed_size  # (width, height): torchvision resizes to [fixed_size[1], fixed_size[0]]
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


# -- a feature pixel of a captured layer on the source image ---------------------------------------------------
# What the feature-map dock draws (a clicked pixel's field, a channel laid over the photo) and what a dataset
# index stores per patch: the same arithmetic, so both say the same thing about a pixel.


def layer_field_geometry(graph: "ModelGraph", layer: str, output_key: str = "") -> FieldGeometry:
    """The receptive-field geometry of output `output_key` of `layer` (a node id or module path of `graph`): the
    node that produced that output decides (an FPN's levels differ in stride). Raises ExplorerError for a layer
    the graph lacks, or one whose outputs have no place on the image (after flatten, a fully connected layer,
    RoI pooling)."""
    from explorer.core.capture import find_output_node

    return field_geometry(find_output_node(graph, layer, output_key or ""), graph)


def backbone_size(input_size: tuple[int, int], geometry: InputGeometry,
                  tensor_geometry: InputGeometry | None = None) -> tuple[int, int]:
    """(H, W) of the image the graph's receptive fields are measured in. That is the model input (`input_size`,
    what the engine's preprocessing made), except for torchvision's detectors, which resize it once more inside
    (`geometry` maps source pixels to that resized image, `tensor_geometry` to the input tensor: their scales'
    ratio is the inner resize). Rounded: the inner scale is floor(451 × k) / 451, so 451 × it is 480.99…"""
    ih, iw = int(input_size[0]), int(input_size[1])
    if tensor_geometry is None or tensor_geometry.scale == geometry.scale:
        return ih, iw
    rx = geometry.scale[0] / tensor_geometry.scale[0]
    ry = geometry.scale[1] / tensor_geometry.scale[1]
    return int(round(ih * ry)), int(round(iw * rx))


@dataclass(frozen=True)
class FeatureField:
    """The receptive field of feature pixel (fy, fx), in model-input pixels (the backbone's: see backbone_size)
    and in source-image pixels; `*_clipped` is the part that holds real pixels (the rest is zero padding or,
    after a centre crop, the photo the model never saw)."""

    fy: int
    fx: int
    field: FieldGeometry
    input_box: Box
    input_clipped: Box
    source_box: Box
    source_clipped: Box

    @property
    def size(self) -> float:
        """The field's side in model-input pixels (r of Araujo et al.)."""
        return self.field.receptive_field


def feature_field(field: FieldGeometry, fy: int, fx: int, geometry: InputGeometry, input_size: tuple[int, int],
                  source_size: tuple[int, int] | None = None) -> FeatureField:
    """Feature pixel (fy, fx) → its receptive field: `field` (layer_field_geometry), `geometry` the source →
    model-input mapping (input_geometry: resize, centre crop, a detector's inner resize), `input_size` (H, W)
    of the image the field is measured in (backbone_size), `source_size` (H, W) of the source image, to clip
    to it as well. The caller checks that (fy, fx) is a pixel of the map (its size depends on the input)."""
    ih, iw = input_size
    box = field_box(field, fy, fx)
    inside = clip_box(box, iw, ih)
    src, src_inside = geometry.to_source(box), geometry.to_source(inside)
    if source_size is not None:
        src_inside = clip_box(src_inside, source_size[1], source_size[0])
    return FeatureField(int(fy), int(fx), field, box, inside, src, src_inside)


def receptive_field_box(graph: "ModelGraph", layer: str, fy: int, fx: int, geometry: InputGeometry,
                        input_size: tuple[int, int], source_size: tuple[int, int], output_key: str = "") -> Box:
    """The source-image pixels that feature pixel (fy, fx) of `layer` sees: (x0, y0, x1, y1), x1 and y1
    exclusive, clipped to the pixels the model was given and to the source image.

    - `graph`: the model's captured graph (explorer.core.capture), which holds every node's receptive field r,
      stride j and first centre (Araujo, Norris, Sim, Distill 2019); `layer` a node id or module path, and
      `output_key` one output of a multi-output module (an FPN level, "" for the first).
    - `geometry`: how the source became the model input, `input_geometry(prepared.scale, prepared.offset)` of the
      engine's preprocessing (for torchvision's detectors add `model` and the input size: they resize inside).
    - `input_size`: (H, W) of that model input (for a detector: backbone_size(...)); `source_size`: (H, W) of
      the source image.

    Example: AlexNet's features.0 (k 11, s 4, p 2), pixel (20, 30) sees model-input rows 78..88 and columns
    118..128, the box (118, 78, 129, 89); a photo resized by s and centre-cropped at (cx, cy) gives
    ((118 + cx)/s, (78 + cy)/s, (129 + cx)/s, (89 + cy)/s). Raises ExplorerError when the layer is unknown or
    has no place on the image (after flatten or a fully connected layer)."""
    fld = layer_field_geometry(graph, layer, output_key)
    return feature_field(fld, fy, fx, geometry, input_size, source_size).source_clipped


def feature_map_box(field: FieldGeometry | None, map_size: tuple[int, int], input_size: tuple[int, int]) -> Box:
    """Where an (h, w) feature map lies on the model input, in its pixels: pixel (i, j) covers the stride × stride
    square around its field's centre (so a map laid over the image lines up with the fields); without a field
    (no receptive-field data), the whole input."""
    h, w = map_size
    if field is None:
        return 0.0, 0.0, float(input_size[1]), float(input_size[0])
    x0 = field.first_centre - field.stride / 2.0
    return x0, x0, x0 + w * field.stride, x0 + h * field.stride
