"""The skills model end to end: fit, hold out, log to MLflow, register ``manager-skills``.

``fit_skills`` fits everything at one snapshot from records before it (measurement model,
course effects, KPI prior and Kalman estimates, importance, targets, gaps) and packs the
artefacts serving needs into a ``SkillsState``. ``run_skills_training`` (``fieldcoach
train skills``) fits twice: at ``as_of - holdout_weeks`` to score next-assessment error on
the assessments of the holdout weeks (the promotion metric, against "latest assessment
carried forward"), and at ``as_of`` for the artefacts it registers.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from features.errors import UserInputError
from features.manager import build_manager_features, latest_completions, parse_courses
from features.skill_plans import SkillsState
from features.validation_report import Dataset
from fieldcoach.registry import SKILLS_MODEL
from fieldcoach.settings import Settings
from training.courses import (
    CourseEffects,
    MeasurementModel,
    assessment_sessions,
    estimate_course_effects,
    fit_measurement_model,
)
from training.promotion import PromotionRule, announce_decision, register_and_gate
from training.runs import log_pyfunc, model_run
from training.skills import (
    Importance,
    SkillEstimates,
    SkillsConfig,
    estimate_skills,
    fit_importance,
    skill_gaps,
    skill_targets,
    territory_outcomes,
    wide,
)

PYFUNC_CODE = Path(__file__).with_name("skills_pyfunc.py")
TABLES = (
    "orders",
    "retailers",
    "managers",
    "visits",
    "assessments",
    "courses",
    "trainings",
    "surveys",
    "complaints",
)
SKILLS_RULE = PromotionRule(
    metric="next_assessment_rmse",
    max_ece=None,
    must_beat="latest_assessment",
    lower_is_better=True,
)


@dataclass
class FittedSkills:
    as_of: pd.Timestamp
    measurement: MeasurementModel
    effects: CourseEffects
    estimates: SkillEstimates
    importance: Importance
    targets: pd.DataFrame
    gaps: pd.DataFrame
    state: SkillsState


def default_as_of(tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The day after the newest order: the snapshot that sees all the data."""
    return tables["orders"]["order_date"].max().normalize() + pd.Timedelta(days=1)


def check_skill_tables(tables: dict[str, pd.DataFrame]) -> None:
    for name in ("assessments", "courses"):
        if name not in tables:
            raise UserInputError(f"the data folder has no {name} table; skills need it")
    if tables["assessments"].empty:
        raise UserInputError("assessments: the table is empty; skills cannot be estimated")


def fit_skills(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, config: SkillsConfig | None = None
) -> FittedSkills:
    """Fit every part of the skills model from records dated strictly before ``as_of``."""
    config = config or SkillsConfig()
    check_skill_tables(tables)
    catalogue = parse_courses(tables["courses"])
    assessments = tables["assessments"]
    assessments = assessments[assessments["assessed_on"] < as_of]
    trainings = tables.get("trainings")
    if trainings is not None:
        trainings = trainings[trainings["completed_on"] < as_of]
    sessions = assessment_sessions(assessments)
    measurement = fit_measurement_model(sessions, trainings)
    effects = estimate_course_effects(
        sessions, trainings, catalogue, measurement, config.assumptions
    )
    features_now = build_manager_features(tables, as_of)
    estimates = estimate_skills(
        tables, catalogue, measurement, effects, as_of, config, features=features_now
    )
    # Importance from assessment-only estimates, so the KPIs do not explain themselves.
    plain = estimate_skills(
        tables,
        catalogue,
        measurement,
        effects,
        as_of,
        config,
        use_kpi_prior=False,
        features=features_now,
    )
    importance = fit_importance(wide(plain.estimates), territory_outcomes(tables, as_of), config)
    levels = wide(estimates.estimates)
    roles = features_now.get("role")
    targets = skill_targets(levels, importance.good_performers, roles, config)
    gaps = skill_gaps(estimates.estimates, targets, importance.weights)
    state = _state(as_of, gaps, targets, importance, effects, catalogue, trainings, config)
    return FittedSkills(as_of, measurement, effects, estimates, importance, targets, gaps, state)


def _state(as_of, gaps, targets, importance, effects, catalogue, trainings, config):
    completed = latest_completions(trainings)
    estimate_columns = [
        "manager_id",
        "skill",
        "estimate",
        "sd",
        "source",
        "n_assessments",
        "latest_score",
        "latest_assessed_on",
        "prior_mean",
        "target",
        "gap",
        "importance",
        "priority",
        "rank",
        "evidence",
    ]
    rows = gaps[estimate_columns].copy()
    rows["latest_assessed_on"] = rows["latest_assessed_on"].map(
        lambda d: None if pd.isna(d) else str(pd.Timestamp(d).date())
    )
    rows = rows.astype(object).where(rows.notna(), None)
    catalogue_rows = [
        {
            "course_id": c.course_id,
            "title": c.title,
            "skills": list(c.skills),
            "hours": float(c.hours),
            "prerequisites": list(c.prerequisites),
            "refresh_after_weeks": (
                None if pd.isna(c.refresh_after_weeks) else float(c.refresh_after_weeks)
            ),
            "format": getattr(c, "format", None)
            if isinstance(getattr(c, "format", None), str)
            else None,
        }
        for c in catalogue.itertuples()
    ]
    effect_rows = effects.table.astype(object).where(effects.table.notna(), None)
    return SkillsState(
        as_of=str(as_of.date()),
        estimates=rows.to_dict("records"),
        targets={m: {k: float(v) for k, v in r.items()} for m, r in targets.iterrows()},
        importance=importance.weights,
        effects=effect_rows.to_dict("records"),
        catalogue=catalogue_rows,
        completed=completed,
        assumptions=vars(config.assumptions),
        budget_hours=config.budget_hours,
    )


# --------------------------------------------------------------------------- holdout


def holdout_assessments(
    tables: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Each manager's first assessment session in ``[start, end)``: what we must predict."""
    a = tables["assessments"]
    window = a[(a["assessed_on"] >= start) & (a["assessed_on"] < end)]
    first = window.groupby("manager_id")["assessed_on"].transform("min")
    return window[window["assessed_on"] == first][["manager_id", "assessed_on", "skill", "score"]]


def holdout_predictions(
    estimates: pd.DataFrame, drift_per_week: float, cutoff: pd.Timestamp, targets: pd.DataFrame
) -> np.ndarray:
    """Estimates at ``cutoff`` carried to each holdout assessment date by the drift."""
    merged = targets.merge(estimates, on=["manager_id", "skill"], how="left")
    weeks = (merged["assessed_on"] - cutoff).dt.days / 7
    return (merged["estimate"] + drift_per_week * weeks).to_numpy()


def rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    ok = np.isfinite(truth) & np.isfinite(predicted)
    return float(np.sqrt(np.mean((truth[ok] - predicted[ok]) ** 2))) if ok.any() else np.nan


def score_holdout(
    tables: dict[str, pd.DataFrame], as_of: pd.Timestamp, config: SkillsConfig
) -> tuple[dict[str, Any], FittedSkills | None, pd.DataFrame]:
    """Fit at ``as_of - holdout_weeks``, predict the holdout weeks' assessments."""
    cutoff = as_of - pd.Timedelta(weeks=config.holdout_weeks)
    target = holdout_assessments(tables, cutoff, as_of)
    earlier = tables["assessments"]["assessed_on"] < cutoff
    if target.empty or not earlier.any():
        return {"cutoff": str(cutoff.date()), "rows": 0}, None, target
    fitted = fit_skills(tables, cutoff, config)
    ours = holdout_predictions(
        fitted.estimates.estimates, fitted.measurement.drift_per_week, cutoff, target
    )
    latest = target.merge(
        fitted.estimates.estimates[["manager_id", "skill", "latest_score"]],
        on=["manager_id", "skill"],
        how="left",
    )["latest_score"].to_numpy()
    truth = target["score"].to_numpy()
    both = np.isfinite(latest)
    report = {
        "cutoff": str(cutoff.date()),
        "rows": len(target),
        "managers": int(target["manager_id"].nunique()),
        "model": {"next_assessment_rmse": rmse(truth, ours)},
        "model_where_assessed": {"next_assessment_rmse": rmse(truth[both], ours[both])},
        "latest_assessment": {"next_assessment_rmse": rmse(truth[both], latest[both])},
    }
    return report, fitted, target


# --------------------------------------------------------------------------- MLflow


def run_skills_training(
    dataset: Dataset,
    settings: Settings,
    as_of: pd.Timestamp | None = None,
    config: SkillsConfig | None = None,
    log=print,
) -> dict[str, Any]:
    """Fit, score the holdout, log to MLflow, register ``manager-skills`` and gate it.

    ``dataset`` is the company's validated tables (``features.validate.load_dataset``); the
    run is tagged with its folder when it has one.
    """
    config = config or SkillsConfig()
    tables = dataset.tables
    check_skill_tables(tables)
    as_of = as_of or default_as_of(tables)
    holdout, held, target = score_holdout(tables, as_of, config)
    fitted = fit_skills(tables, as_of, config)
    report = summarise(fitted, config)
    report["holdout"] = holdout
    report["capabilities_off"] = dataset.report.capabilities_off

    run_name = f"skills as of {fitted.state.as_of}"
    with model_run(settings, SKILLS_MODEL, run_name, report, dataset.folder) as (client, run):
        _log_run(fitted, report, config)
        info = _log_model(fitted, held, holdout)
        if held is None:
            decision = {
                "promoted": False,
                "reason": "no holdout assessments to score",
                "version": None,
                "rule": SKILLS_RULE.describe(),
            }
        else:
            cutoff = pd.Timestamp(holdout["cutoff"])

            def score_champion(uri: str) -> dict[str, float]:
                champion = mlflow.pyfunc.load_model(uri)
                frame = champion.predict(
                    pd.DataFrame({"manager_id": sorted(target["manager_id"].unique())}),
                    params={"kind": "holdout"},
                )
                their_cutoff = pd.Timestamp(frame["cutoff"].iloc[0])
                if their_cutoff > cutoff:
                    raise ValueError(
                        f"its holdout cutoff {their_cutoff.date()} is after this holdout's "
                        f"start {cutoff.date()} (it has seen these assessments)"
                    )
                predicted = holdout_predictions(
                    frame, float(frame["drift_per_week"].iloc[0]), their_cutoff, target
                )
                return {"next_assessment_rmse": rmse(target["score"].to_numpy(), predicted)}

            report["registry"] = decision = register_and_gate(
                client,
                SKILLS_MODEL,
                info.model_uri,
                run.info.run_id,
                SKILLS_RULE,
                holdout["model_where_assessed"],
                holdout["latest_assessment"],
                score_champion,
            )
    announce_decision(decision, log)
    return report


def summarise(fitted: FittedSkills, config: SkillsConfig) -> dict[str, Any]:
    """The run report: what was fitted, in numbers a coordinator can read."""
    est = fitted.estimates.estimates
    m = fitted.measurement
    return {
        "as_of": fitted.state.as_of,
        "config": config.to_dict(),
        "managers": int(est["manager_id"].nunique()),
        "kpi_only_managers": sorted(est.loc[est["source"] == "kpi_only", "manager_id"].unique()),
        "measurement": {
            "noise_sd": float(np.sqrt(m.noise_var)),
            "drift_per_week": m.drift_per_week,
            "process_var_per_week": m.process_var_per_week,
            "pairs": m.pairs,
        },
        "kpi_prior_r2": fitted.estimates.prior.r2,
        "importance": fitted.importance.weights,
        "importance_coefficients": fitted.importance.coefficients,
        "targets": {k: float(v) for k, v in fitted.targets.mean().items()},
        "course_effects": fitted.effects.table.astype(object)
        .where(fitted.effects.table.notna(), None)
        .to_dict("records"),
        "mean_gap": {k: float(v) for k, v in fitted.gaps.groupby("skill")["gap"].mean().items()},
    }


def _log_run(fitted: FittedSkills, report: dict[str, Any], config) -> None:
    mlflow.log_params(
        {
            "as_of": report["as_of"],
            "budget_hours": config.budget_hours,
            "good_performer_share": config.good_performer_share,
            "holdout_weeks": config.holdout_weeks,
            "min_process_var_per_week": config.min_process_var_per_week,
            "managers": report["managers"],
        }
    )
    metrics = {
        "noise_sd": report["measurement"]["noise_sd"],
        "drift_per_week": report["measurement"]["drift_per_week"],
        "kpi_only_managers": len(report["kpi_only_managers"]),
        **{f"importance_{k}": v for k, v in fitted.importance.weights.items()},
        **{f"kpi_prior_r2_{k}": v for k, v in fitted.estimates.prior.r2.items()},
        **{f"target_{k}": v for k, v in report["targets"].items()},
    }
    for outcome, coefs in fitted.importance.coefficients.items():
        metrics.update({f"coef_{outcome}_{k}": v for k, v in coefs.items()})
    mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
    mlflow.log_table(fitted.effects.table, "course_effects.json")


def _log_holdout_metrics(holdout: dict[str, Any]) -> None:
    for name in ("model", "model_where_assessed", "latest_assessment"):
        if name in holdout:
            value = holdout[name]["next_assessment_rmse"]
            mlflow.log_metric(f"{name}_next_assessment_rmse", value)


def _log_model(fitted: FittedSkills, held: FittedSkills | None, holdout: dict[str, Any]):
    _log_holdout_metrics(holdout)
    with tempfile.TemporaryDirectory() as scratch:
        state_path = Path(scratch) / "state.json"
        state_path.write_text(fitted.state.to_json(), encoding="utf-8")
        holdout_path = Path(scratch) / "holdout.json"
        holdout_rows = []
        if held is not None:
            holdout_rows = held.estimates.estimates[["manager_id", "skill", "estimate"]].to_dict(
                "records"
            )
        holdout_path.write_text(
            json.dumps(
                {
                    "cutoff": holdout["cutoff"],
                    "drift_per_week": held.measurement.drift_per_week if held else 0.0,
                    "estimates": holdout_rows,
                }
            ),
            encoding="utf-8",
        )
        return log_pyfunc(
            PYFUNC_CODE,
            {"state": str(state_path), "holdout": str(holdout_path)},
            ("mlflow", "pandas", "numpy", "pandera"),
            # Params must be in the signature, or MLflow drops them at predict time.
            signature=infer_signature(
                pd.DataFrame({"manager_id": ["M"]}),
                pd.DataFrame({"manager_id": ["M"]}),
                params={"kind": "gaps", "budget_hours": 0.0, "min_size": 4, "max_size": 12},
            ),
            metadata={"as_of": fitted.state.as_of},
        )
