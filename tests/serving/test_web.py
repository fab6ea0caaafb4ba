"""The web workspace through TestClient: sign-in, sessions, CSRF, roles and team scoping,
the planner's, coordinator's and data scientist's pages and their writes."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from sqlalchemy import select, update

from planning.purpose import TALKING_POINTS
from serving.db import ApiKey, Feedback, utcnow
from serving.security import hash_key
from serving.web.charts import bar_chart, gap_colour, route_map
from serving.web.i18n import PURPOSES, check_catalogue
from serving.web.render import percent


def sign_in(app, key: str) -> TestClient:
    """A browser of its own (cookies apart) signed in with ``key``."""
    browser = TestClient(app, follow_redirects=False)
    form = browser.get("/app/signin")
    token = re.search(r'name="signin_token" value="([^"]+)"', form.text).group(1)
    answer = browser.post("/app/signin", data={"key": key, "signin_token": token})
    assert answer.status_code == 303, answer.text
    return browser


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def stored(client, **where) -> list[Feedback]:
    with client.app.state.sessions() as session:
        rows = session.scalars(select(Feedback).order_by(Feedback.id))
        return [r for r in rows if all(r.payload.get(k) == v for k, v in where.items())]


@pytest.fixture(scope="module")
def planner(client, keys):
    return sign_in(client.app, keys["planner_t00"])


def test_root_redirects_and_sign_in_page_is_chinese(client) -> None:
    browser = TestClient(client.app, follow_redirects=False)
    assert browser.get("/").headers["location"] == "/app"
    page = browser.get("/app")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert 'lang="zh-CN"' in page.text and "登录" in page.text
    assert browser.get("/app/plan").headers["location"].startswith("/app/signin?next=")


def test_session_cookie_is_httponly_samesite_and_expiring(client, keys) -> None:
    browser = TestClient(client.app, follow_redirects=False)
    token = re.search(r'value="([^"]+)"', browser.get("/app/signin").text).group(1)
    answer = browser.post("/app/signin", data={"key": keys["planner"], "signin_token": token})
    cookie = answer.headers["set-cookie"].lower()
    assert "fc_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "max-age=28800" in cookie and "path=/app" in cookie
    assert keys["planner"].lower() not in cookie  # the key itself never leaves the server


def test_unknown_key_and_forged_sign_in_are_refused(client, keys) -> None:
    browser = TestClient(client.app, follow_redirects=False)
    token = re.search(r'value="([^"]+)"', browser.get("/app/signin").text).group(1)
    wrong = browser.post("/app/signin", data={"key": "fc_nope", "signin_token": token})
    assert wrong.status_code == 401 and "密钥无效" in wrong.text
    other = TestClient(client.app, follow_redirects=False)  # no sign-in form cookie
    forged = other.post("/app/signin", data={"key": keys["planner"], "signin_token": "x"})
    assert forged.status_code == 303 and "fc_session" not in forged.headers.get("set-cookie", "")


def test_planner_sees_own_team_and_is_refused_elsewhere(planner, client) -> None:
    territory = client.app.state.territory
    mine, other = territory.team_managers("T00"), territory.team_managers("T01")
    team = planner.get("/app/plan/teams/T00")
    assert team.status_code == 200, team.text
    for manager in mine:
        assert f"/app/plan/managers/{manager}" in team.text
    assert "到期必访" in team.text and "容量使用" in team.text
    for path in (
        "/app/plan/teams/T01",
        f"/app/plan/managers/{other[0]}",
        f"/app/plan/managers/{other[0]}/plan.csv",
        "/app/models",
        "/app/skills",
    ):
        refused = planner.get(path)
        assert refused.status_code == 403, path
        assert "无权访问" in refused.text
    retailer = next(r for r, m in territory.manager_of_retailer.items() if m == other[0])
    assert planner.get(f"/app/plan/retailers/{retailer}").status_code == 403
    # A team-scoped key gets the same refusal for an id that does not exist as for one of
    # another team: the answer must not tell which ids exist (the API's rule too).
    unknown = planner.get("/app/plan/managers/M9999")
    assert unknown.status_code == 403 and "无权访问" in unknown.text


def test_manager_week_shows_ranked_visits_map_and_routes(planner, client) -> None:
    manager = client.app.state.territory.team_managers("T00")[0]
    page = planner.get(f"/app/plan/managers/{manager}")
    assert page.status_code == 200
    plan = client.app.state.territory.plan(manager)
    first = plan["visits"][0]
    assert f'id="visit-{first["retailer_id"]}"' in page.text
    assert page.text.count('class="visit"') == len(plan["visits"])
    assert "<svg" in page.text and "<polyline" in page.text
    assert "沟通要点" in page.text
    assert PURPOSES[first["purpose"]][0] in page.text  # the purpose's Chinese label
    assert TALKING_POINTS[first["purpose"]][0] in page.text


def test_accept_reject_done_are_stored_through_the_api_code(planner, client) -> None:
    manager = client.app.state.territory.team_managers("T00")[0]
    url = f"/app/plan/managers/{manager}"
    page = planner.get(url)
    visits = re.findall(r'data-retailer="([^"]+)"', page.text)
    week = re.search(r'name="week" value="([^"]+)"', page.text).group(1)
    csrf = csrf_of(page.text)
    base = {"csrf": csrf, "week": week, "next": url, "nonce": "n-test-1"}
    no_csrf = planner.post(f"{url}/feedback", data={**base, "csrf": "", "action": "accept"})
    assert no_csrf.status_code == 403
    ok = planner.post(
        f"{url}/feedback", data={**base, "action": "accept", "retailer_id": visits[0]}
    )
    assert ok.status_code == 303 and ok.headers["location"].startswith(url)
    again = planner.post(
        f"{url}/feedback", data={**base, "action": "accept", "retailer_id": visits[0]}
    )
    assert again.status_code == 303
    assert len(stored(client, retailer_id=visits[0], decision="accept")) == 1  # idempotent
    no_reason = {**base, "action": "reject", "retailer_id": visits[1], "nonce": "n-test-2"}
    assert planner.post(f"{url}/feedback", data=no_reason).status_code == 422
    planner.post(f"{url}/feedback", data={**no_reason, "reason": "店主不在"})
    date = re.search(r'name="date" value="([^"]+)"', page.text).group(1)
    done = {**base, "action": "done", "retailer_id": visits[2], "nonce": "n-3", "date": date}
    assert planner.post(f"{url}/feedback", data=done).status_code == 303
    (rejected,) = stored(client, retailer_id=visits[1], decision="reject")
    assert rejected.payload["reason"] == "店主不在" and rejected.kind == "decision"
    assert stored(client, retailer_id=visits[2], done=True)[0].kind == "outcome"
    after = planner.get(url).text
    planned = re.findall(r'data-retailer="([^"]+)"', after)
    # Feedback reaches the plan: the rejected shop is left out and the notes say why; the
    # visit reported done is the shop's last visit, so the minimum gap holds it back.
    assert visits[1] not in planned and "店主不在" in after
    assert visits[2] not in planned
    if visits[0] in planned:
        assert 'data-state="accept"' in after
    other = client.app.state.territory.team_managers("T01")[0]
    foreign = {**base, "action": "accept", "retailer_id": visits[0], "nonce": "n-4"}
    assert planner.post(f"/app/plan/managers/{other}/feedback", data=foreign).status_code == 403


def test_replan_with_capacity_and_days_and_csv(planner, client) -> None:
    manager = client.app.state.territory.team_managers("T00")[0]
    page = planner.get(f"/app/plan/managers/{manager}?capacity=6&days=3")
    assert page.status_code == 200
    assert page.text.count('class="visit"') <= 6
    assert re.search(r'id="plan-capacity">6<', page.text)
    assert len(set(re.findall(r'name="date" value="([^"]+)"', page.text))) <= 3
    assert planner.get(f"/app/plan/managers/{manager}?capacity=0").status_code == 422
    csv = planner.get(f"/app/plan/managers/{manager}/plan.csv?capacity=6")
    assert csv.content.startswith("\ufeff".encode()) and "客户编码" in csv.text  # zh headers
    team_csv = planner.get("/app/plan/teams/T00/plan.csv")
    assert team_csv.status_code == 200 and team_csv.content.startswith("\ufeff".encode())


def test_retailer_page_has_risk_chart_and_history(planner, client) -> None:
    territory = client.app.state.territory
    manager = territory.team_managers("T00")[0]
    retailer = next(r for r, m in territory.manager_of_retailer.items() if m == manager)
    page = planner.get(f"/app/plan/retailers/{retailer}")
    assert page.status_code == 200
    assert page.text.count("<rect ") == 13 and "拜访记录" in page.text


def test_language_switch_keeps_the_page(planner) -> None:
    switched = planner.get("/app/lang?to=en&next=/app/plan")
    assert switched.headers["location"] == "/app/plan"
    assert planner.get("/app/plan").text.count("Visit plans") >= 1
    assert planner.get("/app/lang?to=zh&next=https://evil.example").headers["location"] == "/app"
    assert "拜访计划" in planner.get("/app/plan").text


def test_signout_and_revoked_key_end_the_session(client, keys) -> None:
    browser = sign_in(client.app, keys["planner"])
    page = browser.get("/app/plan")
    assert page.status_code == 200
    assert browser.post("/app/signout", data={"csrf": csrf_of(page.text)}).status_code == 303
    assert browser.get("/app/plan").status_code == 303

    from serving.security import create_key

    with client.app.state.sessions() as session:
        key, _ = create_key(session, "planner", ["T00"])
    browser = sign_in(client.app, key)
    assert browser.get("/app/plan").status_code == 200
    with client.app.state.sessions() as session:
        session.execute(
            update(ApiKey).where(ApiKey.key_hash == hash_key(key)).values(revoked_at=utcnow())
        )
        session.commit()
    assert browser.get("/app/plan").headers["location"].startswith("/app/signin")


def test_coordinator_pages_and_recording_a_training(client, keys) -> None:
    coach = sign_in(client.app, keys["coordinator"])
    heat = coach.get("/app/skills?team=T00")
    assert heat.status_code == 200 and 'id="heatmap"' in heat.text and "沟通能力" in heat.text
    manager = client.app.state.territory.team_managers("T00")[0]
    page = coach.get(f"/app/skills/managers/{manager}")
    assert page.status_code == 200 and "推荐培训" in page.text and "不确定性" in page.text
    course = re.search(r'<option value="([^"]+)">', page.text.split('id="course_id"')[1])[1]
    form = {"csrf": csrf_of(page.text), "nonce": "t-1", "course_id": course}
    saved = coach.post(
        f"/app/skills/managers/{manager}/trainings", data={**form, "completed_on": "2026-01-05"}
    )
    assert saved.status_code == 303
    (row,) = stored(client, course_id=course, completed_on="2026-01-05")
    assert row.kind == "training" and row.manager_id == manager
    bad = coach.post(f"/app/skills/managers/{manager}/trainings", data={**form, "nonce": "t-2"})
    assert bad.status_code == 422
    cohorts = coach.get("/app/skills/cohorts")
    assert cohorts.status_code == 200 and "<details" in cohorts.text
    assert coach.get("/app/skills/cohorts.csv").content.startswith("\ufeff".encode())
    assert coach.get("/app/plan").status_code == 403
    assert coach.get("/app/models").status_code == 403


@pytest.mark.slow
def test_data_scientist_promotes_and_rolls_back(client, keys, settings) -> None:
    science = sign_in(client.app, keys["data_scientist"])
    page = science.get("/app/models")
    assert page.status_code == 200
    assert "retailer-churn" in page.text and "数据文件夹状态" in page.text
    assert 'id="last-date"' in page.text and "127.0.0.1:5000" in page.text
    uri = settings.resolved_tracking_uri
    mlflow = MlflowClient(tracking_uri=uri, registry_uri=uri)
    first = mlflow.get_model_version("manager-skills", "1")
    second = str(mlflow.create_model_version("manager-skills", first.source, first.run_id).version)
    csrf = csrf_of(page.text)
    url = "/app/models/manager-skills"
    unconfirmed = science.post(f"{url}/promote", data={"csrf": csrf, "version": second})
    assert unconfirmed.status_code == 422
    done = science.post(f"{url}/promote", data={"csrf": csrf, "version": second, "confirm": "yes"})
    assert done.status_code == 303
    assert str(mlflow.get_model_version_by_alias("manager-skills", "champion").version) == second
    assert client.app.state.store.get("manager-skills").version == second
    back = science.post(f"{url}/rollback", data={"csrf": csrf, "confirm": "yes"})
    assert back.status_code == 303
    assert str(mlflow.get_model_version_by_alias("manager-skills", "champion").version) == "1"
    assert science.post(f"{url}/promote", data={"version": 1, "confirm": "yes"}).status_code == 403


def test_drawings_and_catalogue() -> None:
    check_catalogue()
    assert [percent(p) for p in (None, 0.0, 0.004, 0.31)] == ["—", "0%", "<1%", "31%"]
    drawing = route_map(
        [
            {"retailer_id": "a", "lat": 30.0, "lon": 120.0, "date": "d1", "stop": 2},
            {"retailer_id": "b", "lat": 30.1, "lon": 120.0, "date": "d1", "stop": 1},
            {"retailer_id": "c", "lat": 30.0, "lon": 120.1, "date": "d2", "stop": 1},
        ]
    )
    (d1, d2) = drawing["days"]
    assert [s["retailer_id"] for s in d1["stops"]] == ["b", "a"]  # route order
    north, south = d1["stops"]
    assert north["y"] < south["y"] and abs(north["x"] - south["x"]) < 0.1
    # A tenth of a degree east is shorter than north at 30°N (cos 30° = 0.87).
    east = d2["stops"][0]["x"] - south["x"]
    assert east == pytest.approx((south["y"] - north["y"]) * 0.866, rel=0.01)
    bars = bar_chart([0.0, 5.0, 10.0], height=100)
    assert [b["h"] for b in bars] == [0.0, 48.0, 96.0]
    assert gap_colour(0, 10) == "#ffffff" and gap_colour(10, 10) != gap_colour(5, 10)
