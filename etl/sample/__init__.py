"""Generate a synthetic but plausible sample district (区) around 三墩镇, Hangzhou, layer by layer.

:func:`generate_district` builds, from a household count and a seed, every layer the
database holds for a district: admin areas (district → street → community → estate),
grids, buildings, households, residents, facilities, shelters, the road network,
users, grid workers and their assignments, and six months of incidents with their full
histories.  The output is deterministic for ``(households, seed, end)`` and scales from
2,000 to 2,000,000 households (everything is vectorised with numpy, shapely 2 and
pyarrow strings; there is no loop per building, household or resident).

Geometry is built in UTM 51N (EPSG:32651) and returned in WGS84 (EPSG:4326).

:mod:`~etl.sample.district` runs twelve stages in order on one random generator, each a
function that takes the frozen dataclasses of the stages it needs and returns its own:
:mod:`~etl.sample.layout` (communities, blocks, grids, estates),
:mod:`~etl.sample.buildings`, :mod:`~etl.sample.population` (households, residents,
identities), :mod:`~etl.sample.facilities`, :mod:`~etl.sample.roads`,
:mod:`~etl.sample.people` (grid workers), :mod:`~etl.sample.incidents` (with their
histories), then :mod:`~etl.sample.frames` and :mod:`~etl.sample.work_frames` assemble
the layers; the figures and name tables are in :mod:`~etl.sample.constants`, the small
array helpers in :mod:`~etl.sample.helpers`.  The generator's calls keep their order, so
a seed gives the same district it always gave.  :mod:`~etl.sample.areas` then makes a
generated district for another area (``--area CODE``: its codes, its spot, its users).

Published figures the generator is calibrated on
-----------------------------------------------
* **Population** — 7th national population census of China (2020), communiqué no. 5
  and the 2020 census tabulation: aged 0–14 17.95 %, 15–59 63.35 %, 60+ 18.70 %,
  65+ 13.50 %; five-year shares within 60+ (60–64 27.8 %, 65–69 28.0 %, 70–74 18.8 %,
  75–79 11.7 %, 80–84 7.7 %, 85+ 6.0 %); sex ratio 105.07 men per 100 women;
  average family household size 2.62; household sizes 1 person 25.4 %, 2 29.7 %,
  3 21.0 %, 4 13.2 %, 5 6.2 %, 6+ 4.6 %.
* **Disability** — second China national sample survey on disability (2006): 6.34 %
  of the population, prevalence rising steeply with age; mobility impairment
  (肢体/行动不便) concentrated in the oldest old.  Modelled as disabled 1.5 % under 15,
  3.5 % at 15–59, 14 % at 60–74 and 27 % at 75+; mobility-impaired 0.2 % under 60, 2 %
  at 60–74 and 22 % at 75+ (≈2 % overall).
* **Minimum living allowance (低保)** — about 2 % of residents, granted per
  household, more often to elderly people living alone and single parents.
* **Communities** — an urban community (社区) in Hangzhou covers about 30 ha
  (≈550 m × 550 m), holds about 9 estates (小区), ~1,900 households and ~5,000–5,800
  residents (community household counts drawn between ≈1,250 and 2,550); a street
  office (街道) has a few to a few dozen communities (here ~12).
* **Grids** — Zhejiang's grid-management guidance: one grid per 300–500 households
  (here ~400), one full-time grid worker per grid.
* **Buildings** — 多层 slab blocks (5–7 floors, 2–3 units, 2 dwellings per floor per
  unit, ≈60 m × 12 m) in older estates, 小高层 (11–18 floors) in middle-aged ones and
  高层 towers (18–33 floors, 1–2 units, 2–4 dwellings per floor per unit) in new ones;
  row spacing ≈1.2 × building height (Hangzhou sunlight spacing), 75–95 % occupancy.
* **Facilities** — GB 50180-2018 (urban residential area planning: 5/10/15-minute life
  circles) for a community service centre, a community health station (社区卫生服务站),
  a pocket park per community, elder care per 2–3 communities and a primary school
  (classes of 45) per ~4 communities.
* **Shelters** — GB 51143-2015 (防灾避难场所设计规范): emergency shelters (紧急) for
  on-the-spot evacuation at ≈1 m² of effective area per person, short-term fixed
  shelters (固定) in school grounds at ≈2 m² per person serving a responsibility zone of
  4–6 communities (which they must hold 15 % of).
* **Roads** — arterials (红线 ≈40 m) on community boundaries at 50 km/h, branch roads
  (≈16–20 m) between estates at 30 km/h, estate lanes at 15 km/h; walking 1.2 m/s.
  Estate lanes are walkable and drivable (fire-engine and resident access at low
  speed); a few branch roads are one-way.
* **Incidents** — CJ/T 214 / GB/T 30428 categories (:mod:`grids.categories`) with a mix
  dominated by streetscape and parking events; sources patrol ≈50 %, resident app
  ≈30 %, 12345 hotline ≈20 %; daily (few at night, peaks mid-morning and afternoon) and
  weekly (fewer patrol reports, more app reports at weekends) rhythms; a handful of
  hotspots (market streets with stalls, old estates with repairs, school gates,
  construction sites).

Contract notes for the loader
-----------------------------
* String columns use pandas' ``str`` dtype (pyarrow-backed); missing values are NaN.
* ``deadline`` is the dispatch time plus the category time limit (the deadline clock
  starts at 派遣, as in the design) and NaT until dispatch.
* Buildings are ``Polygon`` (the table wants ``MULTIPOLYGON``: promote with ST_Multi);
  school campuses are not estates and carry no building footprints.
* ``reporter_username`` / ``actor`` / ``username`` refer to ``app_user.username``;
  ``actor`` may also be ``"system"``.
"""

from etl.sample.constants import DEFAULT_END, LAYERS
from etl.sample.district import generate_district
from etl.sample.population import id_check_char

__all__ = ["DEFAULT_END", "LAYERS", "generate_district", "id_check_char"]
