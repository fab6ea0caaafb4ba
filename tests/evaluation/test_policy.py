"""Policy evaluation runs every policy on shared luck and reports intervals per policy."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from evaluation.policy_runs import POLICIES, run_policy
from evaluation.policy_setup import PolicyConfig
from fieldcoach.cli import app
from simulator import SimulationConfig, Territory, export_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("policy-data")
    territory = Territory.create(SimulationConfig(n_retailers=700, n_managers=3, seed=11))
    export_dataset(territory.run(70), folder)
    return folder


@pytest.fixture(scope="module")
def evaluated(data, tmp_path_factory):
    """One ``evaluate policy`` run through the CLI: its output, report JSON and chart.

    The figures below and the CLI's files come from this one run, so the planner's models
    are trained once for the module (a second run for the CLI test cost ~25 s).
    """
    from fieldcoach.settings import get_settings

    out = tmp_path_factory.mktemp("policy-report") / "policy.json"
    # The planner stops on its solution count; the time limit is only a cap far above it, so
    # its plans, and the figures below, are the same on a loaded machine as on a quiet one
    # (with a 0.1 s limit a loaded machine cut its solves short: -35,834 against rotation).
    args = ["--weeks", "3", "--seeds", "2", "--solution-limit", "50", "--time-limit", "60"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIELDCOACH_HOME", str(out.parent / "home"))
        get_settings.cache_clear()
        result = runner.invoke(
            app, ["evaluate", "policy", "--data", str(data), *args, "--report", str(out)]
        )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return SimpleNamespace(output=result.output, path=out, report=json.loads(out.read_text()))


@pytest.fixture(scope="module")
def report(evaluated):
    return evaluated.report


@pytest.mark.slow
def test_every_policy_has_means_and_intervals(report):
    for policy in POLICIES:
        for key in ("retained_value", "retained_retailers"):
            figure = report[policy][key]
            assert figure["ci_low"] <= figure["mean"] <= figure["ci_high"]
    assert report["rotation"]["saved_value"]["mean"] == 0


@pytest.mark.slow
def test_the_oracle_keeps_more_than_current_practice(report):
    assert report["oracle"]["saved_value"]["mean"] > 0


@pytest.mark.slow
def test_the_planner_keeps_more_than_rotation(report):
    """The product's claim: with the same capacity and the same luck, fieldcoach's plan keeps
    more order value than the company's rotation, by at least a fifth of what knowing every
    visit's true effect (the oracle) keeps beyond rotation.

    Measured at a873c59: planner +28,314 yuan over 3 weeks (32% of the oracle's +88,350;
    risk-first +16,051, random +12,036) on rotation's 3,041,390. From f6b808e the fallback
    ranking stayed on churn probability (+3,978, 4.5%) because only the simple rule ahead
    by luck (usual value, which fails inside the overlap) was tested against it; with each
    rule tested, churn x value replaces it: +29,315 (33%)."""
    planner = report["planner"]["saved_value"]["mean"]
    oracle = report["oracle"]["saved_value"]["mean"]
    assert planner > 0.2 * oracle > 0, (planner, oracle)


def test_same_seed_same_policy_same_result(data):
    from evaluation.policy_setup import Observed
    from features.validate import load_dataset
    from simulator.export import STATE_FILE

    start = Territory.load(data / STATE_FILE)
    start.records.clear()
    observed = Observed(load_dataset(data).tables)
    config = PolicyConfig(weeks=2, seeds=1)
    first = run_policy("rotation", start, observed, None, config, seed=3)
    again = run_policy("rotation", start, observed, None, config, seed=3)
    other = run_policy("rotation", start, observed, None, config, seed=4)
    assert first == again
    assert first != other


def test_cli_refuses_a_folder_without_simulator_state(tmp_path):
    (tmp_path / "orders.csv").write_text("retailer_id,order_date,amount\nR1,2024-01-01,10\n")
    result = runner.invoke(app, ["evaluate", "policy", "--data", str(tmp_path)])
    assert result.exit_code == 1
    assert "no saved simulator state" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_cli_writes_report_and_chart(evaluated):
    written = evaluated.report
    assert set(POLICIES) <= set(written)
    assert (written["weeks"], written["seeds"]) == (3, 2)
    assert evaluated.path.with_suffix(".png").exists()
    assert written["chart"] == str(evaluated.path.with_suffix(".png"))
    assert written["mlflow_run_id"]
    assert "3 weeks from" in evaluated.output and "2 seeds" in evaluated.output
    for policy in POLICIES:
        assert f"\n{policy:<10}" in evaluated.output, policy
