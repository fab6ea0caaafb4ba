"""A simulated territory: retailers, customer managers, visits and training, week by week.

This is an environment, not a one-shot generator: ``Territory.step`` advances one week under
a visit plan and a training plan (or the company's current practice when none is given),
``save``/``load`` persist the whole state, and every draw of randomness has a fixed size per
week whatever the plan, so two copies of a territory run under different plans see the same
luck (common random numbers) and their difference is the plans' effect. The causal story
is written out in ``docs/simulator.md``; the names below follow it.
"""

from __future__ import annotations

import copy
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.calendar import new_year_factor, to_days
from features.contract import COMPLAINT_CATEGORIES, SKILLS
from features.errors import UserInputError
from features.io import atomic_path
from simulator.population import (
    ManagerStates,
    RetailerStates,
    SimulationConfig,
    create_managers,
    create_retailers,
)
from simulator.practice import CompanyPractice
from simulator.rules import (
    CHURN_INTERCEPT,
    CHURN_SLOPE,
    DECLINE_END,
    DECLINE_ONSET,
    DECLINE_RATE,
    EXIT_REASONS,
    FORMAT_DECLINE,
    GRIEVANCE_DECAY,
    GRIEVANCE_HARM,
    HEALTH_NOISE,
    MEAN_REVERSION,
    ORDER_INTERCEPT,
    ORDER_SLOPE,
    RHYTHM_WEEKS,
    SKILL,
    SPORADIC_WEEKLY_CHANCE,
    SUDDEN_CLOSURE,
    VALUE_ELASTICITY,
    rows_in_week,
    sigmoid,
)
from simulator.scenarios import (
    Scenario,
    competitor_pressure,
    get_scenario,
    pressure_at,
)

# Classes a territory saved by an earlier version names by their old names: the population's
# state classes were Retailers and Managers, as the data contract's table schemas still are.
RENAMED = {
    ("simulator.population", "Retailers"): ("simulator.population", "RetailerStates"),
    ("simulator.population", "Managers"): ("simulator.population", "ManagerStates"),
}


class _StateUnpickler(pickle.Unpickler):
    """Loads saved territories, those that name a class by an earlier name too."""

    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(*RENAMED.get((module, name), (module, name)))


@dataclass
class Territory(CompanyPractice):
    """The whole simulated company and its history so far."""

    config: SimulationConfig
    rng: np.random.Generator
    week: int
    retailers: RetailerStates
    managers: ManagerStates
    shortage_weeks_left: int = 0
    file_format: str = "parquet"
    exported_weeks: int = 0
    # False once a given plan steered it: the seed alone no longer reproduces its history.
    replayable: bool = True
    records: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)
    truth: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ creation
    @classmethod
    def create(cls, config: SimulationConfig) -> Territory:
        rng = np.random.default_rng(config.seed)
        start = to_days(config.start)
        managers = create_managers(config, rng, start)
        retailers = create_retailers(config, rng, managers, config.n_retailers, start, True)
        sizes = np.bincount(retailers.manager, minlength=len(managers))
        managers.capacity = np.maximum(
            5, np.round(sizes / 3.0 * rng.uniform(0.9, 1.15, len(managers)))
        ).astype(np.int32)
        territory = cls(config=config, rng=rng, week=0, retailers=retailers, managers=managers)
        territory._record_static()
        return territory

    @property
    def scenario(self) -> Scenario:
        # Territories saved before scenarios existed tell the default story.
        return get_scenario(getattr(self.config, "scenario", "default"))

    def competitor_pressure(self) -> np.ndarray | None:
        """Competitor pressure (0-1) at each retailer, or None when the story has none."""
        m, r = self.managers, self.retailers
        hotspots = competitor_pressure(self.scenario, self.config.seed, m.home_lat, m.home_lon)
        return None if hotspots is None else pressure_at(self.scenario, hotspots, r.lat, r.lon)

    def _visit_saturation(self, index: np.ndarray | None = None) -> np.ndarray | None:
        """Share of its effect a visit keeps given the weeks since the last one (or None)."""
        weeks = self.scenario.saturation_weeks
        if not weeks:
            return None
        last = self.retailers.last_visit_week
        since = self.week - (last if index is None else last[index])
        return np.clip(since / weeks, 0.0, 1.0)

    def _relationship_factor(self, grade: np.ndarray) -> np.ndarray:
        """Relationship lift per unit: larger for high grades, or (scenario) small shops."""
        if self.scenario.relationship_favours_small:
            return 1 + (30 - grade) / 15
        return 1 + grade / 15

    @property
    def start_day(self) -> int:
        return to_days(self.config.start)

    @property
    def current_day(self) -> int:
        """First day of the week the next ``step`` simulates."""
        return self.start_day + 7 * self.week

    @property
    def current_date(self) -> pd.Timestamp:
        return pd.Timestamp(self.current_day, unit="D")

    def retailer_ids(self, index: np.ndarray | None = None) -> np.ndarray:
        index = np.arange(len(self.retailers)) if index is None else index
        return np.char.add("R", np.char.zfill(np.asarray(index).astype(str), 7))

    def manager_ids(self, index: np.ndarray | None = None) -> np.ndarray:
        index = np.arange(len(self.managers)) if index is None else index
        return np.char.add("M", np.char.zfill(np.asarray(index).astype(str), 4))

    # ------------------------------------------------------------------ running
    def run(
        self,
        weeks: int,
        visit_plan: pd.DataFrame | None = None,
        training_plan: pd.DataFrame | None = None,
    ) -> Territory:
        """Advance ``weeks`` weeks; plans are split by week on their date column."""
        for _ in range(weeks):
            lo, hi = self.current_day, self.current_day + 7
            self.step(
                rows_in_week(visit_plan, "visit_date", lo, hi),
                rows_in_week(training_plan, "completed_on", lo, hi),
                plan_given=(visit_plan is not None, training_plan is not None),
            )
        return self

    def step(
        self,
        visit_plan: pd.DataFrame | None = None,
        training_plan: pd.DataFrame | None = None,
        plan_given: tuple[bool, bool] | None = None,
    ) -> None:
        """Simulate one week.

        Args:
            visit_plan: visits to make this week (``retailer_id``, optional ``manager_id``,
                ``visit_date``, ``purpose``). ``None``: the company's current practice.
            training_plan: courses completed this week (``manager_id``, ``course_id``,
                optional ``completed_on``). ``None``: current practice.
            plan_given: set by ``run`` so that an empty slice of a given plan means
                "no visits this week" rather than "current practice".
        """
        given_visits, given_training = plan_given or (
            visit_plan is not None,
            training_plan is not None,
        )
        if given_visits or given_training:
            self.replayable = False
        rng, cfg, day = self.rng, self.config, self.current_day
        self._open_new_retailers()
        r, m = self.retailers, self.managers
        n = len(r)
        # Every random draw of the week, at fixed sizes, before any plan is looked at.
        u = rng.random((8, n))
        z = rng.standard_normal((3, n))
        u_mgr = rng.random((4, len(m)))
        z_assess = rng.standard_normal((len(m), len(SKILLS) + 1))
        shortage_draw = rng.random()

        self._learn_and_train(training_plan if given_training else None, u_mgr)
        self._assess(z_assess)
        effect, best_purpose = self.true_visit_effect()
        before = {
            "health": r.health.copy(),
            "decline": r.decline.copy(),
            "grievance": r.grievance.copy(),
            "breadth_gap": r.breadth_target - r.breadth,
        }
        if given_visits:
            visits = self._visits_from_plan(visit_plan)
        else:
            visits = self.current_practice_visits(u[0], u[1])
        self._apply_visits(visits)
        self._complaints(u[2], u[3])
        self._health_dynamics(u[4], z[0], z[1])
        hazard = self._exits(u[5])
        self._orders(u[6], z[2], shortage_draw)
        self._surveys(u[7], z[1])
        if cfg.record_truth:
            alive_idx = np.flatnonzero(r.alive | (r.exited_week == self.week))
            visited = np.zeros(n, dtype=bool)
            visited[visits["retailer"]] = True
            self._add(
                "truth",
                "retailer_weeks",
                {
                    "retailer": alive_idx.astype(np.int32),
                    "week_start": np.full(len(alive_idx), day, dtype=np.int32),
                    **{k: v[alive_idx].astype(np.float32) for k, v in before.items()},
                    "exit_hazard": hazard[alive_idx].astype(np.float32),
                    "visit_effect": effect[alive_idx].astype(np.float32),
                    "best_purpose": best_purpose[alive_idx].astype(np.int8),
                    "visited": visited[alive_idx],
                },
            )
            self._add(
                "truth",
                "manager_skills",
                {
                    "manager": np.arange(len(m), dtype=np.int32),
                    "week_start": np.full(len(m), day, dtype=np.int32),
                    **{s: m.skills[:, k].astype(np.float32) for s, k in SKILL.items()},
                },
            )
        self.week += 1

    # ------------------------------------------------------------------ the causal pieces
    def _open_new_retailers(self) -> None:
        cfg = self.config
        count = self.rng.poisson(cfg.new_retailer_rate * cfg.n_retailers)
        new = create_retailers(cfg, self.rng, self.managers, count, self.current_day, False)
        if count:
            first = len(self.retailers)
            self.retailers.extend(new)
            self._record_retailers(np.arange(first, first + count))

    def _complaints(self, u: np.ndarray, u_category: np.ndarray) -> None:
        r, m = self.retailers, self.managers
        s = m.skills[r.manager]
        logit = (
            -6.0
            + 0.045 * (60 - s[:, SKILL["communication"]])
            + 0.045 * (60 - s[:, SKILL["ethics"]])
            + 0.5 * (r.health < 0)
            + 0.8 * (self.shortage_weeks_left > 0)
        )
        complained = r.alive & (u < sigmoid(logit))
        idx = np.flatnonzero(complained)
        if not len(idx):
            return
        r.grievance[idx] += 1.0
        r.health[idx] -= 0.1
        r.last_complaint_week[idx] = self.week
        conduct_share = np.clip((70 - s[idx, SKILL["ethics"]]) / 80, 0.05, 0.6)
        rest = (u_category[idx] - conduct_share) / (1 - conduct_share)
        other_kinds = np.array(
            [COMPLAINT_CATEGORIES.index(c) for c in ("service", "service", "price", "other")]
        )
        category = np.where(
            u_category[idx] < conduct_share,
            COMPLAINT_CATEGORIES.index("conduct"),
            np.where(
                self.shortage_weeks_left > 0,
                COMPLAINT_CATEGORIES.index("supply"),
                other_kinds[np.clip((rest * 4).astype(np.int64), 0, 3)],
            ),
        )
        self._add(
            "records",
            "complaints",
            {
                "retailer": idx.astype(np.int32),
                "complained_on": (
                    self.current_day + (u_category[idx] * 7).astype(np.int64)
                ).astype(np.int32),
                "category": category.astype(np.int8),
            },
        )

    def _health_dynamics(self, u: np.ndarray, z: np.ndarray, z_breadth: np.ndarray) -> None:
        r = self.retailers
        onset = (
            DECLINE_ONSET
            * FORMAT_DECLINE[r.format]
            * np.where(r.urban, 1.0, 1.3)
            * (1.3 - r.grade / 50)
            * (1 + np.clip((r.breadth_target - r.breadth) / r.breadth_target, 0, 1))
        )
        pressure = self.competitor_pressure()
        if pressure is not None:
            onset = onset * (1 + self.scenario.competition * pressure)
        declining = r.decline > 0.005
        starts = ~declining & (u < onset)
        ends = declining & (u > 1 - DECLINE_END)
        # Reuse the onset draw: below the onset hazard it is uniform, so it sets the rate.
        low, high = DECLINE_RATE
        rate = low + (high - low) * (u / np.maximum(onset, 1e-9))
        r.decline = np.where(starts, np.clip(rate, *DECLINE_RATE), r.decline)
        r.decline[ends] = 0.0
        still = r.decline <= 0.005
        r.health += (
            np.where(still, MEAN_REVERSION * (r.health0 - r.health), 0.0)
            - r.decline
            - GRIEVANCE_HARM * r.grievance
            + HEALTH_NOISE * z
        )
        r.grievance *= GRIEVANCE_DECAY
        # Brand mix narrows while a retailer declines and drifts back slowly otherwise.
        r.breadth += np.where(still, 0.01, -0.4) * np.maximum(r.decline, 0.02) * r.breadth
        r.breadth += 0.02 * z_breadth
        r.breadth = np.clip(r.breadth, 1.0, r.breadth_target * 1.2)

    def exit_hazard(self, day: int) -> np.ndarray:
        """Chance each retailer leaves for good in the week starting ``day``, from its health."""
        r = self.retailers
        licence_over = (r.expires_on >= 0) & (r.expires_on < day + 7)
        hazard = 1 - (1 - sigmoid(CHURN_INTERCEPT + CHURN_SLOPE * r.health)) * (1 - SUDDEN_CLOSURE)
        return np.where(licence_over, 1.0, hazard)

    def order_probability(self, day: int) -> np.ndarray:
        """Chance each retailer, if still trading, orders in the week starting ``day``."""
        r = self.retailers
        festival = new_year_factor(np.array([day]))[0] < 0.5
        p_order = sigmoid(ORDER_INTERCEPT + ORDER_SLOPE * r.health) * (0.6 if festival else 1)
        if self.config.ordering != "weekly":
            week = (day - self.start_day) // 7
            cycle = RHYTHM_WEEKS[r.rhythm].astype(np.int64)
            due = np.where(r.rhythm == 3, True, (week + r.rhythm_phase) % cycle == 0)
            p_order = np.where(r.rhythm == 3, p_order * SPORADIC_WEEKLY_CHANCE, p_order) * due
        return np.where(r.licensed_on <= day, p_order, 0.0)

    def _exits(self, u: np.ndarray) -> np.ndarray:
        r = self.retailers
        hazard = self.exit_hazard(self.current_day)
        leaving = r.alive & (u < hazard)
        reason = np.where(
            hazard >= 1.0,
            EXIT_REASONS.index("licence_expired"),
            np.where(
                u < SUDDEN_CLOSURE, EXIT_REASONS.index("closed"), EXIT_REASONS.index("low_health")
            ),
        )
        r.alive[leaving] = False
        r.exited_week[leaving] = self.week
        r.exit_reason[leaving] = reason[leaving]
        return hazard

    def _orders(self, u: np.ndarray, z: np.ndarray, shortage_draw: float) -> None:
        r, cfg = self.retailers, self.config
        if self.shortage_weeks_left > 0:
            self.shortage_weeks_left -= 1
        elif shortage_draw < cfg.shortage_rate:
            self.shortage_weeks_left = 1 + int(shortage_draw / cfg.shortage_rate * 3)
            self._add(
                "truth",
                "shortages",
                {
                    "week_start": np.array([self.current_day], dtype=np.int32),
                    "weeks": np.array([self.shortage_weeks_left], dtype=np.int32),
                },
            )
        season = new_year_factor(np.array([self.current_day]))[0]
        p_order = self.order_probability(self.current_day)
        ordered = r.alive & (u < p_order)
        idx = np.flatnonzero(ordered)
        supply = 0.7 if self.shortage_weeks_left > 0 else 1.0
        value = (
            r.base_value[idx]
            * season
            * supply
            * np.exp(VALUE_ELASTICITY * (r.health[idx] - r.health0[idx]) + 0.2 * z[idx] - 0.02)
        )
        if cfg.ordering != "weekly":
            value = value * RHYTHM_WEEKS[r.rhythm[idx]]  # one order covers its weeks
        amount = np.round(value, 2)
        quantity = np.maximum(1.0, np.round(amount / r.price[idx]))
        brands = np.maximum(1, np.round(r.breadth[idx] * (0.8 + 0.2 * u[idx] / p_order[idx])))
        premium = np.clip(r.premium[idx] + 0.05 * z[idx], 0, 1)
        observed = np.zeros(len(r))
        observed[idx] = amount
        r.seen_value = np.where(r.alive, 0.75 * r.seen_value + 0.25 * observed, r.seen_value)
        r.seen_baseline = np.where(
            r.alive, 0.96 * r.seen_baseline + 0.04 * observed, r.seen_baseline
        )
        self._add(
            "records",
            "orders",
            {
                "retailer": idx.astype(np.int32),
                "order_date": (self.current_day + r.order_dow[idx].astype(np.int64)).astype(
                    np.int32
                ),
                "quantity": quantity.astype(np.float32),
                "amount": amount.astype(np.float64),
                "brand_count": brands.astype(np.int16),
                "premium_share": np.round(premium, 3).astype(np.float32),
            },
        )

    def _surveys(self, u: np.ndarray, z: np.ndarray) -> None:
        r, m = self.retailers, self.managers
        asked = r.alive & (u < self.config.survey_rate)
        idx = np.flatnonzero(asked)
        if not len(idx):
            return
        comm = m.skills[r.manager[idx], SKILL["communication"]]
        recency = np.minimum(self.week - r.last_visit_week[idx], 12)
        latent = (
            3.4
            + (comm - 60) / 20
            + 0.35 * np.tanh(r.health[idx])
            - 0.6 * np.minimum(r.grievance[idx], 2)
            - 0.05 * recency
            + 0.6 * z[idx]
        )
        self._add(
            "records",
            "surveys",
            {
                "retailer": idx.astype(np.int32),
                "surveyed_on": np.full(len(idx), self.current_day + 3, dtype=np.int32),
                "satisfaction": np.clip(np.round(latent), 1, 5).astype(np.int8),
            },
        )

    # ------------------------------------------------------------------ persistence
    def _add(self, kind: str, table: str, columns: dict[str, np.ndarray]) -> None:
        getattr(self, kind).setdefault(table, []).append(columns)

    def _record_static(self) -> None:
        self._record_retailers(np.arange(len(self.retailers)))

    def _record_retailers(self, index: np.ndarray) -> None:
        self._add("records", "new_retailers", {"retailer": index.astype(np.int32)})

    def clone(self) -> Territory:
        """An independent copy (state and random stream) to run a different plan on."""
        return copy.deepcopy(self)

    def save(self, path: Path) -> Path:
        """Persist the whole state (records not yet exported included), atomically."""
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)
        return Path(path)

    @staticmethod
    def load(path: Path) -> Territory:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no saved territory (run `fieldcoach simulate`)")
        with open(path, "rb") as fh:
            territory = _StateUnpickler(fh).load()
        if not isinstance(territory, Territory):
            raise UserInputError(f"{path}: not a saved territory")
        return territory

    def describe(self) -> dict[str, Any]:
        config = asdict(self.config)
        if config.get("scenario") == "default":
            del config["scenario"]  # the default story's files stay as they were
        if config["ordering"] == "weekly":
            del config["ordering"]  # the default; keeps weekly territories' params as they were
        return {
            "config": config,
            "week": self.week,
            "date": str(self.current_date),
            "replayable": self.replayable,
        }
