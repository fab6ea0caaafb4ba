"""The contract validator: every kind of bad input is named by file, column, rows and rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.contract import TABLES
from features.io import DataContractError
from features.validate import (
    ValidationReport,
    load_dataset,
    validate_folder,
    validate_tables,
)
from features.validation_report import ROW_CONVENTION

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


# --------------------------------------------------------------------------- good data


@FORMATS
def test_valid_dataset_passes(tmp_path: Path, fmt: str) -> None:
    report = validate_folder(write(tmp_path, valid_tables(), fmt))
    assert report.ok, report.render()
    assert report.capabilities_off == {}
    text = report.render()
    assert ROW_CONVENTION in text
    assert "OK: the data meets the contract." in text
    assert f"orders.{fmt}" in text and "order_date 2024-01-05 .. 2024-01-12" in text


@FORMATS
def test_orders_only_passes_and_reports_capabilities_off(tmp_path: Path, fmt: str) -> None:
    orders = valid_tables()["orders"]
    orders.loc[0, "retailer_id"] = "R-not-in-any-retailers-file"
    report = validate_folder(write(tmp_path, {"orders": orders}, fmt))
    assert report.ok, report.render()
    assert (
        "visit features, visit-effect model and purposeful visit plans" in report.capabilities_off
    )
    assert report.capabilities_off["manager context (tenure, territory size, capacity)"] == [
        "managers",
        "retailers",
    ]
    text = report.render()
    assert "Switched off (tables missing):" in text
    assert "satisfaction features (needs surveys)" in text
    assert [t.table for t in report.tables] == ["orders"]
    assert report.to_dict()["ok"] is True


def test_load_dataset_types_columns(tmp_path: Path) -> None:
    data = load_dataset(write(tmp_path, valid_tables(), "csv"))
    orders = data["orders"]
    assert pd.api.types.is_datetime64_dtype(orders["order_date"])
    assert orders["amount"].dtype == "float64"
    assert data["retailers"]["grade"].dtype == "int64"
    assert pd.api.types.is_string_dtype(orders["retailer_id"])
    assert data["retailers"]["licence_expires_on"].isna().tolist() == [False, True]
    only = load_dataset(tmp_path, tables=["orders", "retailers"])
    assert set(only.tables) == {"orders", "retailers"}


def test_typed_parquet_with_integer_ids_is_accepted(tmp_path: Path) -> None:
    orders = pd.DataFrame(
        {
            "order_id": [1001, 1002],
            "retailer_id": [7, 8],
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-08"]),
            "amount": [10.0, 12.5],
            "brand_count": [3.0, None],
        }
    )
    retailers = pd.DataFrame({"retailer_id": [7.0, 8.0], "grade": [1, 2]})
    typed, report = validate_tables(
        {"orders": orders, "retailers": retailers},
        {"orders": "orders.parquet", "retailers": "retailers.parquet"},
    )
    assert report.ok, report.render()
    assert typed["orders"]["retailer_id"].tolist() == ["7", "8"]
    assert typed["retailers"]["retailer_id"].tolist() == ["7", "8"]
    assert typed["orders"]["brand_count"].dtype == "Int64"


def test_load_dataset_raises_with_the_full_report(tmp_path: Path) -> None:
    tables = valid_tables()
    tables["orders"].loc[1, "amount"] = "-3"
    with pytest.raises(DataContractError) as caught:
        load_dataset(write(tmp_path, tables, "csv"))
    assert "orders.csv, column amount, line 3 (1 row): must be >= 0; e.g. -3" in str(caught.value)


# --------------------------------------------------------------------------- bad data


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


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataContractError, match="no such data folder"):
        validate_folder(tmp_path / "nope")


def test_table_present_as_csv_and_parquet(tmp_path: Path) -> None:
    tables = valid_tables()
    write(tmp_path, tables, "csv")
    write(tmp_path, {"orders": tables["orders"]}, "parquet")
    report = validate_folder(tmp_path)
    assert not report.ok
    assert (
        "orders: present twice (orders.parquet and orders.csv); keep one file per table"
        in report.render()
    )
    assert "required table missing" not in report.render()


def test_several_problems_reported_together(tmp_path: Path) -> None:
    tables = valid_tables()
    orders = tables["orders"]
    orders.loc[0, "amount"] = "-2"
    orders.loc[1, "amount"] = "abc"  # unparseable: reported as such, not also as a range
    orders.loc[2, "amount"] = "-5"
    orders.loc[2, "order_date"] = "yesterday"
    tables["courses"].loc[0, "skills"] = "planning;juggling"
    tables["retailers"].loc[1, "format"] = "kiosk"
    tables["orders"] = orders.drop(columns=["retailer_id"])
    report = validate_folder(write(tmp_path, tables, "csv"))
    text = report.render()
    expected = [
        "retailers.csv, column format, line 3 (1 row): must be one of: convenience",
        "orders.csv, column retailer_id: required column missing",
        "orders.csv, column order_date, line 4 (1 row): not a date",
        "orders.csv, column amount, line 3 (1 row): not a number; e.g. abc",
        "orders.csv, column amount, lines 2, 4 (2 rows): must be >= 0; e.g. -2, -5",
        "courses.csv, column skills, line 2 (1 row): each ';'-separated item must be one of",
    ]
    for line in expected:
        assert line in text, text
    assert f"Problems ({len(expected)}):" in text
    payload = report.to_dict()
    assert payload["ok"] is False
    assert len(payload["problems"]) == len(expected)
    assert payload["problems"][0]["file"] == "retailers.csv"


def test_many_failures_are_grouped_and_truncated(tmp_path: Path) -> None:
    orders = pd.DataFrame(
        {"retailer_id": "R1", "order_date": "2024-01-01", "amount": ["-1"] * 25}, dtype="str"
    )
    report = validate_folder(write(tmp_path, {"orders": orders}, "csv"))
    text = report.render()
    assert (
        "orders.csv, column amount, lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ... (25 rows):"
        " must be >= 0; e.g. -1"
    ) in text, text
    assert len(report.problems) == 1


def test_extra_columns_and_files_are_notes_not_problems(tmp_path: Path) -> None:
    tables = valid_tables()
    tables["orders"]["channel"] = "app"
    write(tmp_path, tables, "csv")
    (tmp_path / "order_lines.csv").write_text("a\n1\n", encoding="utf-8")
    report = validate_folder(tmp_path)
    assert report.ok
    assert "orders.csv: columns not in the contract, ignored: channel" in report.notes
    assert "files that are not contract tables, ignored: order_lines.csv" in report.notes


def test_gbk_csv_is_read(tmp_path: Path) -> None:
    tables = valid_tables()
    write(tmp_path, tables, "csv")
    path = tmp_path / "courses.csv"
    tables["courses"].to_csv(path, index=False, encoding="gbk")
    report = validate_folder(tmp_path)
    assert report.ok, report.render()


def test_every_contract_table_is_in_the_valid_fixture() -> None:
    assert set(valid_tables()) == set(TABLES)


# --------------------------------------------------------------------------- command line


def test_cli_validate(tmp_path: Path) -> None:
    from fieldcoach.cli import app

    runner = CliRunner()
    good = write(tmp_path / "good", valid_tables(), "csv")
    result = runner.invoke(app, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "OK: the data meets the contract." in result.output

    tables = valid_tables()
    tables["orders"].loc[1, "retailer_id"] = "R9"
    bad = write(tmp_path / "bad", tables, "csv")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert (
        "orders.csv, column retailer_id, line 3 (1 row): must be a retailer_id of retailers.csv"
        in result.output
    )

    result = runner.invoke(app, ["validate", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no such data folder" in result.output


def test_contract_metadata_points_at_real_columns() -> None:
    """Every foreign key and date-order rule names a table and column of the contract."""
    from features.contract import column_rules, schema_for
    from features.table_rules import join_key

    for name in TABLES:
        for column in schema_for(name).columns:
            rules = column_rules(name, column)
            for target in (rules.get("references"), rules.get("not_before")):
                if target is None:
                    continue
                if "." not in target:
                    assert target in schema_for(name).columns
                    continue
                other, other_column = target.split(".", 1)
                assert other_column in schema_for(other).columns, target
                if target == rules.get("not_before"):
                    assert join_key(name, other) in schema_for(name).columns


@FORMATS
def test_orders_with_no_rows_is_a_problem(tmp_path: Path, fmt: str) -> None:
    report = check(tmp_path, fmt, lambda tables: tables.update(orders=tables["orders"].head(0)))
    assert not report.ok
    assert f"orders.{fmt}: required table has no data rows" in report.render()
