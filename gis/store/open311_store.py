"""Reads for Open311 GeoReport v2 answers: what a service request shows besides its row.

An Open311 request carries the agency responsible (our community), when it was last
updated (its latest history step), the latest note, and a photo URL.  Listing up to
1000 requests must not cost a query each, so they are read here for many incidents at
once; the incidents themselves are listed by :func:`gis.store.incident_store.list_incidents`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from gis.store.event_bound import span_of, within, within_case

__all__ = ["RequestExtras", "request_extras"]


@dataclass(frozen=True)
class RequestExtras:
    """What an Open311 answer shows of one incident besides its own columns.

    Attributes
    ----------
    community_name
        The community (社区) of the incident's grid: the agency responsible.
    updated_at
        Time of the latest history step (``incident_event.at``).
    last_note
        The latest note written on the case, if any.
    first_photo_id
        ``incident_photo.id`` of its first photo, if any.
    """

    community_name: str | None
    updated_at: datetime | None
    last_note: str | None
    first_photo_id: int | None


def request_extras(conn: Connection, ids: Sequence[int]) -> dict[int, RequestExtras]:
    """The community, last update, last note and first photo of many incidents, by id.

    Ids that name no incident are absent from the answer.
    """
    if not ids:
        return {}
    rows = conn.execute(
        text(
            f"""
            SELECT i.id, a.name AS community_name, last.at AS updated_at,
                   noted.note AS last_note, photo.id AS first_photo_id
            FROM incident i
            LEFT JOIN grid g ON g.id = i.grid_id
            LEFT JOIN admin_area a ON a.id = g.community_id
            LEFT JOIN LATERAL (
                SELECT e.at FROM incident_event e
                WHERE e.incident_id = i.id AND {within_case()} AND {within()}
                ORDER BY e.at DESC, e.id DESC LIMIT 1) last ON true
            LEFT JOIN LATERAL (
                SELECT e.note FROM incident_event e
                WHERE e.incident_id = i.id AND {within_case()} AND {within()}
                  AND e.note IS NOT NULL AND e.note <> ''
                ORDER BY e.at DESC, e.id DESC LIMIT 1) noted ON true
            LEFT JOIN LATERAL (
                SELECT p.id FROM incident_photo p WHERE p.incident_id = i.id
                ORDER BY p.id LIMIT 1) photo ON true
            WHERE i.id = ANY(:ids)
            """
        ),
        {"ids": [int(i) for i in ids], **span_of(conn, ids)},
    ).mappings()
    return {
        int(r["id"]): RequestExtras(
            community_name=r["community_name"],
            updated_at=r["updated_at"],
            last_note=r["last_note"],
            first_photo_id=None if r["first_photo_id"] is None else int(r["first_photo_id"]),
        )
        for r in rows
    }
