"""The review (定期复盘): what recommended visits did, measured on the plans' own randomisation.

Plans log, for every candidate, the probability it was recommended (``planning.explore``):
near-best candidates drawn for exploration, retailers held out at random. Within a group of
retailer-weeks that shared one probability, whether a retailer was recommended was decided
by a coin, not by anything about it, so the difference in what they ordered afterwards is
the effect of the recommendation (intention to treat: a recommendation the manager did not
follow still counts as recommended). No model is trusted.

Outcome: order value in the ``horizon_weeks`` from the week's Monday, less the retailer's
usual value over as many weeks (its mean weekly value in the 13 weeks before), which takes
most of the retailer-to-retailer variance out without biasing the comparison; retention:
at least one order in that window. Each group's difference in means is weighted by its
size; its variance is the usual two-sample one, so the 95% interval is +-1.96 standard
errors. Subgroups (purpose, team, manager) are shrunk towards the overall effect by how
noisy they are (empirical Bayes), so a manager with a handful of randomised retailers does
not top the table by luck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.errors import UserInputError
from features.i18n import Note

Z95 = 1.959964


@dataclass(frozen=True)
class ReviewConfig:
    horizon_weeks: int = 4
    baseline_weeks: int = 13
    min_per_arm: int = 20  # fewer randomised retailers on a side: no estimate, said why


def randomised_rows(
    tables: dict[str, pd.DataFrame], config: ReviewConfig, since: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Retailer-weeks whose recommendation was random, with assignment, outcome, baseline.

    Returns the rows and counts of what was left out and why.
    """
    log = tables.get("recommendations")
    if log is None or len(log) == 0:
        raise UserInputError(
            "no recommendations table in the data: run `fieldcoach feedback export` after "
            "plans were stored (plan batch or the service) with exploration or a holdout"
        )
    orders = tables["orders"]
    log = log.copy()
    log["week_start"] = pd.to_datetime(log["week_start"])
    end = orders["order_date"].max() + pd.Timedelta(days=1)
    window = pd.Timedelta(weeks=config.horizon_weeks)
    counts = {"logged": len(log)}
    if since is not None:
        log = log[log["week_start"] >= since]
        counts["before_since"] = counts["logged"] - len(log)
    complete = log["week_start"] + window <= end
    counts["outcome_not_complete"] = int((~complete).sum())
    log = log[complete]
    random = (log["propensity"] > 0) & (log["propensity"] < 1)
    counts["not_randomised"] = int((~random).sum())
    log = log[random].reset_index(drop=True)
    # Assignment is the draw, not whether the routes placed the visit.
    explored, held = log["explored"].astype(bool), log["held_out"].astype(bool)
    near = log["near_best"].astype(bool)
    log["assigned"] = (explored | (~near & ~held)).astype(int)
    log["arm"] = np.where(near, "exploration", "holdout")
    log["stratum"] = log["arm"] + ":" + log["propensity"].round(4).astype(str)
    value, before, ordered = _order_windows(orders, log, config)
    log["value"] = value
    log["baseline"] = before
    log["adjusted"] = value - before
    log["retained"] = ordered.astype(float)
    counts["randomised"] = len(log)
    return log, counts


def _order_windows(orders: pd.DataFrame, log: pd.DataFrame, config: ReviewConfig):
    """Per row: value in the window, usual value over as long, any order in the window."""
    day = orders["order_date"].to_numpy("datetime64[D]").astype(np.int64)
    start = log["week_start"].to_numpy("datetime64[D]").astype(np.int64)
    h, b = 7 * config.horizon_weeks, 7 * config.baseline_weeks
    by_retailer = {
        rid: (day[idx], orders["amount"].to_numpy(float)[idx])
        for rid, idx in orders.groupby("retailer_id", sort=False).indices.items()
    }
    value = np.zeros(len(log))
    before = np.zeros(len(log))
    ordered = np.zeros(len(log), dtype=bool)
    for i, (rid, t) in enumerate(zip(log["retailer_id"], start, strict=True)):
        found = by_retailer.get(rid)
        if found is None:
            continue
        days, amounts = found
        inside = (days >= t) & (days < t + h)
        value[i] = amounts[inside].sum()
        ordered[i] = inside.any()
        before[i] = amounts[(days >= t - b) & (days < t)].sum() * h / b
    return value, before, ordered


def effect(rows: pd.DataFrame, outcome: str, config: ReviewConfig) -> dict[str, Any]:
    """Stratified difference in means of ``outcome`` (assigned - not), with a 95% interval."""
    treated = int(rows["assigned"].sum())
    control = len(rows) - treated
    base = {"rows": len(rows), "recommended": treated, "not_recommended": control}
    if treated < config.min_per_arm or control < config.min_per_arm:
        return {
            **base,
            "estimate": None,
            "ci_low": None,
            "ci_high": None,
            "se": None,
            "why_not": (
                f"{treated} randomly recommended and {control} randomly not recommended "
                f"retailer-weeks; an estimate needs at least {config.min_per_arm} of each"
            ),
        }
    estimate, variance, weight = 0.0, 0.0, 0
    for _, group in rows.groupby("stratum"):
        t = group.loc[group["assigned"] == 1, outcome].to_numpy(float)
        c = group.loc[group["assigned"] == 0, outcome].to_numpy(float)
        if len(t) < 2 or len(c) < 2:
            continue  # a stratum without both arms says nothing about the difference
        n = len(group)
        estimate += n * (t.mean() - c.mean())
        variance += n**2 * (t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
        weight += n
    if weight == 0:
        return {**base, "estimate": None, "ci_low": None, "ci_high": None, "se": None,
                "why_not": "no group of equal probability had both arms twice"}  # fmt: skip
    estimate, se = estimate / weight, float(np.sqrt(variance) / weight)
    return {
        **base,
        "estimate": float(estimate),
        "se": se,
        "ci_low": float(estimate - Z95 * se),
        "ci_high": float(estimate + Z95 * se),
        "why_not": None,
    }


def shrink(groups: dict[str, dict[str, Any]], overall: dict[str, Any]) -> None:
    """Empirical-Bayes shrinkage of subgroup estimates towards the overall one (in place).

    The spread of true subgroup effects ``tau2`` is estimated by the method of moments
    (variance of the estimates less their mean squared standard error, at least 0); each
    estimate keeps the weight ``tau2 / (tau2 + se2)``.
    """
    usable = {k: g for k, g in groups.items() if g["estimate"] is not None}
    if overall["estimate"] is None or not usable:
        return
    estimates = np.array([g["estimate"] for g in usable.values()])
    se2 = np.array([g["se"] ** 2 for g in usable.values()])
    tau2 = (
        max(float(np.var(estimates, ddof=1)) - float(se2.mean()), 0.0) if len(usable) > 1 else 0.0
    )
    for g, s2 in zip(usable.values(), se2, strict=True):
        w = tau2 / (tau2 + s2) if tau2 + s2 > 0 else 0.0
        g["shrunk"] = float(w * g["estimate"] + (1 - w) * overall["estimate"])
        g["shrinkage_weight"] = float(w)
        post_se = float(np.sqrt(w * s2)) if tau2 > 0 else float(overall["se"])
        g["shrunk_ci_low"] = g["shrunk"] - Z95 * post_se
        g["shrunk_ci_high"] = g["shrunk"] + Z95 * post_se


def review(
    tables: dict[str, pd.DataFrame],
    config: ReviewConfig | None = None,
    since: pd.Timestamp | None = None,
    feedback: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The whole review: overall, per arm, purpose, team and manager, plus the feedback."""
    config = config or ReviewConfig()
    rows, counts = randomised_rows(tables, config, since)
    teams = _teams(tables)
    rows["team_id"] = rows["manager_id"].map(teams).fillna("-")
    result: dict[str, Any] = {
        "config": {
            "horizon_weeks": config.horizon_weeks,
            "baseline_weeks": config.baseline_weeks,
            "min_per_arm": config.min_per_arm,
            "since": None if since is None else str(since.date()),
        },
        "rows": counts,
        "weeks": sorted({str(d.date()) for d in rows["week_start"]}),
        "method": (
            "difference in means between randomly recommended and randomly not recommended "
            "retailer-weeks, within groups of equal logged probability, weighted by group "
            "size; order value net of the retailer's usual value; 95% interval +-1.96 SE"
        ),
    }
    for outcome, key in (("adjusted", "order_value"), ("retained", "retention")):
        overall = effect(rows, outcome, config)
        section: dict[str, Any] = {"overall": overall, "by_arm": {}}
        for arm, group in rows.groupby("arm"):
            section["by_arm"][arm] = effect(group, outcome, config)
        for column, name in (("purpose", "by_purpose"), ("team_id", "by_team"),
                             ("manager_id", "by_manager")):  # fmt: skip
            groups = {
                str(k): effect(g, outcome, config)
                for k, g in rows.groupby(rows[column].fillna("-"))
            }
            shrink(groups, overall)
            section[name] = groups
        result[key] = section
    result["feedback"] = feedback_rates(feedback or [])
    result["verdict"] = _verdict(result)
    return result


def _teams(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    managers = tables.get("managers")
    if managers is None or "team_id" not in managers:
        return {}
    return dict(zip(managers["manager_id"], managers["team_id"], strict=True))


def feedback_rates(feedback: list[dict[str, Any]]) -> dict[str, Any]:
    """How often recommendations were accepted and done, and why they were rejected."""
    decisions = [f for f in feedback if f.get("kind") == "decision"]
    outcomes = [f for f in feedback if f.get("kind") == "outcome"]
    if not decisions and not outcomes:
        return {"available": False, "why_not": "no feedback recorded by the service"}
    latest: dict[tuple, dict] = {}
    for f in decisions:
        latest[(f.get("retailer_id"), f.get("week"))] = f
    accepted = sum(1 for f in latest.values() if f.get("decision") == "accept")
    rejected = [f for f in latest.values() if f.get("decision") == "reject"]
    reasons = pd.Series([f.get("reason") or "(none given)" for f in rejected], dtype=object)
    done = sum(1 for f in outcomes if f.get("done"))
    return {
        "available": True,
        "decisions": len(latest),
        "accepted": accepted,
        "rejected": len(rejected),
        "acceptance_rate": accepted / len(latest) if latest else None,
        "outcomes": len(outcomes),
        "done": done,
        "done_rate": done / len(outcomes) if outcomes else None,
        "rejection_reasons": {str(k): int(v) for k, v in reasons.value_counts().items()},
    }


def _verdict(result: dict[str, Any]) -> dict[str, str]:
    """One sentence in each language on what the data says about order value."""
    overall = result["order_value"]["overall"]
    if overall["estimate"] is None:
        note = Note.of("uplift_no_estimate", why=overall["why_not"])
    else:
        low, high, est = overall["ci_low"], overall["ci_high"], overall["estimate"]
        key = "uplift_positive" if low > 0 else "uplift_negative" if high < 0 else "uplift_unclear"
        shown = abs(est) if key != "uplift_unclear" else est
        note = Note.of(
            key,
            weeks=result["config"]["horizon_weeks"],
            estimate=f"{shown:,.0f}",
            low=f"{low:,.0f}",
            high=f"{high:,.0f}",
        )
    return {"zh": note.text("zh"), "en": note.text("en")}
