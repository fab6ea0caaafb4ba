"""`evaluate uplift`: the review of what recommended visits did, from stored plans and orders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import user_errors


def evaluate_uplift(
    data: Annotated[Path, typer.Option(help="Folder of the company's tables.")],
    report: Annotated[
        Path, typer.Option(help="Review JSON; the workbook (.xlsx) and charts go beside it.")
    ],
    since: Annotated[
        str | None, typer.Option(help="Only plans for weeks from this date (YYYY-MM-DD).")
    ] = None,
    horizon_weeks: Annotated[
        int, typer.Option(min=1, help="Weeks of orders after the planned week that count.")
    ] = 4,
) -> None:
    """Effect of recommended visits on later orders and retention, with 95% intervals.

    Compares retailers the plans recommended at random (exploration) with those they
    passed over or held out at random, so no model is trusted. Overall, per purpose, team
    and manager (shrunk), plus acceptance, done rates and rejection reasons.
    """
    from evaluation.uplift import ReviewConfig, review
    from evaluation.uplift_report import cjk_font, write_review
    from features.calendar import parse_date
    from features.io import check_report_path
    from features.validate import load_dataset
    from fieldcoach.settings import get_settings

    settings = get_settings()
    with user_errors():
        check_report_path(report)
        cjk_font()  # before any work: without the font the charts would be boxes
        when = parse_date(since, "--since") if since else None
        tables = load_dataset(data).tables
        result = review(tables, ReviewConfig(horizon_weeks=horizon_weeks), when, _feedback())
        write_review(result, report, settings)
    rows = result["rows"]
    typer.echo(
        f"{rows['randomised']:,} randomised retailer-weeks of {rows['logged']:,} logged "
        f"({rows['not_randomised']:,} recommended or passed over for sure, "
        f"{rows['outcome_not_complete']:,} without {horizon_weeks} weeks of orders yet)"
    )
    for key, unit in (("order_value", "yuan"), ("retention", "share")):
        o = result[key]["overall"]
        if o["estimate"] is None:
            typer.echo(f"  {key}: no estimate ({o['why_not']})")
        else:
            typer.echo(
                f"  {key}: {o['estimate']:+,.3f} {unit} [95% {o['ci_low']:+,.3f}, "
                f"{o['ci_high']:+,.3f}] ({o['recommended']} vs {o['not_recommended']})"
            )
    typer.echo(result["verdict"]["zh"])
    typer.echo(result["verdict"]["en"])
    typer.echo(f"report: {report} (workbook {result['files']['workbook']})")


def _feedback() -> list[dict]:
    """Decisions and outcomes the service stored, as plain rows (none without a database)."""
    from sqlalchemy import select

    from fieldcoach.settings import get_settings
    from serving.db import Feedback, make_engine, session_factory

    url = get_settings().resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            rows = session.scalars(
                select(Feedback)
                .where(Feedback.kind.in_(("decision", "outcome")))
                .order_by(Feedback.id)
            )
            return [{"kind": r.kind, **r.payload} for r in rows]
    finally:
        engine.dispose()
