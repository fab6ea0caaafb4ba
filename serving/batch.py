"""Jobs run outside the API: precompute the week's plans, export feedback to the data.

``precompute_plans`` writes every manager's default plan for a week (both languages) into
the database, tagged with the model versions it used; the API serves a stored plan only
while those versions are the ones serving. ``export_feedback`` appends done visits and
training completions to the data folder's ``visits`` and ``trainings`` tables, once each,
so the next training run learns from them; ``export_plan_log`` writes the stored plans'
candidates with their logged probabilities as the ``recommendations`` table.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from features.errors import UserInputError
from features.feedback_rows import FEEDBACK_KEYS, feedback_path, merge_feedback, read_feedback
from features.io import find_table_files, read_raw_table, write_table
from features.validate import validate_folder, validate_tables
from fieldcoach.champions import MODEL_NAMES, ModelStore
from fieldcoach.settings import Settings
from planning.explore import Exploration
from serving.db import (
    Feedback,
    PrecomputedPlan,
    make_engine,
    plan_feedback,
    save_plan,
    session_factory,
    utcnow,
)
from serving.served_territory import LANGUAGES, ServedTerritory


def precompute_plans(
    settings: Settings,
    week: str | None = None,
    data_dir: Path | None = None,
    time_limit_s: float = 5.0,
    log: Callable[[str], None] = print,
    progress: tuple[Callable[[int], None], Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Plan every manager's week with the serving champions and store the plans.

    ``progress`` is (set the total, advance by one manager), for a progress bar.
    """
    store = ModelStore(settings.resolved_tracking_uri, settings.models_dir, MODEL_NAMES)
    store.start()
    for note in store.notes:
        log(f"note: {note}")
    territory = ServedTerritory.load(data_dir or settings.resolved_data_dir, store)
    territory.exploration = Exploration(settings.explore_share, settings.holdout_share)
    engine = make_engine(settings.resolved_database_url)
    try:
        return store_week_plans(
            territory, session_factory(engine), week, time_limit_s, log, progress=progress
        )
    finally:
        engine.dispose()


def store_week_plans(
    territory: ServedTerritory,
    sessions: sessionmaker[Session],
    week: str | None = None,
    time_limit_s: float = 5.0,
    log: Callable[[str], None] = print,
    managers: list[str] | None = None,
    stop: threading.Event | None = None,
    progress: tuple[Callable[[int], None], Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Plan every manager's week (or ``managers``') with the territory's models; store both
    languages. ``stop`` ends the run between two managers (the service shutting down)."""
    week = week or territory.default_week()
    territory.context(week)  # a bad week fails here, once, with the planner's message
    versions = territory.store.versions_key()
    written = 0
    set_total, advance = progress or (lambda _: None, lambda: None)
    set_total(len(territory.team_of_manager))
    with sessions() as session:
        for manager_id in sorted(territory.team_of_manager if managers is None else managers):
            if stop is not None and stop.is_set():
                break
            advance()
            try:
                feedback = plan_feedback(session, [manager_id])
                plans = territory.plan_languages(
                    manager_id, week, time_limit_s=time_limit_s, feedback=feedback
                )
            except Exception as exc:
                log(f"  {manager_id}: not planned ({exc})")
                continue
            for language in LANGUAGES:
                body = {**plans[language], "source": "precomputed"}
                save_plan(
                    session,
                    manager_id,
                    territory.team_of_manager.get(manager_id),
                    week,
                    language,
                    json.dumps(body, ensure_ascii=False),
                    versions,
                )
            session.commit()
            written += 1
    return {"week": week, "managers": written, "models": versions}


def missing_week_plans(
    territory: ServedTerritory, sessions: sessionmaker[Session], week: str | None = None
) -> list[str]:
    """Managers whose default plan for the week is not stored, in every language, with the
    models now serving."""
    week = week or territory.default_week()
    with sessions() as session:
        stored = session.execute(
            select(PrecomputedPlan.manager_id, PrecomputedPlan.language).where(
                PrecomputedPlan.week == week,
                PrecomputedPlan.models == territory.store.versions_key(),
            )
        ).all()
    languages: dict[str, set[str]] = {}
    for manager_id, language in stored:
        languages.setdefault(manager_id, set()).add(language)
    return [
        m for m in sorted(territory.team_of_manager) if languages.get(m, set()) < set(LANGUAGES)
    ]


def fill_week_plans(
    territory: ServedTerritory,
    sessions: sessionmaker[Session],
    log: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """What the service does at start when ``plan batch`` has not: store the missing plans."""
    week = territory.default_week()
    missing = missing_week_plans(territory, sessions, week)
    if not missing:
        return {"week": week, "managers": 0, "models": territory.store.versions_key()}
    log(f"planning {len(missing)} managers' default week {week} in the background")
    return store_week_plans(territory, sessions, week, log=log, managers=missing, stop=stop)


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
