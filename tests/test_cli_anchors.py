"""`python -m explorer anchors` in a subprocess: JSON, table and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from explorer.cli import main

ROOT = Path(__file__).resolve().parents[1]

PUBLISHED = [[-84, -40, 99, 55], [-176, -88, 191, 103], [-360, -184, 375, 199],
             [-56, -56, 71, 71], [-120, -120, 135, 135], [-248, -248, 263, 263],
             [-36, -80, 51, 95], [-80, -168, 95, 183], [-168, -344, 183, 359]]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "explorer", "anchors", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_json_original_in_a_subprocess():
    r = _run("--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"anchors": PUBLISHED}


def test_feature_size_torchvision(capsys):
    import torch
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    assert main(["anchors", "--convention", "torchvision", "--feature-size", "3x2", "--stride", "32",
                 "--sizes", "64", "128", "--ratios", "0.5", "2", "--json"]) == 0
    ours = np.array(json.loads(capsys.readouterr().out)["anchors"])
    gen = AnchorGenerator(((64, 128),), ((0.5, 2.0),))
    ref = gen(ImageList(torch.zeros(1, 3, 96, 64), [(96, 64)]), [torch.zeros(1, 1, 3, 2)])[0].numpy()
    assert ours.shape == (3 * 2 * 4, 4)
    np.testing.assert_array_equal(ours, ref)


def test_table(capsys):
    assert main(["anchors", "--feature-size", "2x2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "2x2 feature map, 4 positions × 9 = 36 anchors" in lines[0]
    rows = [ln.split() for ln in lines[2:]]
    assert len(rows) == 36
    # position (y=0, x=1), anchor 4 (256 px, 1:1): the published anchor shifted by 16 along x; 256 px wide
    assert rows[13][:4] == ["0", "1", "4", "256"] and rows[13][5:] == ["-104", "-120", "151", "135", "256", "256"]


def test_errors(capsys):
    assert main(["anchors", "--ratios", "0", "1"]) == 2  # a bad value: EXIT_USAGE, as a malformed one
    assert main(["anchors", "--feature-size", "3x3x3"]) == 2
    assert main(["anchors", "--sizes", "big"]) == 2
    assert main(["anchors", "--convention", "paper"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err)
