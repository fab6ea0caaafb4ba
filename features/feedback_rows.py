"""What the service learnt, kept beside the company's own tables and merged when read.

``fieldcoach feedback export`` writes the done visits and course completions reported
through the API to ``DATA/_feedback/<table>.parquet``; the company's files stay exactly as
delivered (raw data is never edited). ``features.validate.load_dataset`` reads the
company's rows, then the learnt rows whose key the company's rows do not already hold, so
a later delivery that includes them takes over without duplicates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.io import FEEDBACK_DIR, read_raw_table

__all__ = ["FEEDBACK_DIR", "FEEDBACK_KEYS", "feedback_path", "merge_feedback", "read_feedback"]
# The rows the service may learn, and what makes two of them the same row.
FEEDBACK_KEYS = {
    "visits": ("retailer_id", "manager_id", "visit_date"),
    "trainings": ("manager_id", "course_id", "completed_on"),
}


def feedback_path(folder: Path, table: str) -> Path:
    return Path(folder) / FEEDBACK_DIR / f"{table}.parquet"


def read_feedback(folder: Path, table: str) -> pd.DataFrame | None:
    """The learnt rows of ``table`` in ``folder``, or None when there are none."""
    path = feedback_path(folder, table)
    return read_raw_table(path) if path.exists() else None


def _key(frame: pd.DataFrame, table: str) -> pd.MultiIndex:
    """Each row's key, comparable between CSV text and typed Parquet."""
    parts = []
    for column in FEEDBACK_KEYS[table]:
        if column not in frame:
            parts.append(pd.Series(pd.NA, index=frame.index, dtype="string"))
        elif column.endswith(("_date", "_on")):
            parts.append(pd.to_datetime(frame[column], errors="coerce").dt.normalize())
        else:
            parts.append(frame[column].astype("string").str.strip())
    return pd.MultiIndex.from_arrays(parts)


def _as_text(values: pd.Series) -> pd.Series:
    """Values as a CSV export writes them: dates YYYY-MM-DD, whole numbers without '.0'."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna(), None)
    if pd.api.types.is_numeric_dtype(values):
        return values.map(
            lambda v: None if pd.isna(v) else (str(int(v)) if float(v).is_integer() else str(v))
        ).astype(object)
    return values.astype(object).where(values.notna(), None)


def _like(rows: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """``rows`` in the representation of the company's table ``raw`` (text or typed)."""
    out = rows.copy()
    for column in out.columns:
        if column not in raw.columns:
            continue
        kind = raw[column].dtype
        if pd.api.types.is_datetime64_any_dtype(kind):
            out[column] = pd.to_datetime(out[column], errors="coerce")
        elif pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind):
            out[column] = pd.to_numeric(out[column], errors="coerce")
        elif pd.api.types.is_string_dtype(kind) or pd.api.types.is_object_dtype(kind):
            out[column] = _as_text(out[column])
    return out


def merge_feedback(
    raw: pd.DataFrame, learnt: pd.DataFrame, table: str
) -> tuple[pd.DataFrame, int]:
    """``raw`` followed by the rows of ``learnt`` it does not hold (by key), and how many."""
    fresh = learnt[~_key(learnt, table).duplicated()]
    fresh = fresh[~_key(fresh, table).isin(_key(raw, table))]
    if fresh.empty:
        return raw, 0
    return pd.concat([raw, _like(fresh, raw)], ignore_index=True), len(fresh)
