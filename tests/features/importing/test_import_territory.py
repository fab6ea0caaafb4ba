"""The issue's bar: a simulated territory exported the way a company exports it (a workbook
with sheets 零售户 / 客户经理 / 订单 / 拜访 and Chinese headers and labels, plus a GBK CSV of
the later orders with 2025年6月2日 dates and ￥1,234.50 amounts) imports into a folder that
`fieldcoach validate` accepts and `train churn` trains on, with every row accounted for.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from fieldcoach.cli import app
from simulator import SimulationConfig, Territory, export_dataset

FORMAT_ZH = {
    "convenience": "便利店",
    "supermarket": "超市",
    "tobacco_liquor": "烟酒店",
    "grocery": "食杂店",
    "entertainment": "娱乐场所",
    "other": "其他",
}
PURPOSE_ZH = {
    "order_decline_followup": "订单下滑跟进",
    "brand_cultivation": "品牌培育",
    "business_guidance": "经营指导",
    "complaint_recovery": "投诉处理",
    "market_research": "市场调研",
    "relationship_maintenance": "客情维护",
    "onboarding": "新户开发",
    "routine": "常规拜访",
}
SPLIT = pd.Timestamp("2025-01-01")  # orders before: workbook sheet; from then: GBK CSV


def _sheet(workbook, name: str, header: list[str], rows) -> None:
    sheet = workbook.create_sheet(name)
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))


def _cell(value):
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    return value


def _read(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    for column in frame.columns:
        if column.endswith(("_on", "_date")):
            frame[column] = pd.to_datetime(frame[column])
    return frame


def export_like_a_company(data: Path, folder: Path) -> tuple[Path, Path]:
    """The simulated tables as a tobacco company's exports (Chinese, Excel, GBK)."""
    retailers = _read(data / "retailers.parquet")
    managers = _read(data / "managers.parquet")
    orders = _read(data / "orders.parquet")
    visits = _read(data / "visits.parquet")
    workbook = openpyxl.Workbook(write_only=True)
    _sheet(
        workbook,
        "零售户",
        [
            "零售户编码",
            "客户经理编码",
            "业态",
            "城乡",
            "档位",
            "纬度",
            "经度",
            "发证日期",
            "有效期至",
        ],
        (
            [
                r.retailer_id,
                r.manager_id,
                FORMAT_ZH[r.format],
                "城镇" if r.area_type == "urban" else "乡村",
                f"第{r.grade}档",
                r.lat,
                r.lon,
                _cell(r.licensed_on),
                _cell(r.licence_expires_on),
            ]
            for r in retailers.itertuples()
        ),
    )
    _sheet(
        workbook,
        "客户经理",
        ["工号", "市场部", "入职日期", "岗位", "周拜访能力"],
        (
            [m.manager_id, m.team_id, _cell(m.hired_on), m.role, m.weekly_capacity]
            for m in managers.itertuples()
        ),
    )
    early = orders[orders["order_date"] < SPLIT]
    _sheet(
        workbook,
        "订单",
        ["零售户编码", "订单日期", "金额", "数量", "规格数"],
        (
            [o.retailer_id, _cell(o.order_date), o.amount, o.quantity, o.brand_count]
            for o in early.itertuples()
        ),
    )
    _sheet(
        workbook,
        "拜访",
        ["零售户编码", "客户经理编码", "拜访日期", "拜访时长", "拜访目的"],
        (
            [
                v.retailer_id,
                v.manager_id,
                f"{v.visit_date.year}/{v.visit_date.month}/{v.visit_date.day}",
                v.duration_min,
                PURPOSE_ZH.get(v.purpose, ""),
            ]
            for v in visits.itertuples()
        ),
    )
    book = folder / "客户资料.xlsx"
    workbook.save(book)
    late = orders[orders["order_date"] >= SPLIT]
    gbk = folder / "订单2025.csv"
    with open(gbk, "w", encoding="gbk", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["客户编码", "下单日期", "订单金额", "订货量", "规格数"])
        for o in late.itertuples():
            d = o.order_date
            writer.writerow(
                [
                    o.retailer_id,
                    f"{d.year}年{d.month}月{d.day}日",
                    f"￥{o.amount:,.2f}",
                    f"{o.quantity:g}",
                    o.brand_count,
                ]
            )
    return book, gbk


@pytest.mark.slow
def test_a_territory_exported_as_a_company_would_imports_validates_and_trains(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("FIELDCOACH_HOME", str(tmp_path / "home"))
    data = tmp_path / "sim"
    territory = Territory.create(SimulationConfig(n_retailers=400, n_managers=4, seed=3))
    territory.run(80)
    export_dataset(territory, data)
    exports = tmp_path / "exports"
    exports.mkdir()
    export_like_a_company(data, exports)

    out = tmp_path / "imported"
    runner = CliRunner()
    result = runner.invoke(app, ["import", str(exports), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0

    for table in ("retailers", "managers", "orders", "visits"):
        source = pd.read_parquet(data / f"{table}.parquet")
        got = pd.read_parquet(out / f"{table}.parquet")
        assert len(got) == len(source), table
    source = _read(data / "orders.parquet").sort_values(["retailer_id", "order_date"])
    got = pd.read_parquet(out / "orders.parquet").sort_values(["retailer_id", "order_date"])
    assert np.allclose(got["amount"].to_numpy(), source["amount"].round(2).to_numpy())
    assert (
        got["order_date"].to_numpy() == source["order_date"].astype("datetime64[us]").to_numpy()
    ).all()
    retailers = pd.read_parquet(out / "retailers.parquet").set_index("retailer_id")
    expected = pd.read_parquet(data / "retailers.parquet").set_index("retailer_id")
    assert (retailers["format"] == expected["format"]).all()
    assert (retailers["grade"] == expected["grade"]).all()

    trained = runner.invoke(app, ["train", "churn", "--data", str(out), "--no-tune"])
    assert trained.exit_code == 0, trained.output
    assert "lightgbm" in trained.output
