"""A retailer's name and address (optional columns of the retailers contract) are shown
wherever the retailer is: in the plan, the printed route (CSV/Excel rows) and its risk."""

from __future__ import annotations

import pandas as pd

from features.i18n import localise_rows
from planning.export import route_rows
from planning.plan import plan_manager
from planning.week import Models, prepare_week
from serving.served_territory import ServedTerritory


def _with_labels(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    retailers = tables["retailers"].copy()
    number = retailers["retailer_id"].str[1:].astype(int)
    retailers["name"] = "便利店" + number.astype(str) + "号"
    retailers["address"] = "城关镇人民路" + number.astype(str) + "号"
    return {**tables, "retailers": retailers}


def test_plans_routes_and_risks_show_the_shop_name_and_address(new_year_tables):
    tables = _with_labels(new_year_tables)
    names = tables["retailers"].set_index("retailer_id")["name"].to_dict()
    context = prepare_week(tables, "2026-W01", Models())
    manager = sorted(tables["managers"]["manager_id"])[0]
    plan = plan_manager(context, manager, capacity=12, days=3, language="zh")
    assert plan["visits"]
    for visit in plan["visits"]:
        assert visit["name"] == names[visit["retailer_id"]]
        assert visit["address"].startswith("城关镇人民路")
    rows = localise_rows(route_rows(plan), "zh")
    stops = [r for r in rows if r["客户编码"]]
    assert len(stops) == len(plan["visits"])
    assert all(r["客户名称"] == names[r["客户编码"]] for r in stops)
    assert all(r["地址"].startswith("城关镇人民路") for r in stops)
    first = plan["visits"][0]["retailer_id"]
    labels = ServedTerritory(tables, store=None).retailer_labels(first)
    assert labels == {"name": names[first], "address": f"城关镇人民路{int(first[1:])}号"}
    # Without the columns the plan still works and says nothing it does not know.
    bare = plan_manager(prepare_week(new_year_tables, "2026-W01", Models()), manager, capacity=5)
    assert all(v["name"] is None and v["address"] is None for v in bare["visits"])
