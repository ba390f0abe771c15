"""Warehouse mechanics: contract DDL and comments, atomic publish, interrupted-run recovery."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from transforms.config import Output
from transforms.contract import TABLES, create_table_sql, data_dictionary_markdown, table
from transforms.io import warehouse


def record(run_id: str) -> warehouse.RunRecord:
    return warehouse.RunRecord(run_id, "t", "/x.toml", "0" * 64, "v", 1, datetime.now(UTC))


def test_every_contract_column_is_created_with_a_comment(tmp_path: Path) -> None:
    work = warehouse.open_workspace(tmp_path / "welfare_audit.duckdb", "r1")
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
    assert "latest_targeting_errors" in views and "changes" in views
    assert "runs" not in {v.removeprefix("latest_") for v in views}


def test_every_view_and_view_column_carries_a_comment(tmp_path: Path) -> None:
    """Analysts are told to query the latest_* views and audit.changes: duckdb_columns() and
    duckdb_views() describe them as they describe the tables (a replaced view loses its
    comments, so every run adds them again)."""
    published = tmp_path / "welfare_audit.duckdb"
    for run_id in ("r1", "r2"):
        warehouse.publish(warehouse.open_workspace(published, run_id), published)
    with warehouse.connect(published, read_only=True) as con:
        views = dict(
            con.sql(
                "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = 'audit'"
            ).fetchall()
        )
        columns = con.sql(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE schema_name = 'audit' AND table_name IN (SELECT view_name FROM duckdb_views())"
        ).fetchall()
    latest = {f"latest_{spec.name}" for spec in TABLES if spec.has_latest_view}
    stored = {spec.name for spec in TABLES if spec.stored_in_files}  # views over their files
    assert stored == {"household_scores"}
    assert set(views) == {*latest, *stored, "changes"}
    assert all(comment for comment in views.values())
    assert views["latest_targeting_errors"].startswith(
        "The rows of audit.targeting_errors written by the last successful run."
    )
    assert len(columns) > 100 and all(comment for _, _, comment in columns)
    exclusion = [
        c for t, name, c in columns if (t, name) == ("latest_targeting_errors", "exclusion_error")
    ]
    assert exclusion == [
        next(c.comment() for c in table("targeting_errors").columns if c.name == "exclusion_error")
    ]


DAY = datetime(2026, 1, 1, tzinfo=UTC)


def targeting_rows(run_id: str, rates: dict[str, float]) -> pl.DataFrame:
    """The programme's exclusion error by group, as a run publishes it (other columns NULL)."""
    return pl.DataFrame(
        {
            "run_id": run_id,
            "method": "program",
            "decision_rule": "actual",
            "programme": "dibao",
            "poverty_line": "regional",
            "unit": "persons",
            "group_type": ["all" if group == "all" else "region" for group in rates],
            "group_value": list(rates),
            "exclusion_error": list(rates.values()),
        }
    )


def audit_history(path: Path, runs: list[tuple[str, str, str, int]]) -> Path:
    """A warehouse whose runs (run_id, config_name, status, hours after DAY) each published
    exclusion errors and a matching indicator."""
    work = warehouse.open_workspace(path, "setup")
    rates = {
        "old": {"all": 0.30, "north": 0.40},
        "other-audit": {"all": 0.90, "north": 0.90},
        "failed": {"all": 0.80, "north": 0.80},
        "new": {"all": 0.25, "south": 0.10},
    }
    with warehouse.connect(work) as con:
        for run_id, config_name, status, hours in runs:
            finished = DAY + timedelta(hours=hours)
            runs_row = {"run_id": run_id, "config_name": config_name, "status": status}
            warehouse.insert_frame(
                con,
                "runs",
                pl.DataFrame([{**runs_row, "started_at": finished, "finished_at": finished}]),
            )
            warehouse.insert_frame(con, "targeting_errors", targeting_rows(run_id, rates[run_id]))
            matching = {"run_id": run_id, "programme": "dibao", "poverty_line": "regional"}
            matching |= {"population_unit": "persons", "group_type": "all", "group_value": "all"}
            matching |= {"indicator": "adequacy", "value": 0.2 + hours / 100, "unit": "ratio"}
            warehouse.insert_frame(con, "matching_indicators", pl.DataFrame([matching]))
    warehouse.publish(work, path)
    return path


CHANGED = """
SELECT group_value, previous_run_id, previous, current, change
FROM audit.changes
WHERE table_name = 'targeting_errors' AND indicator = 'exclusion_error'
ORDER BY group_value
"""


def test_changes_compares_the_last_run_with_the_previous_one_of_the_same_audit(
    tmp_path: Path,
) -> None:
    """Another audit's run and a failed run between the two are not compared; a group
    published by one run only keeps its row, the other side NULL."""
    history = [
        ("old", "sample", "succeeded", 0),
        ("other-audit", "another", "succeeded", 1),
        ("failed", "sample", "failed", 2),
        ("new", "sample", "succeeded", 3),
    ]
    path = audit_history(tmp_path / "welfare_audit.duckdb", history)
    with duckdb.connect(str(path), read_only=True) as con:  # as an analyst opens it
        rows = con.sql(CHANGED).fetchall()
        adequacy = con.sql(
            "SELECT run_id, population_unit, unit, previous, current FROM audit.changes "
            "WHERE table_name = 'matching_indicators'"
        ).fetchall()
    assert rows[0][:4] == ("all", "old", 0.30, 0.25)
    assert rows[0][4] == pytest.approx(-0.05)
    assert rows[1:] == [("north", "old", 0.40, None, None), ("south", "old", None, 0.10, None)]
    assert adequacy == [("new", "persons", "ratio", 0.2, 0.23)]


def test_changes_of_a_first_run_have_no_previous_values(tmp_path: Path) -> None:
    path = audit_history(tmp_path / "welfare_audit.duckdb", [("new", "sample", "succeeded", 3)])
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.sql(CHANGED).fetchall()
    assert rows == [("all", None, None, 0.25, None), ("south", None, None, 0.10, None)]


def test_data_dictionary_lists_every_table() -> None:
    text = data_dictionary_markdown()
    for spec in TABLES:
        assert f"## `audit.{spec.name}`" in text


def test_publish_replaces_atomically_and_keeps_no_work_file(tmp_path: Path) -> None:
    published = tmp_path / "welfare_audit.duckdb"
    work = warehouse.open_workspace(published, "r1")
    with warehouse.connect(work) as con:
        warehouse.record_run_start(con, record("r1"))
    warehouse.publish(work, published)
    assert not work.exists()
    with warehouse.connect(published, read_only=True) as con:
        assert con.sql("SELECT run_id, status FROM audit.runs").fetchall() == [("r1", "running")]


def test_the_published_file_keeps_the_storage_version_every_client_reads(tmp_path: Path) -> None:
    """DuckDB 2.0 writes format 69 by default, which no 1.x client opens; every run writes and
    publishes the pinned older version instead, also when it copies the last published file."""
    published = tmp_path / "welfare_audit.duckdb"
    for run_id in ("r1", "r2"):
        work = warehouse.open_workspace(published, run_id)
        with warehouse.connect(work) as con:
            warehouse.record_run_start(con, record(run_id))
        warehouse.publish(work, published)
        assert warehouse.storage_version(published) == "v1.0.0+"
    assert warehouse.STORAGE_VERSION == "v1.0.0"


def test_a_warehouse_in_duckdb_2_format_is_rewritten_in_the_readable_one(tmp_path: Path) -> None:
    """A warehouse published before the version was pinned is in 2.0's format; DuckDB cannot
    lower a file's version in place, so the run's working copy is rewritten in the old one."""
    published = tmp_path / "welfare_audit.duckdb"
    with duckdb.connect(str(published)) as con:  # DuckDB 2.0's default format
        con.execute("CREATE SCHEMA audit")
        con.execute("CREATE TABLE audit.runs (run_id VARCHAR, status VARCHAR)")
        con.execute("INSERT INTO audit.runs VALUES ('old', 'succeeded')")
    assert warehouse.storage_version(published) == "v2.0.0+"
    work = warehouse.open_workspace(published, "r1")
    assert warehouse.storage_version(work) == "v1.0.0+"
    assert warehouse.storage_version(published) == "v2.0.0+"  # untouched until published
    with warehouse.connect(work, read_only=True) as con:
        assert con.sql("SELECT run_id, status FROM audit.runs").fetchall() == [("old", "succeeded")]
        comments = con.sql(
            "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'audit' "
            "AND table_name = 'runs' AND comment IS NULL"
        ).fetchall()[0][0]
    assert comments == 0  # the contract's columns and comments were added to the old table


def killed_run(published: Path, run_id: str) -> Path:
    """A run as the flow starts it (killed runs recorded, its copy made), then killed: its
    working file stays."""
    interrupted = warehouse.collect_interrupted(published)
    work = warehouse.open_workspace(published, run_id)
    with warehouse.connect(work) as con:
        warehouse.record_interrupted(con, interrupted)
        warehouse.record_run_start(con, record(run_id))
    warehouse.clear_pending(published)
    return work


def history(path: Path) -> list[tuple[str, str, str | None]]:
    """run_id, status, error of every run a warehouse file records."""
    with warehouse.connect(path, read_only=True) as con:
        return con.sql("SELECT run_id, status, error FROM audit.runs ORDER BY run_id").fetchall()


def test_interrupted_runs_are_recovered_from_their_work_files(tmp_path: Path) -> None:
    published = tmp_path / "welfare_audit.duckdb"
    started = killed_run(published, "20260101T000000Z-aaaaaa")
    torn = warehouse.work_path(published, "20260101T000001Z-bbbbbb")
    torn.write_bytes(b"half a copied file")  # killed while copying
    assert warehouse.stale_workspaces(published) == [started, torn]
    rows = warehouse.collect_interrupted(published)
    assert not warehouse.stale_workspaces(published)  # deleted before the next copy is made
    current = warehouse.open_workspace(published, "20260101T000002Z-cccccc")
    with warehouse.connect(current) as con:
        recorded = warehouse.record_interrupted(con, rows)
    assert recorded == ["20260101T000000Z-aaaaaa", "20260101T000001Z-bbbbbb"]
    assert [(r[1], r[2]) for r in history(current)] == [("failed", warehouse.INTERRUPTED)] * 2


def test_runs_killed_in_a_row_all_reach_the_history(tmp_path: Path) -> None:
    """Run A is killed; run B records A, then is killed too; run C must record both (before,
    C read only B's working file and A was lost)."""
    published = tmp_path / "welfare_audit.duckdb"
    first = warehouse.open_workspace(published, "20260101T000000Z-000000")
    with warehouse.connect(first) as con:
        warehouse.record_run_start(con, record("20260101T000000Z-000000"))
    warehouse.publish(first, published)
    killed_run(published, "20260101T000001Z-aaaaaa")
    killed_run(published, "20260101T000002Z-bbbbbb")
    assert len(warehouse.stale_workspaces(published)) == 1  # only B's file is left
    last = killed_run(published, "20260101T000003Z-cccccc")
    runs = history(last)
    assert [r[0] for r in runs] == [
        "20260101T000000Z-000000",
        "20260101T000001Z-aaaaaa",
        "20260101T000002Z-bbbbbb",
        "20260101T000003Z-cccccc",
    ]
    assert [r[2] for r in runs[1:3]] == [warehouse.INTERRUPTED] * 2


def test_killed_runs_survive_a_kill_between_sweep_and_record(tmp_path: Path) -> None:
    """The sweep deletes a killed run's file before copying the warehouse; until the new copy
    records the run, a pending file keeps it."""
    published = tmp_path / "welfare_audit.duckdb"
    killed_run(published, "20260101T000000Z-aaaaaa")
    warehouse.collect_interrupted(published)  # then killed before recording them
    assert not warehouse.stale_workspaces(published)
    again = warehouse.collect_interrupted(published)
    assert [row["run_id"] for row in again] == ["20260101T000000Z-aaaaaa"]


def test_a_failed_start_leaves_no_working_copy(tmp_path: Path) -> None:
    """A working copy that cannot be prepared (here: the warehouse is not DuckDB) is deleted."""
    published = tmp_path / "welfare_audit.duckdb"
    published.write_bytes(b"not a DuckDB file" * 1000)
    with pytest.raises(warehouse.WarehouseError, match="cannot prepare the working copy"):
        warehouse.open_workspace(published, "20260101T000000Z-aaaaaa")
    assert not warehouse.stale_workspaces(published)


def test_a_stale_write_ahead_log_is_found_before_any_work(tmp_path: Path) -> None:
    """A client that crashed while writing leaves welfare_audit.duckdb.wal; publishing beside it
    would make the new warehouse unreadable, so the run refuses to start and says what to do."""
    published = tmp_path / "welfare_audit.duckdb"
    first = warehouse.open_workspace(published, "r0")
    warehouse.publish(first, published)
    crash = (
        "import duckdb, os, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute('PRAGMA disable_checkpoint_on_shutdown')\n"
        "con.execute('SET checkpoint_threshold = \\'1TB\\'')\n"
        "con.execute('CREATE TABLE scratch AS SELECT 1 AS x')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(published)], check=True)
    assert published.with_name("welfare_audit.duckdb.wal").exists()
    with pytest.raises(warehouse.WarehouseError, match="write-ahead log") as refused:
        warehouse.check_can_start(published, tmp_path / "output")
    assert "CHECKPOINT" in str(refused.value)
    assert not warehouse.stale_workspaces(published)


@pytest.mark.parametrize("name", ["audit.duckdb", "Audit.duckdb", "audit.v2.db"])
def test_a_warehouse_named_like_the_schema_is_refused_before_anything_is_written(
    tmp_path: Path, name: str
) -> None:
    """DuckDB names a file opened directly after it (up to the first dot): audit.duckdb would
    make every audit.<table> ambiguous, so no run publishes under such a name."""
    published = tmp_path / name
    refused = pytest.raises(warehouse.WarehouseError, match="ambiguous reference")
    with refused as early:
        warehouse.check_can_start(published, tmp_path / "output")
    assert f"mv {published} {tmp_path / ('welfare_' + name)}" in str(early.value)
    with pytest.raises(warehouse.WarehouseError, match="ambiguous reference"):
        warehouse.open_workspace(published, "r1")
    assert list(tmp_path.iterdir()) == []


def test_the_default_warehouse_name_opens_directly_with_no_attach(tmp_path: Path) -> None:
    """The name every configuration starts from is not refused and reads as audit.<table>."""
    default = Output().warehouse
    assert default == Path("welfare_audit.duckdb")
    published = tmp_path / default
    warehouse.check_can_start(published, tmp_path / "output")
    work = warehouse.open_workspace(published, "r1")
    with warehouse.connect(work) as con:
        warehouse.record_run_start(con, record("r1"))
    warehouse.publish(work, published)
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.sql("SELECT run_id FROM audit.runs").fetchall() == [("r1",)]


def test_a_busy_output_folder_is_refused_at_once(tmp_path: Path) -> None:
    """Runs sweep raw copies under their output folder, so two may not share it at once."""
    output = tmp_path / "output"
    busy = pytest.raises(warehouse.WarehouseError, match="using this output folder")
    with warehouse.output_lock(output), busy:
        warehouse.check_can_start(tmp_path / "other.duckdb", output)


def test_a_second_writer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    published = tmp_path / "welfare_audit.duckdb"
    refused = pytest.raises(warehouse.WarehouseError, match="another audit run is writing")
    with warehouse.exclusive_lock(published), refused, warehouse.exclusive_lock(published):
        pass


def test_unwritable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should be")
    not_writable = pytest.raises(warehouse.WarehouseError, match="not writable")
    with not_writable, warehouse.exclusive_lock(blocker / "welfare_audit.duckdb"):
        pass


def test_committed_data_dictionary_is_generated_from_the_contract() -> None:
    """docs/data-dictionary.md is regenerated by `make docs`; it must match the contract."""
    committed = Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md"
    assert committed.read_text() == data_dictionary_markdown()


def scores(run_id: str, households: int = 3) -> pl.DataFrame:
    """A run's household scores as flows/pmt.py publishes them (one model)."""
    return pl.DataFrame(
        {
            "run_id": run_id,
            "hh_key": [f"key-{n}" for n in range(households)],
            "region": "north",
            "model": "logit",
            "poverty_line": "regional",
            "p_poor": [0.1234567891234 * (n + 1) for n in range(households)],
            "predicted_eligible": [n % 2 == 0 for n in range(households)],
            "is_poor": [n % 3 == 0 for n in range(households)],
            "receives_benefit": False,
        }
    )


def publish_scores(published: Path, run_id: str, households: int = 3) -> None:
    """One succeeded run that publishes household scores, through the flow's steps."""
    work = warehouse.open_workspace(published, run_id)
    with warehouse.connect(work) as con:
        warehouse.record_run_start(con, record(run_id))
        warehouse.write_run_file(published, "household_scores", scores(run_id, households))
        warehouse.record_run_end(con, run_id, status="succeeded")
        warehouse.refresh_file_views(con, published)
    warehouse.publish(work, published)


def scores_seen(path: Path) -> list[tuple[str, int]]:
    """Rows of audit.household_scores per run, as an analyst's plain connection sees them."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql(
            "SELECT run_id, count(*) FROM audit.household_scores GROUP BY 1 ORDER BY 1"
        ).fetchall()


def test_household_scores_are_one_file_per_run_behind_a_view(tmp_path: Path) -> None:
    """The table that grows with households stays out of the warehouse file (which publication
    copies): each run writes one Parquet file, and each publication's view lists the files of
    its own succeeded runs, so a reader of the previous publication never sees the new run."""
    published = tmp_path / "welfare_audit.duckdb"
    publish_scores(published, "r1", households=3)
    previous = duckdb.connect(str(published), read_only=True)  # holds the first publication
    try:
        publish_scores(published, "r2", households=5)
        assert previous.sql("SELECT count(*) FROM audit.household_scores").fetchall() == [(3,)]
    finally:
        previous.close()
    folder = tmp_path / "welfare_audit.duckdb.files" / "household_scores"
    assert sorted(p.name for p in folder.iterdir()) == ["r1.parquet", "r2.parquet"]
    assert scores_seen(published) == [("r1", 3), ("r2", 5)]
    with duckdb.connect(str(published), read_only=True) as con:
        latest = con.sql("SELECT DISTINCT run_id FROM audit.latest_household_scores").fetchall()
        p_poor = con.sql("SELECT max(p_poor) FROM audit.household_scores").fetchall()[0][0]
        tables = con.sql("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'audit'")
        assert "household_scores" not in {row[0] for row in tables.fetchall()}
        types = dict(
            con.sql(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE table_name = 'household_scores'"
            ).fetchall()
        )
    assert latest == [("r2",)]
    assert p_poor == 0.617283946  # rounded to 9 significant digits, as inside the warehouse
    assert types == {c.name: c.sql_type for c in table("household_scores").columns}
    refused = pytest.raises(warehouse.WarehouseError, match="stored in files")
    with refused, warehouse.connect(published) as con:
        warehouse.insert_frame(con, "household_scores", scores("r3"))


def test_the_scores_read_from_any_folder_but_not_from_a_warehouse_copied_alone(
    tmp_path: Path,
) -> None:
    """What the absolute paths in the view mean for analysts: a plain connection from another
    working directory reads the scores; a copy of the warehouse file without its folder reads
    every other table, and the scores fail with an error naming the missing file."""
    published = tmp_path / "audit-output" / "welfare_audit.duckdb"
    published.parent.mkdir()
    publish_scores(published, "r1")
    elsewhere = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, sys\n"
            "con = duckdb.connect(sys.argv[1], read_only=True)\n"
            "print(con.sql('SELECT count(*) FROM audit.household_scores').fetchall()[0][0])\n",
            str(published),
        ],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    assert elsewhere.stdout.strip() == "3"
    copied = tmp_path / "laptop" / "welfare_audit.duckdb"
    copied.parent.mkdir()
    shutil.copyfile(published, copied)
    assert scores_seen(copied) == [("r1", 3)]  # the folder is still where the audit wrote it
    shutil.move(published.parent, tmp_path / "moved")
    with duckdb.connect(str(copied), read_only=True) as con:
        assert con.sql("SELECT run_id FROM audit.runs").fetchall() == [("r1",)]
        with pytest.raises(duckdb.IOException, match=r"r1\.parquet"):
            con.sql("SELECT count(*) FROM audit.household_scores").fetchall()


def test_files_no_publication_names_are_swept_and_a_failed_run_leaves_none(
    tmp_path: Path,
) -> None:
    """A killed run's file (and a half-written one) is deleted by the next run's sweep; the
    files of succeeded runs stay; a failed run's files go with its results."""
    published = tmp_path / "welfare_audit.duckdb"
    publish_scores(published, "r1")
    warehouse.write_run_file(published, "household_scores", scores("killed"))
    half = warehouse.run_file(published, "household_scores", "r2").with_suffix(".parquet.tmp")
    half.write_bytes(b"PAR1 half a file")
    swept = warehouse.sweep_run_files(published)
    assert sorted(path.name for path in swept) == ["killed.parquet", "r2.parquet.tmp"]
    folder = warehouse.files_folder(published) / "household_scores"
    assert [p.name for p in folder.iterdir()] == ["r1.parquet"]
    warehouse.write_run_file(published, "household_scores", scores("failed"))
    warehouse.remove_run_files(published, "failed")
    assert [p.name for p in folder.iterdir()] == ["r1.parquet"]
    assert scores_seen(published) == [("r1", 3)]


def test_scores_inside_a_warehouse_written_before_move_to_files(tmp_path: Path) -> None:
    """A warehouse from before #19 holds household_scores as a table: the next run writes one
    file per run from it and drops the table, so the copy no longer carries the scores."""
    published = tmp_path / "welfare_audit.duckdb"
    warehouse.publish(warehouse.open_workspace(published, "setup"), published)
    with warehouse.connect(published) as con:  # the table as versions before #19 made it
        con.execute("DROP VIEW audit.household_scores")
        con.execute(create_table_sql(table("household_scores")))
        for run_id, households in (("old1", 2), ("old2", 4)):
            con.register("rows", scores(run_id, households))
            con.execute("INSERT INTO audit.household_scores SELECT * FROM rows")
            con.unregister("rows")
            warehouse.record_run_start(con, record(run_id))
            warehouse.record_run_end(con, run_id, status="succeeded")
    publish_scores(published, "new")
    assert scores_seen(published) == [("new", 3), ("old1", 2), ("old2", 4)]
    with duckdb.connect(str(published), read_only=True) as con:
        kinds = con.sql(
            "SELECT table_type FROM information_schema.tables WHERE table_name = 'household_scores'"
        ).fetchall()
    assert kinds == [("VIEW",)]


def test_a_warehouse_moved_with_its_folder_is_pointed_at_it_by_the_next_run(
    tmp_path: Path,
) -> None:
    """The view names files by absolute path: after the warehouse and its folder move, the
    next run lists the files where they now are."""
    before = tmp_path / "old" / "welfare_audit.duckdb"
    before.parent.mkdir()
    publish_scores(before, "r1")
    shutil.move(before.parent, tmp_path / "new")
    moved = tmp_path / "new" / "welfare_audit.duckdb"
    with pytest.raises(duckdb.IOException, match="No files found"):
        scores_seen(moved)
    publish_scores(moved, "r2")
    assert scores_seen(moved) == [("r1", 3), ("r2", 3)]
