"""Every SQL statement of the project, one module per concern; each states its contract."""
