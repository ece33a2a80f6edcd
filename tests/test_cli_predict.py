"""`python -m explorer predict`: every source kind, every weights kind, JSON shape, bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from explorer.cli import main
from explorer.core import zoo
from tests.test_sources import write_video


def _run(capsys, *argv):
    rc = main(["predict", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_image_json_shape(capsys, sample_image_path):
    rc, out, err = _run(capsys, "resnet18", str(sample_image_path), "--json")
    assert rc == 0
    data = json.loads(out)
    assert set(data) == {"model", "weights", "device", "results"}
    assert data["model"] == "resnet18" and data["weights"] == "random" and data["device"] == "cpu"
    (r,) = data["results"]
    assert set(r) == {"source", "frame", "topk", "timing_ms"} and r["frame"] == 0
    assert [set(t) for t in r["topk"]] == [{"index", "label", "score"}] * 5
    scores = [t["score"] for t in r["topk"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1
    assert set(r["timing_ms"]) >= {"capture", "preprocess", "forward", "postprocess"}


def test_text_output_warns_random(capsys, sample_image_path):
    rc, out, err = _run(capsys, "resnet18", str(sample_image_path))
    assert rc == 0
    assert "random weights" in err and "random weights: predictions are meaningless" in out
    assert out.count("\n  1. ") == 1


def test_file_weights_and_yolo_boxes_in_source_pixels(capsys, tmp_path):
    torch.manual_seed(3)
    torch.save(zoo.build("yolov1-tiny").state_dict(), tmp_path / "y.pt")
    img = (np.random.default_rng(1).random((90, 250, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "scene.png"), img)
    rc, out, err = _run(capsys, "yolov1-tiny", str(tmp_path / "scene.png"), "--weights", str(tmp_path / "y.pt"),
                        "--threshold", "0", "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert data["weights"] == str(tmp_path / "y.pt")
    boxes = data["results"][0]["boxes"]
    assert boxes and all(0 <= b["box"][0] <= b["box"][2] <= 250 and 0 <= b["box"][1] <= b["box"][3] <= 90
                         for b in boxes)
    assert set(boxes[0]) == {"box", "label", "score"}


def test_folder_with_bad_files(capsys, tmp_path):
    for name in ("a.png", "c.png"):
        cv2.imwrite(str(tmp_path / name), np.full((40, 40, 3), 90, np.uint8))
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8 not really")
    rc, out, err = _run(capsys, "yolov1-tiny", str(tmp_path), "--weights", "random", "--json")
    assert rc == 0
    assert [r["source"].rsplit("/", 1)[-1] for r in json.loads(out)["results"]] == ["a.png", "c.png"]
    assert err.count("warning: skipped") == 1
    # the file first, then why (new-user trial: "warning: skipped cannot decode …")
    assert f"warning: skipped {tmp_path / 'b.jpg'}: cannot decode it: it is not an image OpenCV can decode\n" in err


def test_folder_numbering_has_no_gaps(capsys, tmp_path):
    """Results are numbered in the order processed: the decodable images 0, 1, 2; skipped files (first, middle)
    take no number and are listed apart (stderr warnings, JSON "skipped")."""
    for name in ("a.png", "c.png", "d.png"):
        cv2.imwrite(str(tmp_path / name), np.full((40, 40, 3), 90, np.uint8))
    (tmp_path / "0.png").write_bytes(b"junk")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8 not really")
    rc, out, err = _run(capsys, "yolov1-tiny", str(tmp_path), "--weights", "random", "--json")
    assert rc == 0
    data = json.loads(out)
    assert [(r["source"].rsplit("/", 1)[-1], r["frame"]) for r in data["results"]] == [
        ("a.png", 0), ("c.png", 1), ("d.png", 2)]
    assert [s["source"].rsplit("/", 1)[-1] for s in data["skipped"]] == ["0.png", "b.jpg"]
    assert all(set(s) == {"source", "error"} and "cannot decode" in s["error"] for s in data["skipped"])
    assert err.count("warning: skipped") == 2
    rc, out, err = _run(capsys, "yolov1-tiny", str(tmp_path), "--weights", "random")
    assert rc == 0
    heads = [line for line in out.splitlines() if line.startswith(str(tmp_path))]
    assert [h.rsplit("/", 1)[-1] for h in heads] == ["a.png #0", "c.png #1", "d.png #2"]
    assert err.count("warning: skipped") == 2
    # --frames counts processed images, not files
    rc, out, err = _run(capsys, "yolov1-tiny", str(tmp_path), "--weights", "random", "--frames", "2", "--json")
    assert [r["frame"] for r in json.loads(out)["results"]] == [0, 1]


def test_single_image_is_not_numbered(capsys, sample_image_path):
    rc, out, err = _run(capsys, "resnet18", str(sample_image_path))
    assert rc == 0 and f"\n{sample_image_path}\n" in out


def test_video_frames(capsys, tmp_path):
    video = write_video(tmp_path / "v.avi", n=6)
    rc, out, err = _run(capsys, "yolov1-tiny", str(video), "--weights", "random", "--frames", "3", "--json")
    assert rc == 0
    assert [r["frame"] for r in json.loads(out)["results"]] == [0, 1, 2]
    rc, out, err = _run(capsys, "yolov1-tiny", str(video), "--weights", "random", "--json")
    assert rc == 0 and len(json.loads(out)["results"]) == 6  # to the end, which is not an error


def test_video_broken_mid_stream(capsys, tmp_path):
    video = write_video(tmp_path / "v.avi", n=12)
    data = video.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    rc, out, err = _run(capsys, "yolov1-tiny", str(tmp_path / "cut.avi"), "--weights", "random", "--json")
    assert rc == 1
    assert 0 < len(json.loads(out)["results"]) < 12
    assert err.strip().splitlines()[-1].startswith("error: ") and "damaged or cut short" in err


@pytest.mark.parametrize("argv, needle", [
    (["resnet18", "57"], "no camera at index 57"),
    (["resnet18", "missing.png"], "no such file"),
    (["nope", "0"], "unknown model"),
    (["resnet18", "IMG", "--weights", "bundled"], "no bundled weights"),
    (["resnet18", "IMG", "--weights", "pretrained_nope.pt"], "no such file"),
    (["resnet18", "IMG", "--device", "cuda:7"], "not available"),
    (["resnet18", "IMG", "--frames", "0"], "--frames"),
])
def test_bad_inputs_one_error_line(capfd, sample_image_path, argv, needle):
    # capfd, not capsys: OpenCV's own log lines are written to file descriptor 2, past sys.stderr
    argv = [str(sample_image_path) if a == "IMG" else a for a in argv]
    rc, out, err = _run(capfd, *argv)
    assert rc != 0
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err, err


class _EvilSystem:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {os.environ['EVIL_MARKER']}",))


@pytest.mark.parametrize("case", ["evil-weights", "no-camera"])
def test_errors_are_one_stderr_line_in_a_subprocess(tmp_path, monkeypatch, sample_image_path, case):
    """The whole process's stderr: torch's UserWarning ("Detected pickle protocol 4") and OpenCV's
    "[ WARN:0@..] can't open camera by index" lines used to come before the error line."""
    import pickle
    from pathlib import Path

    monkeypatch.setenv("EVIL_MARKER", str(tmp_path / "pwned"))
    monkeypatch.delenv("OPENCV_LOG_LEVEL", raising=False)  # a user's own OpenCV log level is kept on purpose
    if case == "evil-weights":
        with open(tmp_path / "evil.pt", "wb") as f:  # a plain pickle whose loading would run os.system
            pickle.dump(_EvilSystem(), f, protocol=4)
        argv = ["resnet18", str(sample_image_path), "--weights", str(tmp_path / "evil.pt")]
        expected = (f"error: refused '{tmp_path / 'evil.pt'}': it asks to run code (posix.system) when unpickled; "
                    "only tensors are loaded\n")
    else:
        argv, expected = ["resnet18", "99"], "error: no camera at index 99\n"
    proc = subprocess.run([sys.executable, "-m", "explorer", "predict", *argv], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2
    assert proc.stderr == expected
    assert not (tmp_path / "pwned").exists()


def test_bad_image_in_subprocess(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"")
    for argv, needle in ([["yolov1-tiny", str(tmp_path / "bad.jpg")], "empty"],):
        proc = subprocess.run([sys.executable, "-m", "explorer", "predict", *argv], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and needle in proc.stderr
        assert "Traceback" not in proc.stderr


def test_corrupt_checkpoint(capsys, sample_image_path, tmp_path):
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    rc, out, err = _run(capsys, "yolov1-tiny", str(sample_image_path), "--weights", str(tmp_path / "bad.pt"))
    assert rc == 2 and err.strip().splitlines()[-1].startswith("error: ") and "corrupt" in err
