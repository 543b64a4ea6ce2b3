"""ID numbers and phones are sealed at rest: the database holds none in clear; keys rotate.

From the outside: a district loaded as an office would, then the database read as its
superuser (what a stolen backup or a leaking query shows), and ``wangge keys rotate`` run
as an operator would, with the new key in ``WANGGE_DATA_KEY`` and the old one in
``WANGGE_DATA_KEYS_OLD``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from etl.load import load_layers
from etl.sample import generate_district
from gis import crypt
from gis.settings import get_settings
from tests.conftest import run_wangge, throwaway_database


def _current_key() -> str:
    """The key the test process seals with (the setting, else the local default key file)."""
    crypt.keyring()  # makes the local key when there is none yet
    return os.environ.get("WANGGE_DATA_KEY") or (
        (get_settings().data_dir / crypt.KEY_FILE).read_text().strip()
    )


@pytest.fixture(scope="module")
def sealed() -> Iterator[dict[str, Any]]:
    """A district of its own database (keys rotate in it), and who has which ID number."""
    with throwaway_database("wangge_test_sealed") as url:
        engine = create_engine(url)
        layers = generate_district(400, 31, progress=False)
        load_layers(engine, layers, replace=True, progress=False)
        people = layers["resident"][["id", "id_number", "phone"]]
        with engine.begin() as conn:  # a reporter's contact, as the intake stores it
            from gis.store import incident_store

            incident = conn.execute(text("SELECT min(id) FROM incident")).scalar_one()
            conn.execute(
                text("DELETE FROM incident_contact WHERE incident_id = :i"), {"i": incident}
            )
            incident_store.insert_contact(
                conn, incident, name="报告人", phone="13912340000", email="who@example.cn"
            )
        yield {"url": url, "engine": engine, "people": people, "contact": incident}
        engine.dispose()


def _dump(engine: Engine, table: str) -> str:
    """Every row of ``table`` as the database prints it (bytea as hex)."""
    with engine.connect() as conn:
        return "\n".join(conn.execute(text(f"SELECT t::text FROM {table} t")).scalars())


def test_the_database_holds_no_clear_id_number_or_phone(sealed: dict) -> None:
    people = sealed["people"]
    numbers = [v for v in people["id_number"].dropna()]
    phones = [v for v in people["phone"].dropna()]
    assert len(numbers) > 300 and len(phones) > 300
    dump = _dump(sealed["engine"], "resident_identity")
    contacts = _dump(sealed["engine"], "incident_contact")
    for value in [*numbers, *phones]:
        assert value not in dump and value.encode().hex() not in dump, value
    for value in ("13912340000", "who@example.cn"):
        assert value not in contacts and value.encode().hex() not in contacts
    with sealed["engine"].connect() as conn:
        # and no value of another column either: the ID numbers' format is unknown to it
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM resident_identity "
                    "WHERE encode(id_number, 'escape') ~ '[0-9]{17}[0-9X]'"
                )
            ).scalar_one()
            == 0
        )


def _opened(engine: Engine, key: str) -> dict[int, tuple[str | None, str | None]]:
    ring = crypt.Keyring(base64.b64decode(key))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT resident_id, id_number, phone FROM resident_identity"))
        return {int(r[0]): (ring.open("id_number", r[1]), ring.open("phone", r[2])) for r in rows}


def test_rotation_keeps_every_record_readable_and_a_wrong_key_says_so(sealed: dict) -> None:
    url, engine, people = sealed["url"], sealed["engine"], sealed["people"]
    old, new, stranger = _current_key(), crypt.new_key(), crypt.new_key()
    expected = {
        int(r.id): (
            None if r.id_number is None or r.id_number != r.id_number else r.id_number,
            None if r.phone is None or r.phone != r.phone else r.phone,
        )
        for r in people.itertuples()
    }
    assert _opened(engine, old) == expected

    # a key that sealed nothing here: a clear refusal naming the key ids, nothing changed
    wrong = run_wangge(url, "keys", "rotate", env={"WANGGE_DATA_KEY": stranger})
    assert wrong.returncode != 0
    assert "neither WANGGE_DATA_KEY" in wrong.stderr and "WANGGE_DATA_KEYS_OLD" in wrong.stderr
    assert crypt.key_id(base64.b64decode(old)).hex() in wrong.stderr
    assert _opened(engine, old) == expected

    env = {"WANGGE_DATA_KEY": new, "WANGGE_DATA_KEYS_OLD": old}
    rotated = run_wangge(url, "keys", "rotate", "--batch", "97", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert f"resident_identity: {len(people):,} rows re-sealed" in rotated.stderr
    assert "incident_contact:" in rotated.stderr
    status = run_wangge(url, "keys", "status", env=env)
    assert "resident_identity: 0 rows under an old key" in status.stderr, status.stderr

    # every record opens with the new key alone, and no longer with the old one
    assert _opened(engine, new) == expected
    with pytest.raises(crypt.DataKeyError, match="neither WANGGE_DATA_KEY"):
        _opened(engine, old)
    ring = crypt.Keyring(base64.b64decode(new))
    with engine.connect() as conn:
        blob = conn.execute(
            text("SELECT phone FROM incident_contact WHERE incident_id = :i"),
            {"i": sealed["contact"]},
        ).scalar_one()
        # the blind index moved with the values: a lookup under the new key finds the person
        someone = next(k for k, v in expected.items() if v[0])
        found = conn.execute(
            text("SELECT resident_id FROM resident_identity WHERE id_number_hash = :h"),
            {"h": ring.digest("id_number", expected[someone][0])},
        ).scalar_one()
    assert ring.open("phone", blob) == "13912340000"
    assert found == someone
    # a value altered in the database does not open as something else
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE resident_identity SET phone = overlay(phone placing '\\x00'::bytea "
                "from length(phone) - 3) WHERE resident_id = :r"
            ),
            {"r": someone},
        )
    with pytest.raises(crypt.DataKeyError, match="does not open"):
        _opened(engine, new)
