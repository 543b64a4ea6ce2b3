"""The incidents partitioned by month (按月分区): a case's number carries its month.

Issue #20 asks for incidents by month beside their events (0037) and the audit log
(0031).  A partitioned table's keys must hold its partition key, and six tables and the
case's own links refer to a case by ``id`` alone; so ``id`` is the partition key, and a
case's number says its month: ``YYYYMM × 10⁹ + n`` (:mod:`gis.store.incident_ids`).
Every month's partition holds its month's numbers (RANGE of ``id``, in the schema
``wangge_partitions``) with a CHECK rule that their ``reported_at`` lies in that local
month: a read by number plans its month alone, a read by time only the months it spans
(constraint exclusion), and the foreign keys to ``incident (id)`` stay as they were.

* ``wangge_incident_id(reported_at)`` gives a new case its number (the server's filing
  and imports call it): coded when its month has a partition, else a plain ``n`` from the
  same sequence, which the DEFAULT partition takes — a row is never refused for want of a
  month, and no number ever has to move (a row in DEFAULT with another table's key on it
  could not be moved without deleting what refers to it).
* Cases stored before this migration keep their numbers (plain) in the DEFAULT
  partition: numbers given to residents, 12345 and the audit log stay true.
* ``(source, source_ref)`` — a report filed once from its source — cannot be a unique
  key of the partitioned table; it is kept in ``incident_source_ref`` (a statement
  trigger adds each filed case's key, as the table's owner, so a key filed in another
  office's area still counts; ``wangge_filed_source_refs`` says which keys were filed,
  whatever the office), its rows going with their case.  The public token's
  digest was unique only by its randomness (256 bits): now a plain index.
* The month partitions: the current month and ``WANGGE_PARTITION_MONTHS_AHEAD`` more,
  kept ahead by the ``partitions`` job; a bulk load and a 12345 import make their cases'
  months first, through ``wangge_make_incident_months`` (SECURITY DEFINER: the server's
  role may call it, and has no DDL of its own).

The downgrade copies the rows back into one table (the numbers as they are) and gives
the unique keys back.

Revision ID: 0042
Revises: 0041
"""

from alembic import op
from sqlalchemy import Connection, text

from gis.clock import LOCAL_TZ
from gis.db import partitioning
from gis.settings import get_settings
from gis.store import incident_ids
from gis.store.partition_store import LOCK_TIMEOUT_S

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None

TABLE = "incident"
ASIDE = "before_0042"
#: What replaces the two unique keys on the partitioned table (lookups stay indexed).
LOOKUPS = [
    "CREATE INDEX ix_incident_source_source_ref ON incident (source, source_ref)",
    "CREATE INDEX ix_incident_public_token_sha256 ON incident (public_token_sha256)",
]
UNIQUE_KEYS = [
    "ALTER TABLE incident ADD CONSTRAINT uq_incident_source_source_ref UNIQUE (source, source_ref)",
    "ALTER TABLE incident ADD CONSTRAINT uq_incident_public_token_sha256 "
    "UNIQUE (public_token_sha256)",
]

NUMBER = f"""
CREATE FUNCTION wangge_incident_id(reported timestamptz) RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = public, pg_temp AS
$$ SELECT CASE WHEN EXISTS (
            SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'wangge_partitions' AND c.relname =
                  'incident_' || to_char(reported AT TIME ZONE '{LOCAL_TZ}', 'YYYY_MM'))
         THEN to_char(reported AT TIME ZONE '{LOCAL_TZ}', 'YYYYMM')::bigint
              * {incident_ids.FACTOR}
         ELSE 0 END + nextval('incident_id_seq') $$
"""

#: A month's partition of the cases made on demand, as the owner: the server's role files
#: a 12345 export's old calls under their month's numbers (it has no DDL of its own).
#: The one place incident months are made (:func:`gis.store.partition_store.create_months`).
MAKE_MONTHS = f"""
CREATE FUNCTION wangge_make_incident_months(wanted date[]) RETURNS date[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m date;
    part text;
    made date[] := '{{}}';
    locked boolean := false;
BEGIN
    FOREACH m IN ARRAY wanted LOOP
        m := date_trunc('month', m)::date;
        part := 'incident_' || to_char(m, 'YYYY_MM');
        CONTINUE WHEN m = ANY(made)
            OR to_regclass('wangge_partitions.' || part) IS NOT NULL;
        IF NOT locked THEN
            -- locked first, no other run makes the same month meanwhile; given up after
            -- a while rather than hold every reader of the cases behind it
            PERFORM set_config('lock_timeout', '{int(LOCK_TIMEOUT_S * 1000)}ms', true);
            LOCK TABLE incident IN ACCESS EXCLUSIVE MODE;
            locked := true;
            CONTINUE WHEN to_regclass('wangge_partitions.' || part) IS NOT NULL;
        END IF;
        EXECUTE format(
            'CREATE TABLE wangge_partitions.%I PARTITION OF incident (CONSTRAINT %I '
            'CHECK (reported_at >= %L AND reported_at < %L)) FOR VALUES FROM (%s) TO (%s)',
            part, 'ck_' || part || '_month',
            m::timestamp AT TIME ZONE '{LOCAL_TZ}',
            (m + interval '1 month')::timestamp AT TIME ZONE '{LOCAL_TZ}',
            to_char(m, 'YYYYMM')::bigint * {incident_ids.FACTOR},
            to_char(m + interval '1 month', 'YYYYMM')::bigint * {incident_ids.FACTOR});
        made := made || m;
    END LOOP;
    RETURN made;
END $$
"""

SOURCE_REFS = """
CREATE TABLE incident_source_ref (
    source varchar(16) NOT NULL,
    source_ref varchar(100) NOT NULL,
    incident_id bigint NOT NULL,
    CONSTRAINT pk_incident_source_ref PRIMARY KEY (source, source_ref),
    CONSTRAINT fk_incident_source_ref_incident_id_incident FOREIGN KEY (incident_id)
        REFERENCES incident (id) ON DELETE CASCADE
)
"""
SOURCE_REF_INDEX = (
    "CREATE INDEX ix_incident_source_ref_incident_id ON incident_source_ref (incident_id)"
)
KEEP_SOURCE_REFS = """
CREATE FUNCTION wangge_incident_source_refs() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO incident_source_ref (source, source_ref, incident_id)
    SELECT source, source_ref, id FROM filed WHERE source_ref IS NOT NULL;
    RETURN NULL;
END $$
"""
#: Which of a source's keys were filed, whatever the office (the server's role reads
#: ``incident`` only within its area, and may not read this table).
FILED_REFS = """
CREATE FUNCTION wangge_filed_source_refs(src text, refs text[])
RETURNS TABLE (source_ref text, incident_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
$$ SELECT k.source_ref::text, k.incident_id FROM incident_source_ref k
   WHERE k.source = src AND k.source_ref = ANY(refs) $$
"""
SOURCE_REF_TRIGGER = (
    "CREATE TRIGGER incident_source_refs AFTER INSERT ON incident "
    "REFERENCING NEW TABLE AS filed FOR EACH STATEMENT "
    "EXECUTE FUNCTION wangge_incident_source_refs()"
)


def _indexes(conn: Connection) -> list[str]:
    """The table's indexes that no key constraint makes, as the catalogue holds them."""
    # a partitioned table's index reads "ON ONLY incident": made so, no partition gets it
    return [
        statement.replace(" ON ONLY ", " ON ", 1)
        for statement in conn.execute(
            text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = to_regclass('public.incident') AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1"
            )
        ).scalars()
    ]


def _foreign_keys(conn: Connection) -> list[str]:
    """The table's own foreign keys (to grids, workers, users, categories, itself)."""
    rows = conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass('public.incident') AND contype = 'f' "
            "AND conparentid = 0 ORDER BY 1"
        )
    ).all()
    return [f"ALTER TABLE incident ADD CONSTRAINT {n} {d}" for n, d in rows]


def _app_role(conn: Connection) -> str | None:
    """The server's role, when it exists."""
    role = get_settings().db_app_role or "wangge_app"
    found = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    return role if found else None


def upgrade() -> None:
    conn = op.get_bind()
    role = _app_role(conn)
    op.execute(NUMBER)
    op.execute(MAKE_MONTHS)
    op.execute("REVOKE ALL ON FUNCTION wangge_make_incident_months(date[]) FROM PUBLIC")
    if role:
        op.execute(f'GRANT EXECUTE ON FUNCTION wangge_make_incident_months(date[]) TO "{role}"')
    op.execute(SOURCE_REFS)
    op.execute(SOURCE_REF_INDEX)
    op.execute(
        "INSERT INTO incident_source_ref (source, source_ref, incident_id) "
        "SELECT source, source_ref, id FROM incident WHERE source_ref IS NOT NULL"
    )
    # the keys of every office's 12345 cases: the trigger writes them as the owner, the
    # server's role reads its own cases' keys from ``incident``
    op.execute("REVOKE ALL ON incident_source_ref FROM PUBLIC")
    if role:
        op.execute(f'REVOKE ALL ON incident_source_ref FROM "{role}"')
    op.execute(KEEP_SOURCE_REFS)
    op.execute(SOURCE_REF_TRIGGER)
    op.execute(FILED_REFS)
    op.execute("REVOKE ALL ON FUNCTION wangge_filed_source_refs(text, text[]) FROM PUBLIC")
    if role:
        op.execute(f'GRANT EXECUTE ON FUNCTION wangge_filed_source_refs(text, text[]) TO "{role}"')
    op.execute("ALTER TABLE incident DROP CONSTRAINT uq_incident_source_source_ref")
    op.execute("ALTER TABLE incident DROP CONSTRAINT uq_incident_public_token_sha256")
    partitioning.convert(
        conn,
        TABLE,
        partitioned=True,
        indexes=_indexes(conn) + LOOKUPS,
        foreign_keys=_foreign_keys(conn),
        aside=ASIDE,
    )


def downgrade() -> None:
    conn = op.get_bind()
    indexes = [i for i in _indexes(conn) if not any(i.split()[2] in k for k in LOOKUPS)]
    partitioning.convert(
        conn,
        TABLE,
        partitioned=False,
        indexes=indexes,
        foreign_keys=_foreign_keys(conn),
        aside=ASIDE,
    )
    for statement in LOOKUPS:
        op.execute(f"DROP INDEX IF EXISTS {statement.split()[2]}")
    for statement in UNIQUE_KEYS:
        op.execute(statement)
    op.execute("DROP FUNCTION wangge_filed_source_refs(text, text[])")
    op.execute("DROP TRIGGER incident_source_refs ON incident")
    op.execute("DROP FUNCTION wangge_incident_source_refs()")
    op.execute("DROP TABLE incident_source_ref")
    op.execute("DROP FUNCTION wangge_incident_id(timestamptz)")
    op.execute("DROP FUNCTION wangge_make_incident_months(date[])")
