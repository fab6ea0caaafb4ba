"""`features build`: point-in-time retailer feature tables (pandas or Spark)."""

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

app = typer.Typer(help="Build point-in-time feature tables.", no_args_is_help=True)


@app.command("build")
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
    from features.calendar import parse_date
    from features.io import write_table
    from features.retailer import build_retailer_features, check_as_of, prepare_history
    from features.validate import load_dataset

    chosen, out = engine_output(engine, out)
    if chosen == "spark":
        return _features_build_spark(data, as_of, out, active_weeks)
    with user_errors():
        dates = [parse_date(d, "--as-of") for d in as_of]
        dataset = load_dataset(Path(data))
        history = prepare_history(dataset.tables)
        for date in dates:
            check_as_of(history, date)
        frame, _, snapshots = build_retailer_features(dataset.tables, dates, active_weeks, history)
        write_table(frame, Path(out))
    typer.echo(f"wrote {len(frame):,} rows x {frame.shape[1]} columns to {Path(out)}")
    for snapshot in snapshots:
        left_out = ", ".join(f"{n:,} {why}" for why, n in snapshot.excluded.items() if n)
        typer.echo(
            f"  {snapshot.as_of.date()}: {len(snapshot.frame):,} retailers at risk"
            + (f"; left out: {left_out}" if left_out else "")
        )
    for what, why in history.disabled.items():
        typer.echo(f"  switched off: {what} ({why})")


def _features_build_spark(data: str, as_of: list[str], out: str, active_weeks: int) -> None:
    from features.calendar import parse_date
    from features.engines.spark import build_retailer_features_spark
    from features.engines.spark_session import write_parquet

    with user_errors():
        dates = [parse_date(d, "--as-of") for d in as_of]
        result = build_retailer_features_spark(spark_tables(data), dates, active_weeks)
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
