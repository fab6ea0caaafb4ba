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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from features.contract import (
    ALLOWED_ITEMS,
    LIST_OF,
    LIST_SEPARATOR,
    NOT_BEFORE,
    REFERENCES,
    TABLES,
    column_rules,
    missing_capabilities,
    schema_for,
)
from features.io import DataContractError, read_raw_table, table_file_candidates
from features.pandera_quiet import pa

MAX_ROWS_SHOWN = 10
MAX_EXAMPLES = 5
DATE_UNIT = "datetime64[us]"  # microseconds: holds 9999-12-31 ("never expires") dates

ROW_CONVENTION = (
    'Row numbers: "line N" is the line of a CSV file as a text editor shows it (line 1 is '
    'the header, so the first data row is line 2); "row N" counts the data rows of a '
    "Parquet file from 1."
)

_TYPE_RULES = {
    "number": "not a number",
    "integer": "not a whole number",
    "date": "not a date (write dates as YYYY-MM-DD)",
}


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Problem:
    """One broken rule: every failing cell of one (file, column, rule), grouped."""

    file: str
    table: str
    column: str | None
    rule: str
    rows: tuple[int, ...] = ()  # first MAX_ROWS_SHOWN row/line numbers, as the user counts
    count: int = 0  # failing rows in total
    examples: tuple[str, ...] = ()
    row_label: str = "row"  # "line" for CSV files, "row" otherwise
    # Every failing 0-based position (not rendered): lets an importer drop or trace them all.
    positions: np.ndarray | None = field(default=None, compare=False, hash=False, repr=False)

    def render(self) -> str:
        where = self.file if self.column is None else f"{self.file}, column {self.column}"
        if " + " in (self.column or ""):
            where = f"{self.file}, columns {self.column}"
        if self.count:
            label = self.row_label if self.count == 1 else f"{self.row_label}s"
            shown = ", ".join(str(r) for r in self.rows)
            more = ", ..." if self.count > len(self.rows) else ""
            noun = "row" if self.count == 1 else "rows"
            where += f", {label} {shown}{more} ({self.count:,} {noun})"
        text = f"{where}: {self.rule}"
        if self.examples:
            text += "; e.g. " + ", ".join(self.examples)
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "table": self.table,
            "column": self.column,
            "rule": self.rule,
            "row_label": self.row_label,
            "rows": list(self.rows),
            "count": self.count,
            "examples": list(self.examples),
            "message": self.render(),
        }


@dataclass(frozen=True)
class TableSummary:
    table: str
    file: str
    rows: int
    date_column: str | None = None
    first_date: str | None = None
    last_date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ValidationReport:
    """Everything found about a data folder; ``ok`` when there is no problem."""

    folder: str | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[TableSummary] = field(default_factory=list)
    capabilities_off: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        title = f"Data contract check of {self.folder}" if self.folder else "Data contract check"
        lines = [title, ROW_CONVENTION, ""]
        if self.tables:
            lines.append("Tables:")
            width = max(len(t.file) for t in self.tables)
            for t in self.tables:
                span = ""
                if t.first_date:
                    span = f"  {t.date_column} {t.first_date} .. {t.last_date}"
                noun = "row" if t.rows == 1 else "rows"
                lines.append(f"  {t.file:<{width}}  {t.rows:>12,} {noun:<4}{span}")
        else:
            lines.append("Tables: none found")
        if self.capabilities_off:
            lines += ["", "Switched off (tables missing):"]
            for capability, tables in self.capabilities_off.items():
                lines.append(f"  - {capability} (needs {', '.join(tables)})")
        if self.notes:
            lines += ["", "Notes:"]
            lines += [f"  - {note}" for note in self.notes]
        lines.append("")
        if self.problems:
            lines.append(f"Problems ({len(self.problems)}):")
            lines += [f"  - {p.render()}" for p in self.problems]
            lines += ["", f"FAILED: {len(self.problems)} problem(s); fix them and run again."]
        else:
            lines.append("OK: the data meets the contract.")
        return "\n".join(lines)

    def summary(self) -> str:
        """One line for a command's error: the first problem, how many more, where to look."""
        where = self.folder or "the data folder"
        first = " ".join(self.problems[0].render().split()) if self.problems else "no problem"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return (
            f"{where} does not meet the data contract: {first}{more}; "
            f"`fieldcoach validate {where}` lists every problem"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "folder": self.folder,
            "row_convention": ROW_CONVENTION,
            "tables": [t.to_dict() for t in self.tables],
            "capabilities_off": self.capabilities_off,
            "notes": list(self.notes),
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass
class Dataset:
    """Validated tables with contract types (text ``str``, numbers, dates)."""

    tables: dict[str, pd.DataFrame]
    folder: Path | None
    report: ValidationReport

    def __contains__(self, table: str) -> bool:
        return table in self.tables

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]


# --------------------------------------------------------------------------- helpers


class _Table:
    """One table being validated: its raw and coerced frames and where to point users."""

    def __init__(self, name: str, raw: pd.DataFrame, file: str | None):
        self.name = name
        self.file = file or name
        self.row_label = "line" if self.file.endswith(".csv") else "row"
        self.offset = 2 if self.row_label == "line" else 1
        self.raw = raw.reset_index(drop=True)
        self.typed = self.raw.copy()
        # Cells already reported as unparseable, by column (skipped by later checks).
        self.bad: dict[str, np.ndarray] = {}

    def problem(
        self,
        column: str | None,
        rule: str,
        positions: np.ndarray | None = None,
        examples: Iterable[Any] = (),
    ) -> Problem:
        rows: tuple[int, ...] = ()
        count = 0
        if positions is not None:
            positions = np.sort(np.asarray(positions, dtype=np.int64))
            count = len(positions)
            rows = tuple(int(p) + self.offset for p in positions[:MAX_ROWS_SHOWN])
        return Problem(
            file=self.file,
            table=self.name,
            column=column,
            rule=rule,
            rows=rows,
            count=count,
            examples=_examples(examples),
            row_label=self.row_label,
            positions=positions,
        )


def column_kind(dtype: Any) -> str:
    name = str(dtype).lower()
    if name.startswith("datetime"):
        return "date"
    if name.startswith("int"):
        return "integer"
    if name.startswith("float"):
        return "number"
    return "text"


def _format_value(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return "(" + ", ".join(_format_value(v) for v in value) + ")"
    text = str(value)
    return repr(text) if (text != text.strip() or text == "" or "," in text) else text


def _examples(values: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        text = _format_value(value)
        if text not in out:
            out.append(text)
        if len(out) >= MAX_EXAMPLES:
            break
    return tuple(out)


def _first_unique(values: pd.Series | pd.Index, n: int = MAX_EXAMPLES) -> list[Any]:
    """A few distinct values in order of appearance, without touching all of a huge column."""
    head = values[: max(n * 200, 1000)]
    return list(pd.unique(np.asarray(head, dtype=object))[:n])


def _number(value: Any) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def describe_check(check: pa.Check) -> str:
    """A pandera column check in plain words, e.g. ``>= 0`` or ``one of: a, b``."""
    stats = check.statistics or {}
    name = check.name
    if name == "greater_than_or_equal_to":
        return f">= {_number(stats['min_value'])}"
    if name == "greater_than":
        return f"> {_number(stats['min_value'])}"
    if name == "less_than_or_equal_to":
        return f"<= {_number(stats['max_value'])}"
    if name == "less_than":
        return f"< {_number(stats['max_value'])}"
    if name == "in_range":
        return f"between {_number(stats['min_value'])} and {_number(stats['max_value'])}"
    if name == "isin":
        return "one of: " + ", ".join(str(v) for v in stats["allowed_values"])
    if name == "notin":
        return "none of: " + ", ".join(str(v) for v in stats["forbidden_values"])
    if name == "equal_to":
        return f"equal to {stats['value']}"
    if name == "str_matches":
        return f"matching the pattern {stats['pattern']}"
    return check.error or name


def type_name(dtype: Any) -> str:
    """The contract type of a schema column in words: text, number, whole number, date."""
    return {"text": "text", "number": "number", "integer": "whole number", "date": "date"}[
        column_kind(dtype)
    ]


# --------------------------------------------------------------------------- phase 1: types


def _to_text(raw: pd.Series) -> pd.Series:
    """Any column as text; integer IDs (e.g. from Parquet) become ``"123"``, not rejected."""
    if pd.api.types.is_float_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isnan(values) | (np.mod(values, 1) == 0)
        if whole.all():
            raw = raw.astype("Int64")
    text = raw.astype("str")
    array = _arrow_text(text)
    if array is not None:  # Arrow's trim takes a third of .str.strip() on millions of IDs
        trimmed = pd.array(pc.utf8_trim_whitespace(array), dtype=text.dtype)
        text = pd.Series(trimmed, index=text.index)
    else:
        text = text.str.strip()
    return text.mask(text == "")


def _present(raw: pd.Series) -> np.ndarray:
    """Cells holding something (not null, not blank text)."""
    present = raw.notna().to_numpy()
    if pd.api.types.is_string_dtype(raw.dtype) or raw.dtype == object:
        text = raw.astype("str").str.strip()
        present = present & (text != "").fillna(False).to_numpy(dtype=bool)
    return present


def _to_number(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return pd.Series(np.nan, index=raw.index)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.astype("float64")
    try:  # fast path (an Arrow cast) when every cell is a clean number
        return raw.astype("float64")
    except (ValueError, TypeError):
        return pd.to_numeric(raw.astype("str").str.strip(), errors="coerce").astype("float64")


def _to_date(raw: pd.Series) -> pd.Series:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        raw = raw.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        return raw.astype(DATE_UNIT)
    # Parse each distinct value once: a date column of 25M orders has a few hundred days.
    codes, uniques = pd.factorize(raw.astype("str").str.strip())
    parsed = pd.to_datetime(pd.Series(uniques, dtype=object), format="ISO8601", errors="coerce")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    parsed = parsed.astype(DATE_UNIT).to_numpy()
    values = np.where(codes >= 0, parsed[np.clip(codes, 0, None)], np.datetime64("NaT"))
    return pd.Series(values, index=raw.index, dtype=DATE_UNIT)


def _coerce_column(table: _Table, column: str, kind: str) -> Problem | None:
    raw = table.raw[column]
    if kind == "text":
        table.typed[column] = _to_text(raw)
        return None
    typed = _to_date(raw) if kind == "date" else _to_number(raw)
    # Unparseable = something was there but no value came out (blank cells are nulls).
    missing = np.flatnonzero(typed.isna().to_numpy())
    bad = np.zeros(len(raw), dtype=bool)
    bad[missing] = _present(raw.iloc[missing])
    if kind == "integer":
        fraction = typed.notna().to_numpy() & (np.mod(typed.to_numpy(na_value=np.nan), 1) != 0)
        bad |= fraction
        typed = typed.mask(fraction)
        typed = typed.astype("int64") if not typed.isna().any() else typed.astype("Int64")
    table.typed[column] = typed
    if not bad.any():
        return None
    table.bad[column] = bad
    positions = np.flatnonzero(bad)
    return table.problem(
        column, _TYPE_RULES[kind], positions, raw.iloc[positions[: MAX_EXAMPLES * 20]]
    )


# --------------------------------------------------------------------------- phase 2: pandera


def _rule_schema(name: str, columns: Sequence[str]) -> pa.DataFrameSchema:
    """The table's pandera schema minus types (phase 1 did them) and absent columns."""
    schema = schema_for(name)
    absent = [c for c in schema.columns if c not in columns]
    schema = schema.remove_columns(absent) if absent else schema
    schema = schema.update_columns({c: {"dtype": None, "coerce": False} for c in schema.columns})
    unique = schema.unique
    if unique and any(c not in columns for c in unique):
        schema.unique = None  # a key column is absent (reported already)
    return schema


def _pandera_problems(table: _Table) -> list[Problem]:
    schema = _rule_schema(table.name, list(table.typed.columns))
    try:
        # inplace: types were set in phase 1 and nothing is coerced, so no copy is needed.
        schema.validate(table.typed, lazy=True, inplace=True)
        return []
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases
    failures = failures[failures["index"].notna()]
    problems: list[Problem] = []

    multi = failures["check"] == "multiple_fields_uniqueness"
    if multi.any():
        keys = list(schema.unique or [])
        positions = np.unique(failures.loc[multi, "index"].to_numpy(dtype=np.int64))
        skip = np.zeros(len(positions), dtype=bool)
        for key in keys:
            if key in table.bad:
                skip |= table.bad[key][positions]
        positions = positions[~skip]
        if len(positions):
            sample = table.typed[keys].iloc[positions[: MAX_EXAMPLES * 20]]
            problems.append(
                table.problem(
                    " + ".join(keys),
                    "each combination must be unique (appears more than once)",
                    positions,
                    sample.itertuples(index=False, name=None),
                )
            )

    column_failures = failures[~multi]
    for (column, check_text), group in column_failures.groupby(
        ["column", "check"], sort=False, dropna=False
    ):
        positions = group["index"].to_numpy(dtype=np.int64)
        cases = group["failure_case"]
        if column in table.bad:
            keep = ~table.bad[column][positions]
            positions, cases = positions[keep], cases[keep]
        if not len(positions):
            continue
        number = group["check_number"].iloc[0]
        if check_text == "not_nullable":
            rule, cases = "must not be empty", []
        elif check_text == "field_uniqueness":
            rule = "must be unique (value appears more than once)"
        elif number is not None and not pd.isna(number):
            rule = "must be " + describe_check(schema.columns[column].checks[int(number)])
        else:
            rule = f"breaks {check_text}"
        problems.append(table.problem(str(column), rule, positions, list(cases)))
    return problems


# --------------------------------------------------------------------------- phase 2: metadata


def _split_items(series: pd.Series) -> pd.Series:
    """A ';'-separated list column as one item per row (index = source row), blanks dropped."""
    items = series.dropna().str.split(LIST_SEPARATOR).explode().str.strip()
    return items[items.notna() & (items != "")]


def _join_key(table: str, other: str) -> str:
    """The column joining ``table`` to ``other``: ``other``'s single-column unique key."""
    columns = set(schema_for(table).columns)
    for name, column in schema_for(other).columns.items():
        if column.unique and name in columns:
            return name
    raise DataContractError(f"contract: no key joins {table} to {other}")


def _arrow_text(values: pd.Series) -> pyarrow.Array | None:
    """The Arrow array behind a text column, or None for other columns (pandas path then)."""
    if not (pd.api.types.is_string_dtype(values.dtype) and values.dtype != object):
        return None
    array = pyarrow.array(values)
    if isinstance(array, pyarrow.ChunkedArray):
        array = array.combine_chunks()
    return (
        array
        if pyarrow.types.is_string(array.type) or pyarrow.types.is_large_string(array.type)
        else None
    )


def _isin(values: pd.Series, known: np.ndarray) -> np.ndarray:
    """``values.isin(known)`` through an Arrow hash set for text (5x faster on 30 M rows)."""
    array = _arrow_text(values)
    if array is None:
        return values.isin(pd.Index(known)).to_numpy(dtype=bool)
    value_set = pyarrow.array(np.asarray(known, dtype=object), type=array.type)
    return pc.fill_null(pc.is_in(array, value_set=value_set), False).to_numpy(zero_copy_only=False)


def _map_key(keys: pd.Series, lookup: pd.Series) -> pd.Series:
    """``keys.map(lookup)`` for a unique-indexed lookup, via Arrow's hash index for text."""
    array = _arrow_text(keys)
    if array is None:
        return keys.map(lookup)
    value_set = pyarrow.array(lookup.index.to_numpy(dtype=object), type=array.type)
    positions = pc.fill_null(pc.index_in(array, value_set=value_set), -1).to_numpy(
        zero_copy_only=False
    )
    found = positions >= 0
    values = lookup.to_numpy()
    if not len(values):
        return pd.Series(pd.NaT, index=keys.index, dtype=lookup.dtype)
    taken = pd.Series(values[np.where(found, positions, 0)], index=keys.index, dtype=lookup.dtype)
    return taken.mask(~found)


def _reference_problem(
    table: _Table, column: str, target: str, typed: dict[str, _Table], files: dict[str, str]
) -> Problem | None:
    ref_table, ref_column = target.split(".", 1)
    if ref_table not in typed or ref_column not in typed[ref_table].typed.columns:
        return None  # optional table absent: nothing to check against
    known = typed[ref_table].typed[ref_column].dropna().unique()
    values = table.typed[column]
    is_list = bool(column_rules(table.name, column).get(LIST_OF))
    items = _split_items(values) if is_list else values.dropna()
    unknown = items[~_isin(items, np.asarray(known, dtype=object))]
    if unknown.empty:
        return None
    positions = np.unique(unknown.index.to_numpy(dtype=np.int64))
    where = f"{ref_column} of {files.get(ref_table, ref_table)}"
    rule = (
        f"each item must be a {where} (not found)" if is_list else f"must be a {where} (not found)"
    )
    return table.problem(column, rule, positions, _first_unique(unknown.to_numpy(dtype=object)))


def _allowed_items_problem(table: _Table, column: str, allowed: Sequence[str]) -> Problem | None:
    items = _split_items(table.typed[column])
    bad = items[~items.isin(list(allowed))]
    if bad.empty:
        return None
    positions = np.unique(bad.index.to_numpy(dtype=np.int64))
    rule = f"each '{LIST_SEPARATOR}'-separated item must be one of: " + ", ".join(allowed)
    return table.problem(column, rule, positions, _first_unique(bad.to_numpy(dtype=object)))


def _not_before_problem(
    table: _Table, column: str, target: str, typed: dict[str, _Table], files: dict[str, str]
) -> Problem | None:
    frame = table.typed
    if "." in target:
        other, other_column = target.split(".", 1)
        if other not in typed or other_column not in typed[other].typed.columns:
            return None
        key = _join_key(table.name, other)
        if key not in frame.columns or key not in typed[other].typed.columns:
            return None
        lookup = typed[other].typed[[key, other_column]].dropna(subset=[key])
        lookup = lookup.drop_duplicates(key).set_index(key)[other_column]
        earliest = _map_key(frame[key], lookup)
        label = f"{other_column} of its {key} in {files.get(other, other)}"
    else:
        if target not in frame.columns:
            return None
        earliest = frame[target]
        label = target
    later = frame[column]
    bad = (later.notna() & earliest.notna() & (later < earliest)).to_numpy(dtype=bool)
    if not bad.any():
        return None
    positions = np.flatnonzero(bad)
    shown = positions[:MAX_EXAMPLES]
    examples = [
        f"{_format_value(a)} < {_format_value(b)}"
        for a, b in zip(later.iloc[shown], earliest.iloc[shown], strict=True)
    ]
    return table.problem(column, f"must not be before {label}", positions, examples)


def _metadata_problems(
    table: _Table, typed: dict[str, _Table], files: dict[str, str]
) -> list[Problem]:
    problems: list[Problem | None] = []
    for column in schema_for(table.name).columns:
        if column not in table.typed.columns:
            continue
        rules = column_rules(table.name, column)
        if REFERENCES in rules:
            problems.append(_reference_problem(table, column, rules[REFERENCES], typed, files))
        if ALLOWED_ITEMS in rules:
            problems.append(_allowed_items_problem(table, column, rules[ALLOWED_ITEMS]))
        if NOT_BEFORE in rules:
            problems.append(_not_before_problem(table, column, rules[NOT_BEFORE], typed, files))
    return [p for p in problems if p is not None]


# --------------------------------------------------------------------------- entry points


def _summary(table: _Table) -> TableSummary:
    date_column = TABLES[table.name].date_column
    first = last = None
    if date_column and date_column in table.typed.columns:
        dates = table.typed[date_column]
        if dates.notna().any():
            first, last = _format_value(dates.min()), _format_value(dates.max())
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

    tables: dict[str, _Table] = {}
    for name in TABLES:
        if name in raw:
            tables[name] = _Table(name, raw[name], files.get(name))
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
            problem = _coerce_column(table, column, column_kind(spec.dtype))
            if problem:
                report.problems.append(problem)
        extra = [c for c in table.typed.columns if c not in schema.columns]
        if extra:
            report.notes.append(
                f"{table.file}: columns not in the contract, ignored: {', '.join(extra)}"
            )

    # Phase 2: value rules on the coerced frames, then rules across rows and tables.
    for table in tables.values():
        report.problems.extend(_pandera_problems(table))
        report.problems.extend(_metadata_problems(table, tables, files))

    report.problems.sort(key=_problem_order)
    report.tables = [_summary(t) for t in tables.values()]
    report.capabilities_off = missing_capabilities(set(tables))
    return {name: t.typed for name, t in tables.items()}, report


def _read_folder(
    folder: Path, names: Iterable[str] | None
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
    return raw, files, problems, notes


def _validate(folder: Path, names: Iterable[str] | None):
    folder = Path(folder)
    raw, files, read_problems, notes = _read_folder(folder, names)
    unread = {p.table for p in read_problems}
    typed, report = validate_tables(raw, files)
    # A table that exists but could not be read is not "missing".
    report.problems = read_problems + [
        p for p in report.problems if not (p.column is None and p.table in unread)
    ]
    report.notes = notes + report.notes
    report.folder = str(folder)
    return typed, report


def validate_folder(folder: Path) -> ValidationReport:
    """Validate every contract table in ``folder`` (``orders.csv``/``.parquet``, ...)."""
    return _validate(folder, None)[1]


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
