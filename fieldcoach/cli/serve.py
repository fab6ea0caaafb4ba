"""`serve`: run the API."""

from __future__ import annotations

from typing import Annotated

import typer

from fieldcoach.cli.common import SettingsDataOption


def serve(
    data: SettingsDataOption = None,
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
