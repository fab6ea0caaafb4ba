"""Benchmark: churn features and training at province scale.

Targets (issue 3), 300,000 retailers x 104 weeks on a 2-core machine: features at 4
snapshot dates in at most 3 minutes and 8 GiB; training in at most 5 minutes.

    python benchmarks/bench_churn.py [--data DIR] [--retailers 300000] [--weeks 104]

Without --data it simulates the territory first (not timed). Each phase runs in its own
process so its peak memory is its own.
"""

from __future__ import annotations

import os

# Before LightGBM loads (below): its idle OpenMP threads must not spin on a shared
# machine (see fieldcoach/cli/main.py, which does the same for every command).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def phase_features(data: Path) -> dict:
    from features.retailer import build_retailer_features, prepare_history
    from features.validate import load_dataset

    t0 = time.perf_counter()
    dataset = load_dataset(data)
    t1 = time.perf_counter()
    history = prepare_history(dataset.tables)
    end = pd.Timestamp(history.last_day, unit="D")
    dates = [end - pd.Timedelta(weeks=8 + 4 * k) for k in range(4)]
    frame, _, _ = build_retailer_features(dataset.tables, dates, 8, history)
    t2 = time.perf_counter()
    return {
        "load_and_validate_s": t1 - t0,
        "features_s": t2 - t1,
        "rows": len(frame),
        "columns": frame.shape[1],
        "orders": len(dataset.tables["orders"]),
        "peak_gib": peak_gib(),
    }


def phase_train(data: Path) -> dict:
    from features.validate import load_dataset
    from training.churn import ChurnConfig, train_churn

    dataset = load_dataset(data)
    t0 = time.perf_counter()
    report = train_churn(dataset.tables, ChurnConfig()).report
    t1 = time.perf_counter()
    return {
        "train_s": t1 - t0,
        "rows_train": report["rows"]["train"],
        "rows_used": report["rows"]["train_used"],
        "roc_auc": report["lightgbm"]["roc_auc"],
        "peak_gib": peak_gib(),
    }


RFM_SQL = """
WITH last AS (SELECT max(order_date) AS day FROM read_parquet('{orders}')),
snapshots AS (
    SELECT (SELECT day FROM last) - INTERVAL (8 * 7 + 28 * k) DAY AS as_of FROM range(4) t(k)
)
SELECT s.as_of, o.retailer_id,
    date_diff('day', max(o.order_date), s.as_of) AS days_since_last_order,
    date_diff('day', min(o.order_date), s.as_of) AS tenure_days,
    count(*) FILTER (WHERE o.order_date >= s.as_of - INTERVAL 28 DAY) AS orders_4w,
    count(*) FILTER (WHERE o.order_date >= s.as_of - INTERVAL 91 DAY) AS orders_13w,
    count(*) FILTER (WHERE o.order_date >= s.as_of - INTERVAL 182 DAY) AS orders_26w,
    coalesce(sum(o.amount) FILTER (WHERE o.order_date >= s.as_of - INTERVAL 28 DAY), 0)
        AS amount_4w,
    coalesce(sum(o.amount) FILTER (WHERE o.order_date >= s.as_of - INTERVAL 91 DAY), 0)
        AS amount_13w,
    coalesce(sum(o.amount) FILTER (WHERE o.order_date >= s.as_of - INTERVAL 182 DAY), 0)
        AS amount_26w,
    avg(o.amount) FILTER (WHERE o.order_date >= s.as_of - INTERVAL 91 DAY) AS mean_amount_13w,
    avg(o.brand_count) FILTER (WHERE o.order_date >= s.as_of - INTERVAL 91 DAY)
        AS brands_13w
FROM read_parquet('{orders}') o JOIN snapshots s ON o.order_date < s.as_of
GROUP BY s.as_of, o.retailer_id
"""


def phase_validate(data: Path) -> dict:
    from features.validate import load_dataset

    t0 = time.perf_counter()
    dataset = load_dataset(data)
    return {
        "load_and_validate_s": time.perf_counter() - t0,
        "orders": len(dataset.tables["orders"]),
        "peak_gib": peak_gib(),
    }


def phase_scan(data: Path) -> dict:
    """The baseline issue 15 names: a bare DuckDB scan, 10 RFM columns at 4 snapshots."""
    import duckdb

    t0 = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET threads TO 2")
    frame = connection.execute(RFM_SQL.format(orders=data / "orders.parquet")).df()
    return {
        "scan_s": time.perf_counter() - t0,
        "rows": len(frame),
        "columns": frame.shape[1] - 2,
        "peak_gib": peak_gib(),
    }


PHASES = {
    "features": phase_features,
    "train": phase_train,
    "validate": phase_validate,
    "scan": phase_scan,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--retailers", type=int, default=300_000)
    parser.add_argument("--managers", type=int, default=1_500)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--phase", choices=list(PHASES), help=argparse.SUPPRESS)
    parser.add_argument(
        "--validation-only",
        action="store_true",
        help="only load + validate next to a bare DuckDB RFM scan of the same orders",
    )
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args.data), default=str))
        return
    with tempfile.TemporaryDirectory() as scratch:
        data = args.data
        if data is None:
            from simulator import SimulationConfig, Territory, export_dataset

            data = Path(scratch)
            territory = Territory.create(
                SimulationConfig(n_retailers=args.retailers, n_managers=args.managers, seed=0)
            )
            export_dataset(territory.run(args.weeks), data)
        results = {}
        phases = ("validate", "scan") if args.validation_only else ("features", "train")
        for phase in phases:
            out = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--data", str(data)],
                check=True,
                capture_output=True,
                text=True,
            )
            results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
    if args.validation_only:
        v, scan = results["validate"], results["scan"]
        ratio = v["load_and_validate_s"] / scan["scan_s"]
        print(f"validation benchmark: {v['orders']:,} orders")
        print(
            f"  load + validate       {v['load_and_validate_s']:7.1f} s, peak "
            f"{v['peak_gib']:.2f} GiB"
        )
        print(
            f"  DuckDB RFM scan       {scan['scan_s']:7.1f} s  ({scan['columns']} columns x "
            f"{scan['rows']:,} retailer-snapshots), peak {scan['peak_gib']:.2f} GiB"
        )
        print(
            f"  ratio                 {ratio:7.2f}x  (target <= 2x: "
            f"{'ok' if ratio <= 2 else 'MISSED'})"
        )
        return
    f, t = results["features"], results["train"]
    features_total = f["load_and_validate_s"] + f["features_s"]
    print(
        f"churn benchmark: {args.retailers:,} retailers x {args.weeks} weeks "
        f"({f['orders']:,} orders)"
    )
    print(f"  load + validate       {f['load_and_validate_s']:7.1f} s")
    print(
        f"  features, 4 snapshots {f['features_s']:7.1f} s  -> {f['rows']:,} rows x "
        f"{f['columns']} columns"
    )
    print(
        f"  features total        {features_total:7.1f} s  (target <= 180 s: "
        f"{'ok' if features_total <= 180 else 'MISSED'}), peak {f['peak_gib']:.2f} GiB "
        f"(target <= 8: {'ok' if f['peak_gib'] <= 8 else 'MISSED'})"
    )
    print(
        f"  training              {t['train_s']:7.1f} s  (target <= 300 s: "
        f"{'ok' if t['train_s'] <= 300 else 'MISSED'}), {t['rows_train']:,} training rows "
        f"({t['rows_used']:,} used), peak {t['peak_gib']:.2f} GiB, holdout ROC-AUC "
        f"{t['roc_auc']:.4f}"
    )


if __name__ == "__main__":
    main()
