"""explorer.core.images: every kind of file decodes to RGB uint8; every bad file gives one ImageLoadError."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from explorer.core.errors import ImageLoadError
from explorer.core.images import load_image

RED_RGB = (255, 0, 0)


def _bgr(rgb):
    return rgb[::-1]


def test_jpeg_and_non_ascii_path(tmp_path):
    img = np.zeros((20, 30, 3), np.uint8)
    img[:] = _bgr((200, 40, 10))
    path = tmp_path / "кошка 猫.png"
    ok, buf = cv2.imencode(".png", img)
    path.write_bytes(buf.tobytes())
    out = load_image(path)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == (200, 40, 10)


def test_sample_photo(sample_image_path):
    out = load_image(sample_image_path)
    ref = cv2.cvtColor(cv2.imread(str(sample_image_path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert out.shape == ref.shape
    assert np.array_equal(out, ref)


def test_grayscale(tmp_path):
    g = np.arange(0, 200, dtype=np.uint8).reshape(10, 20)
    cv2.imwrite(str(tmp_path / "g.png"), g)
    out = load_image(tmp_path / "g.png")
    assert out.shape == (10, 20, 3)
    assert np.array_equal(out[:, :, 0], g) and np.array_equal(out[:, :, 2], g)


def test_alpha_composited_on_white(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., :3] = _bgr((0, 0, 255))  # blue
    a[0, 0, 3] = 255      # opaque blue
    a[0, 1, 3] = 0        # fully transparent -> white
    a[0, 2, 3] = 128      # half -> between
    cv2.imwrite(str(tmp_path / "a.png"), a)
    out = load_image(tmp_path / "a.png")
    assert tuple(out[0, 0]) == (0, 0, 255)
    assert tuple(out[0, 1]) == (255, 255, 255)
    assert tuple(out[0, 2]) == (127, 127, 255)  # 255·(1-128/255) = 126.99 -> 127


def test_palette_png(tmp_path):
    im = Image.new("P", (8, 6))
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    im.paste(1, (0, 0, 4, 6))
    im.save(tmp_path / "p.png")
    out = load_image(tmp_path / "p.png")
    assert tuple(out[0, 0]) == (0, 255, 0)
    assert tuple(out[0, 7]) == (255, 0, 0)


def test_16bit_scaled(tmp_path):
    a = np.full((5, 5, 3), 65535, np.uint16)
    a[0, 0] = (0, 0, 257 * 100)  # BGR: red = 100 in 8-bit
    cv2.imwrite(str(tmp_path / "d.png"), a)
    out = load_image(tmp_path / "d.png")
    assert out.dtype == np.uint8
    assert tuple(out[1, 1]) == (255, 255, 255)
    assert tuple(out[0, 0]) == (100, 0, 0)


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    out = load_image(tmp_path / "c.jpg")
    assert out.shape == (8, 16, 3)
    r, g, b = (int(v) for v in out[4, 8])
    assert r > 230 and g < 30 and b < 30  # pure red in CMYK


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = RED_RGB  # left half red
    im = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    im.save(tmp_path / "e.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "e.jpg")
    assert out.shape == (20, 10, 3)
    # after a clockwise rotation the left half becomes the top half
    assert out[2, 5, 0] > 200 and out[17, 5, 0] < 50
    # the same as OpenCV's own IMREAD_COLOR, which applies EXIF orientation
    ref = cv2.cvtColor(cv2.imread(str(tmp_path / "e.jpg"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(out, ref)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    png = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
           + _png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _png_chunk(b"IEND", b""))
    (tmp_path / "bomb.png").write_bytes(png)
    with pytest.raises(ImageLoadError, match="megapixel"):
        load_image(tmp_path / "bomb.png")


def test_limit_is_a_parameter(tmp_path):
    cv2.imwrite(str(tmp_path / "x.png"), np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ImageLoadError, match="megapixel"):
        load_image(tmp_path / "x.png", max_pixels=5000)


@pytest.mark.parametrize("kind", ["empty", "text", "truncated_jpeg", "truncated_png", "missing", "folder"])
def test_bad_files(tmp_path, kind):
    path = tmp_path / f"bad_{kind}.jpg"
    img = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("hello, I am not an image")
    elif kind == "truncated_jpeg":
        data = cv2.imencode(".jpg", img)[1].tobytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "truncated_png":
        path = tmp_path / "bad.png"
        data = cv2.imencode(".png", img)[1].tobytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "folder":
        path = tmp_path / "dir.png"
        path.mkdir()
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    msg = str(info.value)
    assert "\n" not in msg and path.name in msg
