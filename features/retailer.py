"""Point-in-time retailer features: one row per retailer at risk per snapshot date.

A feature at as-of date ``t`` sees only records dated strictly before ``t``. Weeks are
counted back from ``t`` (week 0 is the 7 days before it), so any calendar day can be an
as-of date, not only a Monday. Tables are prepared once (sorted event logs with integer
retailer codes) and every snapshot is a handful of vectorised passes over them, which is
what lets a province (hundreds of thousands of retailers, tens of millions of orders) fit
in minutes on one machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.btyd import order_rhythm
from features.calendar import CHINESE_NEW_YEAR, to_days
from features.contract import AREA_TYPES, FORMATS, SKILLS, VISIT_PURPOSES
from features.errors import UserInputError

WINDOWS = (4, 8, 13, 26, 52)
HISTORY_WEEKS = 52
DEFAULT_ACTIVE_WEEKS = 13
# Fixed levels from the contract, so frames of different snapshots stack and match.
CATEGORICAL: dict[str, tuple[str, ...]] = {"format": FORMATS, "area_type": AREA_TYPES}


@dataclass
class EventLog:
    """Events of one table, sorted by (retailer code, day), for point-in-time queries."""

    code: np.ndarray
    day: np.ndarray
    values: dict[str, np.ndarray]
    key: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        order = np.lexsort((self.day, self.code))
        self.code, self.day = self.code[order], self.day[order]
        self.values = {k: v[order] for k, v in self.values.items()}
        self.key = self.code * (1 << 32) + self.day

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        codes: pd.Index,
        id_column: str,
        date_column: str,
        columns: tuple[str, ...] = (),
    ) -> EventLog:
        code = codes.get_indexer(frame[id_column]).astype(np.int64)
        known = code >= 0
        day = _days(frame[date_column])[known]
        values = {c: frame[c].to_numpy()[known] for c in columns if c in frame}
        return cls(code[known], day, values)

    def window(self, start: int, end: int) -> np.ndarray:
        """Mask of events with ``start <= day < end``."""
        return (self.day >= start) & (self.day < end)

    def last_before(self, n: int, t: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Index of each retailer's last event before day ``t`` (-1 if none)."""
        if mask is not None:
            return self._restrict(mask).last_before(n, t)
        if not len(self.code):  # e.g. no purposeful visit at all: nobody has one
            return np.full(n, -1, dtype=np.int64)
        codes = np.arange(n, dtype=np.int64)
        pos = np.searchsorted(self.key, codes * (1 << 32) + t) - 1
        found = (pos >= 0) & (self.code[np.maximum(pos, 0)] == codes)
        return np.where(found, pos, -1)

    def first_index(self, n: int) -> np.ndarray:
        """Index of each retailer's first event ever (-1 if none)."""
        if not len(self.code):
            return np.full(n, -1, dtype=np.int64)
        codes = np.arange(n, dtype=np.int64)
        pos = np.searchsorted(self.code, codes)
        found = pos < len(self.code)
        found &= self.code[np.minimum(pos, max(len(self.code) - 1, 0))] == codes
        return np.where(found, pos, -1)

    def _restrict(self, mask: np.ndarray) -> EventLog:
        sub = EventLog.__new__(EventLog)
        sub.code, sub.day, sub.key = self.code[mask], self.day[mask], self.key[mask]
        sub.values = {k: v[mask] for k, v in self.values.items()}
        return sub


@dataclass
class RetailerHistory:
    """Everything the retailer features need, prepared once for many snapshot dates."""

    ids: pd.Index
    orders: EventLog
    visits: EventLog | None
    complaints: EventLog | None
    surveys: EventLog | None
    attributes: pd.DataFrame | None  # aligned to ids
    managers: pd.DataFrame | None  # indexed by manager_id
    assessments: pd.DataFrame | None
    first_day: int
    last_day: int
    disabled: dict[str, str]

    @property
    def n(self) -> int:
        return len(self.ids)


def _days(values: pd.Series) -> np.ndarray:
    return pd.to_datetime(values).to_numpy().astype("datetime64[D]").astype(np.int64)


def prepare_history(tables: dict[str, pd.DataFrame]) -> RetailerHistory:
    """Index the contract tables by retailer once.

    Args:
        tables: validated contract tables by name; only ``orders`` is required.
    """
    orders = tables["orders"]
    ids = pd.Index(orders["retailer_id"].unique())
    retailers = tables.get("retailers")
    if retailers is not None:
        ids = ids.append(pd.Index(retailers["retailer_id"])).unique()
    disabled: dict[str, str] = {}
    order_columns = ("amount", "quantity", "brand_count", "premium_share")
    order_log = EventLog.from_frame(orders, ids, "retailer_id", "order_date", order_columns)
    for column, what in (("brand_count", "brand breadth"), ("premium_share", "price tier")):
        if column not in orders:
            disabled[f"{what} features"] = f"orders has no {column} column"

    def optional_log(name: str, date_column: str, columns: tuple[str, ...]) -> EventLog | None:
        if name not in tables:
            return None
        return EventLog.from_frame(tables[name], ids, "retailer_id", date_column, columns)

    visits = optional_log("visits", "visit_date", ("purpose", "duration_min"))
    if visits is not None and "purpose" in visits.values:
        # Codes once here, so each snapshot counts purposes in one pass.
        purpose = pd.Series(visits.values.pop("purpose")).fillna("routine")
        visits.values["purpose_code"] = pd.Categorical(
            purpose, categories=VISIT_PURPOSES
        ).codes.astype(np.int64)
    complaints = optional_log("complaints", "complained_on", ("category",))
    surveys = optional_log("surveys", "surveyed_on", ("satisfaction",))
    for name, what in (
        ("visits", "visit"),
        ("complaints", "complaint"),
        ("surveys", "satisfaction"),
    ):
        if name not in tables:
            disabled[f"{what} features"] = f"no {name} table"
    attributes = None
    if retailers is not None:
        attributes = retailers.drop_duplicates("retailer_id").set_index("retailer_id").reindex(ids)
    else:
        disabled["retailer attributes"] = "no retailers table"
    managers = tables.get("managers")
    if managers is not None:
        managers = managers.drop_duplicates("manager_id").set_index("manager_id")
    if attributes is None or "manager_id" not in attributes or managers is None:
        disabled["manager context"] = "needs retailers (with manager_id) and managers tables"
        managers = None
    assessments = tables.get("assessments")
    if assessments is None:
        disabled["manager skills"] = "no assessments table"
    first_day = int(order_log.day.min()) if len(order_log.day) else 0
    last_day = int(order_log.day.max()) if len(order_log.day) else 0
    return RetailerHistory(
        ids=ids,
        orders=order_log,
        visits=visits,
        complaints=complaints,
        surveys=surveys,
        attributes=attributes,
        managers=managers,
        assessments=assessments,
        first_day=first_day,
        last_day=last_day,
        disabled=disabled,
    )


def weekly_matrix(
    log: EventLog,
    n: int,
    t: int,
    weeks: int,
    weights: np.ndarray | None,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """(retailers, weeks) sums of ``weights`` (counts if None) in the weeks before day t."""
    window = log.window(t - 7 * weeks, t)
    if mask is not None:
        window &= mask
    week = (t - 1 - log.day[window]) // 7
    flat = log.code[window] * weeks + week
    w = None if weights is None else weights[window].astype(np.float64)
    return np.bincount(flat, weights=w, minlength=n * weeks).reshape(n, weeks)


def weekly_matrices(
    log: EventLog, n: int, t: int, weeks: int, weights: dict[str, np.ndarray | None]
) -> dict[str, np.ndarray]:
    """Several (retailers, weeks) matrices from one pass over the log's window before ``t``."""
    window = log.window(t - 7 * weeks, t)
    flat = log.code[window] * weeks + (t - 1 - log.day[window]) // 7
    return {
        name: np.bincount(
            flat,
            weights=None if w is None else w[window].astype(np.float64),
            minlength=n * weeks,
        ).reshape(n, weeks)
        for name, w in weights.items()
    }


def counts_by_group(
    log: EventLog, n: int, t: int, weeks: int, group: np.ndarray, groups: int
) -> np.ndarray:
    """(retailers, groups) event counts in the weeks before ``t``."""
    window = log.window(t - 7 * weeks, t)
    flat = log.code[window] * groups + group[window]
    return np.bincount(flat, minlength=n * groups).reshape(n, groups)


def last_year_anchor(t: int) -> int:
    """The day a year before ``t`` at the same distance from Chinese New Year.

    Near the festival the lunar calendar decides which weeks are comparable; elsewhere 52
    weeks back keeps the weekday pattern.
    """
    date = pd.Timestamp(t, unit="D")
    this_year, last_year = CHINESE_NEW_YEAR.get(date.year), CHINESE_NEW_YEAR.get(date.year - 1)
    if this_year is None or last_year is None:
        return t - 364
    offset = t - to_days(this_year)
    if -10 * 7 <= offset <= 12 * 7:
        return to_days(last_year) + offset
    return t - 364


def _slope(matrix: np.ndarray) -> np.ndarray:
    """OLS slope of each row against time (oldest week first), per week."""
    weeks = matrix.shape[1]
    x = -np.arange(weeks, dtype=np.float64)
    x -= x.mean()
    return (matrix - matrix.mean(axis=1, keepdims=True)) @ x / (x @ x)


def _nan_slope(matrix: np.ndarray, min_points: int = 3) -> np.ndarray:
    """``_slope`` over the weeks that have a value (NaN elsewhere); NaN under ``min_points``."""
    weeks = matrix.shape[1]
    x = np.broadcast_to(-np.arange(weeks, dtype=np.float64), matrix.shape)
    seen = np.isfinite(matrix)
    points = seen.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_mean = np.where(seen, x, 0).sum(axis=1) / points
        y_mean = np.where(seen, matrix, 0).sum(axis=1) / points
        dx = np.where(seen, x - x_mean[:, None], 0)
        dy = np.where(seen, matrix - y_mean[:, None], 0)
        slope = (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)
    return np.where(points >= min_points, slope, np.nan)


def _safe_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / b, np.nan)


def _take(values: np.ndarray, index: np.ndarray, fill) -> np.ndarray:
    """``values[index]`` where ``index`` points at an event; ``fill`` where it is -1.

    A table can be present and still have no event at all (a bucket of the Spark engine,
    a company whose visits are all routine), so an empty ``values`` must not be indexed.
    """
    if not len(values):
        return np.full(len(index), fill)
    return np.where(index >= 0, values[np.maximum(index, 0)], fill)


def _days_since(log: EventLog | None, n: int, t: int, mask: np.ndarray | None = None):
    if log is None:
        return None
    last = log.last_before(n, t, mask)
    days = t - _take(log.day if mask is None else log.day[mask], last, t)
    return np.where(last >= 0, days, np.nan)


@dataclass
class Snapshot:
    """Features at one as-of date, and who was left out of the population and why."""

    as_of: pd.Timestamp
    frame: pd.DataFrame
    excluded: dict[str, int]


def retailer_snapshot(
    history: RetailerHistory,
    as_of: pd.Timestamp | str,
    active_weeks: int = DEFAULT_ACTIVE_WEEKS,
    lapsed: bool = False,
) -> Snapshot:
    """Features of every retailer at risk at ``as_of`` from records strictly before it.

    The population at risk: licensed before ``as_of`` (when licences are known), licence not
    expired, and at least one order in the ``active_weeks`` before it. Retailers with no
    order in that window have lapsed: left out by default, kept with ``lapsed=True`` (then
    the frame has a ``lapsed`` column and ``weeks_since_last_order``), so that a model can
    score their chance of coming back.
    """
    t = to_days(as_of)
    n, log = history.n, history.orders
    weights: dict[str, np.ndarray | None] = {"value": log.values["amount"], "count": None}
    for column in ("quantity", "brand_count"):
        if column in log.values:
            weights[column] = log.values[column]
    if "premium_share" in log.values:
        weights["premium_value"] = log.values["premium_share"] * log.values["amount"]
    matrices = weekly_matrices(log, n, t, HISTORY_WEEKS, weights)
    value, count = matrices["value"], matrices["count"]
    ordered = count > 0
    last_order = log.last_before(n, t)
    first_order = log.first_index(n)
    has_history = last_order >= 0
    first_day = np.where(first_order >= 0, _take(log.day, first_order, t), t)

    excluded: dict[str, int] = {}
    population = has_history.copy()
    excluded["no order before the as-of date"] = int((~has_history).sum())
    attrs = history.attributes
    if attrs is not None:
        licensed = _days(attrs["licensed_on"]) if "licensed_on" in attrs else None
        expires = (
            _days(attrs["licence_expires_on"].fillna(pd.Timestamp("2262-01-01")))
            if "licence_expires_on" in attrs
            else None
        )
        if expires is not None:
            gone = population & (expires < t)
            excluded["licence expired before the as-of date"] = int(gone.sum())
            population &= ~gone
        if licensed is not None:
            future = population & (licensed >= t)
            excluded["licensed on or after the as-of date"] = int(future.sum())
            population &= ~future
    recent = count[:, :active_weeks].sum(axis=1) > 0
    dormant = population & ~recent
    if not lapsed:
        excluded[f"no order in the {active_weeks} weeks before (already gone)"] = int(
            dormant.sum()
        )
        population &= recent

    f: dict[str, Any] = {}
    last_day = _take(log.day, last_order, t)
    f["days_since_last_order"] = np.where(last_order >= 0, t - last_day, np.nan)
    f["customer_age_days"] = t - first_day
    weeks_known = np.clip((t - first_day) // 7, 1, HISTORY_WEEKS)
    for w in WINDOWS:
        f[f"value_{w}w"] = value[:, :w].sum(axis=1)
        f[f"orders_{w}w"] = count[:, :w].sum(axis=1)
        f[f"weeks_ordered_share_{w}w"] = ordered[:, :w].sum(axis=1) / np.minimum(w, weeks_known)
    f["weeks_without_order"] = np.where(ordered.any(axis=1), ordered.argmax(axis=1), HISTORY_WEEKS)
    baseline = value[:, :26].sum(axis=1) / np.minimum(26, weeks_known)
    f["baseline_weekly_value"] = baseline
    f["value_1w_vs_baseline"] = _safe_ratio(value[:, 0], baseline)
    f["value_2w_vs_baseline"] = _safe_ratio(value[:, :2].sum(axis=1) / 2, baseline)
    f["value_4w_vs_baseline"] = _safe_ratio(f["value_4w"] / 4, baseline)
    # Recent weeks weigh most (half-life 3 weeks): a smoothed reading of the current level.
    decay = 0.5 ** (np.arange(13) / 3.0)
    f["recent_level_vs_baseline"] = _safe_ratio(value[:, :13] @ decay / decay.sum(), baseline)
    f["log_value_trend_8w"] = _slope(np.log1p(value[:, :8]))
    with np.errstate(divide="ignore", invalid="ignore"):
        f["order_value_trend_8w"] = _nan_slope(np.log(value[:, :8] / count[:, :8]))
    f["value_8w_vs_baseline"] = _safe_ratio(f["value_8w"] / 8, baseline)
    f["trend_13w"] = _safe_ratio(_slope(value[:, :13]), value[:, :13].mean(axis=1))
    f["trend_26w"] = _safe_ratio(_slope(value[:, :26]), value[:, :26].mean(axis=1))
    f["volatility_13w"] = _safe_ratio(value[:, :13].std(axis=1), value[:, :13].mean(axis=1))
    f["volatility_26w"] = _safe_ratio(value[:, :26].std(axis=1), value[:, :26].mean(axis=1))
    last_year = weekly_matrix(log, n, last_year_anchor(t), 13, log.values["amount"])
    for w in (8, 13):
        f[f"value_{w}w_vs_last_year"] = _safe_ratio(f[f"value_{w}w"], last_year[:, :w].sum(1))
    if "quantity" in matrices:
        qty = matrices["quantity"][:, :13].sum(axis=1)
        f["cartons_per_order_13w"] = _safe_ratio(qty, f["orders_13w"])
    if "brand_count" in matrices:
        brands = matrices["brand_count"]
        f["brands_per_order_4w"] = _safe_ratio(brands[:, :4].sum(axis=1), f["orders_4w"])
        f["brands_per_order_26w"] = _safe_ratio(brands[:, :26].sum(axis=1), f["orders_26w"])
        f["brand_breadth_change"] = _safe_ratio(
            f["brands_per_order_4w"], f["brands_per_order_26w"]
        )
        # A decline narrows the brand mix week by week, and the mix hardly widens again
        # afterwards, so the slope over recent ordering weeks tells an ongoing decline
        # from an old one better than the 4-week against 26-week ratio does.
        with np.errstate(divide="ignore", invalid="ignore"):
            per_order = np.log(brands[:, :8] / count[:, :8])
        f["brand_trend_8w"] = _nan_slope(per_order)
    if "premium_value" in matrices:
        premium = matrices["premium_value"][:, :13].sum(axis=1)
        f["premium_share_13w"] = _safe_ratio(premium, f["value_13w"])

    _rhythm_features(f, log, n, t)
    if history.visits is not None:
        _visit_features(f, history.visits, n, t)
    if history.complaints is not None:
        complaints = history.complaints
        for w in (13, 52):
            f[f"complaints_{w}w"] = weekly_matrix(complaints, n, t, w, None).sum(axis=1)
        f["days_since_last_complaint"] = _days_since(complaints, n, t)
    if history.surveys is not None:
        surveys = history.surveys
        last = surveys.last_before(n, t)
        sat = surveys.values["satisfaction"].astype(np.float64)
        f["latest_satisfaction"] = np.where(last >= 0, _take(sat, last, np.nan), np.nan)
        f["days_since_survey"] = _days_since(surveys, n, t)
        total = weekly_matrix(surveys, n, t, 52, sat).sum(axis=1)
        answered = weekly_matrix(surveys, n, t, 52, None).sum(axis=1)
        f["mean_satisfaction_52w"] = _safe_ratio(total, answered)

    frame = pd.DataFrame(f)
    for column in frame.columns:
        if frame[column].dtype == np.float64:
            frame[column] = frame[column].astype(np.float32)
    frame.insert(0, "retailer_id", history.ids.to_numpy())
    frame.insert(1, "as_of", pd.Timestamp(as_of).normalize())
    if lapsed:
        frame["lapsed"] = dormant
        frame["weeks_since_last_order"] = (frame["days_since_last_order"] / 7).astype("float32")
    if attrs is not None:
        _attribute_features(frame, attrs, t)
        if history.managers is not None:
            # Territory size counts the retailers a manager actively serves, lapsed or not.
            _manager_context(frame, history, t, population & recent)
    frame = frame.loc[population].reset_index(drop=True)
    return Snapshot(pd.Timestamp(as_of).normalize(), frame, excluded)


def _rhythm_features(f: dict[str, Any], log: EventLog, n: int, t: int) -> None:
    """What a buy-till-you-die model reads, and the buyer's own rhythm: a monthly buyer
    three weeks quiet is on time, a weekly one is not."""
    rhythm = order_rhythm(log.code, log.day, n, t)
    f["btyd_frequency"] = rhythm["frequency"]
    f["btyd_recency_weeks"] = rhythm["recency_weeks"]
    f["btyd_age_weeks"] = rhythm["age_weeks"]
    with np.errstate(divide="ignore", invalid="ignore"):
        f["order_days_per_week"] = (rhythm["frequency"] + 1) / np.maximum(rhythm["age_weeks"], 1.0)
    f["gap_mean_days"] = rhythm["gap_mean_days"]
    f["gap_cv"] = rhythm["gap_cv"]
    since = f["days_since_last_order"]
    f["recency_vs_gap"] = _safe_ratio(since, rhythm["gap_mean_days"])
    f["recency_vs_max_gap"] = _safe_ratio(since, rhythm["gap_max_days"])
    # Order days the buyer's own rate since its first order says should have come since
    # the last one: 0 means on time, 3 means three orders missed.
    f["orders_missed"] = np.maximum(since * f["order_days_per_week"] / 7 - 1, 0)


def _visit_features(f: dict[str, Any], visits: EventLog, n: int, t: int) -> None:
    f["days_since_last_visit"] = _days_since(visits, n, t)
    count = weekly_matrices(visits, n, t, 26, {"count": None})["count"]
    for w in (4, 13, 26):
        f[f"visits_{w}w"] = count[:, :w].sum(axis=1)
    code = visits.values.get("purpose_code")
    if code is None:
        return
    by_purpose = counts_by_group(visits, n, t, 13, code, len(VISIT_PURPOSES))
    for k, name in enumerate(VISIT_PURPOSES):
        f[f"visits_13w_{name}"] = by_purpose[:, k]
    purposeful = code != VISIT_PURPOSES.index("routine")
    f["days_since_purposeful_visit"] = _days_since(visits, n, t, purposeful)


def _attribute_features(frame: pd.DataFrame, attrs: pd.DataFrame, t: int) -> None:
    values = attrs.reset_index(drop=True)
    for column, levels in CATEGORICAL.items():
        if column in values:
            frame[column] = pd.Categorical(values[column].astype("object"), categories=levels)
    if "grade" in values:
        frame["grade"] = values["grade"].astype("float32")
    if "manager_id" in values:
        frame["manager_id"] = values["manager_id"].astype("object")
    if "licensed_on" in values:
        frame["licence_age_days"] = (
            t - _days(values["licensed_on"].fillna(pd.Timestamp(t, unit="D")))
        ).astype("float32")
        frame.loc[values["licensed_on"].isna().to_numpy(), "licence_age_days"] = np.nan
    if "licence_expires_on" in values:
        expires = values["licence_expires_on"]
        days = _days(expires.fillna(pd.Timestamp(t, unit="D"))) - t
        frame["days_to_licence_expiry"] = np.where(expires.isna(), np.nan, days).astype("float32")


def _manager_context(
    frame: pd.DataFrame, history: RetailerHistory, t: int, population: np.ndarray
) -> None:
    managers = history.managers
    manager = frame["manager_id"]
    size = manager[population].value_counts()
    frame["territory_size"] = manager.map(size).astype("float32")
    if "hired_on" in managers:
        hired = managers["hired_on"].reindex(manager.to_numpy())
        tenure = t - _days(hired.fillna(pd.Timestamp(t, unit="D")))
        frame["manager_tenure_days"] = np.where(
            hired.isna().to_numpy() | (tenure < 0), np.nan, tenure
        ).astype("float32")
    if "weekly_capacity" in managers:
        frame["manager_weekly_capacity"] = (
            managers["weekly_capacity"].reindex(manager.to_numpy()).to_numpy(dtype="float32")
        )
    assessments = history.assessments
    if assessments is not None:
        before = assessments[_days(assessments["assessed_on"]) < t]
        latest = (
            before.sort_values("assessed_on")
            .groupby(["manager_id", "skill"], observed=True)["score"]
            .last()
            .unstack("skill")
            .reindex(columns=list(SKILLS))
        )
        scores = latest.reindex(manager.to_numpy())
        for skill in SKILLS:
            frame[f"manager_{skill}"] = scores[skill].to_numpy(dtype="float32")


def build_retailer_features(
    tables: dict[str, pd.DataFrame],
    as_of_dates: list[pd.Timestamp] | list[str],
    active_weeks: int = DEFAULT_ACTIVE_WEEKS,
    history: RetailerHistory | None = None,
    lapsed: bool = False,
) -> tuple[pd.DataFrame, RetailerHistory, list[Snapshot]]:
    """Features for every snapshot date, stacked; plus the prepared history and snapshots."""
    history = history or prepare_history(tables)
    snapshots = [retailer_snapshot(history, d, active_weeks, lapsed) for d in as_of_dates]
    frames = [s.frame for s in snapshots]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    # pandas keeps attrs in Parquet metadata, so the file itself says what is switched off.
    frame.attrs["disabled_features"] = dict(history.disabled)
    frame.attrs["left_out"] = {str(s.as_of.date()): s.excluded for s in snapshots}
    return frame, history, snapshots


def check_as_of(history: RetailerHistory, as_of: pd.Timestamp) -> None:
    """A snapshot needs orders before it and may be up to a week after the data ends.

    The week after is allowed so that this week's scores can be dated on its Monday when
    the export ended on the Friday before.
    """
    t = to_days(as_of)
    if not history.first_day < t <= history.last_day + 7:
        first = pd.Timestamp(history.first_day, unit="D").date()
        last = pd.Timestamp(history.last_day, unit="D").date()
        raise UserInputError(
            f"--as-of {pd.Timestamp(as_of).date()} is outside the data ({first} .. {last}); "
            "a snapshot needs orders before it and at most a week after the last one"
        )


def model_frame(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Model inputs for fitting: floats (no infinities), categoricals kept as categories."""
    x = frame[features].copy()
    for column in features:
        if column not in CATEGORICAL:
            x[column] = x[column].astype("float64").replace([np.inf, -np.inf], np.nan)
    return x


def model_input(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """Feature rows as a logged MLflow model takes them: floats, categoricals as text."""
    x = model_frame(frame, features)
    for column in features:
        if column in CATEGORICAL:
            x[column] = x[column].astype("object").astype(str)
    return x


def booster_input(
    frame: pd.DataFrame, features: list[str], categories: dict[str, list[str]], model: str
) -> pd.DataFrame:
    """Rows typed as a logged booster was trained: floats, categoricals with its levels."""
    missing = [c for c in features if c not in frame]
    if missing:
        raise ValueError(f"{model}: input lacks feature column(s) {missing[:8]}")
    x = frame[features].copy()
    for column in features:
        if column in categories:
            x[column] = pd.Categorical(x[column].astype("object"), categories=categories[column])
        else:
            x[column] = (
                pd.to_numeric(x[column], errors="coerce")
                .astype("float64")
                .replace([np.inf, -np.inf], np.nan)
            )
    return x


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model inputs of a feature frame (everything but keys)."""
    keys = ("retailer_id", "as_of", "manager_id", "lapsed", "weeks_since_last_order")
    return [c for c in frame.columns if c not in keys]
