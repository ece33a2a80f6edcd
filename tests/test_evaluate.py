"""VOC-style AP/mAP on hand-made cases with known answers, and the evaluate command's output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from explorer.core.evaluate import ImageDetections, class_ap, mean_ap, voc_ap

GT = torch.tensor([[10.0, 10.0, 50.0, 50.0], [100.0, 100.0, 160.0, 140.0]])


def dets(boxes, scores, labels):
    return ImageDetections(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), torch.tensor(scores),
                           torch.tensor(labels))


def test_perfect_detections_give_ap_one():
    d = [dets(GT.tolist(), [0.9, 0.8], [0, 0])]
    assert class_ap(d, [GT], [torch.tensor([0, 0])], 0) == pytest.approx(1.0)


def test_false_positive_ranked_first():
    # ranking: FP (0.95), TP, TP over 2 objects: precision 0, 1/2, 2/3 at recall 0, 1/2, 1;
    # the envelope is 2/3 over the whole recall range, so AP = 2/3.
    d = [dets([[200, 200, 220, 220], *GT.tolist()], [0.95, 0.9, 0.8], [0, 0, 0])]
    assert class_ap(d, [GT], [torch.tensor([0, 0])], 0) == pytest.approx(2 / 3)


def test_missed_object_halves_ap():
    d = [dets([GT[0].tolist()], [0.9], [0])]
    assert class_ap(d, [GT], [torch.tensor([0, 0])], 0) == pytest.approx(0.5)


def test_duplicates_low_iou_and_wrong_class_are_false_positives():
    gt = [GT[:1]]
    lab = [torch.tensor([0])]
    # a duplicate after the true positive does not lower AP (recall 1 is reached at precision 1)
    assert class_ap([dets([GT[0].tolist()] * 2, [0.9, 0.8], [0, 0])], gt, lab, 0) == pytest.approx(1.0)
    # a duplicate before... is impossible (the first match wins); a box with IoU 0.25 < 0.5 is a miss
    shifted = [[10, 10, 30, 30]]  # IoU with GT[0] = 400 / 1600 = 0.25
    assert class_ap([dets(shifted, [0.9], [0])], gt, lab, 0) == pytest.approx(0.0)
    # the right box with the wrong class: class 0 missed, class 1 has no ground truth (not counted in mAP)
    m, aps = mean_ap([dets([GT[0].tolist()], [0.9], [1])], gt, lab, num_classes=2)
    assert aps == {0: 0.0} and m == 0.0


def test_map_averages_classes_with_ground_truth_over_images():
    gts = [GT[:1], GT[1:]]
    labels = [torch.tensor([0]), torch.tensor([1])]
    d = [dets([GT[0].tolist()], [0.9], [0]), dets([[0, 0, 5, 5], GT[1].tolist()], [0.9, 0.5], [1, 1])]
    m, aps = mean_ap(d, gts, labels, num_classes=3)
    assert aps[0] == pytest.approx(1.0) and aps[1] == pytest.approx(0.5)  # class 1: FP then TP over 1 object
    assert m == pytest.approx(0.75) and 2 not in aps


def test_voc_ap_envelope_by_hand():
    import numpy as np
    # recall 0.25, 0.5, 0.75 at precision 1, 0.5, 0.6 → envelope 1, 0.6, 0.6 → 0.25 + 0.15 + 0.15
    assert voc_ap(np.array([0.25, 0.5, 0.75]), np.array([1.0, 0.5, 0.6])) == pytest.approx(0.55)


def test_evaluate_command_json_and_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "explorer", "evaluate", "fasterrcnn-tiny", "--weights", "random",
                          "--scenes", "2", "--seed", "9", "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) >= {"model", "scenes", "seed", "map50", "per_class"}
    assert result["model"] == "fasterrcnn-tiny" and result["scenes"] == 2 and result["seed"] == 9
    assert 0.0 <= result["map50"] <= 1.0

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    out = subprocess.run([sys.executable, "-m", "explorer", "evaluate", "yolov1-tiny", "--weights", str(bad)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert out.stderr.strip().startswith("error:") and len(out.stderr.strip().splitlines()) == 1


def test_evaluate_names_an_absent_device_as_predict_does():
    from explorer.core.engine import available_devices

    here = available_devices()
    absent = "cuda" if "cuda" not in here else "mps"
    for requested in (absent, "bogus"):
        out = subprocess.run([sys.executable, "-m", "explorer", "evaluate", "yolov1-tiny", "--scenes", "2",
                              "--device", requested], capture_output=True, text=True, timeout=300)
        assert out.returncode == 2  # a device given that cannot be used: a usage error, as --scenes 0 (was 1)
        assert out.stderr.strip() == f"error: device '{requested}' is not available here; choose one of: " + \
            ", ".join(here)
