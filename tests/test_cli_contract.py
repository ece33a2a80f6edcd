"""The command line's contract: exit statuses (documented in `--help`), strict JSON from every sub-command,
one `warning:` line for weights holding NaN, and nothing but `error:`/`warning:` lines on stderr."""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from explorer.cli import EXIT_FAILURE, EXIT_USAGE, build_parser, exit_status, main
from explorer.cli.common import finite_json, print_json
from explorer.core import zoo

ROOT = Path(__file__).resolve().parents[1]


def _strict(text: str):
    """json.loads that fails on NaN, Infinity and -Infinity, as strict parsers (RFC 8259) do."""
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


# ------------------------------------------------------------------------------------------------ exit status
def test_help_documents_the_exit_statuses():
    text = build_parser().format_help()
    assert "exit status:" in text
    for code in ("0 ", "2 ", "1 ", "130"):
        assert f"\n  {code}" in text


@pytest.mark.parametrize("argv, code", [
    (["summary", "--bogus"], EXIT_USAGE),                      # argparse
    (["summary", "resnet18", "--input", "3x0x7"], EXIT_USAGE),  # a bad value
    (["summary", "nope"], EXIT_USAGE),                        # an unknown model (was 1)
    (["summary", "alexnet", "--input", "3x32x32"], EXIT_USAGE),  # an input too small for the model (was 1)
    (["activations", "resnet18", "MISSING", "--layer", "conv1"], EXIT_USAGE),  # a file given (was 1)
    (["activations", "resnet18", "IMG", "--layer", "zzz"], EXIT_USAGE),       # an unknown layer (was 1)
    (["anchors", "--ratios", "0", "1"], EXIT_USAGE),           # a bad value found by the core (was 1)
    (["predict", "resnet18", "IMG", "--weights", "BAD"], EXIT_USAGE),        # a weights file given (was 1)
    (["predict", "resnet18", "IMG", "--device", "cuda:7"], EXIT_USAGE),      # this machine lacks it (was 1)
])
def test_exit_statuses(capsys, tmp_path, sample_image_path, argv, code):
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    subst = {"IMG": str(sample_image_path), "MISSING": str(tmp_path / "missing.jpg"), "BAD": str(tmp_path / "bad.pt")}
    argv = [subst.get(a, a) for a in argv]
    if argv[0] == "activations":
        argv += ["--out", str(tmp_path / "m.png")]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    return dict(build_parser()._subparsers._group_actions[0].choices)


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.option_strings[-1]: a for a in parser._actions if a.option_strings}


@pytest.fixture
def no_work(monkeypatch):
    """Training and evaluation replaced by a failure: a check of what was given must come first."""
    import explorer.core.evaluate as evaluate
    import explorer.core.train_fasterrcnn as frcnn
    import explorer.core.train_yolo as yolo

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the work started")

    for module, name in ((yolo, "train"), (frcnn, "train"), (evaluate, "evaluate")):
        monkeypatch.setattr(module, name, refuse)


# every sub-command with a --device option, as the least that would run (a test below checks the list is whole)
DEVICE_ARGV = {
    "predict": ["predict", "resnet18", "IMG", "--weights", "random"],
    "activations": ["activations", "resnet18", "IMG", "--layer", "layer1", "--weights", "random", "--out", "PNG"],
    "index": ["index", "resnet18", "IMG", "--layer", "layer1", "--weights", "random", "--db", "DB"],
    "train": ["train", "yolov1-tiny", "--max-steps", "1", "--scenes", "2", "--out", "PT"],
    "evaluate": ["evaluate", "yolov1-tiny", "--scenes", "1"],
}


def _argv(argv: list[str], tmp_path: Path, image: Path) -> list[str]:
    subst = {"IMG": str(image), "PNG": str(tmp_path / "m.png"), "DB": str(tmp_path / "i.sqlite"),
             "PT": str(tmp_path / "w.pt")}
    return [subst.get(a, a) for a in argv]


def test_every_device_option_is_checked_here():
    with_device = {name for name, p in _subcommands().items() if "--device" in _options(p)}
    assert with_device == set(DEVICE_ARGV)


@pytest.mark.parametrize("command", sorted(DEVICE_ARGV))
@pytest.mark.parametrize("device", ["banana", "cuda:7", "cuda:x"])
def test_a_device_this_machine_lacks_is_a_usage_error(capsys, tmp_path, sample_image_path, no_work, command,
                                                      device):
    """`evaluate --device banana` was exit status 1 while a bad --epochs was 2: a device given is an argument
    given, so 2, in every sub-command, before any work."""
    if device == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has cuda:7")
    argv = _argv(DEVICE_ARGV[command], tmp_path, sample_image_path) + ["--device", device]
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"error: device '{device}' "), captured.err
    assert not captured.out
    assert not list(tmp_path.iterdir())  # nothing written


# every option naming a file to write or an index database; a test below checks the list is whole
PATH_ARGV = {
    ("activations", "--out"): ["activations", "resnet18", "IMG", "--layer", "layer1", "--weights", "random"],
    ("train", "--out"): ["train", "yolov1-tiny", "--max-steps", "1", "--scenes", "2"],
    ("index", "--db"): ["index", "resnet18", "IMG", "--layer", "layer1", "--weights", "random"],
    ("top", "--db"): ["top", "resnet18", "--layer", "layer1", "--channel", "0"],
}


def test_every_output_path_option_is_checked_here():
    found = {(name, opt) for name, p in _subcommands().items() for opt in _options(p) if opt in ("--out", "--db")}
    assert found == set(PATH_ARGV)


@pytest.mark.parametrize("command, option", sorted(PATH_ARGV))
@pytest.mark.parametrize("where", ["FOLDER", "UNDER_FILE"])
def test_a_path_that_cannot_be_used_is_a_usage_error(capsys, tmp_path, sample_image_path, no_work, command,
                                                     option, where):
    """A folder where a file is wanted, or a file where a folder should be: exit status 2 and one sentence,
    before any work (`train --out afile/x.pt` trained an epoch, then 'error: FileExistsError: ...', 1;
    `top --db FOLDER/` was 1)."""
    (tmp_path / "afile").write_text("a file")
    name = "m.png" if command == "activations" else "w.pt"  # activations' --out must end in .png
    if where == "FOLDER":
        (tmp_path / name).mkdir()
        target = str(tmp_path / name)
    else:
        target = str(tmp_path / "afile" / name)
    before = sorted(tmp_path.iterdir())
    argv = _argv(PATH_ARGV[(command, option)] + [option, target], tmp_path, sample_image_path)
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: "), captured.err
    assert "Error" not in captured.err and "Errno" not in captured.err, captured.err  # a sentence, no class name
    assert sorted(tmp_path.iterdir()) == before  # nothing written


# every numeric option of train and evaluate, with a value it cannot take
BAD_NUMBERS = {
    "train": {"--epochs": "0", "--scenes": "-1", "--seed": "-1", "--batch-size": "0", "--lr": "-1",
              "--threads": "0", "--backbone-lr-scale": "nan", "--max-steps": "0"},
    "evaluate": {"--scenes": "0", "--seed": "-1"},
}


def test_every_numeric_option_of_train_and_evaluate_is_checked_here():
    for command, bad in BAD_NUMBERS.items():
        numeric = {opt for opt, a in _options(_subcommands()[command]).items() if a.type in (int, float)}
        assert numeric == set(bad), command


@pytest.mark.parametrize("command, option", [(c, o) for c, bad in BAD_NUMBERS.items() for o in bad])
def test_a_number_out_of_range_is_a_usage_error(capsys, tmp_path, no_work, command, option):
    """`train --lr -1` was 'error: ValueError: Invalid learning rate: -1.0' with status 1."""
    argv = ["train", "yolov1-tiny", "--out", str(tmp_path / "w.pt")] if command == "train" else [
        "evaluate", "yolov1-tiny"]
    assert main([*argv, option, BAD_NUMBERS[command][option]]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"error: {option} must be ") and err.count("\n") == 1, err
    assert "Error" not in err, err


def test_failures_while_running_are_1():
    from explorer.core.weights import DownloadCancelled, DownloadError

    assert exit_status(DownloadError("cannot download 'x' (no internet?)")) == EXIT_FAILURE
    assert exit_status(DownloadCancelled("cancelled")) == EXIT_FAILURE
    assert exit_status(RuntimeError("CUDA out of memory")) == EXIT_FAILURE
    assert exit_status(KeyboardInterrupt()) == 130


# ----------------------------------------------------------------------------------------------- strict JSON
def test_print_json_turns_non_finite_numbers_into_null(capsys):
    print_json({"a": float("nan"), "b": [1.0, float("inf"), -float("inf")], "c": (np.float32("nan"), 2),
                "d": np.array([np.nan, 1.5]), "e": torch.tensor([float("nan")])})
    out = capsys.readouterr().out
    assert _strict(out) == {"a": None, "b": [1.0, None, None], "c": [None, 2], "d": [None, 1.5], "e": [None]}
    assert finite_json({"x": 1, "y": "NaN"}) == {"x": 1, "y": "NaN"}


@pytest.fixture(scope="module")
def nan_checkpoints(tmp_path_factory):
    """resnet18 and yolov1-tiny state_dicts with one NaN and one Inf each."""
    root = tmp_path_factory.mktemp("nan")
    paths = {}
    for name in ("resnet18", "yolov1-tiny"):
        torch.manual_seed(0)
        state = zoo.build(name).state_dict()
        floats = [k for k, v in state.items() if v.is_floating_point() and v.dim() > 1]
        state[floats[0]].view(-1)[0] = float("nan")
        state[floats[-1]].view(-1)[0] = float("inf")
        paths[name] = root / f"{name}-nan.pt"
        torch.save(state, paths[name])
    return paths


@pytest.mark.parametrize("argv", [
    ["predict", "resnet18", "IMG", "--weights", "NAN18"],
    ["activations", "resnet18", "IMG", "--layer", "layer1", "--weights", "NAN18", "--out", "OUT"],
    ["evaluate", "yolov1-tiny", "--weights", "NANYOLO", "--scenes", "2"],
    ["summary", "resnet18"],
    ["summary", "--list"],
    ["graph", "alexnet"],
    ["anchors"],
], ids=["predict", "activations", "evaluate", "summary", "summary-list", "graph", "anchors"])
def test_every_json_is_strict_with_nan_weights(capsys, tmp_path, sample_image_path, nan_checkpoints, argv):
    subst = {"IMG": str(sample_image_path), "NAN18": str(nan_checkpoints["resnet18"]),
             "NANYOLO": str(nan_checkpoints["yolov1-tiny"]), "OUT": str(tmp_path / "m.png")}
    rc = main([subst.get(a, a) for a in argv] + ["--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    _strict(out)
    if any(a.startswith("NAN") for a in argv):
        lines = err.strip().splitlines()
        assert [ln for ln in lines if ln.startswith("warning: ") and "2 of " in ln and "NaN or Inf" in ln], err


def test_nan_weights_warning_is_one_line_on_stderr(tmp_path, sample_image_path, nan_checkpoints):
    proc = subprocess.run([sys.executable, "-m", "explorer", "predict", "resnet18", str(sample_image_path),
                           "--weights", str(nan_checkpoints["resnet18"]), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    n_float = sum(1 for v in zoo.build("resnet18").state_dict().values() if v.is_floating_point())
    assert proc.stderr == (f"warning: '{nan_checkpoints['resnet18']}': 2 of {n_float} tensors hold NaN or Inf "
                           "values: the outputs will be meaningless (NaN)\n")
    data = _strict(proc.stdout)
    assert all(t["score"] is None for t in data["results"][0]["topk"])


# ------------------------------------------------------------------------------------- native library messages
def _damaged_files(folder: Path) -> dict[str, Path]:
    img = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    png = bytearray(cv2.imencode(".png", img)[1].tobytes())
    png[png.index(b"IDAT") + 10] ^= 0xFF  # libpng: "IDAT: CRC error" / "invalid stored block lengths"
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    sos = jpeg.index(b"\xff\xda")
    bad_jpeg = bytearray(jpeg)
    bad_jpeg[sos + 40:sos + 60] = b"\xff\xd3" * 10  # libjpeg: "Corrupt JPEG data: ..."
    warn_png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
                + _chunk(b"tEXt", b"a\0b", 1) + _chunk(b"IDAT", zlib.compress(b"\0" * 72)) + _chunk(b"IEND", b""))
    files = {"crc.png": bytes(png), "truncated.jpg": jpeg[: len(jpeg) // 2], "corrupt.jpg": bytes(bad_jpeg),
             "warn.png": warn_png}
    out = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        out[name] = folder / name
    return out


def _chunk(tag: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def test_predict_on_damaged_images_prints_one_error_line(tmp_path):
    """A PNG with a damaged IDAT and a truncated JPEG: libpng/libjpeg used to print their own lines to fd 2."""
    files = _damaged_files(tmp_path)
    script = ("import sys\nfrom explorer.cli import main\nrcs = [main(['predict', 'resnet18', p, '--weights', "
              "'random']) for p in sys.argv[1:]]\nprint(rcs)")
    paths = [str(files["crc.png"]), str(files["truncated.jpg"])]
    proc = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert proc.stdout.strip().endswith(f"[{EXIT_USAGE}, {EXIT_USAGE}]"), proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and all(ln.startswith("error: cannot decode") for ln in lines), proc.stderr


def test_predict_on_a_folder_of_damaged_images_prints_only_warning_lines(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    _damaged_files(folder)
    cv2.imwrite(str(folder / "good.png"), np.zeros((32, 32, 3), np.uint8))
    proc = subprocess.run([sys.executable, "-m", "explorer", "predict", "resnet18", str(folder), "--weights",
                           "random", "--json"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and all(ln.startswith("warning: ") for ln in lines), proc.stderr
    data = _strict(proc.stdout)
    assert {Path(r["source"]).name for r in data["results"]} >= {"good.png", "warn.png"}
