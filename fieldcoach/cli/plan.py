"""`plan visits|team|batch`: next-best visits for a manager, a team, or everyone."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import (
    EngineOption,
    SettingsDataOption,
    progress,
    resolve_engine,
    spark_session,
    user_errors,
)

app = typer.Typer(help="Plan next-best visits.", no_args_is_help=True)


def _plan_context(
    data: Path | None, week: str | None, manager: str | None = None, team: str | None = None
):
    """The week prepared for one manager's or one team's plans: only their retailers are
    scored (the plans are those of the week prepared whole)."""
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings
    from planning.week import Models, prepare_week

    settings = get_settings()
    dataset = load_dataset(data or settings.resolved_data_dir)
    models = Models.load(settings.resolved_tracking_uri, settings.models_dir)
    managers = [manager] if manager else None
    staff = dataset.tables.get("managers")
    if team is not None and staff is not None and "team_id" in staff:
        managers = list(staff.loc[staff["team_id"] == team, "manager_id"]) or None
    return prepare_week(dataset.tables, week, models, managers=managers)


def _stored_feedback():
    """Planners' decisions and done visits from the service database, for the CLI's plans."""
    from fieldcoach.settings import get_settings

    url = get_settings().resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None  # no service database yet: nobody has told us anything
    from serving.db import make_engine, plan_feedback, session_factory  # SQLAlchemy: 0.5 s

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return plan_feedback(session)
    finally:
        engine.dispose()


def _echo_plan(plan: dict) -> None:
    from features.i18n import COLUMNS, pick, say

    language = plan.get("language", "en")

    def header(column: str) -> str:
        return pick(COLUMNS[column], language)

    typer.echo(
        say(
            "cli_plan_head",
            language,
            manager=plan["manager_id"],
            week=plan["week"],
            monday=plan["week_start"],
            planned=len(plan["visits"]),
            capacity=plan["capacity"],
            benefit=f"{plan['expected_benefit']:,.0f}",
            km=plan["total_km"],
        )
    )
    typer.echo(
        f"{'#':>3} {header('retailer_id'):<10} {header('churn_probability'):>7} "
        f"{header('expected_benefit'):>9}  {header('purpose_name'):<14}"
        f"{header('days_since_last_visit'):>10}  {header('date')}"
    )
    for v in plan["visits"]:
        last = "-" if v["days_since_last_visit"] is None else f"{v['days_since_last_visit']}"
        typer.echo(
            f"{v['rank']:>3} {v['retailer_id']:<10} {v['churn_probability']:>7.3f} "
            f"{v['expected_benefit']:>9,.0f}  {v.get('purpose_name') or v['purpose']:<14}"
            f"{last:>10}  {v['date']}"
        )
        for reason in v["reasons"][:2]:
            typer.echo(f"      {reason}")
    for day in plan["schedule"]:
        route = " -> ".join(day["route"])
        line = say(
            "cli_plan_day",
            language,
            date=day["date"],
            visits=day["visits"],
            km=day["km"],
            route=route,
        )
        typer.echo(f"  {line}")
    for note in plan["notes"]:
        typer.echo(f"  {say('cli_note', language, note=note)}")


def _write_plan(out: Path, plan: dict) -> None:
    """The plan (a manager's, or a team's with its managers' plans) as JSON, or its route rows
    as CSV or Excel, by the file's extension."""
    import json

    from features.i18n import localise_rows
    from features.io import atomic_path, check_report_path, write_report_rows
    from planning.export import route_rows, team_route_rows

    out = check_report_path(out)
    if out.suffix.lower() == ".json":
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(plan, ensure_ascii=False, indent=2), encoding="utf-8")
        return
    team = "managers" in plan
    rows = team_route_rows(plan) if team else route_rows(plan)
    language = plan["managers"][0]["language"] if team and plan["managers"] else None
    language = language or plan.get("language", "en")
    write_report_rows(localise_rows(rows, language), out)


LanguageOption = Annotated[
    str, typer.Option(help="zh or en: reasons, purposes, talking points, headers, notes.")
]
CapacityOption = Annotated[
    int | None, typer.Option(help="Visits this week (default: the manager's capacity).")
]
DaysOption = Annotated[int, typer.Option(help="Working days.")]
MinGapOption = Annotated[int, typer.Option(help="No retailer twice within this.")]
FrequencyOption = Annotated[
    int | None,
    typer.Option(help="Visit-frequency rule: every retailer at least this often."),
]
HolidaysOption = Annotated[
    bool,
    typer.Option(
        "--work-on-holidays",
        help="Plan on public holidays and company days off too (default: working days only).",
    ),
]
ExploreOption = Annotated[
    float | None,
    typer.Option(
        help="Share of capacity drawn at random among the near-best, every candidate's "
        "probability logged (default: FIELDCOACH_EXPLORE_SHARE, 0.05; 0: off)."
    ),
]
HoldoutOption = Annotated[
    float | None,
    typer.Option(
        help="Share of the retailers the plan would recommend held back for the week at "
        "random, to measure lift (default: FIELDCOACH_HOLDOUT_SHARE, 0)."
    ),
]


def _exploration(explore_share: float | None, holdout_share: float | None):
    """The options, else the settings: the same draw as the service and `plan batch`."""
    from fieldcoach.settings import get_settings
    from planning.explore import Exploration

    settings = get_settings()
    return Exploration(
        settings.explore_share if explore_share is None else explore_share,
        settings.holdout_share if holdout_share is None else holdout_share,
    )


PlanOutOption = Annotated[
    Path | None,
    typer.Option(help="Also write the plan: .json (whole plan), .csv or .xlsx (route order)."),
]


WeekOption = Annotated[
    str | None, typer.Option(help="ISO week YYYY-Www (default: the week after the data).")
]


def _plan_week(
    planner: Callable[..., dict],
    target: str,
    of_team: bool,
    *,
    week: WeekOption = None,
    capacity: CapacityOption = None,
    days: DaysOption = 5,
    min_gap_days: MinGapOption = 7,
    max_days_between_visits: FrequencyOption = None,
    data: SettingsDataOption = None,
    language: LanguageOption = "en",
    out: PlanOutOption = None,
    work_on_holidays: HolidaysOption = False,
    explore_share: ExploreOption = None,
    holdout_share: HoldoutOption = None,
) -> dict:
    """``planner(context, target)``, a manager's plan or (``of_team``) a team's, with the
    options `plan visits` and `plan team` share, written to ``out`` if asked. Its keyword-only
    parameters are those commands' options (see ``_week_options``)."""
    from features.i18n import check_language
    from features.io import check_report_path

    with user_errors():
        check_language(language)
        if out:
            check_report_path(out)
        scope = {"team" if of_team else "manager": target}
        plan = planner(
            _plan_context(data, week, **scope),
            target,
            capacity=capacity,
            days=days,
            min_gap_days=min_gap_days,
            language=language,
            max_days_between_visits=max_days_between_visits,
            include_non_working_days=work_on_holidays,
            feedback=_stored_feedback(),
            exploration=_exploration(explore_share, holdout_share),
        )
        if out:
            _write_plan(out, plan)
    return plan


def _week_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` as typer reads it: its own options, then ``_plan_week``'s, which typer
    hands it as ``**options``; so both plan commands declare the shared options once."""
    own = inspect.signature(command, eval_str=True).parameters.values()
    shared = inspect.signature(_plan_week, eval_str=True).parameters.values()
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p for p in own if p.kind is not p.VAR_KEYWORD]
        + [p for p in shared if p.kind is p.KEYWORD_ONLY]
    )
    return command


@app.command("visits")
@_week_options
def plan_visits(
    manager: Annotated[str, typer.Option(help="Customer manager id.")], **options
) -> None:
    """A manager's next-best visits for a week: ranked list and day-by-day routes."""
    from planning.plan import plan_manager

    _echo_plan(_plan_week(plan_manager, manager, False, **options))


@app.command("team")
@_week_options
def plan_team_command(
    team: Annotated[str, typer.Option(help="Team id (managers.team_id).")], **options
) -> None:
    """Plans for every manager of a team for the week (same options as `plan visits`)."""
    from features.i18n import say
    from planning.plan import plan_team

    plans = _plan_week(plan_team, team, True, **options)
    language = options.get("language", "en")
    typer.echo(
        say(
            "cli_team_head",
            language,
            team=plans["team_id"],
            week=plans["week"],
            managers=len(plans["managers"]),
            visits=plans["visits"],
            benefit=f"{plans['expected_benefit']:,.0f}",
            km=plans["total_km"],
        )
    )
    for plan in plans["managers"]:
        line = say(
            "cli_team_manager",
            language,
            manager=plan["manager_id"],
            visits=len(plan["visits"]),
            benefit=f"{plan['expected_benefit']:,.0f}",
            km=plan["total_km"],
        )
        typer.echo(f"  {line}")


@app.command("batch")
def plan_batch(
    week: WeekOption = None,
    # Text, not Path: a Path would fold hdfs://host/x into hdfs:/host/x (--engine spark).
    data: Annotated[
        str | None,
        typer.Option(
            help="Data folder (default: settings; --engine spark: any path Spark reads)."
        ),
    ] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            help="Safety cap in solver seconds per manager (plans stop after a fixed number "
            "of solutions, so re-runs agree; a plan that hits the cap says so)."
        ),
    ] = 5.0,
    explore_share: ExploreOption = None,
    holdout_share: HoldoutOption = None,
    engine: EngineOption = None,
) -> None:
    """Precompute every manager's default plan for the week; the API serves them as stored."""
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings
    from serving.batch import precompute_plans, start_champions
    from serving.served_territory import ServedTerritory

    settings = get_settings()
    chosen = {"explore_share": explore_share, "holdout_share": holdout_share}
    settings = settings.model_copy(update={k: v for k, v in chosen.items() if v is not None})
    folder = data or str(settings.resolved_data_dir)
    if resolve_engine(engine) == "spark":
        from features.engines.spark_session import read_spark_tables
        from serving.batch_spark import precompute_plans_spark

        with user_errors():
            _exploration(explore_share, holdout_share)  # a share out of range: one line
            spark = spark_session()
            store = start_champions(settings, log=typer.echo)
            tables = read_spark_tables(spark, folder, positions=True)
            result = precompute_plans_spark(
                tables, store, settings, spark, week, time_limit, log=typer.echo
            )
        typer.echo(
            f"stored plans for {result['managers']} managers, week {result['week']} "
            f"(models {result['models']}; spark)"
        )
        return
    with user_errors(), progress("planning every manager's week") as (log, total, advance):
        _exploration(explore_share, holdout_share)  # a share out of range: one line
        store = start_champions(settings, log=log)
        territory = ServedTerritory.from_dataset(load_dataset(Path(folder)), store)
        result = precompute_plans(
            territory, settings, week, time_limit, log=log, progress=(total, advance)
        )
    typer.echo(
        f"stored plans for {result['managers']} managers, week {result['week']} "
        f"(models {result['models']})"
    )
