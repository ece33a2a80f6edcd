"""explorer.core.engine, preprocess and labels: each task's result checked against torchvision directly."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch
import torchvision.models as tvm
from PIL import Image

from explorer.core import zoo
from explorer.core.engine import Engine, pick_device
from explorer.core.errors import ExplorerError
from explorer.core.labels import class_names, label
from explorer.core.preprocess import Preprocessor
from explorer.core.results import Frame, FrameResult


def _frame(h=120, w=160, seed=0):
    img = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    return Frame(img, "test", 0, 0.0, 1.5)


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return zoo.build("resnet18")


def test_pick_device():
    assert pick_device("auto") == ("cuda" if torch.cuda.is_available() else pick_device(None))
    assert pick_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ExplorerError, match="not available"):
            pick_device("cuda")


def test_labels_from_torchvision_metadata():
    imagenet = class_names("imagenet", 1000)
    assert imagenet == tvm.ResNet50_Weights.IMAGENET1K_V2.meta["categories"]
    assert class_names("voc", 21)[0] == "__background__" and class_names("voc", 21)[15] == "person"
    assert class_names("voc", 20)[14] == "person"  # YOLOv1's 20 classes: no background
    coco = class_names("coco", 91)
    assert coco[1] == "person" and coco[18] == "dog"
    # COCO's ids without a class in the released dataset are "N/A" in torchvision's list (12 was "street sign" in
    # the paper's 91): a random-weights detector predicts them, and a box says what the id is (new-user trial)
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    unused = [i for i, n in enumerate(FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]) if n == "N/A"]
    assert unused == [12, 26, 29, 30, 45, 66, 68, 69, 71, 83]
    assert label(coco, 12) == "unused COCO id 12" and label(coco, 18) == "dog" and label(coco, 95) == "class 95"
    from explorer.core.scenes import SHAPE_CLASSES
    assert class_names("shapes", len(SHAPE_CLASSES) + 1, background=True) == ["__background__", *SHAPE_CLASSES]
    assert class_names("nothing", 3) == ["class 0", "class 1", "class 2"]


def test_imagenet_preprocess_matches_weights_transforms():
    entry = zoo.get("resnet18")
    img = _frame(150, 200).image
    prep = Preprocessor(entry)(img)
    ref = tvm.ResNet18_Weights.IMAGENET1K_V1.transforms()(torch.from_numpy(img).permute(2, 0, 1))
    assert prep.tensor.shape == (1, 3, 224, 224) and prep.input_size == (224, 224)
    # the lean path resizes the uint8 frame with torchvision's v2 uint8 kernel: within one grey level of the
    # v1 preset (which resizes in float and rounds back), tests/test_preprocess.py bounds the effect
    one_level = 1.0 / (255 * 0.224)  # the smallest of ImageNet's std
    assert (prep.tensor[0] - ref).abs().max() <= one_level + 1e-5
    # the PIL path of the same transforms: an independent resize implementation, close but not identical
    ref_pil = tvm.ResNet18_Weights.IMAGENET1K_V1.transforms()(Image.fromarray(img))
    assert (prep.tensor[0] - ref_pil).abs().mean() < 0.05
    # shorter side 150 -> 256: scale 256/150; 200 -> int(256·200/150) = 341; crop offset ((341-224)/2, 16)
    assert prep.scale == pytest.approx((341 / 200, 256 / 150))
    assert prep.offset == (58.0, 16.0)


def test_imagenet_mapping_finds_a_dot():
    img = np.zeros((150, 200, 3), np.uint8)
    img[70:76, 120:126] = 255  # a white square centred at (123, 73) in continuous source coordinates
    prep = Preprocessor(zoo.get("resnet18"))(img)
    t = prep.tensor[0, 0].numpy()
    ys, xs = np.nonzero(t > t.min() + 0.5 * (t.max() - t.min()))
    x, y = xs.mean() + 0.5, ys.mean() + 0.5  # pixel i covers [i, i+1)
    sx, sy = prep.scale
    ox, oy = prep.offset
    assert abs(x - (123 * sx - ox)) < 0.6 and abs(y - (73 * sy - oy)) < 0.6


def test_classification_top5(resnet18):
    engine = Engine(resnet18, zoo.get("resnet18"), "cpu", "random")
    frame = _frame()
    res = engine.run(frame)
    x = Preprocessor(zoo.get("resnet18"))(frame.image).tensor  # the preset's match: tests/test_preprocess.py
    with torch.inference_mode():
        probs = torch.softmax(resnet18(x), 1)[0]
    scores, idx = probs.topk(5)
    assert [c.index for c in res.topk] == idx.tolist()
    assert [c.score for c in res.topk] == pytest.approx(scores.tolist(), rel=1e-4)
    cats = tvm.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    assert [c.label for c in res.topk] == [cats[i] for i in idx.tolist()]
    assert res.weights == "random" and res.task == "classification" and res.input_size == (224, 224)
    assert set(res.timing_ms) >= {"capture", "preprocess", "forward", "postprocess"}
    assert res.timing_ms["capture"] == 1.5


def test_segmentation_mask_in_source_pixels():
    torch.manual_seed(0)
    entry = dataclasses.replace(zoo.get("fcn_resnet50"), tv_weights=None, input_size=(64, 64))  # small: fast
    model = zoo.build("fcn_resnet50")
    engine = Engine(model, entry)
    frame = _frame(48, 80)
    res = engine.run(frame)
    seg = res.segmentation
    assert seg.mask.shape == (48, 80) and res.input_size == (64, 106)
    assert len(seg.labels) == 21 and seg.labels[0] == "__background__"
    counts = np.bincount(seg.mask.ravel(), minlength=21)
    present = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i]]  # largest share first
    assert seg.classes == [seg.labels[i] for i in present]
    assert seg.shares == pytest.approx([counts[i] / seg.mask.size for i in present]) and sum(seg.shares) == pytest.approx(1)
    # the mask is the argmax of FCN's 'out' resized with nearest neighbour
    with torch.inference_mode():
        out = model(engine.prep(frame.image).tensor)["out"][0].argmax(0).numpy()
    import cv2
    assert np.array_equal(seg.mask, cv2.resize(out.astype(np.uint8), (80, 48), interpolation=cv2.INTER_NEAREST))


def test_detection_boxes_in_source_pixels():
    torch.manual_seed(0)
    model = zoo.build("fasterrcnn_mobilenet_v3_large_320_fpn")
    model.roi_heads.score_thresh = 0.0
    engine = Engine(model, zoo.get("fasterrcnn_mobilenet_v3_large_320_fpn"), score_threshold=0.0)
    frame = _frame(240, 400)
    res = engine.run(frame)
    with torch.inference_mode():
        ref = model([torch.from_numpy(frame.image).permute(2, 0, 1).float() / 255])[0]
    assert len(res.boxes) == len(ref["boxes"]) > 0
    boxes = np.array([d.box for d in res.boxes])
    np.testing.assert_allclose(boxes, ref["boxes"].numpy(), rtol=1e-4, atol=1e-3)
    assert boxes[:, 2].max() <= 400 and boxes[:, 3].max() <= 240  # source pixels, not the 320 input
    coco = tvm.detection.FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
    assert all(d.label == coco[d.class_index] for d in res.boxes)
    # the engine's threshold filters what postprocessing keeps (the same output, filtered again)
    cut = float(np.median([d.score for d in res.boxes])) + 1e-6
    engine.set_score_threshold(cut)
    kept = FrameResult(frame, "m", "random", "cpu", "detection")
    engine._postprocess([ref], frame, kept)
    assert [d.score for d in kept.boxes] == [d.score for d in res.boxes if d.score >= cut]


def test_yolo_raw_and_decoded():
    torch.manual_seed(0)
    model = zoo.build("yolov1-tiny")
    engine = Engine(model, zoo.get("yolov1-tiny"), score_threshold=0.0)
    frame = _frame(100, 300)
    res = engine.run(frame)
    S, B, C = model.S, model.B, model.C
    assert res.raw.shape == (1, S * S * (B * 5 + C)) and res.input_size == zoo.get("yolov1-tiny").input_size
    assert res.boxes and all(0 <= d.box[0] <= d.box[2] <= 300 and 0 <= d.box[1] <= d.box[3] <= 100
                             for d in res.boxes)
    from explorer.core.scenes import SHAPE_CLASSES
    assert {d.label for d in res.boxes} <= set(SHAPE_CLASSES)


class RecordingProbe:
    """Records layer4's output shape through a forward hook."""

    def __init__(self, name="layer4"):
        self.name = name
        self.handle = None
        self.seen = None

    def attach(self, model):
        self.handle = model.layer4.register_forward_hook(lambda m, i, o: setattr(self, "seen", tuple(o.shape)))

    def detach(self):
        self.handle.remove()
        self.handle = None

    def collect(self, ctx):
        return {"shape": self.seen, "input_size": ctx.input_size, "scale": ctx.scale, "device": ctx.device}


def test_probes_added_from_another_thread(resnet18):
    engine = Engine(resnet18, zoo.get("resnet18"))
    probe = RecordingProbe()
    t = threading.Thread(target=engine.add_probe, args=(probe,))
    t.start()
    t.join()
    assert probe.handle is None  # applied only at the next frame, in the worker
    res = engine.run(_frame())
    assert res.extras["layer4"]["shape"] == (1, 512, 7, 7)
    assert res.extras["layer4"]["input_size"] == (224, 224)
    assert "probes" in res.timing_ms
    engine.remove_probe("layer4")
    res = engine.run(_frame())
    assert "layer4" not in res.extras and probe.handle is None
    assert len(resnet18.layer4._forward_hooks) == 0


def test_a_frame_the_model_cannot_take_names_what_the_model_was_given():
    """The message named the photo's size only (new-user trial: '451×300' for a 16×16 input): a preprocessed
    frame is given to the model at another size, and that is the one that failed."""
    from explorer.core.errors import ModelInputError

    entry = dataclasses.replace(zoo.get("alexnet"), input_size=(16, 16))
    engine = Engine(zoo.build("alexnet"), entry)
    with pytest.raises(ModelInputError, match=r"cannot process a 451×300 image \(given to it as 3×16×16\)"):
        engine.run(_frame(300, 451))
