"""The API's documentation (Swagger UI) from the self-hosted ``swagger-ui-dist``: works offline.

FastAPI's own ``/docs`` loads Swagger UI from a CDN and is turned off
(``docs_url=None``); this page is the same one pointed at ``/static/vendor``.  Its one
inline script (Swagger UI's start) carries the request's CSP nonce.  ReDoc is not
served (it too would come from a CDN): ``/openapi.json`` is there for any other viewer.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from maps.assets import PAGE_ASSETS

router = APIRouter(tags=["pages"])


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, every script and style from this host."""
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} — API",
        swagger_js_url=PAGE_ASSETS["swagger_js"].url(),
        swagger_css_url=PAGE_ASSETS["swagger_css"].url(),
        swagger_favicon_url=PAGE_ASSETS["swagger_favicon"].url(),
        swagger_ui_parameters={"validatorUrl": None},
    )
    nonce = getattr(request.state, "csp_nonce", "")
    html = (
        page.body.decode()
        .replace("<html>", '<html lang="en">', 1)
        .replace("<script>", f'<script nonce="{nonce}">')
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
