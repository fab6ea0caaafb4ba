"""`fieldcoach simulate`, `simulate-continue` and `validate` on simulated data, end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fieldcoach.cli import app
from simulator import SimulationConfig, Territory, export_dataset

validate = pytest.importorskip("features.validate")

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _read(folder: Path, table: str) -> pd.DataFrame:
    path = folder / f"{table}.parquet"
    return pd.read_parquet(path) if path.exists() else pd.read_csv(folder / f"{table}.csv")


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_simulated_folder_meets_the_contract(tmp_path: Path, file_format: str) -> None:
    territory = Territory.create(SimulationConfig(n_retailers=400, n_managers=4, seed=2))
    territory.run(30)
    export_dataset(territory, tmp_path, file_format=file_format)
    assert (tmp_path / f"orders.{file_format}").exists()
    report = validate.validate_folder(tmp_path)
    assert report.ok, report.render()


def _simulate(out: Path, weeks: int, file_format: str = "parquet"):
    return _invoke(
        "simulate",
        "--out",
        out,
        "--retailers",
        300,
        "--managers",
        3,
        "--weeks",
        weeks,
        "--seed",
        4,
        "--format",
        file_format,
    )


def test_cli_simulate_then_validate(tmp_path: Path) -> None:
    result = _simulate(tmp_path, 20)
    assert result.exit_code == 0, result.output
    assert "simulated 20 weeks" in result.output
    result = _invoke("validate", tmp_path)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_cli_continue_under_a_visit_plan(tmp_path: Path, file_format: str) -> None:
    data = tmp_path / "data"
    assert _simulate(data, 20, file_format).exit_code == 0
    before = {t: _read(data, t) for t in ("orders", "visits")}
    last_order = pd.to_datetime(before["orders"]["order_date"]).max()
    picked = _read(data, "retailers").iloc[::5][["retailer_id", "manager_id"]]
    first_monday = pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=20)
    plan = pd.concat(
        [
            picked.assign(visit_date=(first_monday + pd.Timedelta(days=7 * week + 1)).date())
            for week in range(4)
        ],
        ignore_index=True,
    ).assign(purpose="business_guidance")
    plan_file = tmp_path / "plan.csv"
    plan.to_csv(plan_file, index=False)

    result = _invoke("simulate-continue", "--data", data, "--weeks", 4, "--visit-plan", plan_file)
    assert result.exit_code == 0, result.output
    assert "data now ends 2024-06-17" in result.output

    after = {t: _read(data, t) for t in ("orders", "visits")}
    new_last = pd.to_datetime(after["orders"]["order_date"]).max()
    assert pd.Timedelta(days=24) <= new_last - last_order <= pd.Timedelta(days=32)
    assert len(after["orders"]) > len(before["orders"])
    # The plan's visits, exactly, were added after the old ones.
    new_visits = after["visits"].iloc[len(before["visits"]) :]
    assert len(new_visits) == len(plan)
    assert set(new_visits["purpose"]) == {"business_guidance"}
    assert set(new_visits["retailer_id"]) == set(picked["retailer_id"])
    pd.testing.assert_frame_equal(
        after["visits"].iloc[: len(before["visits"])], before["visits"], check_dtype=False
    )
    result = _invoke("validate", data)
    assert result.exit_code == 0, result.output


def test_cli_continue_rejects_an_unknown_retailer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _simulate(data, 20).exit_code == 0
    orders_before = _read(data, "orders")
    plan_file = tmp_path / "plan.csv"
    pd.DataFrame({"retailer_id": ["R9999999"], "visit_date": ["2024-05-21"]}).to_csv(
        plan_file, index=False
    )
    result = _invoke("simulate-continue", "--data", data, "--weeks", 2, "--visit-plan", plan_file)
    assert result.exit_code == 1
    assert "R9999999" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    # Nothing was appended.
    assert len(_read(data, "orders")) == len(orders_before)


def test_cli_start_must_be_a_monday(tmp_path: Path) -> None:
    result = _invoke(
        "simulate",
        "--out",
        tmp_path,
        "--retailers",
        50,
        "--managers",
        2,
        "--weeks",
        2,
        "--start",
        "2024-01-03",
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "2024-01-03" in result.output and "Wednesday" in result.output
    assert "Monday" in result.output
    assert not (tmp_path / "orders.parquet").exists()
