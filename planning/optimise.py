"""One manager's week as one optimisation: value saved against the time and roads it costs.

A vehicle-routing model (OR-Tools): each working day is a route from the manager's base
and back; each candidate retailer is an optional stop whose drop penalty is the value a
visit is expected to save, so the solver visits a retailer only when that value beats the
detour. Visits per day, working minutes per day, and the minimum gap since the last visit
(a retailer may only be placed on days far enough from it) are constraints of the same
model, not a ranking followed by a router that ignores value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from features.errors import UserInputError

EARTH_KM = 6371.0
CENTS = 100  # OR-Tools works in integers: value and cost in fen


# A simple ranking's score, scaled to yuan by one factor, is not worth trading against
# kilometres: the self-check valued visiting its capacity-many best, so plans by a simple
# ranking route those (and the week's due stops) instead of twice as many. Ranked by churn
# probability, the policy evaluation's planner kept +13,546 yuan beyond rotation with the
# wider pool and +15,473 with this one, against +16,051 for visiting the top by churn
# probability (tests/evaluation/test_policy.py's territory, 3 weeks x 2 seeds).
RANKED_POOL_FACTOR = 1.0


@dataclass(frozen=True)
class PlanRules:
    """What a week may hold. Defaults follow the simulated company's practice."""

    capacity: int = 60  # visits in the week
    days: int = 5
    min_gap_days: int = 7  # no retailer twice within this many days
    service_minutes: float = 25.0
    day_minutes: float = 480.0
    speed_kmh: float = 25.0
    cost_per_km: float = 0.5  # yuan of expected value a kilometre of driving is worth (fuel)
    time_limit_s: float = 0.8
    # Only the best `pool_factor` x capacity candidates by expected benefit enter the
    # routing model. With every retailer of a territory in it (300 stops for 60 visits) the
    # solver spent its time limit on stops it would drop anyway and, at 0.3 s, kept 80-86%
    # of the benefit of the best capacity-many; with twice the capacity it keeps 98-99%.
    pool_factor: float = 2.0
    # Stop after this many improving solutions (time_limit_s still caps the search). A
    # time limit alone makes plans depend on the machine's load; a solution count makes
    # the same data give the same plan, which evaluations need to be re-checked.
    solution_limit: int | None = None
    # Fill the week: every stop is worth the longest round trip from the base on top of its
    # benefit, so the solver leaves capacity unused only when the days cannot hold more;
    # which retailers fill it is still decided by benefit against the detour. A manager's
    # week is paid for either way, and an unused visit saves nothing.
    fill_capacity: bool = True
    # Guided local search escapes local optima but never stops on its own, so under a
    # solution limit it may run on to the time cap when improvements dry up (a plan then
    # depends on the machine's load). Plain greedy descent stops at its local optimum or at
    # the solution limit, whichever comes first: the same plan on every run. Measured on
    # 300 candidates for 60 visits: 100 solutions keep 97.7-98.8% of the best stops'
    # benefit with either; the policy evaluation keeps guided search at 200 solutions.
    guided_search: bool = False

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise UserInputError(f"--capacity must be at least 1 (got {self.capacity})")
        if not 1 <= self.days <= 7:
            raise UserInputError(f"--days must be between 1 and 7 (got {self.days})")

    @property
    def per_day(self) -> list[int]:
        base, extra = divmod(self.capacity, self.days)
        return [base + (1 if d < extra else 0) for d in range(self.days)]


@dataclass
class WeekPlan:
    visits: pd.DataFrame  # one row per planned visit: day, stop, km from previous stop...
    days: list[dict] = field(default_factory=list)
    dropped: int = 0
    objective: float = 0.0
    solver_status: str = ""
    eligible: int = 0  # candidates the week could hold (minimum gap kept, benefit > 0)
    time_capped: bool = False  # the solver hit its time cap before the solution limit


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _mandatory(candidates: pd.DataFrame) -> np.ndarray:
    if "mandatory" in candidates:
        return candidates["mandatory"].to_numpy(bool)
    return np.zeros(len(candidates), bool)


def _candidate_pool(eligible: pd.DataFrame, rules: PlanRules) -> pd.DataFrame:
    """The candidates worth routing: mandatory stops and the best by expected benefit."""
    size = max(rules.capacity, int(np.ceil(rules.pool_factor * rules.capacity)))
    if len(eligible) <= size:
        return eligible
    mandatory = _mandatory(eligible)
    best = eligible["expected_benefit"].rank(method="first", ascending=False) <= size
    return eligible[mandatory | best.to_numpy()]


def plan_week(candidates: pd.DataFrame, base: tuple[float, float], rules: PlanRules) -> WeekPlan:
    """Choose and route the week's visits.

    Args:
        candidates: one row per retailer with ``retailer_id``, ``lat``, ``lon``,
            ``expected_benefit`` (yuan the visit is expected to save) and ``earliest_day``
            (0-based first day the minimum gap allows; > days - 1 means not this week).
            Optional ``mandatory`` (bool) rows must be visited if feasible.
        base: where the manager's days start and end (lat, lon).
    """
    worth = candidates["expected_benefit"] >= 0 if rules.fill_capacity else None
    if worth is None:
        worth = candidates["expected_benefit"] > 0
    eligible = candidates[(candidates["earliest_day"] < rules.days) & worth]
    eligible_count = len(eligible)
    eligible = _candidate_pool(eligible, rules).reset_index(drop=True)
    if eligible.empty:
        return WeekPlan(
            visits=eligible.assign(day=[], stop=[], km_from_previous=[]),
            days=[{"day": d, "stops": 0, "km": 0.0} for d in range(rules.days)],
        )
    lat = np.concatenate([[base[0]], eligible["lat"].to_numpy(float)])
    lon = np.concatenate([[base[1]], eligible["lon"].to_numpy(float)])
    km = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    travel_minutes = km / rules.speed_kmh * 60
    cost = np.round(km * rules.cost_per_km * CENTS).astype(np.int64)
    minutes = np.round(travel_minutes + rules.service_minutes).astype(np.int64)
    minutes[:, 0] = np.round(travel_minutes[:, 0]).astype(np.int64)  # no service at base

    n = len(eligible) + 1
    manager = pywrapcp.RoutingIndexManager(n, rules.days, 0)
    routing = pywrapcp.RoutingModel(manager)

    # Node-indexed matrices, read by the solver itself: the same costs as Python callbacks
    # (so the same plans), without a Python call per arc (a third of a plan's time).
    demand = [0] + [1] * (n - 1)
    routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(cost.tolist()))
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitVector(demand), 0, rules.per_day, True, "visits"
    )
    routing.AddDimension(
        routing.RegisterTransitMatrix(minutes.tolist()), 0, int(rules.day_minutes), True, "time"
    )
    penalty = np.round(eligible["expected_benefit"].to_numpy(float) * CENTS).astype(np.int64)
    if rules.fill_capacity:
        penalty += int(2 * cost[0].max()) + 1
    mandatory = _mandatory(eligible)
    earliest = eligible["earliest_day"].to_numpy(int)
    for node in range(1, n):
        index = manager.NodeToIndex(node)
        weight = int(penalty[node - 1]) + (10**9 if mandatory[node - 1] else 0)
        routing.AddDisjunction([index], weight)
        first = max(0, int(earliest[node - 1]))
        if first > 0:
            routing.SetAllowedVehiclesForIndex(list(range(first, rules.days)), index)

    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic
    search.local_search_metaheuristic = (
        metaheuristic.GUIDED_LOCAL_SEARCH if rules.guided_search else metaheuristic.GREEDY_DESCENT
    )
    search.time_limit.FromMilliseconds(int(rules.time_limit_s * 1000))
    if rules.solution_limit is not None:
        search.solution_limit = rules.solution_limit
    started = time.perf_counter()
    solution = routing.SolveWithParameters(search)
    # Under the solution limit the search is deterministic; only the cap can cut it short,
    # and then the plan may depend on the machine's load, which the caller must say.
    time_capped = time.perf_counter() - started >= 0.98 * rules.time_limit_s
    if solution is None and time_capped:
        # The cap came before even a first solution (an overloaded machine): an empty week
        # that says so, rather than an error.
        return WeekPlan(
            visits=eligible.iloc[:0].assign(day=[], stop=[], km_from_previous=[]),
            days=[{"day": d, "stops": 0, "km": 0.0} for d in range(rules.days)],
            dropped=eligible_count,
            eligible=eligible_count,
            time_capped=True,
        )
    if solution is None:
        raise RuntimeError("the routing solver found no plan")

    rows, days = [], []
    for day in range(rules.days):
        index = routing.Start(day)
        previous, stop, total = 0, 0, 0.0
        while not routing.IsEnd(index := solution.Value(routing.NextVar(index))):
            node = manager.IndexToNode(index)
            leg = float(km[previous, node])
            total += leg
            stop += 1
            rows.append({"row": node - 1, "day": day, "stop": stop, "km_from_previous": leg})
            previous = node
        back = float(km[previous, 0]) if stop else 0.0
        days.append(
            {
                "day": day,
                "stops": stop,
                "km": round(total + back, 2),
                "km_back_to_base": round(back, 2),
            }
        )
    placed = pd.DataFrame(rows, columns=["row", "day", "stop", "km_from_previous"])
    visits = eligible.iloc[placed["row"].to_numpy()].reset_index(drop=True)
    visits[["day", "stop", "km_from_previous"]] = placed[["day", "stop", "km_from_previous"]]
    visits["km_from_previous"] = visits["km_from_previous"].round(2)
    return WeekPlan(
        visits=visits,
        days=days,
        dropped=eligible_count - len(visits),
        objective=solution.ObjectiveValue() / CENTS,
        solver_status=str(routing.status()),
        eligible=eligible_count,
        time_capped=time_capped,
    )
