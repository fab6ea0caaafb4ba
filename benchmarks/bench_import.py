"""Import speed: a GBK order CSV and one full xlsx sheet, next to a plain pandas read.

Writes a CSV the way Excel on Chinese Windows saves one (GBK, Chinese headers, 2025年6月2日
dates, ￥1,234.50 amounts, IDs with leading zeros) and a workbook with one order sheet, then
times ``features.importing.run.import_files`` (detect, parse, validate with the contract's
rules) against ``pandas.read_csv`` / ``pandas.read_excel`` of the same file in the same run.
Target: the CSV import within 3x of plain ``read_csv``.

    python benchmarks/bench_import.py --csv-rows 5000000 --xlsx-rows 1000000

Generating a 1M-row workbook takes minutes (openpyxl); the sizes are flags, and files are
kept in --dir and reused when present with the same size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from features.importing.run import import_files

TARGET_RATIO = 3.0


def _orders(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    retailer = rng.integers(1, 300_000, n)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 730, n), unit="D")
    amount = np.round(rng.gamma(2.0, 600.0, n), 2)
    return pd.DataFrame(
        {
            "retailer": np.char.add("0", np.char.zfill(retailer.astype(str), 11)),
            "day": day,
            "amount": amount,
            "quantity": rng.integers(1, 60, n),
        }
    )


def write_csv(path: Path, n: int) -> None:
    chunk = 1_000_000
    with open(path, "w", encoding="gbk", newline="") as handle:
        handle.write("零售户编码,订单日期,订单金额,订货量\n")
        for start in range(0, n, chunk):
            frame = _orders(min(chunk, n - start), seed=start)
            dates = (
                frame["day"].dt.year.astype(str)
                + "年"
                + frame["day"].dt.month.astype(str)
                + "月"
                + frame["day"].dt.day.astype(str)
                + "日"
            )
            amounts = '"￥' + frame["amount"].map("{:,.2f}".format) + '"'
            lines = (
                frame["retailer"]
                + ","
                + dates
                + ","
                + amounts
                + ","
                + frame["quantity"].astype(str)
            )
            handle.write("\n".join(lines) + "\n")


def write_xlsx(path: Path, n: int) -> None:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("订单")
    sheet.append(["零售户编码", "订单日期", "金额", "数量"])
    frame = _orders(n, seed=1)
    for row in zip(
        frame["retailer"],
        frame["day"].dt.to_pydatetime(),
        frame["amount"],
        frame["quantity"].tolist(),
        strict=True,
    ):
        sheet.append(list(row))
    workbook.save(path)


def _timed(label: str, fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<44} {seconds:8.1f} s", flush=True)
    return seconds, value


def _ensure(path: Path, n: int, writer) -> None:
    marker = path.with_suffix(path.suffix + ".rows")
    if path.exists() and marker.exists() and marker.read_text() == str(n):
        return
    _timed(f"write {path.name} ({n:,} rows)", lambda: writer(path, n))
    marker.write_text(str(n))


def bench_csv(folder: Path, n: int) -> float:
    path = folder / f"订单_{n}.csv"
    _ensure(path, n, write_csv)
    print(f"GBK CSV, {n:,} order rows ({path.stat().st_size / 2**20:,.0f} MiB)")
    plain, frame = _timed(
        "pandas.read_csv(encoding='gbk')", lambda: pd.read_csv(path, encoding="gbk")
    )
    assert len(frame) == n
    del frame
    ours, result = _timed("fieldcoach import (parse + validate)", lambda: import_files([path]))
    assert result.ok and len(result.tables["orders"]) == n, result.report[:3]
    ratio = ours / plain
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(
        f"  rows/s: read_csv {n / plain:,.0f}, import {n / ours:,.0f}; import / read_csv = "
        f"{ratio:.2f}x (target <= {TARGET_RATIO:.0f}x: {verdict})"
    )
    return ratio


def bench_xlsx(folder: Path, n: int, with_openpyxl: bool) -> None:
    path = folder / f"订单_{n}.xlsx"
    _ensure(path, n, write_xlsx)
    print(f"xlsx, one sheet of {n:,} order rows ({path.stat().st_size / 2**20:,.0f} MiB)")
    plain, frame = _timed(
        "pandas.read_excel(engine='calamine')", lambda: pd.read_excel(path, engine="calamine")
    )
    assert len(frame) == n
    del frame
    if with_openpyxl:
        slow, _ = _timed(
            "pandas.read_excel(engine='openpyxl')", lambda: pd.read_excel(path, engine="openpyxl")
        )
        print(f"  rows/s: read_excel openpyxl {n / slow:,.0f}")
    ours, result = _timed("fieldcoach import (parse + validate)", lambda: import_files([path]))
    assert result.ok and len(result.tables["orders"]) == n, result.report[:3]
    print(
        f"  rows/s: read_excel calamine {n / plain:,.0f}, import {n / ours:,.0f}; "
        f"import / read_excel = {ours / plain:.2f}x"
    )


def warm_up(folder: Path) -> None:
    """One 10-row import first, so module imports and schema building are not timed."""
    path = folder / "warm-up.csv"
    write_csv(path, 10)
    assert import_files([path]).ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv-rows", type=int, default=5_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/fieldcoach-bench-import"))
    parser.add_argument(
        "--with-openpyxl",
        action="store_true",
        help="also time pandas.read_excel with openpyxl (slow)",
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    warm_up(args.dir)
    if args.csv_rows:
        bench_csv(args.dir, args.csv_rows)
    if args.xlsx_rows:
        bench_xlsx(args.dir, args.xlsx_rows, args.with_openpyxl)


if __name__ == "__main__":
    main()
