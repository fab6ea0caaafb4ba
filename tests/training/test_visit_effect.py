"""Behaviour of the visit-effect model on a simulated territory, where the true effect is known.

One territory (2,000 retailers, 8 managers, 75 weeks) and one fit serve every test; the
figures in the comments were measured on it (seed 11).
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from evaluation.visits import effect_truth_correlation
from features.errors import UserInputError
from features.retailer import model_input
from features.validate import load_dataset
from fieldcoach.settings import get_settings
from planning.purpose import choose_purposes
from simulator import SimulationConfig, Territory, export_dataset
from training.visit_policy import EFFECT_MODEL, check_rankings
from training.visit_rows import VisitEffectConfig
from training.visits import expected_saved_value, fit_visit_effect, uplift_top

CONFIG = VisitEffectConfig()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("visit_effect") / "data"
    territory = Territory.create(SimulationConfig(n_retailers=2000, n_managers=8, seed=11))
    territory.run(75)
    export_dataset(territory, data)
    tables = load_dataset(data).tables
    # The treatment is a visit with the planner's purpose, as `train visits` fits it.
    model = fit_visit_effect(tables, CONFIG, choose_purposes)
    return data, tables, model, effect_truth_correlation(data, model)


@pytest.mark.slow
def test_estimate_ranks_like_the_true_effect(fitted) -> None:
    truth = fitted[3]
    # Measured: DR-learner 0.34, T-learner 0.12, rotation -0.01, order recency 0.02.
    assert truth["rows"] > 5000
    assert truth["dr_learner"] > 0.25, truth
    assert truth["dr_learner"] > truth["rotation"] + 0.2, truth
    assert truth["dr_learner"] > truth["t_learner"], truth


@pytest.mark.slow
def test_top_fifth_gains_more_than_under_the_rotation(fitted) -> None:
    uplift = fitted[2].report_["uplift_top20"]
    # Measured: DR-learner 0.051, rotation 0.011 (relative order value over 8 weeks).
    assert uplift["dr_learner"] > uplift["rotation"], uplift
    assert uplift["dr_learner"] > 0.02, uplift


@pytest.mark.slow
def test_not_fooled_by_visits_aimed_at_declining_retailers(fitted) -> None:
    """Managers jump the queue for retailers whose orders already fell, so the visited rows
    would order less even without the visit: the naive visited-minus-unvisited difference
    understates the (in truth always non-negative) effect. The DR estimate of the average
    effect is positive and clearly above the naive difference (measured: 0.026 +- 0.003
    against 0.009)."""
    model = fitted[2]
    effect = model.report_["average_effect"]
    assert fitted[3]["true_mean_effect"] > 0
    assert effect["dr_train"] > 3 * effect["dr_train_se"], effect
    assert effect["dr_train"] - effect["naive_difference_train"] > 2 * effect["dr_train_se"]
    # The confounding is there to be corrected: visited retailers were ordering less.
    hold = model.holdout_
    level = hold.groupby("_t")["recent_level_vs_baseline"].mean()
    assert level[1] < level[0], level


@pytest.mark.slow
def test_overlap_is_reported(fitted) -> None:
    overlap = fitted[2].report_["overlap"]
    assert 0 < overlap["share_clipped"] < 1
    assert overlap["mean_treated"] > overlap["mean_untreated"]


@pytest.mark.slow
def test_predict_and_saved_value(fitted) -> None:
    model = fitted[2]
    frame = model.holdout_.head(50)
    effect = model.predict(frame)
    assert effect.shape == (50,) and np.isfinite(effect).all()
    saved = expected_saved_value(frame, effect, CONFIG.horizon_weeks)
    expected = np.maximum(effect, 0) * frame["baseline_weekly_value"].to_numpy() * 8
    np.testing.assert_allclose(saved, expected, rtol=1e-6)
    assert (saved >= 0).all()


def test_uplift_of_a_constant_score_is_about_zero() -> None:
    phi = np.random.default_rng(1).normal(size=10_000)
    assert abs(uplift_top(np.zeros(10_000), phi)) < 0.05
    assert uplift_top(phi, phi) > 1.0


@pytest.mark.slow
def test_no_visits_table_is_a_clear_error(fitted) -> None:
    tables = {k: v for k, v in fitted[1].items() if k != "visits"}
    with pytest.raises(UserInputError, match=r"needs a visits table.*falls back"):
        fit_visit_effect(tables, CONFIG)


@pytest.mark.slow
def test_self_check_is_reported_per_candidate(fitted) -> None:
    """Every candidate has an estimate and interval; exactly one is chosen. (On this
    territory the DR-learner's own ranking measured +2% over churn probability: short of the
    margin, so the plan ranks by churn probability.)"""
    values = fitted[2].report_["policy_values"]
    check = fitted[2].report_["ranking_check"]
    assert set(values) == {EFFECT_MODEL, "churn_x_value", "churn", "value", "rotation"}
    for entry in values.values():
        assert entry["ci_low"] <= entry["estimate"] <= entry["ci_high"]
    assert [name for name, entry in values.items() if entry["chosen"]] == [check["chosen"]]
    assert check["reason"]
    assert "propensity" in fitted[2].report_["overlap_advice"]


@pytest.mark.slow
def test_self_check_falls_back_when_the_model_learnt_shuffled_outcomes(fitted) -> None:
    """An effect model trained on shuffled pseudo-outcomes is useless; the planner must
    then rank by the best simple ranking."""
    import lightgbm as lgb

    from training.visits import effect_params

    model = fitted[2]
    rng = np.random.default_rng(3)
    x = model.holdout_x_
    phi = rng.permutation(model.holdout_["_phi"].to_numpy())
    useless = lgb.train(effect_params(len(phi), 0), lgb.Dataset(x, phi), 150).predict(x)
    check = check_rankings(model, effect=useless)
    assert check["chosen"] == check["fallback"] != EFFECT_MODEL, check["reason"]
    frame = model.selfcheck_.assign(_tau=rng.permutation(model.selfcheck_["_tau"].to_numpy()))
    check = check_rankings(model, frame=frame)
    assert check["chosen"] == check["fallback"] != EFFECT_MODEL, check["reason"]


@pytest.mark.slow
def test_mlflow_registers_a_champion_that_predicts(
    fitted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.visits_run import log_and_register

    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("FIELDCOACH_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    try:
        data, _, model, _ = fitted
        report = log_and_register(model, load_dataset(data), get_settings(), log=lambda *_: None)
        # Promoted exactly when the self-check chose the effect model over the rankings.
        chosen = report["ranking_check"]["chosen"]
        assert report["registry"]["promoted"] == (chosen == EFFECT_MODEL), report["registry"]
        assert report["registry"]["model"] == "visit-effect"
        alias = "champion" if chosen == EFFECT_MODEL else "challenger"
        champion = mlflow.pyfunc.load_model(f"models:/visit-effect@{alias}")
        frame = model.holdout_.head(20)
        out = champion.predict(model_input(frame, model.features_))
        assert isinstance(out, pd.DataFrame)
        np.testing.assert_allclose(out["visit_effect"], model.predict(frame), rtol=1e-6)
        assert (out["expected_saved_value"] >= 0).all()
        assert champion.metadata.metadata["horizon_weeks"] == CONFIG.horizon_weeks
        # The planner learns the self-check's choice from the registry, not from training.
        from planning.week import Models

        settings = get_settings()
        ranking = Models.load(settings.resolved_tracking_uri, settings.models_dir).ranking
        assert ranking is not None and ranking.name == report["ranking_check"]["chosen"]
        assert report["planner_ranking"]["planner_ranking"] == ranking.name
        # The next run reads the ranking in use and keeps it unless clearly beaten.
        in_use = "rotation" if ranking.name != "rotation" else "value"
        mlflow.MlflowClient().set_registered_model_tag("visit-effect", "planner_ranking", in_use)
        again = log_and_register(model, load_dataset(data), get_settings(), log=lambda *_: None)
        check = again["ranking_check"]
        assert check["incumbent"] == in_use, check
        if check["chosen"] != in_use:
            assert check["challenger_minus_incumbent"]["ci_low"] > 0, check
        else:
            assert check["kept_incumbent"], check
    finally:
        get_settings.cache_clear()


@pytest.mark.slow
def test_cli_without_visits_is_one_line_error(fitted, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fieldcoach.cli import app

    folder = tmp_path / "no-visits"
    folder.mkdir()
    for path in fitted[0].glob("*.parquet"):
        if path.stem != "visits":
            (folder / path.name).write_bytes(path.read_bytes())
    result = CliRunner().invoke(app, ["train", "visits", "--data", str(folder)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: the visit-effect model needs a visits table"), lines
    assert "Traceback" not in result.output


def test_the_effect_is_that_of_a_visit_with_the_planners_purpose() -> None:
    """Only visits of the matching purpose help much (0.30 against 0.05), and managers
    gave that purpose to a third of their visits. The pseudo-outcome must value the visit a
    plan makes (with its purpose), 0.30 where the need is, not the logged mix (about 0.13);
    where no need is, about nothing."""
    from training.visit_nuisance import NuisanceModels

    rng = np.random.default_rng(0)
    n = 40_000
    x = pd.DataFrame({"need_signal": rng.random(n), "noise": rng.random(n)})
    need = x["need_signal"].to_numpy() > 0.5
    t = (rng.random(n) < 0.2 + 0.2 * need).astype(int)  # needy shops are visited more
    m = t * (rng.random(n) < 1 / 3)
    lift = np.where(m == 1, 0.30, 0.05) * need
    y = np.clip(0.9 - 0.2 * need + t * lift + rng.normal(0, 0.3, n), 0, 3)
    config = VisitEffectConfig(nuisance_rounds=60)
    nuisance = NuisanceModels()
    nuisance.fit_fold(x, t, y, config, m)
    phi = nuisance.predict(x, config.propensity_clip).phi(t, y, m)
    assert abs(phi[need].mean() - 0.30) < 0.05, phi[need].mean()
    assert abs(phi[~need].mean()) < 0.05, phi[~need].mean()
    # Counting every visit as the treatment would have valued the logged mix instead.
    pooled = NuisanceModels()
    pooled.fit_fold(x, t, y, config)
    any_visit = pooled.predict(x, config.propensity_clip).phi(t, y)
    assert any_visit[need].mean() < 0.2, any_visit[need].mean()


def test_logged_propensities_are_matched_by_retailer_and_week() -> None:
    from training.visits import logged_propensities

    monday = pd.Timestamp("2025-03-03")
    log = pd.DataFrame(
        {
            "retailer_id": ["R1", "R2", "R1"],
            "week_start": [monday, monday, monday + pd.Timedelta(days=7)],
            "propensity": [0.05, 1.0, 0.2],
        }
    )
    rows = pd.DataFrame(
        {
            "retailer_id": ["R1", "R2", "R3", "R1"],
            "as_of": [monday, monday, monday, monday + pd.Timedelta(days=14)],
        }
    )
    got = logged_propensities({"recommendations": log}, rows)
    assert np.allclose(got[:2], [0.05, 1.0]) and np.isnan(got[2:]).all()
    assert np.isnan(logged_propensities({}, rows)).all()


def test_a_logged_propensity_is_that_of_the_planners_purpose_only_where_it_was_offered():
    """A plan that recommended a complaint visit logged the chance of a visit, not of the
    order-decline follow-up the treatment is defined by."""
    from training.visits import logged_propensities

    monday = pd.Timestamp("2025-03-03")
    log = pd.DataFrame(
        {
            "retailer_id": ["R1", "R2"],
            "week_start": [monday, monday],
            "propensity": [0.2, 0.4],
            "purpose": ["order_decline_followup", "complaint_recovery"],
        }
    )
    rows = pd.DataFrame(
        {
            "retailer_id": ["R1", "R2", "R3"],
            "as_of": [monday] * 3,
            "_purpose": ["order_decline_followup"] * 3,
        }
    )
    tables = {"recommendations": log}
    assert np.allclose(logged_propensities(tables, rows)[:2], [0.2, 0.4])
    same = logged_propensities(tables, rows, same_purpose=True)
    assert same[0] == 0.2 and np.isnan(same[1:]).all()
