"""Skill estimates with uncertainty, skill importance, targets and gaps for every manager.

The estimate is an empirical-Bayes state-space (Kalman) combination, per manager and skill:

* **Prior from KPIs.** A ridge regression of each manager's assessed level (assessments
  carried to the snapshot) on the KPIs of their territory, tenure, role and training
  history (``features.manager``). Its prediction is the prior mean; the prior variance is
  its cross-validated residual variance minus the part that is assessment noise. A manager
  with no assessment at all gets this prior as the estimate, flagged ``kpi_only``.
* **Measurement and dynamics** (``training.courses.MeasurementModel``): an assessment is the
  skill plus noise of variance ``noise_var``; between assessments the skill drifts, gains
  what completed courses add (estimated effects x gap factor) and wanders with variance
  ``process_var`` per week, so an old assessment weighs less than a recent one.
* The filter starts from the prior (carried back to the first assessment), takes each
  assessment in date order and predicts forward to the snapshot: posterior mean and sd.

**Importance** of a skill: a ridge regression across managers of territory outcomes
(retention = 1 - churn rate, and order value growth against last year, each averaged over
four quarterly snapshots) on assessment-only skill estimates (no KPI prior, so the KPIs do
not explain themselves); importance is the positive part of the standardised coefficients,
averaged over the two outcomes and scaled to mean 1 (a floor keeps every skill in play).

**Target** per skill: the mean estimate among the company's good performers (the top
quarter of managers by the same outcomes), overridable per role. Gap = max(target -
estimate, 0); priority = gap x importance.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_predict

from features.contract import SKILLS
from features.errors import UserInputError
from features.manager import KPI_COLUMNS, build_manager_features
from training.courses import (
    CourseEffects,
    EffectAssumptions,
    MeasurementModel,
    completion_scales,
)

WEEK = pd.Timedelta(days=7)
PRIOR_FEATURES = (
    *KPI_COLUMNS,
    "tenure_days",
    "courses_completed",
    "training_hours",
)
ALPHAS = np.logspace(-2, 3, 12)


@dataclass(frozen=True)
class SkillsConfig:
    """Settings of the skills model; the defaults are what ``train skills`` uses."""

    budget_hours: float = 24.0  # training hours per manager per quarter
    good_performer_share: float = 0.25
    targets_by_role: dict[str, dict[str, float]] = field(default_factory=dict)
    min_process_var_per_week: float = 0.05
    importance_floor: float = 0.2
    holdout_weeks: int = 13
    assumptions: EffectAssumptions = field(default_factory=EffectAssumptions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_hours": self.budget_hours,
            "good_performer_share": self.good_performer_share,
            "targets_by_role": self.targets_by_role,
            "min_process_var_per_week": self.min_process_var_per_week,
            "importance_floor": self.importance_floor,
            "holdout_weeks": self.holdout_weeks,
            "assumptions": vars(self.assumptions),
        }


def _design(features: pd.DataFrame) -> pd.DataFrame:
    x = pd.DataFrame(index=features.index)
    for column in PRIOR_FEATURES:
        x[column] = features.get(column, np.nan)
    if "role" in features:
        for role in sorted(features["role"].dropna().unique()):
            x[f"role_{role}"] = (features["role"] == role).astype(float)
    x = x.astype(float)
    x = x.loc[:, x.notna().any()]
    return x.fillna(x.median()).fillna(0.0)


@dataclass
class KpiPrior:
    mean: pd.DataFrame  # manager x skill
    var: dict[str, float]
    r2: dict[str, float]
    coefficients: dict[str, dict[str, float]]


def fit_kpi_prior(
    features: pd.DataFrame,
    carried: pd.DataFrame,
    carried_var: pd.DataFrame,
    measurement: MeasurementModel,
) -> KpiPrior:
    """Ridge of assessed level (carried to the snapshot) on KPI features, per skill.

    Args:
        carried: manager x skill, mean of each manager's assessments carried to the snapshot
            (NaN where never assessed); ``carried_var`` its noise variance.
    """
    x = _design(features)
    mean = pd.DataFrame(index=features.index, columns=list(SKILLS), dtype=float)
    var, r2, coefficients = {}, {}, {}
    for skill in SKILLS:
        y = carried[skill].reindex(features.index)
        known = y.notna().to_numpy()
        fallback_var = measurement.skill_var[skill]
        if known.sum() < 8 or x.shape[1] == 0:
            mean[skill] = measurement.skill_mean[skill]
            var[skill], r2[skill], coefficients[skill] = fallback_var, 0.0, {}
            continue
        xs = (x - x[known].mean()) / x[known].std().replace(0, 1)
        model = RidgeCV(alphas=ALPHAS).fit(xs[known], y[known])
        folds = KFold(n_splits=min(5, int(known.sum())), shuffle=True, random_state=0)
        cv = cross_val_predict(RidgeCV(alphas=ALPHAS), xs[known], y[known], cv=folds)
        resid = y[known].to_numpy() - cv
        noise = carried_var[skill].reindex(features.index)[known].to_numpy()
        v = float(np.mean(resid**2) - np.mean(noise))
        var[skill] = float(np.clip(v, 0.1 * fallback_var, fallback_var))
        mean[skill] = model.predict(xs)
        r2[skill] = float(1 - np.mean(resid**2) / np.var(y[known]))
        coefficients[skill] = dict(zip(x.columns, map(float, model.coef_), strict=True))
    return KpiPrior(mean, var, r2, coefficients)


def _completions(trainings, catalogue, effects, assumptions, as_of) -> dict[str, list]:
    """Per manager: (day, {skill: (effect, effect variance)}, scale) of courses before as_of."""
    if trainings is None or trainings.empty:
        return {}
    done = completion_scales(trainings[trainings["completed_on"] < as_of], catalogue, assumptions)
    table = effects.table.set_index(["course_id", "skill"])
    per_course: dict[str, dict[str, tuple[float, float]]] = {}
    for course_id in catalogue.index:
        entry = {}
        for skill in catalogue.at[course_id, "skills"]:
            if (course_id, skill) in table.index:
                row = table.loc[(course_id, skill)]
                sd = (row["ci_high"] - row["ci_low"]) / (2 * 1.96)
                entry[skill] = (float(row["effect"]), float(sd**2))
        per_course[course_id] = entry
    out: dict[str, list] = {}
    for row in done.itertuples():
        out.setdefault(row.manager_id, []).append(
            (row.completed_on, per_course.get(row.course_id, {}), row.scale)
        )
    return out


def carry_assessments(
    assessments: pd.DataFrame,
    completions: dict[str, list],
    measurement: MeasurementModel,
    assumptions: EffectAssumptions,
    as_of: pd.Timestamp,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean of each manager's assessments carried to ``as_of`` (drift and course gains added)
    and its noise variance; the regression target of the KPI prior."""
    before = assessments[assessments["assessed_on"] < as_of]
    means, variances = {}, {}
    for (manager, skill), group in before.groupby(["manager_id", "skill"], observed=True):
        carried, noise = [], []
        for day, score in zip(group["assessed_on"], group["score"], strict=True):
            level = float(score)
            weeks = (as_of - day).days / 7
            level += measurement.drift_per_week * weeks
            for done_on, course, scale in completions.get(manager, []):
                if day <= done_on and skill in course:
                    level += course[skill][0] * float(assumptions.gap_factor(level)) * scale
            carried.append(level)
            noise.append(measurement.noise_var + _process_var(measurement) * weeks)
        means[(manager, skill)] = np.mean(carried)
        variances[(manager, skill)] = np.mean(noise) / len(noise)
    index = pd.MultiIndex.from_tuples(list(means), names=["manager_id", "skill"])
    mean = pd.Series(list(means.values()), index=index, dtype=float).unstack("skill")
    var = pd.Series(list(variances.values()), index=index, dtype=float).unstack("skill")
    return mean.reindex(columns=list(SKILLS)), var.reindex(columns=list(SKILLS))


def _process_var(measurement: MeasurementModel) -> float:
    return measurement.process_var_per_week


def filter_skills(
    assessments: pd.DataFrame,
    completions: dict[str, list],
    prior_mean: pd.DataFrame,
    prior_var: dict[str, float],
    measurement: MeasurementModel,
    assumptions: EffectAssumptions,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """The Kalman filter: posterior mean and sd of every manager's skills at ``as_of``.

    Returns:
        Long table: manager_id, skill, estimate, sd, prior_mean, prior_sd, n_assessments,
        latest_score, latest_assessed_on, source (``assessments+kpi`` or ``kpi_only``).
    """
    before = assessments[assessments["assessed_on"] < as_of].sort_values("assessed_on")
    by_manager = {m: g for m, g in before.groupby("manager_id")}
    q = _process_var(measurement)
    rows = []
    for manager in prior_mean.index:
        group = by_manager.get(manager)
        history = completions.get(manager, [])
        for skill in SKILLS:
            mu0, p0 = float(prior_mean.at[manager, skill]), prior_var[skill]
            obs = group[group["skill"] == skill] if group is not None else None
            if obs is None or obs.empty:
                rows.append(
                    (
                        manager,
                        skill,
                        mu0,
                        np.sqrt(p0),
                        mu0,
                        np.sqrt(p0),
                        0,
                        np.nan,
                        pd.NaT,
                        "kpi_only",
                    )
                )
                continue
            start = obs["assessed_on"].iloc[0]
            # Carry the prior (a statement about the level at as_of) back to the start.
            back = measurement.drift_per_week * (as_of - start).days / 7
            for day, course, scale in history:
                if start <= day and skill in course:
                    back += course[skill][0] * float(assumptions.gap_factor(mu0)) * scale
            m, p, t = mu0 - back, p0, start
            for day, score in zip(obs["assessed_on"], obs["score"], strict=True):
                m, p = _predict(m, p, t, day, skill, history, measurement, assumptions, q)
                gain = p / (p + measurement.noise_var)
                m, p, t = m + gain * (float(score) - m), (1 - gain) * p, day
            m, p = _predict(m, p, t, as_of, skill, history, measurement, assumptions, q)
            rows.append(
                (
                    manager,
                    skill,
                    m,
                    np.sqrt(p),
                    mu0,
                    np.sqrt(p0),
                    len(obs),
                    float(obs["score"].iloc[-1]),
                    obs["assessed_on"].iloc[-1],
                    "assessments+kpi",
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "manager_id",
            "skill",
            "estimate",
            "sd",
            "prior_mean",
            "prior_sd",
            "n_assessments",
            "latest_score",
            "latest_assessed_on",
            "source",
        ],
    )


def _predict(m, p, start, end, skill, history, measurement, assumptions, q):
    weeks = max((end - start).days / 7, 0.0)
    m += measurement.drift_per_week * weeks
    p += q * weeks
    for day, course, scale in history:
        if start <= day < end and skill in course:
            effect, effect_var = course[skill]
            factor = float(assumptions.gap_factor(m)) * scale
            m += effect * factor
            p += effect_var * factor**2
    return m, p


@dataclass
class SkillEstimates:
    """Everything ``estimate_skills`` learned at one snapshot."""

    as_of: pd.Timestamp
    estimates: pd.DataFrame
    features: pd.DataFrame
    prior: KpiPrior


def estimate_skills(
    tables: dict[str, pd.DataFrame],
    catalogue: pd.DataFrame,
    measurement: MeasurementModel,
    effects: CourseEffects,
    as_of: pd.Timestamp,
    config: SkillsConfig,
    use_kpi_prior: bool = True,
    features: pd.DataFrame | None = None,
) -> SkillEstimates:
    """Posterior skill estimates of every manager at ``as_of`` from records before it."""
    # Old assessments must count less even when the fit finds no wandering beyond courses.
    measurement = replace(
        measurement,
        process_var_per_week=max(
            measurement.process_var_per_week, config.min_process_var_per_week
        ),
    )
    if features is None:
        features = build_manager_features(tables, as_of)
    assessments = tables.get("assessments")
    if assessments is None or assessments[assessments["assessed_on"] < as_of].empty:
        raise UserInputError(
            f"assessments: none before {as_of.date()}; skills cannot be estimated"
        )
    completions = _completions(
        tables.get("trainings"), catalogue, effects, config.assumptions, as_of
    )
    carried, carried_var = carry_assessments(
        assessments, completions, measurement, config.assumptions, as_of
    )
    if use_kpi_prior:
        prior = fit_kpi_prior(features, carried, carried_var, measurement)
    else:
        flat = pd.DataFrame({s: measurement.skill_mean[s] for s in SKILLS}, index=features.index)
        prior = KpiPrior(flat, dict(measurement.skill_var), {}, {})
    estimates = filter_skills(
        assessments, completions, prior.mean, prior.var, measurement, config.assumptions, as_of
    )
    return SkillEstimates(as_of, estimates, features, prior)


def wide(estimates: pd.DataFrame, column: str = "estimate") -> pd.DataFrame:
    return estimates.pivot(index="manager_id", columns="skill", values=column).reindex(
        columns=list(SKILLS)
    )


def territory_outcomes(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Retention and value growth per manager, averaged over four quarterly snapshots."""
    frames = []
    for k in range(4):
        t = as_of - 13 * k * WEEK
        f = build_manager_features(tables, t)
        frames.append(
            pd.DataFrame(
                {
                    "retention": 1 - f.get("churn_rate"),
                    "value_growth": f.get("value_growth_last_year"),
                },
                index=f.index,
            )
        )
    stacked = pd.concat(frames)
    return stacked.groupby(level=0).mean()


@dataclass
class Importance:
    weights: dict[str, float]  # mean 1 across skills
    coefficients: dict[str, dict[str, float]]  # outcome -> skill -> outcome units per point
    good_performers: list[str]


def fit_importance(
    skill_levels: pd.DataFrame, outcomes: pd.DataFrame, config: SkillsConfig
) -> Importance:
    """How much a point of each skill moves retention and value growth (see module doc)."""
    data = skill_levels.join(outcomes, how="inner")
    scores = {}
    coefficients: dict[str, dict[str, float]] = {}
    composite = pd.Series(0.0, index=data.index)
    for outcome in ("retention", "value_growth"):
        if outcome not in data or data[outcome].notna().sum() < 10:
            continue
        part = data.dropna(subset=[outcome])
        x = part[list(SKILLS)].fillna(part[list(SKILLS)].mean())
        sd_x = x.std().replace(0, 1)
        y = part[outcome]
        model = RidgeCV(alphas=ALPHAS).fit((x - x.mean()) / sd_x, (y - y.mean()) / y.std())
        standardised = pd.Series(model.coef_, index=list(SKILLS))
        coefficients[outcome] = (standardised * y.std() / sd_x).to_dict()
        scores[outcome] = standardised.clip(lower=0)
        z = (data[outcome] - y.mean()) / y.std()
        composite = composite.add(z.fillna(0), fill_value=0)
    if scores:
        raw = sum(s / s.sum() if s.sum() > 0 else s * 0 + 1 / len(SKILLS) for s in scores.values())
        raw = raw / len(scores)
    else:
        raw = pd.Series(1 / len(SKILLS), index=list(SKILLS))
    raw = raw / raw.mean()
    weights = raw.clip(lower=config.importance_floor)
    weights = weights / weights.mean()
    cut = composite.quantile(1 - config.good_performer_share)
    good = sorted(composite.index[composite >= cut])
    return Importance({k: float(v) for k, v in weights.items()}, coefficients, good)


def skill_targets(
    skill_levels: pd.DataFrame,
    good_performers: list[str],
    roles: pd.Series | None,
    config: SkillsConfig,
) -> pd.DataFrame:
    """Target level per manager and skill: good performers' mean, overridden by role."""
    good = skill_levels.reindex(good_performers).dropna(how="all")
    default = good.mean() if len(good) else skill_levels.quantile(0.75)
    targets = pd.DataFrame(
        np.tile(default.to_numpy(), (len(skill_levels), 1)),
        index=skill_levels.index,
        columns=list(SKILLS),
    )
    for role, levels in config.targets_by_role.items():
        unknown = [s for s in levels if s not in SKILLS]
        if unknown:
            raise UserInputError(f"targets for role {role!r}: unknown skill(s) {unknown}")
        rows = (
            targets.index
            if role == "*"
            else (
                roles[roles == role].index.intersection(targets.index) if roles is not None else []
            )
        )
        for skill, level in levels.items():
            targets.loc[rows, skill] = float(level)
    return targets


def skill_gaps(
    estimates: pd.DataFrame, targets: pd.DataFrame, importance: dict[str, float]
) -> pd.DataFrame:
    """Gap and priority per manager and skill, with the evidence behind each in words."""
    out = estimates.copy()
    target = targets.stack()
    target.index.names = ["manager_id", "skill"]
    out["target"] = out.set_index(["manager_id", "skill"]).index.map(target)
    out["gap"] = (out["target"] - out["estimate"]).clip(lower=0)
    out["importance"] = out["skill"].map(importance)
    out["priority"] = out["gap"] * out["importance"]
    out["evidence"] = [_evidence(r) for r in out.itertuples()]
    out["rank"] = out.groupby("manager_id")["priority"].rank(ascending=False, method="first")
    return out.sort_values(["manager_id", "rank"]).reset_index(drop=True)


def _evidence(row) -> str:
    kpi = f"KPI model {row.prior_mean:.0f} ± {row.prior_sd:.0f}"
    if row.source == "kpi_only":
        return f"no assessment; {kpi}"
    when = pd.Timestamp(row.latest_assessed_on).date()
    return (
        f"latest assessment {row.latest_score:.0f} on {when} "
        f"({int(row.n_assessments)} in all); {kpi}; estimate {row.estimate:.0f} ± {row.sd:.0f}"
    )
