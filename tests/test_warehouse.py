"""Warehouse mechanics: contract DDL and comments, atomic publish, interrupted-run recovery."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from transforms import warehouse
from transforms.contract import TABLES, data_dictionary_markdown


def record(run_id: str) -> warehouse.RunRecord:
    return warehouse.RunRecord(run_id, "t", "/x.toml", "0" * 64, "v", 1, datetime.now(UTC))


def test_every_contract_column_is_created_with_a_comment(tmp_path: Path) -> None:
    work = warehouse.open_workspace(tmp_path / "audit.duckdb", "r1")
    with warehouse.connect(work, read_only=True) as con:
        columns = con.sql(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE schema_name = 'audit'"
        ).fetchall()
        views = {
            row[0]
            for row in con.sql(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'audit'"
            ).fetchall()
        }
    created = {(t, c) for t, c, _ in columns}
    expected = {(t.name, c.name) for t in TABLES for c in t.columns}
    assert expected <= created
    assert all(comment and "PII:" in comment for t, c, comment in columns if (t, c) in expected)
    assert "latest_targeting_errors" in views
    assert "runs" not in {v.removeprefix("latest_") for v in views}


def test_data_dictionary_lists_every_table() -> None:
    text = data_dictionary_markdown()
    for spec in TABLES:
        assert f"## `audit.{spec.name}`" in text


def test_publish_replaces_atomically_and_keeps_no_work_file(tmp_path: Path) -> None:
    published = tmp_path / "audit.duckdb"
    work = warehouse.open_workspace(published, "r1")
    with warehouse.connect(work) as con:
        warehouse.record_run_start(con, record("r1"))
    warehouse.publish(work, published)
    assert not work.exists()
    with warehouse.connect(published, read_only=True) as con:
        assert con.sql("SELECT run_id, status FROM audit.runs").fetchall() == [("r1", "running")]


def test_interrupted_runs_are_recovered_from_their_work_files(tmp_path: Path) -> None:
    published = tmp_path / "audit.duckdb"
    started = warehouse.open_workspace(published, "20260101T000000Z-aaaaaa")
    with warehouse.connect(started) as con:
        warehouse.record_run_start(con, record("20260101T000000Z-aaaaaa"))
    torn = warehouse.work_path(published, "20260101T000001Z-bbbbbb")
    torn.write_bytes(b"half a copied file")  # killed while copying
    current = warehouse.open_workspace(published, "20260101T000002Z-cccccc")
    stale = warehouse.stale_workspaces(published, current=current)
    assert stale == [started, torn]
    with warehouse.connect(current) as con:
        recorded = [
            run_id
            for path in stale
            for run_id in warehouse.record_interrupted(
                con, warehouse.interrupted_runs(path, published)
            )
        ]
        rows = con.sql("SELECT run_id, status, error FROM audit.runs ORDER BY run_id").fetchall()
    assert recorded == ["20260101T000000Z-aaaaaa", "20260101T000001Z-bbbbbb"]
    assert [r[1] for r in rows] == ["failed", "failed"]
    assert all(r[2].startswith("interrupted") for r in rows)


def test_a_second_writer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    published = tmp_path / "audit.duckdb"
    refused = pytest.raises(warehouse.WarehouseError, match="another audit run is writing")
    with warehouse.exclusive_lock(published), refused, warehouse.exclusive_lock(published):
        pass


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    not_writable = pytest.raises(warehouse.WarehouseError, match="not writable")
    with not_writable, warehouse.exclusive_lock(blocker / "audit.duckdb"):
        pass
