"""Retailer features on Apache Spark: the pandas definition run on buckets of whole managers.

A retailer's features depend on its own records and, for the manager context, on its
manager's rows and the other retailers of that manager (territory size). So the contract
tables are split into buckets of whole managers (a hash of ``manager_id``; of
``retailer_id`` when there are no managers), Spark shuffles each bucket's rows to one
Python worker, and the pandas engine's own ``build_retailer_features`` computes that
bucket. Each feature has one definition; the engines cannot drift apart. Spark does the
reading, the grouping and the writing, which is what a national book of orders needs.

The rows of all tables travel in one narrow frame (``Packing``): each table's columns are
mapped onto shared text, number and date slots, so an order row carries no column of
the retailers or assessments tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.calendar import to_days
from features.coercion import DATE_UNIT, column_kind
from features.contract import schema_for
from features.errors import UserInputError
from features.retailer import (
    DEFAULT_ACTIVE_WEEKS,
    RetailerHistory,
    build_retailer_features,
    check_as_of,
    prepare_history,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# The tables retailer features and plans read; courses and trainings are not needed.
PACKED_TABLES = (
    "retailers",
    "managers",
    "orders",
    "visits",
    "complaints",
    "surveys",
    "assessments",
)
MANAGER_TABLES = ("managers", "assessments")
RETAILERS_PER_BUCKET = 4_000  # a bucket of 104 weeks of orders is ~50 MB in pandas
LEFT_OUT = "_left_out"
_SLOT_PREFIX = {"text": "s", "number": "n", "integer": "n", "date": "d"}
_SLOT_TYPE = {"s": "string", "n": "double", "d": "date"}


@dataclass(frozen=True)
class Packing:
    """How the tables' columns map onto the shared slots of the packed frame."""

    tables: tuple[tuple[str, tuple[tuple[str, str, str], ...]], ...]  # (table, (col, kind, slot))
    slots: tuple[str, ...]
    buckets: int

    @classmethod
    def of(cls, tables: dict[str, DataFrame], buckets: int) -> Packing:
        layout, width = [], {"s": 0, "n": 0, "d": 0}
        for name in PACKED_TABLES:
            if name not in tables:
                continue
            schema, used = schema_for(name), {"s": 0, "n": 0, "d": 0}
            columns = []
            for column in tables[name].columns:
                if column not in schema.columns:
                    continue
                kind = column_kind(schema.columns[column].dtype)
                prefix = _SLOT_PREFIX[kind]
                columns.append((column, kind, f"{prefix}{used[prefix]}"))
                used[prefix] += 1
            width = {k: max(width[k], used[k]) for k in width}
            layout.append((name, tuple(columns)))
        slots = tuple(f"{p}{i}" for p in ("s", "n", "d") for i in range(width[p]))
        return cls(tuple(layout), slots, buckets)

    @property
    def ddl(self) -> str:
        slots = ", ".join(f"{s} {_SLOT_TYPE[s[0]]}" for s in self.slots)
        return f"_bucket int, _table int, {slots}" if slots else "_bucket int, _table int"

    def unpack(self, packed: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """The bucket's tables, typed as ``features.validate.load_dataset`` types them."""
        out = {}
        for code, (name, columns) in enumerate(self.tables):
            rows = packed[packed["_table"].to_numpy() == code]
            out[name] = pd.DataFrame(
                {column: _typed(rows[slot], kind) for column, kind, slot in columns},
                index=pd.RangeIndex(len(rows)),
            )
        return out

    def empty_tables(self) -> dict[str, pd.DataFrame]:
        columns = {"_bucket": pd.Series([], dtype="int32"), "_table": pd.Series([], dtype="int32")}
        for slot in self.slots:
            columns[slot] = pd.Series([], dtype=object if slot[0] != "n" else "float64")
        return self.unpack(pd.DataFrame(columns))

    def template_tables(self, dates: list[pd.Timestamp]) -> dict[str, pd.DataFrame]:
        """One made-up retailer with a record of every table the day before each date.

        Features computed from it have the column types of a real bucket's: NumPy sums
        over an empty window come out as integers, over a non-empty one as floats.
        """
        tables = self.empty_tables()
        out = {}
        for name, frame in tables.items():
            days = [min(dates) - pd.Timedelta(days=1)]
            if name not in ("retailers", "managers", "assessments"):
                days = [d - pd.Timedelta(days=1) for d in dates]
            row: dict[str, list] = {}
            for column in frame.columns:
                kind = column_kind(schema_for(name).columns[column].dtype)
                if column in ("retailer_id", "manager_id"):
                    row[column] = ["~template"] * len(days)
                elif kind == "date":
                    row[column] = days
                elif kind in ("number", "integer"):
                    row[column] = [1.0] * len(days)
                else:
                    row[column] = [None] * len(days)
            filled = pd.DataFrame(row)
            out[name] = pd.DataFrame(
                {
                    c: _typed(filled[c], column_kind(schema_for(name).columns[c].dtype))
                    for c in filled
                }
            )
        return out


def _typed(values: pd.Series, kind: str) -> pd.Series:
    values = values.reset_index(drop=True)
    if kind == "text":
        return values.astype("str")
    if kind == "date":
        return pd.to_datetime(values).astype(DATE_UNIT)
    numbers = values.astype("float64")
    if kind == "integer":
        return numbers.astype("int64") if not numbers.isna().any() else numbers.astype("Int64")
    return numbers


def pack_tables(
    tables: dict[str, DataFrame], buckets: int, per_manager: bool = False
) -> tuple[DataFrame, Packing]:
    """One frame of every packed table's rows, each tagged with its table and bucket.

    ``per_manager``: the bucket is the manager's id itself (text; '' for rows of no
    manager), one group per manager, and orders keep their ``ROW_POSITION``.
    """
    from pyspark.sql import functions as F

    from features.engines.spark_session import ROW_POSITION

    tables = {n: t for n, t in tables.items() if n in PACKED_TABLES}
    packing = Packing.of(tables, buckets)

    def bucket_of(column):
        if per_manager:
            return F.coalesce(column.cast("string"), F.lit(""))
        return F.pmod(F.xxhash64(F.coalesce(column, F.lit(""))), F.lit(buckets)).cast("int")

    retailers = tables.get("retailers")
    by_manager = retailers is not None and "manager_id" in retailers.columns
    if per_manager and not by_manager:
        raise UserInputError("planning needs the retailers table with manager_id, lat and lon")
    owner = None
    if by_manager:
        owner = retailers.select(
            "retailer_id", bucket_of(F.col("manager_id")).alias("_owner")
        ).dropDuplicates(["retailer_id"])
    parts = []
    for code, (name, columns) in enumerate(packing.tables):
        frame = tables[name]
        if name in MANAGER_TABLES:
            bucket = bucket_of(F.col("manager_id"))
        elif not by_manager:
            bucket = bucket_of(F.col("retailer_id"))
        elif name == "retailers":
            bucket = bucket_of(F.col("manager_id"))
        else:
            # A retailer missing from the retailers table has no manager, as in pandas.
            frame = frame.join(owner, "retailer_id", "left")
            bucket = F.coalesce(F.col("_owner"), bucket_of(F.lit(None)))
        by_slot = {slot: (column, kind) for column, kind, slot in columns}
        select = [bucket.alias("_bucket"), F.lit(code).cast("int").alias("_table")]
        for slot in packing.slots:
            kind_type = _SLOT_TYPE[slot[0]]
            if slot in by_slot:
                column, kind = by_slot[slot]
                value = F.to_date(F.col(column)) if kind == "date" else F.col(column)
                select.append(value.cast(kind_type).alias(slot))
            else:
                select.append(F.lit(None).cast(kind_type).alias(slot))
        if per_manager:
            for column, kind_type in zip(ROW_POSITION, ("string", "bigint"), strict=True):
                value = F.col(column) if column in frame.columns else F.lit(None)
                select.append(value.cast(kind_type).alias(column))
        parts.append(frame.select(*select))
    packed = parts[0]
    for part in parts[1:]:
        packed = packed.union(part)
    return packed, packing


def default_buckets(tables: dict[str, DataFrame]) -> int:
    """Enough buckets that each holds about ``RETAILERS_PER_BUCKET`` retailers."""
    if "retailers" in tables:
        n = tables["retailers"].count()
    else:
        n = tables["orders"].select("retailer_id").distinct().count()
    return max(1, math.ceil(n / RETAILERS_PER_BUCKET))


def spark_history(tables: dict[str, DataFrame], packing: Packing) -> RetailerHistory:
    """The prepared history of empty tables shaped like the data, with the data's date range.

    What it says (switched-off features, first and last order day) is what
    ``prepare_history`` would say of the whole data, so ``check_as_of`` and the CLI's
    messages read it as they read the pandas engine's history.
    """
    from pyspark.sql import functions as F

    history = prepare_history(packing.empty_tables())
    first, last = tables["orders"].agg(F.min("order_date"), F.max("order_date")).first()
    if first is not None:
        history.first_day, history.last_day = to_days(first), to_days(last)
    return history


def spark_type(dtype) -> str:
    """The Spark SQL type a pandas column of ``dtype`` is shipped as."""
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "string"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp_ntz"
    if pd.api.types.is_float_dtype(dtype):
        return "float" if np.dtype(dtype) == np.float32 else "double"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    return "string"


def to_shipped(frame: pd.DataFrame, dtypes: dict[str, object]) -> pd.DataFrame:
    """The columns typed as the template's, categoricals as text, for Arrow to ship."""
    out = frame[list(dtypes)].copy()
    for column, dtype in dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype):
            out[column] = out[column].astype("object")
        elif out[column].dtype != dtype:
            out[column] = out[column].astype(dtype)
    return out


@dataclass
class SparkFeatures:
    """Retailer features as a Spark frame, plus what the pandas engine reports beside them."""

    frame: DataFrame
    history: RetailerHistory
    columns: list[tuple[str, str]]  # (name, Spark type) of the feature rows
    _result: DataFrame = field(repr=False)
    _totals: dict[str, dict] | None = field(default=None, repr=False)

    @property
    def disabled(self) -> dict[str, str]:
        return self.history.disabled

    def left_out(self) -> dict[str, dict[str, int]]:
        """Who was left out of the population on each date and why, summed over buckets."""
        return {date: dict(counts["excluded"]) for date, counts in self._counts().items()}

    def at_risk(self) -> dict[str, int]:
        """Retailers in the population at risk on each date."""
        return {date: counts["at_risk"] for date, counts in self._counts().items()}

    def _counts(self) -> dict[str, dict]:
        if self._totals is None:
            rows = self._result.filter(f"{LEFT_OUT} is not null").select(LEFT_OUT).collect()
            totals: dict[str, dict] = {}
            for row in rows:
                for date, counts in json.loads(row[0]).items():
                    into = totals.setdefault(date, {"at_risk": 0, "excluded": {}})
                    into["at_risk"] += counts["at_risk"]
                    for why, n in counts["excluded"].items():
                        into["excluded"][why] = into["excluded"].get(why, 0) + n
            self._totals = totals
        return self._totals

    def release(self) -> None:
        self._result.unpersist()


def map_buckets(
    packed: DataFrame,
    packing: Packing,
    ddl: str,
    compute: Callable[[dict[str, pd.DataFrame]], pd.DataFrame],
) -> DataFrame:
    """Spark frame of ``compute(tables of the bucket)`` over every bucket."""

    def run(rows: pd.DataFrame) -> pd.DataFrame:
        return compute(packing.unpack(rows))

    return packed.groupBy("_bucket").applyInPandas(run, ddl)


def build_retailer_features_spark(
    tables: dict[str, DataFrame],
    as_of_dates: Iterable[pd.Timestamp | str],
    active_weeks: int = DEFAULT_ACTIVE_WEEKS,
    buckets: int | None = None,
    lapsed: bool = False,
) -> SparkFeatures:
    """``features.retailer.build_retailer_features`` on Spark: same rows, same values.

    Args:
        tables: contract tables as Spark frames (``read_spark_tables``); ``orders`` needed.
        buckets: groups of managers sent to one Python worker each (default: about
            ``RETAILERS_PER_BUCKET`` retailers per bucket).
        lapsed: keep retailers with no order in ``active_weeks`` too (``retailer_snapshot``).

    Raises:
        UserInputError: an as-of date outside the data (``check_as_of``).
    """
    dates = [pd.Timestamp(d).normalize() for d in as_of_dates]
    packed, packing = pack_tables(tables, buckets or default_buckets(tables))
    history = spark_history(tables, packing)
    for date in dates:
        check_as_of(history, date)
    template, _, _ = build_retailer_features(
        packing.template_tables(dates), dates, active_weeks, lapsed=lapsed
    )
    dtypes = dict(template.dtypes.items())
    columns = [(c, spark_type(t)) for c, t in dtypes.items()]
    ddl = ", ".join(f"`{c}` {t}" for c, t in [*columns, (LEFT_OUT, "string")])
    names = [c for c, _ in columns]

    def features_of_bucket(bucket: dict[str, pd.DataFrame]) -> pd.DataFrame:
        if bucket["orders"].empty and bucket.get("retailers", bucket["orders"]).empty:
            return pd.DataFrame({c: [] for c in [*names, LEFT_OUT]})
        frame, _, snapshots = build_retailer_features(bucket, dates, active_weeks, lapsed=lapsed)
        left_out = {
            str(s.as_of.date()): {"at_risk": len(s.frame), "excluded": s.excluded}
            for s in snapshots
        }
        rows = to_shipped(frame, dtypes).assign(**{LEFT_OUT: None})
        marker = pd.DataFrame({LEFT_OUT: [json.dumps(left_out)]})
        return pd.concat([rows, marker], ignore_index=True)

    from pyspark import StorageLevel

    result = map_buckets(packed, packing, ddl, features_of_bucket).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    frame = result.filter("retailer_id is not null").drop(LEFT_OUT)
    return SparkFeatures(frame, history, columns, result)


def features_to_pandas(frame: DataFrame) -> pd.DataFrame:
    """A Spark feature frame as the pandas engine returns it (categoricals restored)."""
    from features.retailer import CATEGORICAL

    out = frame.toPandas()
    for column, levels in CATEGORICAL.items():
        if column in out:
            out[column] = pd.Categorical(out[column].astype("object"), categories=levels)
    return out
