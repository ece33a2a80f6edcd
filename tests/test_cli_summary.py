"""`python -m explorer summary`: the table, --depth, --json and the error lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from explorer.cli import main
from explorer.core import zoo

ROOT = Path(__file__).resolve().parents[1]


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["summary", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_alexnet(capsys):
    rc, out, err = _run(capsys, "alexnet", "--json")
    assert rc == 0 and err == ""
    data = json.loads(out)
    meta = zoo.tv_weights_enum(zoo.get("alexnet")).meta
    assert set(data) == {"model", "input_shape", "total_params", "total_macs", "layers"}
    assert data["model"] == "alexnet" and data["input_shape"] == [3, 224, 224]
    assert data["total_params"] == meta["num_params"] == sum(layer["params"] for layer in data["layers"])
    assert abs(data["total_macs"] / 1e9 - meta["_ops"]) / meta["_ops"] < 0.01
    layers = data["layers"]
    # one row per leaf module, in execution order: 13 feature layers, avgpool, 7 classifier layers
    assert [layer["name"] for layer in layers] == (
        [f"features.{i}" for i in range(13)] + ["avgpool"] + [f"classifier.{i}" for i in range(7)])
    assert set(layers[0]) == {"name", "type", "output_shape", "params", "weight_params", "macs",
                              "receptive_field", "stride", "formula"}
    conv1 = layers[0]
    assert conv1["type"] == "Conv2d" and conv1["output_shape"] == [1, 64, 55, 55]
    assert (conv1["params"], conv1["weight_params"]) == (23_296, 23_232)
    assert conv1["formula"] == "11×11×3×64 = 23,232 (+64 bias)"
    assert (conv1["receptive_field"], conv1["stride"]) == (11, 4)
    assert conv1["macs"] == 55 * 55 * 64 * 11 * 11 * 3
    fc8 = layers[-1]
    assert fc8["type"] == "Linear" and fc8["receptive_field"] is None and fc8["macs"] == 4096 * 1000


def test_table_and_depth(capsys):
    rc, out, _ = _run(capsys, "resnet18", "--input", "3x224x224")
    assert rc == 0
    assert "Total params: 11,689,512" in out
    assert "layer1.0.conv1" in out and "3×3×64×64 = 36,864" in out and "layer1.0.add_0" in out
    rc, out, _ = _run(capsys, "resnet18", "--depth", "1")
    assert rc == 0
    lines = out.splitlines()
    layer1 = next(line for line in lines if line.startswith("layer1 "))
    # the whole stage folded in one row: its parameters (2 BasicBlocks of 73,984) and its output
    assert "Sequential" in layer1 and "147,968" in layer1 and "1×64×56×56" in layer1
    assert not any("layer1.0" in line for line in lines)
    assert "Total params: 11,689,512" in out


def test_unknown_model(capsys):
    rc, out, err = _run(capsys, "alexnet9")
    assert rc != 0 and out == ""
    assert err.startswith("error: unknown model 'alexnet9'; choose one of:") and "resnet50" in err
    assert err.count("\n") == 1


def test_bad_input_sizes(capsys):
    for bad in ("3xax224", "3x0x224", "1x2x3x4"):
        rc, _, err = _run(capsys, "alexnet", "--input", bad)
        assert rc != 0 and err.startswith("error: ") and err.count("\n") == 1, (bad, err)
    rc, _, err = _run(capsys, "alexnet", "--input", "3x32x32")
    assert rc != 0
    assert err == ("error: input 3×32×32 is too small for alexnet: the output of features.12 (MaxPool2d) "
                   "would be 0×0\n")


def test_subprocess_error_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "explorer", "summary", "nope"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: unknown model 'nope'")
