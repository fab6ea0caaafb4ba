"""The skills model checked against the simulator's truth (``fieldcoach evaluate skills``).

Evaluation code may read ``_truth/``; nothing it reads flows back into the fitted model.
The model is fitted on the records before the snapshot (default: the end of the data) and
compared with the true skills of the last week before it, the true course effects and the
true gain of the recommended course.

**True expected skill gain** of a course ``c`` for a manager (the recommendation bar)::

    sum over skills k targeted by c of  w[k] * true_effect[c, k]
                                        * clip((100 - true_skill[k]) / 50, 0.2, 1.5) * scale

the simulator's own rule (``docs/simulator.md``), with ``scale`` = 0.3 for a repeated
course. The truth has no importance of skills, so ``w`` is the *learned* importance
(mean 1) for ours, the oracle and the baseline alike. Courses compared are those the
manager may take (prerequisites done, not completed unless its refresher is due) within the
quarter's budget of hours. The oracle picks the course with the highest true gain; the
baseline is today's practice: a course for the skill with the lowest latest assessment
(its expected gain is the mean over the courses available for that skill).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from features.contract import SKILLS
from features.errors import UserInputError
from features.skill_plans import available_courses, recommend_training
from features.validate import load_dataset
from training.skills import SkillsConfig, wide
from training.skills_run import FittedSkills, check_skill_tables, default_as_of, fit_skills

SIM_REPEAT_FACTOR = 0.3  # the simulator's rule for a repeated course


def true_course_gain(
    course: dict[str, Any],
    true_levels: dict[str, float],
    true_effects: dict[tuple[str, str], float],
    weights: dict[str, float],
    refresher: bool,
) -> float:
    scale = SIM_REPEAT_FACTOR if refresher else 1.0
    return float(
        sum(
            weights[k]
            * true_effects.get((course["course_id"], k), 0.0)
            * np.clip((100 - true_levels[k]) / 50, 0.2, 1.5)
            * scale
            for k in course["skills"]
        )
    )


def evaluate_fitted(
    fitted: FittedSkills,
    truth_skills: pd.DataFrame,
    truth_effects: pd.DataFrame,
    budget_hours: float,
) -> dict[str, Any]:
    """Every figure of the issue's bars for one fitted model and the matching truth."""
    as_of = fitted.as_of
    truth_skills = truth_skills.assign(week_start=pd.to_datetime(truth_skills["week_start"]))
    week = truth_skills.loc[truth_skills["week_start"] < as_of, "week_start"].max()
    true = truth_skills[truth_skills["week_start"] == week].set_index("manager_id")
    est = wide(fitted.estimates.estimates)
    latest = wide(fitted.estimates.estimates, "latest_score")
    managers = est.index.intersection(true.index)
    skills: dict[str, Any] = {}
    for skill in SKILLS:
        t = true.loc[managers, skill]
        assessed = latest.loc[managers, skill].notna()
        skills[skill] = {
            "spearman": float(spearmanr(est.loc[managers, skill], t).statistic),
            "spearman_latest_assessment": float(
                spearmanr(latest.loc[managers, skill][assessed], t[assessed]).statistic
            ),
            "spearman_where_assessed": float(
                spearmanr(est.loc[managers, skill][assessed], t[assessed]).statistic
            ),
            "mean_abs_error": float(np.mean(np.abs(est.loc[managers, skill] - t))),
            "coverage_95": float(
                np.mean(
                    np.abs(est.loc[managers, skill] - t)
                    <= 1.96 * wide(fitted.estimates.estimates, "sd").loc[managers, skill]
                )
            ),
            "managers": len(managers),
            "assessed_managers": int(assessed.sum()),
        }

    effects = fitted.effects.table.merge(truth_effects, on=["course_id", "skill"], how="left")
    zero = effects["true_effect"] == 0
    course_effects = {
        "correlation": float(np.corrcoef(effects["effect"], effects["true_effect"])[0, 1]),
        "false_credit_rate": float(effects.loc[zero, "credited"].mean()) if zero.any() else 0.0,
        "zero_effect_pairs": int(zero.sum()),
        "credited_zero_effect": effects.loc[zero & effects["credited"], "course_id"].tolist(),
        "mean_abs_error": float(np.mean(np.abs(effects["effect"] - effects["true_effect"]))),
        "ci_coverage_95": float(
            np.mean(
                (effects["ci_low"] <= effects["true_effect"])
                & (effects["true_effect"] <= effects["ci_high"])
            )
        ),
        "pairs": effects[["course_id", "skill", "effect", "ci_low", "ci_high", "true_effect"]]
        .round(3)
        .to_dict("records"),
    }

    recommendation = _recommendation_figures(fitted, true, truth_effects, budget_hours)
    return {
        "as_of": str(as_of.date()),
        "truth_week": str(week.date()),
        "skills": skills,
        "course_effects": course_effects,
        "recommendation": recommendation,
    }


def _recommendation_figures(fitted, true, truth_effects, budget_hours) -> dict[str, Any]:
    state = fitted.state
    weights = state.importance
    true_effects = {
        (r.course_id, r.skill): float(r.true_effect) for r in truth_effects.itertuples()
    }
    by_id = {c["course_id"]: c for c in state.catalogue}
    latest = wide(fitted.estimates.estimates, "latest_score")
    ours, oracle, baseline, ratios = [], [], [], []
    as_of = pd.Timestamp(state.as_of)
    for manager in state.managers():
        if manager not in true.index:
            continue
        levels = {k: float(true.at[manager, k]) for k in SKILLS}
        done = state.completed.get(manager, {})
        options = {
            cid: flag
            for cid, flag in available_courses(state.catalogue, done, as_of).items()
            if by_id[cid]["hours"] <= budget_hours
        }
        if not options:
            continue
        gains = {
            cid: true_course_gain(by_id[cid], levels, true_effects, weights, flag < 0)
            for cid, flag in options.items()
        }
        plan = recommend_training(state, manager, budget_hours)
        ours_gain = gains[plan[0]["course_id"]] if plan else 0.0
        best = max(gains.values())
        scores = latest.loc[manager]
        if scores.notna().any():
            weakest = scores.idxmin()
            for_weakest = [g for cid, g in gains.items() if weakest in by_id[cid]["skills"]]
            base = float(np.mean(for_weakest)) if for_weakest else 0.0
        else:
            base = float(np.mean(list(gains.values())))
        ours.append(ours_gain)
        oracle.append(best)
        baseline.append(base)
        if best > 0:
            ratios.append(ours_gain / best)
    return {
        "gain_vs_oracle": float(np.mean(ratios)) if ratios else float("nan"),
        "gain_vs_baseline": float(np.sum(ours) / np.sum(baseline)) if np.sum(baseline) else None,
        "mean_true_gain": {
            "ours": float(np.mean(ours)),
            "oracle": float(np.mean(oracle)),
            "baseline": float(np.mean(baseline)),
        },
        "share_choosing_the_oracle_course": float(
            np.mean(np.isclose(np.array(ours), np.array(oracle)))
        ),
        "managers": len(ours),
        "budget_hours": budget_hours,
        "definition": (
            "true gain = sum over the course's skills of learned importance x true effect x "
            "clip((100 - true skill)/50, 0.2, 1.5) (x0.3 if repeated); gain_vs_oracle = mean "
            "over managers of ours/oracle (first recommendation vs the best available course "
            "within the budget); gain_vs_baseline = mean ours / mean baseline (a course for "
            "the lowest latest assessment, averaged over those available)"
        ),
    }


def evaluate_skills(
    data_dir: Path, as_of: pd.Timestamp | None = None, config: SkillsConfig | None = None
) -> dict[str, Any]:
    """Fit on the data before the snapshot and compute the bars against ``DIR/_truth``.

    Raises:
        UserInputError: the folder has no simulator truth.
    """
    from simulator import load_truth

    config = config or SkillsConfig()
    data_dir = Path(data_dir)
    if not (data_dir / "_truth" / "manager_skills.parquet").exists():
        raise UserInputError(
            f"{data_dir}: no simulator truth (_truth/manager_skills.parquet); evaluate skills "
            "needs a folder written by `fieldcoach simulate`"
        )
    tables = load_dataset(data_dir).tables
    check_skill_tables(tables)
    as_of = as_of or default_as_of(tables)
    fitted = fit_skills(tables, as_of, config)
    report = evaluate_fitted(
        fitted,
        load_truth(data_dir, "manager_skills"),
        load_truth(data_dir, "course_effects"),
        config.budget_hours,
    )
    report["importance"] = fitted.importance.weights
    report["bars"] = bars(report)
    return report


def bars(report: dict[str, Any]) -> dict[str, bool]:
    """The issue's bars, each true or false."""
    skills = report["skills"].values()
    rec = report["recommendation"]
    return {
        "spearman_at_least_0.8": all(s["spearman"] >= 0.8 for s in skills),
        "beats_latest_assessment": all(
            s["spearman_where_assessed"] > s["spearman_latest_assessment"] for s in skills
        ),
        "no_false_credit": report["course_effects"]["false_credit_rate"] == 0.0,
        "gain_vs_oracle_at_least_0.8": rec["gain_vs_oracle"] >= 0.8,
        "beats_baseline": (rec["gain_vs_baseline"] or 0) > 1.0,
    }
