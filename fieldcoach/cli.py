"""The ``fieldcoach`` command line: thin commands that read and write files.

Each command imports its stage lazily so ``--help`` stays fast, and turns the stages'
expected errors into a one-line message and exit code 1 instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="fieldcoach: churn risk, next-best visits and tailored training for customer managers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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
) -> None:
    """Simulate a territory and write its records in the data contract, truth in OUT/_truth/."""
    from simulator import SimulationConfig, Territory, export_dataset

    with _user_errors():
        config = SimulationConfig(
            n_retailers=retailers, n_managers=managers, start=start, seed=seed
        )
        territory = Territory.create(config)
        territory.run(weeks)
        written = export_dataset(territory, out, file_format=file_format)
    typer.echo(f"simulated {weeks} weeks of {retailers} retailers and {managers} managers")
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


features_app = typer.Typer(help="Build point-in-time feature tables.", no_args_is_help=True)
train_app = typer.Typer(help="Train, evaluate and register models.", no_args_is_help=True)
score_app = typer.Typer(help="Score with the registered champion.", no_args_is_help=True)
models_app = typer.Typer(help="Inspect and override the model registry.", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(train_app, name="train")
app.add_typer(score_app, name="score")
app.add_typer(models_app, name="models")

DataOption = Annotated[Path, typer.Option(help="Folder holding the company's tables.")]


def _output_path(out: Path) -> Path:
    if out.suffix not in (".csv", ".parquet"):
        _fail(f"--out {out}: use a .csv or .parquet file name")
    return out


@features_app.command("build")
def features_build(
    data: DataOption,
    as_of: Annotated[list[str], typer.Option(help="Snapshot date(s), YYYY-MM-DD; repeatable.")],
    out: Annotated[Path, typer.Option(help="Output file (.parquet or .csv).")],
    active_weeks: Annotated[
        int, typer.Option(min=1, help="Population: retailers with an order in these weeks.")
    ] = 8,
) -> None:
    """Write retailer features as of each date, from records strictly before it."""
    from features.io import write_table
    from features.retailer import build_retailer_features, check_as_of, prepare_history
    from features.validate import load_dataset
    from training.churn import parse_date

    with _user_errors():
        out = _output_path(out)
        dates = [parse_date(d, "--as-of") for d in as_of]
        dataset = load_dataset(data)
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
        if horizon_weeks < 1:
            _fail("--horizon-weeks must be at least 1")
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
    for name in ("lightgbm", "logistic", "recency", "oracle"):
        if name in result:
            m = result[name]
            typer.echo(
                f"{name:<10}{m['roc_auc']:>9.4f}{m['pr_auc']:>9.4f}{m['brier']:>9.5f}"
                f"{m['ece']:>8.4f}{m['precision_top10']:>8.3f}{m['recall_top10']:>8.3f}"
            )
    if report:
        typer.echo(f"report: {report}")


@score_app.command("churn")
def score_churn_command(
    data: DataOption,
    as_of: Annotated[str, typer.Option(help="Score date, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option(help="Output file (.csv or .parquet).")],
    model_uri: Annotated[
        str | None, typer.Option(help="Model to use (default: the registered champion).")
    ] = None,
) -> None:
    """Write each retailer's churn probability, value at risk and top reasons."""
    from features.io import write_table
    from fieldcoach.settings import get_settings
    from training.score import score_churn

    with _user_errors():
        out = _output_path(out)
        scores = score_churn(data, as_of, get_settings(), model_uri)
        write_table(scores, out)
    typer.echo(f"scored {len(scores):,} retailers as of {as_of}; wrote {out}")


@models_app.command("list")
def models_list() -> None:
    """Registered models, their versions, aliases and headline metrics."""
    from fieldcoach.settings import get_settings
    from training.registry import configure_mlflow, list_models

    rows = list_models(configure_mlflow(get_settings()))
    if not rows:
        typer.echo("no registered models yet (run `fieldcoach train churn`)")
    for row in rows:
        headline = {
            k: round(v, 4)
            for k, v in row["metrics"].items()
            if k.startswith("lightgbm_") and k.split("_", 1)[1] in ("roc_auc", "ece")
        }
        typer.echo(
            f"{row['model']:<16} v{row['version']:<4} {','.join(row['aliases']) or '-':<28}"
            f" {headline}"
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
