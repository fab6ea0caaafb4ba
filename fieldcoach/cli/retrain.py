"""`retrain`: the whole training pipeline on a schedule, safe to run from cron."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import SettingsDataOption, fail, user_errors


def retrain(
    data: SettingsDataOption = None,
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds to wait for a retrain already running (default 0: stop at once "
            "with a message and exit code 75).",
        ),
    ] = 0.0,
    summary: Annotated[
        Path | None, typer.Option(help="Also write the run's summary JSON here.")
    ] = None,
    feedback: Annotated[
        bool, typer.Option(help="Export the service's feedback into the data folder first.")
    ] = True,
    tune: Annotated[
        bool, typer.Option(help="Rolling-origin search of the churn model's settings.")
    ] = True,
) -> None:
    """Export feedback, validate, train churn, visits and skills, promote all or nothing.

    Runs under a lock (a second run at once waits --wait seconds, then exits 75); any
    failed step exits 1 and promotes nothing, so the previous champions keep serving.
    """
    from features.io import atomic_path
    from fieldcoach.settings import get_settings
    from training.churn import ChurnConfig
    from training.retrain import RetrainBusy, RetrainFailed, summary_lines
    from training.retrain import retrain as run_retrain

    settings = get_settings()
    data_dir = data or settings.resolved_data_dir
    exporter = _feedback_exporter(settings) if feedback else None
    try:
        with user_errors():
            result = run_retrain(
                data_dir,
                settings,
                export_feedback=exporter,
                churn_config=ChurnConfig(tune=tune),
                wait_s=wait,
                log=lambda line: typer.echo(line, err=True),
            )
    except RetrainBusy as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=75) from None  # EX_TEMPFAIL: cron may simply try next time
    except RetrainFailed as exc:
        _write(summary, exc.summary, atomic_path)
        for line in summary_lines(exc.summary):
            typer.echo(line)
        fail(str(exc))
    _write(summary, result, atomic_path)
    for line in summary_lines(result):
        typer.echo(line)
    typer.echo(f"retrain ok; summary: {summary or result['summary_file']}")


def _write(path: Path | None, summary: dict, atomic_path) -> None:
    if path is None:
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")


def _feedback_exporter(settings):
    """The feedback export step, bound to the service database (skipped if it has none)."""
    from serving.db import make_engine, session_factory
    from serving.feedback_export import export_feedback, export_plan_log

    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None  # no service database yet: no feedback to export

    def run(data_dir: Path) -> dict[str, int]:
        engine = make_engine(url)
        try:
            with session_factory(engine)() as session:
                counts = export_feedback(session, data_dir)
                counts["recommendations"] = export_plan_log(session, data_dir)
                return counts
        finally:
            engine.dispose()

    return run
