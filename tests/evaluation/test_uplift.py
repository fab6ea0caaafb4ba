"""The review on data where the effect of a recommendation is planted, so the answer is known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from evaluation import uplift_report
from evaluation.uplift import ReviewConfig, feedback_rates, review
from features.errors import UserInputError

WEEK = pd.Timestamp("2025-04-07")  # a Monday, 14 weeks after the orders start


def planted(effect_per_week: float, n: int = 1600, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Weekly buyers; half are randomised by the holdout (p 0.7), half by exploration (p 0.1).

    A retailer recommended for WEEK orders ``effect_per_week`` more in each of the 4 weeks
    from it; the truth over the review's 4-week window is 4 x that.
    """
    rng = np.random.default_rng(seed)
    ids = [f"R{i:05d}" for i in range(n)]
    usual = rng.lognormal(np.log(300), 0.6, n)
    near = np.arange(n) >= n // 2
    p = np.where(near, 0.1, 0.7)
    drawn = rng.random(n) < p
    assigned = drawn
    start = WEEK - pd.Timedelta(weeks=14)
    rows = []
    for w in range(19):
        monday = start + pd.Timedelta(weeks=w)
        lift = effect_per_week * assigned if monday >= WEEK else 0.0
        value = np.maximum(usual * rng.lognormal(0, 0.25, n) + lift, 0)
        buys = rng.random(n) < 0.95
        rows.append(
            pd.DataFrame(
                {"retailer_id": ids, "order_date": monday + pd.Timedelta(days=2), "amount": value}
            )[buys]
        )
    orders = pd.concat(rows, ignore_index=True)
    managers = pd.DataFrame(
        {"manager_id": [f"M{k}" for k in range(8)], "team_id": ["T0"] * 4 + ["T1"] * 4}
    )
    purposes = np.array(["brand_cultivation", "business_guidance", "order_decline_followup"])
    log = pd.DataFrame(
        {
            "retailer_id": ids,
            "manager_id": [f"M{i % 8}" for i in range(n)],
            "week_start": WEEK,
            "propensity": p,
            "recommended": assigned.astype(int),
            "explored": (near & drawn).astype(int),
            "held_out": (~near & ~drawn).astype(int),
            "near_best": near.astype(int),
            "purpose": purposes[np.arange(n) % 3],
        }
    )
    return {"orders": orders, "managers": managers, "recommendations": log}


@pytest.mark.parametrize("effect_per_week", [0.0, 40.0])
def test_the_interval_covers_the_planted_effect(effect_per_week):
    result = review(planted(effect_per_week), ReviewConfig(horizon_weeks=4))
    overall = result["order_value"]["overall"]
    truth = 4 * effect_per_week
    assert overall["ci_low"] <= truth <= overall["ci_high"], overall
    assert overall["ci_high"] - overall["ci_low"] < 120, "the baseline keeps it tight"
    if effect_per_week:
        assert overall["ci_low"] > 0 and "增加" in result["verdict"]["zh"]
    for arm in ("exploration", "holdout"):
        entry = result["order_value"]["by_arm"][arm]
        assert entry["ci_low"] - 30 <= truth <= entry["ci_high"] + 30, (arm, entry)


def test_rows_recommended_for_sure_are_left_out_of_the_comparison():
    tables = planted(0.0, seed=3)
    # Plans recommend the biggest shops for sure (probability 1): comparing them with the
    # rest would credit visits with their size, so they are not compared.
    big = tables["orders"].groupby("retailer_id")["amount"].mean().nlargest(200).index
    extra = pd.DataFrame(
        {
            "retailer_id": big,
            "manager_id": "M0",
            "week_start": WEEK - pd.Timedelta(weeks=1),
            "propensity": 1.0,
            "recommended": 1,
            "explored": 0,
            "held_out": 0,
            "near_best": 0,
            "purpose": "brand_cultivation",
        }
    )
    tables["recommendations"] = pd.concat([tables["recommendations"], extra], ignore_index=True)
    result = review(tables)
    assert result["rows"]["not_randomised"] == 200
    overall = result["order_value"]["overall"]
    assert overall["ci_low"] <= 0 <= overall["ci_high"]


def test_small_groups_are_shrunk_and_too_little_data_is_said_plainly():
    tables = planted(40.0)
    result = review(tables)
    managers = result["order_value"]["by_manager"]
    for g in managers.values():
        assert 0 <= g["shrinkage_weight"] <= 1
        lo, hi = sorted((g["estimate"], result["order_value"]["overall"]["estimate"]))
        assert lo - 1e-9 <= g["shrunk"] <= hi + 1e-9, "shrunk between own and overall"
    few = tables["recommendations"].iloc[:30]
    tiny = review({**tables, "recommendations": few})
    assert tiny["order_value"]["overall"]["estimate"] is None
    assert "needs at least 20 of each" in tiny["order_value"]["overall"]["why_not"]
    assert tiny["verdict"]["zh"].startswith("数据不足")


def test_incomplete_outcome_windows_and_no_log_are_clear():
    tables = planted(0.0)
    late = tables["recommendations"].assign(week_start=WEEK + pd.Timedelta(weeks=2))
    result = review({**tables, "recommendations": late})
    assert result["rows"]["outcome_not_complete"] == len(late)
    with pytest.raises(UserInputError, match="no recommendations table"):
        review({"orders": tables["orders"]})


def test_feedback_rates_count_the_latest_decision_and_the_reasons():
    rates = feedback_rates(
        [
            {"kind": "decision", "retailer_id": "R1", "week": "2025-W15", "decision": "reject",
             "reason": "店主不在"},
            {"kind": "decision", "retailer_id": "R1", "week": "2025-W15", "decision": "accept"},
            {"kind": "decision", "retailer_id": "R2", "week": "2025-W15", "decision": "reject",
             "reason": "装修"},
            {"kind": "outcome", "retailer_id": "R1", "done": True},
            {"kind": "outcome", "retailer_id": "R3", "done": False},
        ]
    )  # fmt: skip
    assert rates["acceptance_rate"] == 0.5 and rates["done_rate"] == 0.5
    assert rates["rejection_reasons"] == {"装修": 1}
    assert feedback_rates([])["available"] is False


def test_files_json_workbook_and_charts_in_a_cjk_font(tmp_path):
    from matplotlib import font_manager

    result = review(planted(40.0))
    written = uplift_report.write_review(result, tmp_path / "review.json", settings=None)
    assert json.loads((tmp_path / "review.json").read_text())["verdict"]["zh"]
    sheets = load_workbook(written["files"]["workbook"]).sheetnames
    assert sheets == ["总览", "按目的", "按团队", "按客户经理", "反馈"]
    for key in ("chart_effect", "chart_purpose"):
        with open(written["files"][key], "rb") as png:
            assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    family = uplift_report.cjk_font()
    path = font_manager.findfont(
        font_manager.FontProperties(family=family), fallback_to_default=False
    )
    assert "CJK" in path, path


def test_no_cjk_font_is_a_clear_error(monkeypatch):
    from matplotlib import font_manager

    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    with pytest.raises(UserInputError, match="apt-get install fonts-noto-cjk"):
        uplift_report.cjk_font()


@pytest.mark.slow  # a fresh MLflow store (its migrations), a workbook and charts
def test_cli_writes_the_review_and_logs_it(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from fieldcoach.cli import app

    data = tmp_path / "data"
    data.mkdir()
    for name, frame in planted(40.0).items():
        frame.to_parquet(data / f"{name}.parquet", index=False)
    home = tmp_path / "home"
    monkeypatch.setenv("FIELDCOACH_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("FIELDCOACH_DATABASE_URL", f"sqlite:///{home / 'none.db'}")
    report = tmp_path / "out" / "review.json"
    args = ["evaluate", "uplift", "--data", str(data), "--report", str(report)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "推荐拜访使随后4周订货额平均增加" in result.output
    written = json.loads(report.read_text())
    assert written["mlflow_run_id"] and (tmp_path / "out" / "review.xlsx").exists()
    late = CliRunner().invoke(app, [*args, "--since", "2026-01-05"])
    assert late.exit_code == 0 and "no estimate" in late.output
