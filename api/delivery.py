"""How the app's answers travel: gzip-compressed, and static files with cache headers.

Compression (:func:`compress`): an answer of 1 kB or more is sent gzip-compressed when
the browser accepts it (JSON, scripts, stylesheets, GeoJSON, SVG …; on a slow phone
network the bytes are most of the wait), except

``text/event-stream``
    an event stream (``/api/live/stream``, ``/api/resident/stream``): gzip would hold
    each event back until its buffer filled;
``text/html``
    the pages carry the session's CSRF token beside words of the request (a search's
    query, say), and a compressed size that shrinks when a guess matches the token gives
    the token away (BREACH).  The worker's app compresses its own page
    (:mod:`api.pages.worker`), which echoes nothing of the request;
images, archives and answers already compressed (``Content-Encoding`` set, as the
offline package's).

Static files (:class:`CachedStatic`): their addresses carry no version, so a browser
must not use a copy without asking: the app's own files are ``no-cache`` (asked again
each time, 304 when unchanged, by their ETag); the vendored libraries change only with
``package-lock.json``, a release, and may be kept a day.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

#: Media types never compressed on the way out (see the module's docstring).
NOT_COMPRESSED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "text/event-stream", "text/html")
#: Smaller answers are sent as they are (gzip's header and the work are not worth it).
COMPRESS_FROM = 1024
#: zlib's level: near the smallest output for a fraction of level 9's time.
LEVEL = 6
#: ``Cache-Control`` of the app's own static files and of the vendored libraries.
OWN_FILES = "no-cache"
VENDORED = "public, max-age=86400"


def compress(app: FastAPI) -> None:
    """Send ``app``'s answers gzip-compressed (see the module's docstring).

    Add it outside :class:`api.idempotency.Idempotency`: a replayed answer is stored as
    the route made it and compressed on its way out like the first.
    """
    app.add_middleware(
        GZipMiddleware,
        minimum_size=COMPRESS_FROM,
        compresslevel=LEVEL,
        exclude_content_types=NOT_COMPRESSED,
    )


class CachedStatic(StaticFiles):
    """Static files answered with the ``Cache-Control`` header ``cache_control``."""

    def __init__(self, *, cache_control: str, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.cache_control = cache_control

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        """The file's answer (200, or 304 when the browser's copy is current), with the header."""
        answer = super().file_response(full_path, stat_result, scope, status_code)
        answer.headers["Cache-Control"] = self.cache_control
        return answer
