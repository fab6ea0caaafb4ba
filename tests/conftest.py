"""What the whole suite shares, built once per run.

- ``simulated(weeks, **config)``: a simulated data folder per distinct territory, so the
  modules that test on the same territory simulate it once between them;
- ``trained_home``: 600 retailers with all three models trained and registered as
  champions, which the serving tests (each on its copy) and the Spark scoring test use;
- ``churn_home``: one churn training run on a 1,200-retailer territory in a fresh registry,
  which the registry tests (as their first run) and the churn notebook (as its champion)
  both start from;
- ``spark``: one local[2] SparkSession for every Spark test (starting one takes ~10-20 s),
  its JVM on the client compiler and the serial collector (half its CPU on short test jobs).
  Spark tests are marked ``spark`` (and ``slow``); ``pytest -m "not spark"`` leaves them out.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest

# The suite trains LightGBM in-process, as the CLI does: without this OpenMP's idle threads
# spin and starve the working ones on a small shared machine (see fieldcoach/cli/main.py).
# It must precede the first import of LightGBM, which no conftest or test module does
# before this file is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _mlflow_store_without_fsync(dbapi_connection, _record) -> None:
    """MLflow's SQLite stores in this process skip fsync (``PRAGMA synchronous=OFF``).

    A fresh store runs MLflow's migrations, each a commit, and every logged metric, param
    and tag is one more: with fsync a fresh store took 5-10 s of wall time on this shared
    disk for 1-2 s of CPU (3 without). Only files named ``mlflow.db`` are touched: the
    service's own database keeps WAL and ``synchronous=FULL`` (serving/db.py, checked by
    test_security), and servers started as processes (the kill test) are not this process.
    A lost fsync matters only when the machine itself stops, never to a test.
    """
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        files = [row[2] for row in dbapi_connection.execute("PRAGMA database_list")]
        if any(str(name).endswith("mlflow.db") for name in files):
            dbapi_connection.execute("PRAGMA synchronous=OFF")


def pytest_configure(config: pytest.Config) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "connect", _mlflow_store_without_fsync)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``simulated(weeks, **config)``: the folder ``export_dataset`` wrote for that territory
    (``SimulationConfig(**config)`` run ``weeks`` weeks), simulated once per run.

    Shared between modules: read it, never write into it (copy it first).
    """
    from simulator import SimulationConfig, Territory, export_dataset

    folders: dict[tuple, Path] = {}

    def folder(weeks: int, **config) -> Path:
        key = (weeks, tuple(sorted(config.items())))
        if key not in folders:
            out = tmp_path_factory.mktemp("simulated") / "data"
            export_dataset(Territory.create(SimulationConfig(**config)).run(weeks), out)
            folders[key] = out
        return folders[key]

    return folder


# Where an MLflow SQLite store names a folder of artifacts.
ARTIFACT_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def copy_home(source: Path, target: Path) -> Path:
    """``source`` (a trained home) copied to ``target`` so that the copy stands alone: its
    MLflow store and the exported models' MLmodel files name the copy's artifacts, not the
    shared original's, so a test that logs, promotes or deletes in the copy cannot reach them.
    """
    shutil.copytree(source, target)
    olds = dict.fromkeys((str(Path(source).resolve()), str(source)))
    new = str(Path(target).resolve())
    store = target / "mlflow.db"
    if store.exists():
        with closing(sqlite3.connect(store)) as db, db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            for table, column in ARTIFACT_COLUMNS:
                for old in olds if table in tables else ():
                    db.execute(
                        f"UPDATE {table} SET {column} = replace({column}, ?, ?)", (old, new)
                    )
    for mlmodel in target.rglob("MLmodel"):
        text = mlmodel.read_text(encoding="utf-8")
        for old in olds:
            text = text.replace(old, new)
        mlmodel.write_text(text, encoding="utf-8")
    return target


def settings_for(home: Path, **overrides):
    """Settings for a test home, every store named outright (never through the environment)."""
    from fieldcoach.settings import Settings

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
    """600 retailers, 6 managers, 70 weeks; every model registered with a champion (~25 s).

    Shared between modules: copy it before writing into it (the serving tests' ``home``).
    """
    from mlflow import MlflowClient

    from features.validate import load_dataset
    from fieldcoach.registry import CHAMPION, MODEL_NAMES
    from simulator import SimulationConfig, Territory, export_dataset
    from training.churn import ChurnConfig
    from training.churn_run import run_churn_training
    from training.promotion import PromotionRule
    from training.skills_run import run_skills_training
    from training.visit_rows import VisitEffectConfig
    from training.visits_run import run_visit_effect_training

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
    data = home / "data"
    churn = ChurnConfig(tune=False)
    run_churn_training(load_dataset(data), churn, settings, None, lightgbm_rule, log=quiet)
    run_visit_effect_training(load_dataset(data), VisitEffectConfig(), settings, log=quiet)
    run_skills_training(load_dataset(data), settings, None, None, log=quiet)
    uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in MODEL_NAMES:  # the gate may keep a small run as challenger: serve it anyway
        if CHAMPION not in client.get_registered_model(name).aliases:
            client.set_registered_model_alias(name, CHAMPION, "1")
    return home


@pytest.fixture(scope="session")
def churn_home(tmp_path_factory: pytest.TempPathFactory, simulated) -> SimpleNamespace:
    """``data`` (80 weeks, 1,200 retailers, 5 managers, seed 3) and ``home``, whose fresh
    registry holds the first ``run_churn_training`` on it (``ChurnConfig(tune=False)``, the
    default rule, the simulator's oracle); ``report`` and ``log`` are that run's.

    Shared between modules: copy ``home`` before training or promoting in it.
    """
    from evaluation.churn_oracle import oracle_for
    from features.validate import load_dataset
    from fieldcoach.settings import Settings
    from training.churn import ChurnConfig
    from training.churn_run import run_churn_training

    data = simulated(80, n_retailers=1200, n_managers=5, seed=3)
    home = tmp_path_factory.mktemp("churn-home") / "home"
    oracle = oracle_for(data)
    log: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FIELDCOACH_HOME", str(home))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("FIELDCOACH_MLFLOW_TRACKING_URI", raising=False)
        report = run_churn_training(
            load_dataset(data), ChurnConfig(tune=False), Settings(), log=log.append, oracle=oracle
        )
    return SimpleNamespace(data=data, home=home, oracle=oracle, report=report, log=log)


@pytest.fixture(scope="session")
def spark():
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: make installs openjdk-17-jre-headless")
    from features.engines.spark_session import start_spark

    session = start_spark(
        "local[2]",
        {
            # Small data: a few shuffle partitions instead of 200 empty ones.
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "1g",
            # Tests run short jobs on small data: the JVM's client compiler alone and one
            # garbage-collector thread halve its CPU (2000-retailer features built twice:
            # 9 + 28 + 10 s of JVM CPU with the defaults, 5 + 15 + 5 s with these). They
            # change how the JVM compiles and collects, not what Spark computes.
            "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        },
        app_name="fieldcoach-tests",
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
