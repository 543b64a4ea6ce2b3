"""What the benchmark scripts share: a line on stderr, and a scratch database of their own.

Not a benchmark itself (``make bench`` skips files starting with ``_``).
"""

from __future__ import annotations

import sys

from sqlalchemy import create_engine, text

from gis.db import cluster
from gis.settings import get_settings


def log(message: str) -> None:
    """One line of progress on stderr (stdout carries the RESULT line)."""
    print(message, file=sys.stderr, flush=True)


def scratch_database(name: str, *, reuse: bool = False) -> tuple[str, bool]:
    """The URL of the benchmark's own database ``name``, and whether it was kept.

    Dropped and created empty, unless ``reuse`` and it exists (then left as it is, so a
    benchmark can time again on the district it built before).
    """
    base = cluster.ensure_server(get_settings())
    url = cluster.server_url(base, name)
    admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}
        ).first()
        if exists and not reuse:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()
    if exists and reuse:
        return url, True
    cluster.ensure_database(url)
    return url, False
