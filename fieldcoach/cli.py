"""The ``fieldcoach`` command line: thin commands that read and write files.

Each command imports its stage lazily so ``--help`` stays fast, and turns the stages'
expected errors into a one-line message and exit code 1 instead of a traceback.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup


class _Commands(TyperGroup):
    """Every command: a bad setting in the environment is one line, not a traceback."""

    def invoke(self, ctx):
        from fieldcoach.settings import SettingsError

        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            _fail(str(exc))


# pandera imports pyspark.pandas when PySpark is installed, and PySpark 4 warns on pandas 3
# at that import; the Spark engine is held equal to pandas by tests, so users need not see it.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")

app = typer.Typer(
    cls=_Commands,
    help="fieldcoach: churn risk, next-best visits and tailored training for customer managers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@contextmanager
def _progress(label: str) -> Iterator[tuple]:
    """A rich progress line on stderr for a step of many seconds: (log, set_total, advance).

    Shown only on a terminal, so scripts and tests read the same plain output as before;
    log lines print above the bar.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        yield typer.echo, lambda total: None, lambda: None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield (
            progress.console.print,
            lambda total: progress.update(task, total=total),
            lambda: progress.advance(task),
        )


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Expected failures (bad input, bad arguments) become one line on stderr and exit 1."""
    from features.errors import UserInputError
    from features.io import DataContractError

    try:
        yield
    except DataContractError as exc:
        # A failed contract check carries the full multi-line report; show its summary.
        report = getattr(exc, "report", None)
        _fail(report.summary() if report is not None else str(exc))
    except (UserInputError, FileNotFoundError) as exc:
        _fail(str(exc))


@app.command()
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

    with _user_errors():
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


@app.command("simulate-continue")
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

    with _user_errors():
        territory = Territory.load(data / "_state" / "territory.pkl")
        visits = read_raw_table(visit_plan) if visit_plan else None
        trainings = read_raw_table(training_plan) if training_plan else None
        territory.run(weeks, visit_plan=visits, training_plan=trainings)
        export_dataset(territory, data, file_format=territory.file_format)
    typer.echo(f"continued {weeks} weeks; data now ends {territory.current_date.date()}")


@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="Folder holding the company's tables.")],
) -> None:
    """Check a data folder against the contract; list every problem, exit 1 if any."""
    from features.validate import validate_folder

    with _user_errors():
        report = validate_folder(data)
    typer.echo(report.render())
    if not report.ok:
        raise typer.Exit(code=1)


@app.command("import")
def import_command(
    sources: Annotated[
        list[Path], typer.Argument(help="Export files (xlsx/xls every sheet, csv/txt) or folders.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Folder to write the contract tables (Parquet) into.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="TOML mapping: tables, columns, values, read options.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Problem report CSV (default: OUT.import-report.csv).")
    ] = None,
    suggest: Annotated[
        bool, typer.Option(help="Print a mapping of what was recognised (TOML) and stop.")
    ] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Import the good rows; drop (and report) the rest.")
    ] = False,
) -> None:
    """Import a company's own exports into the data contract, all or nothing, then validate."""
    from features.errors import UserInputError
    from features.importing.mapping import parse_mapping
    from features.importing.output import write_import, write_report
    from features.importing.run import import_files
    from features.importing.sources import discover
    from features.importing.suggest import suggest_mapping

    with _user_errors():
        rules = None
        if mapping is not None:
            rules = parse_mapping(mapping.read_text(encoding="utf-8-sig"), str(mapping))
        files = discover(sources)
        if not files:
            raise UserInputError("no export files (.xlsx, .xls, .csv, .txt) in the sources")
        if suggest:
            typer.echo(suggest_mapping(files, rules), nl=False)
            return
        if out is None:
            raise UserInputError("--out DIR is required (or use --suggest)")
        result = import_files(
            files, rules, skip_bad_rows, progress=lambda line: typer.echo(line, err=True)
        )
        report_path = report or out.with_name(f"{out.name}.import-report.csv")
        write_report(result.report, report_path)
        if not result.ok:
            why = result.fatal or (
                f"{result.errors:,} problem(s) found; nothing imported "
                "(fix them, or import the good rows with --skip-bad-rows)"
            )
            first = next((r for r in result.report if r.level == "error"), None)
            where = ""
            if first is not None:
                sheet = f", sheet {first.sheet}" if first.sheet else ""
                row = f", row {first.row}" if first.row else ""
                column = f", column {first.column}" if first.column else ""
                where = f"; first: {first.file}{sheet}{row}{column}: {first.problem_en}"
                where += f" ({first.value})" if first.value else ""
            raise UserInputError(f"{why}{where}; report: {report_path}")
        write_import(result, out, {"report": str(report_path)})
    for name, meta in result.provenance["tables"].items():
        names = ", ".join(Path(s).name for s in meta["sources"])
        typer.echo(f"  {name:<12} {meta['rows']:>12,} rows  from {names}")
    if result.skipped_rows:
        typer.echo(f"skipped {result.skipped_rows:,} bad rows (listed in {report_path})")
    warnings = sum(r.level == "warning" for r in result.report)
    if warnings:
        typer.echo(f"{warnings} warning(s) in {report_path}")
    typer.echo(f"wrote {out} (provenance in {out / '_import.json'})")


features_app = typer.Typer(help="Build point-in-time feature tables.", no_args_is_help=True)
train_app = typer.Typer(help="Train, evaluate and register models.", no_args_is_help=True)
score_app = typer.Typer(help="Score with the registered champion.", no_args_is_help=True)
models_app = typer.Typer(help="Inspect and override the model registry.", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(train_app, name="train")
app.add_typer(score_app, name="score")
app.add_typer(models_app, name="models")

DataOption = Annotated[Path, typer.Option(help="Folder holding the company's tables.")]
# Text, not Path: a Path would fold hdfs://host/x into hdfs:/host/x.
EngineDataOption = Annotated[
    str,
    typer.Option(help="Folder of the company's tables (--engine spark: any path Spark reads)."),
]
EngineOption = Annotated[
    str | None,
    typer.Option(help="pandas or spark (default: FIELDCOACH_ENGINE, else pandas)."),
]


def _engine(engine: str | None) -> str:
    from fieldcoach.settings import get_settings

    chosen = engine or get_settings().engine
    if chosen not in ("pandas", "spark"):
        _fail(f"--engine {chosen!r}: use pandas or spark")
    return chosen


def _spark():
    from features.engines.spark_session import start_spark
    from fieldcoach.settings import get_settings

    settings = get_settings()
    return start_spark(settings.spark_master, settings.spark_conf)


def _spark_output(out: str) -> str:
    if not out.rstrip("/").endswith(".parquet"):
        _fail(f"--out {out}: --engine spark writes a Parquet dataset; name it NAME.parquet")
    return out


def _output_path(out: Path) -> Path:
    if out.suffix not in (".csv", ".parquet"):
        _fail(f"--out {out}: use a .csv or .parquet file name")
    return out


# --------------------------------------------------------------------------- skills (issue #4)

recommend_app = typer.Typer(
    help="Training recommendations from the registered skills model.", no_args_is_help=True
)
evaluate_app = typer.Typer(help="Check models against a simulator's truth.", no_args_is_help=True)
app.add_typer(recommend_app, name="recommend")
app.add_typer(evaluate_app, name="evaluate")

SkillsModelOption = Annotated[
    str | None, typer.Option(help="Model to use (default: models:/manager-skills@champion).")
]


def _skills_config(budget_hours: float | None = None, targets: Path | None = None):
    import json

    from features.errors import UserInputError
    from training.skills import SkillsConfig

    kwargs = {}
    if budget_hours is not None:
        if budget_hours <= 0:
            raise UserInputError(f"--budget-hours must be positive, got {budget_hours}")
        kwargs["budget_hours"] = budget_hours
    if targets is not None:
        try:
            kwargs["targets_by_role"] = json.loads(Path(targets).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserInputError(f"--targets {targets}: not JSON ({exc})") from None
    return SkillsConfig(**kwargs)


@train_app.command("skills")
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
    from fieldcoach.settings import get_settings
    from training.churn import parse_date
    from training.skills_run import run_skills_training, write_report

    with _user_errors():
        config = _skills_config(budget_hours, targets)
        when = parse_date(as_of, "--as-of") if as_of else None
        result = run_skills_training(data, get_settings(), when, config, log=typer.echo)
        if report:
            write_report(result, report)
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


@recommend_app.command("training")
def recommend_training_command(
    manager: Annotated[str, typer.Option(help="Manager id (manager_id).")],
    data: Annotated[
        Path | None,
        typer.Option(help="Data folder: take course completions newer than the model from it."),
    ] = None,
    budget_hours: Annotated[
        float | None, typer.Option(help="Hours per quarter (default: the model's).")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    model_uri: SkillsModelOption = None,
) -> None:
    """Ranked training modules for one manager, with expected gains and rationales."""
    import json

    from features.errors import UserInputError
    from features.skill_gaps import explain_gaps
    from features.skill_plans import recommend_training
    from fieldcoach.settings import get_settings
    from training.skills_run import completions_from_data, load_state

    with _user_errors():
        if output not in ("table", "json"):
            raise UserInputError(f"--format must be table or json, got {output!r}")
        state = load_state(get_settings(), model_uri)
        state.check_manager(manager)
        completed = completions_from_data(data).get(manager, {}) if data else None
        plan = recommend_training(state, manager, budget_hours, completed)
    if output == "json":
        typer.echo(
            json.dumps(
                {
                    "manager_id": manager,
                    "as_of": state.as_of,
                    "modules": plan,
                    "gaps": explain_gaps(state, manager, plan, budget_hours, completed),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    gaps = state.manager_estimates(manager)
    source = {row["source"] for row in gaps.values()}
    typer.echo(
        f"{manager}: skills as of {state.as_of}"
        + (" (no assessment: KPI-based estimates)" if source == {"kpi_only"} else "")
    )
    for gap in explain_gaps(state, manager, plan, budget_hours, completed):
        if gap["reason"] != "covered":
            typer.echo(f"  gap {gap['skill_name']['en']} ({gap['gap']:+.1f}): {gap['en']}")
            typer.echo(f"  差距 {gap['skill_name']['zh']}：{gap['zh']}")
    if not plan:
        typer.echo("  no module available within the budget brings an expected gain")
    for item in plan:
        typer.echo(
            f"{item['rank']:>2}. {item['course_id']} {item['title']} ({item['hours']:g} h) "
            f"value {item['value']:.2f}, gap closed {item['expected_gap_closed']:.1f}"
        )
        typer.echo(f"    {item['rationale_zh']}")
        typer.echo(f"    {item['rationale_en']}")


@recommend_app.command("cohorts")
def recommend_cohorts_command(
    data: Annotated[
        Path | None, typer.Option(help="Data folder: restrict to its managers (optional).")
    ] = None,
    min_size: Annotated[int, typer.Option(min=1, help="Smallest session.")] = 4,
    max_size: Annotated[int, typer.Option(min=1, help="Largest session.")] = 12,
    out: Annotated[Path | None, typer.Option(help="Also write the sessions as JSON.")] = None,
    model_uri: SkillsModelOption = None,
    course: Annotated[
        str | None, typer.Option(help="Who should attend this course (course_id).")
    ] = None,
    team: Annotated[
        str | None, typer.Option(help="Only this team's managers (needs --data).")
    ] = None,
    language: Annotated[str, typer.Option(help="zh or en for labels and reasons.")] = "en",
) -> None:
    """Labelled sessions of managers who share a gap (or who should attend --course), and
    who was left out and why."""
    import json

    from features.errors import UserInputError
    from features.i18n import check_language
    from features.io import atomic_path
    from features.manager import manager_ids
    from features.skill_plans import recommend_cohorts
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings
    from training.skills_run import load_state

    with _user_errors():
        check_language(language)
        if team is not None and data is None:
            raise UserInputError("--team needs --data (the managers table names the teams)")
        state = load_state(get_settings(), model_uri)
        managers = None
        if data:
            known = set(state.managers())
            tables = load_dataset(data, ["managers", "retailers", "assessments"]).tables
            managers = [m for m in manager_ids(tables) if m in known]
            if team is not None:
                frame = tables.get("managers")
                if frame is None or "team_id" not in frame:
                    raise UserInputError("--team needs the managers table with team_id")
                members = set(frame.loc[frame["team_id"] == team, "manager_id"])
                if not members:
                    raise UserInputError(f"--team {team!r}: no such team in the data")
                managers = [m for m in managers if m in members]
        sessions = recommend_cohorts(state, min_size, max_size, managers, course)
        if out:
            with atomic_path(out) as tmp:
                tmp.write_text(json.dumps(sessions, ensure_ascii=False, indent=2))
    key = "zh" if language == "zh" else "en"
    for s in sessions:
        if s["course_id"] is None:
            typer.echo(f"{s['label'][key]} ({s['size']}):")
            for x in s.get("left_out", []):
                typer.echo(f"  {x['manager_id']}: {x[key]}")
            continue
        typer.echo(
            f"session {s['session']}: {s['label'][key]}, expected benefit "
            f"{s['expected_benefit']:.1f}: {', '.join(s['members'])}"
        )


@evaluate_app.command("skills")
def evaluate_skills_command(
    data: Annotated[Path, typer.Option(help="A simulated folder (with _truth/).")],
    report: Annotated[Path, typer.Option(help="Write the figures as JSON here.")],
    as_of: Annotated[
        str | None, typer.Option(help="Snapshot (default: the day after the last order).")
    ] = None,
    budget_hours: Annotated[float | None, typer.Option(help="Hours per quarter.")] = None,
) -> None:
    """Fit before the snapshot; Spearman per skill, course effects and recommendation gain."""
    from training.churn import parse_date
    from training.skills_evaluate import evaluate_skills
    from training.skills_run import write_report

    with _user_errors():
        when = parse_date(as_of, "--as-of") if as_of else None
        result = evaluate_skills(data, when, _skills_config(budget_hours))
        write_report(result, report)
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


@features_app.command("build")
def features_build(
    data: EngineDataOption,
    as_of: Annotated[list[str], typer.Option(help="Snapshot date(s), YYYY-MM-DD; repeatable.")],
    out: Annotated[
        str, typer.Option(help="Output file (.parquet or .csv; --engine spark: NAME.parquet).")
    ],
    active_weeks: Annotated[
        int, typer.Option(min=1, help="Population: retailers with an order in these weeks.")
    ] = 8,
    engine: EngineOption = None,
) -> None:
    """Write retailer features as of each date, from records strictly before it."""
    from features.io import write_table
    from features.retailer import build_retailer_features, check_as_of, prepare_history
    from features.validate import load_dataset
    from training.churn import parse_date

    if _engine(engine) == "spark":
        return _features_build_spark(data, as_of, _spark_output(out), active_weeks)
    with _user_errors():
        out = _output_path(Path(out))
        dates = [parse_date(d, "--as-of") for d in as_of]
        dataset = load_dataset(Path(data))
        history = prepare_history(dataset.tables)
        for date in dates:
            check_as_of(history, date)
        frame, _, snapshots = build_retailer_features(dataset.tables, dates, active_weeks, history)
        write_table(frame, out)
    typer.echo(f"wrote {len(frame):,} rows x {frame.shape[1]} columns to {out}")
    for snapshot in snapshots:
        left_out = ", ".join(f"{n:,} {why}" for why, n in snapshot.excluded.items() if n)
        typer.echo(
            f"  {snapshot.as_of.date()}: {len(snapshot.frame):,} retailers at risk"
            + (f"; left out: {left_out}" if left_out else "")
        )
    for what, why in history.disabled.items():
        typer.echo(f"  switched off: {what} ({why})")


def _features_build_spark(data: str, as_of: list[str], out: str, active_weeks: int) -> None:
    from features.engines.spark import build_retailer_features_spark
    from features.engines.spark_session import read_spark_tables, write_parquet
    from training.churn import parse_date

    with _user_errors():
        dates = [parse_date(d, "--as-of") for d in as_of]
        spark = _spark()
        result = build_retailer_features_spark(read_spark_tables(spark, data), dates, active_weeks)
        write_parquet(result.frame, out)
        at_risk, left_out = result.at_risk(), result.left_out()
        result.release()
    typer.echo(
        f"wrote {sum(at_risk.values()):,} rows x {len(result.columns)} columns to {out} (spark)"
    )
    for date in sorted(at_risk):
        excluded = ", ".join(f"{n:,} {why}" for why, n in left_out[date].items() if n)
        typer.echo(
            f"  {date}: {at_risk[date]:,} retailers at risk"
            + (f"; left out: {excluded}" if excluded else "")
        )
    for what, why in result.disabled.items():
        typer.echo(f"  switched off: {what} ({why})")


@train_app.command("churn")
def train_churn_command(
    data: DataOption,
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
) -> None:
    """Train the churn model and baselines, report on the holdout, register in MLflow."""
    from fieldcoach.settings import get_settings
    from training.churn import ChurnConfig, parse_date
    from training.churn_run import run_churn_training, write_report

    with _user_errors():
        config = ChurnConfig(
            horizon_weeks=horizon_weeks,
            label=label,
            soft_threshold=soft_threshold,
            snapshot_every_weeks=snapshot_every_weeks,
            top_k=top_k,
            tune=tune,
        )
        when = parse_date(cutoff, "--cutoff") if cutoff else None
        result = run_churn_training(data, config, get_settings(), when, log=typer.echo)
        if report:
            write_report(result, report)
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


@train_app.command("visits")
def train_visits_command(
    data: Annotated[Path, typer.Option(help="Folder holding the company's tables.")],
    horizon_weeks: Annotated[
        int, typer.Option(min=1, help="Weeks of orders after the visit week that count.")
    ] = 8,
    report: Annotated[Path | None, typer.Option(help="Write the evaluation JSON here.")] = None,
) -> None:
    """Estimate each retailer's gain from a visit this week (DR-learner); register visit-effect."""
    from fieldcoach.settings import get_settings
    from training.churn_run import write_report
    from training.visits import VisitEffectConfig
    from training.visits_run import run_visit_effect_training

    with _user_errors():
        config = VisitEffectConfig(horizon_weeks=horizon_weeks)
        with _progress("training the visit-effect model") as (log, _, _):
            result = run_visit_effect_training(data, config, get_settings(), log=log)
        if report:
            write_report(result, report)
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


@score_app.command("churn")
def score_churn_command(
    data: EngineDataOption,
    as_of: Annotated[str, typer.Option(help="Score date, YYYY-MM-DD.")],
    out: Annotated[
        str,
        typer.Option(
            help="Output file (.csv or .parquet; --engine spark: NAME.parquet, "
            "partitioned by as_of)."
        ),
    ],
    model_uri: Annotated[
        str | None, typer.Option(help="Model to use (default: the registered champion).")
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Write each retailer's churn probability, value at risk and top reasons."""
    from features.io import write_table
    from fieldcoach.settings import get_settings
    from training.score import score_churn

    if _engine(engine) == "spark":
        return _score_churn_spark(data, as_of, _spark_output(out), model_uri)
    with _user_errors():
        out = _output_path(Path(out))
        scores = score_churn(Path(data), as_of, get_settings(), model_uri)
        write_table(scores, out)
    typer.echo(f"scored {len(scores):,} retailers as of {as_of}; wrote {out}")


def _score_churn_spark(data: str, as_of: str, out: str, model_uri: str | None) -> None:
    from features.engines.spark_session import read_spark_tables, write_parquet
    from fieldcoach.settings import get_settings
    from training.score_spark import score_churn_spark

    with _user_errors():
        spark = _spark()
        scores = score_churn_spark(
            read_spark_tables(spark, data), as_of, get_settings(), model_uri
        )
        write_parquet(scores.frame, out, partition_by=["as_of"])
        scores.release()
    typer.echo(f"scored {scores.at_risk:,} retailers as of {as_of}; wrote {out} (spark)")


@models_app.command("list")
def models_list() -> None:
    """Registered models, their versions, aliases and headline metrics."""
    from fieldcoach.settings import get_settings
    from training.registry import configure_mlflow, list_models

    rows = list_models(configure_mlflow(get_settings()))
    if not rows:
        typer.echo("no registered models yet (run `fieldcoach train churn`)")
    for row in rows:
        tags = row.get("tags", {})
        kind = tags.get("model_kind", "")
        headline = []
        if "rule_metric" in tags:
            headline.append(f"{tags['rule_metric']} {tags['rule_value']} (promotion rule)")
        prefix = f"{kind or 'lightgbm'}_"
        headline += [
            f"{k.split('_', 1)[1]} {v:.4f}"
            for k, v in row["metrics"].items()
            if k.startswith(prefix) and k.split("_", 1)[1] in ("roc_auc", "ece")
        ]
        typer.echo(
            f"{row['model']:<16} v{row['version']:<4} {','.join(row['aliases']) or '-':<28}"
            f" {kind:<9}{', '.join(headline)}"
        )


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="Registered model, e.g. retailer-churn.")],
    version: Annotated[int, typer.Option(help="Version to make champion.")],
) -> None:
    """Make a version the champion (the old one becomes previous-champion)."""
    from fieldcoach.settings import get_settings
    from training.registry import configure_mlflow, promote

    with _user_errors():
        typer.echo(promote(configure_mlflow(get_settings()), name, version))


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Argument(help="Registered model, e.g. retailer-churn.")],
) -> None:
    """Make the previous champion the champion again."""
    from fieldcoach.settings import get_settings
    from training.registry import configure_mlflow, rollback

    with _user_errors():
        typer.echo(rollback(configure_mlflow(get_settings()), name))


@evaluate_app.command("policy")
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

    from features.io import atomic_path
    from fieldcoach.settings import get_settings
    from training.policy import (
        POLICIES,
        PolicyConfig,
        evaluate_policies,
        log_policy_run,
        policy_chart,
    )

    with _user_errors():
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


plan_app = typer.Typer(help="Plan next-best visits.", no_args_is_help=True)
app.add_typer(plan_app, name="plan")


def _plan_context(data: Path | None, week: str | None):
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings
    from planning.plan import Models, prepare_week

    settings = get_settings()
    dataset = load_dataset(data or settings.resolved_data_dir)
    models = Models.load(settings.resolved_tracking_uri)
    return prepare_week(dataset.tables, week, models)


def _stored_feedback():
    """Planners' decisions and done visits from the service database, for the CLI's plans."""
    from fieldcoach.settings import get_settings
    from serving.db import make_engine, plan_feedback, session_factory

    url = get_settings().resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None  # no service database yet: nobody has told us anything
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            return plan_feedback(session)
    finally:
        engine.dispose()


def _echo_plan(plan: dict) -> None:
    from features.i18n import COLUMNS, pick

    language = plan.get("language", "en")

    def header(column: str) -> str:
        return pick(COLUMNS[column], language)

    typer.echo(
        f"{plan['manager_id']} {plan['week']} ({plan['week_start']}): "
        f"{len(plan['visits'])} of {plan['capacity']} visits, "
        f"expected benefit {plan['expected_benefit']:,.0f}, {plan['total_km']} km"
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
        typer.echo(f"  {day['date']}: {day['visits']} visits, {day['km']} km: {route}")
    for note in plan["notes"]:
        typer.echo(f"  note: {note}")


def _write_plan(out: Path, plan: dict, team: bool = False) -> None:
    """The plan as JSON, or its route rows as CSV or Excel, by the file's extension."""
    import json

    from features.i18n import localise_rows
    from features.io import atomic_path, check_report_path, write_report_rows
    from planning.export import route_rows, team_route_rows

    out = check_report_path(out)
    if out.suffix.lower() == ".json":
        with atomic_path(out) as tmp:
            tmp.write_text(json.dumps(plan, ensure_ascii=False, indent=2), encoding="utf-8")
        return
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
PlanOutOption = Annotated[
    Path | None,
    typer.Option(help="Also write the plan: .json (whole plan), .csv or .xlsx (route order)."),
]


@plan_app.command("visits")
def plan_visits(
    manager: Annotated[str, typer.Option(help="Customer manager id.")],
    week: Annotated[
        str | None, typer.Option(help="ISO week YYYY-Www (default: the week after the data).")
    ] = None,
    capacity: CapacityOption = None,
    days: DaysOption = 5,
    min_gap_days: MinGapOption = 7,
    max_days_between_visits: FrequencyOption = None,
    data: Annotated[Path | None, typer.Option(help="Data folder (default: settings).")] = None,
    language: LanguageOption = "en",
    out: PlanOutOption = None,
    work_on_holidays: HolidaysOption = False,
) -> None:
    """A manager's next-best visits for a week: ranked list and day-by-day routes."""
    from features.i18n import check_language
    from features.io import check_report_path
    from planning.plan import plan_manager

    with _user_errors():
        check_language(language)
        if out:
            check_report_path(out)
        context = _plan_context(data, week)
        plan = plan_manager(
            context,
            manager,
            capacity=capacity,
            days=days,
            min_gap_days=min_gap_days,
            language=language,
            max_days_between_visits=max_days_between_visits,
            include_non_working_days=work_on_holidays,
            feedback=_stored_feedback(),
        )
        if out:
            _write_plan(out, plan)
    _echo_plan(plan)


@plan_app.command("team")
def plan_team_command(
    team: Annotated[str, typer.Option(help="Team id (managers.team_id).")],
    week: Annotated[str | None, typer.Option(help="ISO week YYYY-Www.")] = None,
    capacity: CapacityOption = None,
    days: DaysOption = 5,
    min_gap_days: MinGapOption = 7,
    max_days_between_visits: FrequencyOption = None,
    data: Annotated[Path | None, typer.Option(help="Data folder (default: settings).")] = None,
    language: LanguageOption = "en",
    out: PlanOutOption = None,
    work_on_holidays: HolidaysOption = False,
) -> None:
    """Plans for every manager of a team for the week (same options as `plan visits`)."""
    from features.i18n import check_language
    from features.io import check_report_path
    from planning.plan import plan_team

    with _user_errors():
        check_language(language)
        if out:
            check_report_path(out)
        context = _plan_context(data, week)
        plans = plan_team(
            context,
            team,
            capacity=capacity,
            days=days,
            min_gap_days=min_gap_days,
            language=language,
            max_days_between_visits=max_days_between_visits,
            include_non_working_days=work_on_holidays,
            feedback=_stored_feedback(),
        )
        if out:
            _write_plan(out, plans, team=True)
    typer.echo(
        f"team {plans['team_id']} {plans['week']}: {len(plans['managers'])} managers, "
        f"{plans['visits']} visits, expected benefit {plans['expected_benefit']:,.0f}, "
        f"{plans['total_km']} km"
    )
    for plan in plans["managers"]:
        typer.echo(
            f"  {plan['manager_id']}: {len(plan['visits'])} visits, "
            f"benefit {plan['expected_benefit']:,.0f}, {plan['total_km']} km"
        )


# --------------------------------------------------------------------------- serving (issue #6)


@app.command()
def serve(
    data: Annotated[Path | None, typer.Option(help="Data folder (default: settings).")] = None,
    host: Annotated[str | None, typer.Option(help="Address (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: settings).")] = None,
) -> None:
    """Run the API: load the champions and the data, then answer on HOST:PORT."""
    import os

    import uvicorn

    # An unreachable tracking server should fall back to the exported copy within seconds,
    # not after MLflow's default of seven retries with exponential backoff.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")

    from fieldcoach.settings import get_settings
    from serving.app import create_app

    settings = get_settings()
    if data is not None:
        settings = settings.model_copy(update={"data_dir": data})
    uvicorn.run(
        create_app(settings),
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="info",
    )


keys_app = typer.Typer(help="API keys for the serving API.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="planner, coordinator, data_scientist or admin.")],
    team: Annotated[
        list[str] | None,
        typer.Option(
            help="Team a planner or coordinator key may see (repeat; * for all). A "
            "coordinator key without --team is company-wide; other roles take none."
        ),
    ] = None,
    label: Annotated[str | None, typer.Option(help="Who the key is for.")] = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from serving.security import create_key

    engine = _service_engine()
    try:
        with session_factory_for(engine)() as session:
            key, _ = create_key(session, role, team, label)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        engine.dispose()
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """Every key's id, prefix, role, teams, label and whether it is revoked (never the key)."""
    from serving.security import principal_of, stored_keys

    engine = _service_engine()
    try:
        with session_factory_for(engine)() as session:
            rows = stored_keys(session)
    finally:
        engine.dispose()
    typer.echo(f"{'id':>4}  {'prefix':<8} {'role':<15} {'teams':<16} {'revoked':<20} label")
    for row in rows:
        teams = ",".join(sorted(principal_of(row).teams)) or "-"
        revoked = row.revoked_at.isoformat(timespec="seconds") + "Z" if row.revoked_at else "-"
        typer.echo(
            f"{row.id:>4}  {row.prefix:<8} {row.role:<15} {teams:<16} {revoked:<20} "
            f"{row.label or ''}"
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (`fieldcoach keys list`).")],
) -> None:
    """Revoke a key: the API refuses it from its next request on, in every worker."""
    from serving.security import revoke_key

    engine = _service_engine()
    try:
        with session_factory_for(engine)() as session:
            row = revoke_key(session, key_id)
    finally:
        engine.dispose()
    if row is None:
        _fail(f"no key {key_id} (`fieldcoach keys list` shows every key)")
    typer.echo(f"revoked key {row.id} ({row.prefix}..., {row.role})")


def _service_engine():
    """The service database's engine (its SQLite file's folder created if needed)."""
    from fieldcoach.settings import get_settings
    from serving.db import make_engine

    settings = get_settings()
    if settings.resolved_database_url.startswith("sqlite:///"):
        settings.ensure_home()
    return make_engine(settings.resolved_database_url)


def session_factory_for(engine):
    from serving.db import session_factory

    return session_factory(engine)


@plan_app.command("batch")
def plan_batch(
    week: Annotated[
        str | None, typer.Option(help="ISO week YYYY-Www (default: the week after the data).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="Data folder (default: settings).")] = None,
    time_limit: Annotated[
        float,
        typer.Option(
            help="Safety cap in solver seconds per manager (plans stop after a fixed number "
            "of solutions, so re-runs agree; a plan that hits the cap says so)."
        ),
    ] = 5.0,
) -> None:
    """Precompute every manager's default plan for the week; the API serves them as stored."""
    from fieldcoach.settings import get_settings
    from serving.batch import precompute_plans

    with _user_errors(), _progress("planning every manager's week") as (log, total, advance):
        result = precompute_plans(
            get_settings(), week, data, time_limit, log=log, progress=(total, advance)
        )
    typer.echo(
        f"stored plans for {result['managers']} managers, week {result['week']} "
        f"(models {result['models']})"
    )


feedback_app = typer.Typer(help="Feedback collected by the API.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    data: Annotated[Path | None, typer.Option(help="Data folder (default: settings).")] = None,
) -> None:
    """Append done visits and training completions to the data folder's tables (once each)."""
    from fieldcoach.settings import get_settings
    from serving.batch import export_feedback
    from serving.db import make_engine, session_factory

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    with _user_errors(), session_factory(engine)() as session:
        counts = export_feedback(session, data or settings.resolved_data_dir)
    engine.dispose()
    typer.echo(
        f"exported {counts['records']} records: {counts['visits']} visits and "
        f"{counts['trainings']} trainings added"
    )
