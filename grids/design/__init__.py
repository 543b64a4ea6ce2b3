r"""Design a community's grids (网格): contiguous, compact, balanced in households, along roads.

The job: cut one community (社区) into grids of ``min_households``–``max_households``
households (300–500 by default) whose boundaries run along roads (between buildings where
roads are too sparse) and that are compact enough to walk, and measure the result beside
a naive square lattice of the same count.

Method
------
Five steps, each described in full in the module that carries it out:

1. **Street blocks as bricks** (:mod:`~grids.design.blocks`): the community cut by its
   roads into faces, each weighing the households of its buildings.
2. **Cuts along building gaps** (:mod:`~grids.design.cuts`): blocks too heavy for the
   band cut between their buildings.
3. **The brick graph** and 4. **Partition** (:mod:`~grids.design.grouping`): the bricks
   grouped into connected, compact grids of balanced households by local search.
5. **Grids** (:mod:`~grids.design.designer`, which runs the steps in order): the union of
   each part's faces, in reading order, measured (:mod:`~grids.design.metrics`).

:func:`naive_square_grid` (:mod:`~grids.design.lattice`) is the baseline the issue asks
for: a square lattice with the
same number of grids, clipped to the community (see there).  :func:`measure` gives the
same metrics for any set of grids, including a community's current ones.  The designer
does not promise to beat the lattice (a tower of 1,500 households is out of band in any
design); the doors that store a design refuse one that is worse than the lattice unless
told otherwise (:meth:`DesignMetrics.worse_than`).
"""

from grids.design.blocks import DEFAULT_MINOR_CLASSES, street_blocks
from grids.design.designer import design_grids
from grids.design.grouping import DesignWeights
from grids.design.lattice import naive_square_grid
from grids.design.metrics import (
    DEFAULT_MAX_HOUSEHOLDS,
    DEFAULT_MIN_HOUSEHOLDS,
    Design,
    DesignError,
    DesignMetrics,
    measure,
    polsby_popper,
)

__all__ = [
    "DEFAULT_MAX_HOUSEHOLDS",
    "DEFAULT_MINOR_CLASSES",
    "DEFAULT_MIN_HOUSEHOLDS",
    "Design",
    "DesignError",
    "DesignMetrics",
    "DesignWeights",
    "design_grids",
    "measure",
    "naive_square_grid",
    "polsby_popper",
    "street_blocks",
]
