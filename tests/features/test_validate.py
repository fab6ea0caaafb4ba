"""The contract validator on whole folders: good data passes and is typed, a folder's
problems are reported together and grouped, and the command line prints the report.

Each kind of bad cell, column and row is in test_validate_cells.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.contract import TABLES
from features.io import DataContractError
from features.validate import load_dataset, validate_folder, validate_tables
from features.validation_report import ROW_CONVENTION

from .contract_tables import FORMATS, valid_tables, write

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


# --------------------------------------------------------------------------- folders and reports


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
