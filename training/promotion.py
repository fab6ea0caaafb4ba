"""MLflow for training: registering a run's model, and the promotion rules (the store is
connected by ``fieldcoach.registry.configure_mlflow``).

Every registered model has aliases: ``challenger`` (the newest candidate), ``champion``
(what serving loads) and ``previous-champion`` (what ``rollback`` returns to). A candidate
becomes champion only by a stated rule on the same holdout as the current champion; a data
scientist may override with ``promote``/``rollback`` (``fieldcoach.registry``, which also
reads the registry for the CLI and the API).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import mlflow
from mlflow import MlflowClient

from fieldcoach.registry import CHALLENGER, CHAMPION, set_champion, version_by_alias
from fieldcoach.settings import Settings


def pip_requirements(*packages: str) -> list[str]:
    """The exact installed versions of ``packages``, for a logged model's environment."""
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in packages]


@dataclass
class ServingChange:
    """A registry change that alters what serves: an alias move or a served-model tag."""

    model: str
    what: str
    apply: Callable[[], None] = field(repr=False)


# While ``fieldcoach retrain`` runs, training steps queue their serving changes here instead
# of making them, so a run that fails (or is killed) half-way promotes nothing.
_DEFERRED: ContextVar[list[ServingChange] | None] = ContextVar("deferred_changes", default=None)


@contextmanager
def deferred_serving_changes() -> Iterator[list[ServingChange]]:
    """Collect, instead of applying, every serving change made inside the block."""
    pending: list[ServingChange] = []
    token = _DEFERRED.set(pending)
    try:
        yield pending
    finally:
        _DEFERRED.reset(token)


def change_serving(model: str, what: str, apply: Callable[[], None]) -> None:
    """Apply a serving change now, or queue it when inside ``deferred_serving_changes``."""
    pending = _DEFERRED.get()
    if pending is None:
        apply()
    else:
        pending.append(ServingChange(model, what, apply))


def experiment_id(name: str, settings: Settings) -> str:
    """The experiment's id, created with its artifacts under the home for local stores."""
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    local = settings.resolved_tracking_uri.startswith("sqlite:")
    location = settings.artifact_root.as_uri() if local else None
    return mlflow.create_experiment(name, artifact_location=location)


@dataclass(frozen=True)
class PromotionRule:
    """When a challenger may replace the champion (compared on the challenger's holdout)."""

    metric: str = "roc_auc"
    min_gain: float = 0.0
    max_ece: float | None = 0.03  # None: the model has no calibration to check
    must_beat: str = "recency"
    lower_is_better: bool = False  # e.g. an error metric

    def describe(self) -> str:
        if self.lower_is_better:
            text = (
                f"promote if holdout {self.metric} <= champion's {self.metric} - "
                f"{self.min_gain} on the same holdout"
            )
        else:
            text = (
                f"promote if holdout {self.metric} >= champion's {self.metric} + "
                f"{self.min_gain} on the same holdout"
            )
        if self.max_ece is not None:
            text += f", ECE <= {self.max_ece} (or no worse than the champion's)"
        return text + f", and {self.metric} beats the '{self.must_beat}' baseline"


def decide_promotion(
    rule: PromotionRule,
    challenger: dict[str, float],
    baseline: dict[str, float] | None,
    champion: dict[str, float] | None,
) -> tuple[bool, str]:
    """Apply the rule; returns (promote?, why)."""
    metric = rule.metric
    value = challenger[metric]
    checked = (metric, "ece") if rule.max_ece is not None else (metric,)
    for key in checked:
        # NaN compares False with everything, so it would slip through the checks below.
        if not math.isfinite(challenger[key]):
            return False, f"challenger {key} is not finite"
    sign = -1.0 if rule.lower_is_better else 1.0
    if baseline is not None and sign * value <= sign * baseline[metric]:
        return False, (
            f"challenger {metric} {value:.4f} does not beat the {rule.must_beat} "
            f"baseline ({baseline[metric]:.4f})"
        )
    if rule.max_ece is not None:
        ece_limit = max(rule.max_ece, champion["ece"] if champion else rule.max_ece)
        if challenger["ece"] > ece_limit:
            return False, f"challenger ECE {challenger['ece']:.4f} exceeds {ece_limit:.4f}"
    if champion is None:
        return True, "no champion yet and the challenger passes the absolute checks"
    relation = "<=" if rule.lower_is_better else ">="
    if sign * value + 1e-12 < sign * champion[metric] + rule.min_gain:
        worse = ">" if rule.lower_is_better else "<"
        return False, (
            f"challenger {metric} {value:.4f} {worse} champion {champion[metric]:.4f} "
            f"{'-' if rule.lower_is_better else '+'} {rule.min_gain}"
        )
    return True, f"challenger {metric} {value:.4f} {relation} champion {champion[metric]:.4f}"


def register_and_gate(
    client: MlflowClient,
    name: str,
    model_uri: str,
    run_id: str,
    rule: PromotionRule,
    challenger: dict[str, float],
    baseline: dict[str, float] | None,
    score_champion: Callable[[str], dict[str, float]],
    veto: str | None = None,
) -> dict[str, Any]:
    """Register the run's model as ``challenger`` and promote it if the rule says so.

    Args:
        score_champion: metrics of a model URI on the challenger's holdout; may raise if
            the champion cannot score it (then the challenger is not promoted).
        veto: a reason the challenger must not be promoted whatever the metrics say (a
            check the rule's single metric cannot express); it is registered all the same.
    """
    version = mlflow.register_model(model_uri, name).version
    client.set_registered_model_alias(name, CHALLENGER, version)
    # What `models list` shows: the metric the rule judged this version by.
    client.set_model_version_tag(name, version, "rule_metric", rule.metric)
    client.set_model_version_tag(name, version, "rule_value", f"{challenger[rule.metric]:.6g}")
    current = version_by_alias(client, name, CHAMPION)
    if veto is not None:
        decision = {"promoted": False, "reason": veto}
        return _record(client, name, version, run_id, model_uri, rule, decision, current, None)
    champion_metrics = None
    if current is not None:
        try:
            champion_metrics = score_champion(f"models:/{name}/{current.version}")
        except Exception as exc:  # the champion could not score: never promote blindly
            decision = {
                "promoted": False,
                "reason": f"champion v{current.version} could not score this holdout ({exc}); "
                f"review and run `fieldcoach models promote {name} --version "
                f"{version}`",
            }
            return _record(client, name, version, run_id, model_uri, rule, decision, current, None)
    promoted, reason = decide_promotion(rule, challenger, baseline, champion_metrics)
    if promoted:
        change_serving(
            name, f"champion -> v{version}", lambda: set_champion(client, name, version)
        )
    decision = {"promoted": promoted, "reason": reason}
    return _record(
        client, name, version, run_id, model_uri, rule, decision, current, champion_metrics
    )


def _record(client, name, version, run_id, model_uri, rule, decision, current, champion_metrics):
    decision.update(
        {
            "model": name,
            "run_id": run_id,
            "model_uri": model_uri,
            "version": int(version),
            "rule": rule.describe(),
            "champion_before": int(current.version) if current is not None else None,
            "champion_metrics_on_this_holdout": champion_metrics,
        }
    )
    client.set_tag(run_id, "promotion", "promoted" if decision["promoted"] else "not promoted")
    client.set_tag(run_id, "promotion_reason", decision["reason"])
    client.set_tag(run_id, "promotion_rule", rule.describe())
    client.set_model_version_tag(name, version, "promotion_reason", decision["reason"])
    return decision


def announce_decision(decision: dict[str, Any], log: Callable[[str], None]) -> None:
    """Tell the data scientist the rule and what it decided for this run's model."""
    verdict = "promoted to champion" if decision["promoted"] else "kept as challenger"
    log(f"promotion rule: {decision['rule']}")
    log(f"{decision['model']} v{decision['version']}: {verdict} ({decision['reason']})")
