"""Each channel's K strongest activations, merged batch by batch in an order that does not matter.

The merge is a sort under a total order: score descending, then the file's content hash, the frame, the row and
the column ascending. So the result depends only on the set of candidates, never on the order in which batches
arrive: one process, a resumed run and Ray's shards (explorer.core.patch_index.shards) give the same top K,
ties included (a dead ReLU channel scores 0 everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_BITS = 32  # an item (file, frame) as one int64: file id · 2³² + frame


def hash_prefix(digest: str) -> int:
    """The first 60 bits of a hex SHA-256: the tie-breaking order of files (int64, so numpy can sort it)."""
    return int(digest[:15], 16)


class ItemTable:
    """Content hashes ↔ small integer ids (numpy compares integers, not strings)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.digests: list[str] = []

    def id(self, digest: str) -> int:
        found = self._ids.get(digest)
        if found is None:
            found = self._ids[digest] = len(self.digests)
            self.digests.append(digest)
        return found


@dataclass
class LayerScores:
    """One layer's candidates from N frames: each frame's k strongest positions per channel (k = 1 with one
    entry per image, else K). Scores of -inf fill places a small map lacks."""

    scores: np.ndarray  # (N, C, k) float32
    ys: np.ndarray      # (N, C, k) int64
    xs: np.ndarray      # (N, C, k) int64


class TopK:
    """The running top K of every channel of one layer (see the module docstring for the order)."""

    def __init__(self, channels: int, k: int, table: ItemTable | None = None) -> None:
        self.channels, self.k = int(channels), int(k)
        self.table = table if table is not None else ItemTable()
        shape = (self.channels, self.k)
        self.scores = np.full(shape, -np.inf, np.float32)
        self.prefix = np.zeros(shape, np.int64)
        self.uid = np.full(shape, -1, np.int64)
        self.frame = np.zeros(shape, np.int64)
        self.y = np.zeros(shape, np.int64)
        self.x = np.zeros(shape, np.int64)

    def load(self, rows: list[tuple[int, int, float, str, int, int, int]]) -> None:
        """Fill from stored entries (channel, rank, score, digest, frame, y, x)."""
        for channel, rank, score, digest, frame, y, x in rows:
            if 0 <= channel < self.channels and 0 <= rank < self.k:
                self.scores[channel, rank] = score
                self.prefix[channel, rank] = hash_prefix(digest)
                self.uid[channel, rank] = self.table.id(digest)
                self.frame[channel, rank] = frame
                self.y[channel, rank], self.x[channel, rank] = y, x

    def merge(self, digests: list[str], frames: list[int], cand: LayerScores) -> np.ndarray:
        """Merge the candidates of frames (digests[i], frames[i]); returns the channels whose list changed.

        A frame merged again (a re-run after a cancel) replaces its own earlier entries, so nothing is counted
        twice."""
        n, c, k = cand.scores.shape
        if n == 0:
            return np.zeros(0, np.int64)
        if c != self.channels:
            raise ValueError(f"{c} channels merged into a top K of {self.channels}")
        uids = np.array([self.table.id(d) for d in digests], np.int64)
        fr = np.asarray(frames, np.int64)
        items = (uids << FRAME_BITS) | fr
        old = (self.scores.copy(), self.uid.copy(), self.frame.copy(), self.y.copy(), self.x.copy())
        stale = np.isin((self.uid << FRAME_BITS) | self.frame, items) & (self.uid >= 0)
        base_scores = np.where(stale, -np.inf, self.scores).astype(np.float32)

        def per_channel(a: np.ndarray) -> np.ndarray:  # (N, C, k) -> (C, N·k)
            return np.ascontiguousarray(np.moveaxis(a, 1, 0)).reshape(c, n * k)

        def spread(v: np.ndarray) -> np.ndarray:  # (N,) -> (C, N·k)
            return np.broadcast_to(v[None, :, None], (c, n, k)).reshape(c, n * k)

        s = np.concatenate([base_scores, per_channel(cand.scores.astype(np.float32))], axis=1)
        s = np.where(np.isnan(s), -np.inf, s)
        prefix = np.concatenate([self.prefix, spread(np.array([hash_prefix(d) for d in digests], np.int64))], 1)
        uid = np.concatenate([np.where(stale, -1, self.uid), spread(uids)], axis=1)
        frame = np.concatenate([self.frame, spread(fr)], axis=1)
        y = np.concatenate([self.y, per_channel(cand.ys.astype(np.int64))], axis=1)
        x = np.concatenate([self.x, per_channel(cand.xs.astype(np.int64))], axis=1)
        # np.lexsort: the last key is the primary one
        order = np.lexsort((x, y, frame, prefix, -s.astype(np.float64)), axis=1)[:, :self.k]

        def pick(a: np.ndarray) -> np.ndarray:
            return np.take_along_axis(a, order, axis=1)

        self.scores, self.prefix, self.uid = pick(s), pick(prefix), pick(uid)
        self.frame, self.y, self.x = pick(frame), pick(y), pick(x)
        empty = ~np.isfinite(self.scores) | (self.uid < 0)
        self.scores[empty] = -np.inf
        self.uid[empty] = -1
        new = (self.scores, self.uid, self.frame, self.y, self.x)
        changed = np.zeros(self.channels, bool)
        for a, b in zip(old, new):
            changed |= (a != b).any(axis=1)
        return np.flatnonzero(changed)

    def channel(self, channel: int) -> list[tuple[float, str, int, int, int]]:
        """One channel's entries, strongest first: (score, digest, frame, y, x)."""
        out = []
        for r in range(self.k):
            uid = int(self.uid[channel, r])
            if uid < 0:
                break
            out.append((float(self.scores[channel, r]), self.table.digests[uid], int(self.frame[channel, r]),
                        int(self.y[channel, r]), int(self.x[channel, r])))
        return out
