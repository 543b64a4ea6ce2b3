"""The OGC API's links, built once per page instead of once per feature.

tipg gives every feature of an items page two links (its collection and itself), each
through Starlette's ``url_path_for`` and an absolute URL parsed and rebuilt: 2,000 of them
for a page of 1,000 buildings took ~100 ms of the page's ~130 ms (measured at 2,000,000
households, ``benchmarks/maps.py``). Starlette builds a path by putting each parameter's
text in its place in the route's pattern, so the URL of a route for one request is a
template: it is built once per request with markers for the parameters, and the values
are put in. The first URL of each template in a request is also built the slow way and
compared, so a route whose parameters are converted otherwise (or a marker that does not
survive) falls back to tipg's own way: the links stay exactly what tipg would write.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from tipg.factory import Endpoints, EndpointsFactory

#: Values put in a template as they are: Starlette's string parameter writes them as
#: they are too (a ``/`` or an empty value it refuses: those go the slow way).
_PLAIN = re.compile(r"[A-Za-z0-9._~\-]+")
_SCOPE_KEY = "wangge.ogc_link_templates"


def _marker(i: int) -> str:
    return f"wanggelinkparam{i}q"


class TemplatedLinks(EndpointsFactory):
    """A tipg factory whose :meth:`url_for` is served from per-request templates."""

    def url_for(self, request: Request, name: str, **path_params: Any) -> str:
        """The absolute URL of route ``name``, exactly as tipg writes it."""
        values = {k: str(v) for k, v in path_params.items()}
        if not all(_PLAIN.fullmatch(v) for v in values.values()):
            return super().url_for(request, name, **path_params)
        templates: dict[tuple[str, tuple[str, ...]], str | None] = request.scope.setdefault(
            _SCOPE_KEY, {}
        )
        keys = tuple(sorted(values))
        key = (name, keys)
        if key not in templates:
            template = super().url_for(request, name, **{k: _marker(i) for i, k in enumerate(keys)})
            exact = super().url_for(request, name, **path_params)
            templates[key] = template if _fill(template, keys, values) == exact else None
            return exact
        template = templates[key]
        if template is None:
            return super().url_for(request, name, **path_params)
        return _fill(template, keys, values)


def _fill(template: str, keys: tuple[str, ...], values: dict[str, str]) -> str:
    for i, k in enumerate(keys):
        template = template.replace(_marker(i), values[k])
    return template


class Links(TemplatedLinks, Endpoints):
    """tipg's OGC Features and Tiles endpoints, their links from per-request templates.

    tipg's features and tiles factories (made in ``register_routes``) write the pages'
    links themselves: they become :class:`TemplatedLinks` too.
    """

    def register_routes(self) -> None:
        """Tipg's routes, with the factories that serve them writing links by template."""
        super().register_routes()
        for factory in (self.ogc_features, self.ogc_tiles):
            base = type(factory)
            factory.__class__ = type(f"Templated{base.__name__}", (TemplatedLinks, base), {})
