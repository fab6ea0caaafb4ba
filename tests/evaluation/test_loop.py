"""The loop in simulation: policies on shared luck, retraining, the review against truth."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from evaluation.loop import LOOP_POLICIES, LoopConfig, evaluate_loop, review_check
from fieldcoach.cli import app
from simulator import SimulationConfig, Territory, export_dataset

QUICK = LoopConfig(weeks=2, retrain_every=1, seeds=1, block_weeks=1, time_limit_s=1.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("loop-data")
    territory = Territory.create(SimulationConfig(n_retailers=500, n_managers=3, seed=5))
    export_dataset(territory.run(60), folder)
    return folder


@pytest.fixture(scope="module")
def estimators(data):
    """The starting models on ``data`` with ``QUICK``, fitted once for both runs below (each
    fitted the same models on its own before)."""
    from evaluation.policy_setup import fit_estimators, load_start

    _, base = load_start(data, "the loop")
    return fit_estimators(base, QUICK)


@pytest.mark.slow
def test_the_review_is_checked_against_the_true_effect(data, estimators):
    check = review_check(data, QUICK, seeds=2, log=lambda _: None, estimators=estimators)
    assert check["seeds"] == 2 and len(check["per_seed"]) == 2
    for seed in check["per_seed"]:
        # The true effect of a recommendation is positive in this simulator.
        assert seed["truth"] > 0
        assert seed["randomised"] > seed["recommended"] > 0
        assert seed["covered"] == (seed["ci_low"] <= seed["truth"] <= seed["ci_high"])


@pytest.mark.slow
def test_every_policy_runs_and_the_learning_one_retrains(data, estimators):
    lines = []
    report = evaluate_loop(data, QUICK, log=lines.append, estimators=estimators)
    assert set(report["policies"]) == set(LOOP_POLICIES)
    assert any("retrained" in line for line in lines)
    assert report["policies"]["rotation"]["saved_last_8_weeks"]["mean"] == 0
    assert report["policies"]["oracle"]["saved_last_8_weeks"]["mean"] > 0
    learning = report["policies"]["learning"]
    assert len(learning["saved_per_block"]) == 2
    # The learning planner explores but holds nobody back: measuring is the review's job.
    assert report["config"]["holdout_share"] == 0 < report["config"]["review_holdout_share"]
    (retrain,) = learning["retrains"]  # weeks=2, retrain_every=1: one retrain, at week 1
    assert retrain["seed"] == 0 and retrain["week"] == 1
    assert retrain["effect_model_chosen"] == (retrain["chosen"] == "effect_model")
    assert retrain["incumbent"] is not None and retrain["training_lag_weeks"] > 0
    assert learning["ranking_changes"] == 0
    explore = report["policies"]["frozen_explore"]
    assert explore["budget_share"] == 0.05
    # Exploration costs what it says: never more of the plans' expected benefit than 5%.
    assert explore["expected_benefit_given_up_share"] <= 0.05


def test_cli_refuses_a_folder_without_simulator_state(tmp_path):
    result = CliRunner().invoke(
        app, ["evaluate", "loop", "--data", str(tmp_path), "--report", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 1 and "no saved simulator state" in result.output
    assert not (tmp_path / "r.json").exists()
