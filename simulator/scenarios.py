"""Causal stories the simulator can tell: ``default`` and ``contested``.

A planner developed against one simulated world can be right for the wrong reasons. A
scenario changes the parts of the story where real territories plausibly differ, so that
the same pipeline can be checked in a world its models were not tuned on:

- whose visits help and why (which needs a visit meets, which purposes match them);
- what drives managers' historical choices (the data the visit-effect model learns from);
- how a manager's skill scales a visit;
- where declines come from (here: a competitor whose pressure varies smoothly over space).

``default`` is the story of ``docs/simulator.md`` and leaves every code path as it was
(the same seed gives byte-identical data). ``contested`` is described there too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.errors import UserInputError

DEFAULT_PURPOSES = {
    "decline": ("order_decline_followup", "business_guidance"),
    "grievance": ("complaint_recovery",),
    "guidance": ("business_guidance", "order_decline_followup"),
    "breadth": ("brand_cultivation",),
    "relationship": ("relationship_maintenance", "onboarding"),
}


@dataclass(frozen=True)
class Scenario:
    """The knobs of a causal story; the defaults are the default story's."""

    name: str = "default"
    purposes: dict[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_PURPOSES)
    # How skill (0-1) scales a visit: None is linear; (centre, width) a logistic threshold,
    # below which a visit achieves little whatever its purpose.
    skill_threshold: tuple[float, float] | None = None
    # A visit soon after the last one adds less: effect x min(1, weeks since / this).
    saturation_weeks: float = 0.0
    guidance_scale: float = 1.0
    # Relationship lift grows with grade (default) or with how small the shop is.
    relationship_favours_small: bool = False
    # Competitor pressure (0-1, smooth over space) multiplies the decline onset hazard by
    # (1 + competition * pressure); 0 switches the competitor off.
    competition: float = 0.0
    competitor_hotspots: int = 0
    competitor_reach_deg: float = 0.15
    # Current practice: extra rotation priority for the biggest shops (per quantile of
    # value), for shops near the manager's home (per spread of the territory), and a
    # multiplier on the chance a manager notices a decline in the orders.
    practice_value_priority: float = 0.0
    practice_near_home_priority: float = 0.0
    practice_notice_scale: float = 1.0

    def skill(self, s: np.ndarray) -> np.ndarray:
        if self.skill_threshold is None:
            return s
        centre, width = self.skill_threshold
        return 1.0 / (1.0 + np.exp(-(s - centre) / width))


SCENARIOS = {
    "default": Scenario(),
    "contested": Scenario(
        name="contested",
        # Declines here are mostly shoppers lost to a competitor: placing brands it does
        # not carry wins them back as much as a follow-up does; guidance matters less.
        purposes={
            **DEFAULT_PURPOSES,
            "decline": ("order_decline_followup", "brand_cultivation"),
        },
        skill_threshold=(0.55, 0.07),
        saturation_weeks=3.0,
        guidance_scale=0.5,
        relationship_favours_small=True,
        competition=2.5,
        competitor_hotspots=4,
        practice_value_priority=2.0,
        practice_near_home_priority=1.0,
        practice_notice_scale=0.4,
    ),
}


def get_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise UserInputError(
            f"--scenario {name!r}: unknown; choose one of {', '.join(sorted(SCENARIOS))}"
        )
    return SCENARIOS[name]


def competitor_pressure(
    scenario: Scenario, seed: int, home_lat: np.ndarray, home_lon: np.ndarray
) -> np.ndarray | None:
    """Hotspot centres and strengths of the competitor, drawn from their own random stream
    (the territory's stream, and so the default story's data, is untouched)."""
    if scenario.competition <= 0 or scenario.competitor_hotspots <= 0:
        return None
    rng = np.random.default_rng([seed, 7919])
    lat = rng.uniform(home_lat.min() - 0.05, home_lat.max() + 0.05, scenario.competitor_hotspots)
    lon = rng.uniform(home_lon.min() - 0.05, home_lon.max() + 0.05, scenario.competitor_hotspots)
    strength = rng.uniform(0.5, 1.0, scenario.competitor_hotspots)
    return np.stack([lat, lon, strength], axis=1)


def pressure_at(scenario: Scenario, hotspots: np.ndarray, lat, lon) -> np.ndarray:
    """Competitor pressure 0-1 at each location: the strongest nearby hotspot's pull."""
    reach = scenario.competitor_reach_deg
    d2 = (np.asarray(lat)[:, None] - hotspots[None, :, 0]) ** 2 + (
        np.asarray(lon)[:, None] - hotspots[None, :, 1]
    ) ** 2
    return np.max(hotspots[None, :, 2] * np.exp(-d2 / (2 * reach**2)), axis=1)
