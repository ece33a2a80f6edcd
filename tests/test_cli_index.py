"""`python -m explorer index` and `top`: the JSON shapes, progress on stderr, and one `error:` line for each bad
input (a bad file is a warning; a missing layer, a corrupt database, a channel out of range are errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from explorer.cli import main
from explorer.core.patch_index import top_patches
from explorer.core.scenes import make_scenes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """Five generated scenes, one in a sub-folder, and a file that is not an image."""
    root = tmp_path_factory.mktemp("scenes")
    (root / "more").mkdir()
    for i, scene in enumerate(make_scenes(5, seed=21)):
        folder = root / "more" if i == 4 else root
        cv2.imwrite(str(folder / f"scene{i}.png"), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
    (root / "notes.png").write_bytes(b"not a picture")
    return root


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def index_args(scenes, db, *extra):
    return ("index", "fasterrcnn-tiny", str(scenes), "--layer", "backbone", "--weights", "bundled", "--db", str(db),
            "--workers", "0", *extra)


def test_index_then_top_json(capsys, scenes, tmp_path):
    db = tmp_path / "i.db"
    rc, out, err = run(capsys, *index_args(scenes, db, "--layer", "backbone.8", "--top", "4", "--json"))
    assert rc == 0
    summary = json.loads(out)
    assert summary["indexed"] == 5 and summary["already_indexed"] == 0 and not summary["cancelled"]
    assert [(l["layer"], l["channels"], l["top_k"]) for l in summary["layers"]] == [("backbone", 96, 4),
                                                                                  ("backbone.8", 64, 4)]
    assert summary["weights"] == "bundled" and summary["weights_key"].startswith("sha256:")
    assert [Path(s["source"]).name for s in summary["skipped"]] == ["notes.png"]
    lines = err.strip().splitlines()
    assert any(line.startswith("indexing 6/6 images (100%)") for line in lines)  # the bad file counts as done
    bad = summary["skipped"][0]
    assert [line for line in lines if line.startswith("warning:")] == \
        [f"warning: skipped {bad['source']}: cannot decode it: it is not an image OpenCV can decode"]
    assert not [line for line in lines if line.startswith("error")]

    rc, out, err = run(capsys, "top", "fasterrcnn-tiny", "--layer", "backbone", "--channel", "11", "--weights",
                       "bundled", "--db", str(db), "--json")
    assert rc == 0 and err == ""
    data = json.loads(out)
    assert set(data) == {"layer", "channel", "top"} and (data["layer"], data["channel"]) == ("backbone", 11)
    assert len(data["top"]) == 4
    assert all(set(t) == {"image", "frame", "score", "y", "x", "box"} for t in data["top"])
    assert len({t["image"] for t in data["top"]}) == 4 and all(t["frame"] == 0 for t in data["top"])
    core = top_patches("fasterrcnn-tiny", "backbone", 11, weights="bundled", db=db).patches
    assert [(t["image"], t["y"], t["x"]) for t in data["top"]] == [(p.image, p.y, p.x) for p in core]
    for t in data["top"]:
        # 224² scenes go through the detector unresized: r = 79, stride 16, first centre 0.5 (the backbone's
        # six 3×3 convs), clipped to the image
        cx, cy = 0.5 + 16 * t["x"], 0.5 + 16 * t["y"]
        expected = [max(0, cx - 39.5), max(0, cy - 39.5), min(224, cx + 39.5), min(224, cy + 39.5)]
        assert t["box"] == pytest.approx(expected, abs=1e-3)

    rc, out, err = run(capsys, *index_args(scenes, db, "--layer", "backbone.8", "--top", "4"))
    assert rc == 0 and "indexed 0 images" in out and "5 files already indexed" in out
    # another K cannot be merged into the stored top 4: one error, then --fresh starts that layer again
    rc, out, err = run(capsys, *index_args(scenes, db, "--top", "2"))
    assert rc == 2 and err.count("\n") == 1 and "keeps the top 4 per channel (asked: 2)" in err and "--fresh" in err
    rc, out, err = run(capsys, *index_args(scenes, db, "--top", "2", "--fresh", "--json"))
    assert rc == 0 and [(l["layer"], l["top_k"]) for l in json.loads(out)["layers"]] == [("backbone", 2)]
    assert len(top_patches("fasterrcnn-tiny", "backbone", 11, weights="bundled", db=db).patches) == 2
    assert len(top_patches("fasterrcnn-tiny", "backbone.8", 11, weights="bundled", db=db).patches) == 4


def test_top_text_lists_the_patches(capsys, scenes, tmp_path):
    db = tmp_path / "i.db"
    assert run(capsys, *index_args(scenes, db))[0] == 0
    rc, out, err = run(capsys, "top", "fasterrcnn-tiny", "--layer", "backbone", "--channel", "0", "--weights",
                       "bundled", "--db", str(db), "-k", "2")
    assert rc == 0 and out.splitlines()[0].startswith("fasterrcnn-tiny (bundled weights) backbone channel 0 of 96")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["1.", "2."]


@pytest.mark.parametrize("argv, needle, status", [
    (("--layer", "backbone.77"), "unknown layer 'backbone.77'", 2),
    (("--top", "0"), "--top must be at least 1", 2),
    (("--every", "-1"), "--every must be at least 1", 2),
])
def test_index_bad_arguments_one_error_line(capsys, scenes, tmp_path, argv, needle, status):
    rc, out, err = run(capsys, *index_args(scenes, tmp_path / "i.db", *argv))
    assert rc == status and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err


def test_a_missing_source_and_a_folder_without_images(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    for source, needle in ((tmp_path / "nowhere", "no such file or folder"), (tmp_path / "empty", "no image files")):
        rc, out, err = run(capsys, "index", "fasterrcnn-tiny", str(source), "--layer", "backbone", "--db",
                           str(tmp_path / "i.db"))
        assert rc == 2 and err.count("\n") == 1 and needle in err


def test_corrupt_database_offers_rebuild_and_keeps_the_old_file(capsys, scenes, tmp_path):
    db = tmp_path / "i.db"
    db.write_bytes(b"\x00garbage" * 512)
    rc, out, err = run(capsys, *index_args(scenes, db))
    assert rc == 1 and err.count("\n") == 1 and err.startswith("error: ")
    assert "damaged or not an index" in err and "--rebuild" in err
    rc, out, err = run(capsys, "top", "fasterrcnn-tiny", "--layer", "backbone", "--channel", "0", "--weights",
                       "bundled", "--db", str(db))
    assert rc == 1 and err.count("\n") == 1 and "--rebuild" in err
    rc, out, err = run(capsys, *index_args(scenes, db, "--rebuild"))
    assert rc == 0 and "moved the damaged index aside" in err
    (backup,) = tmp_path.glob("i.db.damaged-*")
    assert backup.read_bytes() == b"\x00garbage" * 512


def test_top_errors_are_one_line(capsys, scenes, tmp_path):
    db = tmp_path / "i.db"
    base = ("top", "fasterrcnn-tiny", "--weights", "bundled", "--db", str(db))
    rc, out, err = run(capsys, *base, "--layer", "backbone", "--channel", "0")
    assert rc == 2 and "no index database" in err and err.count("\n") == 1 and not db.exists()
    assert run(capsys, *index_args(scenes, db))[0] == 0
    for argv, needle in [(("--layer", "backbone", "--channel", "96"), "out of range: backbone has 96 channels"),
                         (("--layer", "backbone.5", "--channel", "0"), "indexed layers: backbone"),
                         (("--layer", "backbone", "--channel", "-1"), "--channel must be 0 or more")]:
        rc, out, err = run(capsys, *base, *argv)
        assert rc != 0 and out == "" and err.count("\n") == 1 and err.startswith("error: ") and needle in err
    rc, out, err = run(capsys, "top", "fasterrcnn-tiny", "--weights", "random", "--db", str(db), "--layer",
                       "backbone", "--channel", "0")
    assert rc == 2 and "with random (seed 0) weights" in err and "indexed with: bundled" in err


def test_ray_option_without_ray_installed(capsys, scenes, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as where it is absent
    rc, out, err = run(capsys, *index_args(scenes, tmp_path / "i.db", "--ray", "local"))
    assert rc == 2 and err.count("\n") == 1 and "pip install 'cnn-explorer[cluster]'" in err


def test_progress_and_summary_from_a_real_process(scenes, tmp_path):
    """The command as a user runs it: no traceback, progress and warning on stderr, summary on stdout."""
    db = tmp_path / "i.db"
    argv = ["index", "fasterrcnn-tiny", str(scenes), "--layer", "backbone", "--weights", "bundled", "--db", str(db)]
    proc = subprocess.run([sys.executable, "-m", "explorer", *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "warning: skipped" in proc.stderr
    # a folder's counts are images, as its progress line says (new-user trial: "5/5 frames", then "frames of
    # files"); a video's are frames (test_a_video_counts_frames)
    assert "indexed 5 images in" in proc.stdout and "backbone: 96 channels, top 9, 5 images" in proc.stdout
    assert "indexing 6/6 images (100%)" in proc.stderr and "frames" not in proc.stdout + proc.stderr


def test_a_video_counts_frames(capsys, tmp_path):
    """A video's counts are frames of files (a folder's are images: test_progress_and_summary_from_a_real_process)."""
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (224, 224))
    for scene in make_scenes(3, seed=4):
        writer.write(cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
    writer.release()
    rc, out, err = run(capsys, "index", "fasterrcnn-tiny", str(video), "--layer", "backbone", "--weights", "bundled",
                       "--db", str(tmp_path / "i.db"), "--workers", "0")
    assert rc == 0, err
    assert "indexed 3 frames of 1 file in" in out and "backbone: 96 channels, top 9, 3 frames of 1 file" in out
    assert "indexing 3/3 frames (100%)" in err and "image" not in out
