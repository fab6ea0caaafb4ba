"""Loading the registered champions: the one loader the API, the CLI and the planner use.

Each model's ``champion`` is loaded from the MLflow registry and checked with a smoke
prediction. The service exports every champion that passes to ``Settings.models_dir /
NAME`` (the last known good copy); if the registry cannot be reached, or the champion
fails, that exported copy is loaded instead and ``/health`` says so. The command line reads
the same copies without writing them. ``reload`` loads new champions beside the old ones
and swaps each one in only after it passed its smoke prediction; requests in flight keep
the model they started with.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from features.errors import UserInputError
from fieldcoach.registry import (
    CHAMPION,
    CHURN_MODEL,
    MODEL_NAMES,
    SKILLS_MODEL,
    VISIT_EFFECT_MODEL,
    configure_mlflow,
)
from fieldcoach.settings import Settings

log = logging.getLogger(__name__)

CHURN, EFFECT, SKILLS = CHURN_MODEL, VISIT_EFFECT_MODEL, SKILLS_MODEL


@dataclass
class LoadedModel:
    """One champion in memory, with where it came from."""

    name: str
    model: Any
    version: str | None
    run_id: str | None
    source: str  # "registry" or "exported copy"
    loaded_at: str
    metrics: dict[str, float] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "source": self.source,
            "loaded_at": self.loaded_at,
        }


def smoke_test(name: str, model: Any) -> None:
    """A prediction every champion must survive before it serves; raises if it fails."""
    if name == SKILLS:
        state = model.unwrap_python_model().state
        managers = state.managers()
        if not managers:
            raise ValueError("the skills model knows no manager")
        out = model.predict(pd.DataFrame({"manager_id": managers[:1]}))
        if out.empty or "estimate" not in out:
            raise ValueError("the skills model returned no estimates")
        return
    example = model.input_example
    if example is None:
        raise ValueError("the model carries no input example to smoke-test with")
    out = model.predict(pd.DataFrame(example).head(5))
    column = "churn_probability" if name == CHURN else "visit_effect"
    if column not in out or len(out) == 0 or not pd.Series(out[column]).notna().all():
        raise ValueError(f"smoke prediction has no valid {column}")


def registry_missing(tracking_uri: str) -> str | None:
    """Why a SQLite tracking store cannot be read without creating it, or None.

    MLflow creates an empty store when asked about a SQLite file that does not exist; a
    later ``train`` would then write into that file in place of the one the user meant.
    """
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])
    if str(path) in ("", ":memory:") or path.exists():
        return None
    return f"no MLflow store at {path} (not created; train a model first)"


def _sqlite_path(tracking_uri: str) -> Path | None:
    if not tracking_uri.startswith("sqlite:///"):
        return None
    path = Path(tracking_uri.removeprefix("sqlite:///").split("?", 1)[0])
    return path if path.is_file() else None


def read_registry(tracking_uri: str, query: str, params: tuple) -> list[tuple] | None:
    """Rows of the SQLite registry read directly, opened read-only; None when the store is
    not a SQLite file. Starting MLflow's SQLAlchemy store (and its migration check) costs
    seconds of CPU per command, more than one manager's whole plan."""
    path = _sqlite_path(tracking_uri)
    if path is None:
        return None
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()


def _local_champion(tracking_uri: str, name: str) -> tuple[str, str | None, Path] | None:
    """(version, run_id, folder) of the champion when its files are on this machine, else
    None (the MLflow client then resolves it)."""
    try:
        rows = read_registry(
            tracking_uri,
            "SELECT v.version, v.run_id, v.storage_location, v.status FROM "
            "registered_model_aliases a JOIN model_versions v ON v.name = a.name AND "
            "v.version = a.version WHERE a.name = ? AND a.alias = ?",
            (name, CHAMPION),
        )
    except sqlite3.Error:  # another schema or a locked file: the client decides
        return None
    if not rows or len(rows) != 1 or rows[0][3] != "READY":
        return None
    version, run_id, where, _ = rows[0]
    if not str(where or "").startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    folder = Path(unquote(urlparse(where).path))
    if not (folder / "MLmodel").is_file():
        return None
    return str(version), run_id, folder


def registered_tags(tracking_uri: str, name: str) -> dict[str, str] | None:
    """A registered model's tags read from a SQLite registry, or None (not SQLite, or not
    readable so: ask the MLflow client)."""
    try:
        rows = read_registry(
            tracking_uri, "SELECT key, value FROM registered_model_tags WHERE name = ?", (name,)
        )
    except sqlite3.Error:
        return None
    return None if rows is None else {k: v for k, v in rows}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ModelStore:
    """Champions by name; ``get`` is lock-free, swaps happen under a lock."""

    def __init__(
        self, tracking_uri: str, models_dir: Path, names=MODEL_NAMES, export: bool = True
    ) -> None:
        self.tracking_uri = tracking_uri
        self.models_dir = Path(models_dir)
        self.names = tuple(names)
        # The service keeps the last known good copies up to date; the CLI only reads them.
        self.export = export
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self.notes: list[str] = []
        self.failures: dict[str, str] = {}  # why a champion is not loaded, by name
        self.generation = 0  # bumps on every swap: caches keyed on it go stale

    def get(self, name: str) -> LoadedModel | None:
        return self._models.get(name)

    def loaded(self) -> dict[str, LoadedModel]:
        return dict(self._models)

    def versions_key(self) -> str:
        return ",".join(f"{n}:{m.version}" for n, m in sorted(self._models.items()))

    def _client(self) -> MlflowClient:
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def _from_registry(self, name: str) -> LoadedModel:
        """Download the champion, load and smoke-test it; export it if it passes."""
        missing = registry_missing(self.tracking_uri)
        if missing:
            raise FileNotFoundError(missing)
        if not self.export:
            local = _local_champion(self.tracking_uri, name)
            if local is not None:
                return self._from_local(name, *local)
        client = self._client()
        version = client.get_model_version_by_alias(name, CHAMPION)
        if self.export:
            self.models_dir.mkdir(parents=True, exist_ok=True)
        where = self.models_dir if self.export else None
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=where))
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version.version}", dst_path=str(staging)
            )
            model = mlflow.pyfunc.load_model(local)
            smoke_test(name, model)
            metrics: dict[str, float] = {}
            if version.run_id:
                metrics = dict(client.get_run(version.run_id).data.metrics)
            loaded = LoadedModel(
                name, model, str(version.version), version.run_id, "registry", _now(), metrics
            )
            if self.export:
                self._export(name, Path(local), loaded)
            return loaded
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _from_local(
        self, name: str, version: str, run_id: str | None, folder: Path
    ) -> LoadedModel:
        """The champion read in place from a local artifact store (a command: no export)."""
        model = mlflow.pyfunc.load_model(str(folder))
        smoke_test(name, model)
        metrics: dict[str, float] = {}
        if run_id:
            rows = read_registry(
                self.tracking_uri,
                "SELECT key, value, is_nan FROM latest_metrics WHERE run_uuid = ?",
                (run_id,),
            )
            metrics = {k: float("nan") if nan else float(v) for k, v, nan in rows or []}
        return LoadedModel(name, model, version, run_id, "registry", _now(), metrics)

    def _export(self, name: str, local: Path, loaded: LoadedModel) -> None:
        """Replace ``models_dir/NAME`` with this copy (built aside, then renamed in)."""
        target = self.models_dir / name
        fresh = self.models_dir / f".{name}.new"
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(local, fresh / "model")
        info = {k: v for k, v in loaded.describe().items() if k != "source"}
        info["metrics"] = loaded.metrics
        (fresh / "champion.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
        old = self.models_dir / f".{name}.old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        fresh.rename(target)
        shutil.rmtree(old, ignore_errors=True)

    def _from_export(self, name: str) -> LoadedModel:
        folder = self.models_dir / name
        info = json.loads((folder / "champion.json").read_text(encoding="utf-8"))
        model = mlflow.pyfunc.load_model(str(folder / "model"))
        smoke_test(name, model)
        return LoadedModel(
            name,
            model,
            info.get("version"),
            info.get("run_id"),
            "exported copy",
            _now(),
            info.get("metrics", {}),
        )

    def start(self) -> None:
        """Load every champion: registry first, the exported copy if that fails."""
        for name in self.names:
            try:
                self._models[name] = self._from_registry(name)
                continue
            except Exception as exc:
                reason = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"
            try:
                self._models[name] = self._from_export(name)
                self.notes.append(
                    f"{name}: registry champion unavailable ({reason}); started from the "
                    f"last known good copy v{self._models[name].version}"
                )
            except Exception:
                self.failures[name] = reason
                self.notes.append(f"{name}: not loaded ({reason}) and no exported copy")
            # The service warns; a command says it in its own words.
            (log.warning if self.export else log.info)(self.notes[-1])
        self.generation += 1

    def reload(self) -> list[dict[str, Any]]:
        """Swap in the registry's current champions; a failing one is refused."""
        results = []
        with self._lock:
            for name in self.names:
                old = self._models.get(name)
                try:
                    new = self._from_registry(name)
                except Exception as exc:
                    results.append(
                        {
                            "name": name,
                            "status": "refused",
                            "version": old.version if old else None,
                            "detail": f"kept the current model: {exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0][:200]}",
                        }
                    )
                    continue
                changed = old is None or old.version != new.version or old.source != "registry"
                # One assignment: a request holding the old object finishes with it.
                self._models = {**self._models, name: new}
                results.append(
                    {
                        "name": name,
                        "status": "loaded" if changed else "unchanged",
                        "version": new.version,
                        "detail": "" if changed else "same version as before",
                    }
                )
            if any(r["status"] == "loaded" for r in results):
                self.generation += 1  # scores of the week are recomputed with the new models
        return results


def load_champion(
    name: str, tracking_uri: str, models_dir: Path, model_uri: str | None = None
) -> LoadedModel:
    """One model for a command: ``model_uri`` as given, else the champion as the API loads
    it (the registry's, or the last known good copy). Raises ``LookupError`` saying why not.
    """
    if model_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        try:
            model = mlflow.pyfunc.load_model(model_uri)
        except Exception as exc:
            raise LookupError(f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None
        return LoadedModel(name, model, None, None, model_uri, _now())
    store = ModelStore(tracking_uri, models_dir, (name,), export=False)
    store.start()
    loaded = store.get(name)
    if loaded is None:
        raise LookupError(store.failures.get(name, "not loaded"))
    return loaded


def command_champion(
    name: str,
    settings: Settings,
    model_uri: str | None,
    cannot: Callable[[str, LookupError], str],
) -> tuple[LoadedModel, str]:
    """``load_champion`` for a command, with MLflow pointed at the settings' store (the home
    exists and MLflow looks there, not in the cwd); and the URI it names.

    Raises:
        UserInputError: ``cannot(uri, why)``, the command's line for a model it cannot load.
    """
    configure_mlflow(settings)
    uri = model_uri or f"models:/{name}@{CHAMPION}"
    try:
        loaded = load_champion(
            name, settings.resolved_tracking_uri, settings.models_dir, model_uri
        )
    except LookupError as exc:
        raise UserInputError(cannot(uri, exc)) from None
    return loaded, uri
