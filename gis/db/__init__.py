"""The database machinery: engine, cluster, migrations and the table models."""
