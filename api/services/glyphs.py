"""The basemap labels' glyphs (字形): which characters, drawn from which font, per range.

The offline basemap's labels (street, place and facility names) are drawn by MapLibre
from SDF glyph PBFs the server makes (:mod:`maps.glyphs`) for exactly the characters
those names use, so the browser draws no character itself and needs no CJK font.  The
door keeps the :class:`maps.glyphs.GlyphSet` while the names' tables stand still
(:data:`LABEL_TABLES`) and answers ``{fontstack}/{start}-{end}.pbf`` from it.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine

from gis.errors import InvalidInput, NotFound, ServiceError
from gis.settings import Settings
from gis.store import tile_store
from maps.basemap import LABEL_WEIGHT
from maps.glyphs import RANGE, GlyphCache, GlyphSet, LabelFonts, build_glyph_set, label_characters

#: The versioned tables the labels' names come from (``grid`` stands in for the admin
#: areas, loaded and replaced with the grids, as for the basemap's tiles).
LABEL_TABLES = ("road_edge", "facility", "grid")
#: Where drawn glyphs are kept between runs, below the data folder.
CACHE_FOLDER = "glyphs"
_RANGE = re.compile(r"(\d{1,7})-(\d{1,7})")


class GlyphError(ServiceError, InvalidInput):
    """A glyph range that is not one of 256 code points starting at a multiple of 256."""


class NoSuchFontstack(ServiceError, NotFound):
    """A fontstack the server does not draw."""


class NoLabelFont(ServiceError, NotFound):
    """No CJK font is installed: the server draws no glyphs (the browser's fonts do)."""


NO_LABEL_FONT = (
    "no CJK font is installed to draw the basemap's glyphs from: install one "
    "(sudo apt-get install fonts-wqy-microhei, or fonts-noto-cjk) and restart"
)


def label_glyphs(engine: Engine, settings: Settings, fonts: LabelFonts) -> GlyphSet:
    """The glyphs of every character the labels use now, drawn or read from the disk cache.

    Each fontstack holds the characters of the label layers drawn with it
    (:data:`maps.basemap.LABEL_WEIGHT`): the bold one only the places' names.
    """
    by_layer = tile_store.label_characters(engine)
    wanted: dict[str, list[str]] = {"regular": [], "bold": []}
    for layer, weight in LABEL_WEIGHT.items():
        wanted[weight].append(by_layer.get(layer, ""))
    return build_glyph_set(
        [
            (fonts.regular, label_characters(wanted["regular"])),
            (fonts.bold, label_characters(wanted["bold"])),
        ],
        GlyphCache(settings.data_dir / CACHE_FOLDER),
    )


def range_start(text: str) -> int:
    """The first code point of a range written ``start-end`` (``0-255``, ``19968-20223``).

    Raises
    ------
    GlyphError
        When it is not 256 code points from a multiple of 256 within the Unicode planes.
    """
    match = _RANGE.fullmatch(text)
    if match is None:
        raise GlyphError(f"glyph range {text!r}: write it start-end, e.g. 0-255")
    start, end = int(match[1]), int(match[2])
    if start % RANGE or end != start + RANGE - 1 or end > 0x10FFFF:
        raise GlyphError(
            f"glyph range {text!r}: a range is {RANGE} code points from a multiple of "
            f"{RANGE}, e.g. 19968-20223"
        )
    return start


def glyph_range(glyphs: GlyphSet, fontstack: str, text: str) -> bytes:
    """The PBF of ``fontstack``'s glyphs in the range ``text``.

    Raises
    ------
    GlyphError
        For a malformed range.
    NoSuchFontstack
        For a fontstack the server does not draw.
    """
    start = range_start(text)
    body = glyphs.range(fontstack, start)
    if body is None:
        raise NoSuchFontstack(
            f"no glyphs of {fontstack!r}: the basemap's fontstacks are {', '.join(glyphs.stacks)}"
        )
    return body


def glyph_bundle(glyphs: GlyphSet, fontstack: str) -> bytes:
    """Every range of ``fontstack`` the labels use, in one answer (:meth:`GlyphSet.bundle`).

    Raises
    ------
    NoSuchFontstack
        For a fontstack the server does not draw.
    """
    body = glyphs.bundle(fontstack)
    if body is None:
        raise NoSuchFontstack(
            f"no glyphs of {fontstack!r}: the basemap's fontstacks are {', '.join(glyphs.stacks)}"
        )
    return body
