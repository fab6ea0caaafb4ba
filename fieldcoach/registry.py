"""Reading the MLflow model registry: shared by the CLI, training and the API.

Only reads here; registering, promoting and rolling back live in ``training.registry``.
"""

from __future__ import annotations

import math
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def list_models(client: MlflowClient) -> list[dict[str, Any]]:
    """Every registered model's versions with aliases and metrics, newest first."""
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
                    "metrics": {k: v for k, v in sorted(metrics.items()) if math.isfinite(v)},
                }
            )
    return sorted(rows, key=lambda r: (r["model"], -r["version"]))
