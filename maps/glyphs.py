"""SDF glyphs of the basemap's label characters, as MapLibre glyph PBFs (字形).

MapLibre GL draws text from signed-distance-field (SDF) glyphs: 24 px bitmaps with a
3 px buffer whose bytes say how far each pixel lies from the glyph's outline
(``255 - 255 * (d / 8 + 0.25)``, ``d`` in pixels, negative inside: 192 on the outline).
Given no glyph source it draws every CJK character itself, on the page's main thread,
with whatever fonts the browser has (0.1-0.45 s of the overview's first view at
200,000 households, and empty boxes on a machine without a CJK font).  Here the glyphs
of the characters the district's labels use are drawn once on the server from a CJK
font installed with the system (:data:`FONT_CANDIDATES`), kept on disk
(:class:`GlyphCache`) and served per fontstack and range of 256 code points
(``{fontstack}/{start}-{end}.pbf``, the ``glyphs`` message of mapbox/glyph-pbf).

Method: FreeType rasterises the outline at :data:`OVERSAMPLE` times 24 px (no hinting,
anti-aliased, thresholded at half coverage); the Euclidean distance transform
(``scipy.ndimage``) gives each fine pixel's distance to the other side of the outline;
the signed distances averaged over each block of fine pixels are the distances at the
24 px pixels' centres.  The metrics follow node-fontnik (``RenderSDF`` of
sdf-glyph-foundry): ``left``/``top`` of the glyph's box at 24 px, ``top`` counted from
the font's ascender, ``width``/``height`` of the box without the buffer, the advance in
whole pixels.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

log = logging.getLogger("wangge.glyphs")

#: Glyph size, buffer, SDF radius and cutoff (px at 24 px), as MapLibre expects them.
SIZE_PX = 24
BUFFER_PX = 3
RADIUS_PX = 8.0
CUTOFF = 0.25
#: Fine pixels per glyph pixel (each way) the outline is rasterised at.
OVERSAMPLE = 4
#: Code points per glyph range (one PBF).
RANGE = 256
#: Always drawn besides the labels' characters: the space.
ALWAYS = " "
#: How much a regular face is emboldened (in em) for a bold fontstack it lacks.
EMBOLDEN_EM = 0.035
#: Changes whenever the drawing changes: glyphs cached by an older version are redrawn.
GENERATOR = "wangge-sdf-1"

#: CJK fonts Debian installs, best first: (family, regular (path, face), bold or None).
FONT_CANDIDATES: tuple[tuple[str, tuple[str, int], tuple[str, int] | None], ...] = (
    (
        "Noto Sans CJK SC",
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2),
    ),
    ("WenQuanYi Zen Hei", ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0), None),
    ("WenQuanYi Micro Hei", ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0), None),
)


class GlyphFontMissing(FileNotFoundError):
    """No CJK font is installed to draw the labels' glyphs from."""


@dataclass(frozen=True)
class GlyphFont:
    """One fontstack the server draws: its name in the style and the face it is drawn from.

    ``embolden_em`` > 0 thickens the outline (a bold stack drawn from a regular face).
    """

    stack: str
    path: str
    face_index: int
    embolden_em: float = 0.0

    def key(self) -> str:
        """What identifies the drawing: font file (path, size, time), face, weight, method."""
        stat = Path(self.path).stat()
        return (
            f"{GENERATOR}|{self.path}|{stat.st_size}|{int(stat.st_mtime)}|{self.face_index}"
            f"|{self.embolden_em}"
        )


@dataclass(frozen=True)
class LabelFonts:
    """The regular and the bold fontstack the basemap's labels are drawn with."""

    regular: GlyphFont
    bold: GlyphFont

    @property
    def stacks(self) -> dict[str, GlyphFont]:
        """Fontstack name → font."""
        return {self.regular.stack: self.regular, self.bold.stack: self.bold}


def find_label_fonts(
    candidates: Iterable[tuple[str, tuple[str, int], tuple[str, int] | None]] = FONT_CANDIDATES,
) -> LabelFonts | None:
    """The first installed CJK font of ``candidates``; None when none is installed.

    A family without a bold face gets its bold stack drawn from the regular face,
    emboldened by :data:`EMBOLDEN_EM`.
    """
    for family, (path, face), bold in candidates:
        if not Path(path).is_file():
            continue
        regular = GlyphFont(f"{family} Regular", path, _face_of(path, family, face))
        if bold is not None and Path(bold[0]).is_file():
            heavy = GlyphFont(f"{family} Bold", bold[0], _face_of(bold[0], family, bold[1]))
        else:
            heavy = GlyphFont(f"{family} Bold", regular.path, regular.face_index, EMBOLDEN_EM)
        return LabelFonts(regular, heavy)
    return None


def _face_of(path: str, family: str, guess: int) -> int:
    """The index of ``family``'s face in a font collection (``.ttc``); ``guess`` if none is."""
    import freetype

    count = freetype.Face(path, index=0).num_faces
    for index in range(count):
        if freetype.Face(path, index=index).family_name.decode(errors="replace") == family:
            return index
    return guess


@functools.lru_cache(maxsize=1)
def installed_label_fonts() -> LabelFonts | None:
    """:func:`find_label_fonts` of this machine, looked for once per process."""
    return find_label_fonts()


# ---------------------------------------------------------------- protobuf


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field_number: int, wire_type: int) -> bytes:
    return _varint(field_number << 3 | wire_type)


def _uint(field_number: int, value: int) -> bytes:
    return _key(field_number, 0) + _varint(value)


def _sint(field_number: int, value: int) -> bytes:
    # zigzag: 0, -1, 1, -2 … → 0, 1, 2, 3 …
    return _key(field_number, 0) + _varint((value << 1) ^ (value >> 31))


def _bytes(field_number: int, value: bytes) -> bytes:
    return _key(field_number, 2) + _varint(len(value)) + value


@dataclass(frozen=True)
class Glyph:
    """One SDF glyph: code point, bitmap ((height + 6) × (width + 6) bytes) and metrics (px)."""

    id: int
    bitmap: bytes
    width: int
    height: int
    left: int
    top: int
    advance: int

    def encode(self) -> bytes:
        """The ``glyph`` message (id 1, bitmap 2, width 3, height 4, left 5, top 6, advance 7)."""
        return (
            _uint(1, self.id)
            + (_bytes(2, self.bitmap) if self.width > 0 else b"")
            + _uint(3, self.width)
            + _uint(4, self.height)
            + _sint(5, self.left)
            + _sint(6, self.top)
            + _uint(7, self.advance)
        )


def range_pbf(stack: str, start: int, glyphs: Iterable[bytes]) -> bytes:
    """A ``glyphs`` message holding one fontstack's glyphs of the range from ``start``.

    ``glyphs``: encoded ``glyph`` messages (:meth:`Glyph.encode`).
    """
    body = _bytes(1, stack.encode()) + _bytes(2, f"{start}-{start + RANGE - 1}".encode())
    for glyph in glyphs:
        body += _bytes(3, glyph)
    return _bytes(1, body)


# ---------------------------------------------------------------- drawing


def sdf_bytes(inside: np.ndarray, oversample: int = OVERSAMPLE) -> np.ndarray:
    """SDF bytes of a shape given as a fine boolean raster (True inside).

    Parameters
    ----------
    inside
        Fine pixels, ``oversample`` per glyph pixel each way; both sides a multiple of it.

    Returns
    -------
    numpy.ndarray
        ``uint8`` glyph pixels: ``255 - 255 * (d / RADIUS_PX + CUTOFF)`` clipped, ``d``
        the distance (glyph px) from the pixel's centre to the outline, negative inside.
    """
    outside_d = ndimage.distance_transform_edt(~inside)
    inside_d = ndimage.distance_transform_edt(inside)
    # the outline runs half a fine pixel from the centres on either side of it
    signed = np.where(inside, 0.5 - inside_d, outside_d - 0.5) / oversample
    rows, cols = inside.shape[0] // oversample, inside.shape[1] // oversample
    centre = signed.reshape(rows, oversample, cols, oversample).mean(axis=(1, 3))
    value = 255.0 - 255.0 * np.clip(centre / RADIUS_PX + CUTOFF, 0.0, 1.0)
    return np.round(value).astype(np.uint8)


class GlyphDrawer:
    """Draws SDF glyphs of one :class:`GlyphFont` with FreeType (one face, not thread-safe)."""

    def __init__(self, font: GlyphFont) -> None:
        import freetype

        self._ft = freetype
        self.font = font
        self.face = freetype.Face(font.path, index=font.face_index)
        self.face.set_pixel_sizes(0, SIZE_PX * OVERSAMPLE)
        # node-fontnik's top counts from the ascender at 24 px (FreeType rounds it up)
        self.ascender = math.ceil(self.face.ascender * SIZE_PX / self.face.units_per_EM)
        self._strength = round(font.embolden_em * SIZE_PX * OVERSAMPLE * 64)

    def draw(self, codepoint: int) -> Glyph | None:
        """The glyph of ``codepoint``; None when the font has none."""
        ft = self._ft
        if self.face.get_char_index(codepoint) == 0:
            return None
        self.face.load_char(
            codepoint, ft.FT_LOAD_NO_HINTING | ft.FT_LOAD_NO_BITMAP | ft.FT_LOAD_NO_AUTOHINT
        )
        slot = self.face.glyph
        advance_fine = slot.advance.x / 64.0
        if self._strength:
            ft.raw.FT_Outline_Embolden(ft.byref(slot.outline._FT_Outline), self._strength)
            advance_fine += self._strength / 64.0
        advance = int(advance_fine / OVERSAMPLE)
        if slot.outline.n_points == 0:
            return Glyph(codepoint, b"", 0, 0, 0, -self.ascender, advance)
        slot.render(ft.FT_RENDER_MODE_NORMAL)
        bitmap = slot.bitmap
        fine_w, fine_h = bitmap.width, bitmap.rows
        if fine_w == 0 or fine_h == 0:
            return Glyph(codepoint, b"", 0, 0, 0, -self.ascender, advance)
        coverage = np.array(bitmap.buffer, dtype=np.uint8).reshape(fine_h, bitmap.pitch)
        coverage = coverage[:, :fine_w]
        fine_left, fine_top = slot.bitmap_left, slot.bitmap_top
        # the glyph's box in whole 24 px pixels
        left = math.floor(fine_left / OVERSAMPLE)
        right = math.ceil((fine_left + fine_w) / OVERSAMPLE)
        top = math.ceil(fine_top / OVERSAMPLE)
        bottom = math.floor((fine_top - fine_h) / OVERSAMPLE)
        width, height = right - left, top - bottom
        canvas = np.zeros(
            ((height + 2 * BUFFER_PX) * OVERSAMPLE, (width + 2 * BUFFER_PX) * OVERSAMPLE),
            dtype=bool,
        )
        row = (top + BUFFER_PX) * OVERSAMPLE - fine_top
        col = fine_left - (left - BUFFER_PX) * OVERSAMPLE
        canvas[row : row + fine_h, col : col + fine_w] = coverage >= 128
        if not canvas.any():
            return Glyph(codepoint, b"", 0, 0, 0, -self.ascender, advance)
        return Glyph(
            codepoint,
            sdf_bytes(canvas).tobytes(),
            width,
            height,
            left,
            top - self.ascender,
            advance,
        )


# ---------------------------------------------------------------- the glyph set


def label_characters(names: Iterable[str]) -> frozenset[int]:
    """The code points a set of labels needs (printable ones, and the space)."""
    points = {ord(c) for c in ALWAYS}
    for name in names:
        if name:
            points.update(ord(c) for c in name if c.isprintable() or c == " ")
    return frozenset(points)


class GlyphCache:
    """Drawn glyphs kept on disk, one file per font drawing (:meth:`GlyphFont.key`).

    A file is a run of records ``<code point: u32><length: u32><glyph message>`` (little
    endian); absent characters are recorded with length 0, so they are not looked for
    again.  Drawing a few hundred CJK glyphs takes about a second; read back, a few ms.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def _path(self, font: GlyphFont) -> Path | None:
        if self.folder is None:
            return None
        digest = hashlib.sha256(font.key().encode()).hexdigest()[:20]
        return self.folder / f"{digest}.glyphs"

    def load(self, font: GlyphFont) -> dict[int, bytes]:
        """Glyph messages kept for ``font`` (empty bytes: the font has no such glyph)."""
        path = self._path(font)
        if path is None or not path.is_file():
            return {}
        data = path.read_bytes()
        out: dict[int, bytes] = {}
        at = 0
        try:
            while at < len(data):
                codepoint, length = struct.unpack_from("<II", data, at)
                at += 8
                out[codepoint] = data[at : at + length]
                at += length
        except struct.error:
            log.warning("glyph cache %s is cut short; drawing its glyphs again", path)
            return {}
        return out

    def save(self, font: GlyphFont, glyphs: Mapping[int, bytes]) -> None:
        """Keep ``glyphs`` for ``font`` (written to a new file, then renamed over the old)."""
        path = self._path(font)
        if path is None:
            return
        with self._lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            parts = [struct.pack("<II", cp, len(glyphs[cp])) + glyphs[cp] for cp in sorted(glyphs)]
            # one name per process and thread: several server processes may save at once
            tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
            tmp.write_bytes(b"".join(parts))
            tmp.replace(path)


@dataclass
class GlyphSet:
    """The glyphs of a set of characters in every label fontstack, ready to serve.

    ``glyphs[stack][codepoint]`` is an encoded glyph message; ``tag`` changes with the
    fonts and the characters (an ETag).
    """

    glyphs: dict[str, dict[int, bytes]]
    tag: str
    _ranges: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)

    @property
    def stacks(self) -> tuple[str, ...]:
        """The fontstack names served."""
        return tuple(self.glyphs)

    def range(self, stack: str, start: int) -> bytes | None:
        """The PBF of ``stack``'s glyphs from ``start`` (a multiple of 256); None: no such stack.

        A range holding none of the labels' characters is a valid PBF without glyphs.
        """
        held = self.glyphs.get(stack)
        if held is None:
            return None
        key = (stack, start)
        body = self._ranges.get(key)
        if body is None:
            inside = [held[cp] for cp in sorted(held) if start <= cp < start + RANGE]
            body = self._ranges[key] = range_pbf(stack, start, inside)
        return body

    def bundle(self, stack: str) -> bytes | None:
        """Every non-empty range of ``stack`` in one answer; None: no such stack.

        ``<index length: u32 LE><index: JSON {"start": [offset, length], ...}><PBFs>``,
        offsets counted from the end of the index: a page fetches this once and answers
        MapLibre's range requests from it (see :mod:`maps.basemap`).
        """
        held = self.glyphs.get(stack)
        if held is None:
            return None
        starts = sorted({cp // RANGE * RANGE for cp in held})
        index: dict[str, list[int]] = {}
        parts: list[bytes] = []
        offset = 0
        for start in starts:
            body = self.range(stack, start) or b""
            index[str(start)] = [offset, len(body)]
            parts.append(body)
            offset += len(body)
        head = json.dumps(index, separators=(",", ":")).encode()
        return struct.pack("<I", len(head)) + head + b"".join(parts)


def build_glyph_set(
    fonts: Iterable[tuple[GlyphFont, Iterable[int]]], cache: GlyphCache | None = None
) -> GlyphSet:
    """Draw (or read back from ``cache``) the glyphs of each font's characters.

    Parameters
    ----------
    fonts
        (font, code points) pairs: each fontstack holds only the characters its labels use.

    Characters a font lacks are left out (MapLibre then draws nothing for them).  Logs
    progress every few seconds when many glyphs are drawn at once.
    """
    out: dict[str, dict[int, bytes]] = {}
    digest = hashlib.sha256()
    for font, characters in fonts:
        stack = font.stack
        wanted = sorted(set(characters))
        kept = cache.load(font) if cache is not None else {}
        missing = [cp for cp in wanted if cp not in kept]
        if missing:
            drawer = GlyphDrawer(font)
            started = last = time.monotonic()
            for i, cp in enumerate(missing, 1):
                glyph = drawer.draw(cp)
                kept[cp] = b"" if glyph is None else glyph.encode()
                now = time.monotonic()
                if now - last > 2.0:
                    log.info("drawing glyphs of %s: %d of %d", stack, i, len(missing))
                    last = now
            log.info(
                "drew %d glyphs of %s in %.1f s", len(missing), stack, time.monotonic() - started
            )
            if cache is not None:
                cache.save(font, kept)
        out[stack] = {cp: kept[cp] for cp in wanted if kept[cp]}
        digest.update(font.key().encode())
        digest.update(",".join(map(str, wanted)).encode())
    return GlyphSet(out, digest.hexdigest()[:16])
