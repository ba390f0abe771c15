"""What an analyst's DuckDB client must be able to do with a published warehouse.

Opened directly and read-only (no ATTACH), the warehouse answers every ``sql`` example of
docs/analyst-queries.md, the guide's one-line 'what changed' query and a query of the household
scores (kept in Parquet files beside it, behind a view), and every view and view column
carries a comment. Needs only the standard library and ``duckdb`` (a 1.x client also
needs ``pytz`` for timestamp columns), so .ci/check_duckdb_clients.sh runs it with other
DuckDB versions in throwaway environments; the test suite runs it with the project's own:

    python tests/duckdb_clients.py WAREHOUSE [--cli PATH-TO-DUCKDB-CLI]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "analyst-queries.md"
DOCUMENTED_WAREHOUSE = "data/welfare_audit.duckdb"
WHAT_CHANGED = re.compile(r"`(SELECT \* FROM audit\.changes [^`]*;)`")


@dataclass(frozen=True)
class Example:
    """One fenced code block of the guide under its section heading."""

    section: str
    language: str
    code: str


def examples(language: str, guide: Path = GUIDE) -> list[Example]:
    """The guide's ```<language> blocks, each with the '## ' heading it sits under."""
    found: list[Example] = []
    section = ""
    pattern = r"^## ([^\n]+)$|^```(\w+)[ \t]*\n(.*?)^```[ \t]*$"
    for match in re.finditer(pattern, guide.read_text(encoding="utf-8"), re.M | re.S):
        if match.group(1):
            section = match.group(1).strip()
        elif match.group(2) == language:
            found.append(Example(section, language, match.group(3)))
    return found


def what_changed_query(guide: Path = GUIDE) -> str:
    """The one-line 'what changed since the previous run' query the guide gives."""
    (query,) = WHAT_CHANGED.findall(guide.read_text(encoding="utf-8"))
    return str(query)


STORED_IN_FILES = (
    "SELECT run_id, model, count(*) AS households, avg(p_poor) AS p_poor "
    "FROM audit.household_scores GROUP BY ALL ORDER BY ALL;"
)
"""Household scores are kept in Parquet files beside the warehouse, behind a view (#19):
every client must read them through it (no rows where the run published none)."""


def queries(warehouse: Path, guide: Path = GUIDE) -> dict[str, str]:
    """Every query to run, by name: the guide's sql examples, the one-line query, and the
    household scores read through their view over files."""
    found = {
        e.section: e.code.replace(DOCUMENTED_WAREHOUSE, str(warehouse))
        for e in examples("sql", guide)
    }
    return {
        **found,
        "what changed (one line)": what_changed_query(guide),
        "household scores (Parquet files behind a view)": STORED_IN_FILES,
    }


def views_problems(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Views that cannot be read or lack comments, and view columns without a comment."""
    views = con.execute(
        "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'audit'"
    ).fetchall()
    problems = [f"view audit.{name} has no comment" for name, comment in views if not comment]
    if not any(name == "changes" for name, _ in views):
        problems.append("view audit.changes is missing")
    for name, _ in views:
        try:
            con.execute(f'SELECT count(*) FROM audit."{name}"').fetchall()
        except duckdb.Error as error:
            problems.append(f"view audit.{name}: {error}")
    bare = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'audit' "
        "AND comment IS NULL AND table_name IN "
        "(SELECT view_name FROM duckdb_views() WHERE schema_name = 'audit')"
    ).fetchall()
    problems += [f"view column audit.{view}.{column} has no comment" for view, column in bare]
    return problems


@dataclass(frozen=True)
class Result:
    """One check: what was run, the problem met (None: passed), the rows a query returned."""

    name: str
    problem: str | None
    rows: int | None = None


def python_client_check(warehouse: Path, name: str, query: str) -> Result:
    """Run one query with this Python client on the file opened directly."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(query).fetchall()
    except duckdb.Error as error:
        return Result(name, str(error))
    finally:
        con.close()
    return Result(name, None, len(rows))


def cli_check(cli: Path, warehouse: Path, name: str, query: str) -> Result:
    """Run one query with the DuckDB command-line client on the file."""
    done = subprocess.run(
        [str(cli), "-readonly", "-bail", "-csv", str(warehouse)],
        input=query,
        capture_output=True,
        text=True,
        timeout=120,
    )
    failed = done.returncode != 0 or "Error" in done.stderr
    return Result(name, done.stderr.strip() if failed else None)


def check(warehouse: Path, *, cli: Path | None = None, guide: Path = GUIDE) -> list[Result]:
    """Each check an analyst's client must pass: the views, then every query with this
    Python's DuckDB and, given one, with the DuckDB CLI."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        problems = views_problems(con)
    finally:
        con.close()
    results = [Result("views readable and commented", "; ".join(problems) or None)]
    for name, query in queries(warehouse, guide).items():
        results.append(python_client_check(warehouse, f"python: {name}", query))
        if cli is not None:
            results.append(cli_check(cli, warehouse, f"cli: {name}", query))
    return results


def compared(results: list[Result], expected: dict[str, int]) -> list[Result]:
    """The results, a query that returned another number of rows than expected failed."""
    return [
        Result(r.name, f"{r.rows} rows, expected {expected[r.name]}", r.rows)
        if r.problem is None and r.name in expected and r.rows != expected[r.name]
        else r
        for r in results
    ]


def main() -> int:
    """Check a warehouse with this Python's duckdb; print each check and a summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse", type=Path)
    parser.add_argument("--cli", type=Path, help="also run every query with this DuckDB CLI")
    parser.add_argument("--write-rows", type=Path, help="write each query's row count (JSON)")
    parser.add_argument("--expect-rows", type=Path, help="fail where the row count differs")
    arguments = parser.parse_args()
    results = check(arguments.warehouse, cli=arguments.cli)
    if arguments.expect_rows:
        results = compared(results, json.loads(arguments.expect_rows.read_text()))
    if arguments.write_rows:
        counts = {r.name: r.rows for r in results if r.rows is not None}
        arguments.write_rows.write_text(json.dumps(counts, indent=1))
    for r in results:
        rows = "" if r.rows is None else f" ({r.rows} rows)"
        print(f"FAIL {r.name}: {r.problem}" if r.problem else f"ok   {r.name}{rows}")
    failed = sum(r.problem is not None for r in results)
    print(f"duckdb {duckdb.__version__}: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
