"""The performance review (考核) in the browser: a filter form, a trend and a satisfaction chart.

``/kpi`` draws the review of the filter (breakdown, period, window, which date counts)
with its trend by period (结案率, 按期结案率) and 满意率 as server-rendered SVG, and the
table; the form submits the same parameters as the JSON API (``/api/kpi``), an empty
field meaning "not set".  ``/kpi/print`` is the printable A4 page of the same review
(table, chart, print stylesheet).  Browsers sign in at ``/login`` (the session cookie);
a program may send ``Authorization: Bearer``.  A token in the URL is refused (400).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from api.auth import CurrentUser
from api.deps import EngineDep
from api.headers import InlinePage
from api.pages.render import render
from api.schemas.kpi import (
    AsOfQuery,
    ByQuery,
    DateByQuery,
    EndQuery,
    PeriodQuery,
    QueryDep,
    StartQuery,
)
from api.services.kpi import (
    BREAKDOWNS,
    LABELS_ZH,
    PERIOD_NAMES_ZH,
    ReviewQuery,
    build_review,
    review_page,
    review_query,
    review_screen,
)

router = APIRouter(tags=["kpi"])


def _set(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value.strip()


def form_query(
    by: ByQuery = "grid",
    period: PeriodQuery = None,
    start: StartQuery = None,
    end: EndQuery = None,
    date_by: DateByQuery = "due",
    as_of: AsOfQuery = None,
) -> ReviewQuery:
    """The review of the form: like the API's parameters, an empty field counts as unset."""
    return review_query(
        _set(by) or "grid",
        _set(period),
        _set(start),
        _set(end),
        _set(date_by) or "due",
        _set(as_of),
    )


FormQuery = Annotated[ReviewQuery, Depends(form_query)]


@router.get("/kpi", response_class=HTMLResponse)
async def kpi_page(
    request: Request, engine: EngineDep, user: CurrentUser, query: FormQuery
) -> HTMLResponse:
    """The review with its filter form, trend and satisfaction charts, and table."""
    screen = await run_in_threadpool(review_screen, engine, user, query)
    params = request.query_params
    form = {
        "by": ",".join(k for k in query.by if k != "period") or "grid",
        "period": query.period or "",
        "start": params.get("start", ""),
        "end": params.get("end", ""),
        "date_by": query.date_by,
    }
    return render(
        request,
        "kpi.html",
        {
            "screen": screen,
            "form": form,
            "breakdowns": [(k, LABELS_ZH[k]) for k in BREAKDOWNS if k != "period"],
            "periods": list(PERIOD_NAMES_ZH.items()),
            "trend_svg": Markup(screen.trend_svg),
            "satisfaction_svg": Markup(screen.satisfaction_svg),
            "query": request.url.query,
        },
        user=user,
    )


@router.get("/kpi/print", response_class=InlinePage)
async def kpi_print(engine: EngineDep, user: CurrentUser, query: QueryDep) -> HTMLResponse:
    """The printable review page: the table, the chart and a print stylesheet (A4)."""
    html = await run_in_threadpool(lambda: review_page(build_review(engine, user, query)))
    return HTMLResponse(html, headers={"Cache-Control": "private"})
