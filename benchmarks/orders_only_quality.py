"""Churn on 15 months of orders only, as a company hands them over (issue 14's bars).

For each seed: `fieldcoach simulate --weeks 65`, keep only orders.csv with retailer_id,
order_date, quantity and amount (what a real order log has), `train churn --horizon-weeks
13`, `score churn` the day after the data. Prints the share of retailers that ever ordered
and have not closed (the simulator's truth) that got a score (bar: >= 99%), and, on every
retailer the lapsed included, LightGBM's ROC-AUC and PR-AUC of staying active next to
BG/NBD's fitted on the same history (bar on a real log: ROC-AUC >= BG/NBD's + 0.005,
PR-AUC >= BG/NBD's).

    python benchmarks/orders_only_quality.py [--ordering irregular] [--seeds 1 2 3]

Each run goes through the CLI, as a user would, with its own home and MLflow store.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

FIELDCOACH = str(Path(sys.executable).with_name("fieldcoach"))
ORDER_LOG_COLUMNS = ["retailer_id", "order_date", "quantity", "amount"]


def _run(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([FIELDCOACH, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"fieldcoach {' '.join(args)} failed: {done.stderr or done.stdout}")


def one_seed(root: Path, seed: int, args: argparse.Namespace) -> dict:
    home, full, orders = root / "home", root / "full", root / "orders"
    env = {
        **os.environ,
        "FIELDCOACH_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}",
        "FIELDCOACH_DATABASE_URL": f"sqlite:///{home / 'fieldcoach.db'}",
    }
    home.mkdir(parents=True)
    _run(
        env,
        *("simulate", "--out", str(full), "--retailers", str(args.retailers)),
        *("--managers", str(args.managers), "--weeks", str(args.weeks), "--seed", str(seed)),
        *("--ordering", args.ordering),
    )
    log = pd.read_parquet(full / "orders.parquet")[ORDER_LOG_COLUMNS]
    orders.mkdir()
    log.to_csv(orders / "orders.csv", index=False)
    started = time.perf_counter()
    report_path = root / "report.json"
    _run(
        env,
        *("train", "churn", "--data", str(orders), "--horizon-weeks", str(args.horizon)),
        *("--report", str(report_path)),
    )
    train_s = time.perf_counter() - started
    as_of = (pd.to_datetime(log["order_date"]).max() + pd.Timedelta(days=1)).date()
    scores_path = root / "scores.csv"
    _run(
        env,
        "score",
        "churn",
        "--data",
        str(orders),
        "--as-of",
        str(as_of),
        "--out",
        str(scores_path),
    )
    report = json.loads(report_path.read_text(encoding="utf-8"))
    scored = set(pd.read_csv(scores_path)["retailer_id"])
    truth = pd.read_parquet(full / "_truth" / "retailers.parquet")
    closed = set(truth.loc[truth["exit_reason"].eq("closed"), "retailer_id"])
    ever = set(log["retailer_id"])
    open_ever = ever - closed
    every = report["every_retailer"]
    return {
        "seed": seed,
        "train_s": round(train_s, 1),
        "ever_ordered_not_closed": len(open_ever),
        "scored_share": len(scored & open_ever) / len(open_ever),
        "served": report["served_model"]["kind"],
        **{f"{m}_roc_auc": every[m]["roc_auc"] for m in ("lightgbm", "logistic", "bgnbd")},
        **{f"{m}_pr_auc_active": every[m]["pr_auc_active"] for m in ("lightgbm", "bgnbd")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retailers", type=int, default=2000)
    parser.add_argument("--managers", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=65)
    parser.add_argument("--horizon", type=int, default=13)
    parser.add_argument("--ordering", choices=("weekly", "irregular"), default="irregular")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    print(f"{args.ordering} ordering, {args.retailers} retailers, {args.weeks} weeks, orders only")
    print("seed  scored  served    LightGBM  logistic  BG/NBD  lead   PR-AUC act. LGB / BG/NBD")
    met = True
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="orders-only-") as tmp:
            r = one_seed(Path(tmp), seed, args)
        lead = r["lightgbm_roc_auc"] - r["bgnbd_roc_auc"]
        met &= r["scored_share"] >= 0.99 and lead >= 0.005
        met &= r["lightgbm_pr_auc_active"] >= r["bgnbd_pr_auc_active"]
        print(
            f"{seed:>4}  {r['scored_share']:6.1%}  {r['served']:<9} {r['lightgbm_roc_auc']:.4f}"
            f"    {r['logistic_roc_auc']:.4f}    {r['bgnbd_roc_auc']:.4f}  {lead:+.3f}"
            f"  {r['lightgbm_pr_auc_active']:.4f} / {r['bgnbd_pr_auc_active']:.4f}"
            f"  (train {r['train_s']:.0f} s)"
        )
    print("bars met" if met else "a bar was missed (see above)")


if __name__ == "__main__":
    main()
