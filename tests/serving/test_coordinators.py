"""Coordinators: every large gap gets a module or a stated reason; cohorts by course and by
team, labelled, with who was left out and why; no rationale for a skill a course won't move."""

from __future__ import annotations

import dataclasses
import re

import pytest

from features.skill_gaps import explain_gaps
from features.skill_plans import SkillsState, recommend_cohorts, recommend_training


def _h(keys, language: str = "en") -> dict[str, str]:
    return {"X-API-Key": keys["coordinator"], "Accept-Language": language}


@pytest.fixture(scope="module")
def state(client) -> SkillsState:
    return client.app.state.store.get("manager-skills").model.unwrap_python_model().state


def test_every_large_gap_gets_a_module_or_a_reason(client, keys, state):
    explained = set()
    for manager in state.managers():
        for language in ("zh", "en"):
            body = client.get(
                f"/v1/managers/{manager}/training?budget_hours=100", headers=_h(keys, language)
            ).json()
            top = max(state.manager_estimates(manager).values(), key=lambda r: r["priority"])
            if top["priority"] <= 0:  # every skill at its target: nothing to explain
                assert body["gaps"] == []
                continue
            assert body["gaps"][0]["skill"] == top["skill"], "the largest gap comes first"
            for gap in body["gaps"]:
                assert gap["text"] and (gap["modules"] or gap["reason"] != "covered")
                if gap["reason"] != "covered":
                    explained.add(gap["reason"])
                if language == "zh":
                    assert not re.search(r"[a-z]{2,}", gap["text"]), gap["text"]
            for module in body["modules"]:
                assert "+0.0" not in module["rationale"], module["rationale"]
                assert "_" not in module["rationale"], "skills in words, not codes"
    assert explained, "the territory should have at least one gap no module covers"


def test_a_gap_the_only_course_would_worsen_is_explained(state):
    """No course with a positive effect: the reason names the estimated effects."""
    manager = max(
        state.managers(),
        key=lambda m: max(r["priority"] for r in state.manager_estimates(m).values()),
    )
    rows = state.manager_estimates(manager)
    skill = max(rows.values(), key=lambda r: r["priority"])["skill"]
    fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    effects = [{**e, "effect": -3.0} if e["skill"] == skill else e for e in state.effects]
    worse = SkillsState(**{**fields, "effects": effects})
    plan = recommend_training(worse, manager, 1000)
    gap = next(g for g in explain_gaps(worse, manager, plan, 1000) if g["skill"] == skill)
    assert gap["reason"] == "no_effect" and "-3.0" in gap["en"] and gap["courses"]
    none = SkillsState(
        **{
            **fields,
            "catalogue": [c for c in state.catalogue if skill not in c["skills"]],
        }
    )
    gap = next(
        g
        for g in explain_gaps(none, manager, recommend_training(none, manager, 1000), 1000)
        if g["skill"] == skill
    )
    assert gap["reason"] == "no_course" and "目录中没有" in gap["zh"]


def test_cohorts_for_a_course_are_labelled_and_say_who_is_left_out(client, keys, state):
    course = state.catalogue[0]["course_id"]
    for min_size in (1, 50):
        sessions = client.get(
            f"/v1/cohorts?course_id={course}&min_size={min_size}&max_size=60",
            headers=_h(keys, "zh"),
        ).json()
        placed = [s for s in sessions if s["course_id"] is not None]
        assert all(s["course_id"] == course and course in s["label"] for s in placed)
        members = {m for s in placed for m in s["members"]}
        left = [x for s in sessions if s["course_id"] is None for x in s["left_out"]]
        assert members | {x["manager_id"] for x in left} == set(state.managers())
        assert all(x["text"] and re.search("[\u4e00-\u9fff]", x["text"]) for x in left)
        if min_size == 50:
            assert not placed and {x["reason"] for x in left} <= {
                "group_too_small",
                "not_this_course",
                "no_gap",
            }
    assert client.get("/v1/cohorts?course_id=NOPE", headers=_h(keys)).status_code == 404


def test_cohorts_by_team(client, keys, state):
    team = client.get("/v1/cohorts?team_id=T00&min_size=1", headers=_h(keys)).json()
    territory = client.app.state.territory
    members = set(territory.team_managers("T00"))
    seen = {m for s in team for m in s["members"]}
    assert seen and seen <= members
    assert client.get("/v1/cohorts?team_id=T99", headers=_h(keys)).status_code == 404
    default = recommend_cohorts(state, 1, 12)
    assert all(s["label"] for s in default)
