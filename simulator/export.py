"""Writing a simulated territory as a company would export it, and its hidden truth beside it.

Records are built as Arrow tables straight from the simulator's arrays (a 300,000-retailer
territory writes tens of millions of order rows). A continued territory appends the weeks
it simulated since the last export. Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.contract import COMPLAINT_CATEGORIES, FORMATS, SKILLS, VISIT_PURPOSES
from features.errors import UserInputError
from features.io import atomic_path
from simulator.catalogue import CATALOGUE
from simulator.rules import EXIT_REASONS
from simulator.territory import Territory

TRUTH_DIR = "_truth"
STATE_FILE = Path("_state") / "territory.pkl"
EVENT_TABLES = ("orders", "visits", "assessments", "trainings", "surveys", "complaints")
TRUTH_TABLES = ("retailer_weeks", "manager_skills", "shortages")


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())


def _labels(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    return pa.array(
        np.asarray(names, dtype=object)[np.asarray(codes, dtype=np.int64)], type=pa.string()
    )


def _concat(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}


def build_event_tables(territory: Territory) -> dict[str, pa.Table]:
    """The event tables for the weeks simulated since the last export."""
    retailer_ids = pa.array(territory.retailer_ids())
    manager_ids = pa.array(territory.manager_ids())
    course_ids = pa.array([c.course_id for c in CATALOGUE])
    tables: dict[str, pa.Table] = {}
    rec = {name: _concat(chunks) for name, chunks in territory.records.items() if chunks}
    if "orders" in rec:
        o = rec["orders"]
        tables["orders"] = pa.table(
            {
                "retailer_id": retailer_ids.take(pa.array(o["retailer"])),
                "order_date": _dates(o["order_date"]),
                "quantity": o["quantity"],
                "amount": o["amount"],
                "brand_count": o["brand_count"],
                "premium_share": o["premium_share"],
            }
        )
    if "visits" in rec:
        v = rec["visits"]
        tables["visits"] = pa.table(
            {
                "retailer_id": retailer_ids.take(pa.array(v["retailer"])),
                "manager_id": manager_ids.take(pa.array(v["manager"])),
                "visit_date": _dates(v["visit_date"]),
                "duration_min": v["duration_min"],
                "purpose": _labels(v["purpose"], VISIT_PURPOSES),
            }
        )
    if "assessments" in rec:
        a = rec["assessments"]
        tables["assessments"] = pa.table(
            {
                "manager_id": manager_ids.take(pa.array(a["manager"])),
                "assessed_on": _dates(a["assessed_on"]),
                "skill": _labels(a["skill"], SKILLS),
                "score": a["score"],
            }
        )
    if "trainings" in rec:
        t = rec["trainings"]
        tables["trainings"] = pa.table(
            {
                "manager_id": manager_ids.take(pa.array(t["manager"])),
                "course_id": course_ids.take(pa.array(t["course"])),
                "completed_on": _dates(t["completed_on"]),
            }
        )
    if "surveys" in rec:
        s = rec["surveys"]
        tables["surveys"] = pa.table(
            {
                "retailer_id": retailer_ids.take(pa.array(s["retailer"])),
                "surveyed_on": _dates(s["surveyed_on"]),
                "satisfaction": s["satisfaction"].astype(np.int64),
            }
        )
    if "complaints" in rec:
        c = rec["complaints"]
        tables["complaints"] = pa.table(
            {
                "retailer_id": retailer_ids.take(pa.array(c["retailer"])),
                "complained_on": _dates(c["complained_on"]),
                "category": _labels(c["category"], COMPLAINT_CATEGORIES),
            }
        )
    return tables


def build_static_tables(territory: Territory) -> dict[str, pa.Table]:
    """Retailers, managers and the course catalogue as they stand now."""
    r, m = territory.retailers, territory.managers
    tenure_years = (territory.current_day - m.hired_on) / 365.25
    role = np.where(tenure_years < 2, "junior", np.where(tenure_years < 6, "regular", "senior"))
    return {
        "retailers": pa.table(
            {
                "retailer_id": territory.retailer_ids(),
                "manager_id": territory.manager_ids(r.manager),
                "format": _labels(r.format, FORMATS),
                "area_type": np.where(r.urban, "urban", "rural"),
                "grade": r.grade.astype(np.int64),
                "lat": np.round(r.lat, 5),
                "lon": np.round(r.lon, 5),
                "licensed_on": _dates(r.licensed_on),
                "licence_expires_on": pa.array(
                    np.where(r.expires_on >= 0, r.expires_on, 0).astype(np.int32),
                    type=pa.date32(),
                    mask=r.expires_on < 0,
                ),
            }
        ),
        "managers": pa.table(
            {
                "manager_id": territory.manager_ids(),
                "team_id": np.char.add("T", np.char.zfill(m.team.astype(str), 2)),
                "hired_on": _dates(m.hired_on),
                "role": role,
                "weekly_capacity": m.capacity.astype(np.int64),
                "home_lat": np.round(m.home_lat, 5),
                "home_lon": np.round(m.home_lon, 5),
            }
        ),
        "courses": pa.table(
            {
                "course_id": [c.course_id for c in CATALOGUE],
                "title": [c.title_zh for c in CATALOGUE],
                "title_en": [c.title_en for c in CATALOGUE],
                "skills": [";".join(c.effects) for c in CATALOGUE],
                "level": [c.level for c in CATALOGUE],
                "hours": [float(c.hours) for c in CATALOGUE],
                "format": [c.format for c in CATALOGUE],
                "prerequisites": [";".join(c.prerequisites) or None for c in CATALOGUE],
                "refresh_after_weeks": [c.refresh_after_weeks for c in CATALOGUE],
            }
        ),
    }


def build_truth_tables(territory: Territory) -> dict[str, pa.Table]:
    """Ground truth: latent states, true effects and true skills (evaluation code only)."""
    retailer_ids = pa.array(territory.retailer_ids())
    manager_ids = pa.array(territory.manager_ids())
    tables: dict[str, pa.Table] = {}
    truth = {name: _concat(chunks) for name, chunks in territory.truth.items() if chunks}
    if "retailer_weeks" in truth:
        w = truth.pop("retailer_weeks")
        tables["retailer_weeks"] = pa.table(
            {
                "retailer_id": retailer_ids.take(pa.array(w.pop("retailer"))),
                "week_start": _dates(w.pop("week_start")),
                **{k: v for k, v in w.items() if k != "best_purpose"},
                "best_purpose": _labels(w["best_purpose"], VISIT_PURPOSES),
            }
        )
    if "manager_skills" in truth:
        s = truth.pop("manager_skills")
        tables["manager_skills"] = pa.table(
            {
                "manager_id": manager_ids.take(pa.array(s.pop("manager"))),
                "week_start": _dates(s.pop("week_start")),
                **s,
            }
        )
    # Written even when empty: "no shortage" is part of the truth, and readers expect the file.
    none = np.zeros(0, dtype=np.int32)
    sh = truth.pop("shortages", {"week_start": none, "weeks": none})
    tables["shortages"] = pa.table({"week_start": _dates(sh["week_start"]), "weeks": sh["weeks"]})
    return tables


def build_truth_static(territory: Territory) -> dict[str, pa.Table]:
    r = territory.retailers
    exited_day = territory.start_day + 7 * r.exited_week
    return {
        "retailers": pa.table(
            {
                "retailer_id": territory.retailer_ids(),
                "health0": r.health0,
                "base_value": r.base_value,
                "exited_week_start": pa.array(
                    np.where(r.exited_week >= 0, exited_day, 0).astype(np.int32),
                    type=pa.date32(),
                    mask=r.exited_week < 0,
                ),
                "exit_reason": pa.array(
                    np.asarray(EXIT_REASONS, dtype=object)[r.exit_reason],
                    type=pa.string(),
                    mask=r.exited_week < 0,
                ),
                "visit_cycle_weeks": r.cycle.astype(np.int64),
            }
        ),
        "course_effects": pa.table(
            {
                "course_id": [c.course_id for c in CATALOGUE for _ in c.effects],
                "skill": [s for c in CATALOGUE for s in c.effects],
                "true_effect": [e for c in CATALOGUE for e in c.effects.values()],
            }
        ),
    }


def _write(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp)


def _append(table: pa.Table, path: Path, appending: bool) -> int:
    if appending and path.exists():
        old = (
            pq.read_table(path)
            if path.suffix == ".parquet"
            else pacsv.read_csv(
                path, convert_options=pacsv.ConvertOptions(column_types=table.schema)
            )
        )
        table = pa.concat_tables([old.cast(table.schema), table])
    _write(table, path)
    return table.num_rows


def export_dataset(
    territory: Territory, out: Path, file_format: str = "parquet"
) -> dict[str, int]:
    """Write the territory's records as contract tables in ``out`` and its truth in ``_truth``.

    The first export writes everything; an export of a continued territory appends the new
    weeks to the event tables and rewrites the static ones. The state is saved last, so a
    crash mid-export leaves the previous state to continue from.

    Returns:
        rows per contract table now on disk.
    """
    if file_format not in ("parquet", "csv"):
        raise UserInputError(f"--format {file_format!r}: use parquet or csv")
    out = Path(out)
    appending = territory.file_format == file_format and territory.exported_weeks > 0
    territory.file_format = file_format
    rows: dict[str, int] = {}
    for name, table in build_static_tables(territory).items():
        _write(table, out / f"{name}.{file_format}")
        rows[name] = table.num_rows
    for name, table in build_event_tables(territory).items():
        rows[name] = _append(table, out / f"{name}.{file_format}", appending)
    truth_dir = out / TRUTH_DIR
    for name, table in build_truth_tables(territory).items():
        _append(table, truth_dir / f"{name}.parquet", appending)
    for name, table in build_truth_static(territory).items():
        _write(table, truth_dir / f"{name}.parquet")
    with atomic_path(truth_dir / "params.json") as tmp:
        tmp.write_text(json.dumps(territory.describe(), indent=2, default=str))
    territory.records.clear()
    territory.truth.clear()
    territory.exported_weeks = territory.week
    territory.save(out / STATE_FILE)
    return rows


def has_truth(data_dir: Path) -> bool:
    """Whether ``data_dir`` was written by the simulator with its truth (evaluation only)."""
    return (Path(data_dir) / TRUTH_DIR / "params.json").exists()


def load_truth(data_dir: Path, table: str) -> pd.DataFrame:
    """A ground-truth table; for evaluation code only, never for a pipeline."""
    path = Path(data_dir) / TRUTH_DIR / f"{table}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no simulator truth in {data_dir}")
    return pd.read_parquet(path)
