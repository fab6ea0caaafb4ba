"""Feedback reaches the plan: "not now" rejections leave a retailer out for a while, done
visits count for the minimum gap and the frequency rule, and the notes say so."""

from __future__ import annotations

import pandas as pd
import pytest

from planning.feedback import build_feedback, not_now_period
from planning.plan import plan_manager
from planning.week import Models, prepare_week


@pytest.mark.parametrize(
    ("reason", "kind", "days"),
    [
        ("店铺装修，暂停营业", "closed", 28),
        ("shop closed for renovation", "closed", 28),
        ("店主不在", "owner_away", 7),
        ("老板回老家过年", "holiday", 14),
        ("客户不需要", None, None),
        (None, None, None),
    ],
)
def test_reasons_that_mean_not_now(reason, kind, days):
    found = not_now_period(reason)
    assert (found[0], found[1]) == (kind, days) if kind else found is None


def test_periods_from_the_reason_the_planner_or_the_week():
    decisions = [
        {"retailer_id": "A", "week": "2026-W01", "decision": "reject", "reason": "暂停营业"},
        {"retailer_id": "B", "week": "2026-W01", "decision": "reject", "reason": "不需要"},
        {"retailer_id": "C", "week": "2026-W01", "decision": "reject", "until": "2026-03-02"},
        {"retailer_id": "D", "week": "2026-W01", "decision": "reject", "reason": "店主不在"},
        {"retailer_id": "D", "week": "2026-W01", "decision": "accept"},  # changed their mind
    ]
    feedback = build_feedback(decisions, [])
    until = feedback.excluded_until()["until"].dt.date.astype(str).to_dict()
    assert until == {"A": "2026-01-26", "B": "2026-01-05", "C": "2026-03-02"}


@pytest.fixture(scope="module")
def context(new_year_tables):
    return prepare_week(new_year_tables, "2026-W01", Models())


@pytest.fixture(scope="module")
def manager(new_year_tables):
    return sorted(new_year_tables["managers"]["manager_id"])[0]


def test_a_shop_closed_for_works_leaves_this_and_next_weeks_plans(
    context, manager, new_year_tables
):
    plan = plan_manager(context, manager, language="zh", solution_limit=10)
    top = plan["visits"][0]["retailer_id"]
    feedback = build_feedback(
        [
            {
                "retailer_id": top,
                "week": "2026-W01",
                "decision": "reject",
                "reason": "店铺装修，暂停营业",
            }
        ],
        [],
    )
    again = plan_manager(context, manager, language="zh", solution_limit=10, feedback=feedback)
    assert top not in {v["retailer_id"] for v in again["visits"]}
    assert any(top in n and "暂停营业" in n and "2026-01-26" in n for n in again["notes"])
    later = prepare_week(new_year_tables, "2026-W02", Models())
    next_week = plan_manager(later, manager, solution_limit=10, feedback=feedback)
    assert top not in {v["retailer_id"] for v in next_week["visits"]}
    assert any(top in n and "closed for now" in n for n in next_week["notes"])


def test_a_done_visit_counts_for_the_gap_and_the_frequency_rule(context, manager):
    rule = 28
    plan = plan_manager(
        context, manager, solution_limit=10, max_days_between_visits=rule, capacity=80
    )
    due = [v["retailer_id"] for v in plan["visits"] if v["due"]]
    assert due, "the territory needs retailers falling due for this test"
    visited = "2025-12-27"  # a Saturday, two days before the plan's Monday
    feedback = build_feedback(
        [], [{"retailer_id": r, "visit_date": visited, "done": True} for r in due]
    )
    again = plan_manager(
        context,
        manager,
        solution_limit=10,
        max_days_between_visits=rule,
        capacity=80,
        feedback=feedback,
    )
    planned = {v["retailer_id"]: v for v in again["visits"]}
    for retailer in due:
        # Within 7 days of the done visit: not before 2026-01-03, so not in this week's
        # working days (Mon-Wed, then Sunday the 4th is 8 days on) except that Sunday.
        if retailer in planned:
            visit = planned[retailer]
            assert visit["date"] >= "2026-01-03" and not visit["due"]
            assert (
                visit["days_since_last_visit"]
                == (pd.Timestamp(visit["date"]) - pd.Timestamp(visited)).days
            )
    assert sum(r in planned for r in due) < len(due)
    assert any(due[0] in n and visited in n for n in again["notes"])
