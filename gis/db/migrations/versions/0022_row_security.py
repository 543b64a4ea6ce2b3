"""Row-level security: the database decides which households, residents and cases exist for whom.

* A role without login (``WANGGE_DB_APP_ROLE``, ``wangge_app`` by default), created when
  absent and granted to the user running the migration, so that the server's connection
  can ``SET ROLE`` to it (:mod:`gis.db.principal`).  It may read and write the tables,
  but only append to and (for admins and the system) read the audit log.
* Row-level security with policies on every table with personal or area-scoped data.
  The policies read who asks from transaction-local settings (``wangge.role``,
  ``wangge.user_id``, ``wangge.worker_id``, ``wangge.grid_ids`` — a comma list, ``*``
  for every grid) through the functions below, mirroring :mod:`grids.access`:

  - households (and their history): the grids the user covers; residents none;
  - residents and identities: as their household (the app masks what a worker reads);
  - incidents: the user's grids (workers, staff), the worker's own cases, the user's own
    reports; events, photos and check-ins as their incident; reporters' contacts to
    staff and the reporter;
  - alert recipients (who was warned, the check-on rows): the user's grids; the outbox
    as its recipient;
  - the audit log: admins and the system; staff read the reveals of households and the
    handovers of grids they see (the desks show them).

  The role ``system`` (the server's jobs and its shared caches) and a user whose area is
  every grid (``*``, an admin) see every row.  Nothing set: nothing visible.
* Two ``SECURITY DEFINER`` functions for what must look past the caller's rows:
  the duplicate search of a new report (a resident learns only that a similar report is
  handled) and the Open311 token lookup (anonymous; the token is the secret).

The table owner (the CLI, migrations, loaders) is not subject to the policies (no
``FORCE``); neither is a superuser.

Revision ID: 0022
Revises: 0021
"""

from alembic import op

from gis.settings import get_settings

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

S = "(SELECT wangge_sees_all())"
G = "(SELECT wangge_grid_ids())::integer[]"
R = "(SELECT wangge_role())"
U = "(SELECT wangge_user_id())"
W = "(SELECT wangge_worker_id())"
STAFF = f"{R} IN ('community_staff', 'street_staff', 'admin')"
SIGNED_IN = f"({S} OR {R} NOT IN ('', 'anonymous'))"
#: Households and what lies in grids: the grids the user covers (not residents, anonymous).
IN_GRIDS = f"({S} OR ({R} NOT IN ('resident', 'anonymous', '') AND grid_id = ANY({G})))"
INCIDENT = (
    f"({S} OR ({R} NOT IN ('resident', 'anonymous', '') AND grid_id = ANY({G})) "
    f"OR ({R} = 'grid_worker' AND assignee_id = {W}) OR reporter_id = {U})"
)


def _of(parent: str, key: str, table: str, extra: str = "") -> str:
    return (
        f"({S} OR EXISTS (SELECT 1 FROM {parent} p WHERE p.id = {table}.{key}"
        f"{' AND ' + extra if extra else ''}))"
    )


#: table -> (using: the rows visible and changeable, insert check or None for ``using``)
POLICIES: dict[str, tuple[str, str | None]] = {
    "household": (IN_GRIDS, None),
    "household_history": (_of("household", "household_id", "household_history"), SIGNED_IN),
    "resident": (_of("household", "household_id", "resident"), None),
    "resident_identity": (_of("resident", "resident_id", "resident_identity"), None),
    "incident": (INCIDENT, f"({INCIDENT} OR {STAFF})"),
    # appended in the statement that files the incident, which it cannot see yet
    "incident_event": (_of("incident", "incident_id", "incident_event"), SIGNED_IN),
    "incident_photo": (_of("incident", "incident_id", "incident_photo"), SIGNED_IN),
    "incident_checkin": (_of("incident", "incident_id", "incident_checkin"), SIGNED_IN),
    "incident_contact": (
        _of("incident", "incident_id", "incident_contact", f"({STAFF} OR p.reporter_id = {U})"),
        SIGNED_IN,
    ),
    "alert_recipient": (IN_GRIDS, f"({S} OR {STAFF})"),
    "outbox": (
        f"({S} OR EXISTS (SELECT 1 FROM alert_recipient p WHERE p.id = outbox.alert_recipient_id))",
        f"({S} OR {STAFF})",
    ),
}
AUDIT_READ = (
    f"({S} OR {R} = 'admin' OR ({STAFF} AND ("
    "(object_type = 'household' AND EXISTS (SELECT 1 FROM household p "
    "WHERE p.id::text = audit_log.object_id)) "
    f"OR (object_type = 'grid' AND object_id = ANY(CAST({G} AS text[]))))))"
)

FUNCTIONS = """
CREATE FUNCTION wangge_role() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('wangge.role', true), '') $$;

CREATE FUNCTION wangge_sees_all() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT coalesce(current_setting('wangge.role', true) = 'system'
       OR (current_setting('wangge.role', true) NOT IN ('', 'anonymous')
           AND current_setting('wangge.grid_ids', true) = '*'), false) $$;

CREATE FUNCTION wangge_grid_ids() RETURNS integer[] LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN coalesce(current_setting('wangge.grid_ids', true), '') IN ('', '*')
            THEN '{}'::integer[]
            ELSE string_to_array(current_setting('wangge.grid_ids', true), ',')::integer[] END $$;

CREATE FUNCTION wangge_user_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('wangge.user_id', true), '')::bigint $$;

CREATE FUNCTION wangge_worker_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT nullif(current_setting('wangge.worker_id', true), '')::bigint $$;

-- the earlier reports a new one may duplicate, whoever may see them (the caller lists
-- only those the reporter may see, and counts the others)
CREATE FUNCTION wangge_similar_reports(
    category text, at timestamptz, window_s double precision, pt geometry, radius_m double precision
) RETURNS TABLE (id bigint, state varchar, reported_at timestamptz, geom geometry,
                 grid_id integer, assignee_id integer, reporter_id integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
$$ SELECT i.id, i.state, i.reported_at, i.geom, i.grid_id, i.assignee_id, i.reporter_id
   FROM incident i
   WHERE i.category_code = category
     AND i.reported_at BETWEEN at - make_interval(secs => window_s)
                           AND at + make_interval(secs => window_s)
     AND i.merged_into IS NULL
     AND ST_DWithin(i.geom::geography, pt::geography, radius_m) $$;

-- the Open311 request filed under a public token (anonymous: the token is the secret)
CREATE FUNCTION wangge_request_by_token(token_sha256 text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
$$ SELECT id FROM incident WHERE public_token_sha256 = token_sha256 $$;
"""
FUNCTION_NAMES = (
    "wangge_request_by_token(text)",
    "wangge_similar_reports(text, timestamptz, double precision, geometry, double precision)",
    "wangge_worker_id()",
    "wangge_user_id()",
    "wangge_grid_ids()",
    "wangge_sees_all()",
    "wangge_role()",
)


def _role() -> str:
    return get_settings().db_app_role or "wangge_app"


def upgrade() -> None:
    role = _role()
    quoted = '"' + role.replace('"', '""') + '"'
    literal = "'" + role.replace("'", "''") + "'"
    # roles belong to the cluster: another database (a test's) may create it at once
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal}) THEN
                CREATE ROLE {quoted} NOLOGIN;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
        DO $$ BEGIN
            IF NOT pg_has_role(current_user, {literal}, 'MEMBER') THEN
                EXECUTE format('GRANT %I TO %I', {literal}, current_user);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}")
    op.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {quoted}"
    )
    # the audit log is append-only for the app
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {quoted}")
    op.execute(FUNCTIONS)
    for table, (using, insert) in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        if insert is None:
            op.execute(f"CREATE POLICY wangge_rows ON {table} USING {using} WITH CHECK {using}")
            continue
        for command in ("SELECT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE POLICY wangge_{command.lower()} ON {table} FOR {command} USING {using}"
            )
        op.execute(f"CREATE POLICY wangge_insert ON {table} FOR INSERT WITH CHECK {insert}")
    op.execute("ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY wangge_read ON audit_log FOR SELECT USING {AUDIT_READ}")
    op.execute("CREATE POLICY wangge_append ON audit_log FOR INSERT WITH CHECK (true)")


def downgrade() -> None:
    role = _role()
    quoted = '"' + role.replace('"', '""') + '"'
    for table, (_, insert) in POLICIES.items():
        names = ("rows",) if insert is None else ("select", "update", "delete", "insert")
        for name in names:
            op.execute(f"DROP POLICY IF EXISTS wangge_{name} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP POLICY IF EXISTS wangge_read ON audit_log")
    op.execute("DROP POLICY IF EXISTS wangge_append ON audit_log")
    op.execute("ALTER TABLE audit_log DISABLE ROW LEVEL SECURITY")
    for name in FUNCTION_NAMES:
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {quoted}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE USAGE, SELECT, UPDATE ON SEQUENCES FROM {quoted}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {quoted}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {quoted}")
    # the role stays: it belongs to the cluster, other databases may use it
