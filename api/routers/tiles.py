"""Vector tiles of the map layers, the offline basemap's style and glyphs, with caching headers.

``/tiles/{layer}/{z}/{x}/{y}.pbf`` answers a Mapbox Vector Tile (see
:mod:`api.services.tiles` for the layers and who may read them): public layers to
anyone, the others to a signed-in browser (the session cookie the maps' tile requests
carry, same origin) or a bearer token (never a key in the URL).  Each answer carries an
``ETag`` made from the data versions the tile was built at, so a browser asking again
with ``If-None-Match`` gets ``304`` while the data stand still; built tiles are kept by
the server (:class:`api.state.TileCache`) under the same versions.

The basemap's labels are drawn from glyphs the server makes of the district's names
(:mod:`api.services.glyphs`): ``/tiles/basemap/glyphs/{fontstack}/{start}-{end}.pbf``
(MapLibre's ``glyphs`` URL) and every range of a fontstack at once, ``…/ranges.bin``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.auth import OptionalUser
from api.deps import ImpactsDep, StateDep
from api.services import glyphs as glyph_svc
from api.services import live
from api.services import tiles as svc
from api.state import AppState
from maps.basemap import BASEMAP_GLYPHS, BASEMAP_TILES, label_stacks, style_json
from maps.glyphs import GlyphSet

router = APIRouter(tags=["maps"])

Zoom = Annotated[int, Path(ge=0, le=svc.MAX_ZOOM, description="zoom level (WebMercatorQuad)")]
Col = Annotated[int, Path(ge=0, description="tile column")]
Row = Annotated[int, Path(ge=0, description="tile row")]


@router.get(
    "/tiles/basemap/style.json",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "a MapLibre style"}},
)
def basemap_style(request: Request, state: StateDep) -> Response:
    """The offline basemap's MapLibre style (Chinese labels, glyphs from this server, no CDN)."""
    base = str(request.base_url).rstrip("/")
    stacks = label_stacks() if state.glyphs is not None else None
    return Response(
        style_json(base + BASEMAP_TILES, base + BASEMAP_GLYPHS if stacks else None, stacks),
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={state.settings.tile_max_age_s}"},
    )


GLYPH_MEDIA_TYPE = "application/x-protobuf"


async def _glyphs(state: AppState) -> GlyphSet:
    """The labels' glyphs as the names stand now (drawn at start-up, again when they change)."""
    held = state.glyphs
    if held is None:
        raise glyph_svc.NoLabelFont(glyph_svc.NO_LABEL_FONT)
    return await run_in_threadpool(held.get, state.engine, trust_s=1.0)


def _glyph_answer(request: Request, state: AppState, tag: str, body: bytes) -> Response:
    headers = {
        "ETag": tag,
        "Cache-Control": f"public, max-age={state.settings.tile_max_age_s}",
    }
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=GLYPH_MEDIA_TYPE, headers=headers)


# the glyphs' routes come before the tiles': /tiles/{layer}/{z}/{x}/{y}.pbf would match them
@router.get(
    "/tiles/basemap/glyphs/{fontstack}/ranges.bin",
    response_class=Response,
    responses={
        200: {"content": {GLYPH_MEDIA_TYPE: {}}, "description": "every range of the fontstack"},
        304: {"description": "not modified since the ETag sent"},
        404: {"description": "no such fontstack, or no CJK font installed"},
    },
)
async def glyph_bundle(request: Request, state: StateDep, fontstack: str) -> Response:
    """Every glyph range of a fontstack the basemap's labels use, in one answer.

    ``<index length: u32 little endian><index: JSON {"start": [offset, length]}>`` then
    the ranges' PBFs, offsets counted from the end of the index.
    """
    held = await _glyphs(state)
    body = glyph_svc.glyph_bundle(held, fontstack)
    return _glyph_answer(request, state, f'"{held.tag}-all"', body)


@router.get(
    "/tiles/basemap/glyphs/{fontstack}/{glyph_range}.pbf",
    response_class=Response,
    responses={
        200: {"content": {GLYPH_MEDIA_TYPE: {}}, "description": "SDF glyphs (glyphs PBF)"},
        304: {"description": "not modified since the ETag sent"},
        404: {"description": "no such fontstack, or no CJK font installed"},
    },
)
async def glyph_range(
    request: Request, state: StateDep, fontstack: str, glyph_range: str
) -> Response:
    """SDF glyphs of 256 code points (``0-255``, ``19968-20223`` …) for the basemap's labels.

    The ``glyphs`` protobuf of mapbox/glyph-pbf, 24 px with a 3 px buffer, holding the
    characters of the range that the district's names use.
    """
    held = await _glyphs(state)
    body = glyph_svc.glyph_range(held, fontstack, glyph_range)
    return _glyph_answer(request, state, f'"{held.tag}-{glyph_range}"', body)


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.pbf",
    response_class=Response,
    responses={
        200: {"content": {svc.MVT_MEDIA_TYPE: {}}, "description": "the tile"},
        304: {"description": "not modified since the ETag sent"},
    },
)
async def tile(
    request: Request,
    state: StateDep,
    user: OptionalUser,
    impacts: ImpactsDep,
    layer: svc.TileLayer,
    z: Zoom,
    x: Col,
    y: Row,
) -> Response:
    """One vector tile of a map layer (Mapbox Vector Tile, EPSG:3857, extent 4096)."""
    svc.check_tile(z, x, y)
    svc.authorize(user, layer)
    settings = state.settings
    primary = state.engine

    def answer() -> tuple[str, bytes | None]:
        held = state.tiles.version(layer, lambda last: svc.version(primary, layer, last))
        # only the offices whose records may lie in this tile count in its version
        at = held.at(z, x, y, settings.h3_resolution)
        area = svc.variant(user, layer, z)
        tag = svc.etag(layer, z, x, y, at, area, settings.privacy_k)
        if request.headers.get("if-none-match") == tag:
            return tag, None
        sources = svc.TileSources(
            people_by_grid=lambda: state.people.get(primary).by_grid,
            people_cells=lambda: state.people_cells.get(primary),
            incident_cells=lambda: state.incident_cells.get(primary),
            check_on=lambda: live.check_on_now(primary, user, impacts),
        )
        body = state.tiles.get(
            (layer, z, x, y, area),
            at,
            # built on the replica once it holds the data of these versions (api.replica)
            lambda: state.reads.read(
                lambda engine: svc.render(engine, settings, user, layer, z, x, y, sources),
                state.reads.position(layer, held.whole),
            ),
        )
        return tag, body

    tag, body = await run_in_threadpool(answer)
    public = layer in svc.PUBLIC_LAYERS
    headers = {
        "ETag": tag,
        "Cache-Control": (
            f"public, max-age={settings.tile_max_age_s}" if public else "private, no-cache"
        ),
        "Vary": "Authorization",
    }
    if body is None:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=svc.MVT_MEDIA_TYPE, headers=headers)
