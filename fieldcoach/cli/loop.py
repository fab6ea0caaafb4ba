"""`evaluate loop`: the planner in charge of a simulated territory, learning as it goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import user_errors


def evaluate_loop_command(
    data: Annotated[Path, typer.Option(help="A folder written by `fieldcoach simulate`.")],
    report: Annotated[Path, typer.Option(help="Write the comparison JSON here.")],
    weeks: Annotated[int, typer.Option(min=1, help="Weeks the planner is in charge.")] = 26,
    retrain_every: Annotated[
        int, typer.Option(min=1, help="The learning planner retrains every this many weeks.")
    ] = 4,
    seeds: Annotated[int, typer.Option(min=1, help="Futures (shared luck) per policy.")] = 3,
    review_seeds: Annotated[
        int, typer.Option(min=0, help="Seeds of the review-against-truth check (0: skip).")
    ] = 10,
    explore_share: Annotated[
        float, typer.Option(min=0, max=0.99, help="Exploration share of capacity.")
    ] = 0.05,
    holdout_share: Annotated[
        float,
        typer.Option(
            min=0,
            max=0.99,
            help="Holdout share of the learning planner (0: a holdout measures, the review "
            "check's runs have their own).",
        ),
    ] = 0.0,
    review_holdout_share: Annotated[
        float,
        typer.Option(min=0, max=0.99, help="Holdout share of the review check's runs."),
    ] = 0.1,
    time_limit: Annotated[float, typer.Option(help="Solver cap per manager-week (s).")] = 5.0,
) -> None:
    """Frozen vs learning (with exploration) vs rotation: saved value per 4-week block, and
    the review's interval checked against the simulator's true effect."""
    from evaluation.loop import LoopConfig, evaluate_loop, review_check
    from features.io import atomic_path, check_report_path

    with user_errors():
        check_report_path(report)
        config = LoopConfig(
            weeks=weeks,
            retrain_every=retrain_every,
            seeds=seeds,
            explore_share=explore_share,
            holdout_share=holdout_share,
            review_holdout_share=review_holdout_share,
            time_limit_s=time_limit,
        )
        result = evaluate_loop(data, config, log=typer.echo)
        if review_seeds:
            result["review_check"] = {
                "with_holdout": review_check(data, config, review_seeds, log=typer.echo),
                "without_holdout": review_check(data, config, review_seeds, 0.0, typer.echo),
            }
        with atomic_path(report) as tmp:
            tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
    for policy, entry in result["policies"].items():
        blocks = ", ".join(f"{b['mean']:,.0f}" for b in entry["saved_per_block"])
        shares = ", ".join(
            "-" if s is None else f"{s:.0%}" for s in entry["share_of_oracle_per_block"]
        )
        typer.echo(f"{policy:<15} saved per block {blocks}; share of oracle {shares}")
    retrains = result["policies"]["learning"]["retrains"]
    if retrains:
        typer.echo(
            "learning retrains (seed/week: ranking, * kept over a challenger): "
            + ", ".join(
                f"{r['seed']}/{r['week']}: {r['chosen']}"
                + ("*" if r.get("challenger") and r.get("kept_incumbent") else "")
                for r in retrains
            )
        )
    explore = result["policies"]["frozen_explore"]
    cost = explore["realised_cost_share_of_frozen_saved"]
    expected = explore["expected_benefit_given_up_share"]
    typer.echo(
        f"exploration ({explore_share:.0%} budget): the plans gave up "
        + ("-" if expected is None else f"{expected:.2%}")
        + " of their expected benefit; realised cost "
        + ("-" if cost is None else f"{cost:.1%}")
        + " of the frozen planner's saved value over the last 8 weeks"
    )
    for name, check in result.get("review_check", {}).items():
        width = check["mean_interval_width"]
        typer.echo(
            f"review {name}: interval covers the truth in {check['covered']} of "
            f"{check['seeds']} seeds, mean width " + ("-" if width is None else f"{width:,.0f}")
        )
    typer.echo("bars: " + ", ".join(f"{k} {v}" for k, v in result["bars"].items()))
    typer.echo(f"report: {report}")
