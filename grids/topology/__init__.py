"""Check that the 网格 of each community tile it; report each problem with where and how to fix it.

The check is pure: GeoDataFrames in, a :class:`TopologyReport` out, no database.  It
finds, per community (社区):

========================  ========================================================
kind                      what
========================  ========================================================
``invalid``               a grid or community whose geometry is not valid (shapely's
                          :func:`shapely.is_valid_reason`), missing or empty.  It is
                          *not* repaired; the other checks see it as
                          :func:`shapely.make_valid` would repair it, so that they
                          can still say something about the rest of the community.
``unknown_community``     a grid whose ``community_code`` matches no community.
``gap``                   a part of a community covered by no grid: the community
                          minus the union of its grids, one row per part.
``overlap``               the area two grids of the same community share, one row
                          per pair (candidate pairs from an STRtree, never all
                          pairs).
``crossing``              the part of a grid outside its community, one row per
                          grid.
``sliver``                a part of a grid that is tiny or thin (see below).
``no_grid``               buildings (and, from the database, facilities and
                          incidents) in no grid: one row per community and kind of
                          record, a MultiPoint of where they are.
``band``                  a base grid whose households are outside the band
                          (300–500 by default); dedicated grids (专属网格, ``kind``
                          ``'dedicated'``) are not sized by households and are
                          skipped.
``outlier``               a grid whose incident load is unusual (see below).
========================  ========================================================

Areas and lengths are measured in metres in one local metric CRS, the UTM zone at the
centre of the data (:func:`gis.coords.local_metric_crs_for`); the overlays themselves
are computed on the coordinates as given, in EPSG:4326, so that the check adds no
error of its own.  Within a city district the UTM area error is below 0.1 %.

Each part of the method is described in the module that carries it out: noise and
slivers in :mod:`~grids.topology.measuring`, the tiling checks in
:mod:`~grids.topology.tiling`, incident outliers and the records in no grid in
:mod:`~grids.topology.records`, gating in :mod:`~grids.topology.report`;
:func:`check_grids` (:mod:`~grids.topology.check`) runs them all.
"""

from grids.topology.check import check_grids
from grids.topology.measuring import polsby_popper
from grids.topology.records import robust_z
from grids.topology.report import (
    AREA_KINDS,
    DEFAULT_GATE_KINDS,
    KIND_LABELS,
    KINDS,
    PROBLEM_COLUMNS,
    CheckTolerances,
    TopologyInputError,
    TopologyReport,
)

__all__ = [
    "AREA_KINDS",
    "DEFAULT_GATE_KINDS",
    "KINDS",
    "KIND_LABELS",
    "PROBLEM_COLUMNS",
    "CheckTolerances",
    "TopologyInputError",
    "TopologyReport",
    "check_grids",
    "polsby_popper",
    "robust_z",
]
