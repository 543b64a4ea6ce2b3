"""Community centres, clinics, elder care, parks, schools and shelters of the sample district."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from etl.sample.constants import ELDER, PARK, SCHOOL, SERVICE, SPORTS
from etl.sample.helpers import FloatArray, IntArray, ObjectArray, StrArray, bilinear
from etl.sample.layout import Blocks, Estates, Layout
from etl.sample.population import Population


@dataclass(frozen=True)
class Facilities:
    """Facilities ordered by community, then kind; shelters (避难场所) are facilities too."""

    kind: StrArray  # community_centre, clinic, elder_care, park, shelter, school
    blk: IntArray  # block of each facility
    capacity: FloatArray  # places, beds, pupils or people sheltered
    shelter_class: ObjectArray  # emergency or fixed for shelters, None otherwise
    area_m2: ObjectArray  # effective area of shelters, None otherwise
    zone: ObjectArray  # shelters: the community served (≥ 0) or -1 - its shelter zone
    xy: FloatArray  # (facilities, 2): location, metres


def place_facilities(
    layout: Layout,
    blocks: Blocks,
    estates: Estates,
    population: Population,
    rng: np.random.Generator,
) -> Facilities:
    """Community centres, clinics, parks, elder care, schools and shelters."""
    prog, reg = blocks.prog, estates.region
    n = layout.n_comm
    households, residents = population.households, population.residents
    comm_res = np.bincount(households.blk // 9, weights=residents.household_size, minlength=n)
    rows: list[dict[str, Any]] = []

    def add(kind: str, b: np.ndarray, s: np.ndarray, t: np.ndarray, **cols: Any) -> None:
        rows.append({"kind": np.full(len(b), kind), "blk": b, "s": s, "t": t} | cols)

    def region(p: int) -> tuple[np.ndarray, ...]:
        b, r = np.nonzero(prog == p)
        return (b, *reg[b, r].T)

    b, s0, s1, t0, t1 = region(SERVICE)
    mid = (s0 + s1) / 2
    k = b // 9
    add("community_centre", b, mid - 10, t0 + 5, capacity=rng.integers(100, 301, len(b)))
    clinic_cap = np.clip(np.round(comm_res[k] / 40), 60, 250)
    add("clinic", b, mid + 10, t0 + 5, capacity=clinic_cap)
    b, s0, s1, t0, t1 = region(ELDER)
    beds = rng.choice([30, 40, 50, 60, 80, 100, 120], len(b))
    add("elder_care", b, (s0 + s1) / 2, t0 + 5, capacity=beds)
    b, s0, s1, t0, t1 = region(PARK)
    park_area = (s1 - s0) * (t1 - t0)
    add("park", b, (s0 + s1) / 2, (t0 + t1) / 2, capacity=np.round(park_area * 0.2))
    eff = np.clip(park_area * rng.uniform(0.4, 0.65, len(b)), 1_000, 3_000)
    add(
        "shelter",
        b,
        (s0 + s1) / 2 + 8,
        (t0 + t1) / 2,
        capacity=np.floor(eff),
        shelter_class=np.full(len(b), "emergency"),
        area_m2=np.round(eff, 1),
        zone=b // 9,
    )
    b, s0, s1, t0, t1 = region(SCHOOL)
    pupils = rng.choice([18, 24, 30, 36], len(b)) * 45
    add("school", b, (s0 + s1) / 2, (t0 + t1) / 2, capacity=pupils)
    sb = np.flatnonzero(prog[:, 1] == SPORTS)
    s0, s1, t0, t1 = reg[sb, 1].T
    ground = estates.width[sb] * estates.depth[sb] * rng.uniform(0.35, 0.5, len(sb))
    add(
        "shelter",
        sb,
        (s0 + s1) / 2,
        (t0 + t1) / 2,
        capacity=np.floor(ground / 2),
        shelter_class=np.full(len(sb), "fixed"),
        area_m2=np.round(ground, 1),
        zone=-1 - layout.comm_zone[sb // 9],
    )
    fac = {
        key: np.concatenate([r.get(key, np.full(len(r["blk"]), None)) for r in rows])
        for key in ("kind", "blk", "s", "t", "capacity", "shelter_class", "area_m2", "zone")
    }
    order = np.lexsort((np.argsort(np.argsort(fac["kind"])), fac["blk"] // 9))
    fac = {key: v[order] for key, v in fac.items()}
    fac["blk"] = fac["blk"].astype(np.int64)
    fac["s"] = fac["s"].astype(float)
    fac["t"] = fac["t"].astype(float)
    u, v = estates.uv(fac["blk"], fac["s"], fac["t"])
    return Facilities(
        kind=fac["kind"],
        blk=fac["blk"],
        capacity=fac["capacity"],
        shelter_class=fac["shelter_class"],
        area_m2=fac["area_m2"],
        zone=fac["zone"],
        xy=bilinear(blocks.quad[fac["blk"]], u, v),
    )
