"""`fieldcoach import`: real-looking Chinese exports in, the contract folder out, or a report.

The workbooks and GBK CSVs are made here with openpyxl and the csv module, the way Excel on
Chinese Windows and the ordering platform write them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.importing.mapping import parse_mapping
from features.importing.run import import_files
from features.importing.sources import discover
from features.validate import validate_folder
from fieldcoach.cli import app

RETAILER_HEADERS = ["零售户编码", "客户名称", "客户经理编码", "业态", "城乡", "档位", "发证日期"]
RETAILERS = [
    ["011001", "张三便利店", "M01", "便利店", "城镇", "第5档", dt.date(2020, 1, 2)],
    ["011002", "李四烟酒", "M01", "烟酒店", "乡村", "12档", "2021/3/4"],
    ["011003", "王五超市", "M02", "超市", "城镇", 7, "2019年5月6日"],
]
ORDER_HEADERS = ["订单编号", "零售户编码", "订单日期", "金额(元)", "数量"]
ORDERS = [
    ["A1", "011001", dt.date(2025, 6, 2), 1234.5, 10],
    ["A2", "011002", 45811, "￥88.00", 2],
    ["A3", "011003", "2025/6/4", "1,050元", 3],
]
VISIT_HEADERS = ["零售户编码", "客户经理编码", "拜访日期", "拜访目的"]
VISITS = [["011001", "M01", "2025-06-03", "品牌培育"], ["011003", "M02", "20250605", "常规拜访"]]


def write_workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def write_gbk_csv(path: Path, rows: list[list], encoding: str = "gbk", sep: str = ",") -> Path:
    with open(path, "w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=sep).writerows(rows)
    return path


def company_workbook(folder: Path, **changes: list[list]) -> Path:
    sheets = {
        "零售户": [RETAILER_HEADERS, *RETAILERS],
        "订单": [["2025年订单明细"], ORDER_HEADERS, *ORDERS],
        "拜访": [VISIT_HEADERS, *VISITS],
    }
    sheets.update(changes)
    return write_workbook(folder / "客户资料.xlsx", sheets)


def gbk_orders(folder: Path, rows: list[list] | None = None) -> Path:
    rows = rows or [
        ["B1", "011001", "2025年6月9日", "￥1,234.50"],
        ["B2", "011002", "2025年6月10日", "￥12.00"],
    ]
    return write_gbk_csv(
        folder / "订单2025.csv", [["订单号", "客户编码", "下单日期", "订单金额"], *rows]
    )


def run_import(*args: str):
    return CliRunner().invoke(app, ["import", *args])


def report_rows(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def test_workbook_and_gbk_csv_import_into_a_valid_folder(tmp_path):
    book, orders = company_workbook(tmp_path), gbk_orders(tmp_path)
    out = tmp_path / "data"
    result = run_import(str(book), str(orders), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert validate_folder(out).ok
    got = pd.read_parquet(out / "orders.parquet")
    assert len(got) == len(ORDERS) + 2
    by_id = got.set_index("order_id")
    assert by_id.loc["A2", "order_date"] == pd.Timestamp("2025-06-03")  # Excel serial 45811
    assert by_id.loc["A2", "amount"] == 88.0
    assert by_id.loc["A3", "amount"] == 1050.0
    assert by_id.loc["B1", "order_date"] == pd.Timestamp("2025-06-09")
    assert by_id.loc["B1", "amount"] == 1234.5
    assert by_id.loc["B1", "retailer_id"] == "011001"  # leading zero kept
    retailers = pd.read_parquet(out / "retailers.parquet").set_index("retailer_id")
    assert retailers["format"].tolist() == ["convenience", "tobacco_liquor", "supermarket"]
    assert retailers["area_type"].tolist() == ["urban", "rural", "urban"]
    assert retailers["grade"].tolist() == [5, 12, 7]
    assert retailers.loc["011003", "licensed_on"] == pd.Timestamp("2019-05-06")
    visits = pd.read_parquet(out / "visits.parquet")
    assert visits["purpose"].tolist() == ["brand_cultivation", "routine"]
    provenance = json.loads((out / "_import.json").read_text(encoding="utf-8"))
    assert provenance["tables"]["orders"]["rows"] == 5
    csv_source = next(s for s in provenance["sources"] if s["file"].endswith(".csv"))
    assert csv_source["encoding"] == "GBK/GB18030"
    assert csv_source["rows_in"] == csv_source["rows_out"] == 2
    sheet = next(s for s in provenance["sources"] if s["sheet"] == "订单")
    assert sheet["header_row"] == 2  # the title row above the header is skipped


@pytest.mark.parametrize(
    ("encoding", "sep"), [("utf-8", ","), ("utf-8-sig", ";"), ("gb18030", "\t"), ("gbk", ";")]
)
def test_csv_encodings_and_separators_are_detected(tmp_path, encoding, sep):
    path = write_gbk_csv(
        tmp_path / "orders.txt",
        [["零售户编码", "订单日期", "金额"], ["011001", "2025年6月2日", "１,２３４.５元"]],
        encoding,
        sep,
    )
    result = import_files([path])
    assert result.ok, result.report
    assert result.tables["orders"]["amount"].tolist() == [1234.5]
    assert result.tables["orders"]["retailer_id"].tolist() == ["011001"]


def _fails_cleanly(tmp_path: Path, *sources: Path, rule: str, extra: tuple[str, ...] = ()):
    out = tmp_path / "data"
    report = tmp_path / "report.csv"
    result = run_import(*map(str, sources), "--out", str(out), "--report", str(report), *extra)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "error:" in result.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".data")]
    rows = report_rows(report)
    hit = rows[rows["规则 rule"] == rule]
    assert len(hit), rows.to_string()
    return hit, result.output


def test_float_mangled_id_names_file_row_and_column(tmp_path):
    orders = gbk_orders(tmp_path, [["B1", "1.10101E+11", "2025年6月9日", "￥1,234.50"]])
    hit, output = _fails_cleanly(
        tmp_path, company_workbook(tmp_path), orders, rule="id_scientific"
    )
    row = hit.iloc[0]
    assert (row["文件 file"], row["行 row"], row["列 column"], row["值 value"]) == (
        "订单2025.csv",
        "2",
        "客户编码",
        "1.10101E+11",
    )
    assert "订单2025.csv" in output and "row 2" in output and "客户编码" in output


def test_ambiguous_day_month_is_an_error_unless_a_format_is_declared(tmp_path):
    orders = gbk_orders(tmp_path, [["B1", "011001", "02/06/2025", "12"]])
    hit, _ = _fails_cleanly(tmp_path, orders, rule="date_ambiguous")
    assert hit.iloc[0]["值 value"] == "02/06/2025"
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[[source]]\nfile = "订单2025.csv"\ndate_format = "%d/%m/%Y"\n', encoding="utf-8"
    )
    result = import_files([orders], parse_mapping(mapping.read_text(), "mapping.toml"))
    assert result.ok
    assert result.tables["orders"]["order_date"].tolist() == [pd.Timestamp("2025-06-02")]


def test_unknown_format_value_is_reported_and_can_be_mapped(tmp_path):
    retailers = [
        RETAILER_HEADERS,
        RETAILERS[0],
        ["011002", "x", "M01", "烟酒商行", "城镇", 3, ""],
        RETAILERS[2],
    ]
    book = company_workbook(tmp_path, **{"零售户": retailers})
    hit, _ = _fails_cleanly(tmp_path, book, rule="unknown_value")
    row = hit.iloc[0]
    assert (row["工作表 sheet"], row["行 row"], row["列 column"], row["值 value"]) == (
        "零售户",
        "3",
        "业态",
        "烟酒商行",
    )
    assert "tobacco_liquor" in row["what to do"]
    mapping = parse_mapping('[values.retailers.format]\n"烟酒商行" = "tobacco_liquor"\n')
    result = import_files([book], mapping)
    assert result.ok, result.report
    assert result.tables["retailers"]["format"].tolist() == [
        "convenience",
        "tobacco_liquor",
        "supermarket",
    ]


def test_skip_bad_rows_imports_the_rest_and_says_how_many(tmp_path):
    orders = gbk_orders(
        tmp_path,
        [
            ["B1", "011001", "2025年6月9日", "￥1,234.50"],
            ["B2", "011002", "2025年6月10日", "很多"],
            ["B3", "011009", "2025年6月11日", "5"],
        ],
    )
    out = tmp_path / "data"
    result = run_import(
        str(company_workbook(tmp_path)), str(orders), "--out", str(out), "--skip-bad-rows"
    )
    assert result.exit_code == 0, result.output
    assert "skipped 2 bad rows" in result.output  # an amount, and a retailer not in 零售户
    got = pd.read_parquet(out / "orders.parquet")
    assert sorted(got["order_id"]) == ["A1", "A2", "A3", "B1"]
    assert validate_folder(out).ok


def test_missing_mandatory_column_fails_with_a_one_line_error(tmp_path):
    orders = write_gbk_csv(
        tmp_path / "订单.csv", [["零售户编码", "订单日期"], ["011001", "2025-06-02"]]
    )
    hit, output = _fails_cleanly(tmp_path, orders, rule="required_column")
    assert hit.iloc[0]["列 column"] == "amount"
    assert "no usable orders table" in output
    assert len(output.strip().splitlines()) == 1


def test_empty_sheet_and_zero_byte_file_are_reported(tmp_path):
    book = company_workbook(tmp_path, **{"拜访": []})
    empty = tmp_path / "投诉.csv"
    empty.write_bytes(b"")
    rows, _ = _fails_cleanly(tmp_path, book, empty, rule="empty_sheet")
    assert rows.iloc[0]["工作表 sheet"] == "拜访"
    report = report_rows(tmp_path / "report.csv")
    assert "empty_file" in set(report["规则 rule"])
    out = tmp_path / "data"
    result = run_import(str(book), str(empty), "--out", str(out), "--skip-bad-rows")
    assert result.exit_code == 0, result.output
    assert not (out / "visits.parquet").exists()


@pytest.mark.parametrize(
    "content",
    [b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, b"PK\x03\x04 not really a zip"],
    ids=["password-protected", "corrupt"],
)
def test_unreadable_workbook_gives_a_report_row_not_a_traceback(tmp_path, content):
    bad = tmp_path / "订单.xlsx"
    bad.write_bytes(content)
    rule = "encrypted_workbook" if content.startswith(b"\xd0") else "corrupt_file"
    hit, output = _fails_cleanly(tmp_path, bad, rule=rule)
    assert hit.iloc[0]["文件 file"] == "订单.xlsx"
    assert "订单.xlsx" in output


def test_a_failed_import_leaves_an_earlier_import_untouched(tmp_path):
    out = tmp_path / "data"
    assert run_import(str(company_workbook(tmp_path)), "--out", str(out)).exit_code == 0
    before = pd.read_parquet(out / "orders.parquet")
    bad = gbk_orders(tmp_path, [["B1", "011001", "2025-13-40", "1"]])
    assert run_import(str(bad), "--out", str(out)).exit_code == 1
    pd.testing.assert_frame_equal(pd.read_parquet(out / "orders.parquet"), before)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    result = run_import(str(company_workbook(tmp_path)), "--out", str(other))
    assert result.exit_code == 1 and "not empty" in result.output


def test_suggest_writes_a_mapping_that_imports(tmp_path):
    retailers = [
        [*RETAILER_HEADERS, "备注"],
        RETAILERS[0] + ["x"],
        ["011002", "x", "M01", "烟酒商行", "城镇", 3, "", ""],
        RETAILERS[2] + [""],
    ]
    book = company_workbook(tmp_path, **{"零售户": retailers})
    result = run_import(str(tmp_path), "--suggest")
    assert result.exit_code == 0, result.output
    text = result.output
    assert '"备注" = ""  # TODO' in text
    assert '"烟酒商行" = ""  # TODO' in text
    assert 'table = "retailers"' in text
    edited = text.replace('"烟酒商行" = ""', '"烟酒商行" = "tobacco_liquor"')
    mapping = parse_mapping(edited, "suggested.toml")
    assert import_files(discover([tmp_path]), mapping).ok
    assert book.exists()


def test_mapping_errors_name_the_entry():
    with pytest.raises(Exception, match=r"\[\[source\]\] #1: table 'order'"):
        parse_mapping('[[source]]\nfile = "a.csv"\ntable = "order"\n', "m.toml")
    with pytest.raises(Exception, match=r"must be one of"):
        parse_mapping('[values.retailers.format]\n"x" = "shop"\n', "m.toml")
