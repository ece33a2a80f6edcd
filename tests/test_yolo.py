"""YOLOv1 decoding on hand-made tensors in darknet's flat order and the per-cell layout."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.core import yolo as Y
from explorer.core.errors import ExplorerError

S, B, C = 2, 2, 3
W, H = 200.0, 100.0


def _flat_index_prob(cell, c):
    return cell * C + c


def _flat_index_conf(cell, b):
    return S * S * C + cell * B + b


def _flat_index_box(cell, b, k):
    return S * S * (C + B) + (cell * B + b) * 4 + k


def hand_flat(entries):
    """entries: (row, col, b, x, y, sqrt_w, sqrt_h, conf, probs) written straight into darknet's flat order."""
    v = np.zeros(S * S * (B * 5 + C), dtype=np.float32)
    for row, col, b, x, y, sw, sh, conf, probs in entries:
        cell = row * S + col
        for k, val in enumerate((x, y, sw, sh)):
            v[_flat_index_box(cell, b, k)] = val
        v[_flat_index_conf(cell, b)] = conf
        for c, p in enumerate(probs):
            v[_flat_index_prob(cell, c)] = p
    return v


def hand_cells(entries):
    """The same entries written straight into the per-cell (S, S, B·5+C) layout."""
    t = np.zeros((S, S, B * 5 + C), dtype=np.float32)
    for row, col, b, x, y, sw, sh, conf, probs in entries:
        t[row, col, 5 * b:5 * b + 5] = (x, y, sw, sh, conf)
        t[row, col, B * 5:] = probs
    return t


ONE = [(0, 1, 0, 0.5, 0.5, 0.5, 0.5, 0.9, (0.1, 0.8, 0.1))]


@pytest.mark.parametrize("layout", ["darknet", "cells"])
def test_decode_hand_made(layout):
    raw = hand_flat(ONE) if layout == "darknet" else hand_cells(ONE)
    grid = Y.parse(raw, S, B, C, layout=layout)
    # cell (row 0, col 1): centre ((1 + 0.5)/2·200, (0 + 0.5)/2·100) = (150, 25); w = 0.5²·200 = 50, h = 0.5²·100 = 25
    np.testing.assert_allclose(grid.boxes(W, H)[0, 1, 0], [125, 12.5, 175, 37.5])
    assert grid.class_scores()[0, 1, 0, 1] == pytest.approx(0.72)
    dets = Y.detect(grid, W, H, score_thresh=0.2, labels=["a", "b", "c"])
    assert len(dets) == 1
    d = dets[0]
    assert d.box == pytest.approx((125, 12.5, 175, 37.5)) and d.score == pytest.approx(0.72)
    assert (d.class_index, d.label, d.cell, d.box_index) == (1, "b", (0, 1), 0)


def test_sqrt_option():
    grid = Y.parse(hand_cells(ONE), S, B, C, layout="cells", sqrt=False)
    np.testing.assert_allclose(grid.boxes(W, H)[0, 1, 0], [100, 0, 200, 50])  # w = 0.5·200, h = 0.5·100


def test_layout_round_trip():
    rng = np.random.default_rng(0)
    flat = rng.random(S * S * (B * 5 + C)).astype(np.float32)
    cells = Y.flat_to_cells(flat, S, B, C)
    np.testing.assert_array_equal(Y.cells_to_flat(cells, S, B, C), flat)
    np.testing.assert_array_equal(Y.flat_to_cells(hand_flat(ONE), S, B, C), hand_cells(ONE))
    # batch of one as the model returns it
    np.testing.assert_array_equal(Y.flat_to_cells(flat[None], S, B, C), cells)


def test_threshold_and_nms():
    entries = [
        (0, 0, 0, 0.9, 0.5, 0.6, 0.8, 0.9, (0.0, 1.0, 0.0)),   # class 1, score 0.9
        (0, 1, 0, 0.1, 0.5, 0.6, 0.8, 0.8, (0.0, 1.0, 0.0)),   # same class, heavy overlap, score 0.8 -> suppressed
        (1, 1, 0, 0.5, 0.5, 0.3, 0.3, 0.3, (0.5, 0.5, 0.0)),   # score 0.15 -> below 0.2
    ]
    grid = Y.parse(hand_flat(entries), S, B, C)
    dets = Y.detect(grid, W, H, score_thresh=0.2, nms_iou=0.5)
    assert [(d.cell, round(d.score, 3)) for d in dets] == [((0, 0), 0.9)]
    # without NMS (IoU 1) both overlapping boxes stay, best first
    assert [d.cell for d in Y.detect(grid, W, H, 0.2, nms_iou=1.0)] == [(0, 0), (0, 1)]
    # a lower threshold admits the third
    assert len(Y.detect(grid, W, H, 0.1, nms_iou=0.5)) == 2
    # NMS is per class: the same overlapping box with another class survives
    entries[1] = (0, 1, 0, 0.1, 0.5, 0.6, 0.8, 0.8, (1.0, 0.0, 0.0))
    dets = Y.detect(Y.parse(hand_flat(entries), S, B, C), W, H, 0.2, 0.5)
    assert sorted(d.class_index for d in dets) == [0, 1]


def test_boxes_are_clipped_to_the_image():
    grid = Y.parse(hand_cells([(0, 0, 1, 0.0, 0.0, 1.0, 1.0, 1.0, (1, 0, 0))]), S, B, C, layout="cells")
    (d,) = Y.detect(grid, W, H, 0.5)
    assert d.box == pytest.approx((0, 0, 100, 50)) and d.box_index == 1


def test_class_map():
    t = hand_cells(ONE)
    t[1, 0, B * 5:] = (0.2, 0.1, 0.7)
    cls, p = Y.parse(t, S, B, C, layout="cells").class_map()
    assert cls[0, 1] == 1 and cls[1, 0] == 2 and p[1, 0] == pytest.approx(0.7)


def test_grid_lines_and_cells():
    xs, ys = Y.grid_lines(7, 448, 448)
    np.testing.assert_array_equal(xs, np.arange(8) * 64)
    xs, ys = Y.grid_lines(7, 500, 350)
    np.testing.assert_allclose(xs, [k * 500 / 7 for k in range(8)])
    np.testing.assert_allclose(ys, [k * 50 for k in range(8)])
    assert Y.cell_of(71.5, 49.9, 7, 500, 350) == (0, 1)
    assert Y.cell_of(499.9, 349.9, 7, 500, 350) == (6, 6)
    assert Y.cell_of(500, 10, 7, 500, 350) is None


def test_raw_json():
    out = Y.yolo_raw_json(hand_flat(ONE)[None], S, B, C)
    assert (out["S"], out["B"], out["C"]) == (S, B, C)
    raw = out["raw"]
    assert len(raw) == S and len(raw[0]) == S and len(raw[0][0]) == B * 5 + C
    assert raw[0][1][:5] == pytest.approx([0.5, 0.5, 0.5, 0.5, 0.9])
    assert raw[0][1][B * 5:] == pytest.approx([0.1, 0.8, 0.1])
    assert "sqrt(w)" in out["layout"] and "confidence" in out["layout"]
    json.dumps(out)


def test_bad_sizes():
    with pytest.raises(ExplorerError):
        Y.flat_to_cells(np.zeros(10), S, B, C)
    with pytest.raises(ExplorerError):
        Y.parse(np.zeros(10), S, B, C, layout="cells")
    with pytest.raises(ExplorerError):
        Y.parse(np.zeros(S * S * 13), S, B, C, layout="other")


def test_project_yolo_model_output():
    import torch

    from models.yolov1_tiny import yolov1_tiny

    torch.manual_seed(0)
    model = yolov1_tiny().eval()
    s, b, c, layout = Y.model_layout(model)
    with torch.inference_mode():
        raw = model(torch.rand(1, 3, 224, 224))
    grid = Y.parse(raw, s, b, c, layout=layout)
    assert grid.cells.shape == (s, s, b * 5 + c)
    np.testing.assert_array_equal(Y.cells_to_flat(grid.cells, s, b, c), raw[0].numpy())


def test_predict_raw_json_decodes_to_its_boxes(capsys, sample_image_path):
    """`predict yolov1-tiny IMAGE --json --raw`: decoding "raw" from outside gives the printed boxes."""
    from explorer.cli import main
    from explorer.core.images import load_image

    assert main(["predict", "yolov1-tiny", str(sample_image_path), "--weights", "random", "--json", "--raw",
                 "--threshold", "0"]) == 0
    r = json.loads(capsys.readouterr().out)["results"][0]
    s, b, c = r["S"], r["B"], r["C"]
    raw = np.array(r["raw"], dtype=np.float32)
    assert raw.shape == (s, s, b * 5 + c) and "confidence" in r["layout"]
    h, w = load_image(str(sample_image_path)).shape[:2]
    dets = Y.detect(Y.parse(raw, s, b, c, layout="cells"), w, h, score_thresh=0.0, nms_iou=0.5)
    assert len(dets) == len(r["boxes"]) > 0
    for d, j in zip(dets, r["boxes"]):
        np.testing.assert_allclose(d.box, j["box"], atol=0.01)
        assert d.score == pytest.approx(j["score"], abs=1e-5)
    assert main(["predict", "resnet18", str(sample_image_path), "--json", "--raw"]) == 2
