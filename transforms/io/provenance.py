"""Provenance of a run: the documented query (docs/queries/provenance.sql), run section by section.

``welfare-audit explain`` and the documented query share this one SQL file, so what the CLI
shows is exactly what an analyst gets by running the query by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from transforms.catalogue import Indicator, catalogue

PROVENANCE_SQL = Path(__file__).resolve().parents[2] / "docs" / "queries" / "provenance.sql"
SECTION = re.compile(r"^--\s*\d+\.\s*(?P<title>.+)$")


@dataclass(frozen=True)
class Section:
    """One numbered statement of the provenance query."""

    title: str
    sql: str


def provenance_sections(script: str) -> list[Section]:
    """The numbered statements of the script, each titled by its '-- N. title' comment."""
    sections: list[Section] = []
    title: str | None = None
    lines: list[str] = []
    for line in [*script.splitlines(), ";"]:
        heading = SECTION.match(line.strip())
        if heading:
            title = heading["title"].strip()
            continue
        if line.lstrip().startswith("--"):
            continue
        lines.append(line)
        if line.rstrip().endswith(";"):
            statement = "\n".join(lines).strip().rstrip(";").strip()
            if statement and title is not None:
                sections.append(Section(title, statement))
            lines, title = [], None
    return sections


def explain_run(
    con: duckdb.DuckDBPyConnection, run_id: str, *, script: Path = PROVENANCE_SQL
) -> list[tuple[str, pl.DataFrame]]:
    """Each provenance section's title and answer for one run (run_id bound as a parameter)."""
    answers = []
    for section in provenance_sections(script.read_text(encoding="utf-8")):
        # $run_id is a named parameter: bound by DuckDB, never pasted into the SQL
        answers.append((section.title, con.sql(section.sql, params={"run_id": run_id}).pl()))
    if not answers or answers[0][1].is_empty():
        raise LookupError(f"no run {run_id!r} in the warehouse (see `welfare-audit runs`)")
    return answers


def latest_run_id(con: duckdb.DuckDBPyConnection) -> str:
    """The newest successful run (what the latest_* views show)."""
    rows = con.sql(
        "SELECT run_id FROM audit.runs WHERE status = 'succeeded' "
        "ORDER BY finished_at DESC, run_id DESC LIMIT 1"
    ).fetchall()
    if not rows:
        raise LookupError("the warehouse has no successful run yet")
    return str(rows[0][0])


def indicator_definition(name: str) -> Indicator:
    """The catalogued definition of a published indicator or rate (suffixes like ':logit' ok)."""
    prefix = name.split(":", 1)[0]
    items = catalogue()
    for item in items:
        if item.name == name or item.prefix == prefix:
            return item
    known = ", ".join(sorted({item.prefix for item in items}))
    raise LookupError(f"{name!r} is not a catalogued indicator; known: {known}")
