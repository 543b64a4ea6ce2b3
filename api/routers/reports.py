"""Situation reports over HTTP: the daily report (每日态势报告) of a street or community.

Staff only, for a street or community within their area (another one: 404).  The
gathering is :mod:`api.services.reports`; :mod:`maps.report` draws it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.auth import CurrentUser
from api.deps import EngineDep
from api.headers import InlinePage
from api.inputs import Text
from api.services import reports
from maps.report import daily_report_html

router = APIRouter(tags=["awareness"])


@router.get("/reports/daily", response_class=InlinePage)
def daily_report(
    engine: EngineDep,
    user: CurrentUser,
    street: Annotated[Text | None, Query(description="street code (9 digits)")] = None,
    community: Annotated[Text | None, Query(description="community code (12 digits)")] = None,
    day: Annotated[
        date | None, Query(alias="date", description="YYYY-MM-DD (China time); default today")
    ] = None,
) -> HTMLResponse:
    """The daily situation report (每日态势报告) of a street or community: charts and a map.

    Opened in a browser signed in at ``/login``, as ``/reports/daily?community=CODE``
    (a token in the URL is refused: :mod:`api.url_credentials`).
    """
    data = reports.daily_report(engine, user, street=street, community=community, day=day)
    return HTMLResponse(daily_report_html(data))
