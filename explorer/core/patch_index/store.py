"""The patch index on disk: one SQLite file, any number of (model, weights, layer) indexes in it.

Why SQLite: the writes are small transactions (a few thousand rows every couple of seconds), the reads are
point look-ups (one channel's top K), the app reads while a background run writes (WAL mode: readers never
wait for the writer), every commit is atomic (a cancel, a crash or a full disk leaves the last commit intact),
and it is in Python's standard library. A columnar engine (DuckDB) is built for scans and aggregates over
large tables and allows one writing process per file; neither fits. `python bench/index_throughput.py`
prints what the store costs per save.

Schema (version 1, PRAGMA user_version; PRAGMA application_id marks the file as ours):
- indexes(id, model, weights, layer, ...): one per (model, weights key, layer); the weights key is
  "random, seed N" or "sha256:<hex of the weights file>", so a model or weights change never mixes entries.
  It keeps the layer's receptive field (r, stride, first centre), so a box is computed without the model.
- files(digest, path, kind): a file's content hash and where it was last seen.
- indexed_files(index_id, digest, frames, complete, geometry...): what an index has read of each file (a video
  can be partly read: `frames` from the start) and how its frames became the model's input (FrameGeometry).
- entries(index_id, channel, rank, score, digest, frame, y, x): each channel's top K, rank 0 the strongest.
Everything one save writes (entries, files, indexed_files) is one transaction: a file is marked read exactly
when its activations are in the entries, so a resumed run neither misses nor duplicates anything.
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

from explorer.core.app_dirs import settings_dir_override
from explorer.core.patch_index.errors import (IndexCorruptError, IndexLockedError, IndexMismatchError,
                                              IndexStoreError, IndexWriteError, NoIndexError)
from explorer.core.receptive import FieldGeometry

APPLICATION_ID = 0x434E4E58  # "CNNX"
SCHEMA_VERSION = 1
DEFAULT_BUSY_TIMEOUT_S = 5.0

_SCHEMA = """
CREATE TABLE indexes (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    weights TEXT NOT NULL,
    layer TEXT NOT NULL,
    weights_label TEXT NOT NULL,
    output_key TEXT NOT NULL,
    channels INTEGER NOT NULL,
    top_k INTEGER NOT NULL,
    distinct_images INTEGER NOT NULL,
    receptive_field REAL,
    stride REAL,
    first_centre REAL,
    created TEXT NOT NULL,
    UNIQUE (model, weights, layer)
);
CREATE TABLE files (
    digest TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    kind TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE indexed_files (
    index_id INTEGER NOT NULL REFERENCES indexes(id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    frames INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    source_w INTEGER NOT NULL, source_h INTEGER NOT NULL,
    scale_x REAL NOT NULL, scale_y REAL NOT NULL,
    crop_x REAL NOT NULL, crop_y REAL NOT NULL,
    input_h INTEGER NOT NULL, input_w INTEGER NOT NULL,
    PRIMARY KEY (index_id, digest)
) WITHOUT ROWID;
CREATE TABLE entries (
    index_id INTEGER NOT NULL REFERENCES indexes(id) ON DELETE CASCADE,
    channel INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    score REAL NOT NULL,
    digest TEXT NOT NULL,
    frame INTEGER NOT NULL,
    y INTEGER NOT NULL,
    x INTEGER NOT NULL,
    PRIMARY KEY (index_id, channel, rank)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class IndexInfo:
    """One stored index: what it was built from and with which settings."""

    id: int
    model: str
    weights: str               # the key: "random, seed 0" or "sha256:..."
    weights_label: str         # what the user chose: "random (seed 0)", "bundled", "resnet18.pt"
    layer: str
    output_key: str            # the leaf of a multi-output module ("" for a plain tensor)
    channels: int
    top_k: int
    distinct_images: bool      # at most one entry per image and channel
    field: FieldGeometry | None  # None: every unit sees the whole image (after flatten, fc)
    frames: int = 0            # frames indexed so far
    files: int = 0             # files fully indexed


@dataclass(frozen=True)
class StoredGeometry:
    """indexed_files' geometry columns, in FrameGeometry's terms."""

    source_size: tuple[int, int]
    scale: tuple[float, float]
    crop: tuple[float, float]
    input_size: tuple[int, int]


@dataclass
class FileProgress:
    """What one save records about one file for one index."""

    digest: str
    frames: int                # frames read from the file's start (1 for an image)
    complete: bool
    geometry: StoredGeometry


@dataclass
class IndexUpdate:
    """One index's part of a save: the channels whose top K changed (their full new lists) and file progress."""

    index_id: int
    channels: dict[int, list[tuple[float, str, int, int, int]]] = field(default_factory=dict)  # (score, digest, frame, y, x)
    files: list[FileProgress] = field(default_factory=list)


@dataclass(frozen=True)
class EntryRow:
    rank: int
    score: float
    digest: str
    frame: int
    y: int
    x: int
    path: str
    geometry: StoredGeometry


def _error_name(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""  # Python ≥ 3.11
    if name:
        return name
    text = str(exc).lower()  # older Pythons: the message is all there is
    for needle, guess in (("locked", "SQLITE_BUSY"), ("busy", "SQLITE_BUSY"), ("full", "SQLITE_FULL"),
                          ("not a database", "SQLITE_NOTADB"), ("malformed", "SQLITE_CORRUPT"),
                          ("readonly", "SQLITE_READONLY"), ("disk i/o", "SQLITE_IOERR"),
                          ("unable to open", "SQLITE_CANTOPEN")):
        if needle in text:
            return guess
    return ""


def corrupt(path: Path, reason: str) -> IndexCorruptError:
    return IndexCorruptError(f"the index database '{path}' is damaged or not an index ({reason}); rebuild it (the "
                             "old file is kept beside the new one)", path, reason)


def translate(exc: sqlite3.Error, path: Path, doing: str) -> IndexStoreError:
    """An sqlite3 error as one sentence and the store error class that says what the user can do."""
    name = _error_name(exc)
    where = f"'{path}'"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return IndexLockedError(f"the index database {where} is locked by another program (another indexing "
                                "run?); try again once it has finished", path)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return corrupt(path, str(exc))
    if name == "SQLITE_FULL":
        return IndexWriteError(f"the disk is full while {doing} {where}: the index keeps what was saved before; "
                               "free some space and run again to continue", path)
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")):
        return IndexWriteError(f"cannot write the index database {where} ({exc})", path)
    if name.startswith("SQLITE_IOERR"):
        return IndexWriteError(f"an I/O error while {doing} {where} ({exc}); the index keeps what was saved "
                               "before", path)
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return corrupt(path, str(exc))
    return IndexStoreError(f"the index database {where} failed while {doing}: {exc}", path)


def default_db_path() -> Path:
    """Where the app and the command line keep the index unless told otherwise: $CNN_EXPLORER_DATA_DIR, else
    the folder $CNN_EXPLORER_SETTINGS_DIR moves the settings to (explorer.core.app_dirs: a portable setup, or a
    test, keeps its index beside its settings), else $XDG_DATA_HOME/cnn-explorer, else
    ~/.local/share/cnn-explorer; the file is patch-index.sqlite."""
    base = os.environ.get("CNN_EXPLORER_DATA_DIR")
    if base:
        return Path(base) / "patch-index.sqlite"
    settings_dir = settings_dir_override()
    if settings_dir is not None:
        return settings_dir / "patch-index.sqlite"
    xdg = os.environ.get("XDG_DATA_HOME")
    root = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return root / "cnn-explorer" / "patch-index.sqlite"


class PatchStore:
    """An open index database. Use as a context manager, or call close().

    `create=False` refuses a missing file (NoIndexError) instead of creating one: reading never creates files.
    `busy_timeout_s`: how long a write waits for another writer before IndexLockedError.
    """

    def __init__(self, path: str | os.PathLike, *, create: bool = True,
                 busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, check: bool = True) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists() and not create:
            raise NoIndexError(f"no index database at '{self.path}': index a folder first "
                               "(`python -m explorer index MODEL FOLDER --layer LAYER`)")
        if self.path.is_dir():
            raise IndexStoreError(f"the index database '{self.path}' is a folder, not a file", self.path)
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise IndexWriteError(f"cannot create the folder of '{self.path}': {exc.strerror or exc}",
                                      self.path) from None
        self.conn: sqlite3.Connection | None = None
        try:
            # autocommit: transactions are opened explicitly (BEGIN IMMEDIATE) where writes happen
            self.conn = sqlite3.connect(str(self.path), timeout=busy_timeout_s, isolation_level=None,
                                        check_same_thread=False)
            self._prepare(check, create)
        except sqlite3.Error as exc:
            self.close()
            raise translate(exc, self.path, "opening") from None
        except IndexStoreError:
            self.close()
            raise

    # -- opening ----------------------------------------------------------------------------------------------
    def _prepare(self, check: bool, create: bool) -> None:
        c = self._c
        app_id = c.execute("PRAGMA application_id").fetchone()[0]
        tables = c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != APPLICATION_ID:
            if tables:
                raise corrupt(self.path, "an SQLite database of another program")
            if not create:
                # an empty file: an indexing run has just created it and is writing its schema. A reader that
                # wrote the schema too raced that run for the lock, and the run could fail as "locked"
                raise NoIndexError(f"nothing is indexed in '{self.path}' yet")
            self._create_schema()
            return
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise corrupt(self.path, f"schema version {version}; this version of CNN Explorer reads "
                                     f"{SCHEMA_VERSION}")
        if check:
            problems = [r[0] for r in c.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                raise corrupt(self.path, problems[0])
        c.execute("PRAGMA foreign_keys = ON")

    def _create_schema(self) -> None:
        c = self._c
        c.execute("PRAGMA journal_mode = WAL")  # readers (the app) never wait for a background writer
        c.execute("BEGIN IMMEDIATE")  # statement by statement: executescript would commit on its own
        try:
            # another process may have created it while this one waited for the lock
            if c.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        c.execute(statement)
                c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            c.execute("COMMIT")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise
        c.execute("PRAGMA foreign_keys = ON")

    @property
    def _c(self) -> sqlite3.Connection:
        if self.conn is None:
            raise IndexStoreError(f"the index database '{self.path}' is closed", self.path)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def __enter__(self) -> "PatchStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        try:
            yield self._c
        except sqlite3.Error as exc:
            raise translate(exc, self.path, doing) from None

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error: a save is all or nothing."""
        with self._guard(doing) as c:
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    try:
                        c.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # SQLite has already rolled back (e.g. after SQLITE_FULL)
                raise

    # -- indexes ----------------------------------------------------------------------------------------------
    _INDEX_COLUMNS = ("id, model, weights, weights_label, layer, output_key, channels, top_k, distinct_images, "
                      "receptive_field, stride, first_centre")

    def _info(self, row: Sequence) -> IndexInfo:
        (iid, model, weights, label, layer, key, channels, top_k, distinct, rf, stride, first) = row[:12]
        geo = FieldGeometry(float(rf), float(stride), float(first)) if rf is not None else None
        frames, files = self._c.execute(
            "SELECT coalesce(sum(frames), 0), coalesce(sum(complete), 0) FROM indexed_files WHERE index_id = ?",
            (iid,)).fetchone()
        return IndexInfo(int(iid), model, weights, label, layer, key, int(channels), int(top_k), bool(distinct),
                         geo, int(frames), int(files))

    def find_index(self, model: str, weights: str, layer: str) -> IndexInfo | None:
        with self._guard("reading") as c:
            row = c.execute(f"SELECT {self._INDEX_COLUMNS} FROM indexes WHERE model = ? AND weights = ? "
                            "AND layer = ?", (model, weights, layer)).fetchone()
            return self._info(row) if row else None

    def list_indexes(self, model: str | None = None, weights: str | None = None) -> list[IndexInfo]:
        """Every stored index (of `model`, and of `weights` when given), by model, weights and layer."""
        query = f"SELECT {self._INDEX_COLUMNS} FROM indexes"
        where, args = [], []
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if weights is not None:
            where.append("weights = ?")
            args.append(weights)
        if where:
            query += " WHERE " + " AND ".join(where)
        with self._guard("reading") as c:
            return [self._info(r) for r in c.execute(query + " ORDER BY model, weights, layer", args).fetchall()]

    def ensure_index(self, model: str, weights: str, weights_label: str, layer: str, output_key: str,
                     channels: int, top_k: int, distinct_images: bool, field: FieldGeometry | None) -> IndexInfo:
        """The index of (model, weights, layer), created when new. An existing one built with another top K,
        distinct-images setting, output or channel count raises IndexMismatchError (its entries could not be
        merged with the new ones)."""
        found = self.find_index(model, weights, layer)
        if found is not None:
            asked = (top_k, bool(distinct_images), output_key, channels)
            have = (found.top_k, found.distinct_images, found.output_key, found.channels)
            if asked != have:
                what = []
                if top_k != found.top_k:
                    what.append(f"the top {found.top_k} per channel (asked: {top_k})")
                if bool(distinct_images) != found.distinct_images:
                    what.append("one entry per image" if found.distinct_images else "several entries per image")
                if output_key != found.output_key or channels != found.channels:
                    what.append(f"output '{found.output_key}' with {found.channels} channels")
                raise IndexMismatchError(
                    f"the index of {model} {layer} ({weights_label}) keeps {' and '.join(what)}; index with the "
                    "same settings, or start this layer's index again")
            return found
        rf = (field.receptive_field, field.stride, field.first_centre) if field is not None else (None, None, None)
        with self._transaction("creating an index in") as c:
            c.execute("INSERT INTO indexes (model, weights, layer, weights_label, output_key, channels, top_k, "
                      "distinct_images, receptive_field, stride, first_centre, created) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (model, weights, layer, weights_label, output_key, int(channels), int(top_k),
                       int(bool(distinct_images)), *rf, _dt.datetime.now(_dt.timezone.utc).isoformat()))
        info = self.find_index(model, weights, layer)
        assert info is not None
        return info

    def delete_index(self, index_id: int) -> None:
        with self._transaction("deleting an index from") as c:
            c.execute("DELETE FROM entries WHERE index_id = ?", (index_id,))
            c.execute("DELETE FROM indexed_files WHERE index_id = ?", (index_id,))
            c.execute("DELETE FROM indexes WHERE id = ?", (index_id,))

    # -- progress and entries -----------------------------------------------------------------------------------
    def progress(self, index_id: int) -> dict[str, tuple[int, bool]]:
        """digest -> (frames read from the start, complete) for one index."""
        with self._guard("reading") as c:
            rows = c.execute("SELECT digest, frames, complete FROM indexed_files WHERE index_id = ?", (index_id,))
            return {d: (int(n), bool(done)) for d, n, done in rows.fetchall()}

    def entries(self, index_id: int) -> list[tuple[int, int, float, str, int, int, int]]:
        """Every entry of an index: (channel, rank, score, digest, frame, y, x), by channel and rank."""
        with self._guard("reading") as c:
            return c.execute("SELECT channel, rank, score, digest, frame, y, x FROM entries WHERE index_id = ? "
                             "ORDER BY channel, rank", (index_id,)).fetchall()

    def save(self, updates: Sequence[IndexUpdate], files: Sequence[tuple[str, str, str]] = ()) -> None:
        """Write one run's progress in one transaction: `files` (digest, path, kind) seen, and per index the
        channels whose top K changed and the files read. All or nothing."""
        with self._transaction("writing") as c:
            c.executemany("INSERT INTO files (digest, path, kind) VALUES (?, ?, ?) "
                          "ON CONFLICT (digest) DO UPDATE SET path = excluded.path, kind = excluded.kind", files)
            for up in updates:
                rows = []
                for channel, entries in up.channels.items():
                    rows += [(up.index_id, channel, rank, float(s), d, int(f), int(y), int(x))
                             for rank, (s, d, f, y, x) in enumerate(entries)]
                c.executemany("DELETE FROM entries WHERE index_id = ? AND channel = ?",
                              [(up.index_id, ch) for ch in up.channels])
                c.executemany("INSERT INTO entries (index_id, channel, rank, score, digest, frame, y, x) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                c.executemany(
                    "INSERT OR REPLACE INTO indexed_files (index_id, digest, frames, complete, source_w, source_h, "
                    "scale_x, scale_y, crop_x, crop_y, input_h, input_w) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(up.index_id, p.digest, int(p.frames), int(p.complete), *p.geometry.source_size,
                      *p.geometry.scale, *p.geometry.crop, *p.geometry.input_size) for p in up.files])

    def channel_entries(self, index_id: int, channel: int, k: int | None = None) -> list[EntryRow]:
        """One channel's entries, strongest first, with each file's last known path and its geometry."""
        limit = -1 if k is None else int(k)
        with self._guard("reading") as c:
            rows = c.execute(
                "SELECT e.rank, e.score, e.digest, e.frame, e.y, e.x, coalesce(f.path, ''), "
                "g.source_w, g.source_h, g.scale_x, g.scale_y, g.crop_x, g.crop_y, g.input_h, g.input_w "
                "FROM entries e "
                "JOIN indexed_files g ON g.index_id = e.index_id AND g.digest = e.digest "
                "LEFT JOIN files f ON f.digest = e.digest "
                "WHERE e.index_id = ? AND e.channel = ? ORDER BY e.rank LIMIT ?",
                (index_id, int(channel), limit)).fetchall()
        return [EntryRow(int(r[0]), float(r[1]), r[2], int(r[3]), int(r[4]), int(r[5]), r[6],
                         StoredGeometry((int(r[7]), int(r[8])), (float(r[9]), float(r[10])),
                                        (float(r[11]), float(r[12])), (int(r[13]), int(r[14]))))
                for r in rows]


def rebuild_store(path: str | os.PathLike) -> Path:
    """Move a damaged (or foreign) database aside and create an empty index in its place; returns where the old
    file went (`<name>.damaged-<UTC time>`, with its -wal and -shm files), so nothing is deleted."""
    p = Path(path).expanduser()
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    backup = p.with_name(f"{p.name}.damaged-{stamp}")
    n = 1
    while backup.exists():
        n += 1
        backup = p.with_name(f"{p.name}.damaged-{stamp}-{n}")
    try:
        if p.exists():
            p.rename(backup)
        for suffix in ("-wal", "-shm", "-journal"):
            side = p.with_name(p.name + suffix)
            if side.exists():
                side.rename(backup.with_name(backup.name + suffix))
    except OSError as exc:
        raise IndexWriteError(f"cannot move the damaged index '{p}' aside: {exc.strerror or exc}", p) from None
    PatchStore(p).close()
    return backup
