"""The HTML doors: pages rendered on the server, calling the same services as the JSON routes."""
