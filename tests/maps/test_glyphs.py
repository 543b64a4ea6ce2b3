"""SDF glyphs drawn on the server: distances checked against a square whose distances are known,
metrics and negative offsets read back by Google's protobuf runtime, and the disk cache giving
back what was drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maps.glyphs import (
    BUFFER_PX,
    CUTOFF,
    OVERSAMPLE,
    RADIUS_PX,
    Glyph,
    GlyphCache,
    GlyphDrawer,
    build_glyph_set,
    find_label_fonts,
    label_characters,
    range_pbf,
    sdf_bytes,
)
from tests.glyph_pbf import read_glyphs

FONTS = find_label_fonts()
needs_font = pytest.mark.skipif(FONTS is None, reason="no CJK font installed")


def test_the_distance_field_of_a_square_matches_its_true_distances() -> None:
    # a 10 × 10 px square in a 22 × 22 px glyph, drawn 4 × finer
    size, side, at = 22, 10, 6
    fine = np.zeros((size * OVERSAMPLE, size * OVERSAMPLE), dtype=bool)
    lo, hi = at * OVERSAMPLE, (at + side) * OVERSAMPLE
    fine[lo:hi, lo:hi] = True
    got = sdf_bytes(fine).astype(float)
    centres = np.arange(size) + 0.5
    y, x = np.meshgrid(centres, centres, indexing="ij")
    # exact signed distance to the square [at, at + side]² (negative inside)
    dx = np.maximum(at - x, x - (at + side))
    dy = np.maximum(at - y, y - (at + side))
    outside = np.hypot(np.maximum(dx, 0), np.maximum(dy, 0))
    inside = np.minimum(np.maximum(dx, dy), 0)
    d = outside + inside
    want = 255 - 255 * np.clip(d / RADIUS_PX + CUTOFF, 0, 1)
    # a quarter pixel of distance is 8 of 255; the fine raster is good to an eighth
    assert np.abs(got - want).max() <= 8
    assert got[at + side // 2, at + side // 2] == 255  # deep inside
    assert got[0, 0] == 0  # far outside


def test_a_glyph_message_reads_back_with_its_negative_offsets() -> None:
    glyph = Glyph(0x58A9, bytes(range(7 * 8)), width=1, height=2, left=-3, top=-27, advance=24)
    (stack,) = read_glyphs(range_pbf("Test Sans Regular", 0x5800, [glyph.encode()])).stacks
    assert stack.name == "Test Sans Regular" and stack.range == "22528-22783"
    (got,) = stack.glyphs
    assert (got.id, got.width, got.height, got.left, got.top, got.advance) == (
        0x58A9,
        1,
        2,
        -3,
        -27,
        24,
    )
    assert got.bitmap == glyph.bitmap


def test_labels_characters_leave_out_controls() -> None:
    chars = label_characters(["三墩路", "A\u200b1\n"])
    assert {ord(c) for c in "三墩路A1 "} == set(chars)


@needs_font
def test_a_cjk_character_is_drawn_inside_its_box() -> None:
    assert FONTS is not None
    glyph = GlyphDrawer(FONTS.regular).draw(ord("墩"))
    assert glyph is not None
    pixels = np.frombuffer(glyph.bitmap, dtype=np.uint8).reshape(
        glyph.height + 2 * BUFFER_PX, glyph.width + 2 * BUFFER_PX
    )
    # ink (above the outline's 192) only inside the box, none in the buffer's outer ring
    assert (pixels[BUFFER_PX:-BUFFER_PX, BUFFER_PX:-BUFFER_PX] > 192).any()
    assert (pixels[0, :] < 192).all() and (pixels[-1, :] < 192).all()
    assert GlyphDrawer(FONTS.regular).draw(0xE000) is None  # a private-use point: no glyph


@needs_font
def test_the_disk_cache_gives_back_what_was_drawn(tmp_path: Path) -> None:
    assert FONTS is not None
    chars = label_characters(["三墩镇文一西路"])
    first = build_glyph_set([(FONTS.regular, chars)], GlyphCache(tmp_path))
    (kept,) = tmp_path.glob("*.glyphs")
    again = build_glyph_set([(FONTS.regular, chars)], GlyphCache(tmp_path))
    assert again.glyphs == first.glyphs and again.tag == first.tag
    assert set(first.glyphs[FONTS.regular.stack]) == set(chars)
    # another drawing of the font (bold from the regular face) is kept apart
    build_glyph_set([(FONTS.bold, chars)], GlyphCache(tmp_path))
    assert len(list(tmp_path.glob("*.glyphs"))) == 2 and kept.exists()
