"""What the service learnt, written back where the next training run reads it.

``export_feedback`` adds done visits and training completions to ``DATA/_feedback/``, once
each, which the loader merges after the company's own ``visits`` and ``trainings`` (the
company's files stay as delivered); ``export_plan_log`` writes the stored plans'
candidates with their logged probabilities as the ``recommendations`` table. Each export
is validated against the contract first and writes nothing if the folder would not pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from features.errors import UserInputError
from features.feedback_rows import FEEDBACK_KEYS, feedback_path, merge_feedback, read_feedback
from features.io import find_table_files, read_raw_table, write_table
from features.validate import validate_folder, validate_tables
from serving.db import Feedback, PrecomputedPlan, utcnow


def export_feedback(session: Session, data_dir: Path) -> dict[str, int]:
    """Add the done visits and completions not exported yet to what the service learnt.

    They go to ``DATA/_feedback/<table>.parquet``, which every loader merges after the
    company's own rows; the company's files are never rewritten. The folder as it would be
    read after the export is validated against the contract first; if it would not pass,
    nothing is written.

    Raises:
        UserInputError: the export would break the data contract.
    """
    pending = list(
        session.scalars(
            select(Feedback).where(
                Feedback.exported_at.is_(None), Feedback.kind.in_(("outcome", "training"))
            )
        )
    )
    visits = [
        {
            "retailer_id": f.payload["retailer_id"],
            "manager_id": f.manager_id,
            "visit_date": f.payload["visit_date"],
            "duration_min": f.payload.get("duration_min"),
            "purpose": f.payload.get("purpose"),
        }
        for f in pending
        if f.kind == "outcome" and f.payload.get("done")
    ]
    trainings = [
        {
            "manager_id": f.manager_id,
            "course_id": f.payload["course_id"],
            "completed_on": f.payload["completed_on"],
        }
        for f in pending
        if f.kind == "training"
    ]
    counts = {"visits": 0, "trainings": 0}
    learnt: dict[str, pd.DataFrame] = {}
    for table, rows in (("visits", visits), ("trainings", trainings)):
        if rows:
            learnt[table], counts[table] = _learnt(data_dir, table, pd.DataFrame(rows))
    if learnt:
        report = validate_folder(data_dir, learnt)
        if not report.ok:
            raise UserInputError(
                f"feedback export refused, nothing written: the data would not validate: "
                f"{report.summary()}"
            )
    for table, frame in learnt.items():
        write_table(frame, feedback_path(data_dir, table))
    now = utcnow()
    for f in pending:
        f.exported_at = now
    session.commit()
    counts["records"] = len(pending)
    return counts


def _learnt(data_dir: Path, table: str, rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The table's learnt rows with ``rows`` added, and how many rows that adds to what the
    loader reads (rows the company's table or earlier exports hold already add none)."""
    for column in FEEDBACK_KEYS[table]:
        if column.endswith(("_date", "_on")):
            rows[column] = pd.to_datetime(rows[column])
    before = read_feedback(data_dir, table)
    if before is None:
        after = rows.drop_duplicates(subset=list(FEEDBACK_KEYS[table]), ignore_index=True)
    else:
        after = merge_feedback(before, rows, table)[0]
    company = find_table_files(data_dir).get(table)
    raw = read_raw_table(company) if company is not None else pd.DataFrame()
    added_before = 0 if before is None else merge_feedback(raw, before, table)[1]
    return after, merge_feedback(raw, after, table)[1] - added_before


def export_plan_log(session: Session, data_dir: Path) -> int:
    """Write the stored plans' log of candidates and probabilities as ``recommendations``.

    Validated with the folder's other tables first; nothing is written if it would not
    pass. Returns how many rows the table gained.

    Raises:
        UserInputError: the export would break the data contract.
    """
    logged = plan_log_rows(session)
    if not len(logged):
        return 0
    path, frame, added = _merged_log(data_dir, logged)
    _check_log(data_dir, path, frame)
    write_table(frame, path)
    return added


def plan_log_rows(session: Session) -> pd.DataFrame:
    """Every candidate of every stored plan that logged its draw, one row per retailer-week.

    The stored plan of a manager's week is the one served (``plan batch`` or the fill at
    start); both languages draw the same, so the English one is read.
    """
    rows = []
    stored = session.scalars(select(PrecomputedPlan).where(PrecomputedPlan.language == "en"))
    for plan_row in stored:
        plan = json.loads(plan_row.body)
        record = plan.get("exploration")
        if not record:
            continue
        visits = {v["retailer_id"]: v for v in plan["visits"]}
        for c in record["candidates"]:
            visit = visits.get(c["retailer_id"])
            rows.append(
                {
                    "retailer_id": c["retailer_id"],
                    "manager_id": plan["manager_id"],
                    "week_start": plan["week_start"],
                    "propensity": c["propensity"],
                    "recommended": int(c["recommended"]),
                    "explored": int(c["explored"]),
                    "held_out": int(c["held_out"]),
                    "near_best": int(c["near_best"]),
                    "expected_benefit": None if visit is None else visit["expected_benefit"],
                    "purpose": c.get("purpose") or (visit or {}).get("purpose"),
                }
            )
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["week_start"] = pd.to_datetime(frame["week_start"])
    return frame


def _merged_log(data_dir: Path, rows: pd.DataFrame) -> tuple[Path, pd.DataFrame, int]:
    """The log with each stored plan's week replaced by what the plan now says."""
    path = find_table_files(data_dir).get("recommendations", data_dir / "recommendations.parquet")
    if not path.exists():
        return path, rows, len(rows)
    old = read_raw_table(path)
    old["week_start"] = pd.to_datetime(old["week_start"])
    weeks = rows[["manager_id", "week_start"]].drop_duplicates()
    stale = old.merge(weeks, on=["manager_id", "week_start"], how="left", indicator=True)
    keep = old[(stale["_merge"] == "left_only").to_numpy()]
    merged = pd.concat([keep, rows], ignore_index=True)
    return path, merged, len(merged) - len(old)


def _check_log(data_dir: Path, path: Path, frame: pd.DataFrame) -> None:
    """Refuse a plan log after which the data folder would not pass ``validate``."""
    files = find_table_files(data_dir)
    raw = {name: read_raw_table(p) for name, p in files.items() if name != "recommendations"}
    names = {name: p.name for name, p in files.items()}
    raw["recommendations"], names["recommendations"] = frame, path.name
    _, report = validate_tables(raw, names)
    report.folder = str(data_dir)
    if not report.ok:
        raise UserInputError(
            f"plan log export refused, nothing written: the data would not validate: "
            f"{report.summary()}"
        )
