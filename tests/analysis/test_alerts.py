"""Who an alert goes to and the safe shelter it names, on the tiny hand-checkable district."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
from shapely import box

from analysis.alerts import (
    AlertTargetError,
    Message,
    NoRecipients,
    compose_messages,
    group_mask,
    nearest_safe_shelters,
    select_recipients,
)
from analysis.network import RoadNetwork
from tests.factories import E, S, W, tiny_district

YEAR = 2026


@pytest.fixture(scope="module")
def layers() -> dict:
    return tiny_district()


@pytest.fixture(scope="module")
def network(layers: dict) -> RoadNetwork:
    return RoadNetwork.from_frames(layers["road_node"], layers["road_edge"])


def _shelters(layers: dict) -> gpd.GeoDataFrame:
    f = layers["facility"].query("kind == 'shelter'")
    return gpd.GeoDataFrame(
        {"facility_id": f["id"].to_numpy(), "is_open": True, "name": f["name"].to_numpy()},
        geometry=f.geometry.to_numpy(),
        crs=4326,
    )


def _households(layers: dict) -> pd.DataFrame:
    h = layers["household"].rename(columns={"id": "household_id"})
    return h.assign(grid_id=np.where(h["building_id"] == 1, 1, 2))


def test_groups_pick_the_right_residents(layers: dict) -> None:
    residents = layers["resident"]
    picked = {
        g: residents["id"][group_mask(residents, g, reference_year=YEAR)].tolist()
        for g in ("all", "elderly_alone", "vulnerable", "children", "disabled")
    }
    assert picked == {
        "all": [111, 112, 121, 211, 212, 213],
        "elderly_alone": [121],
        "vulnerable": [121],
        "children": [213],  # born 2015: 11 in 2026
        "disabled": [],
    }
    with pytest.raises(AlertTargetError, match="unknown target group"):
        group_mask(residents, "pets", reference_year=YEAR)


def test_a_group_alert_reaches_the_members_and_their_households(layers: dict) -> None:
    got = select_recipients(
        _households(layers), layers["resident"], "elderly_alone", reference_year=YEAR, families=True
    )
    assert got[["household_id", "resident_id"]].astype(object).values.tolist() == [
        [12, pd.NA],
        [12, 121],
    ]
    everyone = select_recipients(
        _households(layers), layers["resident"], "all", reference_year=YEAR
    )
    assert everyone["household_id"].tolist() == [11, 12, 21]
    assert everyone["resident_id"].isna().all()


def test_nobody_to_alert_is_an_error_that_says_why(layers: dict) -> None:
    with pytest.raises(NoRecipients, match="no resident of the group 'disabled'"):
        select_recipients(_households(layers), layers["resident"], "disabled", reference_year=YEAR)
    with pytest.raises(NoRecipients, match="no household lies in the hazard area"):
        select_recipients(
            _households(layers).iloc[:0], layers["resident"], "all", reference_year=YEAR
        )


def test_the_safe_shelter_is_reached_around_the_hazard(layers: dict, network: RoadNetwork) -> None:
    lon, lat = W + 0.0023, S + 0.0015
    clear = nearest_safe_shelters(network, box(0, 0, 1, 1), [11], [lon], [lat], _shelters(layers))
    assert clear.frame["shelter_id"].tolist() == [2]
    # a flood over the east road (not the shelter): that road is closed, the shelter is
    # reached from the end of the west road instead
    flood = box(E - 0.0015, S - 0.0005, E + 0.001, S + 0.0005)
    around = nearest_safe_shelters(network, flood, [11], [lon], [lat], _shelters(layers))
    assert around.closed_edges.tolist() == [2]
    assert around.frame["shelter_id"].tolist() == [2]
    west_road_end = network.to_metric([W + 0.005], [S])[0]
    shelter = network.to_metric([E - 0.002], [S + 0.002])[0]
    start = network.snap([lon], [lat])
    expected = (
        start.offset_m[0] + start.to_target_m[0] + float(np.hypot(*(shelter - west_road_end)))
    )
    assert around.frame["distance_m"].iloc[0] == pytest.approx(expected, rel=1e-6)
    assert around.frame["distance_m"].iloc[0] != pytest.approx(clear.frame["distance_m"].iloc[0])
    # a fire over the shelter itself: it is unusable and nothing else is left
    fire = box(E - 0.0025, S + 0.0015, E - 0.0015, S + 0.0025)
    none = nearest_safe_shelters(network, fire, [11], [lon], [lat], _shelters(layers))
    assert none.unusable.tolist() == [2]
    assert none.frame["shelter_id"].tolist() == [-1]
    assert np.isinf(none.frame["walk_s"].iloc[0])


def test_messages_name_the_shelter_and_the_walk(layers: dict) -> None:
    recipients = pd.DataFrame(
        {
            "household_id": [12, 21],
            "resident_id": pd.array([121, None], dtype="Int64"),
            "grid_id": [1, 2],
            "shelter_id": pd.array([2, None], dtype="Int64"),
            "walk_s": [610.0, np.nan],
        }
    )
    got = compose_messages(
        recipients, "台风来了。", shelter_names={2: "测试公园"}, recipient_ids=[7, 8]
    )
    assert got[0] == Message(
        "resident:121",
        "台风来了。 最近的安全避难场所：测试公园，步行约10分钟（已避开危险区域）。",
        7,
    )
    assert got[1].recipient == "household:21" and "请听从网格员安排" in got[1].body
