"""One local[2] SparkSession for every Spark test of the run (starting one takes ~20 s).

Spark tests are marked ``spark`` (and ``slow``); ``pytest -m "not spark"`` leaves them out.
"""

from __future__ import annotations

import shutil

import pytest


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
