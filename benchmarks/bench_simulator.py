"""Benchmark: simulate a province (300,000 retailers x 104 weeks) and write it.

Target (issue 2): at most 5 minutes and 8 GiB on a 2-core machine. Prints wall time per
phase, peak resident memory and rows written.

    python benchmarks/bench_simulator.py [--retailers 300000] [--managers 1500] [--weeks 104]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from simulator import SimulationConfig, Territory, export_dataset


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retailers", type=int, default=300_000)
    parser.add_argument("--managers", type=int, default=1_500)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="Keep the data here.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch) / "data"
        t0 = time.perf_counter()
        territory = Territory.create(
            SimulationConfig(n_retailers=args.retailers, n_managers=args.managers, seed=args.seed)
        )
        territory.run(args.weeks)
        t1 = time.perf_counter()
        rows = export_dataset(territory, out)
        t2 = time.perf_counter()
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())

    total = t2 - t1 + (t1 - t0)
    print(
        f"simulator benchmark: {args.retailers:,} retailers x {args.weeks} weeks, "
        f"{args.managers:,} managers"
    )
    print(f"  simulate   {t1 - t0:8.1f} s")
    print(f"  export     {t2 - t1:8.1f} s")
    print(f"  total      {total:8.1f} s   (target <= 300 s: {'ok' if total <= 300 else 'MISSED'})")
    peak = peak_rss_gib()
    print(f"  peak RSS   {peak:8.2f} GiB (target <= 8 GiB: {'ok' if peak <= 8 else 'MISSED'})")
    print(f"  on disk    {size / 1024**2:8.0f} MiB")
    for name, count in rows.items():
        print(f"  {name:<12} {count:>13,} rows")


if __name__ == "__main__":
    main()
