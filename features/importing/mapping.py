"""The mapping file: which table each file or sheet is, which column is which, what each
category label means, and how to read a file (encoding, delimiter, header row, date form).

A mapping is TOML (read with ``tomllib``)::

    [[source]]
    file = "客户资料*.xlsx"        # file name, or a glob on it
    sheet = "零售户"               # optional: every sheet when absent
    table = "retailers"            # a contract table, or "skip"
    header_row = 2                 # optional: the header's row number in Excel
    encoding = "gbk"               # optional, CSV only
    delimiter = ";"                # optional, CSV only
    date_format = "%d/%m/%Y"       # optional: every date column of this source
    [source.columns]
    "客户代码" = "retailer_id"     # source header -> contract column ("" ignores it)

    [values.retailers.format]
    "烟酒商行" = "tobacco_liquor"  # label -> contract value

``fieldcoach import --suggest`` writes one of these from what it recognised
(``write_suggestion``), for a person to edit.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from typing import Any

from features.contract import TABLES, schema_for
from features.errors import UserInputError
from features.importing.synonyms import VALUE_LISTS, normalise_name, value_synonyms

SKIP = "skip"
_SOURCE_KEYS = {
    "file",
    "sheet",
    "table",
    "header_row",
    "encoding",
    "delimiter",
    "date_format",
    "columns",
    "date_formats",
}


@dataclass
class SourceRule:
    file: str
    sheet: str | None = None
    table: str | None = None
    header_row: int | None = None
    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)

    def matches(self, file_name: str, sheet: str | None) -> bool:
        if not (file_name == self.file or fnmatch.fnmatch(file_name, self.file)):
            return False
        return self.sheet is None or self.sheet == sheet


@dataclass
class Mapping:
    sources: list[SourceRule] = field(default_factory=list)
    values: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    name: str | None = None  # where it was read from, for provenance

    def rule_for(self, file_name: str, sheet: str | None) -> SourceRule | None:
        """The most specific rule for a file/sheet: one naming the sheet beats one without."""
        hits = [r for r in self.sources if r.matches(file_name, sheet)]
        hits.sort(key=lambda r: r.sheet is None)
        return hits[0] if hits else None

    def value_synonyms(self, table: str, column: str) -> dict[str, str]:
        out = value_synonyms(table, column)
        for label, value in self.values.get((table, column), {}).items():
            out[normalise_name(label)] = value
        return out


def _allowed_values(table: str, column: str) -> list[str]:
    return sorted(set(value_synonyms(table, column).values()))


def parse_mapping(text: str, name: str = "mapping") -> Mapping:
    """Read and check a mapping; every mistake names the mapping file and the entry.

    Raises:
        UserInputError: not TOML, an unknown key, table, column or value.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserInputError(f"{name}: not valid TOML: {exc}") from exc
    unknown = set(data) - {"source", "values"}
    if unknown:
        raise UserInputError(
            f"{name}: unknown sections {', '.join(sorted(unknown))} "
            "(use [[source]] and [values.TABLE.COLUMN])"
        )
    mapping = Mapping(name=name)
    for i, entry in enumerate(data.get("source", []), start=1):
        where = f"{name}: [[source]] #{i}"
        if not isinstance(entry, dict) or "file" not in entry:
            raise UserInputError(f'{where}: needs file = "..."')
        bad = set(entry) - _SOURCE_KEYS
        if bad:
            raise UserInputError(f"{where}: unknown keys {', '.join(sorted(bad))}")
        table = entry.get("table")
        if table is not None and table != SKIP and table not in TABLES:
            raise UserInputError(
                f"{where}: table {table!r} is not one of {', '.join(TABLES)} or {SKIP!r}"
            )
        columns = {str(k): str(v) for k, v in entry.get("columns", {}).items()}
        if columns and table in TABLES:
            known = set(schema_for(table).columns)
            wrong = [v for v in columns.values() if v and v not in known]
            if wrong:
                raise UserInputError(
                    f"{where}: {', '.join(wrong)} not columns of {table} "
                    f"(one of: {', '.join(known)})"
                )
        header_row = entry.get("header_row")
        if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
            raise UserInputError(f"{where}: header_row must be a row number from 1")
        mapping.sources.append(
            SourceRule(
                file=str(entry["file"]),
                sheet=entry.get("sheet"),
                table=table,
                header_row=header_row,
                encoding=entry.get("encoding"),
                delimiter=entry.get("delimiter"),
                date_format=entry.get("date_format"),
                columns=columns,
                date_formats={str(k): str(v) for k, v in entry.get("date_formats", {}).items()},
            )
        )
    for table, columns in data.get("values", {}).items():
        for column, labels in columns.items() if isinstance(columns, dict) else ():
            if (table, column) not in VALUE_LISTS:
                lists = ", ".join(f"{t}.{c}" for t, c in VALUE_LISTS)
                raise UserInputError(
                    f"{name}: [values.{table}.{column}] is not a category column (one of: {lists})"
                )
            allowed = _allowed_values(table, column)
            for label, value in labels.items():
                if value == "":
                    continue  # left open in a suggestion: still unrecognised
                if value not in allowed:
                    raise UserInputError(
                        f"{name}: [values.{table}.{column}] {label!r} = {value!r}: "
                        f"must be one of {', '.join(allowed)}"
                    )
            mapping.values[(table, column)] = {
                str(k): str(v) for k, v in labels.items() if v != ""
            }
    return mapping


# --------------------------------------------------------------------------- suggestion


def toml_string(text: str) -> str:
    """A TOML basic string (quotes, backslashes and control characters escaped)."""
    out = []
    for ch in str(text):
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def write_suggestion(
    entries: list[dict[str, Any]], values: dict[tuple[str, str], dict[str, str | None]]
) -> str:
    """A mapping as TOML from what ``--suggest`` recognised; unknowns left for a person.

    Args:
        entries: per source: file, sheet, table (or None), header_row, encoding,
            delimiter, columns (header -> contract column or None), candidates, note.
        values: per (table, column): label -> contract value (None when unrecognised).
    """
    lines = [
        "# fieldcoach import mapping, suggested from what was recognised. Edit, then run",
        "#   fieldcoach import SOURCE... --out DIR --mapping THIS_FILE",
        '# Columns mapped to "" are ignored; fill in every TODO.',
        "",
    ]
    for entry in entries:
        lines.append("[[source]]")
        lines.append(f"file = {toml_string(entry['file'])}")
        if entry.get("sheet") is not None:
            lines.append(f"sheet = {toml_string(entry['sheet'])}")
        table = entry.get("table")
        if table:
            lines.append(f"table = {toml_string(table)}")
        else:
            options = " | ".join([*TABLES, SKIP])
            lines.append(f'table = "skip"  # TODO: not recognised; one of {options}')
        if entry.get("note"):
            lines.append(f"# {entry['note']}")
        for key in ("header_row", "encoding", "delimiter"):
            if entry.get(key) is not None:
                value = entry[key]
                rendered = str(value) if isinstance(value, int) else toml_string(value)
                lines.append(f"{key} = {rendered}")
        lines.append("[source.columns]")
        for header, column in entry.get("columns", {}).items():
            if column:
                lines.append(f"{toml_string(header)} = {toml_string(column)}")
            else:
                lines.append(f'{toml_string(header)} = ""  # TODO: not recognised')
        lines.append("")
    for (table, column), labels in values.items():
        if not labels:
            continue
        allowed = ", ".join(_allowed_values(table, column))
        lines.append(f"[values.{table}.{column}]  # one of: {allowed}")
        for label, value in labels.items():
            if value:
                lines.append(f"{toml_string(label)} = {toml_string(value)}")
            else:
                lines.append(f'{toml_string(label)} = ""  # TODO: not recognised')
        lines.append("")
    return "\n".join(lines)
