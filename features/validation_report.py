"""What a contract check found: problems with the rows a user can find, and the report.

``features.validate`` fills these; the importer and every command read them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAX_ROWS_SHOWN = 10
MAX_EXAMPLES = 5
DATE_UNIT = "datetime64[us]"  # microseconds: holds 9999-12-31 ("never expires") dates

ROW_CONVENTION = (
    'Row numbers: "line N" is the line of a CSV file as a text editor shows it (line 1 is '
    'the header, so the first data row is line 2); "row N" counts the data rows of a '
    "Parquet file from 1."
)


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

    def fingerprint(self) -> str | None:
        """What a model trained on these tables was trained on: the SHA-256 of the folder's
        files (``features.io.data_fingerprint``), or None for tables not read from one."""
        from features.io import data_fingerprint

        return None if self.folder is None else data_fingerprint(self.folder)


# --------------------------------------------------------------------------- helpers


class TableCheck:
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
            examples=examples_of(examples),
            row_label=self.row_label,
            positions=positions,
        )


def format_value(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    text = str(value)
    return repr(text) if (text != text.strip() or text == "" or "," in text) else text


def examples_of(values: Iterable[Any]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        text = format_value(value)
        if text not in out:
            out.append(text)
        if len(out) >= MAX_EXAMPLES:
            break
    return tuple(out)


def first_unique(values: pd.Series | pd.Index, n: int = MAX_EXAMPLES) -> list[Any]:
    """A few distinct values in order of appearance, without touching all of a huge column."""
    head = values[: max(n * 200, 1000)]
    return list(pd.unique(np.asarray(head, dtype=object))[:n])
