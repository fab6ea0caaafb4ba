"""The tree's floor plan, read from the source: imports flow one way, truth stays in evaluation.

Layers, bottom to top (a module may import its own layer and the ones it points at):

    kernel      fieldcoach (settings, registry) and features' contract, errors, io,
                validate and calendar: what every stage reads tables with
    features    raw records to point-in-time tables            -> kernel
    training    fit and register                               -> features, kernel
    planning    next-best visits                               -> features, kernel
    simulator   a territory with a known truth                 -> features, kernel
    serving     answer people (loads what training registered) -> planning, features, kernel
    evaluation  checks against the simulator's truth           -> training, planning,
                                                                  simulator, features, kernel
    cli         fieldcoach.cli, the top                        -> anything; nothing imports it

Lazy imports inside functions count the same as imports at the top of a module. No Python
file in the project's folders is over 500 lines: past that, a file holds several jobs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("fieldcoach", "features", "training", "planning", "serving", "simulator", "evaluation")
KERNEL = (
    "fieldcoach",
    "fieldcoach.settings",
    "fieldcoach.registry",
    "features.errors",
    "features.contract",
    "features.pandera_quiet",
    "features.io",
    "features.validate",
    "features.validation_report",
    "features.coercion",
    "features.table_rules",
    "features.feedback_rows",
    "features.calendar",
)
BELOW = {
    "kernel": set(),
    "features": {"kernel"},
    "training": {"features", "kernel"},
    "planning": {"features", "kernel"},
    "simulator": {"features", "kernel"},
    "serving": {"planning", "features", "kernel"},
    "evaluation": {"training", "planning", "simulator", "features", "kernel"},
    "cli": {"evaluation", "serving", "training", "planning", "simulator", "features", "kernel"},
}
# Reading the simulator's truth: its folder, or the helpers that open it.
TRUTH = re.compile(r"\b_truth\b|\bload_truth\b|\bhas_truth\b|\bTRUTH_DIR\b")
# Who may: the simulator writes it, evaluation and the benchmarks check against it, and the
# command-line modules of those two (`simulate`, `evaluate`) name it in their help.
TRUTH_READERS = ("simulator/", "evaluation/", "benchmarks/", "tests/")
TRUTH_COMMANDS = ("fieldcoach/cli/simulate.py", "fieldcoach/cli/evaluate.py")
MAX_LINES = 500
# Every folder that holds the project's Python (notebooks/ counts should a .py appear there).
SIZED = (*STAGES, "benchmarks", "tests", "notebooks")


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to; None outside the stages (stdlib, libs)."""
    top = module.split(".")[0]
    if top not in STAGES:
        return None
    if module == "fieldcoach.cli" or module.startswith("fieldcoach.cli."):
        return "cli"
    if any(module == k or module.startswith(k + ".") for k in KERNEL):
        return "kernel"
    return top


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source``, relative ones resolved against
    ``module``, including imports inside functions."""
    package = module.split(".")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = ".".join(package[: len(package) - node.level])
                base = f"{parent}.{base}".strip(".")
            # `from features import retailer` imports features.retailer: judge by the names.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def upward_imports(path: Path, source: str) -> list[str]:
    module = ".".join(path.with_suffix("").parts).removesuffix(".__init__")
    own = layer_of(module)
    allowed = BELOW[own] | {own}
    problems = []
    for line, target in imported_modules(source, module):
        theirs = layer_of(target)
        if theirs is None or theirs in allowed:
            continue
        problems.append(f"{path}:{line}: {own} imports {target} ({theirs})")
    return problems


def private_imports(path: Path, source: str) -> list[str]:
    """``from a.b import _helper`` in another module: a private name used as an API."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        if node.module.split(".")[0] not in STAGES:
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                problems.append(f"{path}:{node.lineno}: {node.module}.{alias.name}")
    return problems


def source_files() -> list[Path]:
    files = []
    for stage in STAGES:
        files += [p.relative_to(ROOT) for p in sorted((ROOT / stage).rglob("*.py"))]
    return files


def long_files(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for every ``.py`` under ``SIZED`` in ``root`` longer than ``limit``."""
    found = []
    for folder in SIZED:
        for path in sorted((root / folder).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found.append(f"{path.relative_to(root).as_posix()}: {lines} lines")
    return found


def test_no_layer_imports_a_higher_one() -> None:
    problems = []
    for path in source_files():
        problems += upward_imports(path, (ROOT / path).read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_no_module_imports_another_modules_private_helper() -> None:
    problems = []
    for path in source_files():
        problems += private_imports(path, (ROOT / path).read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_only_the_simulator_and_evaluation_read_the_truth() -> None:
    problems = []
    tops = [p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")]
    paths = [p for top in tops for p in top.rglob("*.py")] + list(ROOT.glob("*.py"))
    for path in sorted(paths):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("docs/", "notebooks/", "build/", *TRUTH_READERS)):
            continue
        if rel in TRUTH_COMMANDS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if TRUTH.search(line):
                problems.append(f"{rel}:{number}: {line.strip()}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("path", "source", "flagged"),
    [
        ("training/x.py", "from planning.plan import plan_manager", True),
        ("training/x.py", "def f():\n    import simulator.export\n", True),
        ("serving/x.py", "from training.churn import train_churn", True),
        ("features/x.py", "from fieldcoach.cli import app", True),
        ("fieldcoach/settings.py", "from features.retailer import model_input", True),
        ("features/calendar.py", "from features.retailer import model_input", True),
        ("evaluation/x.py", "from serving.app import create_app", True),
        ("features/x.py", "from features.calendar import to_days", False),
        ("training/x.py", "from features import retailer", False),
        ("serving/x.py", "from planning.plan import plan_manager", False),
        ("serving/x.py", "from fieldcoach.settings import Settings", False),
        ("evaluation/x.py", "from training.visits import VisitEffect", False),
        ("fieldcoach/cli/x.py", "from evaluation.policy_runs import POLICIES", False),
    ],
)
def test_the_check_tells_upward_from_downward(path: str, source: str, flagged: bool) -> None:
    assert bool(upward_imports(Path(path), source)) is flagged


def test_the_check_finds_a_private_import() -> None:
    assert private_imports(Path("training/x.py"), "from training.churn_run import _log_run")
    assert not private_imports(Path("training/x.py"), "from training.churn_run import HEADLINE")


def test_no_source_file_is_over_500_lines() -> None:
    long = long_files(ROOT)
    assert not long, f"over {MAX_LINES} lines; split by job:\n" + "\n".join(long)


def test_the_size_check_names_each_long_file(tmp_path: Path) -> None:
    for folder, lines in (("training", 501), ("tests", 500), ("docs", 900)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.py").write_text("x = 1\n" * lines, encoding="utf-8")
    assert long_files(tmp_path) == ["training/x.py: 501 lines"]
