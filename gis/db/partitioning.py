"""A table rebuilt partitioned by month (or plain again), its rows, rules and rights kept.

What migrations 0031 (``audit_log``) and 0037 (``incident_event``) share.  The table is
renamed aside, created again in its new form from the old one's columns, defaults,
checks and identity (``LIKE``), its rows copied, the identity continued, and its own
triggers, row-level security, policies and grants — read from the catalogue before the
rename — given again; its indexes and foreign keys are the caller's to name.  Row
triggers on a partitioned parent are cloned onto every partition (PostgreSQL 13 and
later).  All in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from gis import clock
from gis.settings import get_settings
from gis.store import partition_store as parts


def _grants(conn: Connection, relation: str) -> list[str]:
    """GRANT statements giving again what ``relation`` grants to others than its owner."""
    rows = conn.execute(
        text(
            "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, "
            "a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
            "LEFT JOIN pg_roles r ON r.oid = a.grantee "
            "WHERE c.oid = to_regclass(:rel) AND a.grantee <> c.relowner"
        ),
        {"rel": relation},
    ).all()
    return [f"GRANT {privilege} ON {{rel}} TO {grantee}" for grantee, privilege in rows]


def _policies(conn: Connection, table: str) -> list[str]:
    """CREATE POLICY statements of ``table``'s policies, as the catalogue holds them."""
    rows = conn.execute(
        text(
            "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies "
            "WHERE schemaname = 'public' AND tablename = :t ORDER BY policyname"
        ),
        {"t": table},
    ).all()
    out = []
    for name, permissive, roles, cmd, qual, check in rows:
        sql = f"CREATE POLICY {name} ON {table} AS {permissive} FOR {cmd} TO {', '.join(roles)}"
        if qual is not None:
            sql += f" USING ({qual})"
        if check is not None:
            sql += f" WITH CHECK ({check})"
        out.append(sql)
    return out


def _triggers(conn: Connection, table: str) -> list[str]:
    """CREATE TRIGGER statements of ``table``'s own (not internal, not cloned) triggers."""
    return list(
        conn.execute(
            text(
                "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass(:t) "
                "AND NOT tgisinternal AND tgparentid = 0 ORDER BY tgname"
            ),
            {"t": f"public.{table}"},
        ).scalars()
    )


def _security(conn: Connection, table: str) -> list[str]:
    enabled, forced = conn.execute(
        text(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = to_regclass(:t)"
        ),
        {"t": f"public.{table}"},
    ).one()
    out = [f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"] if enabled else []
    return out + ([f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY"] if forced else [])


def convert(
    conn: Connection,
    table: str,
    *,
    partitioned: bool,
    indexes: list[str],
    foreign_keys: list[str],
    aside: str,
) -> None:
    """Rebuild ``table`` partitioned by month (or plain again), rows, rules and rights kept.

    ``indexes``: its ``CREATE INDEX`` statements besides the key (dropped from the old
    table, made on the new); ``foreign_keys``: its ``ALTER TABLE … ADD CONSTRAINT``
    statements; ``aside``: a suffix naming the old table while the rows are copied.
    """
    old = f"{table}_{aside}" if partitioned else f"{table}_partitioned"
    seq = f"{table}_id_seq"
    # what the table carries, read before it is renamed (the text names it)
    again = (
        _triggers(conn, table)
        + _security(conn, table)
        + _policies(conn, table)
        + [g.format(rel=table) for g in _grants(conn, table)]
        + [g.format(rel=f"SEQUENCE {seq}") for g in _grants(conn, seq)]
    )
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {old}"))
    conn.execute(text(f"ALTER SEQUENCE {seq} RENAME TO {old}_id_seq"))
    conn.execute(text(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}"))
    for index in indexes:
        conn.execute(text(f"DROP INDEX IF EXISTS {index.split()[2]}"))
    conn.execute(
        text(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            f"INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS)"
            + (f" PARTITION BY RANGE ({parts.TABLES[table]})" if partitioned else "")
        )
    )
    key = f"id, {parts.TABLES[table]}" if partitioned else "id"
    conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})"))
    if partitioned:
        parts.create_default(conn, table)
        local = f"date_trunc('month', {parts.TABLES[table]} AT TIME ZONE :tz)::date"
        held = conn.execute(
            text(f"SELECT DISTINCT {local} FROM {old}"), {"tz": str(parts.LOCAL_TZ)}
        ).scalars()
        this = parts.month_of(clock.now())
        ahead = get_settings().partition_months_ahead
        wanted = list(held) + [parts.add_months(this, n) for n in range(ahead + 1)]
        parts.create_months(conn, table, wanted)
    conn.execute(text(f"INSERT INTO {table} SELECT * FROM {old}"))
    conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"coalesce((SELECT max(id) FROM {old}), 0) + 1, false)"
        )
    )
    # the schema's default privileges gave the new table and its sequence what the old
    # ones may not have had (the audit log: no UPDATE, DELETE for the app): only theirs
    for relation, prefix in ((table, ""), (seq, "SEQUENCE ")):
        for grant in _grants(conn, relation):
            revoke = grant.replace("GRANT ", "REVOKE ", 1).replace(" TO ", " FROM ", 1)
            conn.execute(text(revoke.format(rel=prefix + relation)))
    for statement in indexes + foreign_keys + again:
        conn.execute(text(statement))
    conn.execute(text(f"DROP TABLE {old}"))
