"""Benchmark: features and churn scores on Spark next to the pandas engine, same data, same run.

Simulates a province (default 300,000 retailers x 104 weeks) unless ``--data`` holds one,
trains a churn champion on a small separate territory (scoring time does not depend on the
model's quality), then times and measures the peak memory and CPU time (this process and
its children) of: pandas features (one snapshot) and pandas scoring, before Spark starts;
then Spark features and Spark scoring on ``--master`` (default local[2]). It checks the two
engines agree (features and churn probabilities: max abs diff; reasons: equal) and
extrapolates the cluster for 5 million retailers x 104 weeks in one hour, with the
assumptions printed. Pass ``--data`` of a simulated folder for figures without the
simulator's leftover memory in the process.

    python benchmarks/bench_spark.py [--retailers 300000] [--managers 1500] [--weeks 104]
        [--master local[2]] [--data DIR] [--skip-scores] [--skip-features]
"""

from __future__ import annotations

import os

# Before LightGBM loads (below): its idle OpenMP threads must not spin on a shared
# machine (see fieldcoach/cli/main.py, which does the same for every command).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import contextlib
import math
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from features.retailer import build_retailer_features
from features.validate import load_dataset
from fieldcoach.settings import Settings
from simulator import SimulationConfig, Territory, export_dataset

TARGET_RETAILERS, TARGET_SECONDS = 5_000_000, 3600


class PeakMemory:
    """Peak resident memory of this process and its children (Spark's JVM and workers),
    and the CPU time (user + system) they spent meanwhile: on a shared machine wall time
    measures the load as much as the work."""

    def __init__(self) -> None:
        self.peak, self.at_start, self._stop = 0, 0, threading.Event()
        self._start: dict[int, float] = {}
        self._last: dict[int, float] = {}

    def _processes(self) -> dict[int, tuple[float, int]]:
        me = psutil.Process()
        seen = {}
        for p in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a worker may exit meanwhile
                cpu = p.cpu_times()
                seen[p.pid] = (cpu.user + cpu.system, p.memory_info().rss)
        return seen

    def _sample(self) -> None:
        while True:
            seen = self._processes()
            self.peak = max(self.peak, sum(rss for _, rss in seen.values()))
            self._last.update({pid: cpu for pid, (cpu, _) in seen.items()})
            if self._stop.wait(0.2):
                return

    def __enter__(self) -> PeakMemory:
        seen = self._processes()
        self._start = {pid: cpu for pid, (cpu, _) in seen.items()}
        self.at_start = sum(rss for _, rss in seen.values())
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._last.update({pid: cpu for pid, (cpu, _) in self._processes().items()})

    @property
    def cpu_seconds(self) -> float:
        """CPU of every process seen; one that exited between samples loses <= 0.2 s."""
        return sum(cpu - self._start.get(pid, 0.0) for pid, cpu in self._last.items())

    @property
    def gib(self) -> float:
        return self.peak / 1024**3


def timed(label: str, fn, results: dict):
    with PeakMemory() as memory:
        t0 = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - t0
    results[label] = (seconds, memory.gib, memory.cpu_seconds)
    print(
        f"  {label:<22} {seconds:8.1f} s   cpu {memory.cpu_seconds:8.1f} s   "
        f"peak {memory.gib:6.2f} GiB (resident at start {memory.at_start / 1024**3:.2f})",
        flush=True,
    )
    return value


def champion_home(scratch: Path) -> Settings:
    from mlflow import MlflowClient

    from fieldcoach.registry import CHAMPION
    from training.churn import ChurnConfig
    from training.churn_run import run_churn_training

    home = scratch / "home"
    territory = Territory.create(SimulationConfig(n_retailers=2000, n_managers=10, seed=7))
    export_dataset(territory.run(104), home / "train-data")
    settings = Settings(home=home)
    train = load_dataset(home / "train-data")
    run_churn_training(train, ChurnConfig(tune=False), settings, None, log=print)
    uri = settings.resolved_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if CHAMPION not in client.get_registered_model("retailer-churn").aliases:
        client.set_registered_model_alias("retailer-churn", CHAMPION, "1")
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retailers", type=int, default=300_000)
    parser.add_argument("--managers", type=int, default=1_500)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--data", type=Path, default=None, help="Use (or keep) data here.")
    parser.add_argument("--skip-scores", action="store_true")
    parser.add_argument(
        "--skip-features", action="store_true", help="Only the scores (each pair still same-run)."
    )
    args = parser.parse_args()

    from features.engines.spark import build_retailer_features_spark, features_to_pandas
    from features.engines.spark_session import read_spark_tables, start_spark, write_parquet

    results: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as scratch_name:
        scratch = Path(scratch_name)
        data = args.data or scratch / "data"
        if not (data / "orders.parquet").exists():
            print(f"simulating {args.retailers:,} retailers x {args.weeks} weeks ...", flush=True)
            config = SimulationConfig(
                n_retailers=args.retailers, n_managers=args.managers, seed=args.seed
            )
            export_dataset(Territory.create(config).run(args.weeks), data)
        orders = pd.read_parquet(data / "orders.parquet", columns=["order_date"])
        n_orders = len(orders)
        last = pd.to_datetime(orders["order_date"]).max()
        del orders
        as_of = (last + pd.Timedelta(days=1)).normalize()
        print(f"data: {data} ({n_orders:,} orders, as of {as_of.date()})")

        sessions = []

        def session():
            """Spark, started when first needed (the pandas figures before it exclude it)."""
            if not sessions:
                sessions.append(
                    start_spark(
                        args.master,
                        {
                            "spark.driver.memory": args.driver_memory,
                            "spark.ui.enabled": "false",
                            "spark.sql.shuffle.partitions": "64",
                        },
                    )
                )
                sessions[0].sparkContext.setLogLevel("ERROR")
            return sessions[0]

        # Every pandas step before Spark starts, so its figures exclude the JVM and workers;
        # the champion is trained first, so no step counts the training's memory as its own.
        settings = None if args.skip_scores else champion_home(scratch)
        want_features = want_scores = None
        print("pandas engine:")
        if not args.skip_features:
            want_features = timed(
                "pandas features",
                lambda: build_retailer_features(load_dataset(data).tables, [as_of], 8)[0],
                results,
            )
        if settings is not None:
            from serving.churn_scores import load_churn_model, score_churn
            from serving.churn_scores_spark import download_champion, score_churn_spark

            def pandas_scores():
                model, uri = load_churn_model(settings)
                return score_churn(load_dataset(data).tables, as_of, model, uri)

            want_scores = timed("pandas scores", pandas_scores, results)
        print(f"spark engine ({args.master}):")
        if want_features is not None:
            out = scratch / "features.parquet"

            def spark_features():
                result = build_retailer_features_spark(
                    read_spark_tables(session(), str(data)), [as_of], 8
                )
                write_parquet(result.frame, str(out))
                result.release()

            timed("spark features", spark_features, results)
        if want_scores is not None:

            def spark_scores():
                tables = read_spark_tables(session(), str(data))
                scores = score_churn_spark(tables, as_of, *download_champion(settings))
                write_parquet(scores.frame, str(scratch / "scores.parquet"), ["as_of"])
                scores.release()

            timed("spark scores", spark_scores, results)
        if want_features is not None:
            got = features_to_pandas(session().read.parquet(str(scratch / "features.parquet")))
            key = ["retailer_id"]
            a = want_features.sort_values(key, ignore_index=True)
            b = got.sort_values(key, ignore_index=True)[list(want_features.columns)]
            numeric = [c for c in a.columns if pd.api.types.is_float_dtype(a[c])]
            diff = max(
                float(np.nanmax(np.abs(a[c].to_numpy(float) - b[c].to_numpy(float)), initial=0))
                for c in numeric
            )
            print(f"features: rows pandas {len(a):,}, spark {len(b):,}; max abs diff {diff:.3g}")
        if want_scores is not None:
            got = session().read.parquet(str(scratch / "scores.parquet")).toPandas()
            both = want_scores.merge(got, on="retailer_id", how="outer", suffixes=("", "_spark"))
            diff = float(
                np.nanmax(np.abs(both["churn_probability"] - both["churn_probability_spark"]))
            )
            unmatched = int(
                both[["churn_probability", "churn_probability_spark"]].isna().sum().sum()
            )
            same_reasons = bool((both["reasons"] == both["reasons_spark"]).all())
            print(
                f"scores: rows pandas {len(want_scores):,}, spark {len(got):,}, unmatched "
                f"{unmatched}; max abs diff of churn_probability {diff:.3g}; "
                f"reasons equal: {same_reasons}"
            )
        if sessions:
            sessions[0].stop()

    cores = spark_cores(args.master)
    spark_runs = [results[k] for k in ("spark features", "spark scores") if k in results]
    seconds = sum(r[0] for r in spark_runs)
    cpu = sum(r[2] for r in spark_runs)
    rate = args.retailers / (seconds * cores)  # retailers per core-second, features + scores
    overhead = 1.5
    needed = math.ceil(TARGET_RETAILERS * overhead / (rate * TARGET_SECONDS))
    print(f"\nspark on {args.master}: {rate:,.1f} retailers x {args.weeks} weeks per core-second")
    print(
        f"extrapolation to {TARGET_RETAILERS:,} retailers x 104 weeks within one hour: "
        f"{needed} cores, e.g. {math.ceil(needed / 4)} executors of 4 cores and 16 GiB"
    )
    if cpu:
        # Under a load from other jobs the wall time counts the waiting; CPU seconds count
        # the work a dedicated core would do.
        cpu_rate = args.retailers / cpu
        cpu_needed = math.ceil(TARGET_RETAILERS * overhead / (cpu_rate * TARGET_SECONDS))
        print(
            f"from CPU time ({cpu:,.1f} s): {cpu_rate:,.1f} retailers per CPU-second, "
            f"{cpu_needed} dedicated cores"
        )
    print(
        "  assumptions: work grows linearly with retailers (buckets of whole managers are "
        "independent; the shuffle of orders is the only all-to-all step); a cluster core is "
        "as fast as one of this machine's; x1.5 for shuffle over the network, stragglers "
        "and reading from remote storage; memory per executor core: one bucket "
        "(~4,000 retailers, ~50 MB in pandas) plus Arrow buffers, well under 4 GiB."
    )


def spark_cores(master: str) -> int:
    if master.startswith("local[") and master[6:-1].isdigit():
        return int(master[6:-1])
    return psutil.cpu_count() or 1


if __name__ == "__main__":
    main()
