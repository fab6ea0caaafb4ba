"""Point-in-time manager features: one row per customer manager per snapshot date.

A feature at as-of date ``t`` sees only records dated strictly before ``t``: the latest
assessed score per skill with its trend and age, the KPIs of the manager's territory
(retailer churn, order value growth, complaints, satisfaction, visit coverage and purpose,
brand breadth, recovery of weak retailers), tenure and training history. The skill
estimator (``training.skills``) reads its KPI evidence from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import LIST_SEPARATOR, SKILLS
from features.errors import UserInputError

WEEK = pd.Timedelta(days=7)
KPI_WEEKS = 13  # the recent quarter the KPIs describe
CHURN_WEEKS = 8  # a retailer with no order in these weeks counts as churned
KPI_COLUMNS = (
    "territory_size",
    "churn_rate",
    "value_growth_prev_quarter",
    "value_growth_last_year",
    "weak_recovery_rate",
    "complaint_rate",
    "conduct_complaint_rate",
    "satisfaction",
    "visit_coverage",
    "purposeful_visit_share",
    "followup_visit_share",
    "brand_breadth",
    "brand_breadth_growth",
)


def parse_courses(courses: pd.DataFrame) -> pd.DataFrame:
    """The catalogue with ``skills`` and ``prerequisites`` as tuples, checked against SKILLS.

    Raises:
        UserInputError: a course targets a skill outside the competency model.
    """
    frame = courses.copy()

    def items(value) -> tuple[str, ...]:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ()
        return tuple(s.strip() for s in str(value).split(LIST_SEPARATOR) if s.strip())

    frame["skills"] = frame["skills"].map(items)
    frame["prerequisites"] = (
        frame["prerequisites"].map(items) if "prerequisites" in frame else [()] * len(frame)
    )
    for row in frame.itertuples():
        unknown = [s for s in row.skills if s not in SKILLS]
        if unknown:
            raise UserInputError(
                f"course {row.course_id} targets skill(s) not in the competency model: "
                f"{', '.join(unknown)} (known: {', '.join(SKILLS)})"
            )
        if not row.skills:
            raise UserInputError(f"course {row.course_id} targets no skill")
    if "refresh_after_weeks" not in frame:
        frame["refresh_after_weeks"] = np.nan
    if "title" not in frame:
        frame["title"] = frame["course_id"]
    return frame.set_index("course_id", drop=False)


def manager_ids(tables: dict[str, pd.DataFrame]) -> pd.Index:
    """Every manager the tables know of (managers table, retailers, assessments, ...)."""
    ids: list[pd.Series] = []
    for table in ("managers", "retailers", "assessments", "trainings", "visits"):
        if table in tables and "manager_id" in tables[table]:
            ids.append(tables[table]["manager_id"].dropna())
    if not ids:
        return pd.Index([], name="manager_id")
    return pd.Index(sorted(pd.concat(ids).unique()), name="manager_id")


def latest_completions(trainings: pd.DataFrame | None) -> dict[str, dict[str, str]]:
    """Every manager's latest completion date (ISO text) of each course."""
    out: dict[str, dict[str, str]] = {}
    if trainings is None:
        return out
    last = trainings.groupby(["manager_id", "course_id"])["completed_on"].max()
    for (manager, course), day in last.items():
        out.setdefault(manager, {})[course] = str(day.date())
    return out


def assessment_features(assessments: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """Per manager: latest score, trend (latest - previous), age in days, count, per skill."""
    before = assessments[assessments["assessed_on"] < t].sort_values("assessed_on")
    grouped = before.groupby(["manager_id", "skill"], observed=True)
    latest = grouped["score"].last().unstack("skill")
    prev = (
        before.assign(rank=grouped.cumcount(ascending=False))
        .query("rank == 1")
        .set_index(["manager_id", "skill"])["score"]
        .unstack("skill")
    )
    last_day = grouped["assessed_on"].last().unstack("skill")
    count = grouped.size().unstack("skill")
    out = pd.DataFrame(index=latest.index)
    for skill in SKILLS:
        score = latest.get(skill)
        out[f"score_{skill}"] = score
        known = score is not None and skill in prev
        out[f"trend_{skill}"] = (score - prev[skill]) if known else np.nan
        out[f"age_days_{skill}"] = (t - last_day[skill]).dt.days if skill in last_day else np.nan
        out[f"n_assessments_{skill}"] = count.get(skill)
    return out


def _share(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    return numerator.reindex(denominator.index).fillna(0) / denominator.replace(0, np.nan)


def territory_kpis(tables: dict[str, pd.DataFrame], t: pd.Timestamp) -> pd.DataFrame:
    """KPIs of each manager's territory from records strictly before ``t``.

    Retailers are attributed to the manager the ``retailers`` table names. Windows: the
    KPI quarter ``[t - 13w, t)`` against the quarter before and the same quarter a year
    earlier; churn is "ordered in ``[t - 26w, t - 8w)`` but not in ``[t - 8w, t)``".
    """
    retailers = tables.get("retailers")
    if retailers is None or "manager_id" not in retailers:
        return pd.DataFrame(index=pd.Index([], name="manager_id"))
    owner = retailers.dropna(subset=["manager_id"]).set_index("retailer_id")["manager_id"]
    q0 = t - KPI_WEEKS * WEEK
    orders = tables["orders"]
    orders = orders[(orders["order_date"] < t) & (orders["order_date"] >= t - 65 * WEEK)]
    orders = orders.assign(manager_id=orders["retailer_id"].map(owner)).dropna(
        subset=["manager_id"]
    )
    day = orders["order_date"]

    def value_in(start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        part = orders[(day >= start) & (day < end)]
        return part.groupby("retailer_id")["amount"].sum()

    recent, prior = value_in(q0, t), value_in(q0 - KPI_WEEKS * WEEK, q0)
    last_year = value_in(q0 - 52 * WEEK, t - 52 * WEEK)
    older = value_in(t - 52 * WEEK, t - 26 * WEEK)
    out = pd.DataFrame(index=pd.Index(sorted(owner.unique()), name="manager_id"))

    def by_manager(values: pd.Series) -> pd.Series:
        return values.groupby(values.index.map(owner)).sum()

    active = value_in(t - 26 * WEEK, t - CHURN_WEEKS * WEEK).index
    still = value_in(t - CHURN_WEEKS * WEEK, t).index
    active_owner = pd.Series(active.map(owner), index=active)
    out["territory_size"] = active_owner.value_counts()
    churned = active_owner[~active.isin(still)].value_counts()
    out["churn_rate"] = _share(churned, out["territory_size"])
    out["value_growth_prev_quarter"] = by_manager(recent) / by_manager(prior) - 1
    out["value_growth_last_year"] = by_manager(recent) / by_manager(last_year) - 1
    # Weak retailers: last quarter's value below 70% of their own value 6-12 months ago.
    base = older / 2  # two quarters -> one
    base = base[base > 0]
    weak = base.index[(prior.reindex(base.index).fillna(0) < 0.7 * base).to_numpy()]
    recovered = weak[(recent.reindex(weak).fillna(0) >= 0.9 * base.reindex(weak)).to_numpy()]
    out["weak_recovery_rate"] = _share(
        pd.Series(recovered.map(owner)).value_counts(), pd.Series(weak.map(owner)).value_counts()
    )
    if "brand_count" in orders:
        breadth_now = orders[day >= q0].groupby("manager_id")["brand_count"].mean()
        breadth_before = orders[(day >= q0 - KPI_WEEKS * WEEK) & (day < q0)]
        breadth_before = breadth_before.groupby("manager_id")["brand_count"].mean()
        out["brand_breadth"] = breadth_now
        out["brand_breadth_growth"] = breadth_now / breadth_before - 1
    complaints = tables.get("complaints")
    if complaints is not None:
        recent_c = complaints[
            (complaints["complained_on"] < t) & (complaints["complained_on"] >= t - 26 * WEEK)
        ]
        who = recent_c["retailer_id"].map(owner)
        out["complaint_rate"] = _share(who.value_counts(), out["territory_size"])
        if "category" in recent_c:
            conduct = who[(recent_c["category"] == "conduct").to_numpy()]
            out["conduct_complaint_rate"] = _share(conduct.value_counts(), out["territory_size"])
    surveys = tables.get("surveys")
    if surveys is not None:
        day_s = surveys["surveyed_on"]
        recent_s = surveys[(day_s < t) & (day_s >= t - 26 * WEEK)]
        out["satisfaction"] = recent_s.groupby(recent_s["retailer_id"].map(owner))[
            "satisfaction"
        ].mean()
    visits = tables.get("visits")
    if visits is not None:
        recent_v = visits[(visits["visit_date"] < t) & (visits["visit_date"] >= q0)]
        visited = recent_v.drop_duplicates("retailer_id")["retailer_id"]
        visited = visited[visited.isin(active)]
        out["visit_coverage"] = _share(visited.map(owner).value_counts(), out["territory_size"])
        if "purpose" in recent_v:
            n = recent_v.groupby("manager_id").size()
            purposeful = recent_v["purpose"].notna() & (recent_v["purpose"] != "routine")
            out["purposeful_visit_share"] = _share(
                recent_v[purposeful].groupby("manager_id").size(), n
            )
            followup = recent_v["purpose"] == "order_decline_followup"
            out["followup_visit_share"] = _share(
                recent_v[followup].groupby("manager_id").size(), n
            )
    return out.reindex(columns=[c for c in KPI_COLUMNS if c in out]).astype("float64")


def training_features(
    trainings: pd.DataFrame | None, courses: pd.DataFrame | None, t: pd.Timestamp
) -> pd.DataFrame:
    """Courses completed, hours and weeks since the last course, from records before ``t``."""
    if trainings is None:
        return pd.DataFrame(index=pd.Index([], name="manager_id"))
    done = trainings[trainings["completed_on"] < t]
    grouped = done.groupby("manager_id")
    out = pd.DataFrame({"courses_completed": grouped.size()})
    out["courses_last_52w"] = (
        done[done["completed_on"] >= t - 52 * WEEK].groupby("manager_id").size()
    )
    out["courses_last_52w"] = out["courses_last_52w"].fillna(0)
    if courses is not None:
        hours = done["course_id"].map(courses.set_index("course_id")["hours"])
        out["training_hours"] = hours.groupby(done["manager_id"]).sum()
    out["weeks_since_training"] = (t - grouped["completed_on"].max()).dt.days / 7
    return out


def build_manager_features(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp | str
) -> pd.DataFrame:
    """One row per known manager at ``as_of``, from records dated strictly before it.

    Returns:
        Indexed by ``manager_id``; columns ``as_of``, ``role``, ``team_id``,
        ``tenure_days``, the assessment columns (``score_<skill>``, ``trend_<skill>``,
        ``age_days_<skill>``, ``n_assessments_<skill>``), the KPIs (``KPI_COLUMNS``) and the
        training history. Missing evidence is NaN (never a guess).
    """
    t = pd.Timestamp(as_of)
    ids = manager_ids(tables)
    if ids.empty:
        raise UserInputError(
            "no customer managers found (need managers, retailers or assessments)"
        )
    frame = pd.DataFrame(index=ids)
    frame["as_of"] = t
    managers = tables.get("managers")
    if managers is not None:
        info = managers.set_index("manager_id").reindex(ids)
        for column in ("role", "team_id"):
            if column in info:
                frame[column] = info[column]
        if "hired_on" in info:
            tenure = (t - info["hired_on"]).dt.days.astype("float64")
            frame["tenure_days"] = tenure.where(tenure >= 0)
    assessments = tables.get("assessments")
    if assessments is not None:
        frame = frame.join(assessment_features(assessments, t))
    frame = frame.join(territory_kpis(tables, t))
    frame = frame.join(training_features(tables.get("trainings"), tables.get("courses"), t))
    return frame
