"""The per-shard function, and running it on Ray Data for folders too large for one machine (extra `[cluster]`).

`ShardIndexer` is what Ray Data's `map_batches` calls on each batch of rows (path, digest): it does what the
single-machine pipeline does (explorer.core.patch_index.scoring: `prepare_frame` → `collate_frames` →
`Scorer.score`, the same functions) and returns each frame's candidates as columns. The driver
(`ray_batches`, used by `index_source(..., cluster=RayCluster(...))`) turns the columns back into ScoredBatches
and merges them into the same running top K, which is order-independent (explorer.core.patch_index.topk), so
the index is identical to a single-machine run's, ties included. Only the driver writes the SQLite file.

Every node must see the files at the same paths (a shared file system) and have this package installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from explorer.core.errors import ExplorerError
from explorer.core.patch_index.geometry import FrameGeometry
from explorer.core.patch_index.scoring import BadFrame, FrameMeta, ScoredBatch, collate_frames, prepare_frame
from explorer.core.patch_index.topk import LayerScores

if TYPE_CHECKING:
    from explorer.core.patch_index.files import SourceFile
    from explorer.core.patch_index.indexer import IndexRequest, IndexRun

RAY_MISSING = "Ray is not installed: pip install 'cnn-explorer[cluster]' (Ray Data) to index on a cluster"
_GEOMETRY = ("source_w", "source_h", "scale_x", "scale_y", "crop_x", "crop_y", "input_h", "input_w")


@dataclass
class RayCluster:
    """Where and how wide to run: `address` None joins the Ray instance this process has started (ray.init),
    else starts a local one; "auto" or "ray://host:10001" joins a cluster. `actors` model copies, each with
    `cpus_per_actor` CPUs and `threads_per_actor` forward-pass threads (None: as many as this process's
    forward pass uses; oneDNN's convolutions round differently with another thread count, so only equal
    counts give bit-identical scores, as do equal CPUs)."""

    address: str | None = None
    actors: int = 2
    cpus_per_actor: float = 1.0
    threads_per_actor: int | None = None
    init_options: dict[str, Any] = field(default_factory=dict)


class ShardIndexer:
    """Ray Data's per-shard callable: the model is opened once per actor (random weights from the same seed),
    then every batch of rows goes through prepare → collate → score."""

    def __init__(self, model: str, weights: str, seed: int | None, layers: list[str], per_frame: int,
                 device: str = "cpu", threads: int = 1) -> None:
        from explorer.core.opening import open_model
        from explorer.core.patch_index.scoring import Scorer
        from explorer.core.preprocess import Preprocessor

        self.threads = int(threads)
        _threads(self.threads)
        opened = open_model(model, weights, device, seed=seed)
        self.scorer = Scorer(opened.handle.model, opened.handle.entry, opened.graph, layers, per_frame,
                             opened.handle.device)
        self.preprocessor = Preprocessor(opened.handle.entry, "cpu")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        _threads(self.threads)  # Ray may call from another thread than the constructor's
        items = [prepare_frame(str(p), str(d), self.preprocessor) for p, d in zip(batch["path"], batch["digest"])]
        return to_columns(self.scorer.score(collate_frames(items)), [t.channels for t in self.scorer.targets],
                          self.scorer.per_frame)


def _threads(n: int) -> None:
    import torch

    torch.get_num_threads()  # ATen's lazy per-thread initialisation first (explorer.core.threads)
    torch.set_num_threads(n)


def to_columns(scored: ScoredBatch, channels: list[int], per_frame: int) -> dict[str, np.ndarray]:
    """A ScoredBatch as equal-length columns (one row per frame, good or bad), Ray Data's batch format."""
    rows = len(scored.frames) + len(scored.bad)
    cols: dict[str, Any] = {
        "path": np.array([m.path for m in scored.frames] + [b.path for b in scored.bad], dtype=object),
        "digest": np.array([m.digest for m in scored.frames] + [b.digest for b in scored.bad], dtype=object),
        "frame": np.array([m.frame for m in scored.frames] + [b.frame for b in scored.bad], np.int64),
        "error": np.array([""] * len(scored.frames) + [b.message for b in scored.bad], dtype=object),
    }
    geo = np.zeros((rows, len(_GEOMETRY)), np.float64)
    for r, g in enumerate(scored.geometries):
        geo[r] = (*g.source_size, *g.scale, *g.crop, *g.input_size)
    cols["geometry"] = geo
    for i, (layer, c) in enumerate(zip(scored.layers, channels)):
        bad = len(scored.bad)
        cols[f"score{i}"] = np.concatenate([layer.scores, np.full((bad, c, per_frame), -np.inf, np.float32)])
        cols[f"y{i}"] = np.concatenate([layer.ys, np.zeros((bad, c, per_frame), np.int64)])
        cols[f"x{i}"] = np.concatenate([layer.xs, np.zeros((bad, c, per_frame), np.int64)])
    return cols


def from_columns(cols: dict[str, np.ndarray], layers: int) -> ScoredBatch:
    """The inverse of to_columns."""
    good = np.array([not e for e in cols["error"]], bool)
    frames, geometries, bad = [], [], []
    for r in range(len(good)):
        path, digest, frame = str(cols["path"][r]), str(cols["digest"][r]), int(cols["frame"][r])
        if not good[r]:
            bad.append(BadFrame(path, digest, frame, str(cols["error"][r])))
            continue
        sw, sh, sx, sy, cx, cy, ih, iw = (float(v) for v in cols["geometry"][r])
        geometry = FrameGeometry((int(sw), int(sh)), (sx, sy), (cx, cy), (int(ih), int(iw)))
        geometries.append(geometry)
        frames.append(FrameMeta(path, digest, frame, geometry.source_size, geometry.scale, geometry.crop,
                                geometry.input_size))
    scores = [LayerScores(np.asarray(cols[f"score{i}"])[good], np.asarray(cols[f"y{i}"])[good],
                          np.asarray(cols[f"x{i}"])[good]) for i in range(layers)]
    return ScoredBatch(frames, geometries, scores, bad)


def _quiet(ray: Any) -> None:
    """Ray Data's progress bars and execution logs off: the indexer reports progress itself (stderr stays one
    line per event on the command line)."""
    import logging

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)


def ray_batches(cluster: RayCluster, todo: list["SourceFile"], request: "IndexRequest", run: "IndexRun",
                local_threads: int = 1) -> Iterator[ScoredBatch]:
    """Run ShardIndexer over `todo` on Ray Data and yield the shards' results as they arrive."""
    try:
        import ray
    except ImportError:
        raise ExplorerError(RAY_MISSING) from None
    started = False
    if not ray.is_initialized():
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False,
                 **cluster.init_options)
        started = True
    try:
        _quiet(ray)
        handle = run.opened.handle
        blocks = max(1, min(len(todo) // max(1, request.batch_size), 4 * cluster.actors))
        ds = ray.data.from_items([{"path": str(f.path), "digest": f.digest} for f in todo],
                                 override_num_blocks=blocks)
        ds = ds.map_batches(
            ShardIndexer, batch_size=request.batch_size, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=cluster.actors), num_cpus=cluster.cpus_per_actor,
            fn_constructor_kwargs={"model": handle.name, "weights": handle.weights, "seed": handle.seed,
                                   "layers": [t.name for t in run.scorer.targets],
                                   "per_frame": run.scorer.per_frame, "device": "cpu",
                                   "threads": cluster.threads_per_actor or local_threads})
        for cols in ds.iter_batches(batch_size=None, batch_format="numpy"):
            yield from_columns(cols, len(run.scorer.targets))
    finally:
        if started:
            ray.shutdown()
