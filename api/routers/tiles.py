"""Vector tiles of the map layers and the offline basemap's style, with caching headers.

``/tiles/{layer}/{z}/{x}/{y}.pbf`` answers a Mapbox Vector Tile (see
:mod:`api.services.tiles` for the layers and who may read them): public layers to
anyone, the others to a signed-in browser (the session cookie the maps' tile requests
carry, same origin) or a bearer token (never a key in the URL).  Each answer carries an
``ETag`` made from the data versions the tile was built at, so a browser asking again
with ``If-None-Match`` gets ``304`` while the data stand still; built tiles are kept by
the server (:class:`api.state.TileCache`) under the same versions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.auth import OptionalUser
from api.deps import ImpactsDep, StateDep
from api.services import live
from api.services import tiles as svc
from maps.basemap import BASEMAP_TILES, style_json

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
    """The offline basemap's MapLibre style (Chinese labels, no glyph server, no CDN)."""
    base = str(request.base_url).rstrip("/")
    return Response(
        style_json(base + BASEMAP_TILES),
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={state.settings.tile_max_age_s}"},
    )


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
        at = state.tiles.version(layer, lambda: svc.version(primary, layer))
        area = svc.variant(user, layer, z)
        tag = svc.etag(layer, z, x, y, at, area, settings.privacy_k)
        if request.headers.get("if-none-match") == tag:
            return tag, None
        sources = svc.TileSources(
            people_by_grid=lambda: state.people_by_grid.get(primary),
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
                state.reads.position(layer, at),
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
