"""Proof against the truth: how much each visit policy really keeps, in the simulator.

From the territory saved at the end of a simulated data folder, every policy runs the same
W weeks with the same capacity and, per seed, the same luck (clones share their random
stream), so differences are the policies' doing:

- ``rotation``: the company's current practice (the simulator's own policy);
- ``random``: any retailers at risk, up to capacity;
- ``risk``: highest churn probability first;
- ``value``: highest usual order value first;
- ``planner``: fieldcoach's plan (expected saved value, purposes, routes);
- ``oracle``: the true visit effect of every retailer this week (health gained, weighted
  by its true usual value), with its best purpose.

The models the planner needs are trained on the data before the snapshot; the policies
other than ``oracle`` see only what a company would: the tables so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from features.contract import VISIT_PURPOSES
from features.errors import UserInputError
from features.rankings import EFFECT_RANKING, saved_value
from features.retailer import model_frame, prepare_history, retailer_snapshot
from features.validate import load_dataset
from planning.explore import Exploration, draw_week, plan_seed
from planning.optimise import RANKED_POOL_FACTOR, PlanRules, plan_week
from planning.pace import observed_pace, paced
from planning.purpose import choose_purposes
from planning.week import FALLBACK_EFFECT_SHARE, Ranking, ranked_benefit, week_of
from simulator.export import STATE_FILE, build_event_tables, build_static_tables
from simulator.territory import Territory
from training.churn import ChurnConfig, TrainedChurn, train_churn

POLICIES = ("rotation", "random", "risk", "value", "planner", "oracle")
EVENT_TABLES = ("orders", "visits", "complaints", "surveys", "assessments", "trainings")


@dataclass(frozen=True)
class PolicyConfig:
    weeks: int = 8
    seeds: int = 5
    horizon_weeks: int = 8
    days: int = 5
    min_gap_days: int = 7
    # The planner stops after a fixed number of solutions so that a re-run gives the same
    # figures whatever the machine's load; the time limit only caps a slow solve. 200
    # solutions (about 0.8 s for 200 retailers) keep 98.6% of the expected benefit of the
    # best capacity-many stops; 50 kept only 92%.
    solution_limit: int = 200
    time_limit_s: float = 5.0
    seed: int = 0


@dataclass
class Estimators:
    """What the non-oracle policies know: models fitted on the data before the snapshot."""

    churn: TrainedChurn
    effect: Any  # training.visits.VisitEffect, or None for the risk x value fallback
    horizon_weeks: int

    def churn_probability(self, frame: pd.DataFrame) -> np.ndarray:
        raw = self.churn.lightgbm.predict_raw(model_frame(frame, self.churn.features))
        return self.churn.calibration.transform(raw)

    ranking: Ranking | None = None  # the self-check's choice; None: the effect model

    @property
    def ranked(self) -> bool:
        """Whether the benefit is a simple ranking's score (as ``planning.week``)."""
        return (
            self.effect is not None
            and self.ranking is not None
            and (self.ranking.name != EFFECT_RANKING)
        )

    def expected_benefit(self, frame: pd.DataFrame, churn_p: np.ndarray) -> np.ndarray:
        """The planner's benefit, ranked the way ``train visits``' self-check chose."""
        usual = frame["baseline_weekly_value"].to_numpy(float) * self.horizon_weeks
        if self.effect is None:
            return churn_p * usual * FALLBACK_EFFECT_SHARE
        if self.ranked and self.ranking is not None:
            return ranked_benefit(frame, self.ranking, churn_p, self.horizon_weeks)
        return saved_value(self.effect.predict(frame), usual)


def fit_estimators(
    tables: dict[str, pd.DataFrame], config: PolicyConfig, incumbent: str | None = None
) -> Estimators:
    """The planner's models on ``tables``; ``incumbent``: the ranking in use, which the
    self-check keeps unless another clearly beats it (``training.visit_policy``)."""
    churn = train_churn(tables, ChurnConfig(horizon_weeks=config.horizon_weeks, tune=False))
    effect = None
    if "visits" in tables:
        from training.visit_policy import check_rankings
        from training.visit_rows import VisitEffectConfig
        from training.visits import fit_visit_effect

        effect = fit_visit_effect(
            tables, VisitEffectConfig(horizon_weeks=config.horizon_weeks), choose_purposes
        )
        if incumbent is not None and incumbent != effect.ranking_check_["chosen"]:
            effect.ranking_check_ = check_rankings(effect, incumbent=incumbent)
            effect.report_["ranking_check"] = {
                k: v for k, v in effect.ranking_check_.items() if k != "candidates"
            }
        elif incumbent is not None:  # the rules chose the ranking in use again
            effect.ranking_check_.update(incumbent=incumbent, kept_incumbent=True)
        values = effect.ranking_check_
        ranking = Ranking(values["chosen"], values["reason"], values["yuan_per_score"])
        return Estimators(churn, effect, config.horizon_weeks, ranking)
    return Estimators(churn, effect, config.horizon_weeks)


class Observed:
    """The tables a company would hold after some simulated weeks: the data plus new records."""

    def __init__(self, base: dict[str, pd.DataFrame]):
        self.base = base

    def tables(self, territory: Territory) -> dict[str, pd.DataFrame]:
        tables = dict(self.base)
        for name, table in build_static_tables(territory).items():
            if name in ("retailers", "managers"):
                tables[name] = _typed(table.to_pandas(), self.base[name])
        new = build_event_tables(territory)
        for name in EVENT_TABLES:
            if name in new and name in self.base:
                frame = _typed(new[name].to_pandas(), self.base[name])
                tables[name] = pd.concat([self.base[name], frame], ignore_index=True)
        return tables


def _typed(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    for column in frame.columns:
        if column in like and pd.api.types.is_datetime64_any_dtype(like[column]):
            frame[column] = pd.to_datetime(frame[column]).astype(like[column].dtype)
    return frame[[c for c in frame.columns if c in like.columns]]


def _spread_days(index: np.ndarray, manager: np.ndarray, monday: int, days: int) -> np.ndarray:
    """Dates for visits listed per manager: the first share on Monday, and so on."""
    order = np.argsort(manager, kind="stable")
    rank = np.empty(len(manager), dtype=np.int64)
    sorted_manager = manager[order]
    rank[order] = np.arange(len(manager)) - np.searchsorted(sorted_manager, sorted_manager)
    counts = pd.Series(manager).map(pd.Series(manager).value_counts()).to_numpy()
    day = np.minimum(rank * days // np.maximum(counts, 1), days - 1)
    return monday + day


def _top_per_manager(frame: pd.DataFrame, score: np.ndarray, capacity: dict[str, int]):
    ranked = frame.assign(_score=score).sort_values("_score", ascending=False, kind="stable")
    keep = (
        ranked.groupby("manager_id", sort=False).cumcount()
        < ranked["manager_id"].map(capacity).fillna(0).to_numpy()
    )
    return ranked[keep]


def _visit_plan(rows: pd.DataFrame, monday: int, days: int) -> pd.DataFrame:
    manager = rows["manager_id"].astype(str).to_numpy()
    dates = _spread_days(np.arange(len(rows)), manager, monday, days)
    return pd.DataFrame(
        {
            "retailer_id": rows["retailer_id"].to_numpy(),
            "manager_id": manager,
            "visit_date": pd.to_datetime(dates, unit="D"),
            "purpose": rows["purpose"].to_numpy(),
        }
    )


def load_start(data_dir: Path, needs: str) -> tuple[Territory, dict[str, pd.DataFrame]]:
    """The simulator's saved territory at the end of ``data_dir`` (records and truth cleared:
    what comes next is the policies' doing) and the company's tables up to then.

    Raises:
        UserInputError: the folder holds no simulator state; ``needs`` names who needs it.
    """
    state = Path(data_dir) / STATE_FILE
    if not state.exists():
        raise UserInputError(
            f"{data_dir}: no saved simulator state ({STATE_FILE}); {needs} needs a folder "
            "written by `fieldcoach simulate`"
        )
    start = Territory.load(state)
    start.records.clear()
    start.truth.clear()
    return start, load_dataset(data_dir).tables


def at_risk(tables: dict[str, pd.DataFrame], monday: int, horizon_weeks: int) -> pd.DataFrame:
    """The retailers at risk on ``monday`` that have a manager, each with its purpose."""
    history = prepare_history(tables)
    frame = retailer_snapshot(history, pd.Timestamp(monday, unit="D"), horizon_weeks).frame
    frame = frame[frame["manager_id"].notna()].reset_index(drop=True)
    frame["purpose"] = choose_purposes(frame)
    return frame


def capacities(territory: Territory) -> dict[str, int]:
    managers = territory.manager_ids()
    return dict(zip(managers, territory.managers.capacity.astype(int), strict=True))


def policy_plan(
    policy: str,
    territory: Territory,
    observed: Observed,
    estimators: Estimators,
    config: PolicyConfig,
    rng: np.random.Generator,
) -> pd.DataFrame | None:
    if policy == "rotation":
        return None
    monday = territory.current_day
    capacity = capacities(territory)
    if policy == "oracle":
        effect, best = territory.true_visit_effect()
        r = territory.retailers
        alive = np.flatnonzero(r.alive)
        frame = pd.DataFrame(
            {
                "retailer_id": territory.retailer_ids(alive),
                "manager_id": territory.manager_ids()[r.manager[alive]],
                "purpose": np.asarray(VISIT_PURPOSES)[best[alive]],
            }
        )
        # Weighted by the true usual value: the outcome is value kept, not health gained.
        value_gain = effect[alive] * r.base_value[alive]
        return _visit_plan(_top_per_manager(frame, value_gain, capacity), monday, config.days)
    tables = observed.tables(territory)
    frame = at_risk(tables, monday, config.horizon_weeks)
    churn_p = estimators.churn_probability(frame)
    if policy == "random":
        score = rng.random(len(frame))
    elif policy == "risk":
        score = churn_p
    elif policy == "value":
        score = frame["baseline_weekly_value"].to_numpy(float)
    else:
        week = planner_week(
            frame, churn_p, tables, territory, estimators, config, pace_from_visits=True
        )
        visits = [v.drop(columns="expected_benefit") for v in week.visits if len(v)]
        if not visits:
            return pd.DataFrame(columns=["retailer_id", "manager_id", "visit_date", "purpose"])
        return pd.concat(visits, ignore_index=True)
    return _visit_plan(_top_per_manager(frame, score, capacity), monday, config.days)


@dataclass
class PlannerWeek:
    """The planner's week: per manager the visits (retailer, manager, date, purpose and
    expected benefit), the exploration draws' logs, and the expected benefit they gave up."""

    visits: list[pd.DataFrame]
    draws: list[pd.DataFrame]
    given_up: float


def planner_week(
    frame: pd.DataFrame,
    churn_p: np.ndarray,
    tables: dict[str, pd.DataFrame],
    territory: Territory,
    estimators: Estimators,
    config: PolicyConfig,
    exploration: Exploration | None = None,
    pace_from_visits: bool = False,
) -> PlannerWeek:
    """fieldcoach's plan for every manager's week from the retailers at risk (``at_risk``),
    with the exploration draw when one is given (``evaluation.loop``).

    Args:
        pace_from_visits: take the minutes a visit from the recorded days, as fieldcoach's
            plans do (else the planner's assumed pace).
    """
    monday = territory.current_day
    frame = frame.assign(expected_benefit=estimators.expected_benefit(frame, churn_p))
    frame = frame.join(
        tables["retailers"].set_index("retailer_id")[["lat", "lon"]], on="retailer_id"
    )
    first = config.min_gap_days - frame["days_since_last_visit"].to_numpy()
    frame["earliest_day"] = np.where(np.isnan(first), 0, np.maximum(first, 0)).astype(int)
    frame["mandatory"] = False
    capacity = capacities(territory)
    homes = dict(
        zip(
            territory.manager_ids(),
            zip(territory.managers.home_lat, territory.managers.home_lon, strict=True),
            strict=True,
        )
    )
    week, day = week_of(monday), pd.Timestamp(monday, unit="D")
    planned = PlannerWeek([], [], 0.0)
    for manager_id, candidates in frame.groupby("manager_id", sort=True):
        rules = PlanRules(
            capacity=max(1, capacity.get(manager_id, 1)),
            days=config.days,
            min_gap_days=config.min_gap_days,
            time_limit_s=config.time_limit_s,
            solution_limit=config.solution_limit,
            guided_search=True,  # as measured: 200 guided solutions keep 98.6%
            pool_factor=RANKED_POOL_FACTOR if estimators.ranked else PlanRules.pool_factor,
        )
        if pace_from_visits:
            home = homes[manager_id]
            pace = observed_pace(
                tables.get("visits"), tables["retailers"], manager_id, home, day, rules
            )
            rules = paced(rules, pace)
        candidates = candidates.reset_index(drop=True)
        visits = plan_week(candidates, homes[manager_id], rules).visits
        if exploration is not None and not exploration.off:
            plain = float(visits["expected_benefit"].sum())
            draw = draw_week(
                candidates,
                rules.capacity,
                rules.days,
                exploration,
                plan_seed(manager_id, week),
                visits["retailer_id"],
            )
            planned.draws.append(draw.log.assign(manager_id=manager_id))
            visits = plan_week(draw.candidates, homes[manager_id], rules).visits
            planned.given_up += plain - float(visits["expected_benefit"].sum())
        planned.visits.append(
            pd.DataFrame(
                {
                    "retailer_id": visits["retailer_id"].to_numpy(),
                    "manager_id": manager_id,
                    "visit_date": pd.to_datetime(monday + visits["day"].to_numpy(), unit="D"),
                    "purpose": visits["purpose"].to_numpy(),
                    "expected_benefit": visits["expected_benefit"].to_numpy(float),
                }
            )
        )
    return planned


def run_policy(
    policy: str,
    start: Territory,
    observed: Observed,
    estimators: Estimators,
    config: PolicyConfig,
    seed: int,
) -> dict[str, float]:
    """Run one policy for ``config.weeks`` from a copy of ``start`` with seed-fixed luck."""
    territory = start.clone()
    territory.rng = np.random.default_rng([config.seed, 104729, seed])
    policy_rng = np.random.default_rng([config.seed, 7, seed])
    alive_at_start = territory.retailers.alive.copy()
    for _ in range(config.weeks):
        plan = policy_plan(policy, territory, observed, estimators, config, policy_rng)
        territory.step(visit_plan=plan, plan_given=(plan is not None, False))
    orders = territory.records.get("orders", [])
    value = float(sum(chunk["amount"].sum() for chunk in orders))
    kept = territory.retailers.alive[: len(alive_at_start)] & alive_at_start
    return {"retained_value": value, "retained_retailers": float(kept.sum())}


def interval(values: list[float]) -> dict[str, float]:
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "ci_low": mean, "ci_high": mean}
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def evaluate_policies(
    data_dir: Path,
    config: PolicyConfig,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every policy, every seed; the report holds means and 95% intervals over seeds."""
    start, tables = load_start(data_dir, "policy evaluation")
    t0 = time.perf_counter()
    estimators = fit_estimators(tables, config)
    log(
        f"trained the planner's models on the data before {start.current_date.date()} "
        f"in {time.perf_counter() - t0:.0f} s"
        + ("" if estimators.effect is not None else " (no visits: risk x value fallback)")
    )
    if estimators.ranking is not None:
        log(f"planner ranking: {estimators.ranking.name} ({estimators.ranking.reason})")
    observed = Observed(tables)
    results: dict[str, list[dict[str, float]]] = {p: [] for p in POLICIES}
    for seed in range(config.seeds):
        for policy in POLICIES:
            t1 = time.perf_counter()
            results[policy].append(run_policy(policy, start, observed, estimators, config, seed))
            log(
                f"seed {seed} {policy:<9} value {results[policy][-1]['retained_value']:>14,.0f}"
                f"  retailers {results[policy][-1]['retained_retailers']:>8,.0f}"
                f"  ({time.perf_counter() - t1:.0f} s)"
            )
    report = _report(results, config, start)
    if estimators.ranking is not None:
        report["planner_ranking"] = {
            "name": estimators.ranking.name,
            "reason": estimators.ranking.reason,
        }
    return report


def _report(results, config: PolicyConfig, start: Territory) -> dict[str, Any]:
    report: dict[str, Any] = {
        "snapshot": str(start.current_date.date()),
        "weeks": config.weeks,
        "seeds": config.seeds,
        "capacity": "each manager's weekly capacity, the same for every policy",
    }
    rotation = np.array([r["retained_value"] for r in results["rotation"]])
    for policy, runs in results.items():
        value = np.array([r["retained_value"] for r in runs])
        report[policy] = {
            "retained_value": interval(list(value)),
            "retained_retailers": interval([r["retained_retailers"] for r in runs]),
            "saved_value": interval(list(value - rotation)),
        }
    saved = {p: report[p]["saved_value"]["mean"] for p in POLICIES}
    report["planner_vs_oracle_saved"] = (
        saved["planner"] / saved["oracle"] if saved["oracle"] > 0 else float("nan")
    )
    report["planner_vs_risk_saved"] = (
        saved["planner"] / saved["risk"] if saved["risk"] > 0 else float("nan")
    )
    return report


def policy_chart(report: dict[str, Any], path: Path) -> Path:
    """Bar chart of saved value (vs rotation) per policy with 95% intervals."""
    from features.io import atomic_path
    from training.plots import pyplot

    plt = pyplot()

    names = [p for p in POLICIES if p != "rotation"]
    saved = [report[p]["saved_value"] for p in names]
    means = np.array([s["mean"] for s in saved])
    errors = np.array(
        [
            [m - s["ci_low"] for m, s in zip(means, saved, strict=True)],
            [s["ci_high"] - m for m, s in zip(means, saved, strict=True)],
        ]
    )
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(names, means, yerr=errors, capsize=4, color=["#bbb", "#bbb", "#bbb", "#2a7", "#555"])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("order value kept beyond rotation (yuan)")
    ax.set_title(f"{report['weeks']} weeks from {report['snapshot']}, {report['seeds']} seeds")
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return Path(path)


def log_policy_run(report: dict[str, Any], chart: Path, settings) -> str:
    """Log the comparison to MLflow (experiment ``policy-evaluation``)."""
    import mlflow

    from training.promotion import configure_mlflow, experiment_id

    configure_mlflow(settings)
    with mlflow.start_run(
        experiment_id=experiment_id("policy-evaluation", settings),
        run_name=f"policies from {report['snapshot']}",
    ) as run:
        mlflow.log_params(
            {"weeks": report["weeks"], "seeds": report["seeds"], "snapshot": report["snapshot"]}
        )
        for policy in POLICIES:
            for key in ("retained_value", "retained_retailers", "saved_value"):
                mlflow.log_metric(f"{policy}_{key}", report[policy][key]["mean"])
        for key in ("planner_vs_oracle_saved", "planner_vs_risk_saved"):
            if np.isfinite(report[key]):
                mlflow.log_metric(key, report[key])
        mlflow.log_dict(report, "policy_report.json")
        mlflow.log_artifact(str(chart), "plots")
        return run.info.run_id
