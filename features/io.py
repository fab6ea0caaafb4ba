"""Reading and writing the contract's tables (one file per table, CSV or Parquet), and the
reports people open (CSV or Excel).

Writes are atomic (a temporary file in the same folder, then ``os.replace``), so a reader
never sees half a table and a crash leaves the previous file intact.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract import TABLES
from features.errors import UserInputError

SUFFIXES = (".parquet", ".csv")
# Beside the company's tables: what the service learnt (see features.feedback_rows).
FEEDBACK_DIR = "_feedback"


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


def data_fingerprint(folder: Path) -> str:
    """SHA-256 over the names and bytes of the data folder's contract tables and of what
    the service learnt beside them (``_feedback/``): what a model was trained on."""
    import hashlib

    digest = hashlib.sha256()
    files = sorted(find_table_files(Path(folder)).items())
    learnt = sorted((Path(folder) / FEEDBACK_DIR).glob("*.parquet"))
    files += [(f"{FEEDBACK_DIR}/{path.name}", path) for path in learnt]
    for name, path in files:
        digest.update(name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


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


REPORT_SUFFIXES = (".json", ".csv", ".xlsx")


def check_report_path(path: Path, option: str = "--out") -> Path:
    """A report file name a person asked for: JSON, CSV or Excel, chosen by extension."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise UserInputError(f"{option} {path}: use a .json, .csv or .xlsx file name")
    return path


def write_report_rows(rows: list[dict[str, Any]], path: Path, sheet: str = "plan") -> Path:
    """Rows a person reads, atomically: CSV (UTF-8 with BOM, for Excel) or .xlsx by extension.

    The rows are already in the reader's language (``features.i18n.localise_rows``).
    """
    path = check_report_path(path)
    if path.suffix.lower() == ".json":
        raise ValueError(f"{path}: rows go to .csv or .xlsx; write JSON from the plan itself")
    frame = pd.DataFrame(rows, dtype=object)  # whole numbers stay whole beside blanks
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".xlsx":
            with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                frame.to_excel(writer, index=False, sheet_name=sheet[:31])
                sheet_obj = writer.sheets[sheet[:31]]
                for k, column in enumerate(frame.columns, start=1):
                    longest = max([len(str(column)), *(len(str(v)) for v in frame[column])])
                    letter = sheet_obj.cell(row=1, column=k).column_letter
                    sheet_obj.column_dimensions[letter].width = min(60, longest + 2)
        else:
            frame.to_csv(tmp, index=False, encoding="utf-8-sig")
    return path
