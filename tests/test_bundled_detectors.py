"""The bundled detectors: plain state_dicts under 10 MB that reach mAP@0.5 ≥ 0.8 on 200 fresh scenes.

The evaluation scene sets (seeds 4242 and 77) were never used in training (training uses set 0; see
explorer.core.scenes.scene_seed), and the sample scenes in resources/scenes (set 7) neither.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from explorer.core import zoo
from explorer.core.evaluate import evaluate, load_detector, predict
from explorer.core.weights import default_spec
from explorer.core.scenes import SAMPLE_SET_SEED, SAMPLES_DIR, SHAPE_CLASSES, make_scene, scene_seed

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
DETECTORS = ["yolov1-tiny", "fasterrcnn-tiny"]


@pytest.mark.parametrize("name", DETECTORS)
def test_bundled_weights_are_small_plain_state_dicts(name):
    entry = zoo.get(name)
    path = RESOURCES / entry.bundled_weights
    assert path.is_file() and path.stat().st_size < 10e6
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    zoo.build(name).load_state_dict(state)  # strict: every key of the zoo's architecture
    assert default_spec(entry) == "bundled"


@pytest.mark.parametrize("name,seed", [("yolov1-tiny", 4242), ("fasterrcnn-tiny", 77)])
def test_bundled_detector_reaches_map50_0_8_on_200_fresh_scenes(name, seed):
    result = evaluate(name, "bundled", scenes=200, seed=seed)
    print(name, result.map50, result.per_class)
    assert result.map50 >= 0.8, result.per_class
    assert set(result.per_class) == set(SHAPE_CLASSES)


@pytest.mark.parametrize("name,min_score", [("yolov1-tiny", 0.1), ("fasterrcnn-tiny", 0.5)])
def test_bundled_detector_finds_every_object_of_a_sample_scene(name, min_score):
    """Each object of scene_01 has a detection of its class with IoU > 0.5 (YOLO's class-specific scores,
    probability × confidence with the IoU as confidence target, run lower than Faster R-CNN's softmax)."""
    png = SAMPLES_DIR / "scene_01.png"
    truth = json.loads(png.with_suffix(".json").read_text())
    image = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    model = load_detector(name, "bundled")
    det = predict(name, model, torch.from_numpy(image).permute(2, 0, 1)[None])[0]
    confident = det.scores > min_score
    from torchvision.ops import box_iou
    for obj in truth["objects"]:
        gt = torch.tensor([obj["box"]])
        hits = confident & (det.labels == obj["class_index"])
        assert hits.any(), obj
        assert box_iou(gt, det.boxes[hits]).max() > 0.5, obj


def test_sample_scenes_are_the_generator_s_scenes():
    pngs = sorted(SAMPLES_DIR.glob("scene_*.png"))
    assert len(pngs) >= 6
    for i, png in enumerate(pngs):
        truth = json.loads(png.with_suffix(".json").read_text())
        scene = make_scene(scene_seed(SAMPLE_SET_SEED, i))
        assert truth["seed"] == scene.seed
        assert np.array_equal(cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB), scene.image)
        assert [o["box"] for o in truth["objects"]] == scene.boxes.tolist()
        assert [o["label"] for o in truth["objects"]] == [SHAPE_CLASSES[c] for c in scene.labels]
