"""Training code: the YOLO loss and layout by hand, a short training run, checkpoints that resume exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer.core.train_common import TrainConfig, generate_scene_set
from explorer.core.train_yolo import encode_targets, split_darknet, yolo_loss
from explorer.core.yolo import detect, parse

S, B, C = 7, 2, 4


def perfect_output(target: torch.Tensor) -> torch.Tensor:
    """The flat darknet vector that predicts `target` exactly with predictor 0 (built by hand, cell by cell)."""
    n = target.shape[0]
    out = torch.zeros(n, S * S * (C + B * 5))
    for i in range(n):
        for r in range(S):
            for c in range(S):
                cell = r * S + c
                if target[i, r, c, 4] > 0:
                    out[i, cell * C:(cell + 1) * C] = target[i, r, c, 5:]
                    out[i, S * S * C + cell * B] = 1.0
                    box0 = S * S * (C + B) + cell * B * 4
                    out[i, box0:box0 + 4] = target[i, r, c, :4]
    return out


def test_targets_layout_loss_and_decode_by_hand():
    boxes = [torch.tensor([[32.0, 64.0, 96.0, 128.0]]), torch.tensor([[0.0, 0.0, 224.0, 112.0]])]
    labels = [torch.tensor([2]), torch.tensor([0])]
    t = encode_targets(boxes, labels, S, C, 224)
    # box 1: centre (64, 96) → cell row 3 (96/32), col 2 (64/32), offsets 0, 0; sqrt(64/224)
    expected = [0.0, 0.0, (64 / 224) ** 0.5, (64 / 224) ** 0.5, 1.0]
    assert t[0, 3, 2, :5].tolist() == pytest.approx(expected, abs=1e-6)
    assert t[0, 3, 2, 5:].tolist() == [0, 0, 1, 0] and t[0, ..., 4].sum() == 1
    # box 2: centre (112, 56) → row 1 (56/32 = 1.75), col 3 (3.5)
    assert t[1, 1, 3, :4].tolist() == pytest.approx([0.5, 0.75, 1.0, 0.5 ** 0.5], abs=1e-6)
    out = perfect_output(t)
    probs, conf, bx = split_darknet(out, S, B, C)
    assert probs[0, 3, 2].tolist() == [0, 0, 1, 0] and conf[0, 3, 2].tolist() == [1.0, 0.0]
    loss, parts = yolo_loss(out, t, S, B, C)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    # one wrong class probability: the class term is exactly that squared error
    wrong = out.clone()
    wrong[0, (3 * S + 2) * C + 1] = 0.5
    assert yolo_loss(wrong, t, S, B, C)[0].item() == pytest.approx(0.25 / 2, abs=1e-6)  # mean over 2 images
    # the project's decoder (explorer.core.yolo, written independently) reads the boxes back
    d0 = detect(parse(out[0], S, B, C, "darknet"), 224, 224)
    assert len(d0) == 1 and d0[0].box == pytest.approx((32.0, 64.0, 96.0, 128.0), abs=1e-3)
    assert d0[0].class_index == 2 and d0[0].score == pytest.approx(1.0) and d0[0].cell == (3, 2)
    d1 = detect(parse(out[1], S, B, C, "darknet"), 224, 224)
    assert len(d1) == 1 and d1[0].box == pytest.approx((0.0, 0.0, 224.0, 112.0), abs=1e-3)


def test_yolo_backbone_starts_from_fasterrcnn_tiny(tmp_path):
    from explorer.core.train_yolo import load_backbone
    from models.fasterrcnn_tiny import fasterrcnn_tiny
    from models.yolov1_tiny import yolov1_tiny
    frcnn = fasterrcnn_tiny()
    torch.save(frcnn.state_dict(), tmp_path / "f.pt")
    yolo = yolov1_tiny()
    load_backbone(yolo, tmp_path / "f.pt")
    for k, v in frcnn.backbone.state_dict().items():
        assert torch.equal(yolo.backbone.state_dict()[k], v), k


def test_yolo_loss_decreases_on_a_batch():
    from models.yolov1_tiny import yolov1_tiny
    torch.manual_seed(0)
    model = yolov1_tiny()
    data = generate_scene_set(8, 3, log=False)
    x = data.images.float() / 255
    t = encode_targets(data.boxes, data.labels, S, C, 224)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss, _ = yolo_loss(model(x), t, S, B, C)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0] * 0.7


def _cfg(tmp_path: Path, model: str, epochs: int, name: str, resume: Path | None = None,
         max_steps: int | None = None) -> TrainConfig:
    return TrainConfig(model=model, epochs=epochs, scenes=8, seed=5, batch_size=8, lr=1e-3,
                       out=tmp_path / name, resume=resume, threads=2, max_steps=max_steps)


def test_yolo_checkpoint_resumes_exactly(tmp_path):
    from explorer.core.train_yolo import train
    train(_cfg(tmp_path, "yolov1-tiny", 2, "full.pt"))
    train(_cfg(tmp_path, "yolov1-tiny", 2, "half.pt", max_steps=1))  # interrupted after epoch 1 of 2
    ckpt = tmp_path / "half.pt.ckpt"
    saved = torch.load(ckpt, weights_only=True)
    assert saved["epoch"] == 1 and set(saved) >= {"model", "optimizer", "generator", "config"}
    train(_cfg(tmp_path, "yolov1-tiny", 2, "resumed.pt", resume=ckpt))
    full = torch.load(tmp_path / "full.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed.pt", weights_only=True)
    half = torch.load(tmp_path / "half.pt", weights_only=True)
    assert full.keys() == resumed.keys()
    for k in full:
        assert torch.allclose(full[k].float(), resumed[k].float(), atol=1e-5), k
    assert not all(torch.equal(full[k], half[k]) for k in full)  # the second epoch did change the weights


def test_fasterrcnn_trains_a_few_steps(tmp_path, capsys):
    from explorer.core.train_fasterrcnn import train
    from models.fasterrcnn_tiny import fasterrcnn_tiny
    cfg = _cfg(tmp_path, "fasterrcnn-tiny", 1, "frcnn.pt")
    cfg.batch_size, cfg.max_steps = 4, 2
    train(cfg)
    err = capsys.readouterr().err
    assert "2/2" in err and "loss" in err and "nan" not in err.lower()
    # not a terminal: plain lines (the first step, the last, the epoch), never a bar redrawn with \r
    assert "\r" not in err and len(err.splitlines()) <= 6, err
    state = torch.load(tmp_path / "frcnn.pt", weights_only=True)
    fasterrcnn_tiny().load_state_dict(state)  # a plain state_dict of the zoo's architecture
    assert (tmp_path / "frcnn.pt").stat().st_size < 10e6


def test_train_command(tmp_path):
    out = tmp_path / "y.pt"
    run = subprocess.run([sys.executable, "-m", "explorer", "train", "yolov1-tiny", "--scenes", "4", "--epochs", "1",
                          "--batch-size", "4", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert out.is_file() and (tmp_path / "y.pt.ckpt").is_file() and "saved" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "explorer", "train", "yolov1-tiny", "--scenes", "4", "--out",
                          str(out), "--resume", str(tmp_path / "missing.ckpt")], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode != 0 and bad.stderr.strip().startswith("error:")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_train_rejects_zero_steps_before_any_work(capsys):
    from explorer.cli import main

    assert main(["train", "yolov1-tiny", "--max-steps", "0"]) == 2
    assert capsys.readouterr().err == "error: --max-steps must be positive\n"


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_train_writes_a_new_file_by_default_never_the_bundled_one(tmp_path, monkeypatch, capsys):
    from explorer.cli import main
    from explorer.core.train_common import RESOURCES

    bundled = RESOURCES / "weights" / "yolov1-tiny.pt"
    before = _digest(bundled)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "yolov1-tiny", "--scenes", "4", "--epochs", "1", "--batch-size", "4", "--max-steps", "1",
                 "--init-backbone", "none"]) == 0
    assert (tmp_path / "yolov1-tiny-trained.pt").is_file() and "saved yolov1-tiny-trained.pt" in capsys.readouterr().out
    assert _digest(bundled) == before
    # naming the bundled file is refused before any work, without --force
    assert main(["train", "yolov1-tiny", "--max-steps", "1", "--out", str(bundled)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: refusing to replace the bundled weights '{bundled}'; choose another --out, or add "
                   "--force to replace them\n")
    assert _digest(bundled) == before


def test_train_replaces_bundled_weights_only_with_force(tmp_path, monkeypatch, capsys):
    from explorer.cli import main

    shipped = tmp_path / "resources"
    (shipped / "weights").mkdir(parents=True)
    target = shipped / "weights" / "fasterrcnn-tiny.pt"
    target.write_bytes(b"the shipped weights")
    monkeypatch.setenv("CNN_EXPLORER_RESOURCES", str(shipped))
    argv = ["train", "fasterrcnn-tiny", "--scenes", "4", "--epochs", "1", "--batch-size", "2", "--max-steps", "1",
            "--out", str(target)]
    assert main(argv) == 2 and target.read_bytes() == b"the shipped weights"
    capsys.readouterr()
    assert main([*argv, "--force"]) == 0
    torch.load(target, weights_only=True)  # a state_dict now


@pytest.fixture
def no_training(monkeypatch):
    """Training replaced by a failure: a check that is to come before any work must fail first."""
    import explorer.core.train_fasterrcnn as frcnn
    import explorer.core.train_yolo as yolo

    def refuse(config: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr(yolo, "train", refuse)
    monkeypatch.setattr(frcnn, "train", refuse)


@pytest.mark.parametrize("model", ["yolov1-tiny", "fasterrcnn-tiny"])
def test_train_out_under_a_file_is_refused_before_any_work(tmp_path, capsys, no_training, model):
    """New-user trial: `--out afile/x.pt` generated scenes and trained an epoch, then said
    'error: FileExistsError: [Errno 17] File exists' with status 1."""
    from explorer.cli import main

    (tmp_path / "afile").write_text("not a folder")
    for out in (tmp_path / "afile" / "x.pt", tmp_path / "afile" / "deeper" / "x.pt"):
        assert main(["train", model, "--max-steps", "1", "--scenes", "2", "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.err == (f"error: --out '{out}' cannot be written: '{tmp_path / 'afile'}' is a file, not a "
                                "folder\n"), captured.err
        assert not captured.out
    assert (tmp_path / "afile").read_text() == "not a folder"


def test_train_out_that_is_a_folder_is_refused_before_any_work(tmp_path, capsys, no_training):
    from explorer.cli import main

    assert main(["train", "yolov1-tiny", "--max-steps", "1", "--scenes", "2", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: --out '{tmp_path}' is a folder, not a file; name a file in it, such "
                                       f"as '{tmp_path / 'yolov1-tiny-trained.pt'}'\n")
    (tmp_path / "x.pt.ckpt").mkdir()  # the checkpoint beside it could not be written either
    assert main(["train", "yolov1-tiny", "--max-steps", "1", "--scenes", "2", "--out", str(tmp_path / "x.pt")]) == 2
    assert capsys.readouterr().err.startswith("error: the checkpoint beside --out ")


def test_train_says_it_creates_a_missing_folder(tmp_path, capsys, monkeypatch):
    """`--out /nonexistent/dir/x.pt` created the folders without a word: now one line says so, before the
    training starts (and `--help` says it)."""
    import explorer.core.train_yolo as yolo
    from explorer.cli import build_parser, main

    seen: list[bool] = []

    def record(config: TrainConfig) -> None:
        seen.append(config.out.parent.is_dir())
        config.out.write_bytes(b"weights")

    monkeypatch.setattr(yolo, "train", record)
    out = tmp_path / "new" / "dir" / "x.pt"
    assert main(["train", "yolov1-tiny", "--max-steps", "1", "--scenes", "2", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out.splitlines()
    assert stdout[0] == f"created folder {tmp_path / 'new' / 'dir'} for --out" and seen == [True]
    assert main(["train", "yolov1-tiny", "--max-steps", "1", "--scenes", "2", "--out", str(out)]) == 0
    assert "created folder" not in capsys.readouterr().out  # it exists now
    train_help = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    assert "a missing folder is created" in " ".join(train_help.split())


@pytest.mark.parametrize("argv, message", [
    (["--lr", "-1"], "--lr must be a positive number, such as 0.001 (not -1)"),
    (["--lr", "0"], "--lr must be a positive number, such as 0.001 (not 0)"),
    (["--lr", "nan"], "--lr must be a positive number, such as 0.001 (not nan)"),
    (["--lr", "inf"], "--lr must be a positive number, such as 0.001 (not inf)"),
    (["--backbone-lr-scale", "-0.5"], "--backbone-lr-scale must be 0 or more (not -0.5)"),
    (["--seed", "-1"], "--seed must be a whole number from 0 to 2⁶³−1 (not -1)"),
    (["--seed", str(2**64)], f"--seed must be a whole number from 0 to 2⁶³−1 (not {2**64})"),
    (["--epochs", "0"], "--epochs must be positive"),
    (["--threads", "-2"], "--threads must be positive"),
    (["--batch-size", "0"], "--batch-size must be positive"),
])
def test_train_numbers_are_checked_before_any_work(tmp_path, capsys, no_training, argv, message):
    """`--lr -1` was 'error: ValueError: Invalid learning rate: -1.0' with status 1, after the scenes were made."""
    from explorer.cli import main

    out = tmp_path / "sub" / "x.pt"
    assert main(["train", "yolov1-tiny", "--max-steps", "1", "--scenes", "2", "--out", str(out), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"error: {message}\n" and not captured.out
    assert not (tmp_path / "sub").exists()  # nothing made for a run that never starts
