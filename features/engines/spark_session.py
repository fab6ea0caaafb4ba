"""A SparkSession for fieldcoach, and the contract's tables read and written on Spark.

The data folder may be any path Spark reads (a local folder, ``hdfs://``, ``s3a://``): each
table is ``NAME.parquet`` (a file or a folder of parts, partitioned or not), a folder
``NAME/`` of Parquet parts, or ``NAME.csv``. Columns are typed by the same contract as the
pandas engine (``features.contract``); a value that does not parse stops the run with one
line naming the table, column, rule and an example.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
import warnings
from typing import TYPE_CHECKING

from features.coercion import column_kind
from features.contract import TABLES, schema_for
from features.errors import UserInputError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

JAVA_HELP = (
    "--engine spark needs a Java 17+ runtime and none was found: "
    "sudo apt-get install openjdk-17-jre-headless (or set JAVA_HOME)"
)
DEFAULT_CONF = {
    # Dates are calendar days; the machine's time zone must not shift them.
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}
_TYPE_RULES = {
    "date": "a date (YYYY-MM-DD)",
    "number": "a number",
    "integer": "a whole number",
}


def start_spark(
    master: str = "local[*]", conf: dict[str, str] | None = None, app_name: str = "fieldcoach"
) -> SparkSession:
    """The session for ``master`` with fieldcoach's defaults under the caller's ``conf``."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise UserInputError(JAVA_HELP)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserInputError(
            "--engine spark needs PySpark: pip install 'fieldcoach[spark]'"
        ) from None

    if master.startswith("local"):
        # Local workers must run this interpreter (the one with fieldcoach installed);
        # on a cluster the deployment decides (spark.pyspark.python in FIELDCOACH_SPARK_CONF).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # PySpark 4 warns on pandas 3; the engine's results are held equal to pandas by tests.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(key, str(value))
    return builder.getOrCreate()


def _hadoop_path(spark: SparkSession, path: str):
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p, p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def path_exists(spark: SparkSession, path: str) -> bool:
    p, fs = _hadoop_path(spark, path)
    return bool(fs.exists(p))


def _location(root: str) -> str:
    """A local path made absolute (Spark workers may run elsewhere); URLs kept as given."""
    return root if "://" in root else os.path.abspath(root)


def find_spark_tables(spark: SparkSession, root: str) -> dict[str, tuple[str, str]]:
    """The contract tables under ``root``: name -> (path, format)."""
    root = _location(str(root)).rstrip("/")
    if not path_exists(spark, root):
        raise UserInputError(f"{root}: no such data folder")
    found: dict[str, tuple[str, str]] = {}
    for name in TABLES:
        candidates = [
            (f"{root}/{name}.parquet", "parquet"),
            (f"{root}/{name}", "parquet"),
            (f"{root}/{name}.csv", "csv"),
        ]
        present = [c for c in candidates if path_exists(spark, c[0])]
        if len(present) > 1:
            listed = ", ".join(p.rsplit("/", 1)[-1] for p, _ in present)
            raise UserInputError(
                f"{root}: table '{name}' is present twice ({listed}); keep one per table"
            )
        if present:
            found[name] = present[0]
    if "orders" not in found:
        raise UserInputError(
            f"{root}: required table missing (orders.parquet, orders/ or orders.csv)"
        )
    return found


ROW_POSITION = ("_file", "_row")  # where a row sits in its table's files: (path, row)


def read_spark_tables(
    spark: SparkSession, root: str, names: list[str] | None = None, positions: bool = False
) -> dict[str, DataFrame]:
    """The contract tables under ``root`` typed by the contract (extra columns dropped).

    ``positions`` keeps, on ``orders`` and ``retailers``, each row's file and row number
    (``ROW_POSITION``): the pandas engine meets retailers in the order of their first order
    row, and the planner routes them in that order, so a plan made on Spark needs it too.
    """
    from pyspark.sql import functions as F

    tables = {}
    for name, (path, fmt) in find_spark_tables(spark, root).items():
        if names is not None and name not in names and name != "orders":
            continue
        reader = spark.read
        if fmt == "csv":
            # Cells stay text, as in the pandas reader; the contract types them below.
            frame = reader.option("header", True).option("encoding", "UTF-8").csv(path)
        else:
            frame = reader.parquet(path)
        keep: tuple[str, ...] = ()
        if positions and name in ("orders", "retailers"):
            # Parquet numbers its rows; a CSV split's rows come in order within the file.
            row = F.col("_metadata.row_index") if fmt != "csv" else F.monotonically_increasing_id()
            frame = frame.select(
                "*", F.col("_metadata.file_path").alias("_file"), row.alias("_row")
            )
            keep = ROW_POSITION
        tables[name] = type_table(frame, name, path.rsplit("/", 1)[-1], keep)
    _add_feedback(spark, root, tables, names)
    return tables


def _add_feedback(
    spark: SparkSession, root: str, tables: dict[str, DataFrame], names: list[str] | None
) -> None:
    """What the service learnt (``_feedback/NAME.parquet``) after the company's rows whose
    key they do not hold, as ``features.validate.load_dataset`` merges it."""
    from pyspark.sql import functions as F

    from features.feedback_rows import FEEDBACK_DIR, FEEDBACK_KEYS

    root = _location(str(root)).rstrip("/")
    for name, keys in FEEDBACK_KEYS.items():
        path = f"{root}/{FEEDBACK_DIR}/{name}.parquet"
        if (names is not None and name not in names) or not path_exists(spark, path):
            continue
        learnt = type_table(spark.read.parquet(path), name, f"{FEEDBACK_DIR}/{name}.parquet")
        learnt = learnt.dropDuplicates([k for k in keys if k in learnt.columns])
        if name in tables:
            held = tables[name].select(*[F.col(k) for k in keys if k in tables[name].columns])
            learnt = learnt.join(held, [k for k in keys if k in held.columns], "left_anti")
            tables[name] = tables[name].unionByName(learnt, allowMissingColumns=True)
        else:
            tables[name] = learnt


def _as_text(column: Column, source_type: str) -> Column:
    from pyspark.sql import functions as F

    if source_type in ("float", "double") or source_type.startswith("decimal"):
        # Integer IDs read as floats (123.0) mean "123", as in the pandas reader.
        column = F.when(column == F.floor(column), column.cast("bigint").cast("string")).otherwise(
            column.cast("string")
        )
    else:
        column = column.cast("string")
    column = F.trim(column)
    return F.when(column == "", None).otherwise(column)


def type_table(frame: DataFrame, name: str, file: str, keep: tuple[str, ...] = ()) -> DataFrame:
    """Contract columns of one table, typed; raises on a missing column or unparseable value.

    Text is trimmed (blank is null), numbers are doubles (integers bigint) and dates are
    calendar dates. Spark reads files in parallel, so a bad value is reported with an
    example rather than a row number.
    """
    from pyspark.sql import functions as F

    frame = frame.toDF(*[c if c in keep else c.strip() for c in frame.columns])
    source = dict(frame.dtypes)
    schema = schema_for(name)
    columns: list[Column] = []
    checks: list[tuple[str, str, Column]] = []
    for column, spec in schema.columns.items():
        if column not in source:
            if spec.required:
                raise UserInputError(f"{file}: column {column}: required column missing")
            continue
        kind, raw = column_kind(spec.dtype), F.col(column)
        if kind == "text":
            columns.append(_as_text(raw, source[column]).alias(column))
            continue
        given = source[column]
        if kind == "date":
            if given == "date":
                typed = raw
            elif given.startswith("timestamp"):
                typed = F.to_date(raw)
            else:
                text = F.trim(raw.cast("string"))
                typed = F.to_date(F.try_to_timestamp(text))
                checks.append((column, kind, raw.isNotNull() & (text != "") & typed.isNull()))
        else:
            text = F.trim(raw.cast("string"))
            typed = raw.cast("double") if given != "string" else text.try_cast("double")
            if given == "string":
                checks.append((column, kind, raw.isNotNull() & (text != "") & typed.isNull()))
            if kind == "integer":
                checks.append((column, kind, typed.isNotNull() & (typed != F.floor(typed))))
                typed = typed.cast("bigint")
        columns.append(typed.alias(column))
    if checks:
        counts = frame.agg(
            *[F.sum(bad.cast("long")).alias(f"_{i}") for i, (_, _, bad) in enumerate(checks)]
        ).first()
        for i, (column, kind, bad) in enumerate(checks):
            if counts[f"_{i}"]:
                example = frame.filter(bad).select(column).first()[0]
                raise UserInputError(
                    f"{file}: column {column}: {counts[f'_{i}']:,} value(s) are not "
                    f"{_TYPE_RULES[kind]}, e.g. {example!r}"
                )
    typed_frame = frame.select(*columns, *keep)
    for column, spec in schema.columns.items():
        if spec.unique and column in source:
            dup = typed_frame.groupBy(column).count().filter("count > 1").first()
            if dup is not None:
                raise UserInputError(
                    f"{file}: column {column}: values must be unique, "
                    f"{dup[column]!r} appears {dup['count']:,} times"
                )
    return typed_frame


def write_parquet(frame: DataFrame, target: str, partition_by: list[str] | None = None) -> str:
    """Write ``frame`` as a Parquet dataset at ``target``, moved into place only when complete.

    Spark writes beside the target under a hidden name (readers skip names starting with
    ``.``) and the folder is renamed over the old one, so a reader never sees half a
    dataset and a failed job leaves the previous one intact.
    """
    spark = frame.sparkSession
    target = _location(str(target)).rstrip("/")
    parent, name = target.rsplit("/", 1)
    tag = uuid.uuid4().hex[:8]
    tmp, old = f"{parent}/.{name}.tmp-{tag}", f"{parent}/.{name}.old-{tag}"
    writer = frame.write.mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    tmp_path, fs = _hadoop_path(spark, tmp)
    target_path, _ = _hadoop_path(spark, target)
    old_path, _ = _hadoop_path(spark, old)
    try:
        writer.parquet(tmp)
        had_old = fs.exists(target_path)
        if had_old:
            fs.rename(target_path, old_path)
        if not fs.rename(tmp_path, target_path):
            if had_old:
                fs.rename(old_path, target_path)
            raise OSError(f"{target}: could not move the written dataset into place")
        if had_old:
            fs.delete(old_path, True)
    finally:
        if fs.exists(tmp_path):
            fs.delete(tmp_path, True)
    return target
