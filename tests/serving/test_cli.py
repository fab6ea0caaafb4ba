"""`fieldcoach keys create` prints a key once and stores only its hash."""

from __future__ import annotations

import re

import pytest

from serving.db import make_engine, session_factory
from serving.security import find_key


def test_keys_create_prints_the_key_once(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from fieldcoach.cli import app
    from fieldcoach.settings import get_settings

    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path))
    monkeypatch.delenv("FIELDCOACH_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["keys", "create", "--role", "planner", "--team", "T00"])
        assert result.exit_code == 0, result.output
        key = result.output.strip().splitlines()[-1]
        refused = CliRunner().invoke(app, ["keys", "create", "--role", "planner"])
        assert refused.exit_code == 1 and "needs --team" in refused.output
    finally:
        get_settings.cache_clear()
    engine = make_engine(f"sqlite:///{tmp_path / 'fieldcoach.db'}")
    with session_factory(engine)() as session:
        assert find_key(session, key).teams == frozenset({"T00"})
    engine.dispose()


@pytest.mark.slow
def test_plan_batch_and_feedback_export_commands(home, monkeypatch) -> None:
    from typer.testing import CliRunner

    from fieldcoach.cli import app
    from fieldcoach.settings import get_settings
    from serving.db import PrecomputedPlan, record_feedback

    monkeypatch.setenv("FIELDCOACH_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(home / 'mlflow.db').resolve()}")
    monkeypatch.delenv("FIELDCOACH_DATABASE_URL", raising=False)
    monkeypatch.delenv("FIELDCOACH_DATA_DIR", raising=False)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["plan", "batch", "--time-limit", "0.1"])
        assert result.exit_code == 0, result.output
        assert "stored plans for 6 managers" in result.output
        engine = make_engine(f"sqlite:///{home / 'fieldcoach.db'}")
        with session_factory(engine)() as session:
            assert session.query(PrecomputedPlan).count() == 12  # 6 managers x 2 languages
            record_feedback(
                session,
                "training",
                "cli-export-0001",
                "M0001",
                {"course_id": "C02", "completed_on": "2030-02-01"},
            )
        engine.dispose()
        result = runner.invoke(app, ["feedback", "export"])
        assert result.exit_code == 0, result.output
        assert "0 visits and 1 trainings added" in result.output
        bad = runner.invoke(app, ["plan", "batch", "--week", "1999-W01"])
        assert bad.exit_code == 1 and bad.output.strip().splitlines()[-1].startswith("error:")
    finally:
        get_settings.cache_clear()


def _cli(tmp_path, monkeypatch, *args, env: dict[str, str] | None = None):
    from typer.testing import CliRunner

    from fieldcoach.cli import app
    from fieldcoach.settings import get_settings

    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path))
    monkeypatch.delenv("FIELDCOACH_DATABASE_URL", raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()


def test_keys_list_and_revoke(tmp_path, monkeypatch) -> None:
    """Issue 10 #4: a key can be listed and revoked from the command line."""
    key = _cli(tmp_path, monkeypatch, "keys", "create", "--role", "coordinator", "--team", "T00")
    assert key.exit_code == 0, key.output
    plain = key.output.strip().splitlines()[-1]
    listed = _cli(tmp_path, monkeypatch, "keys", "list")
    assert listed.exit_code == 0 and "coordinator" in listed.output and "T00" in listed.output
    assert plain not in listed.output
    revoked = _cli(tmp_path, monkeypatch, "keys", "revoke", "1")
    assert revoked.exit_code == 0 and "revoked key 1" in revoked.output
    engine = make_engine(f"sqlite:///{tmp_path / 'fieldcoach.db'}")
    with session_factory(engine)() as session:
        assert find_key(session, plain) is None
    engine.dispose()
    missing = _cli(tmp_path, monkeypatch, "keys", "revoke", "42")
    assert missing.exit_code == 1 and missing.output.strip().startswith("error: no key 42")


def test_keys_create_refuses_teams_that_mean_nothing(tmp_path, monkeypatch) -> None:
    """Issue 10 #3: --team on a role without team scope, or an empty team, is an error."""
    for args in (("--role", "admin", "--team", "T00"), ("--role", "coordinator", "--team", " ")):
        result = _cli(tmp_path, monkeypatch, "keys", "create", *args)
        assert result.exit_code == 1 and result.output.startswith("error: "), result.output


def test_a_bad_setting_is_one_line_not_a_traceback(tmp_path, monkeypatch) -> None:
    """Issue 10 #11: FIELDCOACH_API_PORT=abc names the variable in one line."""
    for command in (("serve",), ("keys", "list")):
        result = _cli(tmp_path, monkeypatch, *command, env={"FIELDCOACH_API_PORT": "abc"})
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: bad setting: FIELDCOACH_API_PORT")
        assert "Traceback" not in result.output and result.exception.__class__ is SystemExit


def test_models_list_shows_the_metric_the_promotion_rule_used(home, monkeypatch) -> None:
    """`models list` names the rule's metric (Brier for churn) next to ROC-AUC and ECE."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{(home / 'mlflow.db').resolve()}")
    result = _cli(home, monkeypatch, "models", "list")
    assert result.exit_code == 0, result.output
    churn = [line for line in result.output.splitlines() if line.startswith("retailer-churn")]
    assert churn, result.output
    assert any(re.search(r"brier 0\.\d+ \(promotion rule\)", line) for line in churn), churn
    assert any("roc_auc 0." in line for line in churn), churn


def test_plan_visits_falls_back_to_the_last_known_good_champions(home, monkeypatch) -> None:
    """Like the API, `plan visits` plans with the exported champions when the registry is
    gone, and does not create an empty store where the registry should be."""
    from typer.testing import CliRunner

    from fieldcoach.champions import MODEL_NAMES, ModelStore
    from fieldcoach.cli import app
    from fieldcoach.settings import get_settings

    registry = f"sqlite:///{(home / 'mlflow.db').resolve()}"
    ModelStore(registry, home / "models", MODEL_NAMES).start()  # the service's exports
    gone = home / "moved-away.db"
    monkeypatch.setenv("FIELDCOACH_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{gone.resolve()}")
    monkeypatch.delenv("FIELDCOACH_DATABASE_URL", raising=False)
    monkeypatch.delenv("FIELDCOACH_DATA_DIR", raising=False)
    get_settings.cache_clear()
    try:
        args = ["plan", "visits", "--manager", "M0001", "--days", "2", "--capacity", "6"]
        result = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "6 of 6 visits" in result.output.splitlines()[0], result.output
    assert "champion" not in result.output, result.output  # no "No registered ..." note
    assert not gone.exists()
