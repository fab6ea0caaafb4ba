"""The MLflow model registry as the CLI, training and the API share it.

Connecting MLflow to the configured store, listing versions, and moving the ``champion``
alias by hand (promote, roll back): the workspace's data-scientist page does it too, and
serving must not import ``training``.
Registering a run's model and the promotion rule live in ``training.promotion``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from features.errors import UserInputError

if TYPE_CHECKING:  # MLflow costs seconds to import; the model names below must not
    from mlflow import MlflowClient

    from fieldcoach.settings import Settings

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous-champion"
# Every registered model, named once: training registers them, the rest load them.
CHURN_MODEL = "retailer-churn"
VISIT_EFFECT_MODEL = "visit-effect"
SKILLS_MODEL = "manager-skills"
MODEL_NAMES = (CHURN_MODEL, VISIT_EFFECT_MODEL, SKILLS_MODEL)


def configure_mlflow(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured store (a SQLite file under the home by default)."""
    import mlflow
    from mlflow import MlflowClient

    uri = settings.resolved_tracking_uri
    if uri.startswith("sqlite:///"):
        settings.ensure_home()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def list_models(client: MlflowClient) -> list[dict[str, Any]]:
    """Every registered model's versions with aliases and metrics, newest first."""
    from mlflow.exceptions import MlflowException

    rows = []
    for model in client.search_registered_models():
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for version in client.search_model_versions(f"name='{model.name}'"):
            metrics = {}
            if version.run_id:
                try:
                    metrics = client.get_run(version.run_id).data.metrics
                except MlflowException:
                    metrics = {}
            rows.append(
                {
                    "model": model.name,
                    "version": int(version.version),
                    "aliases": sorted(aliases.get(str(version.version), [])),
                    "run_id": version.run_id,
                    "created": int(version.creation_timestamp or 0),
                    "tags": dict(version.tags or {}),
                    "promotion_reason": (version.tags or {}).get("promotion_reason"),
                    "metrics": {k: v for k, v in sorted(metrics.items()) if math.isfinite(v)},
                }
            )
    return sorted(rows, key=lambda r: (r["model"], -r["version"]))


def version_by_alias(client: MlflowClient, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def set_champion(client: MlflowClient, name: str, version: str | int) -> None:
    current = version_by_alias(client, name, CHAMPION)
    if current is not None and str(current.version) != str(version):
        client.set_registered_model_alias(name, PREVIOUS, current.version)
    client.set_registered_model_alias(name, CHAMPION, str(version))


def promote(client: MlflowClient, name: str, version: int) -> str:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, str(version))
    except MlflowException:
        raise UserInputError(f"model {name!r} has no version {version}") from None
    set_champion(client, name, version)
    return f"{name}: version {version} is now champion"


def rollback(client: MlflowClient, name: str) -> str:
    previous = version_by_alias(client, name, PREVIOUS)
    if previous is None:
        raise UserInputError(f"model {name!r} has no previous champion to roll back to")
    current = version_by_alias(client, name, CHAMPION)
    client.set_registered_model_alias(name, CHAMPION, previous.version)
    if current is not None:
        client.set_registered_model_alias(name, PREVIOUS, current.version)
    return f"{name}: version {previous.version} is champion again"
