"""`recommend training|cohorts`: what the registered skills model advises."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fieldcoach.cli.common import SkillsModelOption, user_errors


def skills_state(model_uri: str | None):
    """The skills champion's state (or that of ``model_uri``), loaded as the API loads it."""
    from fieldcoach.champions import command_champion
    from fieldcoach.registry import SKILLS_MODEL
    from fieldcoach.settings import get_settings

    loaded, _ = command_champion(
        SKILLS_MODEL,
        get_settings(),
        model_uri,
        lambda uri, why: (
            f"cannot load {uri} (run `fieldcoach train skills --data DIR` first): {why}"
        ),
    )
    return loaded.model.unwrap_python_model().state


app = typer.Typer(
    help="Training recommendations from the registered skills model.", no_args_is_help=True
)


@app.command("training")
def recommend_training_command(
    manager: Annotated[str, typer.Option(help="Manager id (manager_id).")],
    data: Annotated[
        Path | None,
        typer.Option(help="Data folder: take course completions newer than the model from it."),
    ] = None,
    budget_hours: Annotated[
        float | None, typer.Option(help="Hours per quarter (default: the model's).")
    ] = None,
    output: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    model_uri: SkillsModelOption = None,
) -> None:
    """Ranked training modules for one manager, with expected gains and rationales."""
    import json

    from features.errors import UserInputError
    from features.manager import latest_completions
    from features.skill_gaps import explain_gaps
    from features.skill_plans import recommend_training
    from features.validate import load_dataset

    with user_errors():
        if output not in ("table", "json"):
            raise UserInputError(f"--format must be table or json, got {output!r}")
        state = skills_state(model_uri)
        state.check_manager(manager)
        completed = None
        if data:
            tables = load_dataset(data, ["trainings", "courses", "managers"]).tables
            completed = latest_completions(tables.get("trainings")).get(manager, {})
        plan = recommend_training(state, manager, budget_hours, completed)
    if output == "json":
        typer.echo(
            json.dumps(
                {
                    "manager_id": manager,
                    "as_of": state.as_of,
                    "modules": plan,
                    "gaps": explain_gaps(state, manager, plan, budget_hours, completed),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    gaps = state.manager_estimates(manager)
    source = {row["source"] for row in gaps.values()}
    typer.echo(
        f"{manager}: skills as of {state.as_of}"
        + (" (no assessment: KPI-based estimates)" if source == {"kpi_only"} else "")
    )
    for gap in explain_gaps(state, manager, plan, budget_hours, completed):
        if gap["reason"] != "covered":
            typer.echo(f"  gap {gap['skill_name']['en']} ({gap['gap']:+.1f}): {gap['en']}")
            typer.echo(f"  差距 {gap['skill_name']['zh']}：{gap['zh']}")
    if not plan:
        typer.echo("  no module available within the budget brings an expected gain")
    for item in plan:
        typer.echo(
            f"{item['rank']:>2}. {item['course_id']} {item['title']} ({item['hours']:g} h) "
            f"value {item['value']:.2f}, gap closed {item['expected_gap_closed']:.1f}"
        )
        typer.echo(f"    {item['rationale_zh']}")
        typer.echo(f"    {item['rationale_en']}")


@app.command("cohorts")
def recommend_cohorts_command(
    data: Annotated[
        Path | None, typer.Option(help="Data folder: restrict to its managers (optional).")
    ] = None,
    min_size: Annotated[int, typer.Option(min=1, help="Smallest session.")] = 4,
    max_size: Annotated[int, typer.Option(min=1, help="Largest session.")] = 12,
    out: Annotated[Path | None, typer.Option(help="Also write the sessions as JSON.")] = None,
    model_uri: SkillsModelOption = None,
    course: Annotated[
        str | None, typer.Option(help="Who should attend this course (course_id).")
    ] = None,
    team: Annotated[
        str | None, typer.Option(help="Only this team's managers (needs --data).")
    ] = None,
    language: Annotated[str, typer.Option(help="zh or en for labels and reasons.")] = "en",
) -> None:
    """Labelled sessions of managers who share a gap (or who should attend --course), and
    who was left out and why."""
    import json

    from features.errors import UserInputError
    from features.i18n import check_language
    from features.io import atomic_path
    from features.manager import manager_ids
    from features.skill_plans import recommend_cohorts
    from features.validate import load_dataset

    with user_errors():
        check_language(language)
        if team is not None and data is None:
            raise UserInputError("--team needs --data (the managers table names the teams)")
        state = skills_state(model_uri)
        managers = None
        if data:
            known = set(state.managers())
            tables = load_dataset(data, ["managers", "retailers", "assessments"]).tables
            managers = [m for m in manager_ids(tables) if m in known]
            if team is not None:
                frame = tables.get("managers")
                if frame is None or "team_id" not in frame:
                    raise UserInputError("--team needs the managers table with team_id")
                members = set(frame.loc[frame["team_id"] == team, "manager_id"])
                if not members:
                    raise UserInputError(f"--team {team!r}: no such team in the data")
                managers = [m for m in managers if m in members]
        sessions = recommend_cohorts(state, min_size, max_size, managers, course)
        if out:
            with atomic_path(out) as tmp:
                tmp.write_text(json.dumps(sessions, ensure_ascii=False, indent=2))
    key = "zh" if language == "zh" else "en"
    for s in sessions:
        if s["course_id"] is None:
            typer.echo(f"{s['label'][key]} ({s['size']}):")
            for x in s.get("left_out", []):
                typer.echo(f"  {x['manager_id']}: {x[key]}")
            continue
        typer.echo(
            f"session {s['session']}: {s['label'][key]}, expected benefit "
            f"{s['expected_benefit']:.1f}: {', '.join(s['members'])}"
        )
