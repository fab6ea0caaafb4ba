"""Phase 2 of a contract check: value rules (pandera) and rules across rows and tables.

Runs on the coerced frames; failures of cells phase 1 reported already are dropped, so a
bad cell is reported once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from features.coercion import arrow_text, describe_check
from features.contract import (
    ALLOWED_ITEMS,
    LIST_OF,
    LIST_SEPARATOR,
    NOT_BEFORE,
    REFERENCES,
    column_rules,
    schema_for,
)
from features.io import DataContractError
from features.pandera_quiet import pa
from features.validation_report import (
    MAX_EXAMPLES,
    Problem,
    TableCheck,
    first_unique,
    format_value,
)


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


def pandera_problems(table: TableCheck) -> list[Problem]:
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


def join_key(table: str, other: str) -> str:
    """The column joining ``table`` to ``other``: ``other``'s single-column unique key."""
    columns = set(schema_for(table).columns)
    for name, column in schema_for(other).columns.items():
        if column.unique and name in columns:
            return name
    raise DataContractError(f"contract: no key joins {table} to {other}")


def _isin(values: pd.Series, known: np.ndarray) -> np.ndarray:
    """``values.isin(known)`` through an Arrow hash set for text (5x faster on 30 M rows)."""
    array = arrow_text(values)
    if array is None:
        return values.isin(pd.Index(known)).to_numpy(dtype=bool)
    value_set = pyarrow.array(np.asarray(known, dtype=object), type=array.type)
    return pc.fill_null(pc.is_in(array, value_set=value_set), False).to_numpy(zero_copy_only=False)


def _map_key(keys: pd.Series, lookup: pd.Series) -> pd.Series:
    """``keys.map(lookup)`` for a unique-indexed lookup, via Arrow's hash index for text."""
    array = arrow_text(keys)
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


@dataclass(frozen=True)
class _Others:
    """The tables a rule may point at (``table.column``), typed, and the files they came from."""

    typed: dict[str, TableCheck]
    files: dict[str, str]

    def find(self, target: str) -> tuple[str, str, pd.DataFrame] | None:
        """(table, column, the table's typed frame) for ``target``; None when that optional
        table or column is absent: nothing to check against."""
        name, column = target.split(".", 1)
        if name not in self.typed or column not in self.typed[name].typed.columns:
            return None
        return name, column, self.typed[name].typed

    def file(self, name: str) -> str:
        return self.files.get(name, name)


def _reference_problem(
    table: TableCheck, column: str, target: str, others: _Others
) -> Problem | None:
    found = others.find(target)
    if found is None:
        return None
    ref_table, ref_column, ref = found
    known = ref[ref_column].dropna().unique()
    values = table.typed[column]
    is_list = bool(column_rules(table.name, column).get(LIST_OF))
    items = _split_items(values) if is_list else values.dropna()
    unknown = items[~_isin(items, np.asarray(known, dtype=object))]
    if unknown.empty:
        return None
    positions = np.unique(unknown.index.to_numpy(dtype=np.int64))
    where = f"{ref_column} of {others.file(ref_table)}"
    rule = (
        f"each item must be a {where} (not found)" if is_list else f"must be a {where} (not found)"
    )
    return table.problem(column, rule, positions, first_unique(unknown.to_numpy(dtype=object)))


def _allowed_items_problem(
    table: TableCheck, column: str, allowed: Sequence[str]
) -> Problem | None:
    items = _split_items(table.typed[column])
    bad = items[~items.isin(list(allowed))]
    if bad.empty:
        return None
    positions = np.unique(bad.index.to_numpy(dtype=np.int64))
    rule = f"each '{LIST_SEPARATOR}'-separated item must be one of: " + ", ".join(allowed)
    return table.problem(column, rule, positions, first_unique(bad.to_numpy(dtype=object)))


def _not_before_problem(
    table: TableCheck, column: str, target: str, others: _Others
) -> Problem | None:
    frame = table.typed
    if "." in target:
        found = others.find(target)
        if found is None:
            return None
        other, other_column, ref = found
        key = join_key(table.name, other)
        if key not in frame.columns or key not in ref.columns:
            return None
        lookup = ref[[key, other_column]].dropna(subset=[key])
        lookup = lookup.drop_duplicates(key).set_index(key)[other_column]
        earliest = _map_key(frame[key], lookup)
        label = f"{other_column} of its {key} in {others.file(other)}"
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
        f"{format_value(a)} < {format_value(b)}"
        for a, b in zip(later.iloc[shown], earliest.iloc[shown], strict=True)
    ]
    return table.problem(column, f"must not be before {label}", positions, examples)


def metadata_problems(
    table: TableCheck, typed: dict[str, TableCheck], files: dict[str, str]
) -> list[Problem]:
    problems: list[Problem | None] = []
    others = _Others(typed, files)
    for column in schema_for(table.name).columns:
        if column not in table.typed.columns:
            continue
        rules = column_rules(table.name, column)
        if REFERENCES in rules:
            problems.append(_reference_problem(table, column, rules[REFERENCES], others))
        if ALLOWED_ITEMS in rules:
            problems.append(_allowed_items_problem(table, column, rules[ALLOWED_ITEMS]))
        if NOT_BEFORE in rules:
            problems.append(_not_before_problem(table, column, rules[NOT_BEFORE], others))
    return [p for p in problems if p is not None]
