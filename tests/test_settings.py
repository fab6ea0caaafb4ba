"""Settings come from the environment, honour MLFLOW_TRACKING_URI and create nothing."""

from pathlib import Path

import pytest

from fieldcoach.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_live_under_the_project_home(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path / "home"))
    settings = Settings()
    assert settings.resolved_data_dir == tmp_path / "home" / "data"
    assert settings.resolved_tracking_uri.startswith("sqlite:///")
    assert settings.resolved_tracking_uri.endswith("home/mlflow.db")
    assert settings.resolved_database_url.endswith("home/fieldcoach.db")
    assert not (tmp_path / "home").exists(), "reading settings must not create folders"


def test_mlflow_tracking_uri_is_honoured(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert Settings().resolved_tracking_uri == "http://mlflow.internal:5000"


def test_prefixed_variables_override(monkeypatch):
    monkeypatch.setenv("FIELDCOACH_API_PORT", "9100")
    monkeypatch.setenv("FIELDCOACH_DATABASE_URL", "postgresql://u@db/fieldcoach")
    settings = Settings()
    assert settings.api_port == 9100
    assert settings.resolved_database_url == "postgresql://u@db/fieldcoach"


def test_bad_port_is_refused(monkeypatch):
    monkeypatch.setenv("FIELDCOACH_API_PORT", "70000")
    with pytest.raises(ValueError, match="api_port"):
        Settings()


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_readme_documents_every_setting(field):
    assert f"FIELDCOACH_{field.upper()}" in README.read_text(encoding="utf-8")


def test_engine_and_spark_settings(monkeypatch):
    monkeypatch.setenv("FIELDCOACH_ENGINE", "spark")
    monkeypatch.setenv("FIELDCOACH_SPARK_MASTER", "local[2]")
    monkeypatch.setenv("FIELDCOACH_SPARK_CONF", '{"spark.executor.memory": "8g"}')
    settings = Settings()
    assert settings.engine == "spark"
    assert settings.spark_master == "local[2]"
    assert settings.spark_conf == {"spark.executor.memory": "8g"}


def test_engine_defaults_to_pandas_and_refuses_unknown(monkeypatch):
    monkeypatch.delenv("FIELDCOACH_ENGINE", raising=False)
    assert Settings().engine == "pandas"
    assert Settings().spark_master == "local[*]"
    monkeypatch.setenv("FIELDCOACH_ENGINE", "dask")
    with pytest.raises(ValueError, match="engine"):
        Settings()
