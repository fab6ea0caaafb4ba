"""What every command group shares: one-line errors, the progress line, common options.

Stages are imported inside the helpers, as in the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer


@contextmanager
def progress(label: str) -> Iterator[tuple]:
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


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Expected failures (bad input, bad arguments) become one line on stderr and exit 1."""
    from features.errors import UserInputError
    from features.io import DataContractError

    try:
        yield
    except DataContractError as exc:
        # A failed contract check carries the full multi-line report; show its summary.
        report = getattr(exc, "report", None)
        fail(report.summary() if report is not None else str(exc))
    except (UserInputError, FileNotFoundError) as exc:
        fail(str(exc))


DataOption = Annotated[Path, typer.Option(help="Folder holding the company's tables.")]
SettingsDataOption = Annotated[Path | None, typer.Option(help="Data folder (default: settings).")]
# Text, not Path: a Path would fold hdfs://host/x into hdfs:/host/x.
EngineDataOption = Annotated[
    str,
    typer.Option(help="Folder of the company's tables (--engine spark: any path Spark reads)."),
]
EngineOption = Annotated[
    str | None,
    typer.Option(help="pandas or spark (default: FIELDCOACH_ENGINE, else pandas)."),
]


def resolve_engine(engine: str | None) -> str:
    from fieldcoach.settings import get_settings

    chosen = engine or get_settings().engine
    if chosen not in ("pandas", "spark"):
        fail(f"--engine {chosen!r}: use pandas or spark")
    return chosen


def spark_session():
    from features.engines.spark_session import start_spark
    from fieldcoach.settings import get_settings

    settings = get_settings()
    return start_spark(settings.spark_master, settings.spark_conf)


def spark_tables(data: str) -> dict:
    """The company's tables as Spark frames, read on the session the settings configure."""
    from features.engines.spark_session import read_spark_tables

    return read_spark_tables(spark_session(), data)


def engine_output(engine: str | None, out: str) -> tuple[str, str]:
    """(the engine to run on, --out checked for what it writes): a Parquet dataset named
    NAME.parquet on Spark (any path Spark writes), a local .csv or .parquet file on pandas."""
    chosen = resolve_engine(engine)
    if chosen == "spark":
        if not out.rstrip("/").endswith(".parquet"):
            fail(f"--out {out}: --engine spark writes a Parquet dataset; name it NAME.parquet")
    elif Path(out).suffix not in (".csv", ".parquet"):
        fail(f"--out {Path(out)}: use a .csv or .parquet file name")
    return chosen, out


def write_run_report(report: dict, path: Path) -> None:
    """A run's report as JSON (Chinese kept readable), written atomically."""
    import json

    from features.io import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))


SkillsModelOption = Annotated[
    str | None, typer.Option(help="Model to use (default: models:/manager-skills@champion).")
]


def skills_config(budget_hours: float | None = None, targets: Path | None = None):
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
