"""Hostile image files: decompression bombs in every format OpenCV reads, files with bytes after their end,
truncated files, and native libraries' messages on stderr.

A bomb is a small file whose header claims a huge size. Each is made here from a real small file of that
format (OpenCV's or Pillow's encoder) with its size fields patched, or written by hand from the format's
specification, so that OpenCV's own signature check picks that format's decoder (`cv2.haveImageReader`).
They are loaded in a subprocess whose address space is limited (RLIMIT_AS), so a regression fails with an
out-of-memory error instead of making the machine swap; its peak resident memory is measured there too.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from explorer.core.errors import ImageLoadError
from explorer.core.image_header import read_header
from explorer.core.images import load_image

ROOT = Path(__file__).resolve().parents[1]
HUGE = 30_000  # 30 000 × 30 000 = 900 MP: 2.7 GB as 8-bit RGB


def _small(ext: str) -> bytes:
    """A real 64×64 file of that format from OpenCV's encoder."""
    img = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _chunk(tag: bytes, data: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(tag + data) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


def _png(width: int, height: int, bad_ancillary_crc: bool = False) -> bytes:
    rows = (b"\0" + b"\0" * 3 * min(width, 64)) * 4
    text = _chunk(b"tEXt", b"Comment\0hostile", 0xDEADBEEF if bad_ancillary_crc else None)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + text
            + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


def _patch(data: bytes, at: int, fmt: str, *values: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, *values)
    return bytes(out)


def _jpeg() -> bytes:
    data = _small(".jpg")
    sof = data.index(b"\xff\xc0")
    return _patch(data, sof + 5, ">HH", HUGE, HUGE)


def _bmp() -> bytes:
    return _patch(_small(".bmp"), 18, "<ii", HUGE, HUGE)


def _tiff_entry_offset(data: bytes, tag: int) -> int:
    ifd = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, ifd)[0]
    for i in range(count):
        at = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, at)[0] == tag:
            return at
    raise AssertionError(f"no tag {tag}")


def _tiff() -> bytes:
    data = _small(".tif")
    assert data[:2] == b"II"
    for tag in (256, 257):
        at = _tiff_entry_offset(data, tag)
        data = _patch(data, at + 2, "<HII", 4, 1, HUGE)  # LONG, one value
    return data


def _tiled_tiff() -> bytes:
    """A 16×16 RGB TIFF written by hand in 16384×16384 tiles: OpenCV allocates one tile (805 MB)."""
    tile = 16384
    entries = [(256, 3, 1, 16), (257, 3, 1, 16), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 2),
               (277, 3, 1, 3), (284, 3, 1, 1), (322, 3, 1, tile), (323, 3, 1, tile), (324, 4, 1, 0),
               (325, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", t, k, n) + (struct.pack("<HH", v, 0) if k == 3 else struct.pack("<I", v))
        for t, k, n, v in entries) + b"\0\0\0\0"
    data_at = 8 + len(ifd)
    ifd = ifd.replace(struct.pack("<HHII", 324, 4, 1, 0), struct.pack("<HHII", 324, 4, 1, data_at))
    return b"II*\0" + struct.pack("<I", 8) + ifd + b"\0" * 16


def _webp_vp8x() -> bytes:
    # an RGBA image is written with a VP8X chunk holding the canvas size (24-bit width-1, height-1)
    img = np.zeros((16, 16, 4), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img, "RGBA").save(buf, "WEBP", exif=b"Exif\0\0II*\0\x08\0\0\0\0\0\0\0\0\0")
    data = buf.getvalue()
    assert data[12:16] == b"VP8X", data[12:16]
    out = bytearray(data)
    out[24:27] = (HUGE - 1).to_bytes(3, "little")
    out[27:30] = (HUGE - 1).to_bytes(3, "little")
    return bytes(out)


def _webp_vp8() -> bytes:
    data = _small(".webp")
    if data[12:16] != b"VP8 ":
        data = cv2.imencode(".webp", np.zeros((16, 16, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 50])[1].tobytes()
    assert data[12:16] == b"VP8 "
    return _patch(data, 26, "<HH", 16383, 16383)  # 268 MP, the most a VP8 frame can claim


def _hdr() -> bytes:
    line = bytes([2, 2, HUGE >> 8, HUGE & 0xFF]) + (bytes([128 + 127, 0]) * (HUGE // 127 + 1)) * 4
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + f"-Y {HUGE} +X {HUGE}\n".encode() + line * 8


def _sunraster() -> bytes:
    return struct.pack(">8I", 0x59A66A95, HUGE, HUGE, 24, HUGE * HUGE * 3, 1, 0, 0) + b"\0" * 4096


def _gif() -> bytes:
    data = bytearray(_small(".gif"))
    struct.pack_into("<HH", data, 6, 65535, 65535)
    return bytes(data)


def _avif() -> bytes:
    data = bytearray(_small(".avif"))
    at = data.index(b"ispe")
    # libavif decodes at the 'ispe' size (checked: a 64×64 file patched to 16384×16384 decodes to that);
    # above 16384 its own signature check gives up
    struct.pack_into(">II", data, at + 8, 16384, 16384)
    return bytes(data)


def _jp2() -> bytes:
    data = bytearray(_small(".jp2"))
    siz = data.index(b"\xff\x4f\xff\x51")
    struct.pack_into(">II", data, siz + 8, HUGE, HUGE)
    return bytes(data)


def _j2k() -> bytes:
    data = _jp2()
    return data[data.index(b"\xff\x4f\xff\x51"):]


def _exr() -> bytes:
    attrs = b"dataWindow\0box2i\0" + struct.pack("<i4i", 16, 0, 0, HUGE - 1, HUGE - 1)
    return b"\x76\x2f\x31\x01" + struct.pack("<I", 2) + attrs + b"\0" + b"\0" * 64


def bombs() -> dict[str, bytes]:
    """File name -> bytes of a small file claiming a huge image."""
    return {
        "bomb.png": _png(HUGE, HUGE),
        "bomb_bad_crc.png": _png(HUGE, HUGE, bad_ancillary_crc=True),
        "bomb.jpg": _jpeg(),
        "bomb.bmp": _bmp(),
        "bomb.tif": _tiff(),
        "bomb_tiles.tif": _tiled_tiff(),
        "bomb_vp8x.webp": _webp_vp8x(),
        "bomb_vp8.webp": _webp_vp8(),
        "bomb.pgm": f"P5\n{HUGE} {HUGE}\n255\n".encode() + b"\0" * 4096,
        "bomb.ppm": f"P6\n# a comment\n{HUGE} {HUGE}\n65535\n".encode() + b"\0" * 4096,
        "bomb.pbm": f"P1\n{HUGE} {HUGE}\n".encode() + b"0 " * 2048,
        "bomb_ascii.pgm": f"P2 {HUGE} {HUGE} 255\n".encode() + b"0 " * 2048,
        "bomb.pam": f"P7\nWIDTH {HUGE}\nHEIGHT {HUGE}\nDEPTH 3\nMAXVAL 255\nENDHDR\n".encode() + b"\0" * 4096,
        "bomb_depth.pam": b"P7\nWIDTH 2000\nHEIGHT 2000\nDEPTH 500\nMAXVAL 255\nENDHDR\n" + b"\0" * 4096,
        "bomb.hdr": _hdr(),
        "bomb.ras": _sunraster(),
        "bomb.pfm": f"PF\n{HUGE} {HUGE}\n-1.0\n".encode() + b"\0" * 4096,
        "bomb.gif": _gif(),
        "bomb.avif": _avif(),
        "bomb.jp2": _jp2(),
        "bomb.j2k": _j2k(),
        "bomb.exr": _exr(),
    }


_LOADER = r"""
import json, resource, sys
from explorer.core.errors import ImageLoadError
from explorer.core.images import load_image

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

# the address space this process has now plus 600 MB: a decode of a bomb fails instead of swapping
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + 600 * 2**20, resource.RLIM_INFINITY))
base = rss_mb()
out = {}
for path in sys.argv[1:]:
    try:
        load_image(path)
        out[path] = ["decoded", ""]
    except ImageLoadError as exc:
        out[path] = ["refused", str(exc)]
    except BaseException as exc:  # noqa: BLE001 - MemoryError, cv2.error: what a regression looks like
        out[path] = [type(exc).__name__, str(exc)[:200]]
print(json.dumps({"results": out, "peak_growth_mb": rss_mb() - base}))
"""


def test_every_bomb_is_refused_from_its_header_with_little_memory(tmp_path):
    paths = []
    for name, data in bombs().items():
        path = tmp_path / name
        path.write_bytes(data)
        assert len(data) < 3_000_000
        if name != "bomb.exr":  # this OpenCV has no OpenEXR; the size is refused before OpenCV is asked
            assert cv2.haveImageReader(str(path)), f"OpenCV would not pick a decoder for {name}"
        paths.append(str(path))
    run = subprocess.run([sys.executable, "-c", _LOADER, *paths], capture_output=True, text=True, timeout=300,
                         cwd=ROOT)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    for path, (outcome, message) in report["results"].items():
        name = Path(path).name
        assert outcome == "refused", f"{name}: {outcome} {message}"
        assert message.startswith(f"refusing to decode '{path}'") and "decompression bomb" in message, message
        assert "\n" not in message
    assert report["peak_growth_mb"] < 100, report
    assert run.stderr == ""


@pytest.mark.parametrize("name", sorted(bombs()))
def test_bomb_header_parsed(name):
    header = read_header(bombs()[name])
    assert header is not None and (header.pixels >= 268_000_000 or header.decoded_bytes > 800_000_000), header


def _photo() -> np.ndarray:
    return (np.random.default_rng(1).random((48, 64, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif", ".webp", ".ppm", ".pgm", ".pbm", ".pam", ".hdr",
                                 ".ras", ".pfm", ".gif", ".avif", ".jp2"])
def test_small_files_of_every_format_still_decode(tmp_path, ext):
    img = _photo()
    if ext in (".pgm", ".pbm"):
        img = img[:, :, 0]
    if ext in (".hdr", ".pfm"):
        img = img.astype(np.float32) / 255
    path = tmp_path / f"small{ext}"
    path.write_bytes(cv2.imencode(ext, img)[1].tobytes())
    out = load_image(path)
    ref = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert out.shape == (48, 64, 3) and ref.shape == out.shape
    header = read_header(path.read_bytes())
    assert (header.width, header.height) == (64, 48)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP", "GIF", "JPEG2000", "BMP", "PPM"])
def test_pillow_written_files_have_the_same_header_size(fmt):
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, fmt)
    header = read_header(buf.getvalue())
    assert (header.width, header.height) == (64, 48)
    assert load_image_bytes(buf.getvalue()).shape == (48, 64, 3)


def load_image_bytes(data: bytes) -> np.ndarray:
    from explorer.core.images import decode_image

    return decode_image(data, "x")


def test_png_with_a_bad_ancillary_crc_decodes_as_opencv_does(tmp_path):
    """Pillow cannot read this header (the old bypass); libpng drops the chunk with a warning and decodes."""
    data = _png(16, 4, bad_ancillary_crc=True)
    path = tmp_path / "crc.png"
    path.write_bytes(data)
    with pytest.raises(Exception):
        Image.open(io.BytesIO(data)).load()
    out = load_image(path)
    assert out.shape == (4, 16, 3) and not out.any()


# --------------------------------------------------------------------------------- bytes after the end marker
def test_jpeg_with_a_trailer_decodes(tmp_path):
    """A motion photo: a JPEG, then a video (megabytes, with 0xFFD8/0xFFD9 pairs of its own) after EOI."""
    img = _photo()
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    trailer = b"\0\0\0\x18ftypmp42" + bytes(np.random.default_rng(2).integers(0, 256, 300_000, dtype=np.uint8))
    path = tmp_path / "motion.jpg"
    path.write_bytes(jpeg + trailer)
    ref = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(load_image(path), ref)


def test_png_with_padding_after_iend_decodes(tmp_path):
    img = _photo()
    png = cv2.imencode(".png", img)[1].tobytes()
    path = tmp_path / "padded.png"
    path.write_bytes(png + b"\0" * 4096)
    assert np.array_equal(load_image(path), cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), load_image(path))


@pytest.mark.parametrize("ext,cut", [(".jpg", 0.5), (".jpg", 0.97), (".png", 0.5), (".png", 0.99)])
def test_truly_truncated_files_are_still_refused(tmp_path, ext, cut):
    data = cv2.imencode(ext, _photo())[1].tobytes()
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(path)


def test_progressive_jpeg_cut_between_scans_is_truncated(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, "JPEG", progressive=True)
    data = buf.getvalue()
    second_scan = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    path = tmp_path / "prog.jpg"
    path.write_bytes(data[:second_scan])
    with pytest.raises(ImageLoadError, match="truncated"):
        load_image(path)
    path.write_bytes(data)
    assert load_image(path).shape == (48, 64, 3)


# ------------------------------------------------------------------------------------------------- messages
def test_messages_name_the_file_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "empty.png").write_bytes(b"")
    (tmp_path / "sub" / "text.png").write_text("not an image")
    (tmp_path / "sub" / "bomb.png").write_bytes(_png(HUGE, HUGE))
    for name in ("empty.png", "text.png", "bomb.png", "missing.png"):
        with pytest.raises(ImageLoadError) as info:
            load_image(f"sub/{name}")
        assert f"'sub/{name}'" in str(info.value), str(info.value)


# ----------------------------------------------------------------------------------------- native messages
_DECODE_IN_CHILD = r"""
import sys
from explorer.core.errors import ImageLoadError
from explorer.core.images import load_image
for path in sys.argv[1:]:
    try:
        load_image(path)
    except ImageLoadError:
        pass
"""


def test_libpng_and_libjpeg_say_nothing_on_stderr(tmp_path):
    img = _photo()
    png = bytearray(cv2.imencode(".png", img)[1].tobytes())
    idat = png.index(b"IDAT")
    png[idat + 10] ^= 0xFF  # damages IDAT: libpng reports a CRC error
    (tmp_path / "crc.png").write_bytes(bytes(png))
    (tmp_path / "warn.png").write_bytes(_png(16, 4, bad_ancillary_crc=True))  # libpng warns and decodes
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    sos = jpeg.index(b"\xff\xda")
    corrupt = bytearray(jpeg)
    corrupt[sos + 40:sos + 60] = b"\xff\xd3" * 10  # stray restart markers: "Corrupt JPEG data" warnings
    (tmp_path / "corrupt.jpg").write_bytes(bytes(corrupt))
    paths = [str(tmp_path / n) for n in ("crc.png", "warn.png", "corrupt.jpg")]
    run = subprocess.run([sys.executable, "-c", _DECODE_IN_CHILD, *paths], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert run.returncode == 0
    assert run.stderr == ""


def test_mutated_files_give_one_error_or_an_image_no_larger_than_their_header():
    """Random byte changes, insertions and cuts near the headers of small files of every format: the outcome
    is an ImageLoadError or an image whose size is the one its header claimed (never a larger one OpenCV read
    from a header ours read differently)."""
    import random

    from explorer.core.image_header import HeaderError
    from explorer.core.images import decode_image

    rng = random.Random(21)
    img = _photo()
    seeds = [cv2.imencode(ext, img if ext != ".hdr" else img.astype(np.float32) / 255)[1].tobytes()
             for ext in (".png", ".jpg", ".bmp", ".tif", ".webp", ".ppm", ".pam", ".hdr", ".ras", ".gif", ".jp2")]
    for _ in range(400):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(min(len(data), 160))
            if rng.random() < 0.7:
                data[at] = rng.randrange(256)
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
        data = bytes(data[: rng.choice([len(data), rng.randrange(8, len(data))])])
        try:
            header = read_header(data)
        except HeaderError:
            header = None
        try:
            out = decode_image(data, "fuzz")
        except ImageLoadError as exc:
            assert "\n" not in str(exc)
            continue
        assert header is not None and out.shape[0] * out.shape[1] <= header.pixels, (header, out.shape)
