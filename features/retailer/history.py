"""The contract tables indexed by retailer once: sorted event logs with integer retailer codes
and the weekly sums every snapshot reads from them (``features.retailer``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.calendar import CHINESE_NEW_YEAR, to_days
from features.contract import VISIT_PURPOSES


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
        day = day_numbers(frame[date_column])[known]
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


def day_numbers(values: pd.Series) -> np.ndarray:
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
