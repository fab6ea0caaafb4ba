"""Churn scoring on Spark: the registered champion applied to each partition (mapInPandas).

The features come from ``features.engines.spark`` (the pandas definitions, per bucket of
managers); the champion is downloaded once on the driver, shipped to the workers with
``SparkContext.addFile`` and loaded once per task; each partition's rows go through the
same ``model_input`` and ``score_rows`` as ``serving.churn_scores``. The scores have the
columns of the CSV, ``reasons`` included.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mlflow
import pandas as pd

from features.errors import UserInputError
from features.retailer import CATEGORICAL, model_input
from fieldcoach.registry import CHAMPION, CHURN_MODEL, configure_mlflow
from fieldcoach.settings import Settings
from serving.churn_scores import score_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SCORE_COLUMNS = (
    "retailer_id string, manager_id string, as_of timestamp_ntz, churn_probability double, "
    "value_at_risk double, expected_value_lost double, lapsed boolean, "
    "weeks_since_last_order double, reasons string, reasons_zh string, "
    "reasons_en string, model_uri string, model_kind string"
)


@dataclass
class SparkScores:
    """Scores as a Spark frame (``as_of`` a date, to partition by) and their feature run."""

    frame: DataFrame
    at_risk: int
    release: Callable[[], None]


def download_champion(settings: Settings, model_uri: str | None = None) -> tuple[str, str]:
    """A local copy of the model (for ``addFile``) and its URI."""
    configure_mlflow(settings)
    uri = model_uri or f"models:/{CHURN_MODEL}@{CHAMPION}"
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=tempfile.mkdtemp(prefix="fieldcoach-model-")
        )
    except Exception as exc:
        raise UserInputError(
            f"cannot load {uri} ({exc.__class__.__name__}); train one with "
            "`fieldcoach train churn --data DIR` first"
        ) from None
    return local.rstrip("/"), uri


def score_churn_spark(
    tables: dict[str, DataFrame],
    date: pd.Timestamp,
    local: str,
    uri: str,
    buckets: int | None = None,
) -> SparkScores:
    """``serving.churn_scores.score_churn`` on Spark: every retailer at risk on ``date``, scored
    by the model copied to ``local`` (``download_champion``, which names its ``uri``)."""
    from pyspark.sql import functions as F

    from features.engines.spark import build_retailer_features_spark

    model = mlflow.pyfunc.load_model(local)
    metadata = model.metadata.metadata or {}
    horizon = int(metadata.get("horizon_weeks", 8))
    kind = metadata.get("kind", "lightgbm")
    features = model.metadata.get_input_schema().input_names()
    population_weeks = int(metadata.get("population_weeks", horizon))
    lapsed = str(metadata.get("scores_lapsed", False)).lower() == "true"
    # The population rule of training: retailers not already churned by the label's rule,
    # and the lapsed too when the model learnt from them (as ``serving.churn_scores``).
    result = build_retailer_features_spark(tables, [date], population_weeks, buckets, lapsed)
    at_risk = sum(result.at_risk().values())
    if not at_risk:
        result.release()
        raise UserInputError(f"no retailer at risk on {date.date()}")
    names = {c for c, _ in result.columns}
    missing = sorted(set(features) - names)
    if missing:
        result.release()
        raise UserInputError(
            f"{uri} needs feature(s) this data cannot give: {', '.join(missing[:8])}; "
            "train a model on this data"
        )
    spark = result.frame.sparkSession
    spark.sparkContext.addFile(local, recursive=True)
    shipped = os.path.basename(local)

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from pyspark import SparkFiles

        champion = mlflow.pyfunc.load_model(SparkFiles.get(shipped))
        for frame in batches:
            if frame.empty:
                continue
            for column, levels in CATEGORICAL.items():
                if column in frame:
                    frame[column] = pd.Categorical(frame[column].astype(object), levels)
            predicted = champion.predict(model_input(frame, features))
            scores = score_rows(frame, predicted, horizon, uri, kind)
            if "manager_id" not in scores:
                scores.insert(1, "manager_id", None)
            yield scores

    scores = result.frame.mapInPandas(score_partition, SCORE_COLUMNS)
    scores = scores.withColumn("as_of", F.to_date("as_of"))
    return SparkScores(scores, at_risk, result.release)
