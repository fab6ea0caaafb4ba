"""What planners told us, as plain input to the next plan: who to leave out, and till when;
which visits were made since the data was exported.

Serving keeps feedback in its database; the API and the CLI read it there and hand it to
planning through ``build_feedback`` as plain rows, so planning never imports serving.

A rejected visit whose reason means "not now" (the shop is closed for works, the owner is
away) leaves the retailer out for the period the reason implies, or the one the planner
gave; any other rejection leaves it out for the rest of the week it was rejected for. A
visit reported done counts as the retailer's last visit, for the minimum gap and for the
visit-frequency rule alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# Reasons that mean "not now", with how long they usually last. Checked in order; the
# first that matches wins, so the longer closures come first.
NOT_NOW: tuple[tuple[str, re.Pattern[str], int, tuple[str, str]], ...] = (
    (
        "closed",
        re.compile(
            r"装修|暂停营业|停业|歇业|关门|闭店|拆迁|整改|closed|renovat|refurbish|works",
            re.IGNORECASE,
        ),
        28,
        ("暂停营业", "closed for now"),
    ),
    (
        "holiday",
        re.compile(r"回老家|放假|休假|春节|过年|on holiday|vacation", re.IGNORECASE),
        14,
        ("店主休假", "owner on holiday"),
    ),
    (
        "owner_away",
        re.compile(
            r"店主不在|老板不在|不在店|外出|出差|没人|无人|owner away|nobody", re.IGNORECASE
        ),
        7,
        ("店主不在", "owner away"),
    ),
)
REJECTED = ("本周已拒绝", "rejected for this week")


def not_now_period(reason: str | None) -> tuple[str, int, tuple[str, str]] | None:
    """(kind, days, words) when a rejection reason means "not now", else None."""
    if not reason:
        return None
    for kind, pattern, days, words in NOT_NOW:
        if pattern.search(reason):
            return kind, days, words
    return None


def _monday(week: str) -> pd.Timestamp:
    year, number = week.upper().split("-W")
    return pd.Timestamp(dt.date.fromisocalendar(int(year), int(number), 1))


@dataclass
class PlanFeedback:
    """Feedback as planning reads it.

    Attributes:
        exclusions: one row per retailer left out: ``retailer_id``, ``until`` (first day it
            may be planned again), ``reason`` (as the planner wrote it), ``zh``/``en`` (what
            the reason was taken to mean).
        done: one row per visit reported done: ``retailer_id``, ``visit_date``.
    """

    exclusions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["retailer_id", "until", "reason", "zh", "en"]
        )
    )
    done: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["retailer_id", "visit_date"])
    )

    def fingerprint(self) -> tuple:
        """A hashable summary: two plans made from equal feedback may share one result."""
        return (
            tuple(map(tuple, self.exclusions[["retailer_id", "until"]].astype(str).to_numpy())),
            tuple(map(tuple, self.done[["retailer_id", "visit_date"]].astype(str).to_numpy())),
        )

    def for_retailers(self, retailer_ids: Iterable[str]) -> PlanFeedback:
        ids = set(retailer_ids)
        return PlanFeedback(
            self.exclusions[self.exclusions["retailer_id"].isin(ids)],
            self.done[self.done["retailer_id"].isin(ids)],
        )

    def last_done(self) -> pd.Series:
        """The latest done visit per retailer."""
        if self.done.empty:
            return pd.Series(dtype="datetime64[ns]")
        return pd.to_datetime(self.done["visit_date"]).groupby(self.done["retailer_id"]).max()

    def excluded_until(self) -> pd.DataFrame:
        """The latest exclusion per retailer (a later decision overrides an earlier one)."""
        if self.exclusions.empty:
            return self.exclusions.set_index("retailer_id")
        return self.exclusions.sort_values("until").groupby("retailer_id").last()


def build_feedback(
    decisions: Iterable[Mapping[str, Any]], outcomes: Iterable[Mapping[str, Any]]
) -> PlanFeedback:
    """Plain feedback rows (as the API stores them) -> what the next plans must respect.

    Args:
        decisions: ``retailer_id``, ``week`` (YYYY-Www), ``decision`` (accept/reject),
            optional ``reason`` and ``until`` (a date the planner gave), in the order they
            were recorded; a later decision on the same retailer replaces an earlier one.
        outcomes: ``retailer_id``, ``visit_date``, ``done``.
    """
    latest: dict[str, Mapping[str, Any]] = {}
    for row in decisions:
        latest[row["retailer_id"]] = row
    exclusions = []
    for retailer, row in latest.items():
        if row.get("decision") != "reject":
            continue
        monday = _monday(row["week"])
        reason = row.get("reason") or ""
        meaning = not_now_period(reason)
        words = meaning[2] if meaning else REJECTED
        if row.get("until"):
            until = pd.Timestamp(row["until"])
        elif meaning:
            until = monday + pd.Timedelta(days=meaning[1])
        else:
            until = monday + pd.Timedelta(days=7)
        exclusions.append(
            {
                "retailer_id": retailer,
                "until": until,
                "reason": reason,
                "zh": words[0],
                "en": words[1],
            }
        )
    done = [
        {"retailer_id": r["retailer_id"], "visit_date": pd.Timestamp(r["visit_date"])}
        for r in outcomes
        if r.get("done")
    ]
    feedback = PlanFeedback()
    if exclusions:
        feedback.exclusions = pd.DataFrame(exclusions)
    if done:
        feedback.done = pd.DataFrame(done)
    return feedback
