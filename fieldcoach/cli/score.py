"""`score churn`: each retailer's churn risk from the registered champion."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import (
    EngineDataOption,
    EngineOption,
    output_path,
    resolve_engine,
    spark_output,
    spark_session,
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

    if resolve_engine(engine) == "spark":
        return _score_churn_spark(data, as_of, spark_output(out), model_uri)
    with user_errors():
        out = output_path(Path(out))
        scores = score_churn(Path(data), as_of, get_settings(), model_uri)
        write_table(scores, out)
    typer.echo(f"scored {len(scores):,} retailers as of {as_of}; wrote {out}")


def _score_churn_spark(data: str, as_of: str, out: str, model_uri: str | None) -> None:
    from features.engines.spark_session import read_spark_tables, write_parquet
    from fieldcoach.settings import get_settings
    from training.score_spark import score_churn_spark

    with user_errors():
        spark = spark_session()
        scores = score_churn_spark(
            read_spark_tables(spark, data), as_of, get_settings(), model_uri
        )
        write_parquet(scores.frame, out, partition_by=["as_of"])
        scores.release()
    typer.echo(f"scored {scores.at_risk:,} retailers as of {as_of}; wrote {out} (spark)")
