"""Writing an import: the canonical folder (Parquet) as one atomic step, and the report.

The tables and ``_import.json`` are written into a hidden folder beside the target and
moved into place with one rename, so a reader sees the whole import or none of it. A target
that holds a previous import is swapped out the same way; any other non-empty folder is
refused rather than mixed with.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

from features.errors import UserInputError
from features.importing.run import ImportResult, ReportRow
from features.io import atomic_path

PROVENANCE_FILE = "_import.json"
REPORT_HEADER = (
    "级别 level",
    "文件 file",
    "工作表 sheet",
    "行 row",
    "列 column",
    "值 value",
    "规则 rule",
    "问题",
    "problem",
    "处理办法",
    "what to do",
)


def write_report(rows: list[ReportRow], path: Path) -> Path:
    """The problem report as CSV with a UTF-8 BOM, so Excel shows the Chinese intact."""
    with atomic_path(Path(path)) as tmp, open(tmp, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(REPORT_HEADER)
        for r in rows:
            writer.writerow(
                [
                    r.level,
                    r.file,
                    r.sheet,
                    "" if r.row is None else r.row,
                    r.column,
                    r.value,
                    r.rule,
                    r.problem_zh,
                    r.problem_en,
                    r.action_zh,
                    r.action_en,
                ]
            )
    return Path(path)


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UserInputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / PROVENANCE_FILE).exists():
        raise UserInputError(
            f"{out}: folder is not empty and holds no earlier import ({PROVENANCE_FILE}); "
            "choose a new or empty folder"
        )


def write_import(result: ImportResult, out: Path, extra: dict | None = None) -> Path:
    """Write the tables as ``DIR/<table>.parquet`` and ``DIR/_import.json``, all or nothing."""
    out = Path(out)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    old: Path | None = None
    try:
        for name, frame in result.tables.items():
            frame.to_parquet(staging / f"{name}.parquet", index=False)
        provenance = {
            "imported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **(extra or {}),
            **result.provenance,
        }
        (staging / PROVENANCE_FILE).write_text(
            json.dumps(provenance, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
        if out.exists():
            old = out.with_name(f".{out.name}.replaced-{os.getpid()}")
            os.replace(out, old)
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not out.exists():
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out
