"""`feedback export`: what the API collected, into the data folder."""

from __future__ import annotations

import typer

from fieldcoach.cli.common import SettingsDataOption, user_errors

app = typer.Typer(help="Feedback collected by the API.", no_args_is_help=True)


@app.command("export")
def feedback_export(
    data: SettingsDataOption = None,
) -> None:
    """Add done visits and training completions to the data folder (in _feedback/; once each),
    and the stored plans' candidates with their probabilities (recommendations)."""
    from fieldcoach.settings import get_settings
    from serving.db import make_engine, session_factory
    from serving.feedback_export import export_feedback, export_plan_log

    settings = get_settings()
    engine = make_engine(settings.resolved_database_url)
    with user_errors(), session_factory(engine)() as session:
        counts = export_feedback(session, data or settings.resolved_data_dir)
        logged = export_plan_log(session, data or settings.resolved_data_dir)
    engine.dispose()
    typer.echo(
        f"exported {counts['records']} records: {counts['visits']} visits and "
        f"{counts['trainings']} trainings added"
    )
    typer.echo(f"plan log: {logged} candidate-weeks added to recommendations")
