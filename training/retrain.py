"""Retraining on a schedule: every model in one run, promoted all together or not at all.

``fieldcoach retrain`` is a thin wrapper around ``retrain``. One run takes a lock (a second
run at the same time waits for it or stops with a clear message), exports the feedback
the service collected into the data folder, validates the folder, trains churn, visits and
skills with each model's own promotion rule, and only when every step has succeeded makes
the promotions the rules decided. Until then each step's alias moves and served-model tags
are queued (``training.promotion.deferred_serving_changes``), so a run that fails or is
killed leaves the previous champions serving. The short window in which the queued
changes are applied is covered by a journal of what served before: a run that finds a
journal left by a killed run restores that state first.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from features.io import atomic_path
from features.validate import load_dataset
from fieldcoach.registry import CHAMPION, PREVIOUS, configure_mlflow, version_by_alias
from fieldcoach.settings import Settings
from training.churn import ChurnConfig
from training.churn_run import CHURN_MODEL, run_churn_training
from training.promotion import ServingChange, deferred_serving_changes
from training.skills_run import SKILLS_MODEL, run_skills_training
from training.visit_rows import VisitEffectConfig
from training.visits_run import RANKING_TAGS, VISIT_EFFECT_MODEL, run_visit_effect_training

MODELS = (CHURN_MODEL, VISIT_EFFECT_MODEL, SKILLS_MODEL)
STEPS = ("feedback", "validate", "churn", "visits", "skills", "promote")


class RetrainBusy(RuntimeError):
    """Another retrain holds the lock."""


class RetrainFailed(RuntimeError):
    """A step failed; nothing was promoted. ``summary`` says which step and why."""

    def __init__(self, message: str, summary: dict[str, Any]):
        super().__init__(message)
        self.summary = summary


def retrain_dir(settings: Settings) -> Path:
    return settings.home / "retrain"


@contextmanager
def retrain_lock(settings: Settings, wait_s: float = 0.0) -> Iterator[Path]:
    """Hold the home's retrain lock; wait up to ``wait_s`` seconds for another run.

    An ``flock``: the kernel releases it when the holder dies, so a killed run never
    leaves a stale lock behind.

    Raises:
        RetrainBusy: another run still holds it after ``wait_s``.
    """
    folder = retrain_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "retrain.lock"
    handle = open(path, "a+")  # noqa: SIM115 (held for the whole block)
    try:
        deadline = time.monotonic() + max(wait_s, 0.0)
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "unknown"
                    raise RetrainBusy(
                        f"another retrain is running ({holder}; lock {path}); this run "
                        f"stopped without changing anything (use --wait SECONDS to wait)"
                    ) from None
                time.sleep(0.5)
        handle.seek(0)
        handle.truncate()
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        handle.write(f"pid {os.getpid()} since {started}")
        handle.flush()
        yield path
    finally:
        handle.close()  # releases the lock


# --------------------------------------------------------------------------- serving state


def serving_state(client: MlflowClient) -> dict[str, Any]:
    """What serves now: each model's champion and previous champion, the planner's tags."""
    state: dict[str, Any] = {}
    for name in MODELS:
        entry: dict[str, Any] = {"champion": None, "previous": None, "tags": {}}
        try:
            model = client.get_registered_model(name)
        except Exception:  # not registered yet
            state[name] = entry
            continue
        for alias, key in ((CHAMPION, "champion"), (PREVIOUS, "previous")):
            found = version_by_alias(client, name, alias)
            entry[key] = int(found.version) if found is not None else None
        if name == VISIT_EFFECT_MODEL:
            entry["tags"] = {k: v for k, v in (model.tags or {}).items() if k in RANKING_TAGS}
        state[name] = entry
    return state


def restore_serving_state(client: MlflowClient, state: dict[str, Any]) -> None:
    """Put the aliases and the planner's tags back as ``serving_state`` recorded them."""
    for name, entry in state.items():
        try:
            model = client.get_registered_model(name)
        except Exception:
            continue
        for alias, key in ((CHAMPION, "champion"), (PREVIOUS, "previous")):
            if entry[key] is None:
                if alias in (model.aliases or {}):
                    client.delete_registered_model_alias(name, alias)
            else:
                client.set_registered_model_alias(name, alias, str(entry[key]))
        if name == VISIT_EFFECT_MODEL:
            for tag in RANKING_TAGS:
                if tag in entry["tags"]:
                    client.set_registered_model_tag(name, tag, entry["tags"][tag])
                elif tag in (model.tags or {}):
                    client.delete_registered_model_tag(name, tag)


def recover_interrupted(settings: Settings, client: MlflowClient, log=print) -> dict | None:
    """If a run was killed while applying its promotions, restore what served before it."""
    journal = retrain_dir(settings) / "promoting.json"
    if not journal.exists():
        return None
    recorded = json.loads(journal.read_text())
    restore_serving_state(client, recorded["before"])
    journal.unlink()
    log(
        f"a retrain started {recorded['started']} was interrupted while promoting; "
        "restored the champions that served before it"
    )
    return recorded


def apply_changes(
    settings: Settings, client: MlflowClient, changes: list[ServingChange], started: str
) -> None:
    """Make the queued promotions, journaled so that an interruption is undone next run."""
    journal = retrain_dir(settings) / "promoting.json"
    record = {
        "started": started,
        "before": serving_state(client),
        "changes": [f"{c.model}: {c.what}" for c in changes],
    }
    with atomic_path(journal) as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    for change in changes:
        change.apply()
    journal.unlink()


# --------------------------------------------------------------------------- the run


def retrain(
    data_dir: Path,
    settings: Settings,
    export_feedback: Callable[[Path], dict[str, int]] | None = None,
    churn_config: ChurnConfig | None = None,
    visits_config: VisitEffectConfig | None = None,
    wait_s: float = 0.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The whole pipeline under the lock; returns the summary (also written to the home).

    Args:
        export_feedback: appends the service's feedback to ``data_dir`` (the CLI passes
            ``serving.feedback_export.export_feedback`` bound to the service database);
            None skips it.

    Raises:
        RetrainBusy: another run holds the lock.
        RetrainFailed: a step failed; nothing was promoted; the summary was written.
    """
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    summary: dict[str, Any] = {
        "started": started,
        "data": str(Path(data_dir).resolve()),
        "status": "running",
        "steps": {},
        "models": {},
    }
    with retrain_lock(settings, wait_s):
        client = configure_mlflow(settings)
        recovered = recover_interrupted(settings, client, log)
        if recovered is not None:
            summary["recovered_interrupted_run"] = recovered["started"]
        summary["serving_before"] = serving_state(client)
        step = "feedback"
        try:
            with deferred_serving_changes() as pending:
                if export_feedback is not None:
                    summary["steps"]["feedback"] = export_feedback(Path(data_dir))
                    log(f"feedback: {summary['steps']['feedback']}")
                step = "validate"
                dataset = load_dataset(data_dir)
                summary["steps"]["validate"] = {
                    "ok": True,
                    "capabilities_off": dataset.report.capabilities_off,
                }
                del dataset
                step = "churn"
                report = run_churn_training(
                    load_dataset(data_dir), churn_config or ChurnConfig(), settings, log=log
                )
                summary["models"][CHURN_MODEL] = _model_line(report)
                step = "visits"
                report = run_visit_effect_training(
                    load_dataset(data_dir), visits_config or VisitEffectConfig(), settings, log=log
                )
                summary["models"][VISIT_EFFECT_MODEL] = _model_line(report)
                summary["models"][VISIT_EFFECT_MODEL]["planner_ranking"] = report[
                    "planner_ranking"
                ]["planner_ranking"]
                step = "skills"
                report = run_skills_training(load_dataset(data_dir), settings, log=log)
                summary["models"][SKILLS_MODEL] = _model_line(report)
            step = "promote"
            apply_changes(settings, client, pending, started)
            summary["steps"]["promote"] = [f"{c.model}: {c.what}" for c in pending]
        except Exception as exc:
            summary.update(
                status="failed",
                failed_step=step,
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(limit=8),
                promoted="nothing (the previous champions serve)",
            )
            summary["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            _write_summary(settings, summary)
            raise RetrainFailed(
                f"retrain failed at step {step!r} ({type(exc).__name__}: {exc}); nothing was "
                f"promoted, the previous champions still serve",
                summary,
            ) from exc
        summary["status"] = "ok"
        summary["serving_after"] = serving_state(client)
        summary["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        _write_summary(settings, summary)
    return summary


def _model_line(report: dict[str, Any]) -> dict[str, Any]:
    decision = report.get("registry") or {}
    return {
        "version": decision.get("version"),
        "promoted": bool(decision.get("promoted")),
        "reason": decision.get("reason"),
        "rule": decision.get("rule"),
        "champion_before": decision.get("champion_before"),
        "run_id": decision.get("run_id"),
    }


def _write_summary(settings: Settings, summary: dict[str, Any]) -> Path:
    folder = retrain_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = summary["started"].replace(":", "").replace("+0000", "Z")
    path = folder / f"summary-{stamp}.json"
    for target in (path, folder / "last-summary.json"):
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    summary["summary_file"] = str(path)
    return path


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """One line per model: version, promoted or kept, and why."""
    lines = []
    for name in MODELS:
        entry = summary["models"].get(name)
        if entry is None:
            lines.append(f"{name:<16} not trained (the run stopped before it)")
            continue
        verdict = "promoted" if entry["promoted"] else "kept as challenger"
        if entry["promoted"] and summary["status"] != "ok":
            verdict = "would have been promoted; nothing promoted"
        lines.append(f"{name:<16} v{entry['version']}: {verdict} ({entry['reason']})")
    return lines
