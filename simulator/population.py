"""Who is in a simulated territory: its configuration, retailers and customer managers.

``create_retailers`` and ``create_managers`` draw a new population from the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import FORMATS, SKILLS
from features.errors import UserInputError
from simulator.catalogue import CATALOGUE
from simulator.rules import (
    FORMAT_SHARE,
    FORMAT_VALUE,
    HEALTH_MEAN,
    HEALTH_SD,
    ORDERINGS,
    RHYTHM_SHARE,
    RHYTHMS,
)
from simulator.scenarios import (
    get_scenario,
)


@dataclass(frozen=True)
class SimulationConfig:
    """Size and defaults of a simulated company (see docs/simulator.md)."""

    n_retailers: int = 2000
    n_managers: int = 10
    start: str = "2024-01-01"
    seed: int = 0
    managers_per_team: int = 8
    days_per_week: int = 5
    visit_cycle_weeks: tuple[int, int] = (2, 4)
    new_retailer_rate: float = 0.0012  # new licences a week, as a share of the initial count
    assessment_every_weeks: int = 26
    training_rate: float = 0.03  # chance a manager completes a course in a given week
    survey_rate: float = 1 / 26  # chance a retailer answers a survey in a given week
    shortage_rate: float = 0.03  # chance a supply shortage starts in a given week
    horizon_weeks: int = 8  # horizon of the true visit effect written to the truth
    record_truth: bool = True
    scenario: str = "default"  # the causal story (simulator/scenarios.py)
    ordering: str = "weekly"  # or "irregular": weekly, fortnightly, monthly, sporadic buyers

    def __post_init__(self) -> None:
        get_scenario(self.scenario)
        if self.ordering not in ORDERINGS:
            raise UserInputError(
                f"--ordering must be {' or '.join(ORDERINGS)}, got {self.ordering!r}"
            )
        start = pd.Timestamp(self.start)
        if start.weekday() != 0:
            raise UserInputError(f"--start {self.start} is a {start.day_name()}; give a Monday")
        if self.n_retailers < self.n_managers:
            raise UserInputError("need at least one retailer per manager")


@dataclass
class RetailerStates:
    """Per-retailer state, the truth included; arrays grow as new retailers open. (The
    company's ``retailers`` table is ``features.contract.Retailers``.)"""

    manager: np.ndarray
    format: np.ndarray
    urban: np.ndarray
    grade: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    licensed_on: np.ndarray  # days since epoch
    expires_on: np.ndarray  # days since epoch, -1 for none
    order_dow: np.ndarray
    cycle: np.ndarray
    base_value: np.ndarray
    price: np.ndarray  # yuan per carton at the retailer's usual mix
    premium: np.ndarray
    health0: np.ndarray
    health: np.ndarray
    decline: np.ndarray
    grievance: np.ndarray
    breadth: np.ndarray
    breadth_target: np.ndarray
    alive: np.ndarray
    exited_week: np.ndarray
    exit_reason: np.ndarray  # index into EXIT_REASONS
    last_visit_week: np.ndarray
    last_complaint_week: np.ndarray
    seen_value: np.ndarray  # what a manager sees: recent order value (EWMA over ~4 weeks)
    seen_baseline: np.ndarray  # and its own long-run level (EWMA over ~26 weeks)
    rhythm: np.ndarray  # index into RHYTHMS (all weekly unless ordering is irregular)
    rhythm_phase: np.ndarray  # which week of its cycle a fortnightly/monthly buyer orders in

    def __len__(self) -> int:
        return len(self.manager)

    def extend(self, other: RetailerStates) -> None:
        for name, values in vars(other).items():
            setattr(self, name, np.concatenate([getattr(self, name), values]))


@dataclass
class ManagerStates:
    """Per-manager state: true skills and capacity, what the company last measured. (The
    company's ``managers`` table is ``features.contract.Managers``.)"""

    team: np.ndarray
    hired_on: np.ndarray
    capacity: np.ndarray
    home_lat: np.ndarray
    home_lon: np.ndarray
    skills: np.ndarray  # (managers, skills), true level 0-100
    assessment_offset: np.ndarray
    completed: np.ndarray  # (managers, courses) week of last completion, -1 if never
    latest_scores: np.ndarray  # (managers, skills) what the company last measured, NaN before

    def __len__(self) -> int:
        return len(self.team)


def create_managers(
    config: SimulationConfig, rng: np.random.Generator, start: int
) -> ManagerStates:
    n = config.n_managers
    tenure_years = rng.uniform(0.3, 12, n)
    ability = rng.standard_normal(n)
    skills = (
        48
        + 2.0 * np.minimum(tenure_years, 8)[:, None]
        + 7 * ability[:, None]
        + 9 * rng.standard_normal((n, len(SKILLS)))
    )
    grid = int(np.ceil(np.sqrt(n)))
    home_lat = 30.0 + 0.12 * (np.arange(n) // grid) + rng.normal(0, 0.01, n)
    home_lon = 120.0 + 0.12 * (np.arange(n) % grid) + rng.normal(0, 0.01, n)
    return ManagerStates(
        team=(np.arange(n) // config.managers_per_team).astype(np.int32),
        hired_on=(start - tenure_years * 365.25).astype(np.int64),
        capacity=np.zeros(n, dtype=np.int32),
        home_lat=home_lat,
        home_lon=home_lon,
        skills=np.clip(skills, 10, 95),
        assessment_offset=rng.integers(0, config.assessment_every_weeks, n),
        completed=np.full((n, len(CATALOGUE)), -1, dtype=np.int64),
        latest_scores=np.full((n, len(SKILLS)), np.nan),
    )


def create_retailers(
    config: SimulationConfig,
    rng: np.random.Generator,
    managers: ManagerStates,
    count: int,
    today: int,
    initial: bool,
) -> RetailerStates:
    n_mgr = len(managers)
    manager = np.sort(np.arange(count) % n_mgr) if initial else rng.integers(0, n_mgr, count)
    fmt = rng.choice(len(FORMATS), size=count, p=FORMAT_SHARE)
    urban = rng.random(count) < 0.6
    grade = np.clip(np.round(rng.normal(14, 6, count) + 3 * urban), 1, 30).astype(np.int16)
    spread = np.where(urban, 0.025, 0.06)
    lat = managers.home_lat[manager] + rng.normal(0, 1, count) * spread
    lon = managers.home_lon[manager] + rng.normal(0, 1, count) * spread
    age_days = rng.uniform(60, 15 * 365, count) if initial else np.zeros(count)
    licensed_on = (today - age_days).astype(np.int64)
    expires = np.where(rng.random(count) < 0.01, today + rng.integers(30, 900, count), -1).astype(
        np.int64
    )
    base_value = (
        np.exp(rng.normal(np.log(900), 0.45, count))
        * (0.55 + grade / 20)
        * FORMAT_VALUE[fmt]
        * np.where(urban, 1.15, 0.85)
    )
    premium = np.clip(rng.beta(2, 5, count) + grade / 100, 0, 1)
    health0 = rng.normal(HEALTH_MEAN, HEALTH_SD, count) - (0 if initial else 0.4)
    breadth_target = np.clip(4 + grade / 3 + 3 * (fmt == 1) + rng.normal(0, 1.5, count), 3, 25)
    breadth = breadth_target * rng.uniform(0.5, 1.0, count)
    lo, hi = config.visit_cycle_weeks
    cycle = np.where(grade >= 20, lo, rng.integers(lo, hi + 1, count)).astype(np.int16)
    rhythm = np.zeros(count, dtype=np.int8)
    phase = np.zeros(count, dtype=np.int8)
    if config.ordering == "irregular":
        # Its own stream, so the rest of the territory is the one weekly ordering gives.
        own = np.random.default_rng([config.seed, 1009, today, count])
        rhythm = own.choice(len(RHYTHMS), size=count, p=RHYTHM_SHARE).astype(np.int8)
        phase = own.integers(0, 4, count).astype(np.int8)
    return RetailerStates(
        manager=manager.astype(np.int64),
        format=fmt.astype(np.int8),
        urban=urban,
        grade=grade,
        lat=lat,
        lon=lon,
        licensed_on=licensed_on,
        expires_on=expires,
        order_dow=rng.integers(0, 5, count).astype(np.int8),
        cycle=cycle,
        base_value=base_value,
        price=110 + 300 * premium,
        premium=premium,
        health0=health0,
        health=health0.copy(),
        decline=np.zeros(count),
        grievance=np.zeros(count),
        breadth=breadth,
        breadth_target=breadth_target,
        alive=np.ones(count, dtype=bool),
        exited_week=np.full(count, -1, dtype=np.int64),
        exit_reason=np.zeros(count, dtype=np.int8),
        last_visit_week=-rng.integers(0, hi + 1, count).astype(np.int64)
        if initial
        else np.full(count, -99, dtype=np.int64),
        last_complaint_week=np.full(count, -99, dtype=np.int64),
        seen_value=base_value.copy(),
        seen_baseline=base_value.copy(),
        rhythm=rhythm,
        rhythm_phase=phase,
    )
