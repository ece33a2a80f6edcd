"""Synthetic detection scenes: a few filled shapes on photograph-like backgrounds, with exact ground truth.

The project's own detectors (yolov1-tiny, fasterrcnn-tiny) are trained and evaluated on these scenes, because
pretrained detection weights cannot be downloaded offline. A scene is fully determined by its seed (numpy's
PCG64 Generator), so a test can regenerate any scene, and evaluation seeds never overlap training seeds
(see `scene_seed`).

Each object is drawn from its own mask, and its box is the tight bounding box of that mask, so boxes match the
drawn pixels exactly. Objects never overlap (YOLOv1 predicts one class per grid cell, and the boxes stay
unambiguous). Sets of scenes are seeded too: scene i of set `seed` has the scene seed seed·10⁶ + i, so the
training set (set seed 0 by default) and evaluation sets (other set seeds) never share a scene.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

SHAPE_CLASSES: list[str] = ["ellipse", "rectangle", "triangle", "cross"]
SCENE_SIZE = 224                 # pixels, square scenes
MIN_OBJECT, MAX_OBJECT = 28, 112  # longest side of an object, pixels
MAX_OBJECTS = 4
PHOTOS_DIR = Path(__file__).resolve().parents[2] / "resources" / "images"


@dataclass
class Scene:
    """One RGB uint8 image (H, W, 3) with its objects: boxes (x1, y1, x2, y2, pixel edges) and class indices."""

    image: np.ndarray
    boxes: np.ndarray                  # (K, 4) float32, x2/y2 exclusive: the box covers pixels x1..x2-1
    labels: np.ndarray                 # (K,) int64 indices into SHAPE_CLASSES
    seed: int = 0
    masks: list[np.ndarray] = field(default_factory=list, repr=False)  # (H, W) bool per object

    def to_json(self) -> dict:
        return {
            "seed": self.seed,
            "size": [int(self.image.shape[0]), int(self.image.shape[1])],
            "classes": list(SHAPE_CLASSES),
            "objects": [
                {"box": [float(v) for v in b], "label": SHAPE_CLASSES[int(c)], "class_index": int(c)}
                for b, c in zip(self.boxes, self.labels)
            ],
        }


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    """The bundled photographs (RGB), used as background crops; empty if the folder is missing."""
    photos = []
    for path in sorted(PHOTOS_DIR.glob("*.jpg")):
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is not None:
            photos.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    return tuple(photos)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Noise, a gradient, a texture or a photo crop: float32 (size, size, 3) in 0..255."""
    kind = rng.integers(0, 4)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == 0:  # smooth noise: low-resolution noise upsampled, plus fine grain
        cells = int(rng.integers(2, 9))
        low = rng.uniform(0, 255, (cells, cells, 3)).astype(np.float32)
        bg = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:  # linear gradient between two colours
        c0, c1 = rng.uniform(0, 255, (2, 3)).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        t = (np.cos(angle) * xx + np.sin(angle) * yy)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        bg = c0 + t[..., None] * (c1 - c0)
    elif kind == 2:  # texture: stripes / checker-like sinusoids
        c0, c1 = rng.uniform(0, 255, (2, 3)).astype(np.float32)
        f1, f2 = rng.uniform(2, 14, 2)
        a1, a2 = rng.uniform(0, np.pi, 2)
        t = np.sin(2 * np.pi * f1 * (np.cos(a1) * xx + np.sin(a1) * yy))
        if rng.random() < 0.5:
            t = t * np.sin(2 * np.pi * f2 * (np.cos(a2) * xx + np.sin(a2) * yy))
        t = (t + 1) / 2
        bg = c0 + t[..., None] * (c1 - c0)
    else:  # a crop of a bundled photograph
        photos = _photos()
        if not photos:
            return _background(rng, size)
        photo = photos[int(rng.integers(0, len(photos)))]
        h, w = photo.shape[:2]
        side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        bg = cv2.resize(photo[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA)
        bg = bg.astype(np.float32)
        if rng.random() < 0.5:
            bg = bg[:, ::-1]
    bg = bg + rng.normal(0, rng.uniform(0, 12), bg.shape).astype(np.float32)  # sensor-like grain
    return np.clip(bg, 0, 255).astype(np.float32)


def _shape_mask(rng: np.random.Generator, cls: int, w: int, h: int) -> np.ndarray:
    """A (h, w) uint8 mask of the shape filling its w×h box (each side touched by the shape)."""
    mask = np.zeros((h, w), np.uint8)
    if SHAPE_CLASSES[cls] == "ellipse":
        cv2.ellipse(mask, (((w - 1) / 2, (h - 1) / 2), (float(w), float(h)), 0.0), 255, -1)
    elif SHAPE_CLASSES[cls] == "rectangle":
        mask[:] = 255
    elif SHAPE_CLASSES[cls] == "triangle":
        apex = rng.uniform(0, w - 1)
        pts = np.array([[apex, 0], [0, h - 1], [w - 1, h - 1]], np.float32)
        turn = int(rng.integers(0, 4))  # point up, right, down or left
        if turn in (1, 3):  # draw in a transposed box, then transpose back
            mask = np.zeros((w, h), np.uint8)
            pts = np.array([[rng.uniform(0, h - 1), 0], [0, w - 1], [h - 1, w - 1]], np.float32)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255)
        if turn == 1:
            mask = np.ascontiguousarray(mask.T[:, ::-1])
        elif turn == 2:
            mask = np.ascontiguousarray(mask[::-1])
        elif turn == 3:
            mask = np.ascontiguousarray(mask.T)
    else:  # cross: a plus sign, arm thickness a fraction of the box
        t = rng.uniform(0.25, 0.4)
        tw, th = max(2, int(round(w * t))), max(2, int(round(h * t)))
        cy, cx = int(rng.integers((h - th) // 3, h - th - (h - th) // 3 + 1)), (w - tw) // 2
        mask[cy:cy + th, :] = 255
        mask[:, cx:cx + tw] = 255
    return mask


def _contrasting_colour(rng: np.random.Generator, under: np.ndarray) -> np.ndarray:
    """A random colour far enough from the mean colour of the background it covers to be seen."""
    mean = under.reshape(-1, 3).mean(0)
    best, best_d = None, -1.0
    for _ in range(20):
        colour = rng.uniform(0, 255, 3)
        d = float(np.linalg.norm(colour - mean))
        if d > 110:
            return colour.astype(np.float32)
        if d > best_d:
            best, best_d = colour, d
    return np.asarray(best, np.float32)


def make_scene(seed: int, size: int = SCENE_SIZE) -> Scene:
    """The scene of `seed`: 1 to MAX_OBJECTS non-overlapping shapes on a random background."""
    rng = np.random.default_rng(seed)
    img = _background(rng, size)
    scale = size / SCENE_SIZE
    lo, hi = max(8, int(MIN_OBJECT * scale)), max(9, int(MAX_OBJECT * scale))
    n = int(rng.integers(1, MAX_OBJECTS + 1))
    boxes: list[list[float]] = []
    labels: list[int] = []
    masks: list[np.ndarray] = []
    occupied = np.zeros((size, size), bool)
    for _ in range(n):
        cls = int(rng.integers(0, len(SHAPE_CLASSES)))
        for _attempt in range(30):
            side = rng.uniform(lo, hi)
            aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))  # w / h
            w = int(round(min(side, side * aspect))) if aspect < 1 else int(round(side))
            h = int(round(side)) if aspect < 1 else int(round(side / aspect))
            w, h = max(w, 8), max(h, 8)
            x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
            margin = 3  # keep objects apart so that their boxes never touch
            if occupied[max(0, y0 - margin):y0 + h + margin, max(0, x0 - margin):x0 + w + margin].any():
                continue
            local = _shape_mask(rng, cls, w, h)
            mask = np.zeros((size, size), bool)
            mask[y0:y0 + local.shape[0], x0:x0 + local.shape[1]] = local > 0
            ys, xs = np.nonzero(mask)
            if len(xs) == 0:
                continue
            colour = _contrasting_colour(rng, img[mask])
            # shade the shape a little (light from one side) so it is not a flat stencil
            shade = 1 + rng.uniform(-0.15, 0.15) * ((np.arange(size) - x0) / max(w, 1))[None, :]
            fill = np.clip(colour[None, None, :] * shade[..., None], 0, 255)
            img[mask] = np.broadcast_to(fill, (size, size, 3))[mask]
            occupied[y0:y0 + h, x0:x0 + w] = True
            boxes.append([float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)])
            labels.append(cls)
            masks.append(mask)
            break
    if rng.random() < 0.3:  # slight defocus on some scenes
        img = cv2.GaussianBlur(img, (3, 3), 0)
    image = np.clip(img, 0, 255).astype(np.uint8)
    return Scene(image=image, boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
                 labels=np.asarray(labels, np.int64), seed=seed, masks=masks)


def scene_seed(seed: int, index: int) -> int:
    """The scene seed of scene `index` in a set seeded by `seed` (one million scenes per set seed)."""
    return seed * 1_000_000 + index


def make_scenes(n: int, seed: int, size: int = SCENE_SIZE, keep_masks: bool = False) -> list[Scene]:
    """`n` scenes of the set `seed`."""
    scenes = [make_scene(scene_seed(seed, i), size) for i in range(n)]
    if not keep_masks:
        for s in scenes:
            s.masks = []
    return scenes


SAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "scenes"
SAMPLE_SET_SEED = 7  # the set seed of the bundled sample scenes (never used for training)


def save_samples(folder: Path = SAMPLES_DIR, n: int = 6, seed: int = SAMPLE_SET_SEED) -> list[Path]:
    """Write scenes 0..n-1 of set `seed` as scene_XX.png (RGB) + scene_XX.json (boxes, classes, seed)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, scene in enumerate(make_scenes(n, seed)):
        png = folder / f"scene_{i:02d}.png"
        cv2.imwrite(str(png), cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR))
        (folder / f"scene_{i:02d}.json").write_text(json.dumps(scene.to_json(), indent=1) + "\n")
        paths.append(png)
    return paths
