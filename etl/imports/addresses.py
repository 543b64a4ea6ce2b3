"""Chinese addresses normalised, split, and matched to buildings: never guessed.

An address such as ``南京市玄武区中山路８８号三幢2单元301室`` is written a dozen ways
in one office's files.  :func:`parse_address` brings them to one form:

1. full-width digits and letters made half-width (NFKC), spaces dropped, letters
   upper-cased, Chinese numerals before a marker made digits (``三幢`` → ``3幢``);
2. the administrative prefix dropped (province, city, district, street office:
   everything up to the last 省 / 市 / 区 / 县 / 街道 / 镇 / 乡, but not 小区 or 园区);
3. the building markers made one: 栋, 幢, 号楼, 座, ``#`` → 栋; 室, 房, 号房 → 室.

The **building key** is the address up to and including its building (``中山路88号3栋``;
``中山路88号`` when there is no building part); :func:`match_buildings` looks it up
among the buildings' keys.  When no building has the full key but exactly one building
has the house number alone (``中山路88号``, an OpenStreetMap footprint with
``addr:street`` and ``addr:housenumber``) and no building of that number has a
building part, that building is taken: the house number names one plot.  Anything
else that does not match exactly one building is reported with its reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(
    r"([零〇一二两三四五六七八九十]{1,4})(?=(?:号楼|幢|栋|座|单元|号|室|层|楼))"
)
_ADMIN = re.compile(
    r"^.*(?:省|自治区|特别行政区|市|(?<![小社园校景街])区|县|街道办事处|街道|镇|乡)(?=.)"
)
_BUILDING = re.compile(r"([0-9]+|[A-Z])(?:号楼|幢|栋|座|#楼|#)")
_UNIT = re.compile(r"([0-9]+)单元")
_ROOM = re.compile(r"([0-9]+[A-Z]?)(?:室|房|号房)?$")
_HOUSE = re.compile(r"^(.*?[0-9]+号)")
_NOISE = re.compile(r"[\s,，。、;；:：()（）\[\]【】'\"·]+")
#: 3-2-301 after a house number: building 3, unit 2, room 301
_TRIPLE = re.compile(r"号-?([0-9]+|[A-Z])-([0-9]+)-([0-9]+[A-Z]?)[室房]?$")


def _cn_number(text: str) -> int:
    """``三`` → 3, ``十二`` → 12, ``二十`` → 20, ``一〇一`` → 101."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_DIGITS.get(tens, 1) if tens else 1) * 10 + (_DIGITS.get(ones, 0) if ones else 0)
    return int("".join(str(_DIGITS[c]) for c in text))


def normalise_address(address: object) -> str:
    """The comparable form of an address (steps 1–3 of the module docstring)."""
    if address is None or (isinstance(address, float) and np.isnan(address)):
        return ""
    text = unicodedata.normalize("NFKC", str(address)).upper()
    text = _NOISE.sub("", text)
    text = _CN_NUMBER.sub(lambda m: str(_cn_number(m.group(1))), text)
    text = _ADMIN.sub("", text).replace("－", "-").replace("号-", "号")
    text = _TRIPLE.sub(lambda m: f"号{m.group(1)}栋{m.group(2)}单元{m.group(3)}室", text)
    text = _BUILDING.sub(lambda m: f"{m.group(1)}栋", text)
    return text.replace("号房", "室").replace("房", "室")


def room_of(room: object) -> str:
    """A 室 as addresses give rooms: ``302室``, ``302房``, ``３０２`` → ``302``.

    So that a register that writes the room one way one year and another the next
    matches the same household; a room of another form (``A座302``) is kept as written.
    """
    text = unicodedata.normalize("NFKC", str(room)).upper().replace(" ", "")
    m = _ROOM.fullmatch(text)
    return m.group(1) if m else str(room).strip()


@dataclass(frozen=True)
class Address:
    """An address split into what places a household: building key, unit, room."""

    normalised: str
    building_key: str
    house_key: str | None
    unit: int | None
    room: str | None


def parse_address(address: object) -> Address:
    """Split an address: ``中山路88号3幢2单元301室`` → key ``中山路88号3栋``, unit 2, room 301."""
    text = normalise_address(address)
    building = _BUILDING.search(text)
    if building is not None:
        key, rest = text[: building.end()], text[building.end() :]
    else:
        house = _HOUSE.match(text)
        unit_at = _UNIT.search(text)
        if house is not None and (unit_at is None or house.end() <= unit_at.start()):
            key, rest = house.group(1), text[house.end() :]
        elif unit_at is not None:
            key, rest = text[: unit_at.start()], text[unit_at.start() :]
        else:
            key, rest = text, ""
    unit_m = _UNIT.search(rest)
    unit = int(unit_m.group(1)) if unit_m else None
    after = rest[unit_m.end() :] if unit_m else rest
    room_m = _ROOM.search(after)
    room = room_m.group(1) if room_m and after else None
    house_m = _HOUSE.match(key)
    house_key = house_m.group(1) if house_m and house_m.group(1) != key else None
    return Address(text, key, house_key, unit, room)


@dataclass(frozen=True)
class Match:
    """Which building each address names: positions into the buildings, -1 where none.

    ``reasons`` says, for every address not matched, why: no building has it, or several.
    """

    building: np.ndarray
    reasons: dict[int, str]


def building_keys(addresses: Iterable[object]) -> list[str]:
    """The building key of each building address."""
    return [parse_address(a).building_key for a in addresses]


def match_buildings(addresses: Sequence[Address], keys: Sequence[str]) -> Match:
    """Match parsed household addresses to the buildings with ``keys`` (one per building)."""
    by_key: dict[str, list[int]] = {}
    by_house: dict[str, list[int]] = {}
    houses_with_parts: set[str] = set()
    for i, key in enumerate(keys):
        if not key:
            continue
        by_key.setdefault(key, []).append(i)
        house = _HOUSE.match(key)
        if house is not None and house.group(1) != key:
            houses_with_parts.add(house.group(1))
        elif house is not None:
            by_house.setdefault(key, []).append(i)
    out = np.full(len(addresses), -1, dtype=np.int64)
    reasons: dict[int, str] = {}
    for pos, a in enumerate(addresses):
        if not a.building_key:
            reasons[pos] = "the address is empty"
            continue
        hits, named = by_key.get(a.building_key, []), a.building_key
        if not hits and a.house_key and a.house_key not in houses_with_parts:
            hits, named = by_house.get(a.house_key, []), a.house_key
        if len(hits) == 1:
            out[pos] = hits[0]
        elif not hits and a.building_key in houses_with_parts:
            reasons[pos] = (
                f"{a.building_key!r} has several buildings (栋/幢): the address must name one"
            )
        elif not hits:
            reasons[pos] = f"no building has the address {a.building_key!r}"
        else:
            reasons[pos] = f"{len(hits)} buildings have the address {named!r}"
    return Match(out, reasons)


def compose(address: pd.Series, building: pd.Series | None) -> pd.Series:
    """An address column completed by a separate 楼栋 column where it stops before one."""
    if building is None:
        return address
    out = []
    for a, b in zip(address.to_numpy(dtype=object), building.to_numpy(dtype=object), strict=True):
        a_text = "" if a is None or (isinstance(a, float) and np.isnan(a)) else str(a)
        b_text = "" if b is None or (isinstance(b, float) and np.isnan(b)) else str(b)
        if isinstance(b, float) and b.is_integer():
            b_text = f"{int(b)}栋"
        elif b_text and b_text.isdigit():
            b_text += "栋"
        has_building = _BUILDING.search(normalise_address(a_text)) is not None
        out.append(a_text if has_building or not b_text else a_text + b_text)
    return pd.Series(out, index=address.index, dtype=object)
