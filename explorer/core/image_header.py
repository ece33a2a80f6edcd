"""An image file's size from its header, before any pixel is decoded, for every format OpenCV reads.

`explorer.core.images` refuses a file whose header claims too many pixels or bytes (a decompression bomb: a
few megabytes claiming 30 000 × 30 000 pixels made OpenCV allocate 5.7 GB). Pillow's lazy `Image.open` is not
enough for that check: it gives up on files OpenCV still decodes (a PNG whose ancillary chunk has a bad CRC,
a Radiance .hdr, PFM, PAM, AVIF without its plugin), and where both read a file they may not read the same
format. So the format is found here the way OpenCV finds its decoder (`findDecoder` in
modules/imgcodecs/src/loadsave.cpp: the first decoder, in registration order, whose `checkSignature` accepts
the first bytes), and the header that decoder will read is parsed by a few lines per format, following the
format's specification and OpenCV's reader (grfmt_*.cpp). A format not listed here is never handed to OpenCV.

Each parser errs on the side of refusing: an oddity OpenCV might read differently (a header line longer than
OpenCV's buffer, a number with a sign) is a HeaderError, never a guess.

`truncation` finds a PNG or JPEG whose end is missing by walking its structure (PNG chunks up to IEND,
JPEG markers and entropy-coded segments up to EOI); bytes after the end marker (a phone's motion-photo video
after a JPEG, padding after IEND) are ignored, as every decoder ignores them.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass


class HeaderError(ValueError):
    """The header is missing, cut short or inconsistent (the message says what)."""


@dataclass(frozen=True)
class ImageHeader:
    """What a decoder will allocate: `width`×`height` pixels of `channels` samples of `sample_bytes` each, and
    for tiled TIFF one tile buffer (`tile` = (tile width, tile height)) that may be larger than the image."""

    format: str
    width: int
    height: int
    channels: int = 4
    sample_bytes: int = 1
    tile: tuple[int, int] | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def decoded_bytes(self) -> int:
        per_pixel = self.channels * self.sample_bytes
        tile = self.tile[0] * self.tile[1] if self.tile else 0
        return max(self.pixels, tile) * per_pixel


def _u16be(d: bytes, o: int) -> int:
    return struct.unpack_from(">H", d, o)[0]


def _u32be(d: bytes, o: int) -> int:
    return struct.unpack_from(">I", d, o)[0]


def _need(data: bytes, end: int, what: str) -> None:
    if end > len(data):
        raise HeaderError(f"the {what} is cut short")


def _bytes_for(bits: int) -> int:
    return 1 if bits <= 8 else 2 if bits <= 16 else 4 if bits <= 32 else 8


# ------------------------------------------------------------------------------------------------ signatures
def _is_avif(d: bytes) -> bool:
    """libavif's avifPeekCompatibleFileType: a leading 'ftyp' box whose major or compatible brands name AVIF."""
    if len(d) < 16 or d[4:8] != b"ftyp":
        return False
    size = min(_u32be(d, 0), len(d))
    brands = [d[8:12]] + [d[i:i + 4] for i in range(16, size - 3, 4)]
    return any(b in (b"avif", b"avis", b"avio") for b in brands)


_SPACE = b" \t\n\v\f\r"  # C isspace(), which OpenCV's signature checks use

# OpenCV's decoders in registration order (ImageCodecInitializer, loadsave.cpp), each with its checkSignature.
SIGNATURES: list[tuple[str, Callable[[bytes], bool]]] = [
    ("BMP", lambda d: d[:2] == b"BM"),
    ("GIF", lambda d: d[:6] in (b"GIF87a", b"GIF89a")),
    ("AVIF", _is_avif),
    ("HDR", lambda d: d.startswith((b"#?RGBE", b"#?RADIANCE"))),
    ("JPEG", lambda d: d[:3] == b"\xff\xd8\xff"),
    ("WEBP", lambda d: len(d) >= 32 and d[:4] == b"RIFF" and d[8:12] == b"WEBP"),
    ("SUNRASTER", lambda d: d[:4] == b"\x59\xa6\x6a\x95"),
    ("PXM", lambda d: len(d) >= 3 and d[:1] == b"P" and d[1:2] in b"123456" and d[2] in _SPACE),
    ("PAM", lambda d: len(d) >= 3 and d[:2] == b"P7" and d[2] in _SPACE),
    ("PFM", lambda d: len(d) >= 3 and d[:1] == b"P" and d[1:2] in (b"f", b"F") and d[2] in _SPACE),
    ("TIFF", lambda d: d[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")),
    ("PNG", lambda d: d[:8] == b"\x89PNG\r\n\x1a\n"),
    ("JP2", lambda d: d[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n"),
    ("J2K", lambda d: d[:4] == b"\xff\x4f\xff\x51"),
    ("EXR", lambda d: d[:4] == b"\x76\x2f\x31\x01"),
]


def sniff(data: bytes) -> str | None:
    """The format OpenCV will decode `data` as, or None when no decoder of ours accepts it."""
    for name, check in SIGNATURES:
        if check(data):
            return name
    return None


# ------------------------------------------------------------------------------------------------ parsers
def _png(d: bytes) -> ImageHeader:
    # IHDR must come first (PNG spec 11.2.2): width, height, bit depth, colour type
    _need(d, 33, "PNG header")
    if d[12:16] != b"IHDR" or _u32be(d, 8) != 13:
        raise HeaderError("the PNG file does not start with its IHDR chunk")
    width, height, depth = _u32be(d, 16), _u32be(d, 20), d[24]
    # APNG frames (fcTL) must lie inside the canvas (APNG spec); a larger one would be a second, hidden size
    pos = 8
    while pos + 8 <= len(d):
        length, tag = _u32be(d, pos), d[pos + 4:pos + 8]
        if tag == b"fcTL" and length >= 20 and pos + 28 <= len(d):
            fw, fh, fx, fy = struct.unpack_from(">IIII", d, pos + 12)
            if fx + fw > width or fy + fh > height:
                raise HeaderError("an APNG frame lies outside the image")
        if tag == b"IEND":
            break
        pos += 12 + length
    return ImageHeader("PNG", width, height, 4, 2 if depth == 16 else 1)


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01, *range(0xD0, 0xD9)}  # TEM, RST0-7, SOI: markers without a length


def _jpeg(d: bytes) -> ImageHeader:
    # ITU T.81 B.2: the frame header (SOFn) gives precision, height, width and the number of components
    pos = 2
    while True:
        _need(d, pos + 2, "JPEG header")
        if d[pos] != 0xFF:
            raise HeaderError("the JPEG header is corrupt")
        while pos + 1 < len(d) and d[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        _need(d, pos + 2, "JPEG header")
        marker = d[pos + 1]
        if marker in _STANDALONE:
            pos += 2
            continue
        _need(d, pos + 4, "JPEG header")
        length = _u16be(d, pos + 2)
        if marker in _SOF:
            _need(d, pos + 10, "JPEG frame header")
            precision, height, width, comps = d[pos + 4], _u16be(d, pos + 5), _u16be(d, pos + 7), d[pos + 9]
            return ImageHeader("JPEG", width, height, 1 if comps == 1 else 3, _bytes_for(precision))
        if marker in (0xD9, 0xDA) or length < 2:
            raise HeaderError("the JPEG file has no frame header")
        pos += 2 + length


def _bmp(d: bytes) -> ImageHeader:
    # BITMAPFILEHEADER (14 bytes), then BITMAPCOREHEADER (12: 16-bit sizes) or BITMAPINFOHEADER and later
    # (>= 36 here as in OpenCV's BmpDecoder: 32-bit sizes, a negative height means top-down rows)
    _need(d, 26, "BMP header")
    size = struct.unpack_from("<I", d, 14)[0]
    if size == 12:
        width, height = struct.unpack_from("<HH", d, 18)
    elif size >= 36:
        width, height = struct.unpack_from("<ii", d, 18)
        height = abs(height)
    else:
        raise HeaderError("the BMP header is of an unknown kind")
    return ImageHeader("BMP", width, height, 4, 1)


def _gif(d: bytes) -> ImageHeader:
    _need(d, 10, "GIF header")
    width, height = struct.unpack_from("<HH", d, 6)  # the logical screen (GIF89a, section 18)
    return ImageHeader("GIF", width, height, 4, 1)


def _webp(d: bytes) -> ImageHeader:
    # What libwebp's WebPGetFeatures reads (OpenCV passes it the first 32 bytes): the VP8X canvas when the
    # first chunk is VP8X, else the VP8 key frame's or the VP8L image's own size (RFC 9649, sections 2.5-2.7)
    tag = d[12:16]
    if tag == b"VP8X":
        _need(d, 30, "WebP header")
        w = 1 + int.from_bytes(d[24:27], "little")
        h = 1 + int.from_bytes(d[27:30], "little")
        return ImageHeader("WEBP", w, h, 4, 1)
    if tag == b"VP8 ":
        _need(d, 30, "WebP header")
        if d[23:26] != b"\x9d\x01\x2a":
            raise HeaderError("the WebP key frame is corrupt")
        w, h = struct.unpack_from("<HH", d, 26)
        return ImageHeader("WEBP", w & 0x3FFF, h & 0x3FFF, 4, 1)
    if tag == b"VP8L":
        _need(d, 25, "WebP header")
        if d[20] != 0x2F:
            raise HeaderError("the lossless WebP header is corrupt")
        bits = int.from_bytes(d[21:25], "little")
        return ImageHeader("WEBP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4, 1)
    raise HeaderError("the WebP file has no image chunk first")


def _sunraster(d: bytes) -> ImageHeader:
    _need(d, 16, "Sun raster header")
    width, height, depth = struct.unpack_from(">III", d, 4)
    return ImageHeader("SUNRASTER", width, height, 3, 1)


def _netpbm_numbers(d: bytes, pos: int, count: int) -> tuple[list[int], int]:
    """`count` whitespace-separated decimal numbers from `pos`, with '#' comments to the end of the line
    (Netpbm; OpenCV's ReadNumber), and the offset after them. Anything else is an error, as in OpenCV."""
    out = []
    n = len(d)
    while len(out) < count:
        while pos < n and (d[pos] in _SPACE or d[pos] == 0x23):
            if d[pos] == 0x23:
                while pos < n and d[pos] not in b"\r\n":
                    pos += 1
            pos += 1
        start = pos
        while pos < n and 0x30 <= d[pos] <= 0x39:
            pos += 1
        if pos == start or pos - start > 10:
            raise HeaderError("the Netpbm header is corrupt")
        out.append(int(d[start:pos]))
    return out, pos


def _pxm(d: bytes) -> ImageHeader:
    kind = d[1:2]
    (width, height), pos = _netpbm_numbers(d, 2, 2)
    maxval = 1 if kind in b"14" else _netpbm_numbers(d, pos, 1)[0][0]
    return ImageHeader("PXM", width, height, 3 if kind in b"36" else 1, 2 if maxval > 255 else 1)


def _pam(d: bytes) -> ImageHeader:
    # Netpbm PAM: "P7", then "KEY value" lines up to ENDHDR; DEPTH is the number of channels (any number)
    if d[2:3] not in (b"\n", b"\r"):
        raise HeaderError("the PAM header is corrupt")
    end = d.find(b"ENDHDR", 3, 65536)
    if end < 0:
        raise HeaderError("the PAM header has no ENDHDR")
    fields: dict[str, int] = {}
    for line in re.split(rb"[\r\n]", d[3:end]):
        line = line.strip(_SPACE)
        if not line or line.startswith(b"#"):
            continue
        key, _, value = line.partition(b" ")
        key = key.decode("latin-1")
        if key in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"):
            value = value.strip(_SPACE)
            if key in fields or not re.fullmatch(rb"\d{1,10}", value):
                raise HeaderError("the PAM header is corrupt")
            fields[key] = int(value)
    if not {"WIDTH", "HEIGHT", "DEPTH"} <= fields.keys():
        raise HeaderError("the PAM header lacks its size")
    return ImageHeader("PAM", fields["WIDTH"], fields["HEIGHT"], max(fields["DEPTH"], 1),
                       2 if fields.get("MAXVAL", 255) > 255 else 1)


def _pfm(d: bytes) -> ImageHeader:
    # "PF\n" (colour) or "Pf\n" (gray), then width and height each ended by one whitespace byte, as OpenCV's
    # PFMDecoder reads them (it does not skip repeated whitespace: refused here rather than guessed)
    m = re.match(rb"P([Ff])\n(\d{1,10})[ \t\n\v\f\r](\d{1,10})[ \t\n\v\f\r]", d)
    if not m:
        raise HeaderError("the PFM header is corrupt")
    return ImageHeader("PFM", int(m.group(2)), int(m.group(3)), 3 if m.group(1) == b"F" else 1, 4)


def _hdr(d: bytes) -> ImageHeader:
    # Radiance RGBE (OpenCV's rgbe.cpp, RGBE_ReadHeader): lines read with fgets into 128 bytes up to an empty
    # line, then "-Y <height> +X <width>". A line longer than that buffer would be split differently by OpenCV
    # than here: refused.
    pos = 0
    first = True
    while True:
        nl = d.find(b"\n", pos, pos + 127)
        if nl < 0:
            raise HeaderError("the Radiance header is cut short or has an overlong line")
        line = d[pos:nl]
        pos = nl + 1
        if not first and line == b"":
            break
        first = False
    nl = d.find(b"\n", pos, pos + 127)
    line = d[pos:nl if nl >= 0 else pos + 127]
    m = re.match(rb"-Y[ \t\n\v\f\r]*(\d{1,10})[ \t\n\v\f\r]*\+X[ \t\n\v\f\r]*(\d{1,10})", line)
    if not m:
        raise HeaderError("the Radiance header has no '-Y height +X width' line")
    return ImageHeader("HDR", int(m.group(2)), int(m.group(1)), 3, 4)


def _tiff(d: bytes) -> ImageHeader:
    # TIFF 6.0 (and BigTIFF): the first image file directory holds ImageWidth (256), ImageLength (257),
    # BitsPerSample (258), SamplesPerPixel (277), TileWidth (322) and TileLength (323). OpenCV reads the first
    # directory; its tile buffer may be larger than the image, so it counts too.
    endian = "<" if d[:2] == b"II" else ">"
    big = d[2:4] in (b"+\0", b"\0+")
    _need(d, 16 if big else 8, "TIFF header")
    if big:
        offset = struct.unpack_from(endian + "Q", d, 8)[0]
        _need(d, offset + 8, "TIFF directory")
        count = struct.unpack_from(endian + "Q", d, offset)[0]
        entry_size, first, value_at = 20, offset + 8, 12
    else:
        offset = struct.unpack_from(endian + "I", d, 4)[0]
        _need(d, offset + 2, "TIFF directory")
        count = struct.unpack_from(endian + "H", d, offset)[0]
        entry_size, first, value_at = 12, offset + 2, 8
    _need(d, first + count * entry_size, "TIFF directory")
    tags: dict[int, int] = {}
    inline = 8 if big else 4
    for i in range(count):
        at = first + i * entry_size
        tag, kind = struct.unpack_from(endian + "HH", d, at)
        if tag not in (256, 257, 258, 277, 322, 323):
            continue
        fmt = {1: "B", 3: "H", 4: "I", 16: "Q"}.get(kind)
        if fmt is None:
            raise HeaderError("a TIFF size tag has an unexpected type")
        n = struct.unpack_from(endian + ("Q" if big else "I"), d, at + 4)[0]
        where = at + value_at
        if n * struct.calcsize(fmt) > inline:  # the values are stored elsewhere (BitsPerSample per sample)
            where = struct.unpack_from(endian + ("Q" if big else "I"), d, where)[0]
        tags[tag] = struct.unpack_from(endian + fmt, d, where)[0]  # the first value: what OpenCV reads
    if 256 not in tags or 257 not in tags:
        raise HeaderError("the TIFF directory lacks the image size")
    tile = (tags[322], tags[323]) if 322 in tags and 323 in tags else None
    return ImageHeader("TIFF", tags[256], tags[257], max(tags.get(277, 1), 1), _bytes_for(tags.get(258, 8)), tile)


def _j2k_siz(d: bytes, pos: int) -> ImageHeader:
    # ITU T.800 A.5.1: SOC, then SIZ: Xsiz, Ysiz, XOsiz, YOsiz, ..., Csiz and a precision per component.
    # OpenJPEG holds every component as 32-bit integers while decoding.
    _need(d, pos + 42, "JPEG 2000 header")
    if d[pos:pos + 4] != b"\xff\x4f\xff\x51":
        raise HeaderError("the JPEG 2000 code-stream does not start with SOC, SIZ")
    xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", d, pos + 8)
    comps = _u16be(d, pos + 40)
    if xo >= xsiz or yo >= ysiz:
        raise HeaderError("the JPEG 2000 image is empty")
    return ImageHeader("JPEG2000", xsiz - xo, ysiz - yo, max(comps, 1), 4)


def _jp2(d: bytes) -> ImageHeader:
    # ISO/IEC 15444-1 annex I: boxes (length, type); the code-stream is in 'jp2c'. The header box 'ihdr'
    # (height, width, components) must agree; the larger of the two is taken.
    pos, ihdr = 0, None
    while pos + 8 <= len(d):
        length, kind = _u32be(d, pos), d[pos + 4:pos + 8]
        head = 8
        if length == 1:
            _need(d, pos + 16, "JP2 box")
            length, head = struct.unpack_from(">Q", d, pos + 8)[0], 16
        elif length == 0:
            length = len(d) - pos
        if kind == b"jp2h":
            inner = d.find(b"ihdr", pos + head, pos + length)
            if inner >= 0 and inner + 14 <= len(d):
                h, w, c = struct.unpack_from(">IIH", d, inner + 4)
                ihdr = (w, h, c)
        if kind == b"jp2c":
            siz = _j2k_siz(d, pos + head)
            if ihdr is not None:
                return ImageHeader("JPEG2000", max(siz.width, ihdr[0]), max(siz.height, ihdr[1]),
                                   max(siz.channels, ihdr[2]), 4)
            return siz
        if length < head:
            break
        pos += length
    raise HeaderError("the JP2 file has no code-stream")


_ISO_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"iprp", b"ipco"}


def _avif(d: bytes) -> ImageHeader:
    # ISO/IEC 14496-12 boxes. Every image item has an 'ispe' (image spatial extents, HEIF 6.5.3) and libavif
    # refuses an item without one; an image sequence's track has 'tkhd' and an 'av01' sample entry with the
    # frame size. The largest size found anywhere bounds what libavif will decode.
    sizes: list[tuple[int, int]] = []

    def walk(start: int, end: int, depth: int) -> None:
        pos = start
        while pos + 8 <= end and depth < 12:
            length, kind = _u32be(d, pos), d[pos + 4:pos + 8]
            head = 8
            if length == 1:
                _need(d, pos + 16, "AVIF box")
                length, head = struct.unpack_from(">Q", d, pos + 8)[0], 16
            elif length == 0:
                length = end - pos
            if length < head:
                raise HeaderError("an AVIF box is corrupt")
            box_end = min(pos + length, end)
            body = pos + head
            if kind in _ISO_CONTAINERS:
                walk(body, box_end, depth + 1)
            elif kind == b"meta":
                walk(body + 4, box_end, depth + 1)          # a full box: version and flags first
            elif kind == b"stsd":
                walk(body + 8, box_end, depth + 1)          # full box, then the entry count
            elif kind == b"av01" and body + 28 <= box_end:  # VisualSampleEntry: width, height at 24
                sizes.append(struct.unpack_from(">HH", d, body + 24))
            elif kind == b"ispe" and body + 12 <= box_end:
                sizes.append(struct.unpack_from(">II", d, body + 4))
            elif kind == b"tkhd" and box_end - 8 >= body:
                w, h = struct.unpack_from(">II", d, box_end - 8)   # 16.16 fixed point, last in the box
                sizes.append((w >> 16, h >> 16))
            pos += length

    walk(0, len(d), 0)
    if not sizes:
        raise HeaderError("the AVIF file declares no image size")
    width = max(w for w, _ in sizes)
    height = max(h for _, h in sizes)
    return ImageHeader("AVIF", width, height, 4, 2)


def _exr(d: bytes) -> ImageHeader:
    # OpenEXR: after magic and version, attributes (name\0 type\0 size value) up to an empty name; the
    # 'dataWindow' box2i (xMin, yMin, xMax, yMax) is the decoded size
    pos = 8
    while pos < len(d) and d[pos] != 0:
        name_end = d.find(b"\0", pos, pos + 256)
        type_end = d.find(b"\0", name_end + 1, name_end + 257) if name_end >= 0 else -1
        if name_end < 0 or type_end < 0:
            break
        _need(d, type_end + 5, "OpenEXR header")
        size = struct.unpack_from("<i", d, type_end + 1)[0]
        value = type_end + 5
        if d[pos:name_end] == b"dataWindow" and size == 16:
            _need(d, value + 16, "OpenEXR header")
            x0, y0, x1, y1 = struct.unpack_from("<iiii", d, value)
            return ImageHeader("EXR", x1 - x0 + 1, y1 - y0 + 1, 4, 4)
        if size < 0:
            break
        pos = value + size
    raise HeaderError("the OpenEXR header has no data window")


PARSERS: dict[str, Callable[[bytes], ImageHeader]] = {
    "BMP": _bmp, "GIF": _gif, "AVIF": _avif, "HDR": _hdr, "JPEG": _jpeg, "WEBP": _webp,
    "SUNRASTER": _sunraster, "PXM": _pxm, "PAM": _pam, "PFM": _pfm, "TIFF": _tiff, "PNG": _png,
    "JP2": _jp2, "J2K": lambda d: _j2k_siz(d, 0), "EXR": _exr,
}


def read_header(data: bytes) -> ImageHeader | None:
    """The header of encoded image bytes: None when no OpenCV decoder would accept them; HeaderError when the
    format is known but its header cannot be read. Sizes of 0 or below are errors too."""
    fmt = sniff(data)
    if fmt is None:
        return None
    try:
        header = PARSERS[fmt](data)
    except (struct.error, IndexError, OverflowError):  # a field read past the end of the data
        raise HeaderError(f"the {fmt} header is cut short") from None
    if header.width <= 0 or header.height <= 0:
        raise HeaderError(f"the {fmt} header gives an empty size ({header.width}×{header.height})")
    return header


# ------------------------------------------------------------------------------------------------ truncation
def _png_end(d: bytes) -> int | None:
    """Offset just after IEND, or None when the chunks run past the data (PNG spec 5.3)."""
    pos = 8
    while pos + 12 <= len(d):
        length, tag = _u32be(d, pos), d[pos + 4:pos + 8]
        if length > 0x7FFFFFFF:
            return None
        pos += 12 + length
        if tag == b"IEND":
            return pos if pos <= len(d) else None
    return None


def _jpeg_end(d: bytes) -> int | None:
    """Offset just after EOI, or None when the data stops first: marker segments are skipped by their length,
    entropy-coded data after SOS runs to the next marker that is not a stuffed 0xFF00 or a restart (T.81 B.1)."""
    pos, n = 2, len(d)
    while pos + 1 < n:
        if d[pos] != 0xFF:
            return None
        marker = d[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > n:
            return None
        pos += 2 + _u16be(d, pos + 2)
        if marker == 0xDA:  # scan data until the next real marker
            while True:
                pos = d.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    return None
                nxt = d[pos + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
                    pos += 1 if nxt == 0xFF else 2
                    continue
                break
    return None


def truncated(data: bytes, fmt: str) -> bool:
    """True when a PNG or JPEG stops before its end marker (OpenCV decodes such files with a warning and
    grey or black rows); other formats' decoders fail on their own."""
    if fmt == "PNG":
        return _png_end(data) is None
    if fmt == "JPEG":
        return _jpeg_end(data) is None
    return False
