"""The per-shard function on Ray Data (extra [cluster]) gives the same index as one machine, ties included.

Starts its own local Ray instance (2 CPUs, a small object store); skipped where Ray is not installed."""

from __future__ import annotations

import contextlib
import sqlite3

import pytest

ray = pytest.importorskip("ray", reason="Ray is the optional [cluster] extra")

from explorer.core.opening import open_model  # noqa: E402
from explorer.core.patch_index import IndexRequest, index_source  # noqa: E402
from explorer.core.patch_index.shards import RayCluster  # noqa: E402
from tests.test_patch_index import ENTRIES, SIZES, write_folder  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024**2, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_shards_give_the_single_machine_index(local_ray, tmp_path):
    root = tmp_path / "photos"
    write_folder(root, SIZES, seed=4)
    opened = open_model("fasterrcnn-tiny", "random", "cpu", seed=0)  # random: many exact ties after ReLU
    request = IndexRequest("fasterrcnn-tiny", ["backbone.2", "backbone"], weights="random", seed=0, workers=0,
                           batch_size=2)
    one = index_source(root, request, tmp_path / "one.db", opened=opened)
    shards = index_source(root, request, tmp_path / "ray.db", opened=opened, cluster=RayCluster(actors=2))
    assert (shards.frames_indexed, len(shards.skipped)) == (one.frames_indexed, len(one.skipped)) == (9, 2)
    rows = {}
    for name in ("one", "ray"):
        with contextlib.closing(sqlite3.connect(tmp_path / f"{name}.db")) as conn:
            rows[name] = conn.execute(ENTRIES).fetchall()
    assert rows["one"] == rows["ray"] and len(rows["one"]) == (16 + 96) * 9
    # and a second Ray run over the same folder adds nothing
    again = index_source(root, request, tmp_path / "ray.db", opened=opened, cluster=RayCluster(actors=2))
    assert (again.frames_indexed, again.already_indexed) == (0, 9)
