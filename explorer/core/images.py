"""Decoding image files into RGB uint8 arrays, safely.

The bytes are read by Python (so non-ASCII paths work on every platform) and decoded by OpenCV's
`cv2.imdecode`. Before decoding, the header's dimensions are read with Pillow's lazy `Image.open` (it parses
the header only, no pixel data) and anything above `MAX_PIXELS` is refused: a decompression bomb (a small
file claiming 100 000 × 100 000 pixels) would otherwise make OpenCV allocate gigabytes. Setting OpenCV's
own limit (env CV_IO_MAX_IMAGE_PIXELS) was measured not to work once cv2 is imported, so it cannot be relied on.

OpenCV is asked for the file's own channels and depth (IMREAD_UNCHANGED, so alpha and 16-bit survive); that
flag ignores EXIF orientation, so the orientation tag (read from the same Pillow header) is applied here, as
`IMREAD_COLOR` would (EXIF 2.3, tag 0x0112). Everything is then converted to 8-bit RGB: gray → RGB, alpha
composited on white, 16-bit scaled by 1/257, float scaled from 0..1; palette PNGs and CMYK JPEGs are
expanded to BGR by OpenCV's decoders.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from explorer.core.errors import ImageLoadError

MAX_PIXELS = 100_000_000  # 100 MP: about 300 MB as RGB uint8; larger images are refused before decoding
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


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ImageLoadError(f"cannot open '{path}': no such file")
    if path.is_dir():
        raise ImageLoadError(f"cannot open '{path}': it is a folder, not an image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageLoadError(f"cannot read '{path}': {exc.strerror or exc}") from None
    if not data:
        raise ImageLoadError(f"cannot decode '{path}': the file is empty")
    return data


def _header(data: bytes, path: Path) -> tuple[tuple[int, int] | None, int]:
    """(width, height) from the header, or None when Pillow does not know the format; EXIF orientation (1 = none)."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns above its own (lower) limit; we apply ours
            with Image.open(io.BytesIO(data)) as im:
                size = im.size
                try:
                    orientation = int(im.getexif().get(_EXIF_ORIENTATION, 1))
                except Exception:  # noqa: BLE001 - a broken EXIF block must not stop the image
                    orientation = 1
    except Image.DecompressionBombError:
        raise ImageLoadError(f"refusing to decode '{path.name}': its header claims more than "
                             f"{MAX_PIXELS // 1_000_000} megapixels (a possible decompression bomb)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None, 1
    return size, orientation


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
        return (np.clip(np.nan_to_num(img), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
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
    """Decode encoded image bytes into RGB uint8 (H, W, 3); raises ImageLoadError with one sentence."""
    path = Path(name)
    size, orientation = _header(data, path)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageLoadError(f"refusing to decode '{path.name}': {size[0]}×{size[1]} pixels is more than the "
                             f"{max_pixels // 1_000_000} megapixel limit (a possible decompression bomb)")
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        kind = "is truncated or corrupt" if size is not None else "is not an image OpenCV can decode"
        raise ImageLoadError(f"cannot decode '{path.name}': the file {kind}")
    if size is None and img.shape[0] * img.shape[1] > max_pixels:
        raise ImageLoadError(f"refusing '{path.name}': more than {max_pixels // 1_000_000} megapixels")
    if _looks_truncated(data, size is not None):
        raise ImageLoadError(f"cannot decode '{path.name}': the file is truncated")
    return _apply_orientation(to_rgb8(img), orientation)


def _looks_truncated(data: bytes, known: bool) -> bool:
    """OpenCV decodes a cut-off JPEG or PNG with a warning and gray/black rows; detect the missing end marker."""
    if data[:2] == b"\xff\xd8":  # JPEG: must end with EOI (allow trailing padding)
        return b"\xff\xd9" not in data[-1024:]
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in data[-32:]
    return False


def load_image(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file into an RGB uint8 array (H, W, 3) with EXIF orientation applied.

    Empty, truncated, non-image, unreadable, missing and over-large files raise ImageLoadError.
    """
    p = Path(path)
    return decode_image(_read_bytes(p), str(p), max_pixels)
