"""Each serving module's own copy (``home``) of the session's ``trained_home`` (in
tests/conftest.py), its settings, API keys and a client.

Settings are passed explicitly (never through the environment), so nothing here leaks into
other test packages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fieldcoach.settings import Settings
from serving.app import create_app
from serving.batch import precompute_plans, start_champions
from serving.db import make_engine, session_factory
from serving.security import ALL_TEAMS, create_key
from serving.served_territory import ServedTerritory

# Also imported from here by the serving test modules.
from ..conftest import copy_home, settings_for


@pytest.fixture(scope="module")
def home(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the trained home, so a module may change its data and database."""
    return copy_home(trained_home, tmp_path_factory.mktemp("home") / "home")


@pytest.fixture(scope="module")
def settings(home: Path) -> Settings:
    return settings_for(home)


def precompute_plans_from(settings: Settings, **options: Any) -> dict[str, Any]:
    """What ``plan batch`` does: the settings' champions and data folder loaded, every
    manager's week planned and stored (``options`` as ``serving.batch.precompute_plans``)."""
    store = start_champions(settings, log=options.get("log", print))
    territory = ServedTerritory.load(settings.resolved_data_dir, store)
    return precompute_plans(territory, settings, **options)


def make_keys(settings: Settings) -> dict[str, str]:
    engine = make_engine(settings.resolved_database_url)
    keys = {}
    with session_factory(engine)() as session:
        keys["planner"], _ = create_key(session, "planner", [ALL_TEAMS])
        keys["planner_t00"], _ = create_key(session, "planner", ["T00"])
        for role in ("coordinator", "data_scientist", "admin"):
            keys[role], _ = create_key(session, role)
    engine.dispose()
    return keys


@pytest.fixture(scope="module")
def keys(settings: Settings) -> dict[str, str]:
    return make_keys(settings)


@pytest.fixture(scope="module")
def client(settings: Settings, keys):
    with TestClient(create_app(settings)) as test_client:
        yield test_client
