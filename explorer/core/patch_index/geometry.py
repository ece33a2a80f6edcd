"""Where an indexed feature pixel lies in its source image: the receptive-field box the feature-map dock draws.

Zeiler and Fergus (ZFNet, "Visualizing and Understanding Convolutional Networks", ECCV 2014, Fig. 2) show each
unit's strongest activations as the image patches under the unit's receptive field. The box here is computed
exactly as the dock's `select_feature_pixel` does (explorer/ui/feature_maps.py): `field_box` in the pixels
the layer's input chain sees (the backbone input: a detector's internally resized image), `clip_box` to that
input, then `InputGeometry.to_source` (explorer.core.receptive). `patch_box` is that computation as one core
function, so the index and the dock cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.core.receptive import Box, FieldGeometry, InputGeometry, clip_box, field_box, input_geometry


@dataclass(frozen=True)
class FrameGeometry:
    """How one source frame became the layer chain's input.

    source_size: (width, height) of the decoded frame; scale/crop: InputGeometry (backbone input = source ·
    scale − crop); input_size: (height, width) of the backbone input (for torchvision's detectors the image
    after GeneralizedRCNNTransform's resize, before its padding to a multiple of 32)."""

    source_size: tuple[int, int]
    scale: tuple[float, float]
    crop: tuple[float, float]
    input_size: tuple[int, int]

    @property
    def input_geometry(self) -> InputGeometry:
        return InputGeometry(self.scale, self.crop)


@dataclass(frozen=True)
class PatchBox:
    """A feature pixel's receptive field in source pixels: `field` whole (it may reach into the padding),
    `box` clipped to the pixels the model saw (x1, y1, x2, y2; x2, y2 exclusive)."""

    field: Box
    box: Box


def frame_geometry(source_size: tuple[int, int], scale: tuple[float, float], offset: tuple[float, float],
                   input_size: tuple[int, int], model: Any = None) -> FrameGeometry:
    """The geometry of a frame prepared by explorer.core.preprocess (its Prepared's scale, offset and
    input_size), with a torchvision detector's internal resize folded in, as ActivationProbe.collect and the
    dock's `_backbone_size` do."""
    geo = input_geometry(tuple(scale), tuple(offset), model, tuple(input_size))
    plain = input_geometry(tuple(scale), tuple(offset))
    ih, iw = int(input_size[0]), int(input_size[1])
    if geo.scale != plain.scale:  # the detector resizes inside: floor(side · s), recovered by rounding
        rx, ry = geo.scale[0] / plain.scale[0], geo.scale[1] / plain.scale[1]
        ih, iw = int(round(ih * ry)), int(round(iw * rx))
    return FrameGeometry((int(source_size[0]), int(source_size[1])), geo.scale, geo.crop, (ih, iw))


def patch_box(field: FieldGeometry | None, fy: int, fx: int, frame: FrameGeometry) -> PatchBox:
    """The receptive field of feature pixel (fy, fx) in source pixels, whole and clipped to the model's view
    (then to the source image, against rounding). `field` None: a layer after flatten or a fully connected
    layer, whose every unit sees the whole input."""
    ih, iw = frame.input_size
    box_in = field_box(field, fy, fx) if field is not None else (0.0, 0.0, float(iw), float(ih))
    geo = frame.input_geometry
    whole = geo.to_source(box_in)
    sw, sh = frame.source_size
    clipped = clip_box(geo.to_source(clip_box(box_in, iw, ih)), sw, sh)
    return PatchBox(whole, clipped)


def valid_extent(field: FieldGeometry | None, input_size: tuple[int, int], map_size: tuple[int, int]) -> tuple[int, int]:
    """How many rows and columns of a (H, W) map have their receptive-field centre inside the input: a batch of
    detector images is padded at the bottom and right, and positions over the padding are not part of the
    image (at least one row and column is kept)."""
    h, w = map_size
    if field is None:
        return h, w
    ih, iw = input_size

    def count(size: int, n: int) -> int:
        inside = math.ceil((size - field.first_centre) / field.stride)
        return max(1, min(n, inside))

    return count(ih, h), count(iw, w)
