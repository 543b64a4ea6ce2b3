"""The doors: the FastAPI application and the command line."""
