"""`models list|promote|rollback`: the MLflow registry by hand."""

from __future__ import annotations

from typing import Annotated

import typer

from fieldcoach.cli.common import user_errors

app = typer.Typer(help="Inspect and override the model registry.", no_args_is_help=True)


@app.command("list")
def models_list() -> None:
    """Registered models, their versions, aliases and headline metrics."""
    from fieldcoach.registry import configure_mlflow, list_models
    from fieldcoach.settings import get_settings

    rows = list_models(configure_mlflow(get_settings()))
    if not rows:
        typer.echo("no registered models yet (run `fieldcoach train churn`)")
    for row in rows:
        tags = row.get("tags", {})
        kind = tags.get("model_kind", "")
        headline = []
        if "rule_metric" in tags:
            headline.append(f"{tags['rule_metric']} {tags['rule_value']} (promotion rule)")
        prefix = f"{kind or 'lightgbm'}_"
        headline += [
            f"{k.split('_', 1)[1]} {v:.4f}"
            for k, v in row["metrics"].items()
            if k.startswith(prefix) and k.split("_", 1)[1] in ("roc_auc", "ece")
        ]
        typer.echo(
            f"{row['model']:<16} v{row['version']:<4} {','.join(row['aliases']) or '-':<28}"
            f" {kind:<9}{', '.join(headline)}"
        )


@app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="Registered model, e.g. retailer-churn.")],
    version: Annotated[int, typer.Option(help="Version to make champion.")],
) -> None:
    """Make a version the champion (the old one becomes previous-champion)."""
    from fieldcoach.registry import configure_mlflow, promote
    from fieldcoach.settings import get_settings

    with user_errors():
        typer.echo(promote(configure_mlflow(get_settings()), name, version))


@app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Argument(help="Registered model, e.g. retailer-churn.")],
) -> None:
    """Make the previous champion the champion again."""
    from fieldcoach.registry import configure_mlflow, rollback
    from fieldcoach.settings import get_settings

    with user_errors():
        typer.echo(rollback(configure_mlflow(get_settings()), name))
