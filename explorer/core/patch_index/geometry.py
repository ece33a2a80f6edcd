"""Where an indexed feature pixel lies in its source image: the receptive-field box the feature-map dock draws.

Zeiler and Fergus (ZFNet, "Visualizing and Understanding Convolutional Networks", ECCV 2014, Fig. 2) show each
unit's strongest activations as the image patches under the unit's receptive field. The box comes from
explorer.core.receptive's `feature_field` and `backbone_size`, the functions the dock's `select_feature_pixel`
calls, so the index and the dock cannot disagree about a pixel. This module only keeps, per frame, the few
numbers they need (FrameGeometry, stored in the index), so that a box is computed without the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.core.receptive import (Box, FieldGeometry, InputGeometry, backbone_size, clip_box, feature_field,
                                     input_geometry)


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
    input_size), with a torchvision detector's internal resize folded in, as ActivationProbe.collect does."""
    geo = input_geometry(tuple(scale), tuple(offset), model, tuple(input_size))
    size = backbone_size(tuple(input_size), geo, input_geometry(tuple(scale), tuple(offset)))
    return FrameGeometry((int(source_size[0]), int(source_size[1])), geo.scale, geo.crop, size)


def patch_box(field: FieldGeometry | None, fy: int, fx: int, frame: FrameGeometry) -> PatchBox:
    """The receptive field of feature pixel (fy, fx) in source pixels, whole and clipped to the pixels the
    model saw and to the source image (explorer.core.receptive.feature_field). `field` None: a layer after
    flatten or a fully connected layer, whose every unit sees the whole input."""
    sw, sh = frame.source_size
    if field is None:
        ih, iw = frame.input_size
        whole = frame.input_geometry.to_source((0.0, 0.0, float(iw), float(ih)))
        return PatchBox(whole, clip_box(whole, sw, sh))
    ff = feature_field(field, fy, fx, frame.input_geometry, frame.input_size, (sh, sw))
    return PatchBox(ff.source_box, ff.source_clipped)


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
