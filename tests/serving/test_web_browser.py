"""The workspace in a real Chromium: each role signs in and uses its pages; the planner's
refusals; the language switch; a phone-sized page without sideways scrolling."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from serving.app import create_app
from serving.db import Feedback

from .browser import CHROMIUM, HOW_TO_INSTALL, chromium, serve, sign_in
from .conftest import settings_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(home):
    if not CHROMIUM.exists():
        pytest.fail(HOW_TO_INSTALL, pytrace=False)
    app = create_app(settings_for(home))
    with serve(app) as base, chromium() as browser:
        yield app, base, browser


@pytest.fixture()
def page(site):
    _, _, browser = site
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    yield context.new_page()
    context.close()


def _decisions(app, manager_id: str) -> dict[str, dict]:
    with app.state.sessions() as session:
        rows = session.scalars(
            select(Feedback).where(Feedback.manager_id == manager_id).order_by(Feedback.id)
        )
        return {r.payload["retailer_id"]: r.payload for r in rows if r.kind == "decision"}


def test_planner_accepts_rejects_and_replans(site, page, keys) -> None:
    app, base, _ = site
    sign_in(page, base, keys["planner_t00"])
    assert page.locator("h1").inner_text().startswith("拜访计划")
    page.get_by_role("link", name="团队 T00").click()
    manager = app.state.territory.team_managers("T00")[0]
    page.get_by_role("link", name=manager).click()
    visits = page.locator("li.visit")
    assert visits.count() > 3
    assert page.locator("svg.map polyline").count() >= 1
    first, second = (visits.nth(i).get_attribute("data-retailer") for i in (0, 1))
    visits.nth(0).get_by_role("button", name="接受").click()
    page.wait_for_url("**saved=1**")
    second_card = page.locator(f"#visit-{second}")
    second_card.get_by_label("拒绝原因").fill("店主这周不在")
    second_card.get_by_role("button", name="拒绝").click()
    page.wait_for_url("**saved=1**")
    assert page.locator(f"#visit-{first} .state").inner_text() == "已接受"
    assert "店主这周不在" in page.locator(f"#visit-{second} .state").inner_text()
    stored = _decisions(app, manager)
    assert stored[first]["decision"] == "accept"
    assert stored[second] == {**stored[second], "decision": "reject", "reason": "店主这周不在"}
    page.get_by_label("本周拜访容量").fill("5")
    page.get_by_label("工作天数").select_option("2")
    page.get_by_role("button", name="重新计划").click()
    page.wait_for_url("**capacity=5**")
    assert page.locator("li.visit").count() <= 5
    assert page.locator("#plan-capacity").inner_text() == "5"


def test_planner_is_refused_other_teams_and_the_model_page(site, page, keys) -> None:
    app, base, _ = site
    sign_in(page, base, keys["planner_t00"])
    other = app.state.territory.team_managers("T01")[0]
    for path in (f"/app/plan/managers/{other}", "/app/plan/teams/T01", "/app/models"):
        answer = page.goto(f"{base}{path}")
        assert answer.status == 403, path
        assert page.locator("h1").inner_text() == "无权访问"


def test_language_switch(site, page, keys) -> None:
    _, base, _ = site
    sign_in(page, base, keys["planner"])
    page.locator("#lang-switch").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Visit plans")
    assert page.locator("html").get_attribute("lang") == "en"
    page.locator("#lang-switch").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("拜访计划")


def test_coordinator_opens_a_cohort_and_records_a_training(site, page, keys) -> None:
    app, base, _ = site
    sign_in(page, base, keys["coordinator"])
    assert page.locator("#heatmap tbody tr").count() >= 1
    page.get_by_role("link", name="培训班").click()
    cohort = page.locator("details.cohort").first
    members = cohort.locator(".members li")
    assert not members.first.is_visible()
    cohort.locator("summary").focus()
    page.keyboard.press("Enter")  # a keyboard opens it
    assert members.first.is_visible()
    manager = members.first.inner_text()
    members.first.get_by_role("link").click()
    page.get_by_label("完成日期").fill("2026-01-07")
    page.get_by_role("button", name="登记").click()
    page.wait_for_url("**saved=1")
    with app.state.sessions() as session:
        kinds = [
            (r.kind, r.payload["completed_on"])
            for r in session.scalars(select(Feedback).where(Feedback.manager_id == manager))
            if r.kind == "training"
        ]
    assert ("training", "2026-01-07") in kinds


def test_data_scientist_sees_models_and_data(site, page, keys) -> None:
    _, base, _ = site
    sign_in(page, base, keys["data_scientist"])
    assert page.locator("section.model").count() == 3
    assert page.locator("#last-date").inner_text()[:2] == "20"
    page.locator("section.model").first.get_by_role("button", name="设为冠军").click()
    # The box is required: the browser keeps the form until it is ticked.
    assert "/app/models" in page.url and "done=" not in page.url


@pytest.mark.parametrize("role", ["planner", "coordinator", "data_scientist"])
def test_phone_width_has_no_sideways_scroll(site, keys, role, tmp_path) -> None:
    app, base, browser = site
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    phone = context.new_page()
    sign_in(phone, base, keys[role])
    if role == "planner":
        manager = app.state.territory.team_managers("T00")[0]
        phone.goto(f"{base}/app/plan/managers/{manager}")
    widths = phone.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    phone.screenshot(path=str(tmp_path / f"{role}.png"), full_page=True)
    context.close()
    assert widths[0] <= widths[1] == 375, widths
    assert (tmp_path / f"{role}.png").stat().st_size > 1000
