"""Plans keep China's working calendar: no visits on 元旦, Sundays worked in lieu (调休),
the company's own days, and days since the last visit counted from the planned day."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from features.calendar import WorkingCalendar, week_working_offsets
from planning.plan import plan_manager, plan_manager_languages
from planning.week import Models, prepare_week

NEW_YEAR_WEEK = pd.Timestamp("2025-12-29")  # 2026-W01: 元旦 Thu 1 - Sat 3, Sun 4 worked
# Ids (R0000123, M0003, 2026-W01) and units may stay in Latin letters in Chinese text, also
# where Chinese touches them ("按M0000近26周", where \b finds no edge: 按 is a word character).
LATIN_ALLOWED = re.compile(r"(?<![A-Za-z0-9])(?:[A-Z]{1,3}\d+|km)(?![A-Za-z0-9])")


@pytest.fixture(scope="module")
def data(new_year_data):
    return new_year_data


@pytest.fixture(scope="module")
def tables(new_year_tables):
    return new_year_tables


@pytest.fixture(scope="module")
def context(tables):
    return prepare_week(tables, "2026-W01", Models())


def test_official_calendar_knows_new_year_and_the_sunday_worked_in_lieu():
    offsets, skipped = week_working_offsets(NEW_YEAR_WEEK, 5, WorkingCalendar())
    assert offsets == [0, 1, 2, 6]
    assert [(o, k.holiday) for o, k in skipped] == [(3, "New Year's Day"), (4, "New Year's Day")]
    spring = pd.Timestamp("2026-02-16")  # the Spring Festival week: nobody works
    assert week_working_offsets(spring, 5, WorkingCalendar())[0] == []
    # A Saturday worked before the festival does not stretch a full week past five days.
    assert week_working_offsets(pd.Timestamp("2026-02-09"), 5, WorkingCalendar())[0] == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert week_working_offsets(NEW_YEAR_WEEK, 3, WorkingCalendar())[0] == [0, 1, 2]


def test_the_company_file_overrides_the_official_calendar():
    own = pd.DataFrame(
        {
            "date": pd.to_datetime(["2026-01-02", "2025-12-30"]),
            "working": [1, 0],
            "name": ["年终盘点", "公司年会"],
        }
    )
    offsets, skipped = week_working_offsets(NEW_YEAR_WEEK, 5, WorkingCalendar(own))
    assert offsets == [0, 2, 4, 6]
    assert [(o, k.holiday) for o, k in skipped] == [(1, "公司年会"), (3, "New Year's Day")]


def test_a_year_without_official_data_falls_back_to_weekdays_and_says_so():
    calendar = WorkingCalendar()
    assert week_working_offsets(pd.Timestamp("2031-01-06"), 5, calendar)[0] == [0, 1, 2, 3, 4]
    assert calendar.years_without_official_data == {2031}


@pytest.mark.slow
def test_no_visit_is_planned_on_new_years_day(context, tables):
    for manager in sorted(tables["managers"]["manager_id"]):
        plans = plan_manager_languages(context, manager, ("zh", "en"), solution_limit=10)
        for plan in plans.values():
            dates = {v["date"] for v in plan["visits"]}
            assert plan["visits"] and not dates & {"2026-01-01", "2026-01-02", "2026-01-03"}
            assert "2026-01-04" in plan["working_dates"]
            assert [d["date"] for d in plan["schedule"]] == plan["working_dates"]
        assert any("元旦" in n for n in plans["zh"]["notes"])


def test_holidays_can_be_worked_when_asked(context, tables):
    manager = sorted(tables["managers"]["manager_id"])[0]
    plan = plan_manager(context, manager, solution_limit=10, include_non_working_days=True)
    assert "2026-01-01" in plan["working_dates"]
    assert any("as asked" in n for n in plan["notes"])


def test_days_since_last_visit_counts_from_the_planned_day(context, tables):
    manager = sorted(tables["managers"]["manager_id"])[0]
    plan = plan_manager(context, manager, solution_limit=10)
    last = tables["visits"].groupby("retailer_id")["visit_date"].max()
    checked = 0
    for visit in plan["visits"]:
        if visit["days_since_last_visit"] is None:
            continue
        gap = (pd.Timestamp(visit["date"]) - last[visit["retailer_id"]]).days
        assert visit["days_since_last_visit"] == gap, visit
        checked += 1
    assert checked > 10


@pytest.fixture
def cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from fieldcoach.cli import app
    from fieldcoach.settings import get_settings

    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, list(args))
    get_settings.cache_clear()


@pytest.mark.slow
def test_cli_writes_the_route_as_excel_and_csv_with_chinese_headers(cli, data, tables, tmp_path):
    manager = sorted(tables["managers"]["manager_id"])[0]
    team = tables["managers"]["team_id"].iloc[0]
    xlsx = tmp_path / "plan.xlsx"
    args = ["--data", str(data), "--week", "2026-W01", "--language", "zh"]
    result = cli("plan", "visits", "--manager", manager, *args, "--out", str(xlsx))
    assert result.exit_code == 0, result.output
    # The printed plan is Chinese too: its summary, its days and its notes.
    lines = result.output.splitlines()
    head = next(line for line in lines if line.startswith(f"{manager} 2026-W01"))
    days = [line for line in lines if re.match(r"  \d{4}-\d\d-\d\d", line)]
    notes = [line for line in lines if line.startswith("  说明：")]
    assert "次拜访" in head and days and notes, result.output
    assert not any(line.startswith("  note:") for line in lines), result.output
    for line in [head, *days, *notes]:
        assert not re.findall(r"[A-Za-z]+", LATIN_ALLOWED.sub("", line)), line
    sheet = pd.read_excel(xlsx, dtype=str)
    assert list(sheet.columns[:6]) == ["客户经理", "周次", "日期", "星期", "顺序", "客户编码"]
    assert sheet["顺序"].iloc[0] == "0" and sheet["客户名称"].iloc[0] == "出发点"
    assert "2026-01-01" not in set(sheet["日期"])
    order = list(zip(sheet["日期"], sheet["顺序"].astype(int), strict=True))
    assert order == sorted(order)
    csv = tmp_path / "team.csv"
    extra = ["--capacity", "12", "--days", "3", "--min-gap-days", "7"]
    result = cli("plan", "team", "--team", team, *args, *extra, "--out", str(csv))
    assert result.exit_code == 0, result.output
    assert any(line.startswith(f"团队{team} 2026-W01") for line in result.output.splitlines())
    rows = pd.read_csv(csv, encoding="utf-8-sig", dtype=str)
    visits = rows[rows["客户编码"].notna()]
    assert visits.groupby("客户经理").size().le(12).all()
    assert set(visits["日期"]) <= {"2025-12-29", "2025-12-30", "2025-12-31"}
    assert visits["拜访目的"].str.contains("[\u4e00-\u9fff]").all()
    bad = cli("plan", "visits", "--manager", manager, *args, "--out", str(tmp_path / "p.txt"))
    assert bad.exit_code == 1 and "use a .json, .csv or .xlsx" in bad.output
    wrong = cli("plan", "team", "--team", team, "--data", str(data), "--language", "fr")
    assert wrong.exit_code == 1 and "zh or en" in wrong.output
