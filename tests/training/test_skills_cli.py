"""`train skills`, `recommend training|cohorts`, `evaluate skills`: registry and errors."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fieldcoach.cli import app
from fieldcoach.settings import get_settings
from simulator import SimulationConfig, Territory, export_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("skills-cli") / "data"
    territory = Territory.create(SimulationConfig(n_retailers=3000, n_managers=30, seed=8))
    territory.run(90)
    export_dataset(territory, out)
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("skills-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIELDCOACH_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("FIELDCOACH_MLFLOW_TRACKING_URI", raising=False)
        get_settings.cache_clear()
        yield home
    get_settings.cache_clear()


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.slow
def test_recommend_before_training_is_a_clear_error(home) -> None:
    result = _invoke("recommend", "training", "--manager", "M0001")
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]  # MLflow may log while creating its store
    assert last.startswith("error: cannot load models:/manager-skills@champion")


@pytest.mark.slow
def test_train_registers_then_recommends_and_gates_a_second_run(data, home, tmp_path) -> None:
    report = tmp_path / "skills.json"
    result = _invoke("train", "skills", "--data", data, "--report", report)
    assert result.exit_code == 0, result.output
    assert "manager-skills v1: promoted to champion" in result.output
    body = json.loads(report.read_text())
    assert body["registry"]["promoted"]
    assert set(body["importance"]) == set(body["targets"])

    result = _invoke(
        "recommend",
        "training",
        "--manager",
        "M0003",
        "--format",
        "json",
        "--budget-hours",
        "16",
        "--data",
        data,
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["manager_id"] == "M0003" and plan["modules"]
    assert sum(m["hours"] for m in plan["modules"]) <= 16
    assert all(m["rationale_zh"] and m["rationale_en"] for m in plan["modules"])

    result = _invoke("recommend", "cohorts", "--min-size", "2", "--max-size", "4")
    assert result.exit_code == 0, result.output
    assert "session 1:" in result.output
    # Who should attend one course, in one team, in Chinese, with who was left out and why.
    course = pd.read_parquet(data / "courses.parquet")["course_id"].iloc[0]
    managers = pd.read_parquet(data / "managers.parquet")
    team = managers["team_id"].iloc[0]
    members = set(managers.loc[managers["team_id"] == team, "manager_id"])
    args = ("--course", course, "--team", team, "--data", data, "--language", "zh")
    result = _invoke("recommend", "cohorts", "--min-size", "1", *args)
    assert result.exit_code == 0, result.output
    sessions = [line for line in result.output.splitlines() if line.startswith("session ")]
    assert sessions and all(course in line for line in sessions), result.output
    listed = {m for line in sessions for m in line.rsplit(": ", 1)[1].split(", ")}
    left = [line.strip() for line in result.output.splitlines() if line.startswith("  ")]
    assert listed <= members and listed | {x.split(":")[0] for x in left} == members
    assert all(re.search("[\u4e00-\u9fff]", x) for x in left)

    # The same data again: the champion is scored on the challenger's holdout.
    result = _invoke("train", "skills", "--data", data)
    assert result.exit_code == 0, result.output
    assert "manager-skills v2:" in result.output
    assert "could not score" not in result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, message",
    [
        (("recommend", "training", "--manager", "NOBODY"), "unknown manager 'NOBODY'"),
        (
            ("recommend", "training", "--manager", "M0001", "--budget-hours", "0"),
            "budget must be positive",
        ),
        (("recommend", "training", "--manager", "M0001", "--format", "xml"), "--format"),
        (("recommend", "cohorts", "--min-size", "6", "--max-size", "3"), "min size"),
    ],
)
def test_bad_requests_are_one_line(data, home, args, message) -> None:
    if not (home / "mlflow.db").exists():
        assert _invoke("train", "skills", "--data", data).exit_code == 0
    result = _invoke(*args)
    assert result.exit_code == 1
    assert result.output.startswith("error:") and message in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_bad_data_is_one_line(data, home, tmp_path) -> None:
    broken = tmp_path / "data"
    shutil.copytree(data, broken, ignore=shutil.ignore_patterns("_state"))
    pd.read_parquet(broken / "assessments.parquet").iloc[:0].to_parquet(
        broken / "assessments.parquet"
    )
    result = _invoke("train", "skills", "--data", broken)
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: assessments: the table is empty; skills cannot be estimated"
    )
    courses = pd.read_parquet(data / "courses.parquet")
    courses.loc[0, "skills"] = "juggling"
    courses.to_parquet(broken / "courses.parquet")
    result = _invoke("evaluate", "skills", "--data", broken, "--report", tmp_path / "e.json")
    assert result.exit_code == 1 and result.output.startswith("error:")
    assert "juggling" in result.output


@pytest.mark.slow
def test_evaluate_writes_the_figures_and_refuses_without_truth(data, home, tmp_path) -> None:
    report = tmp_path / "eval.json"
    result = _invoke("evaluate", "skills", "--data", data, "--report", report)
    assert result.exit_code == 0, result.output
    body = json.loads(report.read_text())
    for figures in body["skills"].values():
        assert {"spearman", "spearman_latest_assessment"} <= set(figures)
    assert {"correlation", "false_credit_rate"} <= set(body["course_effects"])
    assert {"gain_vs_oracle", "gain_vs_baseline"} <= set(body["recommendation"])

    bare = tmp_path / "bare"
    shutil.copytree(data, bare, ignore=shutil.ignore_patterns("_truth", "_state"))
    result = _invoke("evaluate", "skills", "--data", bare, "--report", tmp_path / "x.json")
    assert result.exit_code == 1 and "no simulator truth" in result.output
