"""`fieldcoach keys create` prints a key once and stores only its hash."""

from __future__ import annotations

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
