"""One settings object for the whole deployable, read from ``FIELDCOACH_*`` env vars.

Nothing is created or configured at import time: callers ask for ``get_settings()`` and
call ``ensure_home()`` when they are about to write.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """An environment variable that does not hold a valid value; the message names it."""


class Settings(BaseSettings):
    """Where fieldcoach keeps its data, models and databases, and how it serves."""

    model_config = SettingsConfigDict(env_prefix="FIELDCOACH_", extra="ignore")

    home: Path = Field(
        default=Path(".fieldcoach"),
        description="Project home: the embedded default keeps everything under it.",
    )
    data_dir: Path | None = Field(
        default=None, description="Folder of the company's tables (default: HOME/data)."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "FIELDCOACH_MLFLOW_TRACKING_URI"),
        description="MLflow tracking server or store (default: SQLite file under HOME).",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL for feedback and keys (default: SQLite)."
    )
    api_host: str = Field(default="127.0.0.1", description="Address the API binds to.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port the API listens on.")
    engine: Literal["pandas", "spark"] = Field(
        default="pandas",
        description="Engine of features build, score churn and plan batch (--engine overrides).",
    )
    spark_master: str = Field(
        default="local[*]", description="Spark master URL (local[*], yarn, spark://host:7077)."
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description='Extra Spark configuration as JSON, e.g. {"spark.executor.memory": "8g"}.',
    )
    api_max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Largest request body."
    )
    fill_plans_at_start: bool = Field(
        default=True,
        description="At start, plan the week's default plans that `plan batch` has not stored.",
    )
    explore_share: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="Share of each plan's capacity drawn at random among the near-best (0: off).",
    )
    holdout_share: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="Share of recommended retailers held back for a week to measure lift.",
    )
    mlflow_ui_url: str = Field(
        default="http://127.0.0.1:5000",
        description="Where the workspace's model page links to the MLflow UI.",
    )

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.home / "data"

    @property
    def resolved_tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

    @property
    def artifact_root(self) -> Path:
        return (self.home / "mlartifacts").resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'fieldcoach.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


def describe_settings_error(exc: ValidationError) -> str:
    """One line naming each bad variable, its value and the rule it breaks."""
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        variable = "MLFLOW_TRACKING_URI" if field == "mlflow_tracking_uri" else field
        if not variable.isupper():
            variable = f"FIELDCOACH_{variable.upper()}"
        value = str(error.get("input", ""))[:60]
        parts.append(f"{variable}={value!r}: {error['msg']}")
    return "bad setting: " + "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment.

    Raises:
        SettingsError: a variable does not parse (e.g. ``FIELDCOACH_API_PORT=abc``).
    """
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from None
