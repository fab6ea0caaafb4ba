"""Point-in-time retailer features: one row per retailer at risk per snapshot date.

A feature at as-of date ``t`` sees only records dated strictly before ``t``. Weeks are
counted back from ``t`` (week 0 is the 7 days before it), so any calendar day can be an
as-of date, not only a Monday. Tables are prepared once (sorted event logs with integer
retailer codes) and every snapshot is a handful of vectorised passes over them, which is
what lets a province (hundreds of thousands of retailers, tens of millions of orders) fit
in minutes on one machine.

The package: ``history`` (the tables indexed once), ``snapshot`` (one as-of date's rows),
``signals`` (the feature families and their numeric helpers) and ``model_input`` (frames as
models take them). Callers import from ``features.retailer``.
"""

from __future__ import annotations

from features.retailer.history import (
    EventLog,
    RetailerHistory,
    counts_by_group,
    last_year_anchor,
    prepare_history,
    weekly_matrices,
    weekly_matrix,
)
from features.retailer.model_input import feature_columns, model_frame, model_input
from features.retailer.signals import CATEGORICAL
from features.retailer.snapshot import (
    DEFAULT_ACTIVE_WEEKS,
    HISTORY_WEEKS,
    WINDOWS,
    Snapshot,
    build_retailer_features,
    check_as_of,
    retailer_snapshot,
)

__all__ = [
    "CATEGORICAL",
    "DEFAULT_ACTIVE_WEEKS",
    "HISTORY_WEEKS",
    "WINDOWS",
    "EventLog",
    "RetailerHistory",
    "Snapshot",
    "build_retailer_features",
    "check_as_of",
    "counts_by_group",
    "feature_columns",
    "last_year_anchor",
    "model_frame",
    "model_input",
    "prepare_history",
    "retailer_snapshot",
    "weekly_matrices",
    "weekly_matrix",
]
