"""The basemap labels' glyphs over HTTP, read with Google's protobuf runtime as MapLibre would:
the style names them, a range holds a district street's characters as SDF bitmaps with their
metrics, answers carry caching headers and 304 while the names stand still, a renamed street's
new character is there at the next request, and a bad fontstack or range is refused."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine, text

from etl.load import load_layers
from etl.sample import generate_district
from maps.glyphs import find_label_fonts
from tests.conftest import LiveServer
from tests.glyph_pbf import read_glyphs

pytestmark = pytest.mark.skipif(find_label_fonts() is None, reason="no CJK font installed")

#: A character no name of the sample district uses (鑫, "prosperity"), in the CJK block.
NEW_CHARACTER = "鑫"


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        street = conn.execute(
            text("SELECT name FROM road_edge WHERE name <> '' ORDER BY name LIMIT 1")
        ).scalar_one()
        place = conn.execute(
            text("SELECT name FROM admin_area WHERE level = 'community' ORDER BY name LIMIT 1")
        ).scalar_one()
    style = httpx.get(f"{live_server.url}/tiles/basemap/style.json", timeout=60).json()
    return {"street": street, "place": place, "style": style}


def _stack(style: dict, layer_id: str) -> str:
    (layer,) = [layer for layer in style["layers"] if layer["id"] == layer_id]
    (stack,) = layer["layout"]["text-font"]
    return stack


def _range_url(style: dict, stack: str, codepoint: int) -> str:
    start = codepoint // 256 * 256
    return (
        style["glyphs"]
        .replace("{fontstack}", quote(stack))
        .replace("{range}", f"{start}-{start + 255}")
    )


def _glyphs_of(body: bytes) -> dict[int, object]:
    (stack,) = read_glyphs(body).stacks
    return {g.id: g for g in stack.glyphs}


def test_a_street_names_characters_come_as_sdf_glyphs(
    district: dict, live_server: LiveServer
) -> None:
    style = district["style"]
    assert style["glyphs"].startswith(live_server.url)  # this server, nothing outside
    stack = _stack(style, "road-label")
    for char in district["street"]:
        r = httpx.get(_range_url(style, stack, ord(char)), timeout=60)
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/x-protobuf"
        assert r.headers["cache-control"].startswith("public, max-age=")
        assert r.headers["etag"]
        message = read_glyphs(r.content)
        (fontstack,) = message.stacks
        start = ord(char) // 256 * 256
        assert fontstack.name == stack and fontstack.range == f"{start}-{start + 255}"
        glyph = _glyphs_of(r.content)[ord(char)]
        # 24 px with a 3 px buffer: (width + 6) × (height + 6) bytes, a CJK character some
        # 20 px a side advancing a full em, inside above 192 (the outline), outside below
        assert len(glyph.bitmap) == (glyph.width + 6) * (glyph.height + 6)
        assert 12 <= glyph.width <= 26 and 12 <= glyph.height <= 26
        assert 20 <= glyph.advance <= 28
        assert max(glyph.bitmap) > 192 > min(glyph.bitmap)
        # the ranges hold what the labels use, not the font's thousands of characters
        assert len(fontstack.glyphs) < 256
        again = httpx.get(r.url, headers={"If-None-Match": r.headers["etag"]}, timeout=60)
        assert again.status_code == 304


def test_the_places_bold_glyphs_and_the_bundle_of_every_range(
    district: dict, live_server: LiveServer
) -> None:
    style = district["style"]
    bold = _stack(style, "place-label")
    assert bold != _stack(style, "road-label")
    url = style["glyphs"].replace("{fontstack}", quote(bold)).replace("/{range}.pbf", "")
    r = httpx.get(f"{url}/ranges.bin", timeout=60)
    assert r.status_code == 200 and r.headers["cache-control"].startswith("public")
    # <index length><JSON index of start → [offset, length]><the ranges' PBFs>
    head = int.from_bytes(r.content[:4], "little")
    index = json.loads(r.content[4 : 4 + head])
    body = r.content[4 + head :]
    held: dict[int, object] = {}
    for start, (offset, length) in index.items():
        (fontstack,) = read_glyphs(body[offset : offset + length]).stacks
        assert fontstack.name == bold and fontstack.range == f"{start}-{int(start) + 255}"
        held |= _glyphs_of(body[offset : offset + length])
    assert {ord(c) for c in district["place"]} <= set(held)


def test_a_renamed_streets_new_character_is_drawn_at_the_next_request(
    district: dict, engine: Engine, live_server: LiveServer
) -> None:
    style = district["style"]
    stack = _stack(style, "road-label")
    url = _range_url(style, stack, ord(NEW_CHARACTER))
    assert ord(NEW_CHARACTER) not in _glyphs_of(httpx.get(url, timeout=60).content)
    renamed = NEW_CHARACTER + district["street"]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE road_edge SET name = :new WHERE name = :old"),
            {"new": renamed, "old": district["street"]},
        )
    try:
        assert ord(NEW_CHARACTER) in _glyphs_of(httpx.get(url, timeout=60).content)
    finally:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE road_edge SET name = :old WHERE name = :new"),
                {"new": renamed, "old": district["street"]},
            )


def test_an_unknown_fontstack_or_a_bad_range_is_refused(
    district: dict, live_server: LiveServer
) -> None:
    base = f"{live_server.url}/tiles/basemap/glyphs"
    stack = quote(_stack(district["style"], "road-label"))
    assert httpx.get(f"{base}/Arial%20Unicode%20MS/0-255.pbf", timeout=60).status_code == 404
    assert httpx.get(f"{base}/Arial%20Unicode%20MS/ranges.bin", timeout=60).status_code == 404
    for bad in ("1-256", "0-511", "abc", "1114112-1114367"):
        assert httpx.get(f"{base}/{stack}/{bad}.pbf", timeout=60).status_code == 422, bad
