"""`train skills|churn|visits`: fit, evaluate on the holdout, register in MLflow."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import (
    EngineDataOption,
    EngineOption,
    fail,
    progress,
    resolve_engine,
    skills_config,
    spark_tables,
    user_errors,
    write_run_report,
)

app = typer.Typer(help="Train, evaluate and register models.", no_args_is_help=True)


@app.command("skills")
def train_skills_command(
    data: Annotated[Path, typer.Option(help="Folder holding the company's tables.")],
    as_of: Annotated[
        str | None, typer.Option(help="Snapshot date (default: the day after the last order).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the run report JSON here.")] = None,
    budget_hours: Annotated[
        float | None, typer.Option(help="Training hours per manager per quarter (default 24).")
    ] = None,
    targets: Annotated[
        Path | None,
        typer.Option(help='JSON {"role" or "*": {"skill": level}} overriding skill targets.'),
    ] = None,
) -> None:
    """Fit skill estimates, importances, targets and course effects; register manager-skills."""
    from features.calendar import parse_date
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings
    from training.skills_run import run_skills_training

    with user_errors():
        config = skills_config(budget_hours, targets)
        when = parse_date(as_of, "--as-of") if as_of else None
        dataset = load_dataset(data)
        result = run_skills_training(dataset, get_settings(), when, config, log=typer.echo)
        if report:
            write_run_report(result, report)
    holdout = result["holdout"]
    typer.echo(
        f"skills as of {result['as_of']}: {result['managers']} managers "
        f"({len(result['kpi_only_managers'])} without assessments: KPI-based estimates)"
    )
    if holdout.get("rows"):
        typer.echo(
            f"holdout from {holdout['cutoff']}: next-assessment RMSE "
            f"{holdout['model_where_assessed']['next_assessment_rmse']:.2f} vs latest "
            f"assessment {holdout['latest_assessment']['next_assessment_rmse']:.2f}"
        )
    ranked = sorted(result["importance"].items(), key=lambda kv: -kv[1])
    typer.echo("importance: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked))
    if report:
        typer.echo(f"report: {report}")


@app.command("churn")
def train_churn_command(
    data: EngineDataOption,
    horizon_weeks: Annotated[int, typer.Option(help="Label horizon H in weeks.")] = 8,
    cutoff: Annotated[
        str | None, typer.Option(help="Holdout snapshot date (default: newest complete).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write the evaluation JSON here.")] = None,
    label: Annotated[str, typer.Option(help="hard (no order) or soft (value drop).")] = "hard",
    soft_threshold: Annotated[
        float, typer.Option(help="Soft churn: value below this share of baseline.")
    ] = 0.5,
    snapshot_every_weeks: Annotated[int, typer.Option(min=1)] = 4,
    top_k: Annotated[int | None, typer.Option(help="K for precision/recall at top K.")] = None,
    tune: Annotated[bool, typer.Option(help="Rolling-origin search of LightGBM settings.")] = True,
    engine: EngineOption = None,
    sample_retailers: Annotated[
        int | None,
        typer.Option(
            help="--engine spark: draw about this many retailers (whole managers) on Spark "
            "and train on them here."
        ),
    ] = None,
    sample_seed: Annotated[int, typer.Option(help="Seed of the sample's draw.")] = 0,
    sample_out: Annotated[
        Path | None,
        typer.Option(help="Folder for the drawn sample (default: HOME/samples/churn)."),
    ] = None,
) -> None:
    """Train the churn model and baselines, report on the holdout, register in MLflow.

    With ``--engine spark --sample-retailers N`` the cluster reads the data and draws the
    sample; the fit runs on this machine, on the sample.
    """
    from evaluation.churn_oracle import oracle_for
    from features.calendar import parse_date
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings
    from training.churn import ChurnConfig
    from training.churn_run import run_churn_training

    with user_errors():
        config = ChurnConfig(
            horizon_weeks=horizon_weeks,
            label=label,
            soft_threshold=soft_threshold,
            snapshot_every_weeks=snapshot_every_weeks,
            top_k=top_k,
            tune=tune,
        )
        when = parse_date(cutoff, "--cutoff") if cutoff else None
        sample = None
        if resolve_engine(engine) == "spark":
            data, sample = _draw_sample(data, sample_retailers, sample_seed, sample_out)
        elif sample_retailers is not None:
            fail("--sample-retailers draws the sample on Spark: add --engine spark")
        data = Path(data)
        oracle = oracle_for(data)
        result = run_churn_training(
            load_dataset(data), config, get_settings(), when, log=typer.echo, oracle=oracle
        )
        if sample is not None:
            result["sample"] = {**asdict(sample), "share": round(sample.share, 4)}
        if report:
            write_run_report(result, report)
    typer.echo(
        f"holdout {result['cutoff']} (+{horizon_weeks} weeks): "
        f"{result['rows']['holdout']:,} retailers, churn rate "
        f"{result['churn_rate']['holdout']:.2%}"
    )
    typer.echo(
        f"{'model':<10}{'ROC-AUC':>9}{'PR-AUC':>9}{'Brier':>9}{'ECE':>8}{'P@10%':>8}{'R@10%':>8}"
    )
    for name in ("lightgbm", "logistic", "recency", "bgnbd", "oracle"):
        if name in result:
            m = result[name]
            typer.echo(
                f"{name:<10}{m['roc_auc']:>9.4f}{m['pr_auc']:>9.4f}{m['brier']:>9.5f}"
                f"{m['ece']:>8.4f}{m['precision_top10']:>8.3f}{m['recall_top10']:>8.3f}"
            )
    if report:
        typer.echo(f"report: {report}")


def _draw_sample(data: str, retailers: int | None, seed: int, out: Path | None):
    """The sample drawn on Spark and written here: (its folder, what was drawn)."""
    from fieldcoach.settings import get_settings
    from training.sample_spark import write_sample

    if retailers is None:
        fail(
            "--engine spark trains on a sample drawn on the cluster: add --sample-retailers N "
            "(e.g. 200000)"
        )
    folder = out or get_settings().home / "samples" / "churn"
    tables = spark_tables(data)
    sample = write_sample(tables, folder, retailers, seed, source=data)
    typer.echo(
        f"sample: {sample.retailers:,} of {sample.of_retailers:,} retailers "
        f"({sample.share:.1%}; {sample.managers:,} whole managers), {sample.orders:,} of "
        f"{sample.of_orders:,} orders, drawn on spark into {folder}"
    )
    return str(folder), sample


@app.command("visits")
def train_visits_command(
    data: Annotated[Path, typer.Option(help="Folder holding the company's tables.")],
    horizon_weeks: Annotated[
        int, typer.Option(min=1, help="Weeks of orders after the visit week that count.")
    ] = 8,
    report: Annotated[Path | None, typer.Option(help="Write the evaluation JSON here.")] = None,
) -> None:
    """Estimate each retailer's gain from a visit this week (DR-learner); register visit-effect."""
    from evaluation.visits import truth_check_for
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings
    from planning.purpose import choose_purposes
    from training.visit_rows import VisitEffectConfig
    from training.visits_run import run_visit_effect_training

    with user_errors():
        config = VisitEffectConfig(horizon_weeks=horizon_weeks)
        with progress("training the visit-effect model") as (log, _, _):
            result = run_visit_effect_training(
                load_dataset(data),
                config,
                get_settings(),
                log=log,
                truth_check=truth_check_for(data),
                purposes=choose_purposes,
            )
        if report:
            write_run_report(result, report)
    effect = result["average_effect"]
    typer.echo(
        f"holdout weeks {result['holdout_weeks'][0]} .. {result['holdout_weeks'][-1]} "
        f"(+{horizon_weeks} weeks): {result['rows']['holdout']:,} retailer-weeks; average "
        f"effect of a visit {effect['dr_train']:+.3f} of baseline value (naive comparison "
        f"{effect['naive_difference_train']:+.3f}); propensities clipped "
        f"{result['overlap']['share_clipped']:.0%}"
    )
    typer.echo("uplift of the top 20% (mean pseudo-outcome above average):")
    for name, value in result["uplift_top20"].items():
        truth = result.get("truth", {}).get(name)
        extra = f"   spearman with true effect {truth:+.3f}" if truth is not None else ""
        typer.echo(f"  {name:<14}{value:+.4f}{extra}")
    check = result["ranking_check"]
    typer.echo(f"policy value of each ranking ({check['unit']}; 95% interval):")
    for name, entry in result["policy_values"].items():
        mark = "  <- chosen" if entry["chosen"] else ""
        typer.echo(
            f"  {name:<14}{entry['estimate']:>10,.0f} [{entry['ci_low']:>9,.0f}, "
            f"{entry['ci_high']:>9,.0f}]  overlap only {entry['overlap_only']['estimate']:>9,.0f}"
            f"{mark}"
        )
    typer.echo(f"ranking: {check['chosen']}: {check['reason']}")
    typer.echo(f"overlap: {result['overlap_advice']}")
    if report:
        typer.echo(f"report: {report}")
