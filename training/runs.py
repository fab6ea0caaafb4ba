"""The MLflow run every training command shares: open it, log the model, gate, report.

Each model keeps what is its own (fitting, metrics, plots, the pyfunc's artifacts); this is
the frame around it, written once: ``model_run`` opens the run in the model's experiment,
tags the data it came from and logs the report at the end; ``log_pyfunc`` logs a model as
code with ``features/`` shipped beside it, so serving loads it without ``training``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.models import ModelSignature, infer_signature

import features
from fieldcoach.registry import configure_mlflow
from fieldcoach.settings import Settings
from training.promotion import experiment_id, pip_requirements


@contextmanager
def model_run(
    settings: Settings,
    model: str,
    run_name: str,
    report: dict[str, Any],
    data_dir: Path | None,
) -> Iterator[tuple[MlflowClient, Run]]:
    """An MLflow run of ``model``'s experiment, tagged with the data folder (when the tables
    came from one) and its fingerprint (when the report has one); ``report`` is logged as
    report.json at the end."""
    client = configure_mlflow(settings)
    with mlflow.start_run(experiment_id=experiment_id(model, settings), run_name=run_name) as run:
        tags = {} if data_dir is None else {"data_dir": str(Path(data_dir).resolve())}
        if "data_fingerprint" in report:
            tags["data_fingerprint"] = report["data_fingerprint"]
        mlflow.set_tags(tags)
        yield client, run
        mlflow.log_dict(report, "report.json")


def log_pyfunc(
    code: Path,
    artifacts: dict[str, str],
    requirements: tuple[str, ...],
    *,
    example: pd.DataFrame | None = None,
    output: pd.DataFrame | None = None,
    signature: ModelSignature | None = None,
    metadata: dict[str, Any] | None = None,
):
    """Log the pyfunc in ``code`` as the run's ``model``; the signature is inferred from
    ``example`` and ``output`` unless given."""
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(code),
        artifacts=artifacts,
        code_paths=[str(Path(features.__file__).parent)],
        signature=signature if signature is not None else infer_signature(example, output),
        input_example=example,
        pip_requirements=pip_requirements(*requirements),
        metadata=metadata,
    )
