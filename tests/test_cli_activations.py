"""`python -m explorer activations`: the mosaic PNG, the JSON figures against an independent computation, layer
names from module paths and graph nodes, one `error:` line for unknown layers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.core import zoo
from explorer.core.images import load_image
from explorer.core.preprocess import Preprocessor

ROOT = Path(__file__).resolve().parents[1]


def test_json_matches_a_direct_computation(tmp_path, capsys, sample_image_path):
    out = tmp_path / "m.png"
    torch.manual_seed(123)
    rc = main(["activations", "alexnet", str(sample_image_path), "--layer", "features.0", "--json",
               "--out", str(out)])
    assert rc == 0
    data = json.loads(capsys.readouterr().out)
    # the same random weights (seed 0, the default of --seed), rebuilt, and conv1 applied by hand to the
    # preset's tensor
    from explorer.core.opening import build_seeded

    model = build_seeded(zoo.get("alexnet"), 0)
    x = Preprocessor(zoo.get("alexnet"))(load_image(sample_image_path)).tensor
    with torch.no_grad():
        ref = model.features[0](x)[0]
    assert data["layer"] == "features.0" and data["shape"] == [64, 55, 55]
    assert data["min"] == pytest.approx(float(ref.min()), rel=1e-5)
    assert data["max"] == pytest.approx(float(ref.max()), rel=1e-5)
    assert data["mean"] == pytest.approx(float(ref.mean()), rel=1e-4, abs=1e-6)
    img = cv2.imread(str(out))
    assert img is not None and [img.shape[1], img.shape[0]] == data["mosaic"]
    rows, cols = data["grid"]
    assert rows * cols >= 64 and data["colormap"] == "rdbu"  # conv output is signed: diverging colormap


def test_graph_node_name_and_text_output(tmp_path, capsys, sample_image_path):
    out = tmp_path / "relu.png"
    rc = main(["activations", "resnet18", str(sample_image_path), "--layer", "layer1.0.relu#1", "--out", str(out),
               "--order", "max", "--top-k", "10"])
    assert rc == 0
    text = capsys.readouterr().out
    assert text.startswith("layer1.0.relu#1: 64×56×56") and str(out) in text
    img = cv2.imread(str(out))
    assert img is not None
    # 10 tiles of 56×56 with 1-pixel padding: 3 rows of 4 (ceil √10 = 4 columns) → 1 + 4·57 wide, 1 + 3·57 high
    assert img.shape[:2] == (1 + 3 * 57, 1 + 4 * 57)


def test_unknown_layer_is_one_error_line(tmp_path):
    # (--out was /nonexistent/x.png: a folder that does not exist is now refused first, before any work)
    proc = subprocess.run([sys.executable, "-m", "explorer", "activations", "resnet18",
                           str(ROOT / "resources" / "images" / "chelsea.jpg"), "--layer", "layr1", "--out",
                           str(tmp_path / "x.png")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and not (tmp_path / "x.png").exists()
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown layer 'layr1'") and "layer1" in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_arguments(tmp_path, capsys, sample_image_path):
    assert main(["activations", "alexnet", str(sample_image_path), "--layer", "features.0", "--norm", "fixed",
                 "--range", "2,1", "--out", str(tmp_path / "a.png")]) == 2
    assert "error: invalid --range" in capsys.readouterr().err
    assert main(["activations", "alexnet", str(tmp_path / "missing.jpg"), "--layer", "features.0",
                 "--out", str(tmp_path / "a.png")]) == 2  # a file given that cannot be used: EXIT_USAGE
    assert "missing.jpg" in capsys.readouterr().err
    assert main(["activations", "alexnet", str(sample_image_path), "--layer", "features.0", "--colormap", "jet",
                 "--out", str(tmp_path / "a.png")]) == 2


@pytest.mark.parametrize("command", ["predict", "activations"])
def test_help_points_to_a_command_that_works(capsys, command):
    """`predict --help` and `activations --help` send the user to `summary --list`: that command must work and
    list the zoo (it used to fail: MODEL was required)."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = capsys.readouterr().out
    assert "python -m explorer summary --list" in " ".join(help_text.split())
    assert main(["summary", "--list"]) == 0
    out, err = capsys.readouterr()
    table = out.split("\n\n")[0]  # then how to name models outside the zoo
    assert err == "" and [line.split()[0] for line in table.splitlines()[1:]] == zoo.names()


def test_a_layer_like_no_other_gets_examples_and_an_unwritable_out_is_refused_first(tmp_path, monkeypatch,
                                                                                     capsys):
    image = str(ROOT / "resources" / "images" / "chelsea.jpg")
    proc = subprocess.run([sys.executable, "-m", "explorer", "activations", "resnet18", image, "--layer", "zzz"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    line = proc.stderr.strip()
    assert proc.returncode == 2 and len(line.splitlines()) == 1
    assert line.startswith("error: unknown layer 'zzz'; layers are module paths such as conv1, bn1")
    # a folder that does not exist: a path given that cannot be used, so 2, before the model runs (was 1, after)
    out = tmp_path / "no" / "such" / "dir" / "x.png"
    proc = subprocess.run([sys.executable, "-m", "explorer", "activations", "resnet18", image, "--layer", "conv1",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr == (f"error: --out '{out}' cannot be written: the folder '{out.parent}' does not exist\n")
    # a write that fails while running (a full disk, say) stays a failure while running: 1
    import cv2

    from explorer.cli import main

    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)
    assert main(["activations", "resnet18", image, "--layer", "conv1", "--weights", "random", "--out",
                 str(tmp_path / "x.png")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot write")
