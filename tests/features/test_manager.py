"""Manager features: point in time, and the catalogue check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import TABLES
from features.errors import UserInputError
from features.manager import build_manager_features, parse_courses
from features.validate import load_dataset
from simulator import SimulationConfig, Territory, export_dataset


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("manager-features") / "data"
    territory = Territory.create(SimulationConfig(n_retailers=600, n_managers=6, seed=2))
    territory.run(70)
    export_dataset(territory, out)
    return load_dataset(Path(out)).tables


def _cut(tables: dict[str, pd.DataFrame], t: pd.Timestamp, scramble: bool) -> dict:
    """Records on or after ``t`` dropped, or (scramble) their values changed."""
    out = {}
    for name, frame in tables.items():
        column = TABLES[name].date_column
        if column is None:
            out[name] = frame
            continue
        late = frame[column] >= t
        if not scramble:
            out[name] = frame[~late]
            continue
        frame = frame.copy()
        for numeric in ("amount", "score", "brand_count", "satisfaction"):
            if numeric in frame:
                frame.loc[late, numeric] = frame.loc[late, numeric].iloc[::-1].to_numpy()
        out[name] = frame
    return out


@pytest.mark.parametrize("scramble", [False, True])
def test_features_never_look_at_records_on_or_after_the_as_of_date(tables, scramble) -> None:
    t = pd.Timestamp("2025-02-05")  # a Wednesday: not aligned with weeks
    full = build_manager_features(tables, t)
    cut = build_manager_features(_cut(tables, t, scramble), t)
    pd.testing.assert_frame_equal(full, cut)


def test_features_describe_assessments_kpis_tenure_and_training(tables) -> None:
    t = pd.Timestamp("2025-03-03")
    frame = build_manager_features(tables, t)
    assert len(frame) == 6
    for column in (
        "score_communication",
        "trend_planning",
        "age_days_ethics",
        "churn_rate",
        "value_growth_last_year",
        "complaint_rate",
        "satisfaction",
        "visit_coverage",
        "purposeful_visit_share",
        "brand_breadth_growth",
        "tenure_days",
        "courses_completed",
        "training_hours",
        "weeks_since_training",
    ):
        assert column in frame, column
    assert frame["purposeful_visit_share"].between(0, 1).all()
    # The latest score is the last assessment before t, and its age is counted to t.
    a = tables["assessments"]
    a = a[(a["assessed_on"] < t) & (a["skill"] == "ethics")].sort_values("assessed_on")
    last = a.groupby("manager_id").last()
    np.testing.assert_allclose(frame.loc[last.index, "score_ethics"], last["score"])
    np.testing.assert_allclose(
        frame.loc[last.index, "age_days_ethics"], (t - last["assessed_on"]).dt.days
    )


def test_a_course_targeting_a_skill_outside_the_model_is_refused(tables) -> None:
    courses = tables["courses"].copy()
    courses.loc[0, "skills"] = "communication;juggling"
    with pytest.raises(UserInputError, match="juggling"):
        parse_courses(courses)
