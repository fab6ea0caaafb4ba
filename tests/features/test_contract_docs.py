"""The README's data contract reference is generated from the contract and kept in sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.contract import TABLES
from features.contract_docs import END, START, main, render_contract, update_readme

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_contract_reference_is_up_to_date() -> None:
    text = README.read_text(encoding="utf-8")
    assert update_readme(text) == text, (
        "README.md is out of date: run python -m features.contract_docs README.md"
    )


def test_reference_covers_every_table_and_rule() -> None:
    text = render_contract()
    for name in TABLES:
        assert f"### `{name}`" in text
    assert "| `orders` | yes |" in text
    assert "| `amount` | number | yes | not empty; >= 0; <= 100000000 |" in text
    assert "each item must be a course_id in `courses`" in text
    assert "not before its licensed_on in `retailers`" in text
    assert "Each combination of (retailer_id, manager_id, visit_date) appears once." in text


def test_only_the_marked_section_is_replaced(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Intro\n\nkeep me\n\n{START}\nstale\n{END}\n\n## After\n", "utf-8")
    assert main([str(readme), "--check"]) == 1
    assert main([str(readme)]) == 0
    text = readme.read_text("utf-8")
    assert text.startswith("# Intro\n\nkeep me\n\n")
    assert text.endswith(f"{END}\n\n## After\n")
    assert "stale" not in text
    assert main([str(readme), "--check"]) == 0


def test_missing_readme_is_created(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    assert main([str(readme), "--check"]) == 1
    assert main([str(readme)]) == 0
    assert readme.read_text("utf-8").startswith(f"## Data contract\n\n{START}\n")


def test_readme_without_markers_is_an_error(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n", "utf-8")
    with pytest.raises(ValueError, match="markers"):
        main([str(readme)])
