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
    from features.io import write_table
    from fieldcoach.settings import get_settings
    from training.score import score_churn

    chosen, out = engine_output(engine, out)
    if chosen == "spark":
        return _score_churn_spark(data, as_of, out, model_uri)
    with user_errors():
        scores = score_churn(Path(data), as_of, get_settings(), model_uri)
        write_table(scores, Path(out))
    typer.echo(f"scored {len(scores):,} retailers as of {as_of}; wrote {Path(out)}")


def _score_churn_spark(data: str, as_of: str, out: str, model_uri: str | None) -> None:
    from features.engines.spark_session import write_parquet
    from fieldcoach.settings import get_settings
    from training.score_spark import score_churn_spark

    with user_errors():
        scores = score_churn_spark(spark_tables(data), as_of, get_settings(), model_uri)
        write_parquet(scores.frame, out, partition_by=["as_of"])
        scores.release()
    typer.echo(f"scored {scores.at_risk:,} retailers as of {as_of}; wrote {out} (spark)")
