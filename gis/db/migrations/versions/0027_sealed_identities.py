"""Identity data sealed at rest: ID numbers, phones and reporters' contacts as AES-GCM ciphertext.

* ``resident_identity.id_number`` and ``.phone``, ``incident_contact.phone`` and ``.email``
  become ``bytea`` holding values sealed by :mod:`gis.crypt` (the key from
  ``WANGGE_DATA_KEY``, else the local default key); the values stored before are sealed
  here, in batches of :data:`BATCH` rows.
* ``resident_identity.id_number_hash`` and ``.phone_hash``: the blind index (HMAC-SHA256
  of the normalised value) that exact-match search and the import's duplicate check use;
  unique for ID numbers, as the clear column was.  The ID number's format check and the
  phone's trigram index go: the database cannot read the values any more (the import and
  the registry desk check the format before sealing).

Row-level security made cheaper on the hot reads (``benchmarks/security.py``):

* ``resident.grid_id`` and ``resident_identity.grid_id``: the grid of the household,
  copied, so that their policies are the household's own simple test
  (``grid_id = ANY(the caller's grids)``) instead of a join to the resident and the
  household for every row (a resident's identity passed three policies).  Kept in step
  by triggers (``SECURITY DEFINER``: whoever moves a household, its people follow):
  a new resident or identity takes its household's grid when none is given (the bulk
  loader gives it), a resident moved to another household takes that one's grid, and a
  household placed in another grid (re-division, a corrected position) moves its
  residents and their identities with it, in one statement per statement.

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

from gis import crypt
from gis.store import keys_store

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

BATCH = 5000

S = "(SELECT wangge_sees_all())"
G = "(SELECT wangge_grid_ids())::integer[]"
R = "(SELECT wangge_role())"
#: The households' policy (0022), now also the residents' and identities' on their own grid.
IN_GRIDS = f"({S} OR ({R} NOT IN ('resident', 'anonymous', '') AND grid_id = ANY({G})))"
#: The policies of 0022 they replace.
OLD_POLICIES = {
    "resident": f"({S} OR EXISTS (SELECT 1 FROM household p WHERE p.id = resident.household_id))",
    "resident_identity": (
        f"({S} OR EXISTS (SELECT 1 FROM resident p WHERE p.id = resident_identity.resident_id))"
    ),
}

TRIGGERS = """
CREATE FUNCTION wangge_resident_grid() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.grid_id := (SELECT h.grid_id FROM household h WHERE h.id = NEW.household_id);
    RETURN NEW;
END $$;

CREATE FUNCTION wangge_identity_grid() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.grid_id := (SELECT r.grid_id FROM resident r WHERE r.id = NEW.resident_id);
    RETURN NEW;
END $$;

CREATE FUNCTION wangge_household_moved() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE resident r SET grid_id = n.grid_id
    FROM moved_new n JOIN moved_old o ON o.id = n.id
    WHERE r.household_id = n.id AND n.grid_id IS DISTINCT FROM o.grid_id
      AND r.grid_id IS DISTINCT FROM n.grid_id;
    RETURN NULL;
END $$;

CREATE FUNCTION wangge_resident_moved() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE resident_identity i SET grid_id = n.grid_id
    FROM moved_new n JOIN moved_old o ON o.id = n.id
    WHERE i.resident_id = n.id AND n.grid_id IS DISTINCT FROM o.grid_id
      AND i.grid_id IS DISTINCT FROM n.grid_id;
    RETURN NULL;
END $$;

CREATE TRIGGER wangge_resident_grid_insert BEFORE INSERT ON resident
    FOR EACH ROW WHEN (NEW.grid_id IS NULL) EXECUTE FUNCTION wangge_resident_grid();
CREATE TRIGGER wangge_resident_grid_update BEFORE UPDATE OF household_id ON resident
    FOR EACH ROW WHEN (NEW.household_id IS DISTINCT FROM OLD.household_id)
    EXECUTE FUNCTION wangge_resident_grid();
CREATE TRIGGER wangge_identity_grid_insert BEFORE INSERT ON resident_identity
    FOR EACH ROW WHEN (NEW.grid_id IS NULL) EXECUTE FUNCTION wangge_identity_grid();
CREATE TRIGGER wangge_household_moved AFTER UPDATE ON household
    REFERENCING OLD TABLE AS moved_old NEW TABLE AS moved_new
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_household_moved();
CREATE TRIGGER wangge_resident_moved AFTER UPDATE ON resident
    REFERENCING OLD TABLE AS moved_old NEW TABLE AS moved_new
    FOR EACH STATEMENT EXECUTE FUNCTION wangge_resident_moved();
"""
TRIGGER_NAMES = (
    ("wangge_resident_moved", "resident"),
    ("wangge_household_moved", "household"),
    ("wangge_identity_grid_insert", "resident_identity"),
    ("wangge_resident_grid_update", "resident"),
    ("wangge_resident_grid_insert", "resident"),
)
TRIGGER_FUNCTIONS = (
    "wangge_resident_moved()",
    "wangge_household_moved()",
    "wangge_identity_grid()",
    "wangge_resident_grid()",
)


def _grids_on_people() -> None:
    op.add_column("resident", sa.Column("grid_id", sa.Integer()))
    op.add_column("resident_identity", sa.Column("grid_id", sa.Integer()))
    op.execute(
        "UPDATE resident r SET grid_id = h.grid_id FROM household h "
        "WHERE h.id = r.household_id AND h.grid_id IS NOT NULL"
    )
    op.execute(
        "UPDATE resident_identity i SET grid_id = r.grid_id FROM resident r "
        "WHERE r.id = i.resident_id AND r.grid_id IS NOT NULL"
    )
    # residents are read by grid (a worker's households); identities only by resident
    op.create_index(op.f("ix_resident_grid_id"), "resident", ["grid_id"])
    op.execute(TRIGGERS)
    for table in OLD_POLICIES:
        op.execute(f"DROP POLICY wangge_rows ON {table}")
        op.execute(f"CREATE POLICY wangge_rows ON {table} USING {IN_GRIDS} WITH CHECK {IN_GRIDS}")


def _grids_off_people() -> None:
    for table, using in OLD_POLICIES.items():
        op.execute(f"DROP POLICY wangge_rows ON {table}")
        op.execute(f"CREATE POLICY wangge_rows ON {table} USING {using} WITH CHECK {using}")
    for name, table in TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for name in TRIGGER_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
    op.drop_index(op.f("ix_resident_grid_id"), table_name="resident")
    op.drop_column("resident_identity", "grid_id")
    op.drop_column("resident", "grid_id")


def _clear(_column: str, stored: bytes | None) -> str | None:
    return None if stored is None else bytes(stored).decode()


def _reseal_all(read) -> None:
    conn = op.get_bind()
    ring = crypt.keyring()
    for table in crypt.SEALED:
        after, n = -1, 1
        while n:
            after, n = keys_store.reseal_batch(
                conn, table, ring, read, after=after, limit=BATCH, stale_only=False
            )


def upgrade() -> None:
    op.drop_constraint(
        op.f("ck_resident_identity_id_number_format"), "resident_identity", type_="check"
    )
    op.drop_constraint(op.f("uq_resident_identity_id_number"), "resident_identity", type_="unique")
    op.drop_index("ix_resident_identity_phone_trgm", table_name="resident_identity")
    for table, columns in crypt.SEALED.items():
        for column in columns:
            op.execute(
                f"ALTER TABLE {table} ALTER COLUMN {column} TYPE bytea "
                f"USING convert_to({column}, 'UTF8')"
            )
    for column in crypt.HASHED["resident_identity"]:
        op.add_column("resident_identity", sa.Column(f"{column}_hash", sa.LargeBinary()))
    _reseal_all(_clear)
    op.create_index(
        op.f("uq_resident_identity_id_number_hash"),
        "resident_identity",
        ["id_number_hash"],
        unique=True,
    )
    op.create_index(op.f("ix_resident_identity_phone_hash"), "resident_identity", ["phone_hash"])
    _grids_on_people()


def downgrade() -> None:
    _grids_off_people()
    ring = crypt.keyring()
    conn = op.get_bind()
    for table, columns in crypt.SEALED.items():
        key = keys_store.KEYS[table]
        rows = conn.execute(sa.text(f"SELECT {key}, {', '.join(columns)} FROM {table}")).all()
        for column in columns:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text USING NULL")
        for row in rows:
            conn.execute(
                sa.text(
                    f"UPDATE {table} SET "
                    + ", ".join(f"{c} = :{c}" for c in columns)
                    + f" WHERE {key} = :k"
                ),
                {"k": row[0], **{c: ring.open(c, row[n]) for n, c in enumerate(columns, 1)}},
            )
    op.drop_index(op.f("ix_resident_identity_phone_hash"), table_name="resident_identity")
    op.drop_index(op.f("uq_resident_identity_id_number_hash"), table_name="resident_identity")
    for column in crypt.HASHED["resident_identity"]:
        op.drop_column("resident_identity", f"{column}_hash")
    lengths = {("resident_identity", "id_number"): 18, ("resident_identity", "phone"): 20}
    for table, columns in crypt.SEALED.items():
        for column in columns:
            n = lengths.get((table, column), 32 if column == "phone" else None)
            kind = f"varchar({n})" if n else "text"
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind}")
    op.create_index(
        "ix_resident_identity_phone_trgm",
        "resident_identity",
        ["phone"],
        postgresql_using="gin",
        postgresql_ops={"phone": "gin_trgm_ops"},
    )
    op.create_unique_constraint(
        op.f("uq_resident_identity_id_number"), "resident_identity", ["id_number"]
    )
    op.create_check_constraint(
        op.f("ck_resident_identity_id_number_format"),
        "resident_identity",
        "id_number ~ '^[0-9]{17}[0-9X]$'",
    )
