"""What a person reads, in their language: every reason, purpose, note and CSV header on a
trained territory, Chinese free of English words, English free of raw feature names."""

from __future__ import annotations

import csv
import io
import re

import pytest

# Ids (R0000123, M0003, T00), units and brand codes may stay in Latin letters.
ALLOWED = re.compile(r"\b[A-Z]{1,3}\d+\b|\bkm\b|\bkg\b|\b\d+(\.\d+)?h\b")
RAW = re.compile(r"\b[a-z]+(_[a-z0-9]+)+\b|\b\d+w\b|unusual|异常")


def english_words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", ALLOWED.sub("", text))


def raw_feature_names(text: str) -> list[str]:
    """Identifiers like brands_per_order_26w, or names read out as "... 26w"."""
    return [m.group(0) for m in RAW.finditer(text)]


def _h(keys, role: str, language: str | None = None) -> dict[str, str]:
    headers = {"X-API-Key": keys[role]}
    if language:
        headers["Accept-Language"] = language
    return headers


@pytest.fixture(scope="module")
def plans(client, keys):
    """Every manager's plan in both languages."""
    out = {}
    for language in ("zh", "en"):
        for i in range(6):
            response = client.get(
                f"/v1/managers/M{i:04d}/visit-plan", headers=_h(keys, "planner", language)
            )
            assert response.status_code == 200, response.text
            out[(language, f"M{i:04d}")] = response.json()
    return out


def test_every_chinese_text_in_the_plans_is_chinese(plans):
    checked = 0
    for (language, _), plan in plans.items():
        if language != "zh":
            continue
        assert plan["language"] == "zh"
        for visit in plan["visits"]:
            texts = [*visit["reasons"], visit["purpose_name"], visit["talking_point"]]
            for text in texts:
                assert not english_words(text), (visit["retailer_id"], text)
                checked += 1
            assert len(visit["reasons"]) >= 2, "the purpose's signal and the visit's value"
        for note in plan["notes"]:
            assert not english_words(note), note
    assert checked > 300


def test_no_reason_in_either_language_shows_a_feature_name(plans, client, keys):
    retailers = set()
    for plan in plans.values():
        for visit in plan["visits"]:
            retailers.add(visit["retailer_id"])
            for reason in visit["reasons"]:
                assert not raw_feature_names(reason), reason
    for retailer in sorted(retailers)[:60]:
        for language in ("zh", "en"):
            risk = client.get(
                f"/v1/retailers/{retailer}/risk", headers=_h(keys, "planner", language)
            ).json()
            for reason in risk["reasons"]:
                assert not raw_feature_names(reason), reason
                if language == "zh":
                    assert not english_words(reason), reason
            if risk["purpose"]:
                assert risk["purpose_name"] and risk["purpose_name"] != risk["purpose"]


def test_a_recovery_visit_names_its_complaint_and_a_follow_up_its_decline(plans):
    seen = set()
    for (language, _), plan in plans.items():
        for visit in plan["visits"]:
            first = visit["reasons"][0]
            if visit["purpose"] == "complaint_recovery" and language == "zh":
                assert re.search(r"\d{4}-\d{2}-\d{2}", first), first
                assert "投诉" in first or "满意度" in first, first
                seen.add("complaint")
            if visit["purpose"] == "order_decline_followup" and language == "en":
                assert re.search(r"\d+ weeks|\d+%", first), first
                seen.add("decline")
            assert any("yuan" in r or "元" in r for r in visit["reasons"])
    assert seen == {"complaint", "decline"}


def test_csv_is_in_route_order_with_chinese_headers_and_words(client, keys):
    response = client.get(
        "/v1/managers/M0001/visit-plan?format=csv&capacity=12&days=3",
        headers=_h(keys, "planner", "zh"),
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    header = list(rows[0])
    assert {"日期", "顺序", "客户编码", "拜访目的", "原因", "距上一站（公里）"} <= set(header)
    assert not any(english_words(h) for h in header)
    assert rows[0]["顺序"] == "0" and rows[0]["客户名称"] == "出发点"
    assert rows[-1]["客户名称"] == "返回出发点"
    keys_in_order = [(r["日期"], int(r["顺序"])) for r in rows]
    assert keys_in_order == sorted(keys_in_order), "rows follow the route, day by day"
    visits = [r for r in rows if r["客户编码"]]
    assert {r["频次规则必访"] for r in visits} <= {"是", "否"}
    assert all(not english_words(r["拜访目的"]) for r in visits)
    for r in visits:  # numbers rounded for people: whole yuan, no float noise
        assert re.fullmatch(r"-?\d+", r["预计挽回（元）"]), r["预计挽回（元）"]
        assert len(r["距上一站（公里）"].partition(".")[2]) <= 1


def test_models_csv_has_one_column_per_metric(client, keys):
    response = client.get("/v1/models?format=csv", headers=_h(keys, "data_scientist", "zh"))
    text = response.content.decode("utf-8-sig")
    assert "{" not in text, "no Python dict repr in a spreadsheet"
    assert "模型" in text.splitlines()[0]
