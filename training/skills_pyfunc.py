"""The skills model as MLflow serves it (logged as code, so loading it needs no ``training``).

Input: a frame with ``manager_id``. ``params={"kind": ...}`` chooses the output:

* ``gaps`` (default): one row per manager and skill: estimate, sd, source (``kpi_only`` when
  the manager has no assessment), target, gap, importance, priority, rank, evidence;
* ``training``: the ranked modules per manager within ``budget_hours`` (param, optional),
  with expected gains (JSON) and rationales in Chinese and English;
* ``cohorts``: sessions of managers sharing a priority gap (``min_size``, ``max_size``);
* ``holdout``: the estimates the run made at its holdout cutoff (used to compare a new
  challenger with this model on the challenger's holdout).
"""

from __future__ import annotations

import json

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from features.skill_plans import SkillsState, recommend_cohorts, recommend_training


class SkillsModel(PythonModel):
    """Skill estimates, gaps, course effects and the planning logic, from run artifacts."""

    def load_context(self, context) -> None:
        with open(context.artifacts["state"], encoding="utf-8") as fh:
            self.state = SkillsState.from_json(fh.read())
        with open(context.artifacts["holdout"], encoding="utf-8") as fh:
            self.holdout = json.load(fh)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        params = params or {}
        kind = params.get("kind", "gaps")
        managers = [str(m) for m in pd.DataFrame(model_input)["manager_id"]]
        for manager in managers if kind != "holdout" else ():
            self.state.check_manager(manager)
        if kind == "gaps":
            rows = [r for r in self.state.estimates if r["manager_id"] in set(managers)]
            return pd.DataFrame(rows)
        if kind == "training":
            budget = params.get("budget_hours") or None  # 0: the model's budget
            rows = []
            for manager in managers:
                for item in recommend_training(self.state, manager, budget):
                    rows.append(
                        {
                            "manager_id": manager,
                            **{k: v for k, v in item.items() if k != "expected_gain"},
                            "expected_gain": json.dumps(item["expected_gain"]),
                        }
                    )
            return pd.DataFrame(rows)
        if kind == "cohorts":
            sessions = recommend_cohorts(
                self.state,
                int(params.get("min_size", 4)),
                int(params.get("max_size", 12)),
                managers,
            )
            return pd.DataFrame(
                [
                    {**s, "members": ";".join(s["members"]), "skills": ";".join(s["skills"])}
                    for s in sessions
                ]
            )
        if kind == "holdout":
            frame = pd.DataFrame(self.holdout["estimates"])
            frame["cutoff"] = self.holdout["cutoff"]
            frame["drift_per_week"] = self.holdout["drift_per_week"]
            return frame
        raise ValueError(f"skills model: unknown kind {kind!r}")


mlflow.models.set_model(SkillsModel())
