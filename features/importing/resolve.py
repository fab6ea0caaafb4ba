"""Which contract table a file or sheet is, and which of its columns is which.

The mapping decides first; then the sheet's name (or, for a default-named sheet such as
``Sheet1``, the file's); then the headers: the table whose mandatory columns are all there
and which recognises most headers. A tie is ambiguous and left to the mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from features.contract import TABLES, schema_for
from features.importing.mapping import SKIP, SourceRule
from features.importing.sources import Source
from features.importing.synonyms import COLUMNS, TABLE_NAMES, normalise_name

_DEFAULT_SHEET = re.compile(r"^(sheet|工作表|表)\s*\d*$", flags=re.IGNORECASE)
_UNIT_SCALES = (("万元", 1e4), ("千元", 1e3))


@dataclass
class Resolved:
    """A source with its table and column decisions, and how they were made."""

    source: Source
    table: str | None
    how: str  # "mapping", "name", "headers", or why it is unresolved
    columns: dict[str, str] = field(default_factory=dict)  # source header -> contract column
    scales: dict[str, float] = field(default_factory=dict)  # contract column -> unit factor
    date_formats: dict[str, str] = field(default_factory=dict)  # contract column -> format
    ignored: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)

    def header_of(self, column: str) -> str:
        for header, target in self.columns.items():
            if target == column:
                return header
        return column


def ranked_synonyms(table: str) -> dict[str, tuple[str, int]]:
    """Normalised header -> (contract column, rank); a lower rank is the more specific name."""
    out: dict[str, tuple[str, int]] = {}
    for column, names in COLUMNS[table].items():
        for rank, name in enumerate((column, *names)):
            key = normalise_name(name)
            if key not in out or rank < out[key][1]:
                out[key] = (column, rank)
    return out


def tables_named(name: str) -> list[str]:
    """Tables whose keywords occur in ``name``; only the longest keyword's tables."""
    folded = normalise_name(name)
    lengths: dict[str, int] = {}
    for table, words in TABLE_NAMES.items():
        hits = [len(normalise_name(w)) for w in words if normalise_name(w) in folded]
        if hits:
            lengths[table] = max(hits)
    if not lengths:
        return []
    best = max(lengths.values())
    return [t for t, n in lengths.items() if n == best]


def header_scores(headers: list[str]) -> dict[str, tuple[bool, int]]:
    """Per table: are all its mandatory columns recognised, and how many headers are."""
    scores: dict[str, tuple[bool, int]] = {}
    folded = {normalise_name(h) for h in headers}
    for table in TABLES:
        synonyms = ranked_synonyms(table)
        found = {synonyms[h][0] for h in folded if h in synonyms}
        required = {c for c, spec in schema_for(table).columns.items() if spec.required}
        scores[table] = (required <= found, len(found))
    return scores


def _best_by_headers(headers: list[str], among: list[str]) -> list[str]:
    scores = header_scores(headers)
    complete = [t for t in among if scores[t][0]] or among
    top = max((scores[t][1] for t in complete), default=0)
    return [t for t in complete if scores[t][1] == top and top > 0]


def resolve_table(source: Source, rule: SourceRule | None) -> tuple[str | None, str, list[str]]:
    """(table or None, how it was decided, the candidates when ambiguous)."""
    if rule and rule.table:
        return (
            (None, "skipped by the mapping", [])
            if rule.table == SKIP
            else (rule.table, "mapping", [])
        )
    names = []
    if source.sheet is not None and not _DEFAULT_SHEET.match(source.sheet.strip()):
        names.append(source.sheet)
    else:
        names.append(source.path.stem)
    for name in names:
        hits = tables_named(name)
        if len(hits) == 1:
            return hits[0], "name", []
        if len(hits) > 1:
            best = _best_by_headers(source.headers, hits)
            if len(best) == 1:
                return best[0], "name and headers", []
            return None, "ambiguous", hits
    scores = header_scores(source.headers)
    complete = [t for t, (ok, n) in scores.items() if ok and n > 0]
    best = _best_by_headers(source.headers, complete) if complete else []
    if len(best) == 1:
        return best[0], "headers", []
    if len(best) > 1:
        return None, "ambiguous", best
    return None, "unknown", []


def resolve(source: Source, rule: SourceRule | None) -> Resolved:
    table, how, candidates = resolve_table(source, rule)
    resolved = Resolved(source, table, how, candidates=candidates)
    if table is None:
        return resolved
    synonyms = ranked_synonyms(table)
    declared = rule.columns if rule else {}
    chosen: dict[str, tuple[int, str]] = {}
    for header in source.headers:
        if header in declared:
            target, rank = (declared[header] or None), -1
        else:
            target, rank = synonyms.get(normalise_name(header), (None, 0))
        if target and (target not in chosen or rank < chosen[target][0]):
            chosen[target] = (rank, header)
    contract = list(schema_for(table).columns)
    for column in sorted(chosen, key=contract.index):
        header = chosen[column][1]
        resolved.columns[header] = column
        for unit, factor in _UNIT_SCALES:
            if unit in header:
                resolved.scales[column] = factor
        fmt = (rule.date_formats.get(header) or rule.date_format) if rule else None
        if fmt:
            resolved.date_formats[column] = fmt
    resolved.ignored = [h for h in source.headers if h not in resolved.columns]
    return resolved


def missing_required(resolved: Resolved) -> list[str]:
    assert resolved.table is not None
    present = set(resolved.columns.values())
    return [
        c
        for c, spec in schema_for(resolved.table).columns.items()
        if spec.required and c not in present
    ]
