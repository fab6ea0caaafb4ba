"""`keys create|list|revoke`: API keys of the serving API."""

from __future__ import annotations

from typing import Annotated

import typer

from fieldcoach.cli.common import fail

app = typer.Typer(help="API keys for the serving API.", no_args_is_help=True)


@app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="planner, coordinator, data_scientist or admin.")],
    team: Annotated[
        list[str] | None,
        typer.Option(
            help="Team a planner or coordinator key may see (repeat; * for all). A "
            "coordinator key without --team is company-wide; other roles take none."
        ),
    ] = None,
    label: Annotated[str | None, typer.Option(help="Who the key is for.")] = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from serving.security import create_key

    engine = _service_engine()
    try:
        with session_factory_for(engine)() as session:
            key, _ = create_key(session, role, team, label)
    except ValueError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    typer.echo(key)


@app.command("list")
def keys_list() -> None:
    """Every key's id, prefix, role, teams, label and whether it is revoked (never the key)."""
    from serving.security import principal_of, stored_keys

    engine = _service_engine()
    try:
        with session_factory_for(engine)() as session:
            rows = stored_keys(session)
    finally:
        engine.dispose()
    typer.echo(f"{'id':>4}  {'prefix':<8} {'role':<15} {'teams':<16} {'revoked':<20} label")
    for row in rows:
        teams = ",".join(sorted(principal_of(row).teams)) or "-"
        revoked = row.revoked_at.isoformat(timespec="seconds") + "Z" if row.revoked_at else "-"
        typer.echo(
            f"{row.id:>4}  {row.prefix:<8} {row.role:<15} {teams:<16} {revoked:<20} "
            f"{row.label or ''}"
        )


@app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (`fieldcoach keys list`).")],
) -> None:
    """Revoke a key: the API refuses it from its next request on, in every worker."""
    from serving.security import revoke_key

    engine = _service_engine()
    try:
        with session_factory_for(engine)() as session:
            row = revoke_key(session, key_id)
    finally:
        engine.dispose()
    if row is None:
        fail(f"no key {key_id} (`fieldcoach keys list` shows every key)")
    typer.echo(f"revoked key {row.id} ({row.prefix}..., {row.role})")


def _service_engine():
    """The service database's engine (its SQLite file's folder created if needed)."""
    from fieldcoach.settings import get_settings
    from serving.db import make_engine

    settings = get_settings()
    if settings.resolved_database_url.startswith("sqlite:///"):
        settings.ensure_home()
    return make_engine(settings.resolved_database_url)


def session_factory_for(engine):
    from serving.db import session_factory

    return session_factory(engine)
