"""What the service learnt is merged after the company's rows when a folder is read."""

from __future__ import annotations

import pandas as pd

from features.feedback_rows import feedback_path, merge_feedback
from features.validate import load_dataset, validate_folder


def _learnt() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "retailer_id": ["R1", "R1", "R1"],
            "manager_id": ["M1", "M1", "M1"],
            "visit_date": pd.to_datetime(["2024-01-05", "2024-01-08", "2024-01-08"]),
            "duration_min": [None, 30.0, 30.0],
        }
    )


def test_learnt_rows_take_the_company_tables_text_form_and_skip_known_keys() -> None:
    company = pd.DataFrame(
        {
            "retailer_id": ["R1"],
            "manager_id": ["M1"],
            "visit_date": ["2024-01-05"],
            "duration_min": ["15"],
        },
        dtype="str",
    )
    merged, added = merge_feedback(company, _learnt(), "visits")
    assert added == 1  # 01-05 is the company's already; 01-08 twice is one visit
    assert list(merged["visit_date"]) == ["2024-01-05", "2024-01-08"]
    assert merged["duration_min"].iloc[1] == "30"


def test_learnt_rows_join_a_typed_table_typed() -> None:
    company = _learnt().iloc[:1].astype({"duration_min": "float64"})
    merged, added = merge_feedback(company, _learnt(), "visits")
    assert added == 1 and merged["visit_date"].dtype.kind == "M"
    assert merged["duration_min"].tolist()[1] == 30.0


def test_the_loader_reads_the_company_rows_then_the_learnt_ones(tmp_path) -> None:
    (tmp_path / "orders.csv").write_text(
        "retailer_id,order_date,amount\nR1,2024-01-02,10\n", encoding="utf-8"
    )
    visits = "retailer_id,manager_id,visit_date\nR1,M1,2024-01-05\n"
    (tmp_path / "visits.csv").write_text(visits, encoding="utf-8")
    feedback_path(tmp_path, "visits").parent.mkdir()
    _learnt().to_parquet(feedback_path(tmp_path, "visits"))
    loaded = load_dataset(tmp_path)
    assert list(loaded["visits"]["visit_date"].dt.strftime("%Y-%m-%d")) == [
        "2024-01-05",
        "2024-01-08",
    ]
    assert any("_feedback/visits.parquet" in note for note in loaded.report.notes)
    assert (tmp_path / "visits.csv").read_text(encoding="utf-8") == visits
    # A learnt row that breaks the contract is a problem of the folder, not hidden.
    bad = _learnt().assign(visit_date=pd.NaT)
    assert not validate_folder(tmp_path, {"visits": bad}).ok
