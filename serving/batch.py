"""The week's default plans, computed outside a request and stored for the API to serve.

``precompute_plans`` (``fieldcoach plan batch``, which loads the data and the champions,
``start_champions``) writes every manager's default plan for a week (both languages) into
the database, tagged with the model versions it used; the API
serves a stored plan only while those versions are the ones serving, and fills in at start
the plans nobody stored (``fill_week_plans``). What the service learnt goes back to the data
in ``serving.feedback_export``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fieldcoach.champions import MODEL_NAMES, ModelStore
from fieldcoach.settings import Settings
from planning.explore import Exploration
from serving.db import (
    PrecomputedPlan,
    make_engine,
    plan_feedback,
    save_plan,
    session_factory,
)
from serving.served_territory import LANGUAGES, ServedTerritory


def start_champions(settings: Settings, log: Callable[[str], None] = print) -> ModelStore:
    """The serving champions, loaded as the API loads them; each note (a model not loaded,
    a copy used instead) logged."""
    store = ModelStore(settings.resolved_tracking_uri, settings.models_dir, MODEL_NAMES)
    store.start()
    for note in store.notes:
        log(f"note: {note}")
    return store


def precompute_plans(
    territory: ServedTerritory,
    settings: Settings,
    week: str | None = None,
    time_limit_s: float = 5.0,
    log: Callable[[str], None] = print,
    progress: tuple[Callable[[int], None], Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Plan every manager's week with the territory's champions (``start_champions``) and
    store the plans in the service database, drawing exploration as the settings say.

    ``progress`` is (set the total, advance by one manager), for a progress bar.
    """
    territory.exploration = Exploration(settings.explore_share, settings.holdout_share)
    engine = make_engine(settings.resolved_database_url)
    try:
        return store_week_plans(
            territory, session_factory(engine), week, time_limit_s, log, progress=progress
        )
    finally:
        engine.dispose()


def store_week_plans(
    territory: ServedTerritory,
    sessions: sessionmaker[Session],
    week: str | None = None,
    time_limit_s: float = 5.0,
    log: Callable[[str], None] = print,
    managers: list[str] | None = None,
    stop: threading.Event | None = None,
    progress: tuple[Callable[[int], None], Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """Plan every manager's week (or ``managers``') with the territory's models; store both
    languages. ``stop`` ends the run between two managers (the service shutting down)."""
    week = week or territory.default_week()
    territory.context(week)  # a bad week fails here, once, with the planner's message
    versions = territory.store.versions_key()
    written = 0
    set_total, advance = progress or (lambda _: None, lambda: None)
    set_total(len(territory.team_of_manager))
    with sessions() as session:
        for manager_id in sorted(territory.team_of_manager if managers is None else managers):
            if stop is not None and stop.is_set():
                break
            advance()
            try:
                feedback = plan_feedback(session, [manager_id])
                plans = territory.plan_languages(
                    manager_id, week, time_limit_s=time_limit_s, feedback=feedback
                )
            except Exception as exc:
                log(f"  {manager_id}: not planned ({exc})")
                continue
            for language in LANGUAGES:
                body = {**plans[language], "source": "precomputed"}
                save_plan(
                    session,
                    manager_id,
                    territory.team_of_manager.get(manager_id),
                    week,
                    language,
                    json.dumps(body, ensure_ascii=False),
                    versions,
                )
            session.commit()
            written += 1
    return {"week": week, "managers": written, "models": versions}


def missing_week_plans(
    territory: ServedTerritory, sessions: sessionmaker[Session], week: str | None = None
) -> list[str]:
    """Managers whose default plan for the week is not stored, in every language, with the
    models now serving."""
    week = week or territory.default_week()
    with sessions() as session:
        stored = session.execute(
            select(PrecomputedPlan.manager_id, PrecomputedPlan.language).where(
                PrecomputedPlan.week == week,
                PrecomputedPlan.models == territory.store.versions_key(),
            )
        ).all()
    languages: dict[str, set[str]] = {}
    for manager_id, language in stored:
        languages.setdefault(manager_id, set()).add(language)
    return [
        m for m in sorted(territory.team_of_manager) if languages.get(m, set()) < set(LANGUAGES)
    ]


def fill_week_plans(
    territory: ServedTerritory,
    sessions: sessionmaker[Session],
    log: Callable[[str], None] = print,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """What the service does at start when ``plan batch`` has not: store the missing plans."""
    week = territory.default_week()
    missing = missing_week_plans(territory, sessions, week)
    if not missing:
        return {"week": week, "managers": 0, "models": territory.store.versions_key()}
    log(f"planning {len(missing)} managers' default week {week} in the background")
    return store_week_plans(territory, sessions, week, log=log, managers=missing, stop=stop)
