"""Every worked example of docs/analyst-queries.md runs on a freshly audited warehouse.

One audit run of a small generated survey (two models, a few bad rows so that the quarantine
has something to show) feeds every example. The documented path data/welfare_audit.duckdb is
replaced by the test warehouse; nothing else in an example is changed.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from tests.duckdb_clients import DOCUMENTED_WAREHOUSE, Example, check, examples, what_changed_query
from transforms.contract import CHANGES, TABLES
from transforms.io.warehouse import connect
from transforms.sample.files import write_synthetic_survey

LISTS_EVERY_RUN = "1. Open the warehouse read-only"
COMPARES_RUNS = "10. What changed since the previous run"
FILTERED_COLUMNS = (
    "method",
    "decision_rule",
    "group_type",
    "indicator",
    "scenario",
    "programme",
    "poverty_line",
    "sample",
    "table_name",
)

pytestmark = pytest.mark.usefixtures("prefect_harness")  # the audit run reports to it
INSIDE = [spec for spec in TABLES if not spec.stored_in_files]
"""The tables inside the warehouse file, which the fixtures below extend in place (household
scores are files beside it, behind a view: their copies read the original's)."""


SQL = examples("sql")


def run_sql(example: Example, warehouse: Path) -> list[tuple[Any, ...]]:
    """Execute every statement of an example on the file opened directly, as an analyst's
    client does (no ATTACH); return the rows of its last query."""
    code = example.code.replace(DOCUMENTED_WAREHOUSE, str(warehouse))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows: list[tuple[Any, ...]] | None = None
        for statement in con.extract_statements(code):
            result = con.execute(statement.query)
            if statement.type == duckdb.StatementType.SELECT:
                rows = result.fetchall()
    assert rows is not None, f"{example.section}: no query"
    return rows


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The warehouse of one audit run: 1,500 generated households, 5 of them rejected, with
    household scores (kept in Parquet files beside the warehouse)."""
    out = tmp_path_factory.mktemp("analyst-survey")
    write_synthetic_survey(out, households=1500, seed=3, file_format="parquet")
    config = out / "audit.toml"
    text = config.read_text()
    assert 'enabled = ["ols", "logit", "hgb", "rf"]' in text
    assert "min_cell_n = 10" in text
    config.write_text(
        text.replace(
            'enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["ols", "logit"]'
        ).replace("min_cell_n = 10", "min_cell_n = 10\npublish_household_scores = true")
    )
    columns = tomllib.loads(text)["inputs"]["households"]["columns"]
    weight, size = columns["weight"], columns["hh_size"]
    households = pl.read_parquet(out / "households.parquet")
    row = pl.int_range(pl.len())
    households.with_columns(
        pl.when(row < 3).then(-1.0).otherwise(pl.col(weight)).alias(weight),
        pl.when(row.is_between(3, 4))
        .then(0)
        .otherwise(pl.col(size))
        .cast(households[size].dtype)
        .alias(size),
    ).write_parquet(out / "households.parquet")
    from flows.audit import audit

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WELFARE_AUDIT_PSEUDONYM_KEY", "analyst-queries-key-of-some-length")
        audit(str(config), None)
    return out / "welfare_audit.duckdb"


@pytest.fixture(scope="module")
def two_runs(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy holding the run plus a clone of it as the run before, its exclusion errors −0.02."""
    copy = tmp_path_factory.mktemp("two-runs") / "welfare_audit.duckdb"
    shutil.copyfile(warehouse, copy)
    with connect(copy) as con:
        for spec in INSIDE:
            replaced = ["'previous-run' AS run_id"]
            if spec.name == "runs":
                replaced += [
                    "started_at - INTERVAL 1 DAY AS started_at",
                    "finished_at - INTERVAL 1 DAY AS finished_at",
                ]
            if spec.name == "targeting_errors":
                replaced.append("exclusion_error - 0.02 AS exclusion_error")
            con.execute(
                f"INSERT INTO audit.{spec.name} "
                f"SELECT * REPLACE ({', '.join(replaced)}) FROM audit.{spec.name}"
            )
    return copy


DIMENSIONS = ("programme", "poverty_line", "sample")
SHIFTED = ("value", "coverage", "exclusion_error", "inclusion_error", "auc")


@pytest.fixture(scope="module")
def other_dimensions(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy where every row also appears under another programme, line and sample, its
    rates shifted by 0.5: an example that does not pin each of them answers differently."""
    copy = tmp_path_factory.mktemp("other-dimensions") / "welfare_audit.duckdb"
    shutil.copyfile(warehouse, copy)
    with connect(copy) as con:
        for spec in INSIDE:
            names = spec.column_names()
            replaced = [f"'other' AS {column}" for column in DIMENSIONS if column in names]
            replaced += [f"{column} + 0.5 AS {column}" for column in SHIFTED if column in names]
            if any(column in names for column in DIMENSIONS):
                con.execute(
                    f"INSERT INTO audit.{spec.name} "
                    f"SELECT * REPLACE ({', '.join(replaced)}) FROM audit.{spec.name}"
                )
    return copy


def test_the_guide_has_a_worked_sql_example_per_question() -> None:
    sections = [example.section for example in SQL]
    assert 8 <= len(set(sections)) <= 12
    assert len(sections) == len(set(sections))  # one sql block per question
    assert LISTS_EVERY_RUN in sections and COMPARES_RUNS in sections


@pytest.mark.parametrize("example", SQL, ids=[example.section for example in SQL])
def test_every_sql_example_answers(
    example: Example, warehouse: Path, two_runs: Path, other_dimensions: Path
) -> None:
    rows = run_sql(example, warehouse)
    assert rows, f"{example.section}: no rows"
    if example.section not in (LISTS_EVERY_RUN, COMPARES_RUNS):
        # a run before the latest changes nothing: the example reads the latest run only
        assert run_sql(example, two_runs) == rows
    # another programme, line or sample changes nothing: the example pins each of them
    assert run_sql(example, other_dimensions) == rows


def test_the_values_the_examples_filter_on_are_published(warehouse: Path) -> None:
    literal = r"\b(?:\w+\.)?({})\s*(=|LIKE)\s*'([^']*)'(?!\s*\|\|)".format(
        "|".join(FILTERED_COLUMNS)
    )
    wanted = {
        (m.group(1), m.group(2), m.group(3))
        for example in SQL
        for m in re.finditer(literal, example.code)
    }
    assert {column for column, _, _ in wanted} == set(FILTERED_COLUMNS)
    with connect(warehouse, read_only=True) as con:
        for column, operator, value in sorted(wanted):
            holders = [s.name for s in (*TABLES, CHANGES) if column in s.column_names()]
            union = " UNION ALL ".join(
                f"SELECT {column} AS v FROM audit.{name}" for name in holders
            )
            found = con.execute(
                f"SELECT count(*) FROM ({union}) WHERE v {operator} ?", [value]
            ).fetchall()[0][0]
            assert found, f"no published {column} {operator} {value!r}"


def test_the_run_comparison_shows_the_change_since_the_run_before(two_runs: Path) -> None:
    (example,) = [e for e in SQL if e.section == COMPARES_RUNS]
    rows = run_sql(example, two_runs)
    assert len(rows) == 15  # the nation and 14 regions
    for _type, _value, previous_run, previous, current, change in rows:
        assert previous_run == "previous-run"
        assert change == pytest.approx(0.02, abs=0.0011)  # rounded to 3 decimals
        assert current - previous == pytest.approx(0.02, abs=0.0011)


def test_the_one_line_query_lists_exactly_what_changed(warehouse: Path, two_runs: Path) -> None:
    """The run before differs only in its exclusion errors (0.02 lower): the guide's one line
    lists those and nothing else; on a first run, every number is new."""
    query = what_changed_query()
    with duckdb.connect(str(two_runs), read_only=True) as con:
        changed = con.sql(query).fetchall()
        expected = con.sql(
            "SELECT count(exclusion_error) FROM audit.latest_targeting_errors"
        ).fetchall()[0][0]
        columns = [column[0] for column in con.sql(query).description]
    named = [dict(zip(columns, row, strict=True)) for row in changed]
    assert len(named) == expected > 100
    assert {(row["table_name"], row["indicator"]) for row in named} == {
        ("targeting_errors", "exclusion_error")
    }
    assert all(row["change"] == pytest.approx(0.02) for row in named)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        first = con.sql(query).fetchall()
        numbers = con.sql("SELECT count(*) FROM audit.changes").fetchall()[0][0]
        keys = con.sql(
            "SELECT count(DISTINCT (table_name, method, decision_rule, sample, programme, "
            "poverty_line, population_unit, group_type, group_value, scenario, year, indicator)) "
            "FROM audit.changes"
        ).fetchall()[0][0]
    assert keys == numbers  # one row per number: the dimensions identify it
    assert 0 < len(first) <= numbers
    assert all(row[columns.index("previous_run_id")] is None for row in first)


def test_an_analysts_client_passes_every_check_with_the_projects_duckdb(warehouse: Path) -> None:
    """The check .ci/check_duckdb_clients.sh runs with DuckDB 1.x clients, here with 2.x."""
    results = check(warehouse)
    assert len(results) == len(SQL) + 3  # the views, each example, one-line query, scores
    assert [(r.name, r.problem) for r in results if r.problem] == []
    assert all(r.rows for r in results[1:])


def test_the_python_example_opens_the_warehouse_read_only(warehouse: Path) -> None:
    (example,) = examples("python")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(example.code.replace(DOCUMENTED_WAREHOUSE, str(warehouse)), {})
    with connect(warehouse, read_only=True) as con:
        (run_id,) = con.sql("SELECT run_id FROM audit.runs").fetchall()[0]
    assert run_id in printed.getvalue() and "succeeded" in printed.getvalue()
