"""One local[2] SparkSession for every Spark test of the run (starting one takes ~20 s).

Spark tests are marked ``spark`` (and ``slow``); ``pytest -m "not spark"`` leaves them out.
"""

from __future__ import annotations

import os
import shutil

import pytest

# The suite trains LightGBM in-process, as the CLI does: without this OpenMP's idle threads
# spin and starve the working ones on a small shared machine (see fieldcoach/cli/main.py).
# It must precede the first import of LightGBM, which no conftest or test module does
# before this file is loaded; xdist's workers inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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
