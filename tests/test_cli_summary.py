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
    assert set(data) == {"model", "input_shape", "total_params", "total_macs", "proposals", "layers"}
    assert data["model"] == "alexnet" and data["input_shape"] == [3, 224, 224] and data["proposals"] is None
    assert data["total_params"] == meta["num_params"] == sum(layer["params"] for layer in data["layers"])
    assert abs(data["total_macs"] / 1e9 - meta["_ops"]) / meta["_ops"] < 0.01
    layers = data["layers"]
    # one row per leaf module, in execution order: 13 feature layers, avgpool, 7 classifier layers
    assert [layer["name"] for layer in layers] == (
        [f"features.{i}" for i in range(13)] + ["avgpool"] + [f"classifier.{i}" for i in range(7)])
    assert set(layers[0]) == {"name", "type", "output_shape", "params", "weight_params", "macs",
                              "receptive_field", "stride", "formula"}
    conv1 = layers[0]
    # per image, as input_shape and the table write shapes (new-user trial: [1, 64, 55, 55] beside [3, 224, 224])
    assert conv1["type"] == "Conv2d" and conv1["output_shape"] == [64, 55, 55]
    assert layers[-1]["output_shape"] == [1000]
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
    assert "Sequential" in layer1 and "147,968" in layer1 and " 64×56×56 " in layer1  # per image, as the window writes it
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


def test_list_one_line_per_zoo_model(capsys):
    rc, out, err = _run(capsys, "--list")
    assert rc == 0 and err == ""
    table, others = out.split("\n\n")  # the zoo, then how to name every other model
    header, *lines = table.splitlines()
    assert all(form in others for form in ("torchvision:NAME", "timm:NAME", ".py", ".pt2", ".onnx"))
    assert header.split() == ["Model", "Family", "Task", "Input", "Weights"]
    assert [line.split()[0] for line in lines] == zoo.names()
    by_name = {line.split()[0]: line for line in lines}
    # checked against the zoo's entries, field by field
    for name in zoo.names():
        e = zoo.get(name)
        h, w = e.input_size
        assert f"  {e.family}  " in by_name[name] + "  " and f"  {e.task}  " in by_name[name]
        assert by_name[name].endswith(f"3×{h}×{w}  " + ", ".join(e.weight_choices))
    assert by_name["alexnet2012"].endswith("3×227×227  random")
    assert by_name["yolov1-tiny"].endswith("random, bundled")


def test_list_json(capsys):
    rc, out, err = _run(capsys, "--list", "--json")
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert [d["name"] for d in data] == zoo.names()
    for d in data:
        e = zoo.get(d["name"])
        assert d == {"name": e.name, "family": e.family, "task": e.task, "input_shape": [3, *e.input_size],
                     "weights": e.weight_choices}
    assert next(d for d in data if d["name"] == "fcn_resnet50")["input_shape"] == [3, 520, 520]


def test_model_needed_without_list_and_list_takes_no_model(capsys):
    rc, out, err = _run(capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and "--list" in err
    rc, out, err = _run(capsys, "--list", "alexnet")
    assert rc == 2 and out == "" and err == "error: --list takes no MODEL, --input or --depth\n"


def test_input_forms():
    from explorer.cli.summary import input_shape_from

    assert input_shape_from("3x224x224", (227, 227)) == (3, 224, 224)
    assert input_shape_from("224", (227, 227)) == (3, 224, 224)
    assert input_shape_from("1×64×32", (227, 227)) == (1, 64, 32)
    assert input_shape_from(None, (227, 227)) == (3, 227, 227)


def test_two_numbers_are_refused_naming_the_forms(capsys):
    # '3x224' used to become 3×3×224; it is ambiguous (C×H or H×W) and is refused
    for bad in ("3x224", "320x480"):
        rc, out, err = _run(capsys, "resnet18", "--input", bad)
        assert rc == 2 and out == ""
        assert err == (f"error: invalid input size '{bad}': expected CxHxW (e.g. 3x224x224) or a single number N "
                       f"for 3xNxN (e.g. 224)\n")
    rc, out, err = _run(capsys, "alexnet", "--input", "64", "--json")
    assert rc == 0 and json.loads(out)["input_shape"] == [3, 64, 64]


def test_subprocess_error_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "explorer", "summary", "nope"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: unknown model 'nope'")


def test_detector_totals_state_their_proposal_count(capsys):
    assert main(["summary", "fasterrcnn-tiny"]) == 0
    out = capsys.readouterr().out
    assert "RoI heads at 100 proposals" in out
    assert main(["summary", "fasterrcnn-tiny", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["proposals"] == 100
    assert main(["summary", "alexnet", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["proposals"] is None
