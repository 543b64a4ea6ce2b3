"""Our 北斗 codec beside an open implementation in another language, on random points.

The reference is ``beidou-grid-location-codec`` (TypeScript, by Gvitech-gis, ISC
licence), whose compiled ``dist/`` is committed in its repository: nothing is built.
Nothing of it is in this repository.  To run this module::

    git clone https://github.com/Gvitech-gis/beidou-grid-location-codec /tmp/bd-js
    BEIDOU_JS_CODEC=/tmp/bd-js .venv/bin/python -m pytest tests/grids/test_beidou_reference.py

(the checkout compared last: commit 5b0fc39).  Without ``node`` on the PATH or without
``BEIDOU_JS_CODEC`` the module is skipped, saying which is missing.

Compared, with 0 mismatches required:

* encoding at every level 1 to 10: 10,000 points uniform on the globe between 88°S and
  88°N (every hemisphere) and 10,000 over China;
* decoding: the origin-side corner (定位角点) of 2,000 codes of each level, to 1e-9°;
* neighbours: the 8 neighbours of 2,000 cells of each level, equal but where the
  reference writes a malformed code (0.16 %, all west of the meridian, see
  :func:`test_neighbours_match`) (cells next to the prime
  meridian, the equator or the antimeridian are left out: the reference reaches across
  them by adding seconds to the corner's degrees-minutes-seconds, which it does not
  wrap, and refuses a corner whose degrees are 0, so cells within 1° of the meridian
  and the equator too);
* heights: the 12-character level-10 height code of 10,000 heights from 0 to 100 km and
  2,000 up to 500,000 km.

Where the two differ by design, the test asserts that the difference is exactly that:

* below the ellipsoid the reference writes the sign bit then ``|n|`` (sign-magnitude);
  we follow annex C's 32-bit integer (two's complement), see :mod:`grids.beidou.height`;
* the reference puts the height characters after the 2-D code; the standard (figure
  12, table 1) and we interleave them level by level, so heights are compared alone;
* points exactly on the equator get ``S`` there (``lat > 0 ? N : S``) and points exactly
  on a western cell edge a column out of range: random points never land there, and
  :mod:`tests.grids.test_beidou` pins our rule (the outer cell, the equator north).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from grids import beidou as bd
from grids.beidou import height as h3d
from grids.beidou.lattice import CELL_LAT, CELL_LON, UNITS_PER_DEGREE

LEVELS = range(1, 11)

RUNNER = r"""
const path = require("path");
const fs = require("fs");
const { Codec2D, Codec3D } = require(path.join(process.argv[2], "dist", "index.js"));
const input = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const out = { codes: [], corners: [], neighbours: [], heights: [] };
for (const [lon, lat] of input.points) {
  const row = [];
  for (let level = 1; level <= 10; level++) {
    row.push(Codec2D.encode({ lngDegree: lon, latDegree: lat }, level));
  }
  out.codes.push(row);
}
for (const code of input.decode) {
  const c = Codec2D.decode(code);
  out.corners.push([c.lngDegree, c.latDegree]);
}
for (const [code, offsets] of input.neighbours) {
  out.neighbours.push(Codec2D.getNeighbors(code, offsets));
}
for (const h of input.heights) out.heights.push(Codec3D.encodeElevation(h));
fs.writeFileSync(process.argv[4], JSON.stringify(out));
"""


def _reference() -> Path:
    node = shutil.which("node")
    where = os.environ.get("BEIDOU_JS_CODEC")
    if node is None:
        pytest.skip("node is not on the PATH")
    if not where:
        pytest.skip("BEIDOU_JS_CODEC is not set (a checkout of beidou-grid-location-codec)")
    root = Path(where)
    if not (root / "dist" / "index.js").is_file():
        pytest.skip(f"BEIDOU_JS_CODEC={where} has no dist/index.js")
    return root


def _run(root: Path, tmp_path: Path, payload: dict) -> dict:
    script = tmp_path / "runner.js"
    script.write_text(RUNNER, encoding="utf-8")
    given = tmp_path / "in.json"
    answer = tmp_path / "out.json"
    given.write_text(json.dumps(payload), encoding="utf-8")
    run = subprocess.run(
        ["node", str(script), str(root), str(given), str(answer)],
        check=False,
        timeout=600,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"the reference failed:\n{run.stderr[-3000:]}"
    return json.loads(answer.read_text(encoding="utf-8"))


def _points(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lon = np.concatenate([rng.uniform(-180, 180, 10_000), rng.uniform(73, 135, 10_000)])
    lat = np.concatenate([rng.uniform(-88, 88, 10_000), rng.uniform(18, 54, 10_000)])
    return lon, lat


def _sign_magnitude(layers: np.ndarray) -> list[str]:
    """Level-10 height codes written as the reference writes them: a sign bit, then |n|."""
    word = np.where(layers < 0, (1 << 31) | -layers, layers)
    return h3d.layer_strings(np.where(word >= 1 << 31, word - (1 << 32), word)).tolist()


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> dict:
    root = _reference()
    lon, lat = _points(seed=2024)
    cells = {level: bd.encode(lon, lat, level) for level in LEVELS}
    rng = np.random.default_rng(7)
    sample = {level: rng.choice(lon.size, 2000, replace=False) for level in LEVELS}
    decode = [c for level in LEVELS for c in bd.to_strings(cells[level][sample[level]]).tolist()]
    heights = np.concatenate(
        [
            rng.uniform(0, 100_000, 10_000),
            rng.uniform(0, 5e8, 2000),
            -rng.uniform(0, 6_000_000, 2000),
        ]
    )
    neighbour_queries, neighbour_cells = [], []
    for level in LEVELS:
        chosen = cells[level][sample[level]]
        away = _away_from_the_lines(chosen, level)
        for cell, east, north in zip(chosen[away], *_hemispheres(chosen[away]), strict=True):
            # the reference's offsets count away from the origin in each hemisphere, but
            # eastward at level 1 (it adds them to the sheet column, 01-60 west to east)
            x_sign = 1 if east or level == 1 else -1
            offsets = [[dx * x_sign, dy * (1 if north else -1)] for dx, dy in bd.NEIGHBOUR_OFFSETS]
            neighbour_queries.append([bd.to_strings([cell])[0], offsets])
            neighbour_cells.append(cell)
    payload = {
        "points": np.column_stack([lon, lat]).tolist(),
        "decode": decode,
        "neighbours": neighbour_queries,
        "heights": heights.tolist(),
    }
    out = _run(root, tmp_path_factory.mktemp("beidou-js"), payload)
    return {
        "lon": lon,
        "lat": lat,
        "cells": cells,
        "decode": decode,
        "heights": heights,
        "neighbour_cells": np.array(neighbour_cells, dtype=np.int64),
        "out": out,
    }


def _hemispheres(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    box = bd.decode(cells)
    return box.lon >= 0, box.lat >= 0


def _away_from_the_lines(cells: np.ndarray, level: int) -> np.ndarray:
    """Cells whose neighbours do not cross the prime meridian, the equator or ±180°/±88°."""
    box = bd.decode(cells)
    width = CELL_LON[level] / UNITS_PER_DEGREE
    height = CELL_LAT[level] / UNITS_PER_DEGREE
    # and cells within 1° of those lines: the reference's getSecond refuses a zero degree
    lon_ok = (np.abs(box.lon) > max(1.0, 1.5 * width)) & (np.abs(box.lon) < 180 - 1.5 * width)
    lat_ok = (np.abs(box.lat) > max(1.0, 1.5 * height)) & (np.abs(box.lat) < 88 - 1.5 * height)
    return lon_ok & lat_ok


@pytest.mark.parametrize("level", LEVELS)
def test_encoding_matches_at_every_level(compared, level):
    theirs = np.array([row[level - 1] for row in compared["out"]["codes"]])
    ours = bd.to_strings(compared["cells"][level])
    differ = np.flatnonzero(theirs != ours)
    examples = [(compared["lon"][i], compared["lat"][i], theirs[i], ours[i]) for i in differ[:5]]
    assert differ.size == 0, examples
    assert ours.size == 20_000


def test_decoded_corners_match(compared):
    theirs = np.array(compared["out"]["corners"])
    box = bd.decode(compared["decode"])
    ours = np.column_stack(
        [np.where(box.lon >= 0, box.west, box.east), np.where(box.lat >= 0, box.south, box.north)]
    )
    assert theirs.shape == (20_000, 2)
    assert np.abs(theirs - ours).max() < 1e-9


def _malformed(codes: np.ndarray) -> np.ndarray:
    out = np.zeros(codes.size, dtype=bool)
    for i, code in enumerate(codes.tolist()):
        try:
            bd.from_strings([code])
        except bd.BeidouError:
            out[i] = True
    return out


def test_neighbours_match(compared):
    """Equal, but where the reference writes a malformed code for a western neighbour.

    A step out of the cell's parent makes the reference decode the cell's corner and
    encode the corner moved by one cell; west of the meridian a corner exactly on an
    edge of a level-1 sheet then gets a column or row one past the last (``C`` at level
    2, its ``-a - 1`` sheet arithmetic: the same slip as its encoding of points exactly
    on a western sheet edge).  Every difference is such a code.
    """
    cells = compared["neighbour_cells"]
    theirs = np.array(compared["out"]["neighbours"])
    ours = bd.to_strings(bd.neighbours(cells)).reshape(-1, 8)
    assert cells.size > 15_000  # most of the 20,000 are away from the lines
    row, column = np.nonzero(theirs != ours)
    assert row.size < 0.01 * theirs.size
    assert _malformed(theirs[row, column]).all()
    assert (bd.decode(cells[row]).lon < 0).all()
    # each is a step out of the cell's parent, where the reference decodes and re-encodes
    neighbour = bd.from_strings(ours[row, column])
    assert (bd.parent(neighbour) != bd.parent(cells[row])).all()


def test_heights_match_above_the_ellipsoid(compared):
    heights = compared["heights"]
    theirs = np.array(compared["out"]["heights"])
    layers = h3d.height_layers(heights)
    ours = h3d.layer_strings(layers)
    above = heights >= 0
    assert above.sum() == 12_000
    assert (theirs[above] == ours[above]).all()
    # below it, the one difference is the sign-magnitude writing of the same layer n
    assert (theirs[~above] == np.array(_sign_magnitude(layers[~above]))).all()
    assert (theirs[~above] != ours[~above]).all()
