"""torchvision:NAME and timm:NAME specs, and the memory check before loading."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.cli import main
from explorer.core import model_specs, zoo
from explorer.core.errors import ModelTooLargeError, UnknownModelError, WeightsError
from explorer.core.model_specs import memory, torchvision_models
from explorer.core.opening import open_model


@pytest.fixture(autouse=True)
def _fresh_specs():
    model_specs.forget()
    yield
    model_specs.forget()


@pytest.mark.slow
def test_every_builder_is_built_as_for_its_weights():
    """sum(numel) of each builder's network, built on the meta device (no memory), equals the parameter count
    in torchvision's weights metadata: the architecture is the one the pretrained weights fit."""
    import torchvision.models as tvm

    checked = 0
    for name in torchvision_models.names():
        model = torchvision_models._meta_model(name)
        if model is None:  # RegNet computes its widths with tensors: built for real below
            assert name.startswith("regnet")
            continue
        expected = tvm.get_model_weights(name).DEFAULT.meta["num_params"]
        assert sum(p.numel() for p in model.parameters()) == expected, name
        checked += 1
    assert checked > 80
    regnet = torchvision_models.build("regnet_x_400mf")
    assert sum(p.numel() for p in regnet.parameters()) == \
        tvm.get_model_weights("regnet_x_400mf").DEFAULT.meta["num_params"]


def test_summary_efficientnet_b0_reports_torchvisions_figure(capsys):
    assert main(["summary", "torchvision:efficientnet_b0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_params"] == 5_288_548  # EfficientNet_B0_Weights.IMAGENET1K_V1.meta["num_params"]
    assert out["input_shape"] == [3, 224, 224]


def test_entries_take_task_size_and_classes_from_the_weights():
    from explorer.core.labels import class_names

    seg = zoo.get("torchvision:lraspp_mobilenet_v3_large")
    assert (seg.task, seg.preprocess, seg.categories, seg.input_size) == ("segmentation", "segmentation", "voc",
                                                                          (520, 520))
    det = zoo.get("torchvision:ssdlite320_mobilenet_v3_large")
    assert (det.task, det.input_size, det.categories) == ("detection", (320, 320), "coco")
    keypoints = zoo.get("torchvision:keypointrcnn_resnet50_fpn")
    assert class_names(keypoints.categories, 2, True) == ["__background__", "person"]
    big = zoo.get("torchvision:efficientnet_b3")
    assert big.input_size == (300, 300) and big.weight_choices == ["random", "pretrained"]


def test_unknown_torchvision_name_suggests(capsys):
    assert main(["summary", "torchvision:efficientnet_b9"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean torchvision:efficientnet_b" in err[0]
    with pytest.raises(UnknownModelError):
        zoo.get("torchvision:raft_small")  # optical flow is not an image classifier/detector/segmenter


def test_pretrained_comes_from_torch_hub_cache(tmp_path, monkeypatch):
    """`pretrained` reads the weights' file from torch.hub's cache (weights_only) and loads it strictly."""
    import os
    from urllib.parse import urlparse

    import torch.hub

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    spec = "torchvision:mobilenet_v3_small"
    entry = zoo.get(spec)
    url = torchvision_models.default_weights("mobilenet_v3_small").url
    source = torchvision_models.build("mobilenet_v3_small")
    (tmp_path / "checkpoints").mkdir()
    torch.save(source.state_dict(), tmp_path / "checkpoints" / os.path.basename(urlparse(url).path))
    assert entry.weight_choices == ["random", "pretrained"]
    handle = open_model(spec, "", "cpu", capture=False).handle  # cached: the default is pretrained
    assert handle.weights == "pretrained"
    for a, b in zip(handle.model.state_dict().values(), source.state_dict().values()):
        assert torch.equal(a, b)


def test_memory_check_refuses_before_loading(monkeypatch, capsys, tmp_path):
    zoo.get("torchvision:resnet18")  # the entry's estimate comes from a meta-device build: no memory
    monkeypatch.setattr(memory, "available_bytes", lambda: 10 * 1024 ** 2)
    built = []
    monkeypatch.setattr(torchvision_models, "build", lambda name: built.append(name))
    with pytest.raises(ModelTooLargeError, match=r"needs about 4[0-9] MB of memory to load, and 10 MB is free"):
        zoo.build("torchvision:resnet18")  # 11.7 M parameters and buffers: 44.7 MB
    assert built == []
    onnx_file = tmp_path / "big.onnx"
    onnx_file.write_bytes(b"\0" * (5 * 1024 ** 2))  # three times 5 MB needed to convert
    pytest.importorskip("onnx2torch")
    assert main(["summary", str(onnx_file)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "big.onnx needs about 15 MB" in err[0]


def test_available_memory_is_read():
    free = memory.available_bytes()
    assert free is None or free > 0


# --------------------------------------------------------------------------------------------------- timm
def test_timm_model_with_its_data_config(capsys):
    timm = pytest.importorskip("timm")
    entry = zoo.get("timm:vit_tiny_patch16_224")
    cfg = timm.create_model("vit_tiny_patch16_224", pretrained=False).pretrained_cfg
    assert entry.mean == tuple(cfg["mean"]) == (0.5, 0.5, 0.5) and entry.interpolation == cfg["interpolation"]
    assert entry.input_size == tuple(cfg["input_size"][1:]) and entry.categories == "imagenet"
    assert main(["summary", "timm:resnet10t", "--json", "--input", "3x64x64"]) == 0
    out = json.loads(capsys.readouterr().out)
    reference = timm.create_model("resnet10t", pretrained=False)
    assert out["total_params"] == sum(p.numel() for p in reference.parameters())


def test_timm_preprocessing_follows_timm():
    pytest.importorskip("timm")
    import numpy as np
    from timm.data import create_transform, resolve_data_config
    from PIL import Image

    from explorer.core.preprocess import Preprocessor

    entry = zoo.get("timm:resnet10t")
    image = (np.random.default_rng(0).random((180, 240, 3)) * 255).astype(np.uint8)
    ours = Preprocessor(entry)(image).tensor[0]
    model = zoo.build(entry.name)
    theirs = create_transform(**resolve_data_config({}, model=model))(Image.fromarray(image))
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().mean() < 0.05  # tensor vs PIL resizing differ by rounding only


def test_timm_pretrained_goes_through_timms_loader(tmp_path):
    pytest.importorskip("timm")
    safetensors = pytest.importorskip("safetensors.torch")
    from explorer.core.model_specs import timm_models

    entry = zoo.get("timm:resnet10t")
    source = timm_models.build("resnet10t")
    file = tmp_path / "model.safetensors"
    safetensors.save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(file))
    model = timm_models.build("resnet10t")
    info = timm_models.load_pretrained(model, entry, file=str(file))
    assert info.kind == "pretrained"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), source.state_dict().values()))
    with pytest.raises(WeightsError, match="cannot load timm's pretrained weights"):
        timm_models.load_pretrained(model, entry, file=str(tmp_path / "missing.safetensors"))
