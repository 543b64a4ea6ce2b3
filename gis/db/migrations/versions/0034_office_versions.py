"""Data versions per office: one office's import no longer moves every other office's.

The records of buildings, households, residents and facilities name their office
(migration 0033).  A tile drawn inside office B kept its ETag only while *no* building
or household changed anywhere, so an import by office A made every browser and the
server rebuild every tile of the deployment.

Now each of those tables keeps, beside ``<table>_data_version_seq`` (moved by every
change, as before: the whole-deployment caches read it), one sequence per office,
``<table>_data_version_<office id>_seq``, and ``<table>_data_version_none_seq`` for the
rows of no office (a deployment's one office, OpenStreetMap's data).  Statement
triggers with transition tables (``REFERENCING NEW TABLE`` / ``OLD TABLE``) move the
sequence of every office whose rows the statement inserted, changed (before or after)
or deleted; ``TRUNCATE`` moves the no-office sequence, which every reader counts in,
so it moves everything.

Why sequences and not a row per (table, office): a row is locked by the first writer
until it commits, so every writer of an office would queue behind a bulk import (and
two offices' writers behind each other with one row per table).  ``nextval`` takes no
lock that lasts.  An office's sequence is made by its first write
(``wangge_bump_office_version``, SECURITY DEFINER: the server's role may not create
objects); a second transaction making the same one at that moment waits for the first
and then uses it — only ever for an office's first write.  Offices that never write
cost nothing, where a sequence per admin area would be thousands of relations.

Revision ID: 0034
Revises: 0033
"""

from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

TABLES = ("building", "household", "resident", "facility")
#: What names an office's sequence (and no office's: ``none``), as the readers match it.
SEQUENCE_PATTERN = r"^(building|household|resident|facility)_data_version_([0-9]+|none)_seq$"

BUMP_OFFICE = rf"""
CREATE FUNCTION wangge_bump_office_version(tab text, office text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    seq text := tab || '_data_version_' || office || '_seq';
BEGIN
    IF seq !~ '{SEQUENCE_PATTERN}' THEN
        RAISE EXCEPTION 'no office version is kept for % of office %', tab, office;
    END IF;
    IF to_regclass(seq) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE %I', seq);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;  -- made meanwhile by another transaction (which has committed)
        END;
    END IF;
    PERFORM nextval(seq::regclass);
END $$
"""

BUMP_OFFICES = """
CREATE FUNCTION wangge_bump_office_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    office text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR office IN SELECT DISTINCT coalesce(office_id::text, 'none') FROM new_rows LOOP
            PERFORM wangge_bump_office_version(TG_TABLE_NAME, office);
        END LOOP;
    ELSIF TG_OP = 'DELETE' THEN
        FOR office IN SELECT DISTINCT coalesce(office_id::text, 'none') FROM old_rows LOOP
            PERFORM wangge_bump_office_version(TG_TABLE_NAME, office);
        END LOOP;
    ELSE  -- UPDATE: the office a row left and the one it joined
        FOR office IN
            SELECT coalesce(office_id::text, 'none') FROM new_rows
            UNION SELECT coalesce(office_id::text, 'none') FROM old_rows
        LOOP
            PERFORM wangge_bump_office_version(TG_TABLE_NAME, office);
        END LOOP;
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute(BUMP_OFFICE)
    op.execute(BUMP_OFFICES)
    for table in TABLES:
        op.execute(f"CREATE SEQUENCE {table}_data_version_none_seq")
        op.execute(
            f"CREATE TRIGGER {table}_office_versions_insert AFTER INSERT ON {table} "
            "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION wangge_bump_office_versions()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_office_versions_update AFTER UPDATE ON {table} "
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION wangge_bump_office_versions()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_office_versions_delete AFTER DELETE ON {table} "
            "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
            "EXECUTE FUNCTION wangge_bump_office_versions()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_office_versions_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT "
            f"EXECUTE FUNCTION wangge_bump_sequence('{table}_data_version_none_seq')"
        )


def downgrade() -> None:
    for table in TABLES:
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER {table}_office_versions_{event} ON {table}")
    op.execute(
        f"""
        DO $$
        DECLARE s text;
        BEGIN
            FOR s IN SELECT sequencename FROM pg_sequences
                     WHERE schemaname = current_schema() AND sequencename ~ '{SEQUENCE_PATTERN}'
            LOOP
                EXECUTE format('DROP SEQUENCE %I', s);
            END LOOP;
        END $$
        """
    )
    op.execute("DROP FUNCTION wangge_bump_office_versions()")
    op.execute("DROP FUNCTION wangge_bump_office_version(text, text)")
