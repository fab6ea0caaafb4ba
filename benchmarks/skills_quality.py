"""The skills model's bars (issue 4), checked against the simulator's truth.

Bars, on a simulated company of 300 managers (60,000 retailers, 104 weeks): Spearman
correlation of estimated and true skill at least 0.8 for every skill, better than the
latest assessment alone; course effects correlate with the true ones and no zero-effect
course is credited; the first recommendation's true gain at least 80% of the oracle's on
average and above the baseline "course for the lowest latest assessment".

    python benchmarks/skills_quality.py [--managers 300] [--retailers 60000] [--weeks 104]
        [--seeds 11 12] [--data DIR] [--report FILE.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from evaluation.skills import evaluate_skills
from simulator import SimulationConfig, Territory, export_dataset


def run(data: Path) -> dict:
    started = time.perf_counter()
    report = evaluate_skills(data)
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def show(label: str, report: dict) -> None:
    print(f"{label}: as of {report['as_of']}, {report['seconds']} s")
    for skill, f in report["skills"].items():
        print(
            f"  {skill:<22} spearman {f['spearman']:.3f}  latest assessment "
            f"{f['spearman_latest_assessment']:.3f}  (bar 0.8)"
        )
    ce, rec = report["course_effects"], report["recommendation"]
    print(
        f"  course effects: correlation {ce['correlation']:.3f}, false credit rate "
        f"{ce['false_credit_rate']:.3f} of {ce['zero_effect_pairs']} zero-effect pairs"
    )
    print(
        f"  recommendation: gain vs oracle {rec['gain_vs_oracle']:.3f} (bar 0.8), vs baseline "
        f"{rec['gain_vs_baseline']:.3f} (bar > 1)"
    )
    print(
        "  bars: "
        + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in report["bars"].items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--managers", type=int, default=300)
    parser.add_argument("--retailers", type=int, default=60_000)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11])
    parser.add_argument("--data", type=Path, help="Evaluate this simulated folder instead.")
    parser.add_argument("--report", type=Path, help="Write every seed's figures here.")
    args = parser.parse_args()
    reports = {}
    if args.data:
        reports[str(args.data)] = run(args.data)
        show(str(args.data), reports[str(args.data)])
    else:
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as scratch:
                data = Path(scratch) / "data"
                config = SimulationConfig(
                    n_retailers=args.retailers, n_managers=args.managers, seed=seed
                )
                territory = Territory.create(config)
                territory.run(args.weeks)
                export_dataset(territory, data)
                reports[f"seed {seed}"] = run(data)
            show(f"seed {seed}", reports[f"seed {seed}"])
    if args.report:
        args.report.write_text(json.dumps(reports, indent=2, ensure_ascii=False, default=str))
    if not all(all(r["bars"].values()) for r in reports.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
