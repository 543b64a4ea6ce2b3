"""The sample district moved into an area of its own: its codes, its spot, its users.

``wangge sample|load|demo --area CODE`` let one deployment hold several sample
districts side by side (many offices, one deployment, #20).  The generator always
makes 西湖区 (330106) around 三墩镇; :func:`place_in_area` then gives a district made for
an area:

* **codes** — every division code starts with the area's instead: a district's code
  (6 digits) replaces ``330106``; a street's (9 digits) replaces the generated street's
  code (one street only: a district of more communities needs a district's code) and
  its district is ``CODE[:6]``.  Communities, estates and grids keep their own digits, so
  a grid code stays community code + 3 (:mod:`grids.codes`).
* **spot** — every geometry is moved by the same offset, so districts never lie on one
  another: given (``--at LON,LAT``, the district's centre), else a slot of a square
  spiral of :data:`PITCH_M` around the generator's centre, chosen by the code
  (:func:`slot_offset_m`), the generator's own code staying where it always was.
* **users** — the staff's and workers' names carry their area's code already
  (``ss`` + street, ``cs`` + community, ``gw`` + grid); the others' end in ``.CODE``
  (``resident00001.330106110``), so that :func:`area_users_pattern` finds an area's users
  and two areas never share a name.  The deployment's ``admin`` is not the area's: it is
  left out.
* **ID numbers** — their address part is the area's district (``CODE[:6]``), their check
  character recomputed; loading makes the rest unique in the deployment
  (:func:`resequence_id_numbers`).

Pure functions of the layers: nothing here reads the database.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from etl.sample.constants import CENTRE_LAT, DISTRICT_CODE, REAL_STREETS
from etl.sample.population import id_check_char

#: Distance between two slots of the spiral, metres: a district of ~300,000 households
#: (about 160 communities, ~7 km across) fits in one with a margin.
PITCH_M = 12_000.0
#: Slots of the spiral (a square of 21 × 21 around the generator's centre, ±120 km).
SLOTS = 21 * 21
_DIGITS = re.compile(r"^(?:[0-9]{6}|[0-9]{9})$")
#: Names of users whose names carry their area's code (street, community, grid staff).
_CODED_USER = re.compile(r"^(ss|cs|gw)([0-9]{9,15})([a-z]?)$")
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0


class AreaCodeError(ValueError):
    """The code cannot take a sample district (say what to give instead)."""


@dataclass(frozen=True)
class SampleArea:
    """The area a sample district is made for: its code and, optionally, its centre."""

    code: str
    at: tuple[float, float] | None = None

    @property
    def level(self) -> str:
        """``district`` for a 6-digit code, ``street`` for a 9-digit one."""
        return "district" if len(self.code) == 6 else "street"

    @property
    def district(self) -> str:
        """The code of the area's district (its first 6 digits)."""
        return self.code[:6]


def sample_area(code: str, at: tuple[float, float] | None = None) -> SampleArea:
    """The area of ``code``: a district's 6 digits or a street's 9.

    Raises
    ------
    AreaCodeError
        For any other code (a community's 12 digits hold ~1,900 households, not a
        district), or a 6-digit code of a province or city (ending in 00).
    """
    code = code.strip()
    if not _DIGITS.match(code):
        raise AreaCodeError(
            f"--area {code!r}: a sample district goes into a district (6 digits, e.g. "
            "330106) or a street (9 digits, e.g. 330106110)"
        )
    if len(code) == 6 and code.endswith("00"):
        raise AreaCodeError(
            f"--area {code}: a code ending in 00 is a province's or a city's; give a "
            "district's (e.g. 330106) or a street's (9 digits)"
        )
    if at is not None:
        lon, lat = at
        if not (73.0 <= lon <= 135.5 and 18.0 <= lat <= 54.0):
            raise AreaCodeError(f"--at {lon},{lat}: give LON,LAT of a place in China")
    return SampleArea(code, at)


def spiral(n: int) -> tuple[int, int]:
    """The ``n``-th cell of a square spiral around (0, 0): 0 → (0, 0), 1 → (1, 0), 2 → (1, 1)."""
    if n == 0:
        return 0, 0
    ring = int((np.sqrt(n) + 1) // 2)  # the ring holding n: cells (2k-1)² … (2k+1)² - 1
    side = 2 * ring
    start = (side - 1) ** 2
    k = n - start
    if k < side:
        return ring, -ring + 1 + k
    if k < 2 * side:
        return ring - 1 - (k - side), ring
    if k < 3 * side:
        return -ring, ring - 1 - (k - 2 * side)
    return -ring + 1 + (k - 3 * side), -ring


def slot_offset_m(code: str) -> tuple[float, float]:
    """East and north offset, metres, of the slot ``code`` takes (0, 0 for the generator's).

    The generator's own district (330106) and street (330106109) keep their place; any
    other code takes one of :data:`SLOTS` slots by a checksum of it (CRC-32), the same
    for the same code on every machine.  Two codes may share a slot: loading refuses a
    district over another area's, and ``--at`` puts it elsewhere.
    """
    if code in (DISTRICT_CODE, generated_street()):
        return 0.0, 0.0
    n = 1 + zlib.crc32(code.encode()) % (SLOTS - 1)
    x, y = spiral(n)
    return x * PITCH_M, y * PITCH_M


def generated_street() -> str:
    """The code of the generator's first street (三墩镇)."""
    return DISTRICT_CODE + REAL_STREETS[0][0]


def place_in_area(layers: dict[str, pd.DataFrame], area: SampleArea) -> dict[str, pd.DataFrame]:
    """The generated district's layers made for ``area``: codes, spot, users, ID numbers.

    Raises
    ------
    AreaCodeError
        For a street's code when the district has more than one street.
    """
    recode = _recoder(layers["admin_area"], area)
    users = _user_namer(recode, area.code)
    out = dict(layers)
    areas = layers["admin_area"].copy()
    areas["code"] = areas["code"].map(recode)
    areas["parent_code"] = areas["parent_code"].map(recode, na_action="ignore")
    areas = areas.drop_duplicates("code")  # a street's code: the generator's district is gone
    top = areas["level"] == area.level
    areas.loc[top, "name"] = _area_name(area, str(areas.loc[top, "name"].iloc[0]))
    if area.level == "street":
        up = areas["level"] == "district"
        areas.loc[up, "name"] = f"示例区{area.district}"
    out["admin_area"] = areas
    out["grid"] = _mapped(layers["grid"], {"code": recode, "community_code": recode})
    out["building"] = _mapped(layers["building"], {"estate_code": recode})
    app_user = layers["app_user"][layers["app_user"]["role"] != "admin"]
    out["app_user"] = _mapped(app_user, {"username": users, "area_code": recode})
    out["grid_worker"] = _mapped(layers["grid_worker"], {"username": users})
    out["grid_assignment"] = _mapped(layers["grid_assignment"], {"grid_code": recode})
    out["incident"] = _mapped(layers["incident"], {"reporter_username": users})
    out["incident_event"] = _mapped(layers["incident_event"], {"actor": users})
    residents = layers["resident"].copy()
    residents["id_number"] = readdressed_id_numbers(residents["id_number"], area.district)
    out["resident"] = residents
    dx, dy = _offset_deg(layers["admin_area"], area)
    for name, frame in out.items():
        if isinstance(frame, gpd.GeoDataFrame):
            out[name] = _moved(frame, dx, dy)
    return out


def area_users_pattern(code: str) -> str:
    """A PostgreSQL regular expression matching the names of an area's sample users."""
    return f"^(ss|cs|gw){code}|\\.{code}$"


def readdressed_id_numbers(id_numbers: pd.Series, district: str) -> pd.Series:
    """ID numbers with the address part ``district`` and their check character recomputed."""
    if district == DISTRICT_CODE:
        return id_numbers
    present = id_numbers.notna().to_numpy()
    values = id_numbers.to_numpy(dtype=object)
    text = np.array([district + str(v)[6:17] for v in values[present]], dtype="U17")
    out = values.copy()
    out[present] = _with_check(text)
    return pd.Series(pd.array(out, dtype=id_numbers.dtype), index=id_numbers.index)


def resequence_id_numbers(id_numbers: np.ndarray, clash: np.ndarray) -> np.ndarray:
    """The ID numbers with the sequence of each clashing one moved on by one, same sex.

    The sequence (digits 15–17) is odd for men, even for women: adding 2 (mod 1000)
    keeps the sex and the birth date.  Called again while any still clash.
    """
    out = id_numbers.astype(object).copy()
    moved = []
    for value in out[clash]:
        seq = (int(value[14:17]) + 2) % 1000
        moved.append(f"{value[:14]}{seq:03d}")
    if moved:
        out[clash] = _with_check(np.array(moved, dtype="U17"))
    return out


def _with_check(first17: np.ndarray) -> np.ndarray:
    digits = first17.view(np.uint32).reshape(len(first17), 17).astype(np.uint8) - ord("0")
    check = id_check_char(digits).view("S1").astype("U1")
    return np.char.add(first17, check).astype(object)


def _area_name(area: SampleArea, generated: str) -> str:
    if area.code in (DISTRICT_CODE, generated_street()):
        return generated
    return f"示例区{area.code}" if area.level == "district" else f"示例街道{area.code}"


def _recoder(admin_area: pd.DataFrame, area: SampleArea):
    """Map an old code to its code in ``area`` (prefix replaced), for any code of the district."""
    if area.level == "district":
        old, new = DISTRICT_CODE, area.code
    else:
        streets = admin_area.loc[admin_area["level"] == "street", "code"]
        if len(streets) > 1:
            raise AreaCodeError(
                f"--area {area.code}: a street holds one street's communities, and "
                f"{len(streets)} streets were made; give fewer households (up to ~30,000) "
                "or a district's 6-digit code"
            )
        old, new = str(streets.iloc[0]), area.code

    def recode(code: str) -> str:
        if code.startswith(old):
            return new + code[len(old) :]
        if code == DISTRICT_CODE:  # a street's district
            return area.district
        return code

    return recode


def _user_namer(recode, code: str):
    def name(username: str) -> str:
        if username == "system":
            return username
        m = _CODED_USER.match(username)
        if m is not None:
            return m.group(1) + recode(m.group(2)) + m.group(3)
        return f"{username}.{code}"

    return name


def _mapped(frame: pd.DataFrame, columns: dict) -> pd.DataFrame:
    out = frame.copy()
    for column, fn in columns.items():
        if column in out:
            out[column] = out[column].map(fn, na_action="ignore").astype(frame[column].dtype)
    return out


def _offset_deg(admin_area: gpd.GeoDataFrame, area: SampleArea) -> tuple[float, float]:
    """Degrees east and north that move the district to its spot."""
    if area.at is not None:
        centre = admin_area.geometry.union_all().envelope.centroid
        return area.at[0] - centre.x, area.at[1] - centre.y
    east, north = slot_offset_m(area.code)
    return east / (_M_PER_DEG_LON * np.cos(np.radians(CENTRE_LAT))), north / _M_PER_DEG_LAT


def _moved(frame: gpd.GeoDataFrame, dx: float, dy: float) -> gpd.GeoDataFrame:
    if dx == 0 and dy == 0:
        return frame
    out = frame.copy()
    shift = np.array([dx, dy])
    for column in out.columns:
        if isinstance(out[column].dtype, gpd.array.GeometryDtype):
            moved = shapely.transform(out[column].to_numpy(), lambda xy: xy + shift)
            out[column] = gpd.GeoSeries(moved, index=out.index, crs=out.crs)
    return out


__all__ = [
    "AreaCodeError",
    "SampleArea",
    "area_users_pattern",
    "place_in_area",
    "resequence_id_numbers",
    "sample_area",
    "slot_offset_m",
]
