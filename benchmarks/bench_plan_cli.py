"""Benchmark: `fieldcoach plan visits` for one manager, as a planner runs it from a shell.

Target (issue 12): about 2 s for one manager on a 3,000-retailer folder. Every figure is a
fresh command (interpreter start, imports, data read and validated, champions loaded, the
week prepared for that manager, the plan solved and written), measured as wall and CPU time
of the child process, next to a baseline in the same run: a command that only imports
what every plan needs (pandas, MLflow, LightGBM, pandera), the floor no plan goes below
without changing libraries. Without ``--data``, a territory is simulated and churn and
visit-effect champions are trained first (a few minutes, not timed).

    python benchmarks/bench_plan_cli.py [--data DIR --home HOME] [--manager M0003]
        [--week 2026-W01] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
IMPORT_FLOOR = "import pandas, mlflow.pyfunc, lightgbm, pandera.pandas"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the child's own) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def prepare(scratch: Path, env: dict[str, str]) -> Path:
    """A 3,000-retailer folder with trained champions in ``env``'s FIELDCOACH_HOME."""
    data = scratch / "data"
    fieldcoach = str(BIN / "fieldcoach")
    steps = [
        ["simulate", "--out", str(data), "--retailers", "3000", "--managers", "12"],
        ["train", "churn", "--data", str(data), "--report", str(scratch / "churn.json")],
        ["train", "visits", "--data", str(data), "--report", str(scratch / "visits.json")],
    ]
    steps[0] += ["--weeks", "104", "--seed", "7"]
    for step in steps:
        subprocess.run([fieldcoach, *step], env=env, check=True, stdout=subprocess.DEVNULL)
    return data


def report(label: str, runs: list[tuple[float, float]]) -> tuple[float, float]:
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    print(f"{label:<40} wall {wall:6.2f} s   CPU {cpu:6.2f} s   (median of {len(runs)})")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a data folder (default: simulate one)")
    parser.add_argument("--home", type=Path, help="FIELDCOACH_HOME with its champions")
    parser.add_argument("--manager", default="M0003")
    parser.add_argument("--week", default="2026-W01")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        env.pop("MLFLOW_TRACKING_URI", None)
        env["FIELDCOACH_HOME"] = str(args.home or Path(scratch) / "home")
        data = args.data or prepare(Path(scratch), env)
        out = Path(scratch) / "plan.json"
        plan = [str(BIN / "fieldcoach"), "plan", "visits", "--data", str(data)]
        plan += ["--manager", args.manager, "--week", args.week, "--out", str(out)]
        floor = [sys.executable, "-c", IMPORT_FLOOR]
        timed(floor, env)  # warm the file cache once, for both
        floors, plans = [], []
        for _ in range(args.runs):  # interleaved: a noisy machine slows both alike
            floors.append(timed(floor, env))
            plans.append(timed(plan, env))
        print(f"plan visits --manager {args.manager} --week {args.week} on {data}")
        print(f"baseline command: python -c {IMPORT_FLOOR!r}")
        floor_wall, floor_cpu = report("baseline: imports only", floors)
        wall, cpu = report("fieldcoach plan visits (one manager)", plans)
        print(f"plan / imports-only: wall {wall / floor_wall:.2f}x, CPU {cpu / floor_cpu:.2f}x")
        print(f"target ~2 s: {'met' if wall <= 2.0 else 'missed'} (wall {wall:.2f} s)")


if __name__ == "__main__":
    main()
