"""What the feature-map dock lays on the image and what it says about it: one channel as a picture over the
source (where, at what size), a feature pixel's receptive field in words (the info line and the legend), and
the channel's extent when it reaches past the model input.

New-user trial: resnet18's layer4 field (435 px) is larger than its 224×224 input, so its yellow box reached far
past the photo and only one edge of it was in view, a stray unlabelled line under the photo; and a layer4 channel
laid over the photo (7×7 pixels, each over the 32×32 square around its field's centre: Araujo et al., Distill
2019) sat 16 input pixels up-left of the dashed model-input outline, a second rectangle nobody explained. A
field larger than the input is drawn by its part in the image only (dashed cyan) and said to be larger; a
channel off the input's edges says where it lies and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.heatmaps import channel_overlay
from explorer.core.receptive import Box, FeatureField, FieldGeometry, feature_map_box

if TYPE_CHECKING:
    from explorer.core.activations import ActivationFrame

OVERLAY_MAX_PX = 1024  # a channel laid over the image is upsampled on the device to at most about this size


def channel_picture(frame: ActivationFrame, channel: int, field: FieldGeometry | None, input_size: tuple[int, int],
                    colormap: str) -> tuple[np.ndarray, Box, str]:
    """Channel `channel` of `frame` to lay over the source image: (RGBA, its box in source pixels, the legend's
    words when it reaches past the model input, else ''). `input_size` (H, W): the backbone's (backbone_size);
    the frame has its geometry. Each feature pixel covers the stride square around its field's centre."""
    assert frame.geometry is not None
    _c, h, w = frame.shape
    ih, iw = input_size
    box = frame.geometry.to_source(feature_map_box(field, (h, w), (ih, iw)))
    up = int(field.stride) if field is not None else max(1, int(round(ih / h)))
    scale = max(1, min(up, OVERLAY_MAX_PX // max(h, w, 1)))  # bilinear upsampling on the device
    # transparent where the channel is quiet, opaque at its strongest (the slider scales the whole)
    rgba = channel_overlay(frame.activation, channel, colormap, size=(h * scale, w * scale))
    return rgba, box, channel_extent_text(field, channel, (h, w), (ih, iw))


@dataclass(frozen=True)
class FieldText:
    """`fits`: the field is no larger than the model input (its yellow box is drawn); `info`: the dock's line;
    `box_text` / `part_text`: the legend's words for the yellow box and for the dashed cyan part in the image."""

    fits: bool
    info: str
    box_text: str
    part_text: str


def _span(lo: float, hi: float) -> str:
    return f"{lo:g}..{hi - 1:g}"


def field_text(ff: FeatureField, input_size: tuple[int, int]) -> FieldText:
    """The words for feature pixel (ff.fy, ff.fx)'s receptive field over an (H, W) model input."""
    ih, iw = input_size
    n = f"{ff.size:g}×{ff.size:g}"
    where = f"(y {ff.fy}, x {ff.fx})"
    fits = ff.size <= min(ih, iw)
    if fits:
        x0, y0, x1, y1 = ff.input_box
        info = (f"receptive field of {where}: {n} input pixels, rows {_span(y0, y1)}, columns {_span(x0, x1)} of "
                "the model input")
        return FieldText(True, info, f"receptive field of {where}: {n} px of the model input",
                         "its part in the image (the rest is padding)")
    x0, y0, x1, y1 = ff.input_clipped
    part = f"rows {_span(y0, y1)}, columns {_span(x0, x1)}"
    info = (f"receptive field of {where}: {n} input pixels, larger than the model's {iw}×{ih} input; the dashed "
            f"cyan part lies in the image ({part})")
    return FieldText(False, info, "", f"receptive field of {where}: {n} px, larger than the {iw}×{ih} input; "
                     "its dashed cyan part lies in the image")


def patch_field_text(field: tuple[float, float, float, float], part: tuple[float, float, float, float],
                     rank: int) -> FieldText | None:
    """The words for an opened top patch's field (source pixels) and its part in the image: None (the plain
    yellow box) unless the field is wider or taller than the image (it passes the image's two opposite edges),
    which is drawn by its part in the image, as a feature pixel's is (else one edge of it, far outside, is a
    stray line)."""
    fx0, fy0, fx1, fy1 = field
    px0, py0, px1, py1 = part
    if not ((fx0 < px0 and fx1 > px1) or (fy0 < py0 and fy1 > py1)):
        return None
    n = f"{fx1 - fx0:g}×{fy1 - fy0:g}"
    text = f"receptive field of patch #{rank + 1}: {n} px, larger than the image; its dashed cyan part lies in it"
    return FieldText(False, text, "", text)


def channel_extent_text(field: FieldGeometry | None, channel: int, map_size: tuple[int, int],
                        input_size: tuple[int, int]) -> str:
    """'' when the channel laid over the photo lies within the model input's outline (to half a pixel); else
    where it lies, in model-input pixels, and why (each feature pixel over the stride square around its field's
    centre): a map reaching past the outline is a second rectangle on the photo."""
    ih, iw = input_size
    x0, y0, x1, y1 = feature_map_box(field, map_size, input_size)
    if field is None or (x0 > -0.5 and y0 > -0.5 and x1 < iw + 0.5 and y1 < ih + 0.5):
        return ""
    h, w = map_size
    s = f"{field.stride:g}"
    return (f"channel {channel}: {h}×{w} squares of {s}×{s} px centred on their fields, over input px "
            f"x {x0:g}..{x1:g}, y {y0:g}..{y1:g}: past the model input's edge")
