"""The spatial foundation: settings, database, coordinates, geometry validation."""
