"""Finding the frames to index: a recursive walk of a folder, a video's frames, and content hashes.

Files are identified by the SHA-256 of their bytes, not by their path: a file indexed once is skipped on the
next run wherever it has moved, and a copy of it in another folder is indexed once.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from explorer.core.errors import SourceError
from explorer.core.images import is_image_path

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv")
HASH_CHUNK = 1 << 20


def is_video_path(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def content_hash(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def walk_images(root: str | os.PathLike) -> list[Path]:
    """Every image file under `root` (recursively, symbolic links to folders not followed: a link loop cannot
    trap the walk), in a stable order: sorted by path relative to `root`. Hidden folders are skipped."""
    base = Path(root)
    found: list[Path] = []

    def fail(exc: OSError) -> None:
        if Path(exc.filename or "") == base:  # the root itself; unreadable sub-folders are passed over
            raise SourceError(f"cannot list folder '{base}': {exc.strerror or exc}")

    for folder, dirs, files in os.walk(base, onerror=fail):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder) / name for name in files if is_image_path(name) and not name.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


@dataclass(frozen=True)
class SourceFile:
    """One file of the source and its content hash."""

    path: Path
    digest: str


@dataclass
class SourceListing:
    """What a source holds before hashing: image files (a folder or one image) or one video."""

    kind: Literal["images", "video"]
    root: Path
    paths: list[Path]


@dataclass
class SourcePlan:
    """A listing hashed: its distinct files (by content) and those that could not be read."""

    kind: Literal["images", "video"]
    root: Path
    files: list[SourceFile]
    unreadable: list[tuple[Path, str]]  # files that could not even be read to be hashed, and why


def list_source(source: str | os.PathLike) -> SourceListing:
    """A folder's images (recursively), one image file or one video file; SourceError for a source that does
    not exist or holds nothing to index."""
    root = Path(source).expanduser()
    if not root.exists():
        raise SourceError(f"cannot index '{root}': no such file or folder")
    if root.is_dir():
        paths = walk_images(root)
        if not paths:
            raise SourceError(f"folder '{root}' holds no image files (searched recursively)")
        return SourceListing("images", root, paths)
    if is_video_path(root):
        return SourceListing("video", root, [root])
    if is_image_path(root):
        return SourceListing("images", root, [root])
    raise SourceError(f"cannot index '{root}': not a folder, an image or a video file "
                      f"({', '.join(VIDEO_SUFFIXES[:4])}, ...)")


def hash_source(listing: SourceListing, progress: Callable[[int, int], None] | None = None) -> SourcePlan:
    """Hash every listed file; two files with the same bytes become one (the first in walk order)."""
    files: list[SourceFile] = []
    unreadable: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for i, path in enumerate(listing.paths):
        try:
            digest = content_hash(path)
        except OSError as exc:
            unreadable.append((path, f"cannot read '{path}': {exc.strerror or exc}"))
            continue
        if digest not in seen:
            seen.add(digest)
            files.append(SourceFile(path, digest))
        if progress is not None:
            progress(i + 1, len(listing.paths))
    return SourcePlan(listing.kind, listing.root, files, unreadable)


def plan_source(source: str | os.PathLike, progress: Callable[[int, int], None] | None = None) -> SourcePlan:
    """list_source, then hash_source."""
    return hash_source(list_source(source), progress)
