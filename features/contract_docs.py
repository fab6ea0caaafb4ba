"""Generate the README's data contract reference from ``features.contract``.

    python -m features.contract_docs README.md          # rewrite between the markers
    python -m features.contract_docs README.md --check  # exit 1 if README is out of date

Only the text between ``<!-- contract:start -->`` and ``<!-- contract:end -->`` is
replaced; a missing README is created with a ``## Data contract`` heading and the markers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from features.coercion import describe_check, type_name
from features.contract import (
    ALLOWED_ITEMS,
    CAPABILITIES,
    LIST_OF,
    LIST_SEPARATOR,
    NOT_BEFORE,
    REFERENCES,
    TABLES,
    column_rules,
    schema_for,
)

START = "<!-- contract:start -->"
END = "<!-- contract:end -->"
NEW_README = f"## Data contract\n\n{START}\n{END}\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rules(table: str, column: str) -> list[str]:
    spec = schema_for(table).columns[column]
    rules = [describe_check(check) for check in spec.checks]
    if not spec.nullable:
        rules.insert(0, "not empty")
    if spec.unique:
        rules.append("unique")
    meta = column_rules(table, column)
    if LIST_OF in meta:
        rules.append(f"list of {meta[LIST_OF]} separated by `{LIST_SEPARATOR}`")
    if ALLOWED_ITEMS in meta:
        rules.append("each item one of: " + ", ".join(meta[ALLOWED_ITEMS]))
    if REFERENCES in meta:
        ref_table, ref_column = meta[REFERENCES].split(".", 1)
        what = "each item" if LIST_OF in meta else "value"
        rules.append(f"{what} must be a {ref_column} in `{ref_table}` (if present)")
    if NOT_BEFORE in meta:
        target = meta[NOT_BEFORE]
        if "." in target:
            other, other_column = target.split(".", 1)
            rules.append(f"not before its {other_column} in `{other}` (if present)")
        else:
            rules.append(f"not before {target}")
    return rules


def _capabilities(table: str) -> list[str]:
    return [name for name, tables in CAPABILITIES.items() if table in tables]


def render_contract() -> str:
    """The markdown reference of every contract table (without the markers)."""
    out = [
        "*Generated from `features/contract.py` by `python -m features.contract_docs README.md`;"
        " do not edit by hand.*",
        "",
        "A data folder holds one file per table, `<table>.csv` (UTF-8, header row) or"
        " `<table>.parquet`. Only **orders** is mandatory; each optional table switches"
        " capabilities on. Columns not listed here are ignored. Dates are `YYYY-MM-DD`."
        " Check a folder with `fieldcoach validate DIR`.",
        "",
        "| table | mandatory | switches on |",
        "|---|---|---|",
    ]
    for name, spec in TABLES.items():
        caps = "; ".join(_capabilities(name)) or "-"
        out.append(f"| `{name}` | {'yes' if spec.required else 'no'} | {_cell(caps)} |")
    for name, spec in TABLES.items():
        schema = schema_for(name)
        doc = (spec.model.__doc__ or "").strip().splitlines()[0]
        out += ["", f"### `{name}`{' (mandatory)' if spec.required else ''}", "", doc]
        if schema.unique:
            keys = ", ".join(schema.unique)
            out += ["", f"Each combination of ({keys}) appears once."]
        out += [
            "",
            "| column | type | required | rules | description |",
            "|---|---|---|---|---|",
        ]
        for column, col in schema.columns.items():
            rules = "; ".join(_rules(name, column)) or "-"
            out.append(
                f"| `{column}` | {type_name(col.dtype)} | {'yes' if col.required else 'no'}"
                f" | {_cell(rules)} | {_cell(col.description or '')} |"
            )
    return "\n".join(out) + "\n"


def update_readme(text: str) -> str:
    """``text`` with the contract reference between the markers replaced."""
    if START not in text or END not in text or text.index(START) > text.index(END):
        raise ValueError(f"README has no '{START}' ... '{END}' markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{render_contract()}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", type=Path, nargs="?", default=Path("README.md"))
    parser.add_argument("--check", action="store_true", help="exit 1 if README is out of date")
    args = parser.parse_args(argv)
    current = args.readme.read_text(encoding="utf-8") if args.readme.exists() else None
    if args.check:
        if current is None or update_readme(current) != current:
            print(
                f"{args.readme}: data contract reference is out of date; run"
                f" python -m features.contract_docs {args.readme}",
                file=sys.stderr,
            )
            return 1
        return 0
    updated = update_readme(current if current is not None else NEW_README)
    if updated != current:
        args.readme.write_text(updated, encoding="utf-8")
        print(f"updated {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
