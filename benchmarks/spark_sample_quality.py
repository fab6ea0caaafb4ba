"""Benchmark: what a churn model trained on a sample drawn on Spark keeps against a full fit.

``train churn --engine spark --sample-retailers N`` draws whole managers on the cluster
and fits on one machine. This script fits once on all the data and once per sample size
on a sample drawn by the same code (``training.sample_spark``), then scores every model on
the SAME holdout: the full data's newest complete snapshot (all retailers at risk), so the
figures compare the models, not the holdouts. Same training settings for every fit.
Simulates the data into ``--data`` (or a scratch folder) unless it already holds
``orders.parquet``; then uses that folder as it is. Each fit's figures are printed as soon
as it is scored and, with ``--report``, written to a JSON file after every step, so a run
stopped part-way keeps what it measured.

    python benchmarks/spark_sample_quality.py [--retailers 100000] [--managers 500]
        [--samples 10000 30000] [--data DIR] [--master local[2]] [--tune] [--report FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from features.engines.spark_session import read_spark_tables, start_spark
from features.io import atomic_path
from features.retailer import model_frame
from features.validate import load_dataset
from simulator import SimulationConfig, Territory, export_dataset
from training.churn import ChurnConfig, train_churn
from training.metrics import score_metrics
from training.sample_spark import write_sample

METRICS = ("roc_auc", "pr_auc", "brier", "ece", "precision_top10", "recall_top10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retailers", type=int, default=100_000)
    parser.add_argument("--managers", type=int, default=500)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--samples", type=int, nargs="+", default=[10_000, 30_000])
    parser.add_argument("--data", type=Path, default=None, help="Use (or keep) data here.")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--tune", action="store_true", help="Tune LightGBM in every fit.")
    parser.add_argument(
        "--report", type=Path, default=None, help="Write the figures here (JSON) after each step."
    )
    args = parser.parse_args()
    config = ChurnConfig(tune=args.tune)
    report: dict = {
        "settings": {
            **{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "max_train_rows": config.max_train_rows,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "fits": [],
    }

    def save() -> None:
        report["cpu_s"] = round(time.process_time(), 1)
        # KiB on Linux. Children: the largest child waited for; Spark's JVM is not until exit.
        report["peak_rss_gib"] = {
            "self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
        }
        report["load_average"] = [round(x, 1) for x in os.getloadavg()]
        if args.report:
            with atomic_path(args.report) as tmp:
                tmp.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="sample-quality-") as scratch_name:
        scratch = Path(scratch_name)
        data = args.data or scratch / "data"
        if not (data / "orders.parquet").exists():
            print(f"simulating {args.retailers:,} retailers x {args.weeks} weeks ...", flush=True)
            t0, c0 = time.perf_counter(), time.process_time()
            sim = SimulationConfig(n_retailers=args.retailers, n_managers=args.managers, seed=0)
            export_dataset(Territory.create(sim).run(args.weeks), data)
            report["simulated"] = {
                "wall_s": round(time.perf_counter() - t0, 1),
                "cpu_s": round(time.process_time() - c0, 1),
            }
            print(
                f"simulated in {report['simulated']['wall_s']:.0f} s "
                f"(CPU {report['simulated']['cpu_s']:.0f} s)",
                flush=True,
            )
            save()

        t0, c0 = time.perf_counter(), time.process_time()
        full = train_churn(load_dataset(data).tables, config)
        full_s, full_cpu = time.perf_counter() - t0, time.process_time() - c0
        top_k = full.report["top_k"]
        base = full.report["lightgbm"]
        rows = {"full": base}
        report["holdout"] = {"cutoff": full.report["cutoff"], "retailers": len(full.y_holdout)}
        report["fits"].append(
            {
                "fit": "full",
                "metrics": {m: base[m] for m in METRICS},
                "wall_s": round(full_s, 1),
                "cpu_s": round(full_cpu, 1),
                "stages_s": full.report["timings_s"],
            }
        )
        save()
        print(
            f"full fit: {full_s:.0f} s (CPU {full_cpu:.0f} s); holdout {full.report['cutoff']}, "
            f"{len(full.y_holdout):,} retailers; stages (s): {full.report['timings_s']}",
            flush=True,
        )
        print(f"  {_cells(base, base)}", flush=True)

        spark = start_spark(args.master, {"spark.ui.enabled": "false"})
        spark.sparkContext.setLogLevel("ERROR")
        t0 = time.perf_counter()
        tables = read_spark_tables(spark, str(data))  # read and typed once for every sample
        read_s = time.perf_counter() - t0
        report["spark_read_s"] = round(read_s, 1)
        print(f"tables read and typed on Spark in {read_s:.0f} s", flush=True)
        for n in args.samples:
            t0 = time.perf_counter()
            folder = scratch / f"sample-{n}"
            sample = write_sample(tables, folder, n, seed=0)
            drawn_s = time.perf_counter() - t0
            t0, c0 = time.perf_counter(), time.process_time()
            fitted = train_churn(load_dataset(folder).tables, config)
            fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
            if fitted.report["cutoff"] != full.report["cutoff"]:
                print(f"  note: the sample's own holdout is {fitted.report['cutoff']}")
            x = model_frame(full.holdout, fitted.features)
            p = fitted.calibration.transform(fitted.lightgbm.predict_raw(x))
            label = f"sample {sample.retailers:,} ({sample.share:.0%}, {sample.managers} mgrs)"
            metrics = score_metrics(full.y_holdout, p, top_k)
            rows[label] = metrics
            report["fits"].append(
                {
                    "fit": "sample",
                    "asked": n,
                    "retailers": sample.retailers,
                    "managers": sample.managers,
                    "share": round(sample.share, 4),
                    "orders": sample.orders,
                    "of_orders": sample.of_orders,
                    "own_cutoff": fitted.report["cutoff"],
                    "metrics": {m: metrics[m] for m in METRICS},
                    "kept": {m: metrics[m] / base[m] if base[m] else None for m in METRICS},
                    "drawn_s": round(drawn_s, 1),
                    "wall_s": round(fit_s, 1),
                    "cpu_s": round(fit_cpu, 1),
                }
            )
            save()
            print(
                f"{label}: {sample.orders:,} of {sample.of_orders:,} orders; drawn in "
                f"{drawn_s:.0f} s (Spark's JVM: its CPU is not this process's), fit in "
                f"{fit_s:.0f} s (CPU {fit_cpu:.0f} s)",
                flush=True,
            )
            print(f"  {_cells(metrics, base)}", flush=True)
        spark.stop()
    save()

    print(f"\nall scored on the full data's holdout ({len(full.y_holdout):,} retailers):")
    print(f"{'fit':<34}" + "".join(f"{m:>16}" for m in METRICS))
    for label, metrics in rows.items():
        print(f"{label:<34}" + _cells(metrics, base))
    print(
        f"settings: ChurnConfig(tune={args.tune}), max_train_rows "
        f"{config.max_train_rows:,} per fit; (x%) = share of the full fit's figure"
    )

    print(
        f"process CPU {report['cpu_s']:.0f} s, peak RSS {report['peak_rss_gib']['self']} GiB "
        f"(largest child {report['peak_rss_gib']['children']} GiB)"
    )


def _cells(metrics: dict, base: dict) -> str:
    """Each metric with its share of the full fit's figure, e.g. ``0.9602 (100%)``."""
    cells = []
    for m in METRICS:
        kept = metrics[m] / base[m] if base[m] else float("nan")
        cells.append(f"{metrics[m]:>9.4f} ({kept:>4.0%})")
    return "".join(f"{c:>16}" for c in cells)


if __name__ == "__main__":
    main()
