"""Identity data encrypted at rest: ID numbers and phones sealed with AES-GCM in the application.

What is sealed (:data:`SEALED`): ``resident_identity.id_number`` and ``.phone``,
``incident_contact.phone`` and ``.email`` (a reporter's contact).  The database holds
only ciphertext (``bytea``); the stores seal on the way in (one value, or a whole column
for the bulk loader: :func:`seal_column`) and open on the way out, so the services see the
clear value and mask it as before (masking never works on ciphertext).

A sealed value is ``0x01 | key id (4 bytes) | nonce (12) | AES-256-GCM(value) + tag``,
with the column's name as associated data (a value copied into another column does not
open).  The key id is the first 4 bytes of the key's SHA-256, so a value names the key it
was written with and keys can rotate: ``wangge keys rotate`` re-seals every value under
the current key (``WANGGE_DATA_KEY``) while the keys before it are listed in
``WANGGE_DATA_KEYS_OLD``.  A value under a key that is not given fails with
:class:`DataKeyError` saying which key id it needs: never garbage.

Exact-match search (a registry search by ID number or phone, the duplicate check of an
import, "is this ID number taken") goes through a *blind index*: ``<column>_hash``, the
HMAC-SHA256 of the normalised value (:func:`normalise`) under a key derived from the data
key (never the data key itself).  A lookup asks for the hashes under every key given
(:meth:`Keyring.digests`), so a search finds rows not yet re-sealed during a rotation.

The key: ``WANGGE_DATA_KEY`` (base64 of 32 bytes; ``wangge keys new`` prints one).  Unset,
the system uses a local default key, generated once into ``<data dir>/data.key`` with
permissions 0600 and a warning — fine for a laptop and the tests, not for a server whose
data folder is not kept as carefully as its database backups.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gis.errors import GisError, Unavailable
from gis.settings import Settings, get_settings

log = logging.getLogger("wangge.crypt")

VERSION = b"\x01"
NONCE = 12
#: Bytes before the ciphertext: version, key id, nonce.
HEADER = 1 + 4 + NONCE
KEY_FILE = "data.key"
_NON_DIGIT = re.compile(r"\D")

#: table -> column -> the kind of value (what :func:`normalise` and the blind index use);
#: a column with a hash column beside it (``<column>_hash``) is searchable.
SEALED: dict[str, dict[str, str]] = {
    "resident_identity": {"id_number": "id_number", "phone": "phone"},
    "incident_contact": {"phone": "phone", "email": "email"},
}
#: Columns with a blind index (``<column>_hash``).
HASHED: dict[str, tuple[str, ...]] = {"resident_identity": ("id_number", "phone")}


class DataKeyError(GisError, Unavailable):
    """A sealed value cannot be opened with the keys given (or the key setting is invalid)."""


def normalise(kind: str, value: str) -> str | None:
    """The form a value is matched in: an ID number upper-case without spaces, a phone's digits.

    A phone loses separators and a leading ``+86`` / ``86`` of a mobile number; None when
    nothing is left.
    """
    if kind == "id_number":
        # the common case first: nothing to strip (no whitespace in ASCII letters and digits)
        out = (
            value.upper() if value.isascii() and value.isalnum() else "".join(value.split()).upper()
        )
    elif kind == "phone":
        # str.isdecimal is exactly the Unicode Nd class that \d matches: nothing to remove
        out = value if value.isdecimal() else _NON_DIGIT.sub("", value)
        if len(out) == 13 and out.startswith("86"):
            out = out[2:]
    else:
        out = value.strip().lower()
    return out or None


def key_id(key: bytes) -> bytes:
    """The 4-byte id of a key, written in every value sealed with it."""
    return hashlib.sha256(b"wangge data key id\x00" + key).digest()[:4]


def _decode_key(value: str, where: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except ValueError as exc:
        raise DataKeyError(f"{where} is not base64: give 32 random bytes in base64") from exc
    if len(key) != 32:
        raise DataKeyError(
            f"{where} holds {len(key)} bytes, not 32: give 32 random bytes in base64 "
            "(`wangge keys new` prints one)"
        )
    return key


def new_key() -> str:
    """A new random key, base64 (for ``WANGGE_DATA_KEY``)."""
    return base64.b64encode(os.urandom(32)).decode()


def _local_key(data_dir: Path) -> bytes:
    """The local default key: read, or generated once (0600) with a warning."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        # written whole under a name of its own, then linked in: a process starting at the
        # same moment (several servers, parallel tests) never reads a half-written key
        draft = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_key() + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:  # another process made it meanwhile: theirs counts
            pass
        else:
            log.warning(
                "WANGGE_DATA_KEY is not set: generated a local data key in %s (0600); "
                "set WANGGE_DATA_KEY on a server and keep it apart from the database's backups",
                path,
            )
        finally:
            draft.unlink(missing_ok=True)
    return _decode_key(path.read_text(), str(path))


@dataclass(frozen=True)
class _Key:
    kid: bytes
    aead: AESGCM
    index_key: bytes


def _key(raw: bytes) -> _Key:
    index_key = hmac.new(raw, b"wangge blind index v1", hashlib.sha256).digest()
    return _Key(key_id(raw), AESGCM(raw), index_key)


class Keyring:
    """The current data key and the old ones: seal, open, and the blind index."""

    def __init__(self, current: bytes, old: Sequence[bytes] = ()):
        self.current = _key(current)
        self.keys = {self.current.kid: self.current}
        for raw in old:
            k = _key(raw)
            self.keys.setdefault(k.kid, k)
        self._prefix = VERSION + self.current.kid

    @property
    def kid(self) -> bytes:
        """The current key's id."""
        return self.current.kid

    # ---------------------------------------------------------------- sealing

    def seal(self, column: str, value: str | None) -> bytes | None:
        """``value`` sealed under the current key (None stays None)."""
        if value is None:
            return None
        nonce = os.urandom(NONCE)
        return (
            self._prefix + nonce + self.current.aead.encrypt(nonce, value.encode(), column.encode())
        )

    def seal_many(self, column: str, values: Iterable[Any]) -> list[bytes | None]:
        """Every value sealed (None, NaN and NA stay None): one random draw for all nonces."""
        items = list(values)
        nonces = os.urandom(NONCE * len(items))
        encrypt, prefix, aad = self.current.aead.encrypt, self._prefix, column.encode()
        out: list[bytes | None] = []
        for i, v in enumerate(items):
            if not isinstance(v, str):
                if _is_na(v):
                    out.append(None)
                    continue
                v = str(v)  # a number read from a spreadsheet: its digits
            nonce = nonces[i * NONCE : (i + 1) * NONCE]
            out.append(prefix + nonce + encrypt(nonce, v.encode(), aad))
        return out

    def open(self, column: str, blob: bytes | memoryview | None) -> str | None:
        """The clear value of a sealed one; :class:`DataKeyError` when no key given opens it."""
        if blob is None:
            return None
        blob = bytes(blob)
        if len(blob) < HEADER + 16 or blob[:1] != VERSION:
            raise DataKeyError(
                f"a value of {column} is not sealed by Wangge (it does not start with the "
                "version byte): migration 0027 seals the values stored before it"
            )
        kid = blob[1:5]
        key = self.keys.get(kid)
        if key is None:
            raise DataKeyError(
                f"a value of {column} is sealed with data key {kid.hex()}, which is neither "
                f"WANGGE_DATA_KEY (key {self.kid.hex()}) nor one of WANGGE_DATA_KEYS_OLD: "
                "give the key it was written with (and run `wangge keys rotate`)"
            )
        try:
            clear = key.aead.decrypt(blob[5:HEADER], blob[HEADER:], column.encode())
        except InvalidTag as exc:
            raise DataKeyError(
                f"a value of {column} does not open with data key {kid.hex()}: the value "
                "was altered, or it was copied from another column"
            ) from exc
        return clear.decode()

    def open_many(self, column: str, blobs: Iterable[Any]) -> list[str | None]:
        """Every value opened (None stays None)."""
        return [None if _is_na(b) else self.open(column, b) for b in blobs]

    # ------------------------------------------------------------ blind index

    def digest(self, kind: str, value: Any) -> bytes | None:
        """The blind index of ``value`` under the current key (None when nothing to match)."""
        return _digest(self.current.index_key, kind, value)

    def digest_many(self, kind: str, values: Iterable[Any]) -> list[bytes | None]:
        """The blind index of every value under the current key."""
        return _digest_many(self.current.index_key, kind, values)

    def digests(self, kind: str, value: Any) -> list[bytes]:
        """The blind index of ``value`` under every key given (what a lookup asks for)."""
        out = [_digest(k.index_key, kind, value) for k in self.keys.values()]
        return [d for d in out if d is not None]

    def lookup(self, kind: str, values: Iterable[Any]) -> dict[bytes, Any]:
        """Hash -> value, for every value under every key given (a batch lookup)."""
        items = list(values)
        found: dict[bytes, Any] = {}
        for k in self.keys.values():
            for d, v in zip(_digest_many(k.index_key, kind, items), items, strict=True):
                if d is not None:
                    found[d] = v
        return found


def _is_na(value: Any) -> bool:
    """None, NaN, pandas' NA (what an empty cell of a frame holds)."""
    return value is None or (
        not isinstance(value, (str, bytes, memoryview)) and bool(pd.isna(value))
    )


@lru_cache(maxsize=8)
def _hmac_state(index_key: bytes) -> crypto_hmac.HMAC:
    """A keyed HMAC-SHA256 with nothing fed yet, to be copied (never updated itself)."""
    return crypto_hmac.HMAC(index_key, hashes.SHA256())


def _digest_many(index_key: bytes, kind: str, values: Iterable[Any]) -> list[bytes | None]:
    """:func:`_digest` of every value, from one keyed HMAC state copied per value.

    The key schedule is not redone for each value: about 3x faster than ``hmac.digest``
    for the hundreds of thousands of values of a bulk load or an import's lookup.
    """
    start = _hmac_state(index_key)
    prefix = f"{kind}\x00"
    out: list[bytes | None] = []
    for value in values:
        if not isinstance(value, str):
            if _is_na(value):
                out.append(None)
                continue
            value = str(value)
        norm = normalise(kind, value)
        if norm is None:
            out.append(None)
            continue
        state = start.copy()
        state.update((prefix + norm).encode())
        out.append(state.finalize())
    return out


def _digest(index_key: bytes, kind: str, value: Any) -> bytes | None:
    if not isinstance(value, str):
        if _is_na(value):
            return None
        value = str(value)
    norm = normalise(kind, value)
    if norm is None:
        return None
    return hmac.digest(index_key, f"{kind}\x00{norm}".encode(), "sha256")


@lru_cache(maxsize=8)
def _keyring(current: str | None, old: str, data_dir: Path) -> Keyring:
    raw = _decode_key(current, "WANGGE_DATA_KEY") if current else _local_key(data_dir)
    olds = [
        _decode_key(v, f"WANGGE_DATA_KEYS_OLD item {n}")
        for n, v in enumerate((p for p in old.replace(";", ",").split(",") if p.strip()), 1)
    ]
    return Keyring(raw, olds)


def keyring(settings: Settings | None = None) -> Keyring:
    """The keys of the settings (``WANGGE_DATA_KEY``, ``WANGGE_DATA_KEYS_OLD``), read once."""
    s = settings or get_settings()
    return _keyring(s.data_key, s.data_keys_old or "", Path(s.data_dir))


# ---------------------------------------------------------------- helpers for stores


def seal(column: str, value: str | None) -> bytes | None:
    """``value`` of ``column`` sealed under the current key."""
    return keyring().seal(column, value)


def open_value(column: str, blob: Any) -> str | None:
    """The clear value of a sealed ``column`` value."""
    return keyring().open(column, blob)


def open_rows(rows: Iterable[dict[str, Any]], columns: dict[str, str]) -> list[dict[str, Any]]:
    """Rows with their sealed columns opened in place; ``columns``: row key -> column name."""
    ring = keyring()
    out = []
    for row in rows:
        for key, column in columns.items():
            if key in row:
                row[key] = ring.open(column, row[key])
        out.append(row)
    return out


def seal_column(column: str, values: Iterable[Any]) -> list[bytes | None]:
    """Sealed values as bytes (a bytea column of the bulk loader's binary COPY)."""
    return list(keyring().seal_many(column, values))


def digest_column(kind: str, values: Iterable[Any]) -> list[bytes | None]:
    """Blind indexes as bytes (a bytea column of the bulk loader's binary COPY)."""
    return list(keyring().digest_many(kind, values))


def keyed_digest(purpose: str, value: str) -> bytes:
    """An HMAC of ``value`` under the current index key, for ``purpose`` alone.

    The same on every server of a deployment (one data key), unlike a key drawn per
    process, and unlinkable to the blind index of the same value (another message).
    """
    return hmac.digest(keyring().current.index_key, f"{purpose}\x00{value}".encode(), "sha256")
