"""The ``fieldcoach`` app: the root command and every command group, assembled in one place.

Each module of this package holds one command group (or a few top-level commands); the
order here is the order ``fieldcoach --help`` lists them in.
"""

from __future__ import annotations

import os
import warnings

import typer
from typer.core import TyperGroup

from fieldcoach.cli import (
    data,
    evaluate,
    features,
    feedback,
    keys,
    loop,
    models,
    plan,
    recommend,
    retrain,
    score,
    serve,
    simulate,
    train,
    uplift,
)
from fieldcoach.cli.common import fail


class _Commands(TyperGroup):
    """Every command: a bad setting in the environment is one line, not a traceback."""

    def invoke(self, ctx):
        from fieldcoach.settings import SettingsError

        # LightGBM's OpenMP threads spin while waiting; on a small or shared machine the
        # spinning starves the working threads (measured: 440 ms per boosting round with 2
        # threads instead of 14 ms). OpenMP reads this once, when it loads, and every stage
        # is imported lazily below this point, so here is before any command loads it.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            return super().invoke(ctx)
        except SettingsError as exc:
            fail(str(exc))


# pandera imports pyspark.pandas when PySpark is installed, and PySpark 4 warns on pandas 3
# at that import; the Spark engine is held equal to pandas by tests, so users need not see it.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")

app = typer.Typer(
    cls=_Commands,
    help="fieldcoach: churn risk, next-best visits and tailored training for customer managers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command()(simulate.simulate)
app.command("simulate-continue")(simulate.simulate_continue)
app.command()(data.validate)
app.command("import")(data.import_command)
app.command()(serve.serve)
app.command()(retrain.retrain)

app.add_typer(features.app, name="features")
app.add_typer(train.app, name="train")
app.add_typer(score.app, name="score")
app.add_typer(models.app, name="models")
app.add_typer(recommend.app, name="recommend")
evaluate.app.command("uplift")(uplift.evaluate_uplift)
evaluate.app.command("loop")(loop.evaluate_loop_command)
app.add_typer(evaluate.app, name="evaluate")
app.add_typer(plan.app, name="plan")
app.add_typer(keys.app, name="keys")
app.add_typer(feedback.app, name="feedback")
