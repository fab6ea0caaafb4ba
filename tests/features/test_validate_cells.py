"""The contract validator on bad data: every kind of bad cell, column, row or table is
named by file, column, rows and rule, and reported once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from .contract_tables import FORMATS, Tables, check, where


def _set(table: str, row: int, column: str, value: str | None) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table].loc[row, column] = value

    return mutate


def _drop_column(table: str, column: str) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        tables[table] = tables[table].drop(columns=[column])

    return mutate


def _duplicate_row(table: str, row: int) -> Callable[[Tables], None]:
    def mutate(tables: Tables) -> None:
        frame = tables[table]
        tables[table] = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)

    return mutate


# (id, mutation, table, column, 0-based failing rows, rule text, example text)
BAD_CELLS = [
    (
        "unparseable-number",
        _set("orders", 1, "amount", "12,5x"),
        "orders",
        "amount",
        [1],
        "not a number",
        "'12,5x'",
    ),
    (
        "unparseable-date",
        _set("visits", 0, "visit_date", "2024-02-30"),
        "visits",
        "visit_date",
        [0],
        "not a date (write dates as YYYY-MM-DD)",
        "2024-02-30",
    ),
    (
        "not-whole-number",
        _set("retailers", 1, "grade", "2.5"),
        "retailers",
        "grade",
        [1],
        "not a whole number",
        "2.5",
    ),
    (
        "null-in-required",
        _set("orders", 2, "retailer_id", None),
        "orders",
        "retailer_id",
        [2],
        "must not be empty",
        "",
    ),
    (
        "out-of-range",
        _set("surveys", 0, "satisfaction", "7"),
        "surveys",
        "satisfaction",
        [0],
        "must be <= 5",
        "7",
    ),
    (
        "below-range",
        _set("orders", 0, "amount", "-2"),
        "orders",
        "amount",
        [0],
        "must be >= 0",
        "-2",
    ),
    (
        "not-allowed",
        _set("complaints", 0, "category", "rude"),
        "complaints",
        "category",
        [0],
        "must be one of: service, conduct, supply, price, other",
        "rude",
    ),
    (
        "duplicate-key",
        _set("orders", 2, "order_id", "O1"),
        "orders",
        "order_id",
        [0, 2],
        "must be unique (value appears more than once)",
        "O1",
    ),
    (
        "unknown-retailer",
        _set("orders", 1, "retailer_id", "R9"),
        "orders",
        "retailer_id",
        [1],
        "must be a retailer_id of retailers.{fmt} (not found)",
        "R9",
    ),
    (
        "visit-unknown-manager",
        _set("visits", 1, "manager_id", "M7"),
        "visits",
        "manager_id",
        [1],
        "must be a manager_id of managers.{fmt} (not found)",
        "M7",
    ),
    (
        "unknown-prerequisite",
        _set("courses", 1, "prerequisites", "C1;C9"),
        "courses",
        "prerequisites",
        [1],
        "each item must be a course_id of courses.{fmt} (not found)",
        "C9",
    ),
    (
        "skill-not-in-model",
        _set("courses", 0, "skills", "planning;juggling"),
        "courses",
        "skills",
        [0],
        "each ';'-separated item must be one of: market_insight",
        "juggling",
    ),
    (
        "licence-expires-before-issue",
        _set("retailers", 0, "licence_expires_on", "2019-12-31"),
        "retailers",
        "licence_expires_on",
        [0],
        "must not be before licensed_on",
        "2019-12-31 < 2020-01-01",
    ),
    (
        "order-before-licence",
        _set("orders", 1, "order_date", "2021-01-04"),
        "orders",
        "order_date",
        [1],
        "must not be before licensed_on of its retailer_id in retailers.{fmt}",
        "2021-01-04 < 2021-06-01",
    ),
    (
        "visit-before-hire",
        _set("visits", 0, "visit_date", "2018-05-01"),
        "visits",
        "visit_date",
        [0],
        "must not be before hired_on of its manager_id in managers.{fmt}",
        "2018-05-01 < 2019-01-01",
    ),
]


@FORMATS
@pytest.mark.parametrize(
    ("mutate", "table", "column", "rows", "rule", "example"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_CELLS],
)
def test_bad_cell_is_named(
    tmp_path: Path,
    fmt: str,
    mutate: Callable[[Tables], None],
    table: str,
    column: str,
    rows: list[int],
    rule: str,
    example: str,
) -> None:
    report = check(tmp_path, fmt, mutate)
    text = report.render()
    expected = f"{where(fmt, table, column, rows)}: {rule.format(fmt=fmt)}"
    assert expected in text, text
    if example:
        assert f"e.g. {example}" in text, text
    assert len(report.problems) == 1, text  # one bad cell, one problem: no double reports
    assert "FAILED: 1 problem(s)" in text


@FORMATS
def test_duplicate_multi_column_key(tmp_path: Path, fmt: str) -> None:
    report = check(tmp_path, fmt, _duplicate_row("visits", 0))
    text = report.render()
    label = "lines 2, 4" if fmt == "csv" else "rows 1, 3"
    assert (
        f"visits.{fmt}, columns retailer_id + manager_id + visit_date, {label} (2 rows):"
        " each combination must be unique (appears more than once);"
        " e.g. (R1, M1, 2024-01-03)"
    ) in text, text
    assert len(report.problems) == 1


@FORMATS
def test_missing_required_column(tmp_path: Path, fmt: str) -> None:
    report = check(tmp_path, fmt, _drop_column("orders", "amount"))
    assert f"orders.{fmt}, column amount: required column missing" in report.render()
    assert len(report.problems) == 1


@FORMATS
def test_missing_orders_table(tmp_path: Path, fmt: str) -> None:
    report = check(tmp_path, fmt, lambda tables: tables.pop("orders"))
    assert "orders: required table missing (orders.csv or orders.parquet)" in report.render()


@FORMATS
def test_orders_with_no_rows_is_a_problem(tmp_path: Path, fmt: str) -> None:
    report = check(tmp_path, fmt, lambda tables: tables.update(orders=tables["orders"].head(0)))
    assert not report.ok
    assert f"orders.{fmt}: required table has no data rows" in report.render()
