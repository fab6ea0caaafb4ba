"""Course effects learned from history, and the measurement model of assessments.

Assessments are modelled as ``score = skill + error`` (rater severity and noise together,
variance ``noise_var``); between two assessments a skill drifts by ``drift_per_week`` per
week, wanders with variance ``process_var_per_week`` per week and gains what the courses
completed in between add. ``fit_measurement_model`` estimates those from pairs of
consecutive assessments with no course between them (test-retest: the squared change is
``2 noise_var + process_var * weeks``, fitted by least squares over the gaps observed).

``estimate_course_effects`` is an ANCOVA (lagged-dependent-variable) regression per skill
over consecutive assessment pairs of every manager, trained or not::

    post = a + b * pre + c * mean(pre of the other skills) + d * weeks
           + sum_courses effect[c] * exposure[c]

Conditioning on the pre-scores is what removes regression to the mean and the selection of
today's practice (courses are picked for the weakest *latest assessed* score, which is
exactly ``pre``): the untrained managers with the same pre-scores are the comparison.
``exposure`` is ``gap_factor(level) * scale``: the points a course adds are assumed to grow
with the gap to 100 (``gap_factor = clip((100 - level) / 50, lo, hi)``, so ``effect`` is
points at a gap of 50) and to shrink when prerequisites were missing or the course is
repeated (``SkillsConfig``). Raw estimates are shrunk towards 0 by empirical Bayes (normal
prior with variance from the spread of the estimates) and reported with a 95% interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import SKILLS
from features.errors import UserInputError


@dataclass(frozen=True)
class EffectAssumptions:
    """How the points a course adds depend on the learner (stated modelling assumptions)."""

    gap_factor_min: float = 0.2
    gap_factor_max: float = 1.5
    prerequisites_missing_factor: float = 0.5
    repeat_factor: float = 0.3

    def gap_factor(self, level: np.ndarray | float) -> np.ndarray:
        return np.clip(
            (100.0 - np.asarray(level, dtype=float)) / 50.0,
            self.gap_factor_min,
            self.gap_factor_max,
        )


@dataclass
class MeasurementModel:
    noise_var: float
    drift_per_week: float
    process_var_per_week: float
    skill_mean: dict[str, float]
    skill_var: dict[str, float]  # between-manager variance of true skill (score var - noise)
    pairs: int

    def reliability(self, skill: str) -> float:
        return self.skill_var[skill] / (self.skill_var[skill] + self.noise_var)


def assessment_sessions(assessments: pd.DataFrame) -> pd.DataFrame:
    """One row per (manager, assessment date), one column per skill (NaN if not assessed)."""
    if assessments is None or assessments.empty:
        raise UserInputError("assessments: the table is empty; skills cannot be estimated")
    wide = assessments.pivot_table(
        index=["manager_id", "assessed_on"], columns="skill", values="score", aggfunc="mean"
    ).reindex(columns=list(SKILLS))
    return wide.sort_index()


def consecutive_pairs(sessions: pd.DataFrame) -> pd.DataFrame:
    """Consecutive sessions of each manager: ``pre_<skill>``, ``post_<skill>``, dates, weeks."""
    flat = sessions.reset_index()
    nxt = flat.groupby("manager_id").shift(-1)
    pairs = pd.DataFrame(
        {
            "manager_id": flat["manager_id"],
            "start": flat["assessed_on"],
            "end": nxt["assessed_on"],
        }
    )
    for skill in SKILLS:
        pairs[f"pre_{skill}"] = flat[skill]
        pairs[f"post_{skill}"] = nxt[skill]
    pairs = pairs.dropna(subset=["end"]).reset_index(drop=True)
    pairs["weeks"] = (pairs["end"] - pairs["start"]).dt.days / 7.0
    return pairs


def _courses_between(pairs: pd.DataFrame, trainings: pd.DataFrame | None) -> pd.Series:
    """Number of courses each pair has between its two assessments."""
    if trainings is None or trainings.empty:
        return pd.Series(0, index=pairs.index)
    merged = (
        pairs[["manager_id", "start", "end"]]
        .reset_index()
        .merge(trainings[["manager_id", "completed_on"]], on="manager_id")
    )
    inside = (merged["completed_on"] >= merged["start"]) & (merged["completed_on"] < merged["end"])
    return merged[inside].groupby("index").size().reindex(pairs.index, fill_value=0)


def fit_measurement_model(
    sessions: pd.DataFrame, trainings: pd.DataFrame | None
) -> MeasurementModel:
    """Noise, drift and process variance of assessments from course-free consecutive pairs."""
    pairs = consecutive_pairs(sessions)
    clean = pairs[_courses_between(pairs, trainings) == 0]
    if len(clean) < 5:
        clean = pairs  # too little history without courses: accept a slight overestimate
    change = np.concatenate([(clean[f"post_{s}"] - clean[f"pre_{s}"]).to_numpy() for s in SKILLS])
    weeks = np.tile(clean["weeks"].to_numpy(), len(SKILLS))
    ok = np.isfinite(change)
    change, weeks = change[ok], weeks[ok]
    if len(change) == 0:
        scores = sessions.to_numpy(dtype=float)
        noise_var, drift, process = float(np.nanvar(scores)) * 0.3, 0.0, 0.0
    else:
        drift = float(change.sum() / weeks.sum())
        residual2 = (change - drift * weeks) ** 2
        design = np.column_stack([np.full(len(weeks), 2.0), weeks])
        if np.ptp(weeks) > 1.0:
            (noise_var, process), *_ = np.linalg.lstsq(design, residual2, rcond=None)
        else:
            noise_var, process = residual2.mean() / 2.0, 0.0
        if process < 0:
            noise_var, process = residual2.mean() / 2.0, 0.0
        if noise_var < 1.0:
            noise_var = 1.0
    latest = sessions.groupby(level="manager_id").last()
    mean = {s: float(latest[s].mean()) for s in SKILLS}
    var = {s: float(max(latest[s].var() - noise_var, 0.25 * noise_var)) for s in SKILLS}
    return MeasurementModel(float(noise_var), float(drift), float(process), mean, var, len(clean))


@dataclass
class CourseEffects:
    table: pd.DataFrame  # course_id, skill, raw, se, effect, ci_low, ci_high, credited, n
    prior_var: float

    def effect(self, course_id: str, skill: str) -> float:
        row = self.lookup.get((course_id, skill))
        return 0.0 if row is None else row

    @property
    def lookup(self) -> dict[tuple[str, str], float]:
        return {(r.course_id, r.skill): float(r.effect) for r in self.table.itertuples()}


def completion_scales(
    trainings: pd.DataFrame, catalogue: pd.DataFrame, assumptions: EffectAssumptions
) -> pd.DataFrame:
    """Each completion with ``scale``: the repeat and missing-prerequisite factors applied."""
    done = trainings[trainings["course_id"].isin(catalogue.index)].sort_values("completed_on")
    first_done = done.groupby(["manager_id", "course_id"])["completed_on"].min().to_dict()
    scale = np.ones(len(done))
    for i, row in enumerate(done[["manager_id", "course_id", "completed_on"]].itertuples()):
        if first_done[(row.manager_id, row.course_id)] < row.completed_on:
            scale[i] *= assumptions.repeat_factor
        for prerequisite in catalogue.at[row.course_id, "prerequisites"]:
            when = first_done.get((row.manager_id, prerequisite))
            if when is None or when >= row.completed_on:
                scale[i] *= assumptions.prerequisites_missing_factor
    return done.assign(scale=scale)


def exposures(
    pairs: pd.DataFrame,
    trainings: pd.DataFrame | None,
    catalogue: pd.DataFrame,
    levels: dict[str, np.ndarray],
    assumptions: EffectAssumptions,
) -> dict[tuple[str, str], np.ndarray]:
    """Per (course, targeted skill): sum over the pair's completions of gap factor x scale."""
    out: dict[tuple[str, str], np.ndarray] = {}
    for course in catalogue.itertuples():
        for skill in course.skills:
            out[(course.course_id, skill)] = np.zeros(len(pairs))
    if trainings is None or trainings.empty:
        return out
    done = completion_scales(trainings, catalogue, assumptions)
    merged = (
        pairs[["manager_id", "start", "end"]]
        .reset_index()
        .merge(done[["manager_id", "course_id", "completed_on", "scale"]], on="manager_id")
    )
    merged = merged[
        (merged["completed_on"] >= merged["start"]) & (merged["completed_on"] < merged["end"])
    ]
    for row in merged.itertuples():
        if row.course_id not in catalogue.index:
            continue
        for skill in catalogue.at[row.course_id, "skills"]:
            level = levels[skill][row.index]
            out[(row.course_id, skill)][row.index] += assumptions.gap_factor(level) * row.scale
    return out


def estimate_course_effects(
    sessions: pd.DataFrame,
    trainings: pd.DataFrame | None,
    catalogue: pd.DataFrame,
    measurement: MeasurementModel,
    assumptions: EffectAssumptions | None = None,
) -> CourseEffects:
    """Each course's effect on each skill it targets (points at a gap of 50), with a CI.

    See the module docstring for the model. A (course, skill) is ``credited`` when the
    shrunk estimate's 95% interval lies above 0.
    """
    assumptions = assumptions or EffectAssumptions()
    pairs = consecutive_pairs(sessions)
    # The level at the start of each pair, shrunk towards the mean by the reliability.
    levels = {
        s: (
            measurement.skill_mean[s]
            + measurement.reliability(s)
            * (pairs[f"pre_{s}"].to_numpy() - measurement.skill_mean[s])
        )
        for s in SKILLS
    }
    exposure = exposures(pairs, trainings, catalogue, levels, assumptions)
    rows = []
    for skill in SKILLS:
        others = [f"pre_{s}" for s in SKILLS if s != skill]
        y = pairs[f"post_{skill}"].to_numpy()
        pre = pairs[f"pre_{skill}"].to_numpy()
        general = pairs[others].mean(axis=1).to_numpy()
        keys = [k for k in exposure if k[1] == skill]
        columns = [np.ones(len(y)), pre, general, pairs["weeks"].to_numpy()]
        columns += [exposure[k] for k in keys]
        x = np.column_stack(columns)
        ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
        x, y = x[ok], y[ok]
        used = [j for j in range(x.shape[1]) if j < 4 or np.any(x[:, j] != 0)]
        x_used = x[:, used]
        if len(y) <= x_used.shape[1] + 2:
            for key in keys:
                rows.append((key[0], skill, np.nan, np.nan, 0))
            continue
        xtx_inv = np.linalg.pinv(x_used.T @ x_used)
        beta = xtx_inv @ x_used.T @ y
        resid = y - x_used @ beta
        sigma2 = resid @ resid / (len(y) - x_used.shape[1])
        se = np.sqrt(np.diag(xtx_inv) * sigma2)
        position = {j: i for i, j in enumerate(used)}
        for offset, key in enumerate(keys):
            j = 4 + offset
            n = int(np.count_nonzero(x[:, j]))
            if j in position:
                rows.append((key[0], skill, beta[position[j]], se[position[j]], n))
            else:
                rows.append((key[0], skill, np.nan, np.nan, 0))
    table = pd.DataFrame(rows, columns=["course_id", "skill", "raw", "se", "n_trained"])
    known = table["raw"].notna()
    # Empirical Bayes around the typical course effect, not around zero: a rarely taken
    # (advanced) course is then judged like an average course until its own data speak,
    # while a well-measured useless course stays near zero and is not credited.
    weights = 1 / table.loc[known, "se"] ** 2
    prior_mean = (
        float(np.average(table.loc[known, "raw"], weights=weights)) if known.any() else 0.0
    )
    prior_var = float(
        max(np.var(table.loc[known, "raw"]) - np.mean(table.loc[known, "se"] ** 2), 1.0)
        if known.any()
        else 1.0
    )
    shrink = prior_var / (prior_var + table["se"] ** 2)
    table["effect"] = (prior_mean + shrink * (table["raw"] - prior_mean)).fillna(0.0)
    posterior_sd = np.sqrt(shrink * table["se"] ** 2).fillna(np.sqrt(prior_var))
    table["ci_low"] = table["effect"] - 1.96 * posterior_sd
    table["ci_high"] = table["effect"] + 1.96 * posterior_sd
    table["credited"] = table["ci_low"] > 0
    return CourseEffects(table=table, prior_var=prior_var)
