"""Alembic environment: migrations run against the engine handed over in the config."""

from alembic import context
from sqlalchemy import create_engine

from geoalchemy2 import alembic_helpers

from gis.db.models import metadata
from gis.store.partition_store import SCHEMA as PARTITIONS

config = context.config


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What autogenerate compares: not the keys PostgreSQL gives each partition.

    A foreign key to a partitioned table (``incident``, migration 0042) is kept by the
    server as one key per partition besides the declared one; only that one is ours.
    """
    referred = getattr(obj, "referred_table", None)
    if type_ == "foreign_key_constraint" and reflected and referred is not None:
        return referred.schema != PARTITIONS and alembic_helpers.include_object(
            obj, name, type_, reflected, compare_to
        )
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def run_migrations_online() -> None:
    """Run migrations with a live connection (the only mode Wangge uses)."""
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url"), hide_parameters=True)
        with engine.begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
