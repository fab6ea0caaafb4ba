"""Phase 1 of a contract check: each column to its contract type, unparseable cells named.

Text stays text, numbers and whole numbers become floats and integers, dates become
``DATE_UNIT`` timestamps; a cell that holds something but does not parse is a problem.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute as pc

from features.pandera_quiet import pa
from features.validation_report import MAX_EXAMPLES, Problem, TableCheck

DATE_UNIT = "datetime64[us]"  # microseconds: holds 9999-12-31 ("never expires") dates

TYPE_RULES = {
    "number": "not a number",
    "integer": "not a whole number",
    "date": "not a date (write dates as YYYY-MM-DD)",
}


def column_kind(dtype: Any) -> str:
    name = str(dtype).lower()
    if name.startswith("datetime"):
        return "date"
    if name.startswith("int"):
        return "integer"
    if name.startswith("float"):
        return "number"
    return "text"


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


def arrow_text(values: pd.Series) -> pyarrow.Array | None:
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


def _to_text(raw: pd.Series) -> pd.Series:
    """Any column as text; integer IDs (e.g. from Parquet) become ``"123"``, not rejected."""
    if pd.api.types.is_float_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)
        whole = np.isnan(values) | (np.mod(values, 1) == 0)
        if whole.all():
            raw = raw.astype("Int64")
    text = raw.astype("str")
    array = arrow_text(text)
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


def coerce_column(table: TableCheck, column: str, kind: str) -> Problem | None:
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
        column, TYPE_RULES[kind], positions, raw.iloc[positions[: MAX_EXAMPLES * 20]]
    )
