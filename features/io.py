"""Reading and writing the contract's tables: one file per table, CSV or Parquet.

Writes are atomic (a temporary file in the same folder, then ``os.replace``), so a reader
never sees half a table and a crash leaves the previous file intact.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from features.contract import TABLES

SUFFIXES = (".parquet", ".csv")


class DataContractError(ValueError):
    """The data folder does not meet the contract; ``str()`` lists every problem."""


def table_file_candidates(folder: Path) -> dict[str, list[Path]]:
    """Every file in ``folder`` named like a contract table, by table (absent tables left out).

    Raises:
        DataContractError: the folder is missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataContractError(f"{folder}: no such data folder")
    found: dict[str, list[Path]] = {}
    for name in TABLES:
        present = [folder / f"{name}{suffix}" for suffix in SUFFIXES]
        present = [p for p in present if p.exists()]
        if present:
            found[name] = present
    return found


def find_table_files(folder: Path) -> dict[str, Path]:
    """The contract tables present in ``folder``, by name.

    Raises:
        DataContractError: the folder is missing, or a table exists in two formats.
    """
    found: dict[str, Path] = {}
    for name, present in table_file_candidates(folder).items():
        if len(present) > 1:
            listed = ", ".join(p.name for p in present)
            raise DataContractError(
                f"{folder}: table '{name}' is present twice ({listed}); keep one file per table"
            )
        found[name] = present[0]
    return found


def read_raw_table(path: Path) -> pd.DataFrame:
    """A table as exported, before validation: CSV cells stay text so no value is lost."""
    path = Path(path)
    if path.suffix == ".csv":
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=True, encoding="utf-8-sig")
        except UnicodeDecodeError:
            # Excel on Chinese Windows saves "CSV" as GBK; GB18030 is its superset.
            return pd.read_csv(path, dtype=str, keep_default_na=True, encoding="gb18030")
    if path.suffix == ".parquet":
        # Arrow dates (date32) as datetime64, not one datetime.date object per cell: parsing
        # those objects back was two thirds of validating a folder of 3 M orders.
        return pd.read_parquet(path, to_pandas_kwargs={"date_as_object": False})
    raise DataContractError(f"{path}: unsupported file type (use .csv or .parquet)")


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` atomically as CSV (UTF-8 with BOM, opens in Excel) or Parquet."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise ValueError(f"{path}: unsupported file type (use .csv or .parquet)")
    with atomic_path(path) as tmp:
        if path.suffix == ".csv":
            frame.to_csv(tmp, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d")
        else:
            frame.to_parquet(tmp, index=False)
    return path
