"""A sample of retailers drawn on Spark, for training on one machine.

Training fits on one machine (LightGBM and its baselines already subsample the training
snapshots to ``ChurnConfig.max_train_rows``); what the cluster is for is reading the
national book of orders and cutting out a sample that fits. The sample is whole managers,
drawn in the order of a seeded hash of their id until it holds the retailers asked for:
every feature of a sampled retailer, its manager's context (territory size, skills)
included, is then the value it has on the full data, which a sample of single retailers
would not give. Rows of no manager are drawn one retailer at a time. The sample is written
as the contract's tables (``NAME.parquet``) to a local folder that ``train churn`` reads as
any data folder. Each table reaches this machine in slices of at most ``SLICE_ROWS`` rows:
collected at once, a province's 90,000-retailer sample (8 million orders) overran a
default 1 GiB Spark driver (``TaskResultLost``), and a national 200,000 would exceed the
driver's default 1 GiB ``spark.driver.maxResultSize``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.errors import UserInputError
from features.io import write_table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

RETAILER_TABLES = ("retailers", "orders", "visits", "complaints", "surveys")
MANAGER_TABLES = ("managers", "assessments", "trainings")
SAMPLE_FILE = "_sample.json"  # what was drawn, beside the tables
# Rows the Spark driver holds for one collect (~50-100 MB as Arrow); 2.7 million at once
# were fine on a default driver, 8 million were not.
SLICE_ROWS = 1_000_000


@dataclass(frozen=True)
class SampleReport:
    retailers: int
    managers: int
    orders: int
    of_retailers: int  # retailers in the full data
    of_orders: int
    seed: int
    source: str

    @property
    def share(self) -> float:
        return self.retailers / self.of_retailers if self.of_retailers else 0.0


def draw_retailer_sample(
    tables: dict[str, DataFrame], retailers: int, seed: int = 0
) -> tuple[DataFrame, DataFrame | None]:
    """The retailer ids (and manager ids) of a sample of about ``retailers`` retailers."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if retailers < 1:
        raise UserInputError(f"--sample-retailers {retailers}: must be at least 1")
    source = tables.get("retailers")
    if source is None:
        source = tables["orders"].select("retailer_id")
    source = source.select(
        "retailer_id", *(["manager_id"] if "manager_id" in source.columns else [])
    ).dropDuplicates(["retailer_id"])
    manager = F.col("manager_id") if "manager_id" in source.columns else F.lit(None)
    # A cluster is a manager's retailers; a retailer of no manager is a cluster of one.
    cluster = F.coalesce(F.concat(F.lit("m:"), manager), F.concat(F.lit("r:"), "retailer_id"))
    sizes = source.groupBy(cluster.alias("_cluster")).agg(F.count("*").alias("_size"))
    order = Window.orderBy(F.xxhash64("_cluster", F.lit(seed)), "_cluster")
    running = sizes.withColumn("_before", F.sum("_size").over(order) - F.col("_size"))
    chosen = running.filter(F.col("_before") < retailers).select("_cluster")
    ids = source.withColumn("_cluster", cluster).join(F.broadcast(chosen), "_cluster")
    managers = None
    if "manager_id" in source.columns:
        managers = ids.select("manager_id").dropna().distinct()
    return ids.select("retailer_id").distinct(), managers


def write_sample(
    tables: dict[str, DataFrame],
    out: Path,
    retailers: int,
    seed: int = 0,
    source: str = "",
    slice_rows: int = SLICE_ROWS,
) -> SampleReport:
    """Draw the sample on Spark and write its tables to ``out`` (the folder is replaced).

    Each table is collected in slices of at most about ``slice_rows`` rows.
    """
    from pyspark.sql import functions as F

    ids, managers = draw_retailer_sample(tables, retailers, seed)
    ids = ids.cache()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.parquet"):
        old.unlink()
    counts: dict[str, int] = {}
    for name, frame in tables.items():
        if name in RETAILER_TABLES:
            frame = frame.join(F.broadcast(ids), "retailer_id", "left_semi")
        elif name in MANAGER_TABLES and managers is not None:
            frame = frame.join(F.broadcast(managers), "manager_id", "left_semi")
        rows = _to_pandas(frame, slice_rows)
        counts[name] = len(rows)
        write_table(rows, out / f"{name}.parquet")
    report = SampleReport(
        retailers=ids.count(),
        managers=0 if managers is None else managers.count(),
        orders=counts["orders"],
        of_retailers=_retailer_count(tables),
        of_orders=tables["orders"].count(),
        seed=seed,
        source=source,
    )
    ids.unpersist()
    (out / SAMPLE_FILE).write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    return report


def _retailer_count(tables: dict[str, DataFrame]) -> int:
    if "retailers" in tables:
        return tables["retailers"].select("retailer_id").distinct().count()
    return tables["orders"].select("retailer_id").distinct().count()


def _to_pandas(frame: DataFrame, slice_rows: int = SLICE_ROWS) -> pd.DataFrame:
    """The sample's rows of one table on this machine, dates as pandas dates.

    A table of more than ``slice_rows`` rows is kept on the executors' disks once and
    collected slice by slice (a hash of each row's values picks its slice), so the driver
    holds one slice at a time rather than the whole table.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    frame = frame.persist(StorageLevel.DISK_ONLY)
    try:
        slices = -(-frame.count() // max(slice_rows, 1))
        if slices <= 1:
            rows = frame.toPandas()
        else:
            which = F.pmod(F.xxhash64(*frame.columns), F.lit(slices))
            parts = [frame.filter(which == i).toPandas() for i in range(slices)]
            # An empty slice would come back with untyped columns and widen the others.
            rows = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    finally:
        frame.unpersist()
    for column, kind in frame.dtypes:
        if kind == "date":
            rows[column] = pd.to_datetime(rows[column])
    return rows
