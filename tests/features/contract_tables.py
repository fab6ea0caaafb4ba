"""A small company that meets every contract rule, and how the validator tests write and
check it (shared by test_validate.py and test_validate_cells.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from features.validate import ValidationReport, validate_folder

Tables = dict[str, pd.DataFrame]


def _frame(rows: list[dict[str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype="str")


def valid_tables() -> Tables:
    """A small company that meets every rule, as exported text."""
    return {
        "retailers": _frame(
            [
                {
                    "retailer_id": "R1",
                    "name": "幸福便利店",
                    "address": "城关镇人民路12号",
                    "manager_id": "M1",
                    "format": "convenience",
                    "grade": "5",
                    "licensed_on": "2020-01-01",
                    "licence_expires_on": "2030-01-01",
                },
                {
                    "retailer_id": "R2",
                    "manager_id": "M1",
                    "format": "grocery",
                    "grade": "12",
                    "licensed_on": "2021-06-01",
                    "licence_expires_on": None,
                },
            ]
        ),
        "managers": _frame(
            [{"manager_id": "M1", "hired_on": "2019-01-01", "weekly_capacity": "40"}]
        ),
        "orders": _frame(
            [
                {
                    "order_id": "O1",
                    "retailer_id": "R1",
                    "order_date": "2024-01-05",
                    "amount": "100",
                },
                {
                    "order_id": "O2",
                    "retailer_id": "R2",
                    "order_date": "2024-01-12",
                    "amount": "50.5",
                },
                {
                    "order_id": "O3",
                    "retailer_id": "R1",
                    "order_date": "2024-01-12",
                    "amount": "80",
                },
            ]
        ),
        "visits": _frame(
            [
                {
                    "retailer_id": "R1",
                    "manager_id": "M1",
                    "visit_date": "2024-01-03",
                    "purpose": "routine",
                },
                {
                    "retailer_id": "R2",
                    "manager_id": "M1",
                    "visit_date": "2024-01-04",
                    "purpose": None,
                },
            ]
        ),
        "assessments": _frame(
            [{"manager_id": "M1", "assessed_on": "2024-01-01", "skill": "planning", "score": "70"}]
        ),
        "courses": _frame(
            [
                {
                    "course_id": "C1",
                    "title": "基础",
                    "skills": "planning;communication",
                    "level": "basic",
                    "hours": "2",
                    "prerequisites": None,
                },
                {
                    "course_id": "C2",
                    "title": "Advanced",
                    "skills": "planning",
                    "level": "advanced",
                    "hours": "4",
                    "prerequisites": "C1",
                },
            ]
        ),
        "trainings": _frame(
            [{"manager_id": "M1", "course_id": "C1", "completed_on": "2024-02-01"}]
        ),
        "surveys": _frame(
            [{"retailer_id": "R1", "surveyed_on": "2024-03-01", "satisfaction": "4"}]
        ),
        "complaints": _frame(
            [
                {
                    "complaint_id": "K1",
                    "retailer_id": "R2",
                    "complained_on": "2024-03-02",
                    "category": "service",
                }
            ]
        ),
        "working_days": _frame(
            [
                {"date": "2026-01-04", "working": "1", "name": "调休"},
                {"date": "2026-01-05", "working": "0", "name": None},
            ]
        ),
        "recommendations": _frame(
            [
                {
                    "retailer_id": "R1",
                    "manager_id": "M1",
                    "week_start": "2024-01-08",
                    "propensity": "0.05",
                    "recommended": "1",
                    "explored": "1",
                    "held_out": "0",
                    "near_best": "1",
                    "expected_benefit": "120.5",
                    "purpose": "brand_cultivation",
                }
            ]
        ),
    }


def write(folder: Path, tables: Tables, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def where(fmt: str, table: str, column: str, positions: list[int]) -> str:
    """The expected location text; ``positions`` are 0-based data rows."""
    if fmt == "csv":
        numbers, label = [p + 2 for p in positions], "line"
    else:
        numbers, label = [p + 1 for p in positions], "row"
    label += "s" if len(numbers) > 1 else ""
    noun = "row" if len(numbers) == 1 else "rows"
    shown = ", ".join(str(n) for n in numbers)
    return f"{table}.{fmt}, column {column}, {label} {shown} ({len(numbers)} {noun})"


def check(tmp_path: Path, fmt: str, mutate: Callable[[Tables], None]) -> ValidationReport:
    tables = valid_tables()
    mutate(tables)
    report = validate_folder(write(tmp_path / "data", tables, fmt))
    assert not report.ok
    return report


FORMATS = pytest.mark.parametrize("fmt", ["csv", "parquet"])
