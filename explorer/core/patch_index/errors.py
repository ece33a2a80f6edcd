"""What can go wrong with a patch index, each as one sentence for the user (explorer.core.errors' contract).

The store's errors are told apart because the answers differ: a corrupt (or foreign) file can be rebuilt
(`rebuild_store` keeps the old file beside it), a locked one cannot (another run is writing: wait for it),
and a full disk loses nothing but the work since the last save.
"""

from __future__ import annotations

from pathlib import Path

from explorer.core.errors import ExplorerError


class IndexStoreError(ExplorerError):
    """The index database cannot be used; `path` is its file, `reason` the cause in a few words (SQLite's)."""

    def __init__(self, message: str, path: str | Path = "", reason: str = "") -> None:
        super().__init__(message)
        self.path = Path(path) if path else None
        self.reason = reason or message


class IndexCorruptError(IndexStoreError):
    """The file is damaged or is not a patch index: offer `rebuild_store(path)`."""


class IndexLockedError(IndexStoreError):
    """Another connection holds the write lock for longer than the busy timeout."""


class IndexWriteError(IndexStoreError):
    """A write failed (disk full, read-only file, I/O error); the index keeps its last saved state."""


class IndexMismatchError(ExplorerError):
    """The stored index was built with other settings (top K, one entry per image) than the ones asked for."""


class NoIndexError(ExplorerError):
    """Nothing is indexed for the asked model, weights and layer (or the database file does not exist)."""
