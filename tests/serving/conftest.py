"""A small simulated territory with all three models trained into a tmp home, once per run.

Settings are passed explicitly (never through the environment), so nothing here leaks into
other test packages.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from fieldcoach.registry import CHAMPION, MODEL_NAMES
from fieldcoach.settings import Settings
from serving.app import create_app
from serving.db import make_engine, session_factory
from serving.security import ALL_TEAMS, create_key
from simulator import SimulationConfig, Territory, export_dataset
from training.churn import ChurnConfig
from training.churn_run import run_churn_training
from training.promotion import PromotionRule
from training.skills_run import run_skills_training
from training.visit_rows import VisitEffectConfig
from training.visits_run import run_visit_effect_training

MODELS = MODEL_NAMES


def settings_for(home: Path, **overrides) -> Settings:
    values = {
        "home": home,
        "data_dir": home / "data",
        "mlflow_tracking_uri": f"sqlite:///{(home / 'mlflow.db').resolve()}",
        "database_url": f"sqlite:///{(home / 'fieldcoach.db').resolve()}",
        # Tests decide what is precomputed; test_flights checks the fill at start.
        "fill_plans_at_start": False,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 retailers, 6 managers, 70 weeks; every model registered with a champion (~15 s)."""
    home = tmp_path_factory.mktemp("serving-home")
    territory = Territory.create(
        SimulationConfig(n_retailers=600, n_managers=6, managers_per_team=3, seed=3)
    )
    export_dataset(territory.run(70), home / "data")
    settings = settings_for(home)
    quiet = lambda *_: None  # noqa: E731
    # The serving tests need a LightGBM champion (reasons from its contributions); on 600
    # retailers the recency rule may win on Brier and be registered instead, so no baseline
    # is asked for here.
    lightgbm_rule = PromotionRule(metric="brier", lower_is_better=True, must_beat="none")
    run_churn_training(
        home / "data", ChurnConfig(tune=False), settings, None, lightgbm_rule, log=quiet
    )
    run_visit_effect_training(home / "data", VisitEffectConfig(), settings, log=quiet)
    run_skills_training(home / "data", settings, None, None, log=quiet)
    uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in MODELS:  # the gate may keep a small run as challenger: serve it anyway
        if CHAMPION not in client.get_registered_model(name).aliases:
            client.set_registered_model_alias(name, CHAMPION, "1")
    return home


@pytest.fixture(scope="module")
def home(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the trained home, so a module may change its data and database."""
    copy = tmp_path_factory.mktemp("home") / "home"
    shutil.copytree(trained_home, copy)
    return copy


@pytest.fixture(scope="module")
def settings(home: Path) -> Settings:
    return settings_for(home)


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
