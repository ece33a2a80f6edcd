"""The lean preprocessing (uint8 resize, then convert and normalise in one step) against the weights' own
torchvision preset: the input within one grey level, and what the model makes of it within a stated tolerance."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from explorer.core import zoo
from explorer.core.images import load_image
from explorer.core.preprocess import Preprocessor

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = sorted((ROOT / "resources" / "images").glob("*.jpg"))


def preset_input(prep: Preprocessor, image: np.ndarray) -> torch.Tensor:
    """What the weights' transforms() give (torchvision's v1 preset: float resize, rounded back to uint8)."""
    return prep.preset(torch.from_numpy(image).permute(2, 0, 1)).unsqueeze(0)


@pytest.mark.parametrize("name", ["resnet18", "alexnet2012", "fcn_resnet50"])
@pytest.mark.parametrize("size", [(640, 480), (451, 300), (300, 451)])
def test_the_lean_input_is_the_presets_within_one_grey_level(name, size):
    prep = Preprocessor(zoo.get(name), "cpu")
    assert prep._lean
    image = cv2.resize(load_image(PHOTOS[0]), size, interpolation=cv2.INTER_AREA)
    lean = prep(image).tensor
    ref = preset_input(prep, image)
    assert lean.shape == ref.shape and lean.is_contiguous()
    one_level = 1.0 / (255.0 * min(prep.preset.std))
    diff = (lean - ref).abs()
    assert diff.max().item() <= one_level + 1e-5  # uint8 rounding of the resize: never more than one level
    assert diff.mean().item() < 0.25 * one_level   # and mostly none at all


def test_predictions_and_maps_agree_with_the_presets():
    """resnet18 (seed 0) on the sample photos: logits within 1 % of their spread, the same top-5 classes, conv1's
    maps within 1 % of their range."""
    from explorer.core.opening import open_model

    model = open_model("resnet18", "random", "cpu", capture=False).handle.model
    prep = Preprocessor(zoo.get("resnet18"), "cpu")
    maps = {}
    model.conv1.register_forward_hook(lambda m, i, o: maps.__setitem__("conv1", o))
    for path in PHOTOS:
        image = load_image(path)
        with torch.inference_mode():
            lean = model(prep(image).tensor)
            lean_maps = maps["conv1"]
            ref = model(preset_input(prep, image))
            ref_maps = maps["conv1"]
        spread = (ref.max() - ref.min()).item()
        assert (lean - ref).abs().max().item() <= 0.01 * spread, path.name
        assert lean.topk(5).indices.tolist() == ref.topk(5).indices.tolist(), path.name
        span = (ref_maps.max() - ref_maps.min()).item()
        assert (lean_maps - ref_maps).abs().max().item() <= 0.01 * span, path.name


def test_detector_and_yolo_inputs():
    image = load_image(ROOT / "resources" / "scenes" / "scene_03.png")
    det = Preprocessor(zoo.get("fasterrcnn-tiny"), "cpu")(image)
    ref = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
    assert torch.allclose(det.model_input[0], ref, atol=1e-6) and det.model_input[0].is_contiguous()
    yolo = Preprocessor(zoo.get("yolov1-tiny"), "cpu")(image)
    h, w = zoo.get("yolov1-tiny").input_size
    assert yolo.tensor.shape == (1, 3, h, w)
    assert yolo.scale == (w / image.shape[1], h / image.shape[0])


@pytest.mark.parametrize("size, crop", [(341, 224), (256, 224), (256, 227), (227, 322), (200, 227), (201, 228)])
def test_the_crop_offset_is_torchvisions(size, crop):
    """The first column of the crop, checked with an impulse through torchvision's own center_crop (a crop wider
    than the image pads it first, by (crop − size) // 2 on the left)."""
    import torchvision.transforms.functional as F

    from explorer.core.preprocess import crop_start

    start = crop_start(size, crop)
    column = max(0, start) + 1  # a column of the image that the crop keeps
    row = torch.zeros(1, 1, size)
    row[0, 0, column] = 1.0
    out = F.center_crop(row, [1, crop])
    assert int(torch.nonzero(out[0, 0])[0]) == column - start  # crop pixel = image pixel − start
