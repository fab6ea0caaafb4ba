"""`validate` and `import`: check a data folder, or turn a company's exports into one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import user_errors


def validate(
    data: Annotated[Path, typer.Argument(help="Folder holding the company's tables.")],
) -> None:
    """Check a data folder against the contract; list every problem, exit 1 if any."""
    from features.validate import validate_folder

    with user_errors():
        report = validate_folder(data)
    typer.echo(report.render())
    if not report.ok:
        raise typer.Exit(code=1)


def import_command(
    sources: Annotated[
        list[Path], typer.Argument(help="Export files (xlsx/xls every sheet, csv/txt) or folders.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Folder to write the contract tables (Parquet) into.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="TOML mapping: tables, columns, values, read options.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Problem report CSV (default: OUT.import-report.csv).")
    ] = None,
    suggest: Annotated[
        bool, typer.Option(help="Print a mapping of what was recognised (TOML) and stop.")
    ] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Import the good rows; drop (and report) the rest.")
    ] = False,
) -> None:
    """Import a company's own exports into the data contract, all or nothing, then validate."""
    from features.errors import UserInputError
    from features.importing.mapping import parse_mapping
    from features.importing.output import write_import, write_report
    from features.importing.run import import_files
    from features.importing.sources import discover
    from features.importing.suggest import suggest_mapping

    with user_errors():
        rules = None
        if mapping is not None:
            rules = parse_mapping(mapping.read_text(encoding="utf-8-sig"), str(mapping))
        files = discover(sources)
        if not files:
            raise UserInputError("no export files (.xlsx, .xls, .csv, .txt) in the sources")
        if suggest:
            typer.echo(suggest_mapping(files, rules), nl=False)
            return
        if out is None:
            raise UserInputError("--out DIR is required (or use --suggest)")
        result = import_files(
            files, rules, skip_bad_rows, progress=lambda line: typer.echo(line, err=True)
        )
        report_path = report or out.with_name(f"{out.name}.import-report.csv")
        write_report(result.report, report_path)
        if not result.ok:
            why = result.fatal or (
                f"{result.errors:,} problem(s) found; nothing imported "
                "(fix them, or import the good rows with --skip-bad-rows)"
            )
            first = next((r for r in result.report if r.level == "error"), None)
            where = ""
            if first is not None:
                sheet = f", sheet {first.sheet}" if first.sheet else ""
                row = f", row {first.row}" if first.row else ""
                column = f", column {first.column}" if first.column else ""
                where = f"; first: {first.file}{sheet}{row}{column}: {first.problem_en}"
                where += f" ({first.value})" if first.value else ""
            raise UserInputError(f"{why}{where}; report: {report_path}")
        write_import(result, out, {"report": str(report_path)})
    for name, meta in result.provenance["tables"].items():
        names = ", ".join(Path(s).name for s in meta["sources"])
        typer.echo(f"  {name:<12} {meta['rows']:>12,} rows  from {names}")
    if result.skipped_rows:
        typer.echo(f"skipped {result.skipped_rows:,} bad rows (listed in {report_path})")
    warnings = sum(r.level == "warning" for r in result.report)
    if warnings:
        typer.echo(f"{warnings} warning(s) in {report_path}")
    typer.echo(f"wrote {out} (provenance in {out / '_import.json'})")
