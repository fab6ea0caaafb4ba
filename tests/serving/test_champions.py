"""Champions: the exported copy carries a restart without the registry; reload refuses a
model that fails its smoke prediction and keeps the old one."""

from __future__ import annotations

import shutil

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from serving.app import create_app

from ..conftest import ARTIFACT_COLUMNS, copy_home
from .conftest import make_keys, settings_for

BROKEN_MODEL = """
import shutil

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class Broken(PythonModel):
    def predict(self, context, model_input, params=None):
        return pd.DataFrame({"churn_probability": [float("nan")] * len(model_input)})


mlflow.models.set_model(Broken())
"""


@pytest.mark.slow
def test_registry_unreachable_starts_from_the_exported_copy(home, keys) -> None:
    with TestClient(create_app(settings_for(home))) as first:
        assert first.get("/v1/health").json()["status"] == "ok"
    unreachable = settings_for(home, mlflow_tracking_uri="sqlite:////nonexistent/dir/mlflow.db")
    with TestClient(create_app(unreachable)) as client:
        insider = {"X-API-Key": keys["data_scientist"]}
        health = client.get("/v1/health", headers=insider).json()
        assert health["status"] == "degraded"
        assert {m["source"] for m in health["models"]} == {"exported copy"}
        assert all("last known good copy v1" in note for note in health["notes"])
        assert len(health["notes"]) == 3
        assert client.get("/v1/ready").status_code == 200
        plan = client.get("/v1/managers/M0000/visit-plan", headers={"X-API-Key": keys["planner"]})
        assert plan.status_code == 200 and plan.json()["visits"]


@pytest.mark.slow
def test_reload_refuses_a_broken_champion_and_keeps_the_old(home, keys, tmp_path) -> None:
    settings = settings_for(home)
    with TestClient(create_app(settings)) as client:
        uri = settings.resolved_tracking_uri
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        code = tmp_path / "broken.py"
        code.write_text(BROKEN_MODEL)
        # In the model's experiment, whose artifacts are under the home (the default
        # experiment would put them in the working directory's mlruns/).
        churn = mlflow.get_experiment_by_name("retailer-churn").experiment_id
        with mlflow.start_run(experiment_id=churn):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(code),
                input_example=pd.DataFrame({"x": [1.0, 2.0]}),
            )
        version = mlflow.register_model(info.model_uri, "retailer-churn").version
        registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
        registry.set_registered_model_alias("retailer-churn", "champion", version)
        try:
            headers = {"X-API-Key": keys["data_scientist"]}
            results = {
                r["name"]: r for r in client.post("/v1/models/reload", headers=headers).json()
            }
            assert results["retailer-churn"]["status"] == "refused"
            assert results["retailer-churn"]["version"] == "1"
            assert "churn_probability" in results["retailer-churn"]["detail"]
            assert results["visit-effect"]["status"] == "unchanged"
            health = client.get("/v1/health").json()
            served = {m["name"]: m["version"] for m in health["models"]}
            assert served["retailer-churn"] == "1"
            risk = client.get(
                "/v1/managers/M0000/visit-plan?capacity=5", headers={"X-API-Key": keys["planner"]}
            )
            assert risk.status_code == 200
        finally:
            registry.set_registered_model_alias("retailer-churn", "champion", "1")
    exported = (settings.models_dir / "retailer-churn" / "champion.json").read_text()
    assert '"version": "1"' in exported


@pytest.mark.slow
def test_reload_drops_no_request(home, keys) -> None:
    import threading

    with TestClient(create_app(settings_for(home))) as client:
        statuses: list[int] = []
        done = threading.Event()

        def reload() -> None:
            try:
                for _ in range(2):
                    response = client.post(
                        "/v1/models/reload", headers={"X-API-Key": keys["data_scientist"]}
                    )
                    assert response.status_code == 200
            finally:
                done.set()

        worker = threading.Thread(target=reload)
        worker.start()
        while not done.is_set():
            for path, role in (
                ("/v1/managers/M0000/skills", "coordinator"),
                ("/v1/managers/M0001/visit-plan?capacity=3&days=1", "planner"),
            ):
                statuses.append(client.get(path, headers={"X-API-Key": keys[role]}).status_code)
        worker.join()
        assert len(statuses) >= 4 and set(statuses) == {200}


@pytest.mark.slow
def test_a_new_champion_is_swapped_in_and_the_week_replanned(home, keys) -> None:
    settings = settings_for(home)
    uri = settings.resolved_tracking_uri
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    with TestClient(create_app(settings)) as client:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        source = registry.get_model_version("visit-effect", "1").source
        version = mlflow.register_model(source, "visit-effect").version
        registry.set_registered_model_alias("visit-effect", "champion", version)
        try:
            headers = {"X-API-Key": keys["data_scientist"]}
            results = {
                r["name"]: r for r in client.post("/v1/models/reload", headers=headers).json()
            }
            assert results["visit-effect"]["status"] == "loaded"
            assert results["visit-effect"]["version"] == str(version)
            # The reload's background task re-made the week's plans with the new champion.
            plan = client.get(
                "/v1/managers/M0000/visit-plan", headers={"X-API-Key": keys["planner"]}
            )
            assert plan.json()["source"] == "precomputed"
            served = {m["name"]: m["version"] for m in client.get("/v1/health").json()["models"]}
            assert served["visit-effect"] == str(version)
        finally:
            registry.set_registered_model_alias("visit-effect", "champion", "1")


def test_without_data_or_models_health_explains_and_ready_is_503(tmp_path) -> None:
    empty = settings_for(tmp_path)  # no data folder, no registry, nothing exported
    insider = {"X-API-Key": make_keys(empty)["data_scientist"]}
    with TestClient(create_app(empty)) as client:
        health = client.get("/v1/health", headers=insider).json()
        assert health["status"] == "degraded" and health["models"] == []
        assert any("no exported copy" in note for note in health["notes"])
        assert any("data not loaded" in note for note in health["notes"])
        assert any("no MLflow store" in note for note in health["notes"])
        ready = client.get("/v1/ready")
        assert ready.status_code == 503 and ready.json()["data"] is False
    # Issue 10 #11: asking a missing SQLite store must not create an empty one in its place.
    assert not (tmp_path / "mlflow.db").exists()


def test_ready_needs_a_loaded_champion_as_well_as_the_data(home, tmp_path) -> None:
    """Issue 10 #11: the data alone is not ready; every model is listed."""
    shutil.copytree(home / "data", tmp_path / "data")
    bare = settings_for(tmp_path)  # the data, but no registry and no exported copy
    with TestClient(create_app(bare)) as client:
        ready = client.get("/v1/ready")
        assert ready.status_code == 503
        assert ready.json() == {
            "data": True,
            "retailer-churn": False,
            "visit-effect": False,
            "manager-skills": False,
        }
    with TestClient(create_app(settings_for(home))) as client:
        ready = client.get("/v1/ready")
        assert ready.status_code == 200 and all(ready.json().values())


@pytest.mark.slow
def test_a_command_reads_the_same_champion_from_sqlite_as_the_mlflow_client(home) -> None:
    """The command line's direct read of the SQLite registry (no MLflow store started)
    finds the version, run, metrics and tags the MLflow client reports, and a model that
    predicts as the client's does."""
    from fieldcoach.champions import CHURN, EFFECT, ModelStore, registered_tags

    settings = settings_for(home)
    uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    store = ModelStore(uri, settings.models_dir, (CHURN, EFFECT), export=False)
    for name in (CHURN, EFFECT):
        expected = client.get_model_version_by_alias(name, "champion")
        fast = store._from_registry(name)
        assert fast.source == "registry"
        assert (fast.version, fast.run_id) == (str(expected.version), expected.run_id)
        assert fast.metrics == client.get_run(expected.run_id).data.metrics
        assert registered_tags(uri, name) == client.get_registered_model(name).tags
        slow = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        example = pd.DataFrame(slow.input_example).head(20)
        pd.testing.assert_frame_equal(fast.model.predict(example), slow.predict(example))
    assert registered_tags("postgresql://nowhere/db", EFFECT) is None  # the client decides


def test_a_copied_home_names_and_loads_its_own_artifacts(trained_home, tmp_path) -> None:
    """``copy_home``: the copy's registry names the copy's artifacts only, and its champions
    load from them with the original's artifacts moved away."""
    import sqlite3
    from contextlib import closing

    from fieldcoach.champions import CHURN, EFFECT, ModelStore

    home = copy_home(trained_home, tmp_path / "home")
    original = str(trained_home.resolve())
    with closing(sqlite3.connect(home / "mlflow.db")) as db:
        named = [
            value
            for table, column in ARTIFACT_COLUMNS
            for (value,) in db.execute(f"SELECT {column} FROM {table}")
            if value
        ]
    assert any(str(home.resolve()) in value for value in named)
    assert not [value for value in named if original in value]
    settings = settings_for(home)
    aside = tmp_path / "original-artifacts"
    shutil.move(trained_home / "mlartifacts", aside)
    try:
        store = ModelStore(
            settings.resolved_tracking_uri, settings.models_dir, (CHURN, EFFECT), export=False
        )
        for name in (CHURN, EFFECT):
            assert store._from_registry(name).source == "registry"
    finally:
        shutil.move(aside, trained_home / "mlartifacts")
