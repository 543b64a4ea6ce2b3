"""Recognise which column of an office's file is which field of the data dictionary.

A header is compared after normalisation: full-width characters made half-width
(NFKC), letters lower-cased, text in brackets dropped (``人数（人）``, ``面积(m²)``),
spaces, punctuation and a leading or trailing ``*`` (a required-field marker) removed.
It then matches a field's Chinese header, any alias (Chinese, pinyin in full or as
initials, English) or the field's own name.  ``--map 源列=field`` names any other header.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from etl.imports.dictionary import IGNORED_HEADERS, Kind
from gis.errors import EtlError, InvalidInput

_BRACKETS = re.compile(r"[（(\[【<《].*?[)）\]】>》]")
_NOISE = re.compile(r"[\s_\-—·•.,，。:：;；/\\*'\"`~!！?？#]+")


def normalise_header(header: object) -> str:
    """The form headers are compared in: ``' 户 编号（必填）*'`` → ``'户编号'``."""
    text = unicodedata.normalize("NFKC", str(header)).strip().lower()
    stripped = _BRACKETS.sub("", text)
    return _NOISE.sub("", stripped or text)


class MappingError(EtlError, InvalidInput):
    """A ``--map`` entry names a field the kind does not have, or is not ``源列=field``."""


@dataclass(frozen=True)
class Recognised:
    """What each column of a file is.

    Attributes
    ----------
    renames
        Column of the file → field name.
    unknown
        Columns recognised as no field (they are left out, and the summary says so).
    duplicates
        Columns naming a field another column already gave (left out).
    """

    renames: dict[str, str]
    unknown: list[str]
    duplicates: list[tuple[str, str]]

    def header_of(self, field: str) -> str | None:
        """The file's header for a field, or None when the file has no such column."""
        return next((h for h, f in self.renames.items() if f == field), None)


def parse_mapping(entries: Iterable[str], kind: Kind) -> dict[str, str]:
    """``["楼号=building", "人口=size"]`` → ``{"楼号": "building", "人口": "size"}``.

    Raises
    ------
    MappingError
        For an entry without ``=`` or naming no field of ``kind``.
    """
    names = {f.name for f in kind.fields}
    by_zh = {f.zh: f.name for f in kind.fields}
    out: dict[str, str] = {}
    for entry in entries:
        source, sep, target = entry.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise MappingError(f"--map {entry!r}: write it as 源列=field, e.g. 楼号=building")
        target = by_zh.get(target.strip(), target.strip())
        if target not in names:
            raise MappingError(
                f"--map {entry!r}: {kind.name} have no field {target!r}; "
                f"fields: {', '.join(sorted(names))}"
            )
        out[source.strip()] = target
    return out


#: Headers that name some id, not which: a GeoJSON's feature id, a GIS's row id.  Beside
#: a plainer header of the same field (楼栋编号, ldbh) they are the ones left out.
GENERIC_IDS = frozenset({"id", "fid", "objectid", "编号"})


def recognise(columns: Iterable[object], kind: Kind, mapping: Mapping[str, str] = {}) -> Recognised:
    """Which field each column is: ``mapping`` first, then the dictionary's headers.

    Parameters
    ----------
    columns
        The file's headers, in order.
    kind
        The kind of record the file holds.
    mapping
        Header → field name given by the user (``--map``); headers compared normalised.
    """
    lookup: dict[str, str] = {}
    #: how plainly a header names its field: the Chinese header first, then the aliases
    #: in the dictionary's order, our own name last
    rank: dict[str, int] = {}
    for f in kind.fields:
        for n, spelling in enumerate((f.zh, *f.aliases, f.name)):
            key = normalise_header(spelling)
            if key not in lookup:
                lookup[key], rank[key] = f.name, n + (100 if key in GENERIC_IDS else 0)
    for f in kind.fields:  # as a Shapefile's .dbf cuts them: 10 bytes (楼栋编号 → 楼栋编)
        for n, spelling in enumerate((f.zh, *f.aliases)):
            cut = normalise_header(spelling.encode("utf-8")[:10].decode("utf-8", "ignore"))
            if cut and cut not in lookup:
                lookup[cut], rank[cut] = f.name, 50 + n
    given = {normalise_header(k): v for k, v in mapping.items()}
    rank |= {key: -1 for key in given}  # what the user named wins
    ignored = {normalise_header(h) for h in IGNORED_HEADERS}
    renames: dict[str, str] = {}
    unknown: list[str] = []
    duplicates: list[tuple[str, str]] = []
    taken: dict[str, str] = {}
    for column in columns:
        header = str(column)
        key = normalise_header(header)
        field = given.get(key) or lookup.get(key)
        if field is None:
            if key and key not in ignored and not header.startswith("Unnamed"):
                unknown.append(header)
            continue
        first = taken.get(field)
        if first is not None:
            # two columns give one field (a GeoJSON's feature "id" beside its 楼栋编号):
            # the plainer header is read, the other left out and said so
            if rank[key] >= rank[normalise_header(first)]:
                duplicates.append((header, first))
                continue
            duplicates.append((first, header))
            del renames[first]
        taken[field] = header
        renames[header] = field
    return Recognised(renames, unknown, duplicates)


def header_score(cells: Iterable[object], kind: Kind) -> int:
    """How many cells of a row are headers of ``kind`` (to find the header row of a sheet)."""
    lookup = {normalise_header(s) for f in kind.fields for s in (f.name, f.zh, *f.aliases) if s}
    return sum(1 for c in cells if c not in (None, "") and normalise_header(c) in lookup)
