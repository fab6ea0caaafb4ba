"""The command line's summary lines of a plan, part of the catalogue in ``features.i18n``
(merged into its ``MESSAGES``; kept here so that module stays under 500 lines)."""

from __future__ import annotations

CLI_MESSAGES: dict[str, tuple[str, str]] = {
    "cli_plan_head": (
        "{manager} {week}（{monday}起）：安排{planned}次拜访（容量{capacity}次），"
        "预计挽回{benefit}元，共{km}公里",
        "{manager} {week} ({monday}): {planned} of {capacity} visits, expected benefit "
        "{benefit}, {km} km",
    ),
    "cli_plan_day": (
        "{date}：{visits}次拜访，{km}公里：{route}",
        "{date}: {visits} visits, {km} km: {route}",
    ),
    "cli_note": ("说明：{note}", "note: {note}"),
    "cli_team_head": (
        "团队{team} {week}：{managers}名客户经理，{visits}次拜访，预计挽回{benefit}元，共{km}公里",
        "team {team} {week}: {managers} managers, {visits} visits, expected benefit "
        "{benefit}, {km} km",
    ),
    "cli_team_manager": (
        "{manager}：{visits}次拜访，预计挽回{benefit}元，{km}公里",
        "{manager}: {visits} visits, benefit {benefit}, {km} km",
    ),
}
