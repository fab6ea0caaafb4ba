"""The catalogue of what a person reads, in Chinese and English, and numbers rounded for people.

One place for the words: visit purposes and their talking points, column headers of every
CSV and Excel export, yes/no, complaint categories, shop formats, the names of features
(so no raw ``feature_name`` ever reaches a reader), and the messages and notes a plan or a
command prints. Reason sentences built from a model's features live in ``features.reasons``
and take their words from here. Chinese first: ``zh`` is the language of the field.

One catalogue, kept in files by kind so each stays readable: ``names`` (the words for
codes), ``columns`` (headers, labels, decimals), ``messages`` (notes by key) and
``import_rules`` (what the import report says about each rule). Every caller imports
from ``features.i18n``; this module holds the lookups over them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from features.errors import UserInputError
from features.i18n.columns import COLUMNS, DECIMALS, REVIEW_LABELS, WEEKDAYS
from features.i18n.import_rules import IMPORT_RULES, describe_import_rule
from features.i18n.messages import MESSAGES
from features.i18n.names import (
    AREA_NAMES,
    COMPLAINT_CATEGORIES,
    FEATURE_NAMES,
    FORMAT_NAMES,
    HOLIDAY_NAMES,
    MODEL_NAMES,
    PURPOSE_NAMES,
    RANKING_NAMES,
    SKILL_NAMES,
    TALKING_POINTS,
    WORDS,
    YES_NO,
)

__all__ = [
    "AREA_NAMES",
    "COLUMNS",
    "COMPLAINT_CATEGORIES",
    "DECIMALS",
    "FEATURE_NAMES",
    "FORMAT_NAMES",
    "HOLIDAY_NAMES",
    "IMPORT_RULES",
    "LANGUAGES",
    "MESSAGES",
    "MODEL_NAMES",
    "PURPOSE_NAMES",
    "RANKING_NAMES",
    "REVIEW_LABELS",
    "SKILL_NAMES",
    "TALKING_POINTS",
    "WEEKDAYS",
    "WORDS",
    "YES_NO",
    "Note",
    "check_language",
    "describe_import_rule",
    "feature_name",
    "human_number",
    "localise_rows",
    "pick",
    "render_notes",
    "say",
    "yuan",
]

LANGUAGES = ("zh", "en")


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise UserInputError(f"--language must be zh or en, got {language!r}")
    return language


def pick(pair: tuple[str, str], language: str) -> str:
    """The ``(zh, en)`` pair's text in ``language`` (English for anything but zh)."""
    return pair[0] if language == "zh" else pair[1]


def feature_name(feature: str, language: str) -> str:
    """A feature's name for people; an unknown one is described, never shown raw."""
    pair = FEATURE_NAMES.get(feature, ("其他经营信号", "another signal in its records"))
    return pick(pair, language)


def human_number(value: float, decimals: int = 0) -> float | int:
    """A number as a person reads it: whole yuan, one decimal for km, no float noise."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value
    if decimals <= 0:
        return round(float(value))
    return round(float(value), decimals)


def yuan(value: float) -> str:
    """Yuan with thousands separators, whole yuan (1,234)."""
    return f"{human_number(value):,}"


def _cell(column: str, value: Any, language: str) -> Any:
    if isinstance(value, bool):
        return pick(YES_NO[value], language)
    if isinstance(value, float):
        return human_number(value, DECIMALS.get(column, 2))
    if isinstance(value, Mapping):
        if set(value) <= set(SKILL_NAMES):  # expected gain per skill: "沟通能力 +3.2"
            return "; ".join(
                f"{pick(SKILL_NAMES[k], language)} {float(v):+.1f}" for k, v in value.items()
            )
        return "; ".join(f"{k} {_cell(k, v, language)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(str(_cell(column, v, language)) for v in value)
    if column == "purpose" and isinstance(value, str) and value in PURPOSE_NAMES:
        return value  # the code stays for scripts; purpose_name carries the words
    return value


def localise_rows(rows: Iterable[Mapping[str, Any]], language: str) -> list[dict[str, Any]]:
    """Rows as a person reads them: headers, yes/no, lists and numbers in ``language``."""
    out = []
    for row in rows:
        out.append(
            {
                pick(COLUMNS[k], language) if k in COLUMNS else k: _cell(k, v, language)
                for k, v in row.items()
            }
        )
    return out


@dataclass(frozen=True, order=True)
class Note:
    """A message to a reader, kept as a key and values until it is shown in a language."""

    key: str
    values: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, key: str, **values: Any) -> Note:
        if key not in MESSAGES:
            raise KeyError(f"no message {key!r} in the catalogue")
        return cls(key, tuple(sorted(values.items())))

    def text(self, language: str) -> str:
        values = {
            k: pick(WORDS[k][v], language) if k in WORDS and v in WORDS[k] else v
            for k, v in self.values
        }
        return pick(MESSAGES[self.key], language).format(**values)


def say(key: str, language: str, **values: Any) -> str:
    return Note.of(key, **values).text(language)


def render_notes(notes: Iterable[Note | str], language: str) -> list[str]:
    """Notes in ``language``, each once, in a stable order."""
    texts = {n.text(language) if isinstance(n, Note) else str(n) for n in notes}
    return sorted(texts)
