"""`simulate` and `simulate-continue`: write a simulated territory, or run it on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import user_errors


def simulate(
    out: Annotated[Path, typer.Option(help="Folder to write the dataset (and _truth/) into.")],
    retailers: Annotated[int, typer.Option(min=1, help="Retailers at the start.")] = 2000,
    managers: Annotated[int, typer.Option(min=1, help="Customer managers.")] = 10,
    weeks: Annotated[int, typer.Option(min=1, help="Weeks to simulate.")] = 104,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 0,
    start: Annotated[str, typer.Option(help="First Monday of the simulation.")] = "2024-01-01",
    file_format: Annotated[
        str, typer.Option("--format", help="File format of the tables: parquet or csv.")
    ] = "parquet",
    scenario: Annotated[
        str,
        typer.Option(help="Causal story: default or contested (see docs/simulator.md)."),
    ] = "default",
    ordering: Annotated[
        str,
        typer.Option(
            help="weekly (every retailer a weekly buyer) or irregular (a mix of weekly, "
            "fortnightly, monthly and sporadic buyers)."
        ),
    ] = "weekly",
) -> None:
    """Simulate a territory and write its records in the data contract, truth in OUT/_truth/."""
    from simulator import SimulationConfig, Territory, export_dataset

    with user_errors():
        config = SimulationConfig(
            n_retailers=retailers,
            n_managers=managers,
            start=start,
            seed=seed,
            scenario=scenario,
            ordering=ordering,
        )
        territory = Territory.create(config)
        territory.run(weeks)
        written = export_dataset(territory, out, file_format=file_format)
    story = "" if scenario == "default" else f" ({scenario} scenario)"
    typer.echo(f"simulated {weeks} weeks of {retailers} retailers and {managers} managers{story}")
    for name, rows in written.items():
        typer.echo(f"  {name:<12} {rows:>12,} rows")
    typer.echo(f"wrote {out} (truth in {out / '_truth'}, state in {out / '_state'})")


def simulate_continue(
    data: Annotated[Path, typer.Option(help="A folder written by `fieldcoach simulate`.")],
    weeks: Annotated[int, typer.Option(min=1, help="Weeks to continue.")] = 1,
    visit_plan: Annotated[
        Path | None,
        typer.Option(help="Visits to make (retailer_id, manager_id, visit_date[, purpose])."),
    ] = None,
    training_plan: Annotated[
        Path | None,
        typer.Option(help="Courses to complete (manager_id, course_id, completed_on)."),
    ] = None,
) -> None:
    """Continue a simulated territory under a given visit and training plan, appending data.

    Without a plan the simulated company follows its current practice (rotation visits,
    courses chosen by the latest weak assessment).
    """
    from features.io import read_raw_table
    from simulator import Territory, export_dataset

    with user_errors():
        territory = Territory.load(data / "_state" / "territory.pkl")
        visits = read_raw_table(visit_plan) if visit_plan else None
        trainings = read_raw_table(training_plan) if training_plan else None
        territory.run(weeks, visit_plan=visits, training_plan=trainings)
        export_dataset(territory, data, file_format=territory.file_format)
    typer.echo(f"continued {weeks} weeks; data now ends {territory.current_date.date()}")
