"""The re-division simulator at city scale: 1,000,000 cases and 500 grids, against a 10 s target.

A synthetic district of about 500 grids (10 km across, streets every 100 m), 200,000
households and 1,000,000 cases over 180 days; a candidate layout of 500 other grids.
Times the whole :func:`analysis.redivision.simulate` (the on-time model fitted with its
check on the next period, both layouts placed, loads replayed, walks measured on the
network, per grid and per worker), once, and prints a RESULT line.

Run: ``python -m benchmarks.simulate`` (about a minute, most of it making the data).
"""

from __future__ import annotations

import time

import numpy as np

from analysis.network import RoadNetwork
from analysis.redivision import History, simulate
from etl.synthetic_grids import district_grids
from etl.synthetic_office import candidate_layout, synthetic_office

TARGET_S = 10.0


def main(n_cases: int = 1_000_000, n_grids: int = 500) -> None:
    """Make the district, then time one simulation."""
    t0 = time.perf_counter()
    grids, district = district_grids(n_grids, size_m=10_000.0, seed=42)
    grids["key"] = [f"G{i:04d}" for i in range(len(grids))]
    grids["worker_id"] = np.arange(1, len(grids) + 1)
    office = synthetic_office(grids, district, n_cases=n_cases, n_households=200_000)
    network = RoadNetwork.from_frames(office.nodes, office.edges, walk_speed_mps=1.2)
    candidate = candidate_layout(district, n_grids)
    made = time.perf_counter() - t0
    print(
        f"data: {len(office.cases):,} cases, {len(office.households):,} households, "
        f"{len(grids)} grids today, {len(candidate)} candidate, {network.n_nodes:,} nodes "
        f"({made:.1f} s to make)"
    )
    history = History(office.cases, office.households, office.end)
    t1 = time.perf_counter()
    sim = simulate(history, grids[["key", "worker_id", "geometry"]], candidate, network=network)
    took = time.perf_counter() - t1
    model = sim.model
    coef = ", ".join(f"{c.name} {c.estimate:+.4f} ± {c.std_error:.4f}" for c in model.coefficients)
    print(f"model: n={model.n:,}, {coef}, pseudo-R² {model.pseudo_r2:.3f}")
    if model.held_out is not None:
        h = model.held_out
        print(
            f"held out (fit before {h.split_at:%Y-%m-%d}, predict after): n={h.n_test:,}, "
            f"Brier {h.brier:.4f}, log loss {h.log_loss:.4f}, AUC {h.auc:.3f}, "
            f"on time observed {h.observed_rate:.3f} vs predicted {h.predicted_rate:.3f}"
        )
    today = sim.grids[sim.grids["layout"] == "today"]
    cand = sim.grids[sim.grids["layout"] == "candidate"]
    print(
        f"today: walk mean {today['walk_mean_min'].mean():.2f} min, expected on time "
        f"{today['on_time_expected'].mean():.3f}; candidate: walk mean "
        f"{cand['walk_mean_min'].mean():.2f} min, expected on time "
        f"{cand['on_time_expected'].mean():.3f}; {len(sim.workers)} workers compared"
    )
    verdict = "within" if took <= TARGET_S else "OVER"
    print(
        f"RESULT simulate cases={sim.cases} grids={len(grids)}+{len(candidate)} "
        f"seconds={took:.2f} target={TARGET_S:.0f} ({verdict} target)"
    )


if __name__ == "__main__":
    main()
