"""Folium maps for each audience, working without the internet."""
