"""The people of the sample district: households in dwellings, their members and identities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

from etl.sample.buildings import Buildings
from etl.sample.constants import (
    CHILD1,
    CHILD2,
    CHILD3,
    DISTRICT_CODE,
    ELDER1,
    ELDER2,
    ELDER_BINS,
    HOUSEHOLD_TYPE_P,
    HOUSEHOLD_TYPES,
    LOW_INCOME_HH_P,
    SELF,
    SPOUSE,
    SURNAME_WEIGHTS,
    SURNAMES,
)
from etl.sample.helpers import (
    BoolArray,
    IntArray,
    ascii_str,
    group_rank,
    group_start,
    int_str,
    person_names,
    phones,
)
from etl.sample.layout import Grids


@dataclass(frozen=True)
class Households:
    """Households (户) in the dwellings of residential buildings, in building order."""

    bld: IntArray  # building of each household
    unit: IntArray  # unit (单元) of the building, from 1
    room: IntArray  # floor * 100 + door
    blk: IntArray  # block of each household


@dataclass(frozen=True)
class Residents:
    """Household sizes, and the members of every household with their vulnerability flags."""

    household_size: IntArray  # per household
    hh: IntArray  # household of each resident (residents come in household order)
    role: IntArray  # SELF, SPOUSE, CHILD1 … ELDER2
    age: IntArray  # completed years on the end date
    male: BoolArray
    birth: NDArray[np.datetime64]  # birth dates, datetime64[D]
    alone: BoolArray  # 60+ and living alone (独居老人)
    disabled: BoolArray
    mobility: BoolArray  # mobility-impaired (行动不便)
    low: BoolArray  # minimum living allowance (低保)


@dataclass(frozen=True)
class Identities:
    """Personal data of the residents, in resident order (pyarrow string arrays)."""

    id_number: pa.Array  # 18-character PRC resident ID numbers
    name: pa.Array
    phone: pa.Array


@dataclass(frozen=True)
class Population:
    """The households, residents and identities of the district, for the later stages."""

    households: Households
    residents: Residents
    identities: Identities


def id_check_char(first17: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters (as ASCII codes) of ``(n, 17)`` digit arrays.

    Parameters
    ----------
    first17
        Integer array ``(n, 17)`` of the first 17 digits of PRC resident ID numbers.

    Returns
    -------
    numpy.ndarray
        uint8 ASCII codes of the 18th character (``0``–``9`` or ``X``).
    """
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = np.zeros(len(first17), dtype=np.int64)
    for k, w in enumerate(weights):  # column by column: no (n, 17) int64 temporary
        total += first17[:, k].astype(np.int64) * w
    check = (12 - total % 11) % 11
    return np.where(check == 10, ord("X"), ord("0") + check).astype(np.uint8)


def occupy_dwellings(
    buildings: Buildings, grids: Grids, n_households: int, rng: np.random.Generator
) -> Households:
    """Dwellings (unit, floor, door) of residential buildings, occupied at random."""
    bld = buildings
    dwell = np.isin(bld.use, ["residential", "mixed"])
    bidx = np.flatnonzero(dwell)
    per_unit = (bld.floors[bidx] - bld.mixed[bidx]) * bld.per_floor[bidx]
    capacity = per_unit * bld.units[bidx]
    b = np.repeat(bidx, capacity)
    k = np.arange(len(b)) - np.repeat(np.cumsum(capacity) - capacity, capacity)
    pu = np.repeat(per_unit, capacity)
    pf = bld.per_floor[b]
    unit = k // pu + 1
    floor = (k % pu) // pf + 1 + bld.mixed[b]
    door = (k % pu) % pf + 1
    blk = bld.blk[b]
    order = np.lexsort((rng.random(len(b)), blk))
    rank = np.empty(len(b), dtype=np.int64)
    rank[order] = group_rank(blk[order])
    take = rank < grids.block_hh[blk]
    if take.sum() != n_households:
        raise RuntimeError("dwellings do not match the household count")
    return Households(
        bld=b[take], unit=unit[take], room=floor[take] * 100 + door[take], blk=blk[take]
    )


def draw_residents(
    households: Households, buildings: Buildings, end: pd.Timestamp, rng: np.random.Generator
) -> Residents:
    """Household types, members, ages, sexes and vulnerability flags."""
    nh = len(households.blk)
    style = buildings.estate_style[households.blk]
    cum = np.cumsum(HOUSEHOLD_TYPE_P, axis=1)
    htype = (rng.random(nh)[:, None] > cum[style]).sum(axis=1)
    htype = np.minimum(htype, len(HOUSEHOLD_TYPES) - 1)
    size = np.ones(nh, dtype=np.int64)
    for t, (_, _, sizes, probs) in enumerate(HOUSEHOLD_TYPES):
        m = htype == t
        size[m] = rng.choice(sizes, m.sum(), p=probs)

    # per-household ages of each role, then members pick theirs
    u = rng.random((nh, 8))

    def elder_age(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Ages 60+ from five-year bins with probabilities ``p``."""
        k = np.minimum(np.searchsorted(np.cumsum(p), x * p.sum()), len(p) - 1)
        lo, hi = ELDER_BINS[k], ELDER_BINS[k + 1]
        span = np.where(k == len(p) - 1, (hi - lo) * y**2, (hi - lo) * y)  # 85+ thins out
        return lo + span

    def unif(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
        return lo + (hi - lo) * x

    age = np.zeros((nh, 7))
    male_self = u[:, 0] < 0.5
    names = [t[0] for t in HOUSEHOLD_TYPES]
    is_type = {name: htype == i for i, name in enumerate(names)}
    c1 = np.zeros(nh)
    # children first, then parents from the eldest child, grandparents from parents
    m = is_type["single_parent"]
    c1[m] = unif(0, 18, u[m, 1])
    m = is_type["couple_child"]
    c1[m] = np.where(u[m, 2] < 0.7, unif(0, 18, u[m, 1]), unif(18, 28, u[m, 1]))
    m = is_type["couple_children"]
    c1[m] = unif(5, 24, u[m, 1])
    m = is_type["three_generations"]
    c1[m] = unif(0, 16, u[m, 1])
    gap2 = unif(1, 8, u[:, 3])
    c2 = np.where(c1 - gap2 >= 0, c1 - gap2, c1 * u[:, 3])
    gap3 = unif(1, 5, u[:, 4])
    c3 = np.where(c2 - gap3 >= 0, c2 - gap3, c2 * u[:, 4])
    parent = c1 + unif(24, 36, u[:, 5])
    age[:, CHILD1], age[:, CHILD2], age[:, CHILD3] = c1, c2, c3
    with_kids = is_type["single_parent"] | is_type["couple_child"] | is_type["couple_children"]
    with_kids |= is_type["three_generations"]
    age[with_kids, SELF] = parent[with_kids]
    m = is_type["single_young"]
    age[m, SELF] = np.where(u[m, 1] < 0.7, unif(18, 35, u[m, 2]), unif(35, 60, u[m, 2]))
    male_self[m] = u[m, 0] < 0.68
    m = is_type["elder_alone"]
    age[m, SELF] = elder_age(np.array([0.14, 0.2, 0.2, 0.18, 0.15, 0.13]), u[m, 1], u[m, 2])
    male_self[m] = u[m, 0] < 0.38
    m = is_type["couple"]
    age[m, SELF] = np.where(u[m, 1] < 0.45, unif(22, 36, u[m, 2]), unif(46, 60, u[m, 2]))
    m = is_type["elder_couple"]
    age[m, SELF] = elder_age(np.array([0.3, 0.3, 0.2, 0.11, 0.06, 0.03]), u[m, 1], u[m, 2])
    m = is_type["elder_with_child"]
    age[m, ELDER1] = elder_age(np.array([0.03, 0.12, 0.25, 0.25, 0.2, 0.15]), u[m, 1], u[m, 2])
    age[m, SELF] = age[m, ELDER1] - unif(24, 36, u[m, 5])
    m = is_type["couple_elder"]
    age[m, SELF] = unif(28, 50, u[m, 1])
    m = is_type["single_parent"]
    male_self[m] = u[m, 0] < 0.25
    # spouses: husbands about two years older than wives
    dsp = np.clip(rng.normal(2, 2.5, nh), -3, 8)
    age[:, SPOUSE] = np.maximum(age[:, SELF] + np.where(male_self, -dsp, dsp), 20)
    older = np.maximum(age[:, SELF], age[:, SPOUSE])
    ep = older + unif(24, 33, u[:, 6])
    needs_ep = is_type["couple_elder"] | is_type["three_generations"]
    age[needs_ep, ELDER1] = ep[needs_ep]
    male_e1 = u[:, 7] < 0.45
    age[:, ELDER2] = age[:, ELDER1] + np.where(male_e1, -dsp, dsp)
    age = np.clip(age, 0, 100).astype(np.int64)

    # members
    hh = np.repeat(np.arange(nh), size)
    start = np.cumsum(size) - size
    k = np.arange(len(hh)) - start[hh]
    roles = np.full((len(HOUSEHOLD_TYPES), 6), SELF)
    for t, (_, r, _, _) in enumerate(HOUSEHOLD_TYPES):
        roles[t, : len(r)] = r
    role = roles[htype[hh], k]
    r_age = age[hh, role]
    child_male = rng.random(len(hh)) < 0.53
    male = np.select(
        [role == SELF, role == SPOUSE, role == ELDER1, role == ELDER2],
        [male_self[hh], ~male_self[hh], male_e1[hh], ~male_e1[hh]],
        child_male,
    )

    # vulnerability
    n = len(hh)
    x = rng.random((n, 2))
    p_dis = np.select([r_age < 15, r_age < 60, r_age < 75], [0.015, 0.035, 0.14], 0.27)
    p_mob = np.select([r_age < 60, r_age < 75], [0.002, 0.025], 0.26)
    mobility = x[:, 1] < p_mob
    disabled = (x[:, 0] < p_dis) | (mobility & (x[:, 0] < 0.5))
    hh_t = htype
    p_low = LOW_INCOME_HH_P * np.select(
        [hh_t == names.index("elder_alone"), hh_t == names.index("single_parent")],
        [2.2, 3.0],
        1.0,
    )
    low = (rng.random(nh) < p_low)[hh]
    alone = (size[hh] == 1) & (r_age >= 60)

    # birth dates: age in completed years on the reference (end) date
    ref = np.datetime64(end.tz_localize(None).date(), "D")
    birth = ref - np.round((r_age + rng.uniform(0.003, 0.997, n)) * 365.2425).astype(
        "timedelta64[D]"
    )
    return Residents(
        household_size=size,
        hh=hh,
        role=role,
        age=r_age,
        male=male,
        birth=birth,
        alone=alone,
        disabled=disabled,
        mobility=mobility,
        low=low,
    )


def give_identities(residents: Residents, rng: np.random.Generator) -> Identities:
    """Names, ID numbers (with MOD 11-2 check character) and phones of residents."""
    n = len(residents.hh)
    birth = residents.birth
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    # sequence numbers: unique within (birth date, sex), odd for men
    key = birth.astype(np.int64) * 2 + residents.male
    order = np.lexsort((rng.random(n), key))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = group_rank(key[order])
    if rank.max(initial=0) >= 500:
        raise RuntimeError("too many residents share a birth date for unique ID numbers")
    offset = rng.integers(0, 500, n)[order][group_start(key[order])]
    off = np.empty(n, dtype=np.int64)
    off[order] = offset
    seq = 2 * ((rank * 173 + off) % 500) + residents.male
    digits = np.empty((n, 18), dtype=np.uint8)
    digits[:, :6] = np.frombuffer(DISTRICT_CODE.encode(), dtype=np.uint8) - ord("0")
    for i, (value, width) in enumerate([(year, 4), (month, 2), (day, 2), (seq, 3)]):
        pos = [6, 10, 12, 14][i]
        for p in range(width):
            digits[:, pos + p] = (value // 10 ** (width - 1 - p)) % 10
    check = id_check_char(digits[:, :17])
    digits[:, :17] += ord("0")
    digits[:, 17] = check
    id_number = ascii_str(digits)

    # names: children take the father's surname
    nh = len(residents.household_size)
    hh, role = residents.hh, residents.role
    sw = SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()
    fam = rng.choice(len(SURNAMES), (nh, 2), p=sw)  # self, spouse
    own = rng.choice(len(SURNAMES), n, p=sw)
    self_male = residents.male[np.cumsum(residents.household_size) - residents.household_size]
    father = np.where(self_male, fam[:, 0], fam[:, 1])
    surname = np.select(
        [role == SELF, role == SPOUSE, (role >= CHILD1) & (role <= CHILD3)],
        [fam[hh, 0], fam[hh, 1], father[hh]],
        own,
    )
    name = person_names(rng, residents.male, residents.age >= 45, surname)

    # phones: children under 16 are registered with a parent's number
    phone = phones(rng, n)
    first = np.cumsum(residents.household_size) - residents.household_size
    kid = (role >= CHILD1) & (role <= CHILD3) & (residents.age < 16)
    phone[kid] = phone[first[hh[kid]]]
    return Identities(id_number=id_number, name=name, phone=int_str(phone))
