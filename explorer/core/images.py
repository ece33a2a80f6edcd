"""Decoding image files into RGB uint8 arrays, safely.

The bytes are read by Python (so non-ASCII paths work on every platform) and decoded by OpenCV's
`cv2.imdecode`. Before any pixel is decoded, the size is read from the header by `explorer.core.image_header`
(its own parser per format, chosen the way OpenCV chooses its decoder) and anything above `MAX_PIXELS`, or
above `MAX_BYTES_PER_PIXEL` × MAX_PIXELS bytes as decoded (many channels, 16-bit or float samples, a TIFF tile
larger than the image), is refused; a file whose format or header is not known is refused too, never handed
to OpenCV. A decompression bomb (a small file claiming 30 000 × 30 000 pixels) would otherwise make OpenCV
allocate gigabytes. OpenCV's own limit (env OPENCV_IO_MAX_IMAGE_PIXELS, read once when cv2 is loaded) is set
here as a second line when this module is the first to import cv2; it cannot be relied on alone.

OpenCV is asked for the file's own channels and depth (IMREAD_UNCHANGED, so alpha and 16-bit survive); that
flag ignores EXIF orientation, so the orientation tag (read with Pillow's lazy `Image.open`, header only) is
applied here, as `IMREAD_COLOR` would (EXIF 2.3, tag 0x0112). Everything is then converted to 8-bit RGB:
gray → RGB, alpha composited on white, 16-bit scaled by 1/257, float scaled from 0..1; palette PNGs and CMYK
JPEGs are expanded to BGR by OpenCV's decoders.

Error messages name the file as the caller gave it (the path as typed, not its resolved or bare name).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MAX_PIXELS = 100_000_000  # 100 MP: about 300 MB as RGB uint8; larger images are refused before decoding
# Decoded bytes allowed per allowed pixel: 100 MP of 16-bit RGBA, or 66 MP of float RGB (Radiance, PFM).
MAX_BYTES_PER_PIXEL = 8

if "cv2" not in sys.modules:  # a second line of defence only: OpenCV reads it once, when it is loaded
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from explorer.core.threads import use_one_opencv_thread  # noqa: E402

use_one_opencv_thread()

from explorer.core.errors import ImageLoadError  # noqa: E402
from explorer.core.image_header import HeaderError, ImageHeader, read_header, truncated  # noqa: E402

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm", ".pbm",
                  ".pnm", ".jp2", ".jpe", ".dib", ".sr", ".ras", ".pxm", ".pfm", ".hdr", ".pic")
_EXIF_ORIENTATION = 0x0112


def silence_opencv_log() -> None:
    """Turn off OpenCV's own log lines on stderr ("[ WARN:0@0.01] ... can't open camera by index",
    "[ERROR:0@0.01] ... IHDR chunk shall be first") and those of its FFmpeg backend ("[mov,mp4,...] moov atom
    not found"): every failure they describe is already reported here as one ImageLoadError/SourceError
    sentence, and the command line promises one `error:` line. A user who sets OPENCV_LOG_LEVEL (OpenCV's own
    switch) for debugging keeps OpenCV's levels untouched.

    OPENCV_FFMPEG_LOGLEVEL is read by OpenCV when its FFmpeg backend first starts, so it works set after
    `import cv2` (checked: OpenCV 5.0, opencv-python-headless); -8 is FFmpeg's AV_LOG_QUIET.
    """
    if os.environ.get("OPENCV_LOG_LEVEL"):
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is not None and hasattr(log, "setLogLevel"):
        log.setLogLevel(log.LOG_LEVEL_SILENT)


silence_opencv_log()


def is_image_path(path: str | os.PathLike) -> bool:
    """True when the file name has a known image suffix (used to list folders)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _read_bytes(path: Path, name: str) -> bytes:
    if not path.exists():
        raise ImageLoadError(f"cannot open '{name}': no such file")
    if path.is_dir():
        raise ImageLoadError(f"cannot open '{name}': it is a folder, not an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageLoadError(f"cannot read '{name}': {exc.strerror or exc}") from None
    if not data:
        raise ImageLoadError(f"cannot decode '{name}': the file is empty")
    return data


def _orientation(data: bytes) -> int:
    """The EXIF orientation tag (1 = none), read with Pillow's lazy open (the header only, no pixel data)."""
    import io

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns above its own (lower) limit; ours was applied
            with Image.open(io.BytesIO(data)) as im:
                return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # noqa: BLE001 - a header Pillow cannot read, or a broken EXIF block: no rotation
        return 1


def _megapixels(n: int) -> str:
    return f"{n / 1e6:g}"


def check_header(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> ImageHeader:
    """The header of `data`, or ImageLoadError when the format is unknown, the header unreadable, or the size
    above `max_pixels` pixels or MAX_BYTES_PER_PIXEL × max_pixels decoded bytes."""
    try:
        header = read_header(data)
    except HeaderError as exc:
        raise ImageLoadError(f"cannot decode '{name}': the file is corrupt ({exc})") from None
    if header is None:
        raise ImageLoadError(f"cannot decode '{name}': it is not an image OpenCV can decode")
    if header.pixels > max_pixels:
        raise ImageLoadError(f"refusing to decode '{name}': its header claims {header.width}×{header.height} "
                             f"pixels, more than the {_megapixels(max_pixels)} megapixel limit "
                             f"(a possible decompression bomb)")
    max_bytes = MAX_BYTES_PER_PIXEL * max_pixels
    if header.decoded_bytes > max_bytes:
        raise ImageLoadError(f"refusing to decode '{name}': its header claims {header.width}×{header.height} "
                             f"pixels of {header.channels} × {header.sample_bytes}-byte samples"
                             f"{' in larger tiles' if header.tile else ''}, more than {max_bytes / 1e6:g} MB "
                             f"decoded (a possible decompression bomb)")
    return header


# libpng and libjpeg print their warnings ("libpng warning: iCCP: known incorrect sRGB profile", "Premature
# end of JPEG file") with fprintf(stderr), past OpenCV's log switch; the failure they describe is already one
# ImageLoadError sentence. File descriptor 2 is pointed at the null device while any decode runs (a count, so
# that concurrent decodes share one redirection); other threads' stderr output in that window is lost too.
_quiet_lock = threading.Lock()
_quiet_depth = 0
_saved_fd: int | None = None


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native code writes to file descriptor 2 (not when OPENCV_LOG_LEVEL asks for logs)."""
    global _quiet_depth, _saved_fd
    if os.environ.get("OPENCV_LOG_LEVEL"):
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError, AttributeError):  # no fd 2 (a windowed app): nothing to silence
                saved = None
            if saved is not None:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 2)
                os.close(null)
            _saved_fd = saved
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _saved_fd is not None:
                os.dup2(_saved_fd, 2)
                os.close(_saved_fd)
                _saved_fd = None


def _apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """Rotate/flip as the EXIF orientation tag says (values 2..8; 1 and unknown values leave it as is)."""
    ops = {
        2: lambda a: cv2.flip(a, 1),
        3: lambda a: cv2.rotate(a, cv2.ROTATE_180),
        4: lambda a: cv2.flip(a, 0),
        5: lambda a: cv2.flip(cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE), 1),
        6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),
        7: lambda a: cv2.flip(cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE), 1),
        8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
    }
    op = ops.get(orientation)
    return op(img) if op else img


def _to_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if img.dtype == np.int8:
        return (img.astype(np.int16) + 128).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        # in place: a float image is the largest array here (12 bytes per RGB pixel); no extra copies of it
        img = np.nan_to_num(img, copy=False)
        np.clip(img, 0.0, 1.0, out=img)
        img *= 255.0
        img += 0.5
        return img.astype(np.uint8)
    # other integer depths: scale the range that is there
    lo, hi = float(img.min()), float(img.max())
    return ((img.astype(np.float64) - lo) / max(hi - lo, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """OpenCV's decoded array (gray, BGR or BGRA; 8/16-bit or float) → contiguous RGB uint8 (H, W, 3)."""
    img = _to_uint8(img)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    channels = img.shape[2]
    if channels == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    if channels == 2:  # gray + alpha
        gray, alpha = img[:, :, 0].astype(np.float32), img[:, :, 1:2].astype(np.float32) / 255.0
        out = gray[:, :, None] * alpha + 255.0 * (1.0 - alpha)
        return np.ascontiguousarray(np.repeat(out + 0.5, 3, axis=2).astype(np.uint8))
    if channels == 4:  # BGRA: composite on white, as viewers show transparent areas
        bgr, alpha = img[:, :, :3].astype(np.float32), img[:, :, 3:4].astype(np.float32) / 255.0
        img = (bgr * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    elif channels > 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))


def decode_image(data: bytes, name: str = "image", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes into RGB uint8 (H, W, 3); raises ImageLoadError with one sentence naming
    `name` (the file as the caller gave it)."""
    header = check_header(data, name, max_pixels)
    if truncated(data, header.format):
        raise ImageLoadError(f"cannot decode '{name}': the file is truncated")
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        with quiet_native_stderr():
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise ImageLoadError(f"cannot decode '{name}': the file is corrupt")
    if img.shape[0] * img.shape[1] > max_pixels:  # the header lied: refuse what was decoded anyway
        raise ImageLoadError(f"refusing '{name}': more than {_megapixels(max_pixels)} megapixels")
    return _apply_orientation(to_rgb8(img), _orientation(data))


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file into an RGB uint8 array (H, W, 3) with EXIF orientation applied.

    Empty, truncated, non-image, unreadable, missing and over-large files raise ImageLoadError.
    """
    name = os.fspath(path)
    return decode_image(_read_bytes(Path(name), name), name, max_pixels)
