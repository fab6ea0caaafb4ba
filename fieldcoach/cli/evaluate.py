"""`evaluate skills|policy`: models and visit policies checked against a simulator's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import skills_config, user_errors, write_run_report

app = typer.Typer(help="Check models against a simulator's truth.", no_args_is_help=True)


@app.command("skills")
def evaluate_skills_command(
    data: Annotated[Path, typer.Option(help="A simulated folder (with _truth/).")],
    report: Annotated[Path, typer.Option(help="Write the figures as JSON here.")],
    as_of: Annotated[
        str | None, typer.Option(help="Snapshot (default: the day after the last order).")
    ] = None,
    budget_hours: Annotated[float | None, typer.Option(help="Hours per quarter.")] = None,
) -> None:
    """Fit before the snapshot; Spearman per skill, course effects and recommendation gain."""
    from evaluation.skills import evaluate_skills
    from features.calendar import parse_date

    with user_errors():
        when = parse_date(as_of, "--as-of") if as_of else None
        result = evaluate_skills(data, when, skills_config(budget_hours))
        write_run_report(result, report)
    for skill, figures in result["skills"].items():
        typer.echo(
            f"{skill:<22} spearman {figures['spearman']:.3f} "
            f"(latest assessment {figures['spearman_latest_assessment']:.3f})"
        )
    effects, rec = result["course_effects"], result["recommendation"]
    typer.echo(
        f"course effects: correlation {effects['correlation']:.3f}, "
        f"false credit rate {effects['false_credit_rate']:.3f}"
    )
    typer.echo(
        f"recommendation: gain vs oracle {rec['gain_vs_oracle']:.3f}, "
        f"vs baseline {rec['gain_vs_baseline']:.3f}"
    )
    typer.echo(
        "bars: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in result["bars"].items())
    )
    typer.echo(f"report: {report}")


@app.command("policy")
def evaluate_policy(
    data: Annotated[Path, typer.Option(help="A folder written by `fieldcoach simulate`.")],
    weeks: Annotated[int, typer.Option(min=1, help="Weeks to run each policy.")] = 8,
    seeds: Annotated[int, typer.Option(min=1, help="Futures (random seeds) per policy.")] = 5,
    report: Annotated[Path | None, typer.Option(help="Write the comparison JSON here.")] = None,
    solution_limit: Annotated[
        int,
        typer.Option(min=1, help="Planner solver solutions per manager (same data, same plans)."),
    ] = 200,
    time_limit: Annotated[
        float, typer.Option(help="Cap on the planner solver's seconds per manager.")
    ] = 5.0,
) -> None:
    """Run every visit policy on the simulator from the data's end and compare what each keeps."""
    import json

    from evaluation.policy_report import evaluate_policies, log_policy_run, policy_chart
    from evaluation.policy_runs import POLICIES
    from evaluation.policy_setup import PolicyConfig
    from features.io import atomic_path
    from fieldcoach.settings import get_settings

    with user_errors():
        config = PolicyConfig(
            weeks=weeks, seeds=seeds, time_limit_s=time_limit, solution_limit=solution_limit
        )
        result = evaluate_policies(data, config, log=typer.echo)
        chart_path = (report or Path(get_settings().home) / "policy.json").with_suffix(".png")
        policy_chart(result, chart_path)
        result["chart"] = str(chart_path)
        result["mlflow_run_id"] = log_policy_run(result, chart_path, get_settings())
        if report:
            with atomic_path(report) as tmp:
                tmp.write_text(json.dumps(result, indent=2))
    typer.echo(f"\n{weeks} weeks from {result['snapshot']}, {seeds} seeds (mean [95% interval])")
    typer.echo(f"{'policy':<10}{'retained value':>34}{'retained retailers':>30}")
    for policy in POLICIES:
        v, r = result[policy]["retained_value"], result[policy]["retained_retailers"]
        typer.echo(
            f"{policy:<10}{v['mean']:>14,.0f} [{v['ci_low']:>8,.0f}, {v['ci_high']:>8,.0f}]"
            f"{r['mean']:>10,.1f} [{r['ci_low']:>7,.1f}, {r['ci_high']:>7,.1f}]"
        )
    typer.echo(
        f"planner keeps {result['planner_vs_oracle_saved']:.0%} of the oracle's saved "
        f"value and {result['planner_vs_risk_saved']:.2f}x that of highest-risk-first"
    )
    typer.echo(f"chart: {result['chart']}")
