"""A table rebuilt partitioned by month (or plain again), its rows, rules and rights kept.

What migrations 0031 (``audit_log``) and 0037 (``incident_event``) share.  The table is
renamed aside, created again in its new form from the old one's columns, defaults,
checks and identity (``LIKE``), its rows copied, the identity continued, and its own
triggers, row-level security, policies and grants — read from the catalogue before the
rename — given again, as are the other tables' foreign keys to it and the views that
read it (dropped while the rows move); its own indexes and foreign keys are the caller's
to name.  A ``serial`` id keeps its sequence; an identity gets the old one's next value.  Row
triggers on a partitioned parent are cloned onto every partition (PostgreSQL 13 and
later).  All in the caller's transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from gis import clock
from gis.settings import get_settings
from gis.store import incident_ids
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


def _policies(conn: Connection, table: str, only: list[str] | None = None) -> list[str]:
    """CREATE POLICY statements of ``table``'s policies (or ``only`` those named)."""
    rows = conn.execute(
        text(
            "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies "
            "WHERE schemaname = 'public' AND tablename = :t ORDER BY policyname"
        ),
        {"t": table},
    ).all()
    out = []
    for name, permissive, roles, cmd, qual, check in rows:
        if only is not None and name not in only:
            continue
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


def _referrers(conn: Connection, table: str) -> list[tuple[str, str, str]]:
    """(table, name, definition) of the other tables' foreign keys to ``table``."""
    rows = conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND confrelid = to_regclass(:t) "
            "AND conrelid <> confrelid AND conparentid = 0 ORDER BY 1, 2"
        ),
        {"t": f"public.{table}"},
    ).all()
    return [(str(t), str(n), str(d)) for t, n, d in rows]


def _others_policies(conn: Connection, table: str) -> list[tuple[str, str, str]]:
    """(table, policy, statement making it again) of other tables' policies reading ``table``."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT c.relname, p.polname FROM pg_depend d "
            "JOIN pg_policy p ON p.oid = d.objid AND d.classid = 'pg_policy'::regclass "
            "JOIN pg_class c ON c.oid = p.polrelid "
            "WHERE d.refobjid = to_regclass(:t) AND c.oid <> d.refobjid ORDER BY 1, 2"
        ),
        {"t": f"public.{table}"},
    ).all()
    return [
        (str(other), str(name), _policies(conn, str(other), [str(name)])[0]) for other, name in rows
    ]


def _views(conn: Connection, table: str) -> list[tuple[str, list[str]]]:
    """(view, statements making it again) of the views that read ``table``."""
    names = conn.execute(
        text(
            "SELECT DISTINCT v.relname FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
            "JOIN pg_class v ON v.oid = r.ev_class WHERE d.refobjid = to_regclass(:t) "
            "AND v.oid <> d.refobjid AND v.relkind = 'v' ORDER BY 1"
        ),
        {"t": f"public.{table}"},
    ).scalars()
    out = []
    for view in names:
        definition, options, comment = conn.execute(
            text(
                "SELECT pg_get_viewdef(c.oid), c.reloptions, obj_description(c.oid, 'pg_class') "
                "FROM pg_class c WHERE c.oid = to_regclass(:v)"
            ),
            {"v": f"public.{view}"},
        ).one()
        with_ = f" WITH ({', '.join(options)})" if options else ""
        again = [f"CREATE VIEW {view}{with_} AS {definition}"]
        if comment is not None:
            again.append(f"COMMENT ON VIEW {view} IS '{comment.replace(chr(39), chr(39) * 2)}'")
        again += [g.format(rel=view) for g in _grants(conn, view)]
        out.append((str(view), again))
    return out


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
    key_column = parts.TABLES[table]
    coded = table in parts.CODED
    serial = conn.execute(
        text(
            "SELECT attidentity = '' FROM pg_attribute "
            "WHERE attrelid = to_regclass(:t) AND attname = 'id'"
        ),
        {"t": f"public.{table}"},
    ).scalar_one()
    # what the table carries, read before it is renamed (the text names it)
    referrers = _referrers(conn, table)
    # checks added NOT VALID (rows stored before them may break them): LIKE would copy
    # them as checked, and the old rows would be refused on their way to the new table
    unchecked = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(:t) AND contype = 'c' AND NOT convalidated "
            "ORDER BY 1"
        ),
        {"t": f"public.{table}"},
    ).all()
    views = _views(conn, table)
    policies = _others_policies(conn, table)
    again = (
        _triggers(conn, table)
        + _security(conn, table)
        + _policies(conn, table)
        + [g.format(rel=table) for g in _grants(conn, table)]
        + [g.format(rel=f"SEQUENCE {seq}") for g in _grants(conn, seq)]
    )
    for view, _ in views:
        conn.execute(text(f"DROP VIEW {view}"))
    for other, name, _ in policies:
        conn.execute(text(f"DROP POLICY {name} ON {other}"))
    for referrer, name, _ in referrers:
        conn.execute(text(f"ALTER TABLE {referrer} DROP CONSTRAINT {name}"))
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {old}"))
    conn.execute(text(f"ALTER SEQUENCE {seq} RENAME TO {old}_id_seq"))
    conn.execute(text(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{table} TO pk_{old}"))
    for index in indexes:
        conn.execute(text(f"DROP INDEX IF EXISTS {index.split()[2]}"))
    conn.execute(
        text(
            f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
            f"INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS)"
            + (f" PARTITION BY RANGE ({key_column})" if partitioned else "")
        )
    )
    for name, _ in unchecked:
        conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    if serial:  # the new table's default draws from the old sequence: it goes with it
        conn.execute(text(f"ALTER SEQUENCE {old}_id_seq OWNED BY {table}.id"))
        conn.execute(text(f"ALTER SEQUENCE {old}_id_seq RENAME TO {seq}"))
    key = f"id, {key_column}" if partitioned and key_column != "id" else "id"
    conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({key})"))
    if partitioned:
        parts.create_default(conn, table)
        if coded:  # the months the numbers say; the plain ones stay in DEFAULT
            held = (
                incident_ids.month_of_code(int(c))
                for c in conn.execute(
                    text(
                        f"SELECT DISTINCT id / {incident_ids.FACTOR} FROM {old} "
                        f"WHERE id >= {incident_ids.FIRST_CODED}"
                    )
                ).scalars()
            )
        else:
            local = f"date_trunc('month', {key_column} AT TIME ZONE :tz)::date"
            held = conn.execute(
                text(f"SELECT DISTINCT {local} FROM {old}"), {"tz": str(parts.LOCAL_TZ)}
            ).scalars()
        this = parts.month_of(clock.now())
        ahead = get_settings().partition_months_ahead
        wanted = list(held) + [parts.add_months(this, n) for n in range(ahead + 1)]
        parts.create_months(conn, table, wanted)
    conn.execute(text(f"INSERT INTO {table} SELECT * FROM {old}"))
    for name, definition in unchecked:
        conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    # a coded number's serial part is what the sequence gave (the plain ones are theirs)
    drawn = incident_ids.SERIAL_SQL if coded else "id"
    conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"greatest(coalesce((SELECT max({drawn}) FROM {old}), 0) + 1, "
            f"(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END "
            f"FROM {seq})), false)"
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
    for referrer, name, definition in referrers:
        conn.execute(text(f"ALTER TABLE {referrer} ADD CONSTRAINT {name} {definition}"))
    for _, statements in views:
        for statement in statements:
            conn.execute(text(statement))
    for _, _, statement in policies:
        conn.execute(text(statement))
