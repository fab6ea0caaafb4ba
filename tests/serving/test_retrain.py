"""``retrain``: every model in one run under a lock, promoted all together or not at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

import training.retrain as retrain_module
from serving.db import make_engine, session_factory
from serving.feedback_export import export_feedback
from training.churn import ChurnConfig
from training.promotion import change_serving, deferred_serving_changes
from training.retrain import (
    MODELS,
    RetrainBusy,
    RetrainFailed,
    recover_interrupted,
    retrain,
    retrain_dir,
    retrain_lock,
    serving_state,
    summary_lines,
)

QUICK = ChurnConfig(tune=False)


def _client(settings) -> MlflowClient:
    uri = settings.resolved_tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _exporter(settings):
    def run(data_dir):
        engine = make_engine(settings.resolved_database_url)
        try:
            with session_factory(engine)() as session:
                return export_feedback(session, data_dir)
        finally:
            engine.dispose()

    return run


def test_deferred_changes_are_queued_not_made():
    made = []
    with deferred_serving_changes() as pending:
        change_serving("m", "champion -> v2", lambda: made.append("v2"))
    assert made == [] and [c.what for c in pending] == ["champion -> v2"]
    change_serving("m", "champion -> v3", lambda: made.append("v3"))
    assert made == ["v3"]


def test_a_second_run_at_once_stops_with_a_clear_message(settings):
    busy = pytest.raises(RetrainBusy, match=r"another retrain is running .*pid")
    with retrain_lock(settings), busy:
        retrain(settings.home / "data", settings, wait_s=0.6, log=lambda *_: None)
    with retrain_lock(settings):  # released by the first holder
        pass


@pytest.mark.slow
def test_a_failed_step_promotes_nothing(settings, monkeypatch):
    client = _client(settings)
    # With no champion, the churn rule promotes any challenger that passes its absolute
    # checks, so this run has a promotion queued when the visits step fails.
    before_versions = serving_state(client)
    client.delete_registered_model_alias("retailer-churn", "champion")
    before = serving_state(client)

    def broken(*_, **__):
        raise RuntimeError("disk full")

    monkeypatch.setattr(retrain_module, "run_visit_effect_training", broken)
    with pytest.raises(RetrainFailed, match=r"step 'visits'.*nothing was promoted") as failed:
        retrain(settings.home / "data", settings, churn_config=QUICK, log=lambda *_: None)
    summary = failed.value.summary
    assert summary["status"] == "failed" and summary["failed_step"] == "visits"
    assert summary["models"]["retailer-churn"]["promoted"], summary["models"]
    assert serving_state(client) == before
    written = json.loads((retrain_dir(settings) / "last-summary.json").read_text())
    assert written["status"] == "failed"
    client.set_registered_model_alias(
        "retailer-churn", "champion", str(before_versions["retailer-churn"]["champion"])
    )


def test_an_interrupted_promotion_is_undone_next_run(settings):
    client = _client(settings)
    before = serving_state(client)
    journal = retrain_dir(settings) / "promoting.json"
    journal.write_text(json.dumps({"started": "then", "before": before, "changes": []}))
    # The killed run had moved one alias and one planner tag of the three models.
    client.set_registered_model_alias("manager-skills", "champion", "1")
    client.set_registered_model_tag("visit-effect", "planner_ranking", "half-way")
    assert recover_interrupted(settings, client, log=lambda *_: None) is not None
    assert serving_state(client) == before and not journal.exists()


@pytest.mark.slow
def test_retrain_runs_every_step_and_writes_one_summary(settings):
    client = _client(settings)
    before = serving_state(client)
    lines = []
    summary = retrain(
        settings.home / "data",
        settings,
        export_feedback=_exporter(settings),
        churn_config=QUICK,
        log=lines.append,
    )
    assert summary["status"] == "ok"
    assert set(summary["steps"]) == {"feedback", "validate", "promote"}
    after = serving_state(client)
    for name in MODELS:
        entry = summary["models"][name]
        assert entry["rule"] and entry["reason"]
        expected = entry["version"] if entry["promoted"] else before[name]["champion"]
        assert after[name]["champion"] == expected, (name, entry)
    assert len(summary_lines(summary)) == len(MODELS)
    assert json.loads((retrain_dir(settings) / "last-summary.json").read_text())["status"] == "ok"


def _cli(settings, *args) -> subprocess.Popen:
    env = {
        **os.environ,
        "FIELDCOACH_HOME": str(settings.home),
        "FIELDCOACH_DATA_DIR": str(settings.resolved_data_dir),
        "FIELDCOACH_DATABASE_URL": settings.resolved_database_url,
        "MLFLOW_TRACKING_URI": settings.resolved_tracking_uri,
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from fieldcoach.cli import app; app()", "retrain", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_cli_second_run_exits_75_with_a_clear_message(settings):
    with retrain_lock(settings):
        process = _cli(settings)
        _, err = process.communicate(timeout=120)
    assert process.returncode == 75, err
    assert "another retrain is running" in err and "--wait" in err


@pytest.mark.slow
def test_killing_retrain_mid_way_leaves_the_previous_champions_serving(settings):
    client = _client(settings)
    # Without a churn champion the rule promotes this run's challenger: the kill comes after
    # that decision, so an alias moved before every step succeeded would show here.
    champion = serving_state(client)["retailer-churn"]["champion"]
    client.delete_registered_model_alias("retailer-churn", "champion")
    before = serving_state(client)
    process = _cli(settings, "--no-tune")
    seen = []
    deadline = time.monotonic() + 600
    try:
        # Killed once churn's challenger is registered and its promotion decided.
        for line in process.stderr:
            seen.append(line)
            if line.startswith("retailer-churn v") or time.monotonic() > deadline:
                break
        decided = [s for s in seen if s.startswith("retailer-churn v")]
        assert decided and "promoted to champion" in decided[0], "".join(seen[-20:])
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert serving_state(client) == before
    with retrain_lock(settings):  # the kernel freed the dead run's lock
        pass
    client.set_registered_model_alias("retailer-churn", "champion", str(champion))
