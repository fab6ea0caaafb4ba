"""The review's files: JSON, an Excel workbook, two charts in Chinese, one MLflow run.

The charts are for a manager to look at: the effect overall and per arm with its interval,
and the shrunk effect per purpose. Their Chinese labels need a real CJK font; Debian's
``fonts-noto-cjk`` (which ``make test`` installs) is found through matplotlib's font
manager, and without one the review stops with the install line rather than draw boxes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from matplotlib import font_manager

from features.errors import UserInputError
from features.i18n import PURPOSE_NAMES, REVIEW_LABELS, pick
from features.io import atomic_path
from fieldcoach.settings import Settings
from training.plots import pyplot

CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Serif CJK SC", "Noto Sans SC")
EXPERIMENT = "uplift-review"


def cjk_font() -> str:
    """The family name of an installed CJK font, or a clear error naming the package."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    # A font installed after matplotlib built its cache is not in ttflist yet.
    found = [p for p in font_manager.findSystemFonts() if "CJK" in Path(p).name]
    if found:
        # Sans before serif, regular before bold.
        found.sort(key=lambda p: ("Sans" not in Path(p).name, "Regular" not in Path(p).name))
        for path in found:
            font_manager.fontManager.addfont(path)
        return font_manager.FontProperties(fname=found[0]).get_name()
    raise UserInputError(
        "no CJK font for the review's Chinese chart labels: install one "
        "(Debian/Ubuntu: apt-get install fonts-noto-cjk) and run again"
    )


def _label(key: str, language: str, **values: Any) -> str:
    return pick(REVIEW_LABELS[key], language).format(**values)


def _intervals_chart(
    rows: list[tuple[str, float | None, float | None, float | None, str]],
    path: Path,
    language: str,
    title: str,
    height: float,
    capsize: int,
) -> Path:
    """One dot and its 95% interval per (label, estimate, low, high, colour), top to bottom;
    a row without an estimate says so."""
    font = cjk_font()
    fig, ax = pyplot().subplots(figsize=(7, height))
    for k, (_, estimate, low, high, colour) in enumerate(rows):
        if estimate is None:
            ax.text(0, k, _label("no_estimate", language), va="center", fontfamily=font)
            continue
        ax.errorbar(
            estimate,
            k,
            xerr=[[estimate - low], [high - estimate]],
            fmt="o",
            capsize=capsize,
            color=colour,
        )
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(rows)), [row[0] for row in rows], fontfamily=font)
    ax.invert_yaxis()
    ax.set_xlabel(_label("effect_yuan", language), fontfamily=font)
    ax.set_title(title, fontfamily=font)
    fig.tight_layout()
    return _save(fig, path)


def effect_chart(result: dict[str, Any], path: Path, language: str = "zh") -> Path:
    """Overall and per-arm effect on order value with 95% intervals."""
    section = result["order_value"]
    entries = [("overall", section["overall"]), *sorted(section["by_arm"].items())]
    rows = [
        (
            _label(name, language),
            entry["estimate"],
            entry["ci_low"],
            entry["ci_high"],
            "#1f6f8b" if name == "overall" else "#99a8b2",
        )
        for name, entry in entries
    ]
    weeks = result["config"]["horizon_weeks"]
    title = _label("title_effect", language, weeks=weeks)
    return _intervals_chart(rows, path, language, title, height=3.8, capsize=5)


def purpose_chart(result: dict[str, Any], path: Path, language: str = "zh") -> Path:
    """Shrunk effect per purpose with its interval; purposes without an estimate say so."""
    groups = result["order_value"]["by_purpose"]
    rows = []
    for name in sorted(groups):
        g = groups[name]
        shown = pick(PURPOSE_NAMES[name], language) if name in PURPOSE_NAMES else name
        if "shrunk" not in g:
            rows.append((shown, None, 0.0, 0.0, ""))
            continue
        rows.append((shown, g["shrunk"], g["shrunk_ci_low"], g["shrunk_ci_high"], "#1f6f8b"))
    height = 0.5 * max(len(groups), 2) + 1.5
    title = _label("title_purpose", language)
    return _intervals_chart(rows, path, language, title, height=height, capsize=4)


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    pyplot().close(fig)
    return path


def workbook(result: dict[str, Any], path: Path, language: str = "zh") -> Path:
    """One sheet per view, headers in ``language``."""

    def table(groups: dict[str, dict[str, Any]], names=None) -> pd.DataFrame:
        rows = []
        for key, g in groups.items():
            shown = names(key) if names else key
            rows.append(
                {
                    _label("group", language): shown,
                    _label("rows", language): g["rows"],
                    _label("recommended", language): g["recommended"],
                    _label("not_recommended", language): g["not_recommended"],
                    _label("estimate", language): g["estimate"],
                    _label("ci_low", language): g["ci_low"],
                    _label("ci_high", language): g["ci_high"],
                    _label("shrunk", language): g.get("shrunk"),
                    _label("why_not", language): g["why_not"],
                }
            )
        return pd.DataFrame(rows)

    def purpose(name: str) -> str:
        return pick(PURPOSE_NAMES[name], language) if name in PURPOSE_NAMES else name

    sheets: dict[str, pd.DataFrame] = {}
    summary = []
    for key in ("order_value", "retention"):
        section = result[key]
        views = {_label("overall", language): section["overall"]}
        views.update({_label(a, language): e for a, e in section["by_arm"].items()})
        frame = table(views)
        frame.insert(0, _label(key, language), _label(key, language))
        summary.append(frame)
    sheets[_label("sheet_summary", language)] = pd.concat(summary, ignore_index=True)
    sheets[_label("sheet_purpose", language)] = table(result["order_value"]["by_purpose"], purpose)
    sheets[_label("sheet_team", language)] = table(result["order_value"]["by_team"])
    sheets[_label("sheet_manager", language)] = table(result["order_value"]["by_manager"])
    reasons = result["feedback"].get("rejection_reasons", {})
    sheets[_label("sheet_feedback", language)] = pd.DataFrame(
        {
            _label("reason", language): list(reasons),
            _label("count", language): list(reasons.values()),
        }
    )
    with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name[:31], index=False)
    return path


def write_review(result: dict[str, Any], report: Path, settings: Settings | None) -> dict:
    """JSON at ``report``, the workbook and charts beside it; logged to MLflow if asked."""
    report = Path(report)
    files = {
        "workbook": workbook(result, report.with_suffix(".xlsx")),
        "chart_effect": effect_chart(result, report.with_name(f"{report.stem}-effect.png")),
        "chart_purpose": purpose_chart(result, report.with_name(f"{report.stem}-purpose.png")),
    }
    result["files"] = {k: str(v) for k, v in files.items()}
    if settings is not None:
        result["mlflow_run_id"] = log_review(result, files, settings)
    with atomic_path(report) as tmp:
        tmp.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return result


def log_review(result: dict[str, Any], files: dict[str, Path], settings: Settings) -> str:
    from fieldcoach.registry import configure_mlflow
    from training.promotion import experiment_id

    configure_mlflow(settings)
    with mlflow.start_run(
        experiment_id=experiment_id(EXPERIMENT, settings), run_name="uplift review"
    ) as run:
        metrics = {"randomised_rows": result["rows"]["randomised"]}
        for key in ("order_value", "retention"):
            overall = result[key]["overall"]
            for field in ("estimate", "ci_low", "ci_high"):
                if overall[field] is not None:
                    metrics[f"{key}_{field}"] = overall[field]
        mlflow.log_metrics(metrics)
        mlflow.set_tag("verdict", result["verdict"]["en"][:4000])
        mlflow.log_dict(result, "review.json")
        for path in files.values():
            mlflow.log_artifact(str(path))
        return run.info.run_id
