"""Territories shared by the planning tests (simulated once per session)."""

from __future__ import annotations

import pandas as pd
import pytest

from features.validate import load_dataset
from simulator import SimulationConfig, Territory, export_dataset


@pytest.fixture(scope="session")
def new_year_data(tmp_path_factory):
    """A territory whose data ends on Sunday 2025-12-28, so 2026-W01 (元旦) is next."""
    data = tmp_path_factory.mktemp("new-year-data")
    config = SimulationConfig(n_retailers=500, n_managers=2, seed=11, start="2025-06-02")
    export_dataset(Territory.create(config).run(30), data)
    return data


@pytest.fixture(scope="session")
def new_year_tables(new_year_data):
    tables = load_dataset(new_year_data).tables
    assert tables["orders"]["order_date"].max() <= pd.Timestamp("2025-12-28")
    return tables
