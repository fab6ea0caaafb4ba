"""Drawings for the pages, computed on the server as SVG coordinates: no tile server, no JS.

The route map projects latitude/longitude onto a plane (longitude shrunk by the cosine of
the mean latitude, so a kilometre east is as long as a kilometre north) and fits it into
the drawing with a margin; each day is one polyline in route order.
"""

from __future__ import annotations

import math
from typing import Any

DAY_COLOURS = ("#1b6ca8", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#16a085", "#7f8c8d")
MAP_WIDTH, MAP_HEIGHT, MAP_MARGIN = 600.0, 400.0, 24.0


def route_map(visits: list[dict[str, Any]]) -> dict[str, Any]:
    """Points and one polyline per day for the plan's visits (each with lat, lon, date, stop).

    Returns:
        ``width``/``height`` of the drawing, ``days`` (date, colour, ``points`` string of the
        polyline and its ``stops``, each with x, y, stop number and retailer id).
    """
    located = [v for v in visits if _finite(v.get("lat")) and _finite(v.get("lon"))]
    if not located:
        return {"width": MAP_WIDTH, "height": MAP_HEIGHT, "days": []}
    mean_lat = sum(v["lat"] for v in located) / len(located)
    shrink = math.cos(math.radians(mean_lat))
    xs = [v["lon"] * shrink for v in located]
    ys = [v["lat"] for v in located]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    scale = min(MAP_WIDTH - 2 * MAP_MARGIN, MAP_HEIGHT - 2 * MAP_MARGIN) / span
    # Centre the territory in the drawing.
    x0 = (MAP_WIDTH - (max(xs) - min(xs)) * scale) / 2
    y0 = (MAP_HEIGHT - (max(ys) - min(ys)) * scale) / 2
    by_day: dict[str, list[dict[str, Any]]] = {}
    for v, x, y in zip(located, xs, ys, strict=True):
        stop = {
            "x": round(x0 + (x - min(xs)) * scale, 1),
            # North is up: larger latitude, smaller y.
            "y": round(y0 + (max(ys) - y) * scale, 1),
            "stop": int(v.get("stop") or 0),
            "retailer_id": v["retailer_id"],
        }
        by_day.setdefault(str(v["date"]), []).append(stop)
    days = []
    for i, date in enumerate(sorted(by_day)):
        stops = sorted(by_day[date], key=lambda s: s["stop"])
        days.append(
            {
                "date": date,
                "colour": DAY_COLOURS[i % len(DAY_COLOURS)],
                "points": " ".join(f"{s['x']},{s['y']}" for s in stops),
                "stops": stops,
            }
        )
    return {"width": MAP_WIDTH, "height": MAP_HEIGHT, "days": days}


def bar_chart(
    values: list[float], width: float = 320.0, height: float = 120.0
) -> list[dict[str, float]]:
    """Bars (x, y, w, h) for non-negative values, scaled to the largest, baseline at the foot."""
    if not values:
        return []
    top = max(max(values), 1e-9)
    gap = 2.0
    bar = (width - gap * (len(values) - 1)) / len(values)
    bars = []
    for i, value in enumerate(values):
        h = max(0.0, value) / top * (height - 4)
        bars.append(
            {
                "x": round(i * (bar + gap), 1),
                "y": round(height - h, 1),
                "w": round(bar, 1),
                "h": round(h, 1),
            }
        )
    return bars


def gap_colour(gap: float, worst: float) -> str:
    """White for no gap to a deep orange for the team's largest gap (text stays readable)."""
    share = 0.0 if worst <= 0 else min(max(gap / worst, 0.0), 1.0)
    red, green, blue = 255, round(255 - 150 * share), round(255 - 210 * share)
    return f"#{red:02x}{green:02x}{blue:02x}"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)
