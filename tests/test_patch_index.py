"""The patch index (explorer.core.patch_index) against independent references: a brute-force maximum over every
image's full feature map, receptive-field boxes worked out by hand from the architecture and the preprocessing,
and SQLite itself for what a cancelled, corrupt, locked or full database keeps."""

from __future__ import annotations

import contextlib
import math
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from explorer.core.activations import UnknownLayerError, resolve_module
from explorer.core.images import load_image
from explorer.core.opening import open_model
from explorer.core.patch_index import (IndexCorruptError, IndexLockedError, IndexRequest, IndexWriteError,
                                       PatchStore, channel_patches, find_layer_index, index_source, patch_image,
                                       rebuild_store, top_patches, weights_identity)
from explorer.core.patch_index.files import walk_images
from explorer.core.patch_index.topk import LayerScores, TopK
from explorer.core.preprocess import Preprocessor

ENTRIES = "SELECT i.layer, e.channel, e.rank, e.score, e.digest, e.frame, e.y, e.x FROM entries e " \
          "JOIN indexes i ON i.id = e.index_id ORDER BY i.layer, e.channel, e.rank"


def entries(db: Path) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(db)) as conn:  # sqlite3's own context manager does not close
        return conn.execute(ENTRIES).fetchall()


def _picture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth colour noise with a few bright discs: varied enough that channels peak in different images."""
    img = cv2.GaussianBlur((rng.random((h, w, 3)) * 255).astype(np.uint8), (0, 0), 3)
    for _ in range(3):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.circle(img, centre, int(rng.integers(4, max(5, min(h, w) // 4))), colour, -1)
    return img


def write_folder(root: Path, sizes: list[tuple[int, int]], seed: int = 0) -> list[Path]:
    """Images of `sizes` (h, w), every other one in a sub-folder, plus two files that do not decode."""
    rng = np.random.default_rng(seed)
    paths = []
    for i, (h, w) in enumerate(sizes):
        folder = root / ("deeper/inner" if i % 3 == 2 else "sub" if i % 3 == 1 else ".")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img{i:02d}.{'png' if i % 2 else 'jpg'}"
        cv2.imwrite(str(path), _picture(rng, h, w))
        paths.append(path)
    (root / "sub" / "not-an-image.jpg").write_bytes(b"plain text, not a JPEG")
    ok, png = cv2.imencode(".png", _picture(rng, 40, 40))
    (root / "truncated.png").write_bytes(png.tobytes()[: len(png) // 2])
    return paths


SIZES = [(120, 90), (90, 160), (224, 224), (300, 200), (64, 64), (150, 150), (200, 260), (100, 100), (180, 120)]


@pytest.fixture(scope="module")
def resnet():
    return open_model("resnet18", "random", "cpu", seed=0)


@pytest.fixture(scope="module")
def tiny():
    """The bundled detector: a real trained model whose backbone costs a twentieth of resnet18's layer1."""
    return open_model("fasterrcnn-tiny", "bundled", "cpu")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    return root, write_folder(root, SIZES)


def request(layers, opened=None, **kw) -> IndexRequest:
    """An IndexRequest for `opened` (default resnet18, random weights, seed 0), decoding in this process."""
    kw.setdefault("workers", 0)
    if opened is None:
        return IndexRequest("resnet18", layers, weights="random", seed=0, device="cpu", **kw)
    h = opened.handle
    return IndexRequest(h.name, layers, weights=h.weights, seed=h.seed if h.seed is not None else 0, device="cpu",
                        **kw)


def top(opened, layer, channel, db, k=None):
    h = opened.handle
    return top_patches(h.name, layer, channel, weights=h.weights, seed=h.seed, db=db, k=k)


# -- brute force ----------------------------------------------------------------------------------------------
def full_maps(opened, paths: list[Path], layer: str) -> dict[str, torch.Tensor]:
    """Every image's whole (C, H, W) map of `layer`, one image at a time through the model's own preprocessing."""
    model, entry = opened.handle.model, opened.handle.entry
    module = resolve_module(model, layer, opened.graph)
    seen = {}
    handle = module.register_forward_hook(lambda m, a, out: seen.__setitem__("map", out[0].clone()))
    prep = Preprocessor(entry, "cpu")
    maps = {}
    try:
        with torch.no_grad():
            for p in paths:
                model(prep(load_image(p)).model_input)
                maps[str(p)] = seen["map"]
    finally:
        handle.remove()
    return maps


def check_top1_against_brute_force(top1: dict[int, object], maps: dict[str, torch.Tensor],
                                   valid: dict[str, tuple[int, int]] | None = None) -> None:
    for channel, patch in top1.items():
        best = max(float(m[channel, :(valid or {}).get(k, m.shape[1:])[0], :(valid or {}).get(k, m.shape[1:])[1]]
                         .max()) for k, m in maps.items())
        assert patch.score == pytest.approx(best, rel=1e-5, abs=1e-6), channel
        # the reported image and position hold that maximum in the brute-force maps
        assert float(maps[patch.image][channel, patch.y, patch.x]) == pytest.approx(best, rel=1e-5, abs=1e-6)


def imagenet_box(h: int, w: int, fy: int, fx: int, r: float, stride: float, first: float) -> tuple:
    """By hand: torchvision's ImageClassification preset resizes the shorter side to 256 (the other to
    int(256·long/short)), centre-crops 224 at round((side − 224)/2); the field is centred on first + i·stride."""
    nh, nw = (256, int(256 * w / h)) if h <= w else (int(256 * h / w), 256)
    top, left = int(round((nh - 224) / 2)), int(round((nw - 224) / 2))
    cx, cy = first + fx * stride, first + fy * stride
    x0, x1 = max(0.0, cx - r / 2), min(224.0, cx + r / 2)
    y0, y1 = max(0.0, cy - r / 2), min(224.0, cy + r / 2)
    box = ((x0 + left) * w / nw, (y0 + top) * h / nh, (x1 + left) * w / nw, (y1 + top) * h / nh)
    return max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])


# resnet18 layer1, from the architecture: conv1 7×7/2 (r 7, j 2), maxpool 3×3/2 (r 7 + 2·2 = 11, j 4), then four
# 3×3/1 convs (r 11 + 4·2·4 = 43); every layer pads by (k − 1)/2, so output pixel 0 stays centred on input pixel
# 0, whose centre is at 0.5
LAYER1 = (43.0, 4.0, 0.5)


def test_top1_of_every_channel_is_the_brute_force_maximum_and_boxes_are_receptive_fields(resnet, folder, tmp_path):
    root, paths = folder
    skipped = []
    # decoded by a torch DataLoader worker process
    summary = index_source(root, request(["layer1"], batch_size=4, workers=1, loader="process"), tmp_path / "i.db",
                           opened=resnet, on_skip=skipped.append)
    assert summary.frames_indexed == len(SIZES) and summary.files_indexed == len(SIZES)
    assert sorted(Path(s.path).name for s in summary.skipped) == ["not-an-image.jpg", "truncated.png"]
    assert [s.message for s in skipped] == [s.message for s in summary.skipped]
    assert all("cannot decode" in s.message for s in summary.skipped)
    maps = full_maps(resnet, paths, "layer1")
    channels = next(iter(maps.values())).shape[0]
    tops = {c: top_patches("resnet18", "layer1", c, weights="random", seed=0, db=tmp_path / "i.db")
            for c in (0, channels - 1)}
    with PatchStore(tmp_path / "i.db", create=False) as store:  # every channel, through one connection
        info = find_layer_index(store, "resnet18", weights_identity(resnet.handle.entry, "random", 0), "layer1")
        tops.update({c: SimpleNamespace(patches=channel_patches(store, info, c), channels=info.channels)
                     for c in range(1, channels - 1)})
    check_top1_against_brute_force({c: t.patches[0] for c, t in tops.items()}, maps)
    sizes = {str(p): s for p, s in zip(paths, SIZES)}
    for c, top in tops.items():
        assert len(top.patches) == 9 and top.channels == channels == 64
        assert len({p.image for p in top.patches}) == 9  # one entry per image
        assert [p.score for p in top.patches] == sorted((p.score for p in top.patches), reverse=True)
        for p in top.patches:
            # each image's entry is its own maximum for the channel, at the first such position
            m = maps[p.image][c]
            assert p.score == pytest.approx(float(m.max()), rel=1e-5, abs=1e-6)
            h, w = sizes[p.image]
            assert p.box == pytest.approx(imagenet_box(h, w, p.y, p.x, *LAYER1), abs=1e-9)
            assert p.source_size == (w, h)


def test_detector_backbone_over_generated_scenes_with_an_odd_sized_photo(tiny, tmp_path):
    """fasterrcnn-tiny with its bundled weights: scenes (224²) and one 260×448 photo in the same folder; the
    detector resizes the photo to 130×224 inside and pads it to 160×224 (a multiple of 32), so its map has a row
    over the padding, which must not count."""
    from explorer.core.scenes import make_scenes

    for i, scene in enumerate(make_scenes(5, seed=11)):
        cv2.imwrite(str(tmp_path / f"scene{i}.png"), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
    cat = cv2.imread(str(Path(__file__).resolve().parents[1] / "resources" / "images" / "chelsea.jpg"))
    cv2.imwrite(str(tmp_path / "cat.jpg"), cat[:260, :448])
    opened = tiny
    summary = index_source(tmp_path, IndexRequest("fasterrcnn-tiny", ["backbone"], weights="bundled", workers=0,
                                                   batch_size=4), tmp_path / "d.db", opened=opened)
    assert summary.frames_indexed == 6 and summary.weights.label == "bundled"
    assert summary.weights.key.startswith("sha256:")
    paths = sorted(tmp_path.glob("*.png")) + [tmp_path / "cat.jpg"]
    maps = full_maps(opened, paths, "backbone")
    valid, scale = {}, {}
    for p in paths:
        h, w = load_image(p).shape[:2]
        s = min(224 / min(h, w), 224 / max(h, w))  # GeneralizedRCNNTransform, min_size = max_size = 224
        rh, rw = math.floor(h * s), math.floor(w * s)
        valid[str(p)] = (math.ceil(rh / 16), math.ceil(rw / 16))  # map rows and columns over the image
        scale[str(p)] = (h, w, rh, rw)
    assert maps[str(tmp_path / "cat.jpg")].shape[1] > valid[str(tmp_path / "cat.jpg")][0]  # padding is there
    db = tmp_path / "d.db"
    top1 = {c: top_patches("fasterrcnn-tiny", "backbone", c, weights="bundled", db=db, k=1).patches[0]
            for c in range(96)}
    check_top1_against_brute_force(top1, maps, valid)
    # six 3×3 convs, strides 2, 2, 2, 1, 2, 1: r = 1 + 2·(1 + 2 + 4 + 8 + 8 + 16) = 79, stride 16, centre 0.5
    for p in top1.values():
        h, w, rh, rw = scale[p.image]
        c = (0.5 + 16 * p.x, 0.5 + 16 * p.y)
        box_in = (max(0, c[0] - 39.5), max(0, c[1] - 39.5), min(rw, c[0] + 39.5), min(rh, c[1] + 39.5))
        expected = (box_in[0] * w / rw, box_in[1] * h / rh, box_in[2] * w / rw, box_in[3] * h / rh)
        assert p.box == pytest.approx(expected, abs=1e-9)
        assert p.y < valid[p.image][0] and p.x < valid[p.image][1]


def test_incremental_runs_skip_known_content_and_equal_one_full_run(tiny, tmp_path):
    root = tmp_path / "photos"
    paths = write_folder(root, SIZES[:5], seed=3)
    db = tmp_path / "i.db"
    layers = ["backbone.8", "backbone"]
    first = index_source(root, request(layers, tiny), db, opened=tiny)
    assert (first.frames_indexed, first.already_indexed) == (5, 0)
    # a new photo, and a copy of a known one under another name: only the new content is read
    cv2.imwrite(str(root / "sub" / "new.png"), _picture(np.random.default_rng(9), 130, 170))
    shutil.copy(paths[0], root / "sub" / "copy-of-first.jpg")
    second = index_source(root, request(layers, tiny), db, opened=tiny)
    assert (second.frames_indexed, second.already_indexed) == (1, 5)
    full = tmp_path / "full.db"
    index_source(root, request(layers, tiny), full, opened=tiny)
    assert entries(db) == entries(full) and len(entries(db)) == (64 + 96) * 6
    third = index_source(root, request(["backbone"], tiny), db, opened=tiny)
    assert (third.frames_indexed, third.already_indexed) == (0, 6)


def test_cancel_in_the_middle_of_a_batch_keeps_what_was_saved_and_resumes_without_duplicates(tiny, folder,
                                                                                              tmp_path):
    root, _ = folder
    cancel = threading.Event()
    images = []

    def cancel_during_second_batch(module, args, output):
        images.append(output.shape[0])  # a batch of mixed sizes is run as one pass per size
        if sum(images[1:]) > 3:  # after the probe pass and batch 1's three images: inside batch 2
            cancel.set()

    hook = tiny.handle.model.backbone[8].register_forward_hook(cancel_during_second_batch)
    db = tmp_path / "c.db"
    try:  # decoded ahead by two threads
        part = index_source(root, request(["backbone"], tiny, batch_size=3, workers=2, loader="thread"), db,
                            opened=tiny, cancel=cancel)
    finally:
        hook.remove()
    assert part.cancelled and part.frames_indexed == 3  # batch 2, cancelled mid-pass, is dropped
    with PatchStore(db) as store:
        info = store.list_indexes()[0]
        assert info.frames == 3 and info.files == 3
    already_set = threading.Event()
    already_set.set()  # cancelled while hashing the folder: nothing is read
    early = index_source(root, request(["backbone"], tiny, batch_size=3), db, opened=tiny, cancel=already_set)
    assert early.cancelled and early.frames_indexed == 0
    rest = index_source(root, request(["backbone"], tiny, batch_size=3), db, opened=tiny)
    assert not rest.cancelled and (rest.frames_indexed, rest.already_indexed) == (len(SIZES) - 3, 3)
    whole = tmp_path / "whole.db"
    index_source(root, request(["backbone"], tiny, batch_size=3), whole, opened=tiny)
    assert entries(db) == entries(whole)


def test_model_or_weights_change_never_mixes_entries(tiny, tmp_path):
    root = tmp_path / "photos"
    write_folder(root, SIZES[:3], seed=5)
    db = tmp_path / "i.db"
    index_source(root, request(["backbone"], tiny), db, opened=tiny)  # bundled
    seeded = {s: open_model("fasterrcnn-tiny", "random", "cpu", seed=s) for s in (0, 1)}
    for opened in seeded.values():
        index_source(root, request(["backbone"], opened), db, opened=opened)
    weights_file = tmp_path / "mine.pt"
    torch.save(seeded[1].handle.model.state_dict(), weights_file)
    from_file = open_model("fasterrcnn-tiny", str(weights_file), "cpu")
    index_source(root, request(["backbone"], from_file), db, opened=from_file)
    with PatchStore(db) as store:
        keys = sorted(i.weights for i in store.list_indexes())
    digests = [subprocess.run(["sha256sum", str(f)], capture_output=True, text=True).stdout.split()[0]
               for f in (weights_file, Path(__file__).resolve().parents[1] / "resources/weights/fasterrcnn-tiny.pt")]
    assert keys == ["random, seed 0", "random, seed 1", *sorted(f"sha256:{d}" for d in digests)]
    scores = {name: [p.score for p in top(opened, "backbone", 0, db).patches]
              for name, opened in [("bundled", tiny), ("seed 0", seeded[0]), ("seed 1", seeded[1]),
                                   ("file", from_file)]}
    assert len({tuple(v) for v in scores.values()}) == 3
    assert scores["file"] == scores["seed 1"]  # the same numbers, kept in an index of their own
    assert top(seeded[0], "backbone", 0, db).weights_label == "random (seed 0)"
    assert top(from_file, "backbone", 0, db).weights_label == "mine.pt"


def test_unknown_layer_is_one_error_with_close_matches_and_adds_nothing(tiny, folder, tmp_path):
    root, _ = folder
    db = tmp_path / "i.db"
    index_source(root, request(["backbone"], tiny), db, opened=tiny)
    before = entries(db)
    with pytest.raises(UnknownLayerError, match="unknown layer 'backbone.99'.*close matches"):
        index_source(root, request(["backbone", "backbone.99"], tiny), db, opened=tiny)
    assert entries(db) == before
    with PatchStore(db) as store:
        assert [i.layer for i in store.list_indexes()] == ["backbone"]
    assert not tiny.handle.model.backbone._forward_hooks  # the failed run removed its hooks


def test_a_corrupt_database_is_one_error_left_untouched_and_rebuilt_beside_itself(tiny, folder, tmp_path):
    root, _ = folder
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(IndexCorruptError, match="damaged or not an index"):
        index_source(root, request(["backbone"], tiny), garbage, opened=tiny)
    assert garbage.read_bytes() == b"this is not SQLite" * 100
    # a real index with damaged pages in its middle
    db = tmp_path / "i.db"
    index_source(root, request(["backbone", "backbone.8"], tiny), db, opened=tiny)
    size = db.stat().st_size
    data = bytearray(db.read_bytes())
    data[size // 2: size // 2 + 4096] = b"\xff" * 4096
    db.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError) as info:
        top(tiny, "backbone", 0, db)
    assert info.value.path == db and db.read_bytes() == bytes(data)
    backup = rebuild_store(db)
    assert backup.read_bytes() == bytes(data) and backup.name.startswith("i.db.damaged-")
    summary = index_source(root, request(["backbone"], tiny), db, opened=tiny)
    assert summary.frames_indexed == len(SIZES)
    # someone else's SQLite file is not taken over
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(IndexCorruptError, match="another program"):
        PatchStore(foreign)


def test_a_locked_database_is_one_error_and_loses_nothing(tiny, folder, tmp_path):
    root, _ = folder
    db = tmp_path / "i.db"
    index_source(root, request(["backbone"], tiny), db, opened=tiny)
    before = entries(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the lock
    try:
        with pytest.raises(IndexLockedError, match="locked by another program"):
            index_source(root, request(["backbone.8"], tiny), db, opened=tiny, busy_timeout_s=0.2)
        assert top(tiny, "backbone", 3, db).patches  # readers still read meanwhile (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert entries(db) == before
    assert index_source(root, request(["backbone.8"], tiny), db, opened=tiny).frames_indexed == len(SIZES)


def test_a_full_disk_while_saving_loses_nothing_already_saved(tiny, folder, tmp_path):
    """SQLite's own limit (max_page_count) makes it report SQLITE_FULL, as a full disk does."""
    root, _ = folder
    db = tmp_path / "i.db"
    index_source(root, request(["backbone"], tiny), db, opened=tiny)
    before = entries(db)
    with PatchStore(db) as store:
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(IndexWriteError, match="disk is full"):
            index_source(root, request(["backbone", "backbone.5", "backbone.8"], tiny), store, opened=tiny)
    assert entries(db) == before
    with PatchStore(db) as store:  # opens, passes quick_check; the new layers hold nothing
        infos = {i.layer: i for i in store.list_indexes()}
        assert infos["backbone"].frames == len(SIZES)
        assert all(i.frames == 0 for name, i in infos.items() if name != "backbone")


def test_a_really_full_file_system(tiny, folder, small_disk):
    """A small tmpfs filled up (needs permission to mount; skipped where there is none): a real ENOSPC."""
    root, _ = folder
    db = small_disk.path / "i.db"
    index_source(root, request(["backbone"], tiny), db, opened=tiny)  # fits
    before = entries(db)
    small_disk.fill()  # take the rest of the space
    with pytest.raises(IndexWriteError):
        index_source(root, request(["backbone.2", "backbone.5", "backbone.8"], tiny), db, opened=tiny)
    small_disk.free()
    assert entries(db) == before


def test_video_frames_resume_and_patch_pixels(tiny, tmp_path):
    from tests.test_sources import write_video

    video = write_video(tmp_path / "clip.avi", n=14, size=(96, 72))
    db = tmp_path / "v.db"
    cancel = threading.Event()
    req = request(["backbone"], tiny, batch_size=2, frame_step=2, workers=1, loader="thread")
    part = index_source(video, req, db, opened=tiny, cancel=cancel,
                        progress=lambda p: cancel.set() if p.done >= 2 else None)
    assert part.cancelled and part.frames_indexed == 2
    rest = index_source(video, req, db, opened=tiny)
    assert rest.frames_indexed == 5 and rest.files_indexed == 1
    again = index_source(video, req, db, opened=tiny)
    assert (again.frames_indexed, again.already_indexed) == (0, 1)
    whole = tmp_path / "w.db"  # in one go, read by a DataLoader worker process
    index_source(video, request(["backbone"], tiny, batch_size=2, frame_step=2, workers=1, loader="process"),
                 whole, opened=tiny)
    assert entries(db) == entries(whole)
    patches = top(tiny, "backbone", 7, db).patches
    assert {p.frame for p in patches} <= {0, 2, 4, 6, 8, 10, 12} and len(patches) == 7
    best = patches[0]
    cap = cv2.VideoCapture(str(video))
    for _ in range(best.frame + 1):
        ok, bgr = cap.read()
    cap.release()
    x0, y0, x1, y1 = best.box
    expected = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[int(y0):math.ceil(y1), int(x0):math.ceil(x1)]
    assert expected.size and np.array_equal(patch_image(best), expected)


def test_several_entries_per_image_when_asked(tiny, folder, tmp_path):
    root, paths = folder
    db = tmp_path / "p.db"
    index_source(root, request(["backbone.8"], tiny, distinct_images=False, top_k=5), db, opened=tiny)
    maps = full_maps(tiny, paths, "backbone.8")
    for c in (0, 17, 63):
        patches = top(tiny, "backbone.8", c, db).patches
        every = sorted((float(v) for m in maps.values() for v in m[c].flatten()), reverse=True)[:5]
        assert [p.score for p in patches] == pytest.approx(every, rel=1e-5, abs=1e-6)
        assert len({(p.image, p.y, p.x) for p in patches}) == 5


def test_merge_order_does_not_matter_ties_included():
    """Merging candidate batches in any order and grouping gives the same top K, ties broken by the content
    hash, frame and position (a dead ReLU channel scores 0 in every image)."""
    rng = np.random.default_rng(0)
    n, c, k = 40, 6, 5
    digests = [f"{rng.integers(0, 2**63):016x}" * 4 for _ in range(n)]
    scores = rng.integers(0, 4, (n, c, 1)).astype(np.float32)  # many exact ties
    scores[:, 5] = 0.0  # a dead channel
    ys, xs = rng.integers(0, 9, (n, c, 1)), rng.integers(0, 9, (n, c, 1))

    def merged(order, chunk):
        top = TopK(c, k)
        for start in range(0, n, chunk):
            idx = order[start:start + chunk]
            top.merge([digests[i] for i in idx], [0] * len(idx), LayerScores(scores[idx], ys[idx], xs[idx]))
        return [top.channel(ch) for ch in range(c)]

    reference = merged(np.arange(n), n)
    for seed in range(4):
        assert merged(np.random.default_rng(seed).permutation(n), 1 + seed * 3) == reference
    for ch in range(c):  # the reference is the sort under the documented total order
        expected = sorted(((-float(scores[i, ch, 0]), digests[i], 0, int(ys[i, ch, 0]), int(xs[i, ch, 0]))
                           for i in range(n)))[:k]
        assert [(s, d, f, y, x) for s, d, f, y, x in reference[ch]] == [(-s, d, f, y, x) for s, d, f, y, x in expected]
    # merging the same frames again replaces them (a resumed run): nothing counted twice
    top = TopK(c, k)
    for _ in range(2):
        top.merge(digests, [0] * n, LayerScores(scores, ys, xs))
    assert [top.channel(ch) for ch in range(c)] == reference


def test_walk_is_recursive_sorted_and_skips_hidden(tmp_path):
    for rel in ["b.png", "a/z.jpg", "a/b/c.PNG", ".hidden/x.png", "a/.y.png", "notes.txt"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in walk_images(tmp_path)] == ["a/b/c.PNG", "a/z.jpg", "b.png"]


def test_the_default_index_follows_the_settings_folder(tiny, tmp_path, monkeypatch, _isolated_settings):
    """New-user trial: CNN_EXPLORER_SETTINGS_DIR moved the settings but not the index, so a portable setup (or a
    test) still wrote ~/.local/share/cnn-explorer. With no --db and no CNN_EXPLORER_DATA_DIR, the index is a file
    of the settings folder; CNN_EXPLORER_DATA_DIR, when set, still names the index's own folder."""
    from explorer.core.patch_index import default_db_path

    monkeypatch.delenv("CNN_EXPLORER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # where the index went before (never the home)
    root = tmp_path / "photos"
    write_folder(root, SIZES[:2], seed=4)
    summary = index_source(root, request(["backbone"], tiny), None, opened=tiny)  # no database named
    beside = _isolated_settings / "patch-index.sqlite"
    assert summary.frames_indexed == 2 and beside.is_file() and not (tmp_path / "xdg").exists()
    assert default_db_path() == beside
    assert len(top(tiny, "backbone", 0, None).patches) == 2          # and it is read from there too
    monkeypatch.setenv("CNN_EXPLORER_DATA_DIR", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "patch-index.sqlite"
    monkeypatch.delenv("CNN_EXPLORER_DATA_DIR")
    monkeypatch.delenv("CNN_EXPLORER_SETTINGS_DIR")
    assert default_db_path() == tmp_path / "xdg" / "cnn-explorer" / "patch-index.sqlite"


def test_a_reader_never_writes_an_empty_file_that_an_indexing_run_is_starting(tmp_path):
    """An indexing run creates the file, then writes its schema; a reader (the dock's lookup, `top`) opening it
    in between used to write the schema too, racing the run for the lock (the run then failed as 'locked').
    A reader now says nothing is indexed yet and leaves the file as it is."""
    from explorer.core.patch_index import NoIndexError, PatchStore

    db = tmp_path / "new.sqlite"
    db.touch()  # what sqlite3.connect leaves before the schema is written
    with pytest.raises(NoIndexError, match="nothing is indexed"):
        PatchStore(db, create=False)
    assert db.stat().st_size == 0
    with PatchStore(db) as store:  # the run itself writes the schema
        assert store.list_indexes() == []
    with PatchStore(db, create=False) as store:  # and from then on readers read it
        assert store.list_indexes() == []
