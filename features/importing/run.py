"""The import as one function: export files -> contract tables, a problem report, provenance.

Sources are read chunk by chunk; each chunk's cells are parsed into contract types at once
(``values``) and only the typed columns are kept, so a large export is held once, typed.
Problems become report rows naming the file, sheet, Excel row and source column. When every
source is read, the tables are checked with the contract's own rules
(``features.validate.validate_tables``) and those problems are traced back to source rows
the same way. With ``skip_bad_rows`` the rows with problems are dropped (and the rules run
again, since dropping a retailer can orphan its orders); otherwise any error fails the
import and nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.contract import LIST_OF, TABLES, column_rules, schema_for
from features.i18n import describe_import_rule
from features.importing import values as v
from features.importing.labels import VALUE_LISTS, parse_enum, parse_list
from features.importing.mapping import Mapping
from features.importing.resolve import Resolved, missing_required, resolve
from features.importing.sources import ENCODING_NAMES, Source, SourceError, open_sources
from features.validate import ValidationReport, validate_tables

MAX_ROWS_PER_RULE = 100  # report rows per (source, column, rule); a count row follows
MAX_VALIDATION_ROUNDS = 4


@dataclass
class ReportRow:
    level: str  # "error" blocks the import unless rows are skipped; "warning" never does
    file: str
    sheet: str
    row: int | None
    column: str
    value: str
    rule: str
    problem_zh: str
    problem_en: str
    action_zh: str
    action_en: str


@dataclass
class ImportResult:
    tables: dict[str, pd.DataFrame]
    report: list[ReportRow]
    provenance: dict[str, Any]
    errors: int  # problem cells/sources found (before skipping)
    skipped_rows: int
    fatal: str | None = None  # a mandatory table is unusable: nothing can be imported
    validation: ValidationReport | None = None

    @property
    def ok(self) -> bool:
        return self.fatal is None and (self.errors == 0 or self.provenance["skip_bad_rows"])


@dataclass
class _TableParts:
    frames: list[pd.DataFrame] = field(default_factory=list)
    sources: list[np.ndarray] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)


def column_kind(table: str, column: str) -> str:
    spec = schema_for(table).columns[column]
    dtype = str(spec.dtype).lower()
    if dtype.startswith("datetime"):
        return "date"
    if dtype.startswith("int"):
        return "whole"
    if dtype.startswith("float"):
        return "number"
    if column_rules(table, column).get(LIST_OF):
        return "list"
    if (table, column) in VALUE_LISTS:
        return "enum"
    if column.endswith("_id"):
        return "id"
    return "text"


def _parse_column(
    raw: pd.Series, table: str, column: str, resolved: Resolved, mapping: Mapping
) -> v.Parsed:
    kind = column_kind(table, column)
    if kind == "date":
        return v.parse_date(raw, resolved.date_formats.get(column))
    if kind == "number":
        return v.parse_number(
            raw, resolved.scales.get(column, 1.0), percent=column.endswith("_share")
        )
    if kind == "whole":
        labels = v.satisfaction_labels() if column == "satisfaction" else None
        return v.parse_whole(raw, labels)
    if kind == "enum":
        return parse_enum(raw, mapping.value_synonyms(table, column))
    if kind == "list":
        synonyms = (
            mapping.value_synonyms(table, column) if (table, column) in VALUE_LISTS else None
        )
        return parse_list(raw, synonyms)
    return v.parse_id(raw) if kind == "id" else v.parse_text(raw)


def _as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    return str(value)


class _Report:
    """Report rows, at most MAX_ROWS_PER_RULE per (source, column, rule), then a count."""

    def __init__(self) -> None:
        self.rows: list[ReportRow] = []
        self.counts: Counter[tuple[str, str, str, str]] = Counter()
        self.errors = 0

    def add(
        self,
        level: str,
        source: Source | None,
        file: str,
        row: int | None,
        column: str,
        value: str,
        rule: str,
        **fields: object,
    ) -> None:
        sheet = source.sheet if source is not None and source.sheet else ""
        key = (file, sheet, column, rule)
        self.counts[key] += 1
        if level == "error":
            self.errors += 1
        if self.counts[key] <= MAX_ROWS_PER_RULE:
            texts = describe_import_rule(rule, column=column, value=value, **fields)
            self.rows.append(ReportRow(level, file, sheet, row, column, value, rule, *texts))

    def close(self) -> None:
        for (file, sheet, column, rule), n in self.counts.items():
            if n > MAX_ROWS_PER_RULE:
                texts = describe_import_rule("more_rows", detail=f"{n - MAX_ROWS_PER_RULE:,}")
                level = next(
                    r.level
                    for r in self.rows
                    if (r.file, r.sheet, r.column, r.rule) == (file, sheet, column, rule)
                )
                self.rows.append(ReportRow(level, file, sheet, None, column, "", rule, *texts))


def _source_error(
    report: _Report, source: Source | None, file: str, exc: SourceError, level: str = "error"
) -> None:
    report.add(level, source, file, exc.row, "", "", exc.rule, detail=exc.detail)


def _allowed(table: str, column: str, mapping: Mapping) -> str:
    return ", ".join(sorted(set(mapping.value_synonyms(table, column).values())))


def _read_source(
    resolved: Resolved,
    index: int,
    mapping: Mapping,
    report: _Report,
    parts: _TableParts,
    skip_bad_rows: bool,
    progress: Callable[[str], None],
) -> dict[str, int]:
    """Parse every chunk of one source into ``parts``; returns its row counts."""
    source, table = resolved.source, resolved.table
    assert table is not None
    file = source.path.name
    required = {c for c, s in schema_for(table).columns.items() if s.required}
    counts = {"rows_in": 0, "rows_bad": 0}
    for chunk in source.chunks():
        frame = chunk.frame
        if source.sheet is None:  # CSV: blank lines were kept to keep line numbers right
            blank = (frame == "").all(axis=1).to_numpy()
            if blank.any():
                frame, chunk.rows = frame[~blank].reset_index(drop=True), chunk.rows[~blank]
        n = len(frame)
        counts["rows_in"] += n
        typed: dict[str, pd.Series] = {}
        bad = np.zeros(n, dtype=bool)
        for header, column in resolved.columns.items():
            raw = frame[header]
            parsed = _parse_column(raw, table, column, resolved, mapping)
            if column in required:
                blank_cells = np.array(parsed.values.isna().to_numpy(), dtype=bool)
                for mask in parsed.errors.values():
                    blank_cells &= ~mask
                parsed.add("required_empty", blank_cells)
            for rule, mask in parsed.errors.items():
                bad |= mask
                detail = _allowed(table, column, mapping) if rule == "unknown_value" else ""
                detail = resolved.date_formats.get(column, "") if rule == "date_format" else detail
                for i in np.flatnonzero(mask)[: MAX_ROWS_PER_RULE + 1]:
                    report.add(
                        "error",
                        source,
                        file,
                        int(chunk.rows[i]),
                        header,
                        _as_text(raw.iat[i]),
                        rule,
                        table=table,
                        detail=detail,
                    )
                extra = int(mask.sum()) - (MAX_ROWS_PER_RULE + 1)
                if extra > 0:  # counted, not rendered
                    key = (file, source.sheet or "", header, rule)
                    report.counts[key] += extra
                    report.errors += extra
            values = parsed.values
            if values.dtype == object:
                values = values.astype("str")
            typed[column] = values
        counts["rows_bad"] += int(bad.sum())
        # Bad rows never reach the contract check (their cells are reported already); when
        # they are not skipped the import fails, so nothing is lost by leaving them out.
        keep = ~bad
        part = pd.DataFrame(typed, copy=False)
        if not keep.all():
            part = part.loc[keep].reset_index(drop=True)
        parts.frames.append(part)
        parts.sources.append(np.full(len(part), index, dtype=np.int32))
        parts.rows.append(chunk.rows[keep])
        progress(f"{source.label}: {counts['rows_in']:,} rows read")
    return counts


def _trace_validation(
    report: ValidationReport,
    tables: dict[str, pd.DataFrame],
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    resolved: list[Resolved],
    out: _Report,
) -> dict[str, np.ndarray]:
    """Contract problems as report rows at their source rows; failing positions by table."""
    failing: dict[str, list[np.ndarray]] = {}
    for problem in report.problems:
        if problem.positions is None or problem.table not in parts:
            out.add(
                "error",
                None,
                problem.file,
                None,
                problem.column or "",
                "",
                "contract",
                detail=problem.rule,
            )
            continue
        source_index, rows = parts[problem.table]
        failing.setdefault(problem.table, []).append(problem.positions)
        columns = (problem.column or "").split(" + ")
        frame = tables[problem.table]
        for position in problem.positions:
            res = resolved[int(source_index[position])]
            header = " + ".join(res.header_of(c) for c in columns)
            value = " + ".join(
                _as_text(frame[c].iat[position]) for c in columns if c in frame.columns
            )
            out.add(
                "error",
                res.source,
                res.source.path.name,
                int(rows[position]),
                header,
                value,
                "contract",
                detail=problem.rule,
            )
    return {t: np.unique(np.concatenate(p)) for t, p in failing.items()}


def import_files(
    paths: list,
    mapping: Mapping | None = None,
    skip_bad_rows: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import export files (CSV/TXT, workbooks: every sheet) into contract tables.

    Args:
        paths: the files (see ``sources.discover`` for folders).
        mapping: explicit tables, columns, values and reading options.
        skip_bad_rows: import the good rows and drop the rest (said in the report).
        progress: called with a line after each chunk of a long source.
    """
    mapping = mapping or Mapping()
    progress = progress or (lambda _: None)
    report = _Report()
    resolved_list: list[Resolved] = []
    per_source: list[dict[str, Any]] = []
    parts: dict[str, _TableParts] = {}
    for path in paths:
        rule = mapping.rule_for(path.name, None)
        try:
            sources = open_sources(
                path,
                rule.encoding if rule else None,
                rule.delimiter if rule else None,
                rule.header_row if rule else None,
            )
        except SourceError as exc:
            _source_error(report, None, path.name, exc)
            continue
        for source in sources:
            rule = mapping.rule_for(path.name, source.sheet)
            res = resolve(source, rule)
            entry: dict[str, Any] = {
                "file": str(path),
                "sheet": source.sheet,
                "table": res.table,
                "decided_by": res.how,
                "header_row": source.header_row,
                "encoding": ENCODING_NAMES.get(source.encoding or "", source.encoding),
                "delimiter": source.delimiter,
                "columns": res.columns,
                "ignored_columns": res.ignored,
                "rows_in": 0,
                "rows_out": 0,
            }
            if res.table is None:
                empty = not source.headers
                level = "warning" if empty or res.how != "ambiguous" else "error"
                rule_code = "ambiguous_table" if res.how == "ambiguous" else "unknown_table"
                if res.how != "skipped by the mapping":
                    report.add(
                        level,
                        source,
                        path.name,
                        None,
                        "",
                        "",
                        rule_code,
                        detail=", ".join(res.candidates),
                    )
                per_source.append(entry)
                continue
            missing = missing_required(res) if source.headers else []
            if missing:
                for column in missing:
                    report.add(
                        "error",
                        source,
                        path.name,
                        source.header_row,
                        column,
                        "",
                        "required_column",
                        table=res.table,
                    )
                entry["table"] = None
                entry["decided_by"] += "; unusable: " + ", ".join(missing) + " missing"
                per_source.append(entry)
                continue
            index = len(resolved_list)
            resolved_list.append(res)
            try:
                counts = _read_source(
                    res,
                    index,
                    mapping,
                    report,
                    parts.setdefault(res.table, _TableParts()),
                    skip_bad_rows,
                    progress,
                )
            except SourceError as exc:
                # Only a sheet named for a table is missed; an empty "Sheet2" is no news.
                by_file_name = (
                    res.how == "name"
                    and source.sheet is not None
                    and (not source.sheet.strip() or source.sheet not in source.path.stem)
                )
                quiet = exc.rule == "empty_sheet" and by_file_name and len(sources) > 1
                _source_error(report, source, path.name, exc, "warning" if quiet else "error")
                counts = {"rows_in": 0, "rows_bad": 0}
            entry.update(counts)
            entry["index"] = index
            per_source.append(entry)
    report.close()
    return _finish(report, resolved_list, per_source, parts, mapping, skip_bad_rows)


def _finish(
    report: _Report,
    resolved: list[Resolved],
    per_source: list[dict[str, Any]],
    parts: dict[str, _TableParts],
    mapping: Mapping,
    skip: bool,
) -> ImportResult:
    tables: dict[str, pd.DataFrame] = {}
    where: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for table in TABLES:
        if table in parts and parts[table].frames:
            p = parts[table]
            tables[table] = pd.concat(p.frames, ignore_index=True)
            where[table] = (np.concatenate(p.sources), np.concatenate(p.rows))
    fatal = None
    for table, spec in TABLES.items():
        if spec.required and (table not in tables or tables[table].empty):
            fatal = (
                f"no usable {table} table: every {table} source was missing, empty or "
                "lacked a mandatory column (see the report)"
            )
    validation = None
    if fatal is None:
        files = {t: f"{t}.parquet" for t in tables}
        for _ in range(MAX_VALIDATION_ROUNDS):
            contract_report = _Report()
            typed, validation = validate_tables(tables, files)
            if validation.ok:
                break
            failing = _trace_validation(validation, tables, where, resolved, contract_report)
            contract_report.close()
            report.rows += contract_report.rows
            report.errors += contract_report.errors
            table_level = [p for p in validation.problems if p.positions is None]
            if not skip or table_level:
                break
            for table, positions in failing.items():
                keep = np.ones(len(tables[table]), dtype=bool)
                keep[positions] = False
                tables[table] = tables[table].loc[keep].reset_index(drop=True)
                where[table] = (where[table][0][keep], where[table][1][keep])
        if validation is not None and not validation.ok and skip:
            fatal = "the data still breaks the contract after skipping bad rows (see the report)"
        elif validation is not None and validation.ok:
            tables = {t: typed[t][list(tables[t].columns)] for t in tables}
    out_counts = {t: np.bincount(where[t][0], minlength=len(resolved)) for t in where}
    skipped = 0
    for entry in per_source:
        if "index" in entry:
            entry["rows_out"] = (
                int(out_counts[entry["table"]][entry.pop("index")])
                if entry["table"] in out_counts
                else 0
            )
            skipped += entry["rows_in"] - entry["rows_out"]
    provenance = {
        "mapping": mapping.name,
        "skip_bad_rows": skip,
        "sources": per_source,
        "tables": {
            t: {
                "rows": len(tables[t]),
                "rows_in": sum(e["rows_in"] for e in per_source if e["table"] == t),
                "sources": [
                    e["file"] + (f" [{e['sheet']}]" if e["sheet"] else "")
                    for e in per_source
                    if e["table"] == t and e["rows_in"]
                ],
            }
            for t in tables
        },
        "problems": report.errors,
        "skipped_rows": skipped if skip else 0,
    }
    return ImportResult(
        tables, report.rows, provenance, report.errors, skipped if skip else 0, fatal, validation
    )
