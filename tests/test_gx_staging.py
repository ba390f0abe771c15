"""Great Expectations against a staging DuckDB: results per check, and the file freed after."""

from __future__ import annotations

from pathlib import Path

import duckdb

from flows.validate import run_gx
from transforms.expectations import Expectation


def staging_with_households(path: Path) -> Path:
    """A staging database with one small table: sizes 1..5, one of them null."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE stg_households AS SELECT * FROM "
            "(VALUES (1, 1), (2, 2), (3, NULL), (4, 4), (5, 5)) t(__source_row, hh_size)"
        )
    return path


def test_each_check_passes_or_fails_as_the_data_say(tmp_path: Path) -> None:
    staging = staging_with_households(tmp_path / "staging.duckdb")
    checks = [
        Expectation(
            "stg_households",
            "ExpectColumnValuesToBeBetween",
            {"column": "hh_size", "min_value": 1, "max_value": 5},
        ),
        Expectation("stg_households", "ExpectColumnValuesToNotBeNull", {"column": "hh_size"}),
        Expectation(
            "stg_households",
            "ExpectColumnValuesToBeBetween",
            {"column": "hh_size", "max_value": 3},
            severity="warning",
        ),
    ]
    rows = {(r["expectation"], r["expected"]): r for r in run_gx(staging, checks)}
    assert len(rows) == 3
    outcomes = sorted((r["success"], r["severity"], r["observed"]) for r in rows.values())
    assert outcomes[0][:2] == (False, "error")  # the null size
    assert outcomes[0][2].startswith("1 unexpected")
    assert outcomes[1][:2] == (False, "warning")  # 4 and 5 above 3
    assert outcomes[1][2].startswith("2 unexpected")
    assert outcomes[2][:2] == (True, "error")


def test_the_staging_file_is_free_again_afterwards(tmp_path: Path) -> None:
    """GX's one pooled connection is closed: the same process opens the file read-only (DuckDB
    refuses a second configuration while a read-write connection is open)."""
    staging = staging_with_households(tmp_path / "staging.duckdb")
    check = Expectation(
        "stg_households", "ExpectColumnValuesToNotBeNull", {"column": "__source_row"}
    )
    run_gx(staging, [check])
    with duckdb.connect(str(staging), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM stg_households").fetchall() == [(5,)]
