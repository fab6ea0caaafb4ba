"""Skills model: estimators on synthetic data with known answers, behaviour against the
simulator's truth on a small company, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.skills import evaluate_fitted
from features.contract import SKILLS
from features.errors import UserInputError
from features.manager import parse_courses
from features.skill_plans import available_courses, recommend_cohorts, recommend_training
from features.validate import load_dataset
from simulator import SimulationConfig, Territory, export_dataset, load_truth
from training.courses import (
    EffectAssumptions,
    MeasurementModel,
    assessment_sessions,
    estimate_course_effects,
    fit_measurement_model,
    shrink_effects,
)
from training.skills import SkillsConfig, filter_skills
from training.skills_run import fit_skills

DAY0 = pd.Timestamp("2024-01-01")


def _synthetic(n=400, noise=6.0, drift=0.02, effect=8.0, seed=0):
    """Managers assessed every 26 weeks; between assessments 1 and 2 the weakest-scoring
    third take course A (true effect ``effect`` at gap 50) and a random third take course Z
    (no effect): selection on a noisy low score, as today's practice does."""
    rng = np.random.default_rng(seed)
    skill = rng.normal(60, 12, (n, len(SKILLS)))
    rows, trainings = [], []
    for session in range(3):
        day = DAY0 + pd.Timedelta(weeks=26 * session)
        score = skill + rng.normal(0, noise, skill.shape)
        for m in range(n):
            for k, s in enumerate(SKILLS):
                rows.append((f"M{m:04d}", day, s, float(score[m, k])))
        if session == 0:
            weak = score[:, 0] < np.quantile(score[:, 0], 1 / 3)
            other = ~weak & (rng.random(n) < 0.5)
            done = day + pd.Timedelta(weeks=3)
            for m in np.flatnonzero(weak):
                trainings.append((f"M{m:04d}", "A", done))
                skill[m, 0] += effect * np.clip((100 - skill[m, 0]) / 50, 0.2, 1.5)
            for m in np.flatnonzero(other):
                trainings.append((f"M{m:04d}", "Z", done))
        skill += drift * 26
    assessments = pd.DataFrame(rows, columns=["manager_id", "assessed_on", "skill", "score"])
    trainings = pd.DataFrame(trainings, columns=["manager_id", "course_id", "completed_on"])
    courses = parse_courses(
        pd.DataFrame(
            {
                "course_id": ["A", "Z"],
                "title": ["a", "z"],
                "skills": [SKILLS[0], SKILLS[0]],
                "hours": [8.0, 4.0],
            }
        )
    )
    return assessments, trainings, courses


def test_measurement_model_recovers_noise_and_drift() -> None:
    assessments, trainings, _ = _synthetic(noise=6.0, drift=0.02)
    model = fit_measurement_model(assessment_sessions(assessments), trainings)
    assert np.sqrt(model.noise_var) == pytest.approx(6.0, rel=0.1)
    assert model.drift_per_week == pytest.approx(0.02, abs=0.01)


def test_course_effects_see_through_regression_to_the_mean() -> None:
    assessments, trainings, courses = _synthetic(effect=8.0)
    sessions = assessment_sessions(assessments)
    model = fit_measurement_model(sessions, trainings)
    effects = estimate_course_effects(sessions, trainings, courses, model).table
    effects = effects.set_index("course_id")
    assert effects.at["A", "effect"] == pytest.approx(8.0, abs=2.5)
    assert effects.at["A", "credited"]
    assert not effects.at["Z", "credited"]
    # The naive before/after change of the selected managers is much larger than the
    # effect: that is the regression to the mean the model removes.
    wide = sessions[SKILLS[0]].unstack("assessed_on")
    trained = trainings.loc[trainings["course_id"] == "A", "manager_id"]
    naive = (wide.iloc[:, 1] - wide.iloc[:, 0]).loc[trained].mean()
    gap = np.clip((100 - wide.iloc[:, 0].loc[trained]) / 50, 0.2, 1.5).mean()
    assert naive > 8.0 * gap + 3


def test_a_zero_effect_course_taken_by_the_weakest_is_not_credited() -> None:
    assessments, trainings, courses = _synthetic(effect=0.0, seed=3)
    sessions = assessment_sessions(assessments)
    model = fit_measurement_model(sessions, trainings)
    effects = estimate_course_effects(sessions, trainings, courses, model).table
    assert not effects["credited"].any()
    assert effects["effect"].max() < 2.0


def _scheduled_company(n, effects, plan, seed=0, sessions=4, noise=6.0):
    """Managers with a common ability, assessed every 26 weeks with a severity shared by
    the session's skills; after each session but the last, ``plan(session, scores, rng)``
    says who completes which course (true effects: ``effects``, points at a gap of 50)."""
    rng = np.random.default_rng(seed)
    skill = 60 + rng.normal(0, 7, (n, 1)) + rng.normal(0, 9, (n, len(SKILLS)))
    rows, trainings = [], []
    for session in range(sessions):
        day = DAY0 + pd.Timedelta(weeks=26 * session)
        score = skill + rng.normal(0, noise, skill.shape) + rng.normal(0, 2, (n, 1))
        rows += [
            (f"M{m:04d}", day, s, float(score[m, k]))
            for m in range(n)
            for k, s in enumerate(SKILLS)
        ]
        if session == sessions - 1:
            break
        for week, (who, course) in enumerate(plan(session, score, rng)):
            for m in np.flatnonzero(who):
                trainings.append((f"M{m:04d}", course, day + pd.Timedelta(weeks=3 + week)))
                for k, effect in effects[course].items():
                    skill[m, k] += effect * np.clip((100 - skill[m, k]) / 50, 0.2, 1.5)
    courses = parse_courses(
        pd.DataFrame(
            {
                "course_id": list(effects),
                "title": list(effects),
                "skills": [";".join(SKILLS[k] for k in e) for e in effects.values()],
                "hours": 8.0,
            }
        )
    )
    return (
        pd.DataFrame(rows, columns=["manager_id", "assessed_on", "skill", "score"]),
        pd.DataFrame(trainings, columns=["manager_id", "course_id", "completed_on"]),
        courses,
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_courses_taken_in_sequence_or_together_each_get_their_own_gain(seed) -> None:
    """A (8 points on skill 0) for the weakest third, and half a year later B (nothing) for
    most of the same managers: B must not look harmful nor A small, although the weak are
    still weak when they take B (a regression of the next score on the last one alone gets
    A at 5.4-6.3 and B down to -2.3 here). C (6 on skill 1) and D (nothing) are taken together by
    a quarter of the managers, D alone by a few more: D must not share C's gain."""
    effects = {"A": {0: 8.0}, "B": {0: 0.0}, "C": {1: 6.0}, "D": {1: 0.0}}
    weakest = {}

    def plan(session, score, rng):
        n = len(score)
        if session == 0:
            weakest["A"] = score[:, 0] < np.quantile(score[:, 0], 1 / 3)
            both = rng.random(n) < 0.25
            alone = ~both & (rng.random(n) < 0.15)
            return [(weakest["A"], "A"), (both, "C"), (both, "D"), (alone, "D")]
        if session == 1:
            return [(weakest["A"] & (rng.random(n) < 0.8), "B")]
        return []

    assessments, trainings, courses = _scheduled_company(800, effects, plan, seed=seed)
    sessions = assessment_sessions(assessments)
    model = fit_measurement_model(sessions, trainings)
    effects_table = estimate_course_effects(sessions, trainings, courses, model).table
    got = effects_table.set_index("course_id")
    assert got.at["A", "effect"] == pytest.approx(8.0, abs=1.5)
    assert got.at["B", "effect"] == pytest.approx(0.0, abs=1.5)
    assert got.at["C", "effect"] == pytest.approx(6.0, abs=1.5)
    assert got.at["D", "effect"] == pytest.approx(0.0, abs=1.5)
    assert got.loc[["A", "C"], "credited"].all()


def test_one_rarely_taken_course_does_not_collapse_the_prior() -> None:
    """Twenty well-measured courses with a real spread of effects, four of them useless,
    and one course taken by two managers (error 20 points). The prior's variance must come
    from the well-measured spread: "variance of the estimates minus the mean squared error"
    is below zero here, which would pull every course to the mean and credit the useless."""
    rng = np.random.default_rng(0)
    true = np.concatenate([rng.normal(6.0, 3.0, 16), np.zeros(4), [5.0]])
    se = np.concatenate([np.full(20, 1.2), [20.0]])
    raw = true + se * rng.standard_normal(len(true))
    raw[16:20] = [0.3, -0.4, 0.8, -0.1]  # the useless courses, measured near zero
    raw[20] = 12.0
    table = pd.DataFrame(
        {
            "course_id": [f"C{i:02d}" for i in range(len(true))],
            "skill": SKILLS[0],
            "raw": raw,
            "se": se,
            "n_trained": 50,
        }
    )
    assert np.var(raw) < np.mean(se**2)  # the old moment estimate would be negative
    effects = shrink_effects(table).table
    assert not effects["credited"].iloc[16:20].any()
    assert effects["effect"].iloc[16:20].max() < 2.0
    # Well-measured courses keep most of their own estimate.
    kept = (effects["effect"] - effects["effect"].mean()).iloc[:16].std() / raw[:16].std()
    assert kept > 0.8
    # The rarely taken course is judged like a typical course.
    assert effects["effect"].iloc[20] == pytest.approx(np.mean(raw[:20]), abs=1.5)


def test_kalman_filter_combines_prior_and_assessment_by_precision() -> None:
    measurement = MeasurementModel(
        noise_var=36.0,
        drift_per_week=0.0,
        process_var_per_week=0.0,
        skill_mean=dict.fromkeys(SKILLS, 60.0),
        skill_var=dict.fromkeys(SKILLS, 144.0),
        pairs=0,
    )
    day = DAY0 + pd.Timedelta(days=10)
    assessments = pd.DataFrame(
        {
            "manager_id": ["A"] * 2 + ["B"] * 2,
            "assessed_on": [DAY0, day] * 2,
            "skill": [SKILLS[0]] * 4,
            "score": [70.0, 74.0, 40.0, 40.0],
        }
    )
    prior = pd.DataFrame(60.0, index=["A", "B", "C"], columns=list(SKILLS))
    out = filter_skills(
        assessments,
        {},
        prior,
        dict.fromkeys(SKILLS, 144.0),
        measurement,
        EffectAssumptions(),
        DAY0 + pd.Timedelta(days=20),
    ).set_index(["manager_id", "skill"])
    # Two assessments of variance 36 and a prior of variance 144: precision 1/144 + 2/36.
    precision = 1 / 144 + 2 / 36
    expected = (60 / 144 + (70 + 74) / 36) / precision
    assert out.at[("A", SKILLS[0]), "estimate"] == pytest.approx(expected)
    assert out.at[("A", SKILLS[0]), "sd"] == pytest.approx(np.sqrt(1 / precision))
    assert out.at[("B", SKILLS[0]), "estimate"] < 45
    # A manager never assessed keeps the prior, flagged.
    assert out.at[("C", SKILLS[0]), "source"] == "kpi_only"
    assert out.at[("C", SKILLS[0]), "sd"] == pytest.approx(12.0)
    # Old assessments weigh less once skills wander.
    wandering = MeasurementModel(**{**measurement.__dict__, "process_var_per_week": 2.0})
    later = filter_skills(
        assessments,
        {},
        prior,
        dict.fromkeys(SKILLS, 144.0),
        wandering,
        EffectAssumptions(),
        DAY0 + pd.Timedelta(days=20),
    ).set_index(["manager_id", "skill"])
    assert later.at[("A", SKILLS[0]), "sd"] > out.at[("A", SKILLS[0]), "sd"]


# --------------------------------------------------------------------------- simulated


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("skills") / "data"
    territory = Territory.create(SimulationConfig(n_retailers=6000, n_managers=48, seed=5))
    territory.run(104)
    export_dataset(territory, out)
    tables = load_dataset(out).tables
    as_of = tables["orders"]["order_date"].max().normalize() + pd.Timedelta(days=1)
    return out, tables, as_of, fit_skills(tables, as_of)


@pytest.mark.slow
def test_estimates_track_the_true_skills_better_than_the_latest_assessment(company) -> None:
    data, _, _, fitted = company
    report = evaluate_fitted(
        fitted, load_truth(data, "manager_skills"), load_truth(data, "course_effects"), 24.0
    )
    skills = report["skills"]
    for skill, figures in skills.items():
        assert figures["spearman"] >= 0.75, (skill, figures)
    ours = np.mean([f["spearman_where_assessed"] for f in skills.values()])
    latest = np.mean([f["spearman_latest_assessment"] for f in skills.values()])
    assert ours > latest + 0.05
    coverage = np.mean([f["coverage_95"] for f in skills.values()])
    assert 0.8 <= coverage <= 1.0
    assert report["course_effects"]["false_credit_rate"] == 0.0
    assert report["course_effects"]["correlation"] > 0.2
    assert report["recommendation"]["gain_vs_baseline"] > 1.0
    assert report["recommendation"]["gain_vs_oracle"] > 0.6


@pytest.mark.slow
def test_recommendations_respect_budget_prerequisites_and_completions(company) -> None:
    _, _, as_of, fitted = company
    state = fitted.state
    prerequisites = {c["course_id"]: c["prerequisites"] for c in state.catalogue}
    refresh = {c["course_id"]: c["refresh_after_weeks"] for c in state.catalogue}
    for manager in state.managers()[:12]:
        plan = recommend_training(state, manager, budget_hours=20)
        assert sum(p["hours"] for p in plan) <= 20
        assert [p["rank"] for p in plan] == list(range(1, len(plan) + 1))
        done = state.completed.get(manager, {})
        taken = set(done)
        for item in plan:
            assert all(p in taken for p in prerequisites[item["course_id"]]), item
            if item["course_id"] in done:  # only a refresher may come back
                weeks = (as_of - pd.Timestamp(done[item["course_id"]])).days / 7
                assert refresh[item["course_id"]] and weeks >= refresh[item["course_id"]]
            taken.add(item["course_id"])
            assert item["rationale_zh"] and item["rationale_en"]
            assert item["title"] in item["rationale_en"]
    # The first choice is the best course available within the budget by its own value.
    manager = state.managers()[0]
    first = recommend_training(state, manager, budget_hours=20)[0]
    assert first["course_id"] in available_courses(
        state.catalogue, state.completed.get(manager, {}), as_of
    )


@pytest.mark.slow
def test_cohorts_share_a_course_and_respect_sizes(company) -> None:
    state = company[3].state
    sessions = recommend_cohorts(state, min_size=3, max_size=5)
    placed = [s for s in sessions if s["course_id"] is not None]
    assert placed
    members = [m for s in sessions for m in s["members"]]
    assert len(members) == len(set(members))
    for s in placed:
        assert 3 <= s["size"] <= 5 and s["expected_benefit"] > 0
    with pytest.raises(UserInputError):
        recommend_cohorts(state, min_size=5, max_size=3)


@pytest.mark.slow
def test_unknown_manager_is_a_clear_error(company) -> None:
    with pytest.raises(UserInputError, match="unknown manager 'M9999'"):
        recommend_training(company[3].state, "M9999")


@pytest.mark.slow
def test_a_manager_without_assessments_gets_a_flagged_kpi_estimate(company) -> None:
    _, tables, as_of, _ = company
    a = tables["assessments"]
    tables = {**tables, "assessments": a[a["manager_id"] != "M0007"]}
    fitted = fit_skills(tables, as_of, SkillsConfig())
    rows = fitted.gaps[fitted.gaps["manager_id"] == "M0007"]
    assert len(rows) == len(SKILLS)
    assert (rows["source"] == "kpi_only").all()
    assert rows["estimate"].notna().all() and (rows["sd"] > 0).all()
    assert rows["evidence"].str.startswith("no assessment").all()
    assert recommend_training(fitted.state, "M0007")


@pytest.mark.slow
def test_empty_assessments_and_bad_catalogue_are_refused(company) -> None:
    _, tables, as_of, _ = company
    empty = {**tables, "assessments": tables["assessments"].iloc[:0]}
    with pytest.raises(UserInputError, match="assessments"):
        fit_skills(empty, as_of)
    courses = tables["courses"].copy()
    courses.loc[3, "skills"] = "negotiation"
    with pytest.raises(UserInputError, match="negotiation"):
        fit_skills({**tables, "courses": courses}, as_of)
