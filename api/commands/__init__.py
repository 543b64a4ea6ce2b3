"""Command-line commands, one module per concern; registered in api.cli."""
