"""The company's data as the service sees it: plans, churn risk and order history.

Loaded once at start from the data folder. A week's features and scores (``PlanContext``)
are prepared once per week and model generation, then every manager's plan and every
retailer's risk for that week reads from them. Default plans can be precomputed by
``fieldcoach plan batch`` into the database; the API serves those as stored.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from features.errors import UserInputError
from features.i18n import PURPOSE_NAMES, pick, render_notes
from features.reasons import restate
from features.retailer import RetailerHistory, model_input, prepare_history, retailer_snapshot
from features.validate import Dataset, ValidationReport, load_dataset
from fieldcoach.champions import CHURN, ModelStore
from planning.explore import Exploration
from planning.feedback import PlanFeedback
from planning.plan import plan_manager, plan_manager_languages
from planning.purpose import choose_purposes, talking_point
from planning.week import Models, PlanContext, default_week, plannable_days, prepare_week, week_of

LANGUAGES = ("en", "zh")
HISTORY_WEEKS = 13


class NotFound(LookupError):
    """An id the data does not know (the API answers 404)."""


class ServedTerritory:
    """Tables, history and per-week planning contexts for one data folder."""

    def __init__(self, tables: dict[str, pd.DataFrame], store: ModelStore) -> None:
        self.tables = tables
        self.store = store
        self.history: RetailerHistory = prepare_history(tables)
        managers = tables.get("managers")
        self.team_of_manager: dict[str, str | None] = {}
        if managers is not None:
            teams = managers["team_id"] if "team_id" in managers else [None] * len(managers)
            self.team_of_manager = dict(zip(managers["manager_id"], teams, strict=True))
        retailers = tables.get("retailers")
        self.manager_of_retailer: dict[str, str] = {}
        if retailers is not None and "manager_id" in retailers:
            for rid, mid in zip(retailers["retailer_id"], retailers["manager_id"], strict=True):
                if isinstance(mid, str):
                    self.manager_of_retailer[rid] = mid
                    self.team_of_manager.setdefault(mid, None)
        self._contexts: dict[tuple[str, int], PlanContext] = {}
        self._outside: dict[tuple[str, int], pd.DataFrame] = {}
        self.replan_time_limit_s = 5.0  # safety cap; plans stop after a solution count
        # Exploration and holdout of every plan (the service and `plan batch` set them from
        # the settings); None plans without.
        self.exploration: Exploration | None = None
        self._lock = threading.Lock()
        self._weekly_orders = self._weekly_order_values()
        self._known_ids = frozenset(self.history.ids) | frozenset(self.manager_of_retailer)
        self._hired_on: dict[str, dt.date] = {}
        if managers is not None and "hired_on" in managers:
            for mid, day in zip(managers["manager_id"], managers["hired_on"], strict=True):
                if not pd.isna(day):
                    self._hired_on[mid] = pd.Timestamp(day).date()
        courses = tables.get("courses")
        self._course_ids = None if courses is None else frozenset(courses["course_id"])
        self.report: ValidationReport | None = None

    @classmethod
    def load(cls, data_dir: Path, store: ModelStore) -> ServedTerritory:
        return cls.from_dataset(load_dataset(data_dir), store)

    @classmethod
    def from_dataset(cls, dataset: Dataset, store: ModelStore) -> ServedTerritory:
        territory = cls(dataset.tables, store)
        territory.report = dataset.report  # the data folder's status, for the workspace
        return territory

    def _weekly_order_values(self) -> pd.DataFrame:
        orders = self.tables["orders"]
        week = orders["order_date"].dt.to_period("W-SUN").dt.start_time
        frame = pd.DataFrame(
            {"retailer_id": orders["retailer_id"], "week_start": week, "value": orders["amount"]}
        )
        return frame.groupby(["retailer_id", "week_start"], as_index=False)["value"].sum()

    # -- ids and teams -----------------------------------------------------------------
    def default_week(self) -> str:
        if not hasattr(self, "_default_week"):
            self._default_week = default_week(self.history)
        return self._default_week

    def manager_team(self, manager_id: str) -> str | None:
        if manager_id not in self.team_of_manager:
            raise NotFound(f"no manager {manager_id!r} in the data")
        return self.team_of_manager[manager_id]

    def team_managers(self, team_id: str) -> list[str]:
        members = sorted(m for m, t in self.team_of_manager.items() if t == team_id)
        if not members:
            raise NotFound(f"no team {team_id!r} in the data")
        return members

    def knows_retailer(self, retailer_id: str) -> bool:
        return retailer_id in self._known_ids

    def hired_on(self, manager_id: str) -> dt.date | None:
        return self._hired_on.get(manager_id)

    def course_ids(self) -> frozenset[str] | None:
        """Course ids of the ``courses`` table, or None when the data has no such table."""
        return self._course_ids

    def plannable_weeks(self) -> tuple[str, str]:
        """First and last ISO week a plan can be made for."""
        first, last = plannable_days(self.history)
        return week_of(first), week_of(last)

    def retailer_manager(self, retailer_id: str) -> str | None:
        if retailer_id not in self.manager_of_retailer and retailer_id not in self._known_ids:
            raise NotFound(f"no retailer {retailer_id!r} in the data")
        return self.manager_of_retailer.get(retailer_id)

    # -- weekly context ----------------------------------------------------------------
    def context(self, week: str | None = None) -> PlanContext:
        """The week's features and scores with the current champions (prepared once)."""
        week = week or self.default_week()
        key = (week, self.store.generation)
        found = self._contexts.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._contexts.get(key)
            if found is None:
                models = Models.from_store(self.store)
                found = prepare_week(self.tables, week, models, history=self.history)
                stale = [k for k in self._contexts if k[1] != self.store.generation]
                for k in stale:
                    del self._contexts[k]
                self._contexts[key] = found
        return found

    def plan(
        self,
        manager_id: str,
        week: str | None = None,
        capacity: int | None = None,
        days: int = 5,
        language: str = "en",
        time_limit_s: float | None = None,
        feedback: PlanFeedback | None = None,
        include_non_working_days: bool = False,
        exploration: Exploration | None = None,
    ) -> dict[str, Any]:
        """One plan; ``exploration`` overrides the territory's own for this request."""
        self.manager_team(manager_id)
        context = self.context(week)
        return plan_manager(
            context,
            manager_id,
            capacity=capacity,
            days=days,
            time_limit_s=self.replan_time_limit_s if time_limit_s is None else time_limit_s,
            language=language,
            feedback=feedback,
            include_non_working_days=include_non_working_days,
            exploration=self.exploration if exploration is None else exploration,
        )

    def plan_languages(
        self,
        manager_id: str,
        week: str | None = None,
        time_limit_s: float | None = None,
        feedback: PlanFeedback | None = None,
    ) -> dict[str, dict[str, Any]]:
        """The default plan, solved once, in every language the service speaks."""
        self.manager_team(manager_id)
        return plan_manager_languages(
            self.context(week),
            manager_id,
            LANGUAGES,
            time_limit_s=self.replan_time_limit_s if time_limit_s is None else time_limit_s,
            feedback=feedback,
            exploration=self.exploration,
        )

    def risk(self, retailer_id: str, language: str = "en") -> dict[str, Any]:
        """Churn probability, value at risk, reasons and the last 13 weeks of orders."""
        manager = self.retailer_manager(retailer_id)
        context = self.context()
        frame = context.features
        row = frame[frame["retailer_id"] == retailer_id]
        history = self.order_history(retailer_id)
        base = {
            "retailer_id": retailer_id,
            **self.retailer_labels(retailer_id),
            "manager_id": manager,
            "as_of": str(pd.Timestamp(frame["as_of"].iloc[0]).date()),
            "week": self.default_week(),
            "order_history": history,
            "notes": render_notes(context.notes, language),
        }
        if row.empty:
            row = self._outside_plan(context)
            row = row[row["retailer_id"] == retailer_id]
        if row.empty:
            # Not scored: it already churned by the label's rule (or closed), and the
            # champion does not score lapsed retailers.
            return {
                **base,
                "status": "churned",
                "churn_probability": None,
                "value_at_risk": 0.0,
                "expected_value_lost": 0.0,
                "reasons": [],
                "purpose": None,
                "purpose_name": None,
                "talking_point": None,
            }
        r = row.iloc[0]
        reasons = restate(r["reasons"] if isinstance(r["reasons"], list) else [], r)
        probability = float(r["churn_probability"])
        lapsed = bool(r.get("lapsed", False))
        purpose = r["purpose"] if isinstance(r["purpose"], str) else None
        extra = {}
        if "lapsed" in row:
            extra = {
                "lapsed": lapsed,
                "weeks_since_last_order": round(float(r["days_since_last_order"]) / 7, 1),
            }
        return {
            **base,
            **extra,
            "status": "lapsed" if lapsed else "active",
            "churn_probability": round(probability, 4),
            "value_at_risk": round(float(r["value_at_risk"]), 2),
            "expected_value_lost": round(probability * float(r["value_at_risk"]), 2),
            "reasons": [_reason(x, language) for x in reasons],
            "purpose": purpose,
            "purpose_name": pick(PURPOSE_NAMES[purpose], language) if purpose else None,
            "talking_point": talking_point(purpose, language) if purpose else None,
        }

    def retailer_labels(self, retailer_id: str) -> dict[str, str | None]:
        """The shop's name and address, where the retailers table has them."""
        retailers = self.tables.get("retailers")
        out: dict[str, str | None] = {"name": None, "address": None}
        if retailers is None or not {"name", "address"} & set(retailers.columns):
            return out
        row = retailers[retailers["retailer_id"] == retailer_id]
        for column in out:
            if column in row and len(row) and pd.notna(row[column].iloc[0]):
                out[column] = str(row[column].iloc[0])
        return out

    def _outside_plan(self, context: PlanContext) -> pd.DataFrame:
        """Retailers the week's plan does not hold (no recent order) scored by a champion
        that learnt from lapsed retailers; empty when there is none."""
        key = (str(context.week_start.date()), self.store.generation)
        found = self._outside.get(key)
        if found is not None:
            return found
        churn = self.store.get(CHURN)
        metadata = (churn.model.metadata.metadata or {}) if churn else {}
        frame = pd.DataFrame(columns=["retailer_id"])
        if churn is not None and str(metadata.get("scores_lapsed", False)).lower() == "true":
            weeks = int(metadata.get("population_weeks", metadata.get("horizon_weeks", 8)))
            as_of = pd.Timestamp(context.features["as_of"].iloc[0])
            frame = retailer_snapshot(self.history, as_of, weeks, lapsed=True).frame
            frame = frame[~frame["retailer_id"].isin(context.features["retailer_id"])]
            frame = frame.reset_index(drop=True)
            features = churn.model.metadata.get_input_schema().input_names()
            if len(frame) and set(features) <= set(frame.columns):
                predicted = churn.model.predict(model_input(frame, features))
                frame["churn_probability"] = predicted["churn_probability"].to_numpy()
                frame["reasons"] = predicted["reasons"].map(json.loads).to_list()
                horizon = int(metadata.get("horizon_weeks", 8))
                frame["value_at_risk"] = frame["baseline_weekly_value"].astype(float) * horizon
                frame["purpose"] = choose_purposes(frame)
            else:
                frame = pd.DataFrame(columns=["retailer_id"])
        with self._lock:
            self._outside = {k: v for k, v in self._outside.items() if k[1] == key[1]}
            self._outside[key] = frame
        return frame

    def order_history(self, retailer_id: str, weeks: int = HISTORY_WEEKS) -> list[dict]:
        last = pd.Timestamp(self.history.last_day, unit="D")
        end = (last - pd.Timedelta(days=last.weekday())).normalize()
        starts = [end - pd.Timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
        mine = self._weekly_orders[self._weekly_orders["retailer_id"] == retailer_id]
        values = dict(zip(mine["week_start"], mine["value"], strict=True))
        return [
            {"week_start": str(s.date()), "order_value": round(float(values.get(s, 0.0)), 2)}
            for s in starts
        ]


def _reason(reason: dict[str, Any] | str, language: str) -> str:
    if isinstance(reason, str):
        return reason
    return str(reason.get("zh" if language == "zh" else "en", ""))


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise UserInputError(f"language must be en or zh, got {language!r}")
    return language
