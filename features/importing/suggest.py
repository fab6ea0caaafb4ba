"""``fieldcoach import --suggest``: what the importer recognises, as a mapping to edit.

Every source gets a ``[[source]]`` entry with its table (or a TODO), how it is read, and
every header with the contract column it was matched to or a TODO; every category column
gets its labels seen in the data, recognised ones filled in and unknown ones left open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from features.importing.mapping import Mapping, write_suggestion
from features.importing.resolve import missing_required, resolve
from features.importing.sources import SourceError, open_sources
from features.importing.synonyms import VALUE_LISTS, normalise_name

VALUE_SCAN_ROWS = 200_000  # labels are read from the first rows of each source
MAX_LABELS = 200


def suggest_mapping(paths: list[Path], mapping: Mapping | None = None) -> str:
    mapping = mapping or Mapping()
    entries: list[dict[str, Any]] = []
    labels: dict[tuple[str, str], dict[str, str | None]] = {}
    for path in paths:
        rule = mapping.rule_for(path.name, None)
        try:
            sources = open_sources(
                path,
                rule.encoding if rule else None,
                rule.delimiter if rule else None,
                rule.header_row if rule else None,
            )
        except SourceError as exc:
            entries.append(
                {
                    "file": path.name,
                    "table": None,
                    "columns": {},
                    "note": f"cannot be read: {exc.rule} {exc.detail}".strip(),
                }
            )
            continue
        for source in sources:
            res = resolve(source, mapping.rule_for(path.name, source.sheet))
            note = ""
            if not source.headers:
                res.table, note = None, "empty sheet"
            elif res.table is None and res.candidates:
                note = "could be: " + ", ".join(res.candidates)
            elif res.table and missing_required(res):
                note = "TODO: mandatory columns not found: " + ", ".join(missing_required(res))
            entries.append(
                {
                    "file": path.name,
                    "sheet": source.sheet,
                    "table": res.table,
                    "note": note,
                    "header_row": source.header_row,
                    "encoding": source.encoding
                    and ("gbk" if source.encoding == "gb18030" else source.encoding),
                    "delimiter": source.delimiter,
                    "columns": {h: res.columns.get(h) for h in source.headers},
                }
            )
            enum_headers = {h: c for h, c in res.columns.items() if (res.table, c) in VALUE_LISTS}
            if not enum_headers or res.table is None:
                continue
            seen = 0
            try:
                for chunk in source.chunks():
                    for header, column in enum_headers.items():
                        _collect(chunk.frame[header], res.table, column, mapping, labels)
                    seen += len(chunk.frame)
                    if seen >= VALUE_SCAN_ROWS:
                        break
            except SourceError:
                pass
    return write_suggestion(entries, labels)


def _collect(
    raw: pd.Series,
    table: str,
    column: str,
    mapping: Mapping,
    labels: dict[tuple[str, str], dict[str, str | None]],
) -> None:
    synonyms = mapping.value_synonyms(table, column)
    found = labels.setdefault((table, column), {})
    for label in pd.unique(raw.dropna().astype(str).str.strip()):
        if not label or label in found or len(found) >= MAX_LABELS:
            continue
        items = (
            [label]
            if column != "skills"
            else [i for i in label.replace("；", ";").split(";") if i.strip()]
        )
        for item in items:
            item = item.strip()
            value = synonyms.get(normalise_name(item))
            if value != item:
                found[item] = value
