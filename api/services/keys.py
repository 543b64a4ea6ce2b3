"""Data keys: re-seal the identity data under the current key (``wangge keys rotate``).

A rotation: the operator makes a new key (``wangge keys new``), sets it as
``WANGGE_DATA_KEY`` and moves the key before it into ``WANGGE_DATA_KEYS_OLD``; every
value stays readable (each names its key), and :func:`rotate` re-seals, in batches of one
transaction each, the values still under an old key, with their blind indexes.  When it
reports nothing left, the old key may be dropped from ``WANGGE_DATA_KEYS_OLD``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from gis import crypt
from gis.db import principal
from gis.store import keys_store


@dataclass
class Rotation:
    """What a rotation did: rows re-sealed per table, and the key they are now under."""

    key_id: str
    resealed: dict[str, int] = field(default_factory=dict)


def stale(engine: Engine) -> dict[str, int]:
    """Rows per sealed table holding a value under another key than the current one."""
    kid = crypt.keyring().kid
    with principal.as_system(), engine.connect() as conn:  # every row: a key's business
        return {t: keys_store.count_stale(conn, t, kid) for t in crypt.SEALED}


def rotate(
    engine: Engine,
    *,
    batch: int = 5000,
    progress: Callable[[str, int, int], object] | None = None,
) -> Rotation:
    """Re-seal every value under an old key with the current key, ``batch`` rows a transaction.

    ``progress(table, done, total)`` after each batch.  A value under a key given nowhere
    stops the rotation with :class:`gis.crypt.DataKeyError` (the batches before it stay
    committed; running it again after adding the key goes on).
    """
    ring = crypt.keyring()
    out = Rotation(ring.kid.hex())
    todo = stale(engine)
    for table in crypt.SEALED:
        done, after, n = 0, -1, 1
        if progress is not None:
            progress(table, 0, todo[table])
        while n:
            with principal.as_system(), engine.begin() as conn:
                after, n = keys_store.reseal_batch(
                    conn, table, ring, ring.open, after=after, limit=batch, stale_only=True
                )
            done += n
            if progress is not None:
                progress(table, done, max(todo[table], done))
        out.resealed[table] = done
    return out
