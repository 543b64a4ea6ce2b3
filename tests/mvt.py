"""Map tiles read as a GIS tool reads them: the tile of a point, and GDAL's MVT driver."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The x, y of the Web Mercator tile at zoom ``z`` holding a point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    r = math.radians(lat)
    y = int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
    return x, y


def read_tile(body: bytes, folder: Path, z: int, x: int, y: int) -> dict[str, list[dict]]:
    """The features of an MVT tile by layer, as GDAL's MVT driver reads them."""
    if not body:
        return {}
    path = folder / str(z) / str(x) / f"{y}.pbf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    out = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-q", str(path)], capture_output=True, text=True, check=True
    ).stdout
    layers: dict[str, list[dict]] = {}
    current: dict | None = None
    for line in out.splitlines():
        if line.startswith("OGRFeature("):
            name = line[len("OGRFeature(") : line.index(")")]
            current = {}
            layers.setdefault(name, []).append(current)
        elif current is not None and " = " in line and line.startswith("  "):
            key, _, value = line.strip().partition(" = ")
            current[key.split(" (")[0]] = value
    return layers
