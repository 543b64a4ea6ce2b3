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

Revision ID: 0025
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

from gis import crypt
from gis.store import keys_store

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None

BATCH = 5000


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


def downgrade() -> None:
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
