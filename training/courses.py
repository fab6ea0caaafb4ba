"""Course effects learned from history, and the measurement model of assessments.

Assessments are modelled as ``score = skill + error`` (rater severity and noise together,
variance ``noise_var``); between two assessments a skill drifts by ``drift_per_week`` per
week, wanders with variance ``process_var_per_week`` per week and gains what the courses
completed in between add. ``fit_measurement_model`` estimates those from pairs of
consecutive assessments with no course between them (test-retest: the squared change is
``2 noise_var + process_var * weeks``, fitted by least squares over the gaps observed).

``estimate_course_effects`` fits one random-effects model to every assessment of every
manager, trained or not, all skills at once (generalised least squares)::

    score[m, s, k] = a[k] + d[k] * weeks since m's first assessment
                     + sum over (course c targeting k) effect[c, k] * exposure[m, s, c, k]
                     + theta[m, k] + session[m, s] + noise

``exposure`` adds up the courses completed between the manager's first assessment and
session ``s``, each as ``gap_factor(level) * scale``: the points a course adds are assumed to
grow with the gap to 100 (``gap_factor = clip((100 - level) / 50, lo, hi)``, so ``effect``
is points at a gap of 50) and to shrink when prerequisites were missing or the course is
repeated (``SkillsConfig``). ``theta`` is the manager's own level (correlated across skills,
plus a random walk of ``q`` per week), ``session`` the rater's severity shared by the skills
of one session; their variances come from the residual moments.

Why this model: courses are picked for the weakest *latest assessed* score, so regression
to the mean must not be credited, and the managers a course was chosen for are not like the
others. Under this model the choice depends only on scores the model sees, so the fit is not
biased by it. A regression of the next score on the last one alone is: a manager who took a
course for a weak skill is still weak at the next course, which that regression reads as
the next course doing harm and the first doing less (prerequisite chains make such sequences
common). The model also uses every assessment before and after a course rather than one
pair, and all courses of a period sit in one fit, so courses taken together share the change
by what each does when taken apart.

Raw estimates are shrunk by empirical Bayes towards the typical course effect (normal prior,
mean and variance by restricted maximum likelihood) and reported with a 95% interval.
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


def session_exposures(
    sessions: pd.DataFrame,
    trainings: pd.DataFrame | None,
    catalogue: pd.DataFrame,
    measurement: MeasurementModel,
    assumptions: EffectAssumptions,
) -> tuple[list[tuple[str, str]], dict[str, np.ndarray]]:
    """Per manager, session x (course, targeted skill): gap factor x scale of the courses
    completed from the first assessment up to (not including) that session's date.

    Courses completed before a manager's first assessment are left out: their gain is
    already in every score of the manager, and whatever chose them is not in the data.
    """
    keys = [
        (course.course_id, skill) for course in catalogue.itertuples() for skill in course.skills
    ]
    column = {key: j for j, key in enumerate(keys)}
    dates = {m: g.index.get_level_values("assessed_on") for m, g in sessions.groupby(level=0)}
    out = {m: np.zeros((len(d), len(keys))) for m, d in dates.items()}
    if trainings is None or trainings.empty:
        return keys, out
    done = completion_scales(trainings, catalogue, assumptions)
    done = done[done["manager_id"].isin(dates)]
    for row in done.itertuples():
        when = dates[row.manager_id]
        after = np.asarray(when > row.completed_on)
        before = np.flatnonzero(np.asarray(when <= row.completed_on))
        if not after.any() or not len(before):
            continue
        pre = sessions.loc[(row.manager_id, when[before[-1]])]
        for skill in catalogue.at[row.course_id, "skills"]:
            level = _shrunk(pre[skill], skill, measurement)
            out[row.manager_id][after, column[(row.course_id, skill)]] += (
                assumptions.gap_factor(level) * row.scale
            )
    return keys, out


def _shrunk(score: float, skill: str, measurement: MeasurementModel) -> float:
    """The level behind one score, shrunk towards the mean by the reliability."""
    mean = measurement.skill_mean[skill]
    if not np.isfinite(score):
        return mean
    return mean + measurement.reliability(skill) * (score - mean)


@dataclass
class _Rows:
    """One manager's observed scores as regression rows."""

    y: np.ndarray
    x: np.ndarray
    skill: np.ndarray
    session: np.ndarray
    weeks: np.ndarray  # per row: weeks since the manager's first assessment


@dataclass
class VarianceComponents:
    """Covariance of one manager's scores around the fixed part of the model."""

    theta: np.ndarray  # skills x skills: the manager's own levels
    session: float  # shared by the skills of one session (rater severity)
    noise: float
    process_per_week: float  # random walk of each skill

    def matrix(self, rows: _Rows) -> np.ndarray:
        k, s = rows.skill, rows.session
        v = self.theta[np.ix_(k, k)] + self.session * (s[:, None] == s[None, :])
        v += (
            self.process_per_week
            * np.minimum.outer(rows.weeks, rows.weeks)
            * (k[:, None] == k[None, :])
        )
        return v + self.noise * np.eye(len(k))


def _manager_rows(
    y: np.ndarray, weeks: np.ndarray, exposure: np.ndarray, key_skill: np.ndarray
) -> _Rows:
    n_skills = len(SKILLS)
    session, skill = np.nonzero(np.isfinite(y))
    x = np.zeros((len(skill), 2 * n_skills + exposure.shape[1]))
    x[np.arange(len(skill)), skill] = 1.0
    x[np.arange(len(skill)), n_skills + skill] = weeks[session]
    # A course is credited only on the skills the catalogue says it targets.
    x[:, 2 * n_skills :] = exposure[session] * (key_skill[None, :] == skill[:, None])
    return _Rows(y[session, skill], x, skill, session, weeks[session])


def _variance_components(
    rows: list[_Rows], beta: np.ndarray, measurement: MeasurementModel
) -> VarianceComponents:
    """Moments of the residuals: across sessions they share theta (and the random walk up
    to the earlier session), within a session also the severity, and on the diagonal the
    noise."""
    n = len(SKILLS)
    resid = [r.y - r.x @ beta for r in rows]
    # Random walk: same-skill products across sessions grow with the earlier session's weeks.
    prods, walk, skill_of = [], [], []
    for r, e in zip(rows, resid, strict=True):
        a, b = np.triu_indices(len(e), 1)
        pick = (r.skill[a] == r.skill[b]) & (r.session[a] != r.session[b])
        prods.append(e[a[pick]] * e[b[pick]])
        walk.append(np.minimum(r.weeks[a[pick]], r.weeks[b[pick]]))
        skill_of.append(r.skill[a[pick]])
    prods, walk, skill_of = map(np.concatenate, (prods, walk, skill_of))
    q = 0.0
    if len(prods) > n + 1 and np.ptp(walk) > 1.0:
        design = np.column_stack([skill_of[:, None] == np.arange(n), walk]).astype(float)
        q = max(float(np.linalg.lstsq(design, prods, rcond=None)[0][-1]), 0.0)
    across, count = np.zeros((n, n)), np.zeros((n, n))
    within, within_n, diag, diag_n = 0.0, 0, 0.0, 0
    for r, e in zip(rows, resid, strict=True):
        a, b = np.nonzero(~np.eye(len(e), dtype=bool))
        other = r.session[a] != r.session[b]
        walked = q * np.minimum(r.weeks[a], r.weeks[b]) * (r.skill[a] == r.skill[b])
        np.add.at(across, (r.skill[a[other]], r.skill[b[other]]), (e[a] * e[b] - walked)[other])
        np.add.at(count, (r.skill[a[other]], r.skill[b[other]]), 1)
    fallback = np.diag([measurement.skill_var[s] for s in SKILLS])
    theta = np.where(count > 0, across / np.maximum(count, 1), fallback)
    theta = (theta + theta.T) / 2
    values, vectors = np.linalg.eigh(theta)
    theta = (vectors * np.maximum(values, 0.05 * np.mean(np.diag(fallback)))) @ vectors.T
    for r, e in zip(rows, resid, strict=True):
        a, b = np.nonzero(~np.eye(len(e), dtype=bool))
        same = r.session[a] == r.session[b]
        within += float(
            np.sum(e[a[same]] * e[b[same]] - theta[r.skill[a[same]], r.skill[b[same]]])
        )
        within_n += int(same.sum())
        diag += float(np.sum(e**2 - np.diag(theta)[r.skill] - q * r.weeks))
        diag_n += len(e)
    severity = max(within / within_n, 0.0) if within_n else 0.0
    noise = diag / diag_n - severity if diag_n else measurement.noise_var
    return VarianceComponents(theta, severity, max(noise, 1.0), q)


def _gls(
    rows: list[_Rows], components: VarianceComponents, used: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    size = len(used)
    xtx, xty = np.zeros((size, size)), np.zeros(size)
    for r in rows:
        x = r.x[:, used]
        inverse = np.linalg.inv(components.matrix(r))
        xtx += x.T @ inverse @ x
        xty += x.T @ inverse @ r.y
    cov = np.linalg.pinv(xtx)
    return cov @ xty, cov


MAX_ITERATIONS = 30


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
    keys, exposure = session_exposures(sessions, trainings, catalogue, measurement, assumptions)
    key_skill = np.array([SKILLS.index(skill) for _, skill in keys], dtype=int)
    rows = []
    for manager, group in sessions.groupby(level=0):
        dates = group.index.get_level_values("assessed_on")
        weeks = np.asarray((dates - dates[0]).days, dtype=float) / 7.0
        rows.append(
            _manager_rows(group[list(SKILLS)].to_numpy(float), weeks, exposure[manager], key_skill)
        )
    rows = [r for r in rows if len(r.y)]
    n_fixed = 2 * len(SKILLS)
    trained = (
        np.sum([np.any(r.x[:, n_fixed:] != 0, axis=0) for r in rows], axis=0)
        if rows
        else np.zeros(len(keys))
    )
    x_all = np.vstack([r.x for r in rows]) if rows else np.zeros((0, n_fixed + len(keys)))
    used = np.flatnonzero(np.any(x_all != 0, axis=0))
    table = pd.DataFrame(
        {
            "course_id": [c for c, _ in keys],
            "skill": [k for _, k in keys],
            "raw": np.nan,
            "se": np.nan,
            "n_trained": np.asarray(trained, dtype=int),
        }
    )
    if len(x_all) > len(used) + 2 and np.any(used >= n_fixed):
        # Start from the measurement model's variances and alternate GLS and residual
        # moments to their fixed point: stopping early leaves the components biased by the
        # first fit (too little between-manager variance for the skills courses were
        # chosen for), and that bias shrinks the courses' effects.
        components = VarianceComponents(
            np.diag([measurement.skill_var[s] for s in SKILLS]), 0.0, measurement.noise_var, 0.0
        )
        beta = np.zeros(x_all.shape[1])
        for _ in range(MAX_ITERATIONS):
            fitted, cov = _gls(rows, components, used)
            change = np.max(np.abs(fitted - beta[used]))
            beta[used] = fitted
            if change < 1e-3:
                break
            components = _variance_components(rows, beta, measurement)
        se = np.full(x_all.shape[1], np.nan)
        se[used] = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        effect_columns = np.arange(n_fixed, x_all.shape[1])
        measured = np.isin(effect_columns, used)
        table.loc[measured, "raw"] = beta[effect_columns][measured]
        table.loc[measured, "se"] = se[effect_columns][measured]
    return shrink_effects(table)


def _reml_prior(raw: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """Mean and variance of the true effects behind estimates ``raw`` with errors ``se``.

    Restricted maximum likelihood, not "variance of the estimates minus the mean squared
    error": one rarely taken course with a huge error would drive that difference below
    zero and collapse every course onto the mean.
    """
    if len(raw) == 0:
        return 0.0, 1.0
    variance = se**2
    best = (-np.inf, 0.0, 0.0)
    for tau2 in np.concatenate([[0.0], np.logspace(-2, 3, 301)]):
        weights = 1.0 / (variance + tau2)
        mean = float(np.sum(weights * raw) / np.sum(weights))
        loglik = -0.5 * (
            np.sum(np.log(variance + tau2))
            + np.sum(weights * (raw - mean) ** 2)
            + np.log(np.sum(weights))
        )
        if loglik > best[0]:
            best = (loglik, mean, float(tau2))
    return best[1], best[2]


def shrink_effects(table: pd.DataFrame) -> CourseEffects:
    """Empirical-Bayes effects and 95% intervals from ``raw`` estimates and their ``se``."""
    known = table["raw"].notna()
    # Empirical Bayes around the typical course effect, not around zero: a rarely taken
    # (advanced) course is then judged like an average course until its own data speak,
    # while a well-measured useless course stays near zero and is not credited.
    prior_mean, tau2 = _reml_prior(
        table.loc[known, "raw"].to_numpy(float), table.loc[known, "se"].to_numpy(float)
    )
    prior_var = max(tau2, 1.0)  # never claim that all courses are exactly alike
    shrink = prior_var / (prior_var + table["se"] ** 2)
    # A course with no trained manager yet is the typical course, with the prior's width.
    table["effect"] = (prior_mean + shrink * (table["raw"] - prior_mean)).fillna(prior_mean)
    posterior_sd = np.sqrt(shrink * table["se"] ** 2).fillna(np.sqrt(prior_var))
    table["ci_low"] = table["effect"] - 1.96 * posterior_sd
    table["ci_high"] = table["effect"] + 1.96 * posterior_sd
    table["credited"] = table["ci_low"] > 0
    return CourseEffects(table=table, prior_var=prior_var)
