"""Importers for a street office's own files: registers, boundaries, lists and OpenStreetMap.

One module per job: :mod:`~etl.imports.dictionary` (every importable field, the one
source of the headers, the template and the documentation), :mod:`~etl.imports.readers`
(Excel, CSV in any encoding, GeoJSON, GeoPackage, Shapefile), :mod:`~etl.imports.headers`
(which column is which field), :mod:`~etl.imports.values` (Chinese spellings of values),
:mod:`~etl.imports.addresses` (Chinese addresses, normalised and matched),
:mod:`~etl.imports.registers` (a file of one kind to the layers of the loader),
:mod:`~etl.imports.areas` (boundaries, AMap-style included), :mod:`~etl.imports.offsets`
(coordinates declared WGS84 that are GCJ-02), :mod:`~etl.imports.osm_features`
(buildings, facilities, shelters from OpenStreetMap), :mod:`~etl.imports.problems`
(what is wrong, where, and the rejects file), :mod:`~etl.imports.template` and
:mod:`~etl.imports.writers` (the files that go out).
"""
