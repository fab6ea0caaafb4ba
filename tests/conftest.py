"""What the whole suite shares, built once per run.

- ``simulated(weeks, **config)``: a simulated data folder per distinct territory, so the
  modules that test on the same territory simulate it once between them;
- ``spark``: one local[2] SparkSession for every Spark test (starting one takes ~20 s).
  Spark tests are marked ``spark`` (and ``slow``); ``pytest -m "not spark"`` leaves them out.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

# The suite trains LightGBM in-process, as the CLI does: without this OpenMP's idle threads
# spin and starve the working ones on a small shared machine (see fieldcoach/cli/main.py).
# It must precede the first import of LightGBM, which no conftest or test module does
# before this file is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """``simulated(weeks, **config)``: the folder ``export_dataset`` wrote for that territory
    (``SimulationConfig(**config)`` run ``weeks`` weeks), simulated once per run.

    Shared between modules: read it, never write into it (copy it first).
    """
    from simulator import SimulationConfig, Territory, export_dataset

    folders: dict[tuple, Path] = {}

    def folder(weeks: int, **config) -> Path:
        key = (weeks, tuple(sorted(config.items())))
        if key not in folders:
            out = tmp_path_factory.mktemp("simulated") / "data"
            export_dataset(Territory.create(SimulationConfig(**config)).run(weeks), out)
            folders[key] = out
        return folders[key]

    return folder


@pytest.fixture(scope="session")
def spark():
    if shutil.which("java") is None:
        pytest.skip("no Java runtime: make installs openjdk-17-jre-headless")
    from features.engines.spark_session import start_spark

    session = start_spark(
        "local[2]",
        {
            # Small data: a few shuffle partitions instead of 200 empty ones.
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "1g",
        },
        app_name="fieldcoach-tests",
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
