"""Cell parsers: every written form of a date, amount, grade, ID and label the issue lists."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.importing.labels import parse_enum, parse_list, value_synonyms
from features.importing.values import (
    parse_date,
    parse_id,
    parse_number,
    parse_whole,
)

JUNE_2 = pd.Timestamp("2025-06-02")


def _text(values: list) -> pd.Series:
    return pd.Series(values, dtype="str")


def _cells(values: list) -> pd.Series:
    return pd.Series(values, dtype=object)


@pytest.mark.parametrize(
    "written",
    [
        "2025-06-02",
        "2025/6/2",
        "2025.6.2",
        "2025年6月2日",
        "20250602",
        "45810",
        "2025-06-02 10:30:00",
        "２０２５年６月２日",
        "13/06/2025",
    ],
)
def test_date_forms(written):
    parsed = parse_date(_text([written]))
    expected = pd.Timestamp("2025-06-13") if written.startswith("13/") else JUNE_2
    assert parsed.values.iloc[0] == expected
    assert not parsed.errors


def test_excel_cells_and_bad_dates():
    cells = parse_date(
        _cells([dt.date(2025, 6, 2), dt.datetime(2025, 6, 2, 9), 45810.0, None, "", True])
    )
    assert cells.values.iloc[:3].tolist() == [JUNE_2, pd.Timestamp("2025-06-02 09:00"), JUNE_2]
    assert np.flatnonzero(cells.errors["date_invalid"]).tolist() == [5]
    text = parse_date(_text(["02/06/2025", "2025-02-30", "soon", "06/06/2025"]))
    assert np.flatnonzero(text.errors["date_ambiguous"]).tolist() == [0]
    assert np.flatnonzero(text.errors["date_invalid"]).tolist() == [1, 2]
    assert text.values.iloc[3] == pd.Timestamp("2025-06-06")  # same day and month: no doubt
    assert parse_date(_text(["02/06/2025"]), "%d/%m/%Y").values.iloc[0] == JUNE_2


@pytest.mark.parametrize("text_column", [True, False])
def test_amount_forms(text_column):
    written = [
        "￥1,234.50",
        "¥1,234.50",
        "1234.5元",
        "１，２３４.５",
        " 1234.5 ",
        "1.2万",
        "",
        "$1,234.5",
        "很多",
    ]
    raw = _text(written) if text_column else _cells(written)
    parsed = parse_number(raw)
    got = parsed.values.tolist()
    assert got[:5] == [1234.5] * 5
    assert got[5] == 12000.0
    assert np.isnan(got[6]) and got[7] == 1234.5 and np.isnan(got[8])
    assert np.flatnonzero(parsed.errors["not_number"]).tolist() == [8]


def test_amount_fast_path_agrees_with_the_general_one():
    rng = np.random.default_rng(3)
    values = np.round(rng.gamma(2.0, 900.0, 2000), 2)
    written = [f"￥{v:,.2f}" if i % 3 else f"{v}元" for i, v in enumerate(values)]
    written[7] = ""
    fast = parse_number(_text(written)).values.to_numpy()
    general = parse_number(_cells(written)).values.to_numpy()
    np.testing.assert_array_equal(fast, general)
    assert np.isnan(fast[7]) and np.allclose(np.delete(fast, 7), np.delete(values, 7))


def test_scale_and_percent():
    assert parse_number(_text(["1.5"]), scale=1e4).values.tolist() == [15000.0]
    assert parse_number(_text(["35%"]), percent=True).values.tolist() == [pytest.approx(0.35)]


def test_ids_keep_zeros_and_refuse_float_damage():
    text = parse_id(_text(["011010", " R1 ", "110101000001.0", "1.10101E+11", ""]))
    assert text.values.tolist()[:3] == ["011010", "R1", "110101000001"]
    assert np.flatnonzero(text.errors["id_scientific"]).tolist() == [3]
    cells = parse_id(_cells([110101000001.0, 1.5, 4.4e17, "0101", None]))
    assert cells.values.tolist()[0] == "110101000001" and cells.values.tolist()[3] == "0101"
    assert np.flatnonzero(cells.errors["id_fraction"]).tolist() == [1]
    assert np.flatnonzero(cells.errors["id_precision"]).tolist() == [2]


def test_grades_and_satisfaction_labels():
    grades = parse_whole(_text(["第5档", "5档", "5", "五档", "第十五档", "5级", "5.5", ""]))
    assert grades.values.tolist()[:6] == [5, 5, 5, 5, 15, 5]
    assert np.flatnonzero(grades.errors["not_whole_number"]).tolist() == [6]
    assert parse_whole(_cells([7.0, 3])).values.tolist() == [7, 3]
    labels = {"非常满意": 5, "一般": 3}
    assert parse_whole(_text(["非常满意", "一般", "4分"]), labels).values.tolist() == [5, 3, 4]


def test_labels_and_lists():
    formats = parse_enum(
        _text(["便利店", "烟酒店", "Tobacco Liquor", "奇怪店", ""]),
        value_synonyms("retailers", "format"),
    )
    assert formats.values.tolist()[:3] == ["convenience", "tobacco_liquor", "tobacco_liquor"]
    assert np.flatnonzero(formats.errors["unknown_value"]).tolist() == [3]
    skills = parse_list(
        _text(["沟通能力；品牌培育能力", "planning, ethics", "xx"]),
        value_synonyms("courses", "skills"),
    )
    assert skills.values.tolist()[:2] == ["communication;brand_cultivation", "planning;ethics"]
    assert np.flatnonzero(skills.errors["unknown_value"]).tolist() == [2]
