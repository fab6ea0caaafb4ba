"""Check a company's tables against the data contract and report every problem at once.

Everything here is derived from ``features.contract``: the pandera schemas give the
columns, types, ranges, allowed values and unique keys; the ``fieldcoach`` field metadata
gives foreign keys, list columns and date order. Nothing is written per table.

Validation runs in two phases so that one bad cell is reported once, in plain words:

1. Coerce each contract column to its type (text, number, whole number, date) and report
   the cells that do not parse.
2. Run the pandera checks (nulls, ranges, allowed values, unique keys; ``lazy=True``) and
   the cross-table rules on the coerced frame, dropping failures of cells already
   reported in phase 1.

All checks are vectorised (no loops over rows), so this runs on tens of millions of orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from features.coercion import coerce_column, column_kind
from features.contract import TABLES, missing_capabilities, schema_for
from features.feedback_rows import FEEDBACK_DIR, FEEDBACK_KEYS, merge_feedback, read_feedback
from features.io import DataContractError, read_raw_table, table_file_candidates
from features.table_rules import metadata_problems, pandera_problems
from features.validation_report import (
    Dataset,
    Problem,
    TableCheck,
    TableSummary,
    ValidationReport,
    format_value,
)

# --------------------------------------------------------------------------- entry points


def _summary(table: TableCheck) -> TableSummary:
    date_column = TABLES[table.name].date_column
    first = last = None
    if date_column and date_column in table.typed.columns:
        dates = table.typed[date_column]
        if dates.notna().any():
            first, last = format_value(dates.min()), format_value(dates.max())
    return TableSummary(
        table.name, table.file, len(table.typed), date_column if first else None, first, last
    )


def _problem_order(problem: Problem) -> tuple[int, int]:
    """Problems by table (contract order), then column (schema order), stable otherwise."""
    tables = list(TABLES)
    if problem.table not in TABLES:
        return (-1, -1)
    columns = list(schema_for(problem.table).columns)
    first = (problem.column or "").split(" + ")[0]
    return (tables.index(problem.table), columns.index(first) if first in columns else -1)


def validate_tables(
    raw: dict[str, pd.DataFrame], files: dict[str, str] | None = None
) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Validate raw tables (as read, e.g. CSV text) against the contract.

    Args:
        raw: frames by table name.
        files: file name of each table (``orders.csv``), used in messages and to number
            rows: CSV lines (header = line 1) or 1-based Parquet rows.

    Returns:
        The coerced frames by table (contract types; extra columns kept as read) and the
        report of every problem found. Frames are only trustworthy when ``report.ok``.
    """
    files = dict(files or {})
    report = ValidationReport()
    unknown = sorted(set(raw) - set(TABLES))
    if unknown:
        report.notes.append(f"not contract tables, ignored: {', '.join(unknown)}")
    for name, spec in TABLES.items():
        if spec.required and name not in raw:
            report.problems.append(
                Problem(name, name, None, f"required table missing ({name}.csv or {name}.parquet)")
            )

    tables: dict[str, TableCheck] = {}
    for name in TABLES:
        if name in raw:
            tables[name] = TableCheck(name, raw[name], files.get(name))
            files.setdefault(name, tables[name].file)
            if TABLES[name].required and raw[name].empty:
                # An empty orders file is no history at all: every later stage would fail
                # with a misleading message about horizons and 1970 dates.
                report.problems.append(
                    tables[name].problem(None, "required table has no data rows (only a header)")
                )

    # Phase 1: columns and types.
    for name, table in tables.items():
        schema = schema_for(name)
        table.typed.columns = [str(c).strip() for c in table.typed.columns]
        table.raw.columns = table.typed.columns
        for column, spec in schema.columns.items():
            if column not in table.typed.columns:
                if spec.required:
                    report.problems.append(table.problem(column, "required column missing"))
                continue
            problem = coerce_column(table, column, column_kind(spec.dtype))
            if problem:
                report.problems.append(problem)
        extra = [c for c in table.typed.columns if c not in schema.columns]
        if extra:
            report.notes.append(
                f"{table.file}: columns not in the contract, ignored: {', '.join(extra)}"
            )

    # Phase 2: value rules on the coerced frames, then rules across rows and tables.
    for table in tables.values():
        report.problems.extend(pandera_problems(table))
        report.problems.extend(metadata_problems(table, tables, files))

    report.problems.sort(key=_problem_order)
    report.tables = [_summary(t) for t in tables.values()]
    report.capabilities_off = missing_capabilities(set(tables))
    return {name: t.typed for name, t in tables.items()}, report


def _read_folder(
    folder: Path, names: Iterable[str] | None, learnt: dict[str, pd.DataFrame] | None = None
) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[Problem], list[str]]:
    wanted = list(TABLES) if names is None else list(names)
    unknown = [n for n in wanted if n not in TABLES]
    if unknown:
        raise ValueError(f"not contract tables: {', '.join(unknown)}")
    candidates = table_file_candidates(folder)
    raw: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    for name, paths in candidates.items():
        if name not in wanted:
            continue
        if len(paths) > 1:
            listed = " and ".join(p.name for p in paths)
            problems.append(
                Problem(name, name, None, f"present twice ({listed}); keep one file per table")
            )
            continue
        path = paths[0]
        try:
            raw[name] = read_raw_table(path)
        except (ValueError, OSError) as exc:  # parser, encoding and Arrow errors
            problems.append(Problem(path.name, name, None, f"could not be read: {exc}"))
            continue
        files[name] = path.name
    known = {f"{n}{s}" for n in TABLES for s in (".csv", ".parquet")}
    strays = sorted(
        p.name
        for p in Path(folder).iterdir()
        if p.suffix in (".csv", ".parquet") and p.name not in known
    )
    notes = [f"files that are not contract tables, ignored: {', '.join(strays)}"] if strays else []
    unread = {p.table for p in problems}
    for name in FEEDBACK_KEYS:
        if name not in wanted or name in unread:
            continue
        note = _add_feedback(folder, name, raw, files, (learnt or {}).get(name))
        if note:
            notes.append(note)
    return raw, files, problems, notes


def _add_feedback(
    folder: Path,
    name: str,
    raw: dict[str, pd.DataFrame],
    files: dict[str, str],
    learnt: pd.DataFrame | None = None,
) -> str | None:
    """Merge what the service learnt for table ``name`` (``learnt``, else the folder's
    ``_feedback/`` file) after the company's rows; a note saying so, or None."""
    rows = learnt if learnt is not None else read_feedback(folder, name)
    if rows is None or rows.empty:
        return None
    where = f"{FEEDBACK_DIR}/{name}.parquet"
    if name in raw:
        raw[name], added = merge_feedback(raw[name], rows, name)
    else:
        raw[name], added, files[name] = rows, len(rows), where
    if not added:
        return None
    return f"{files[name]}: {added:,} row(s) the service learnt added from {where}"


def _validate(
    folder: Path, names: Iterable[str] | None, learnt: dict[str, pd.DataFrame] | None = None
):
    folder = Path(folder)
    raw, files, read_problems, notes = _read_folder(folder, names, learnt)
    unread = {p.table for p in read_problems}
    typed, report = validate_tables(raw, files)
    # A table that exists but could not be read is not "missing".
    report.problems = read_problems + [
        p for p in report.problems if not (p.column is None and p.table in unread)
    ]
    report.notes = notes + report.notes
    report.folder = str(folder)
    return typed, report


def validate_folder(
    folder: Path, learnt: dict[str, pd.DataFrame] | None = None
) -> ValidationReport:
    """Validate every contract table in ``folder`` (``orders.csv``/``.parquet``, ...), with
    what the service learnt merged in (``learnt``: rows by table in place of ``_feedback/``).
    """
    return _validate(folder, None, learnt)[1]


def load_dataset(folder: Path, tables: Iterable[str] | None = None) -> Dataset:
    """Read, validate and type the tables in ``folder``.

    Args:
        tables: the tables to read (default: all present). Cross-table rules are checked
            among the tables read; ``orders`` must exist either way.

    Raises:
        DataContractError: any problem; the message is the full rendered report.
    """
    names = None if tables is None else list(dict.fromkeys([*tables, "orders"]))
    typed, report = _validate(folder, names)
    if not report.ok:
        error = DataContractError(report.render())
        error.report = report  # commands show its one-line summary
        raise error
    if tables is not None:
        typed = {n: typed[n] for n in tables if n in typed}
    return Dataset(tables=typed, folder=Path(folder), report=report)
