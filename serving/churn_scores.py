"""Batch scoring with the registered champion: probability, value at risk, reasons.

The command (``fieldcoach score churn``) loads the data and the model and writes the file;
``score_churn`` takes the tables and the loaded model.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from features.errors import UserInputError
from features.retailer import (
    build_retailer_features,
    check_as_of,
    model_input,
    prepare_history,
)
from fieldcoach.champions import command_champion
from fieldcoach.registry import CHURN_MODEL
from fieldcoach.settings import Settings


def load_churn_model(settings: Settings, model_uri: str | None = None):
    """``model_uri``, else the churn champion as the API loads it; and the URI it names."""
    loaded, uri = command_champion(
        CHURN_MODEL,
        settings,
        model_uri,
        lambda uri, why: (
            f"cannot load {uri} ({str(why).split(':')[0]}); train one with "
            "`fieldcoach train churn --data DIR` first"
        ),
    )
    return loaded.model, uri


def score_churn(
    tables: dict[str, pd.DataFrame], date: pd.Timestamp, model: Any, uri: str
) -> pd.DataFrame:
    """Score every retailer at risk on ``date`` with ``model`` (``load_churn_model``, which
    names its ``uri``); with a model that learnt from lapsed retailers, every retailer that
    ever ordered and whose licence has not expired, the lapsed flagged with ``lapsed`` and
    ``weeks_since_last_order``.

    ``value_at_risk`` is the retailer's usual order value over the model's horizon (its mean
    weekly value over the last 26 weeks, times H): what is lost if it churns.
    ``expected_value_lost`` weighs it by the churn probability.
    """
    history = prepare_history(tables)
    check_as_of(history, date)
    metadata = model.metadata.metadata or {}
    horizon = int(metadata.get("horizon_weeks", 8))
    population_weeks = int(metadata.get("population_weeks", horizon))
    lapsed = str(metadata.get("scores_lapsed", False)).lower() == "true"
    features = model.metadata.get_input_schema().input_names()
    # The population rule of training: retailers not already churned by the label's rule,
    # and the lapsed too when the model learnt from them.
    frame, _, _ = build_retailer_features(tables, [date], population_weeks, history, lapsed=lapsed)
    if frame.empty:
        raise UserInputError(f"no retailer at risk on {date.date()}")
    missing = sorted(set(features) - set(frame.columns))
    if missing:
        raise UserInputError(
            f"{uri} needs feature(s) this data cannot give: {', '.join(missing[:8])}; "
            "train a model on this data"
        )
    predicted = model.predict(model_input(frame, features))
    scores = score_rows(frame, predicted, horizon, uri, metadata.get("kind", "lightgbm"))
    return scores.sort_values("expected_value_lost", ascending=False, ignore_index=True)


def score_rows(
    frame: pd.DataFrame,
    predicted: pd.DataFrame,
    horizon: int,
    uri: str,
    kind: str = "lightgbm",
) -> pd.DataFrame:
    """The scores file's rows from feature rows and the model's output for them (row order).

    One definition for both engines: the Spark engine calls it on each partition.
    """
    frame = frame.reset_index(drop=True)
    predicted = predicted.reset_index(drop=True)
    reasons = predicted["reasons"].map(json.loads)
    out = pd.DataFrame(
        {
            "retailer_id": frame["retailer_id"],
            "as_of": frame["as_of"],
            "churn_probability": predicted["churn_probability"].round(6),
            "value_at_risk": (frame["baseline_weekly_value"].astype(float) * horizon).round(2),
        }
    )
    out["expected_value_lost"] = (out["churn_probability"] * out["value_at_risk"]).round(2)
    out["lapsed"] = frame["lapsed"].to_numpy(bool) if "lapsed" in frame else False
    out["weeks_since_last_order"] = (frame["days_since_last_order"].astype(float) / 7).round(1)
    if "manager_id" in frame:
        out.insert(1, "manager_id", frame["manager_id"])
    out["reasons"] = predicted["reasons"]
    out["reasons_zh"] = reasons.map(lambda rs: "；".join(r["zh"] for r in rs))
    out["reasons_en"] = reasons.map(lambda rs: "; ".join(r["en"] for r in rs))
    out["model_uri"] = uri
    out["model_kind"] = kind
    return out
