"""Exact facility location-allocation: where the next clinic, elder-care home or park goes.

Street-office planners (街道规划) ask two kinds of question about new facilities:

- *coverage*: how few sites put everyone within the walking standard (a 15-minute life
  circle, 15分钟生活圈) — the **location set covering problem** (:func:`lscp`) — or, with
  a budget of ``p`` sites, how many people can be put within it — the **maximal
  covering location problem** (:func:`mclp`);
- *access*: with ``p`` sites, how short can the total walk be — the **p-median
  problem** (:func:`p_median`), and the same when each site can only take so many
  people (:func:`capacitated_p_median`).

Every model is solved exactly with the HiGHS MIP solver (``highspy``; the p-median
with a Lagrangian bound and heuristics around it, see :func:`p_median`): the answer says
whether it is proven optimal (``status="optimal"``), or the best found when the time
limit stopped the search (``status="time_limit"``, with the proven ``bound`` and
``gap``), or that no answer exists (``status="infeasible"``, with the reason in
:meth:`LocationResult.explain`).  Models are built directly as sparse column arrays
and handed to HiGHS in one call, never row by row.

One module per model family: :mod:`~analysis.location.coverage` (:func:`cover_matrix`,
LSCP, MCLP), :mod:`~analysis.location.median` (p-median, on the problem of
:mod:`~analysis.location.median_problem`), :mod:`~analysis.location.capacitated`
(capacitated p-median), all on :mod:`~analysis.location.base` (the answer, the input
checks, the merging of identical demand, the HiGHS call).

Inputs
------
Walking times
    Seconds, demand × candidate site, either a :mod:`scipy.sparse` matrix or array
    holding only the reachable pairs (a missing entry is *unreachable*, a stored 0 is
    0 s) or a dense array with ``inf`` for unreachable.  Build the sparse form from
    ``(data, (row, col))``: ``csr_matrix(dense)`` drops the zeros, which would make a
    demand point standing on a site unreachable from it.  Coverage models take a
    boolean *cover* matrix instead (True: the site serves the demand within the
    standard; see :func:`cover_matrix`).
Weights
    Nonnegative demand weights (people, elderly residents, households).
Fixed and excluded sites
    ``fixed`` sites are existing facilities: always open, never counted in ``p``.
    ``excluded`` sites may not be chosen (land not available, residents oppose an elder
    day-care centre there — 邻避).

How the models are kept small
-----------------------------
- Demand points with identical rows (the same sites at the same times) are merged and
  their weights summed; demand served by a fixed site is settled before the model.
- In the covering models a site that covers a subset of what another covers is dropped
  (swapping it for the other never loses cover), and rows are merged again.
- :func:`p_median` is solved in four steps, each within a share of the time limit
  (heuristic, Lagrangian bound, interchange again, exact radius model): see its Notes.

References
----------
Church & ReVelle (1974), The maximal covering location problem.
"""

from analysis.location.base import (
    MODEL_NAMES,
    MODELS,
    LocationError,
    LocationResult,
)
from analysis.location.capacitated import capacitated_p_median
from analysis.location.coverage import cover_matrix, lscp, mclp
from analysis.location.median import p_median

__all__ = [
    "MODELS",
    "MODEL_NAMES",
    "LocationError",
    "LocationResult",
    "capacitated_p_median",
    "cover_matrix",
    "lscp",
    "mclp",
    "p_median",
]
