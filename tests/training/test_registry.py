"""The champion/challenger rule, and the registry on a real local MLflow store."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from features.errors import UserInputError
from features.io import data_fingerprint
from features.retailer import build_retailer_features, model_input, prepare_history
from features.validate import load_dataset
from fieldcoach.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    configure_mlflow,
    list_models,
    promote,
    rollback,
    version_by_alias,
)
from fieldcoach.settings import Settings
from training.churn import RECENCY_FEATURE, ChurnConfig, train_churn
from training.churn_labels import LabelSpec, churn_labels
from training.churn_run import (
    CHURN_MODEL,
    CHURN_RULE,
    _log_model,
    choose_served_kind,
    run_churn_training,
)
from training.metrics import score_metrics
from training.promotion import PromotionRule, decide_promotion, register_and_gate

from ..conftest import copy_home

RULE = PromotionRule()
BRIER = PromotionRule(metric="brier", lower_is_better=True)


def _brier(brier: float, ece: float = 0.002) -> dict[str, float]:
    return {"brier": brier, "ece": ece}


def test_lightgbm_is_served_when_it_beats_the_recency_rule() -> None:
    report = {"lightgbm": _brier(0.0014), "recency": _brier(0.0016)}
    assert choose_served_kind(report, BRIER)[0] == "lightgbm"


def test_the_recency_rule_is_served_when_lightgbm_loses_to_it() -> None:
    # The demo territory's holdout: LightGBM 0.00175 against the rule's 0.00159.
    report = {"lightgbm": _brier(0.00175), "recency": _brier(0.00159)}
    kind, why = choose_served_kind(report, BRIER)
    assert kind == "recency"
    assert "does not beat the recency baseline" in why


def test_lightgbm_stays_the_candidate_when_the_rule_itself_is_uncalibrated() -> None:
    report = {"lightgbm": _brier(0.00175), "recency": _brier(0.00159, ece=0.2)}
    assert choose_served_kind(report, BRIER)[0] == "lightgbm"


# ------------------------------------------------------------------ the rule alone
def _m(roc_auc: float, ece: float = 0.01) -> dict[str, float]:
    return {"roc_auc": roc_auc, "ece": ece}


def test_no_champion_promotes_when_it_beats_the_baseline_and_is_calibrated() -> None:
    promoted, reason = decide_promotion(RULE, _m(0.80), _m(0.70), None)
    assert promoted, reason
    assert "no champion" in reason


def test_no_champion_but_no_better_than_the_baseline_is_not_promoted() -> None:
    promoted, reason = decide_promotion(RULE, _m(0.70), _m(0.70), None)
    assert not promoted
    assert "baseline" in reason


def test_worse_than_the_champion_is_not_promoted() -> None:
    promoted, reason = decide_promotion(RULE, _m(0.80), _m(0.70), _m(0.82))
    assert not promoted
    assert "champion" in reason


def test_better_than_the_champion_is_promoted() -> None:
    assert decide_promotion(RULE, _m(0.83), _m(0.70), _m(0.82))[0]


def test_min_gain_is_required_over_the_champion() -> None:
    rule = PromotionRule(min_gain=0.01)
    assert not decide_promotion(rule, _m(0.825), _m(0.70), _m(0.82))[0]
    assert decide_promotion(rule, _m(0.83), _m(0.70), _m(0.82))[0]


def test_ece_above_the_limit_is_not_promoted() -> None:
    promoted, reason = decide_promotion(RULE, _m(0.90, ece=0.05), _m(0.70), None)
    assert not promoted
    assert "ECE" in reason
    # ... even when it ranks better than a well-calibrated champion.
    assert not decide_promotion(RULE, _m(0.90, ece=0.05), _m(0.70), _m(0.82, ece=0.01))[0]


def test_ece_no_worse_than_a_badly_calibrated_champion_is_allowed() -> None:
    assert decide_promotion(RULE, _m(0.90, ece=0.05), _m(0.70), _m(0.82, ece=0.06))[0]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_metric_is_not_promoted(value: float) -> None:
    promoted, reason = decide_promotion(RULE, _m(value), _m(0.70), None)
    assert not promoted
    assert "not finite" in reason


def test_nan_ece_is_not_promoted() -> None:
    promoted, reason = decide_promotion(RULE, _m(0.90, ece=math.nan), _m(0.70), None)
    assert not promoted
    assert "ece is not finite" in reason


# ------------------------------------------------------- a real local MLflow store
@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, churn_home):
    """Two training runs on the same simulated data in one SQLite store: the first is the
    session's ``churn_home`` run (a fresh store), the second is made here on a copy of it."""
    root = tmp_path_factory.mktemp("registry")
    copy_home(churn_home.home, root / "home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIELDCOACH_HOME", str(root / "home"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("FIELDCOACH_MLFLOW_TRACKING_URI", raising=False)
        settings = Settings()
        second_log: list[str] = []
        config = ChurnConfig(tune=False)
        second = run_churn_training(
            load_dataset(churn_home.data),
            config,
            settings,
            log=second_log.append,
            oracle=churn_home.oracle,
        )
        client = configure_mlflow(settings)
        yield {
            "data": churn_home.data,
            "settings": settings,
            "first_home": churn_home.home,
            "client": client,
            "reports": (churn_home.report, second),
            "logs": [churn_home.log, second_log],
        }


@pytest.mark.slow
def test_a_logged_recency_rule_predicts_what_the_rule_predicted(registry) -> None:
    tables = load_dataset(registry["data"]).tables
    trained = train_churn(tables, ChurnConfig(tune=False))
    configure_mlflow(registry["settings"])
    # In the model's experiment, whose artifacts are under the home (the default experiment
    # would put them in the working directory's mlruns/).
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name(CHURN_MODEL).experiment_id):
        info = _log_model(trained, "recency")
    model = mlflow.pyfunc.load_model(info.model_uri)
    assert model.metadata.get_input_schema().input_names() == [RECENCY_FEATURE]
    assert model.metadata.metadata["kind"] == "recency"
    out = model.predict(model_input(trained.holdout, [RECENCY_FEATURE]))
    np.testing.assert_allclose(
        out["churn_probability"].to_numpy(), trained.predictions["recency"], atol=1e-12
    )
    reasons = out["reasons"].map(json.loads)
    risky = out["churn_probability"] > trained.report["churn_rate"]["train"]
    assert reasons[risky].map(len).eq(1).all()
    assert all(r[0]["code"] == "order_gap" for r in reasons[risky])
    assert reasons[~risky].map(len).eq(0).all()


def _alias(client, alias: str) -> int | None:
    found = version_by_alias(client, CHURN_MODEL, alias)
    return int(found.version) if found is not None else None


@pytest.mark.slow
def test_first_run_registers_v1_as_champion(registry) -> None:
    first = registry["reports"][0]["registry"]
    assert first["version"] == 1
    assert first["promoted"] is True
    assert first["champion_before"] is None
    assert first["rule"] == CHURN_RULE.describe()
    assert "no champion yet" in first["reason"]
    assert any(line == f"promotion rule: {CHURN_RULE.describe()}" for line in registry["logs"][0])
    assert any("v1: promoted to champion" in line for line in registry["logs"][0])
    served = registry["reports"][0]["served_model"]
    assert first["kind"] == served["kind"] in ("lightgbm", "recency")
    tags = registry["client"].get_model_version(CHURN_MODEL, "1").tags
    assert tags["model_kind"] == served["kind"]
    assert tags["rule_metric"] == "brier"


@pytest.mark.slow
def test_second_run_is_challenger_judged_on_the_same_holdout(registry) -> None:
    report = registry["reports"][1]
    decision = report["registry"]
    assert decision["version"] == 2
    assert decision["champion_before"] == 1
    assert decision["rule"] == CHURN_RULE.describe()
    assert decision["reason"]
    assert any(line == f"promotion rule: {CHURN_RULE.describe()}" for line in registry["logs"][1])
    assert any("v2: " in line and decision["reason"] in line for line in registry["logs"][1])
    # v1, loaded from the registry, scored v2's holdout: the same data and settings give
    # the same model, so the registered model reproduces the run's own metrics ...
    champion_on_holdout = decision["champion_metrics_on_this_holdout"]
    assert champion_on_holdout["roc_auc"] == pytest.approx(report["lightgbm"]["roc_auc"], abs=1e-9)
    assert champion_on_holdout["ece"] == pytest.approx(report["lightgbm"]["ece"], abs=1e-6)
    # ... and a tie passes the ">= champion" rule.
    assert decision["promoted"] is True
    client = registry["client"]
    assert _alias(client, CHALLENGER) == 2
    # The report logged with the run holds the decision too.
    logged = mlflow.artifacts.load_dict(f"runs:/{decision['run_id']}/report.json")
    assert logged["registry"]["version"] == 2
    assert logged["registry"]["reason"] == decision["reason"]
    run = client.get_run(decision["run_id"])
    assert run.data.tags["promotion_rule"] == CHURN_RULE.describe()
    assert run.data.tags["promotion"] == "promoted"


@pytest.mark.slow
def test_promote_rollback_and_list(registry) -> None:
    client = registry["client"]
    promote(client, CHURN_MODEL, 2)
    assert _alias(client, CHAMPION) == 2

    message = promote(client, CHURN_MODEL, 1)
    assert "version 1" in message
    assert _alias(client, CHAMPION) == 1
    assert _alias(client, PREVIOUS) == 2

    rows = {row["version"]: row for row in list_models(client) if row["model"] == CHURN_MODEL}
    assert rows[1]["aliases"] == [CHAMPION]
    assert sorted(rows[2]["aliases"]) == sorted([CHALLENGER, PREVIOUS])
    assert "lightgbm_roc_auc" in rows[1]["metrics"]

    rollback(client, CHURN_MODEL)
    assert _alias(client, CHAMPION) == 2
    assert _alias(client, PREVIOUS) == 1
    rows = {row["version"]: row for row in list_models(client) if row["model"] == CHURN_MODEL}
    assert sorted(rows[2]["aliases"]) == sorted([CHALLENGER, CHAMPION])
    assert rows[1]["aliases"] == [PREVIOUS]


@pytest.mark.slow
def test_promote_of_a_missing_version_is_a_user_error(registry) -> None:
    client = registry["client"]
    before = _alias(client, CHAMPION)
    with pytest.raises(UserInputError, match="no version 99"):
        promote(client, CHURN_MODEL, 99)
    with pytest.raises(UserInputError):
        promote(client, "no-such-model", 1)
    assert _alias(client, CHAMPION) == before


@pytest.mark.slow
@pytest.mark.parametrize(
    "degrade",
    [
        pytest.param({"roc_auc": -0.02}, id="ranks-worse"),
        pytest.param({"ece": 0.05}, id="miscalibrated"),
    ],
)
def test_a_bad_model_never_replaces_a_good_one(registry, degrade) -> None:
    client = registry["client"]
    champion_before = _alias(client, CHAMPION)
    report = registry["reports"][1]
    champion_metrics = {k: v for k, v in report["lightgbm"].items() if k != "segments"}
    challenger = {k: v + degrade.get(k, 0.0) for k, v in champion_metrics.items()}
    assert challenger["roc_auc"] > report["recency"]["roc_auc"]  # passes the baseline check
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name(CHURN_MODEL).experiment_id):
        run_id = mlflow.active_run().info.run_id
    decision = register_and_gate(
        client,
        CHURN_MODEL,
        report["registry"]["model_uri"],
        run_id,
        RULE,
        challenger,
        report["recency"],
        lambda uri: champion_metrics,
    )
    assert decision["promoted"] is False, decision
    assert _alias(client, CHAMPION) == champion_before
    assert _alias(client, CHALLENGER) == decision["version"]
    assert client.get_run(run_id).data.tags["promotion"] == "not promoted"


@pytest.mark.slow
def test_a_champion_that_cannot_score_blocks_promotion(registry) -> None:
    client = registry["client"]
    champion_before = _alias(client, CHAMPION)
    report = registry["reports"][1]
    better = {**report["lightgbm"], "roc_auc": 0.999}

    def broken(uri: str) -> dict[str, float]:
        raise ValueError("input lacks feature columns")

    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name(CHURN_MODEL).experiment_id):
        run_id = mlflow.active_run().info.run_id
    decision = register_and_gate(
        client,
        CHURN_MODEL,
        report["registry"]["model_uri"],
        run_id,
        RULE,
        better,
        report["recency"],
        broken,
    )
    assert decision["promoted"] is False
    assert "could not score" in decision["reason"]
    assert _alias(client, CHAMPION) == champion_before


# ----------------------------------------------------------- the logged model and run
@pytest.mark.slow
def test_champion_loads_and_scores_the_holdout(registry) -> None:
    client = registry["client"]
    model = mlflow.pyfunc.load_model(f"models:/{CHURN_MODEL}@{CHAMPION}")
    version = version_by_alias(client, CHURN_MODEL, CHAMPION)
    run = client.get_run(version.run_id)
    cutoff = pd.Timestamp(run.data.params["cutoff"])
    horizon = int(run.data.params["horizon_weeks"])
    features = mlflow.artifacts.load_dict(f"runs:/{version.run_id}/features.json")["features"]
    assert model.metadata.get_input_schema().input_names() == features

    tables = load_dataset(registry["data"]).tables
    history = prepare_history(tables)
    frame, history, _ = build_retailer_features(tables, [cutoff], horizon, history)
    predicted = model.predict(model_input(frame, features))

    p = predicted["churn_probability"].to_numpy()
    assert len(p) == len(frame)
    assert np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    for text in predicted["reasons"]:
        reasons = json.loads(text)
        assert isinstance(reasons, list) and len(reasons) <= 3
        for reason in reasons:
            assert set(reason) == {"feature", "contribution", "code", "zh", "en"}
            assert reason["feature"] in features and reason["contribution"] > 0
    assert any(json.loads(text) for text in predicted["reasons"])
    # Scoring the rebuilt holdout with the registered model gives the run's metrics.
    y = churn_labels(history, frame, LabelSpec(horizon)).to_numpy()
    logged = run.data.metrics
    assert score_metrics(y, p)["roc_auc"] == pytest.approx(logged["lightgbm_roc_auc"], abs=1e-9)


@pytest.mark.slow
def test_run_logs_params_metrics_artifacts_and_fingerprint(registry) -> None:
    client = registry["client"]
    report = registry["reports"][0]
    run = client.get_run(report["registry"]["run_id"])
    params = run.data.params
    assert params["cutoff"] == report["cutoff"]
    assert params["horizon_weeks"] == "8"
    for name in ("tune", "label", "rows_train", "rows_holdout", "top_k", "lgbm_rounds"):
        assert name in params, name
    metrics = run.data.metrics
    for model in ("lightgbm", "logistic", "recency", "oracle"):
        for metric in ("roc_auc", "pr_auc", "brier", "log_loss", "ece", "precision_top10"):
            assert np.isfinite(metrics[f"{model}_{metric}"]), (model, metric)
    assert metrics["lightgbm_roc_auc"] == pytest.approx(report["lightgbm"]["roc_auc"])

    def listing(path: str | None = None) -> set[str]:
        out = set()
        for item in client.list_artifacts(run.info.run_id, path):
            out |= listing(item.path) if item.is_dir else {item.path}
        return out

    artifacts = listing()
    for path in (
        "plots/calibration.png",
        "plots/gains.png",
        "plots/importance.png",
        "report.json",
        "features.json",
    ):
        assert path in artifacts, (path, sorted(artifacts))
    assert run.data.tags["data_fingerprint"] == data_fingerprint(registry["data"])
    assert run.data.tags["data_fingerprint"] == report["data_fingerprint"]
    # Everything the first run wrote went under the home it was configured with.
    home = Path(registry["first_home"])
    assert (home / "mlflow.db").exists()
    assert any((home / "mlartifacts").rglob("calibration.png"))
