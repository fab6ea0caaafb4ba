"""`score churn`: each retailer's churn risk from the registered champion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import (
    EngineDataOption,
    EngineOption,
    engine_output,
    spark_tables,
    user_errors,
)

app = typer.Typer(help="Score with the registered champion.", no_args_is_help=True)


@app.command("churn")
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
    from features.calendar import parse_date
    from features.io import write_table
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings
    from serving.churn_scores import load_churn_model, score_churn

    chosen, out = engine_output(engine, out)
    if chosen == "spark":
        return _score_churn_spark(data, as_of, out, model_uri)
    with user_errors():
        date = parse_date(as_of, "--as-of")
        model, uri = load_churn_model(get_settings(), model_uri)
        scores = score_churn(load_dataset(Path(data)).tables, date, model, uri)
        write_table(scores, Path(out))
    typer.echo(f"scored {len(scores):,} retailers as of {as_of}; wrote {Path(out)}")


def _score_churn_spark(data: str, as_of: str, out: str, model_uri: str | None) -> None:
    from features.calendar import parse_date
    from features.engines.spark_session import write_parquet
    from fieldcoach.settings import get_settings
    from serving.churn_scores_spark import download_champion, score_churn_spark

    with user_errors():
        tables = spark_tables(data)
        date = parse_date(as_of, "--as-of")
        local, uri = download_champion(get_settings(), model_uri)
        scores = score_churn_spark(tables, date, local, uri)
        write_parquet(scores.frame, out, partition_by=["as_of"])
        scores.release()
    typer.echo(f"scored {scores.at_risk:,} retailers as of {as_of}; wrote {out} (spark)")
