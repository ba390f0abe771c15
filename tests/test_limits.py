"""Limits: a killed run's copy does not fill a tight disk for good, a file larger than memory
is streamed, and an analysis too large for memory stops before any estimate (a full disk
through the CLI: tests/test_failure_messages.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests import cgroups
from tests.bounded_ingest import write_wide_id_survey
from tests.mounts import tmpfs
from transforms.io.memory import MemoryLimitError, check_analysis_fits
from transforms.io.warehouse import connect
from transforms.sample.files import write_synthetic_survey

ROOT = Path(__file__).resolve().parents[1]


def test_a_killed_runs_copy_does_not_fill_a_tight_disk_for_good(tmp_path: Path) -> None:
    """A disk with room for the warehouse and one working copy, holding a killed run's copy:
    the next run deletes that copy (recording the run) before making its own. Before, it
    copied first, failed with "disk is full", and so did every later run."""
    from prefect.logging import disable_run_logger

    from flows.lifecycle import start_run
    from transforms.config import load_config
    from transforms.io import warehouse

    survey = tmp_path / "survey"
    write_synthetic_survey(survey, households=200, seed=4, file_format="parquet")
    config = load_config(survey / "audit.toml")

    def publish_one_run(published: Path) -> None:
        work = warehouse.open_workspace(published, "r0")
        with warehouse.connect(work) as con:
            started = datetime.now(UTC)
            warehouse.record_run_start(
                con, warehouse.RunRecord("r0", "t", "-", "-", "-", 1, started)
            )
        warehouse.publish(work, published)

    publish_one_run(tmp_path / "sizing.duckdb")
    size_kib = (tmp_path / "sizing.duckdb").stat().st_size // 1024
    # room for the warehouse, one copy and its growth; not for a second copy
    with tmpfs(tmp_path / "tight", 2 * size_kib + 384) as disk:
        published = disk / "welfare_audit.duckdb"
        publish_one_run(published)
        killed = warehouse.work_path(published, "20260101T000000Z-aaaaaa")
        killed.write_bytes(published.read_bytes())  # a copy left by a run killed at once
        with disable_run_logger():
            run = start_run.fn(config, survey / "audit.toml", published)
        assert not killed.exists()
        with warehouse.connect(run.work, read_only=True) as con:
            runs = con.sql("SELECT run_id, status FROM audit.runs ORDER BY run_id").fetchall()
        assert runs == [
            ("20260101T000000Z-aaaaaa", "failed"),
            (run.run_id, "running"),
            ("r0", "running"),
        ]


MEMORY_LIMIT_MIB = 600
WIDE_ID_HOUSEHOLDS = 450_000  # about 4 million members: a 660 MiB file, 690 MiB in memory


@pytest.fixture
def memory_cgroup() -> Iterator[Path]:
    """A cgroup capped at MEMORY_LIMIT_MIB; yields its folder (needs root, as in CI)."""
    with cgroups.memory_cgroup(MEMORY_LIMIT_MIB) as folder:
        yield folder


def oom_kills(cgroup: Path) -> str:
    """The cgroup's out-of-memory record, for the failure message."""
    for name in ("memory.oom_control", "memory.events"):
        if (cgroup / name).exists():
            return (cgroup / name).read_text().replace("\n", "; ")
    return "unknown"


def test_a_member_file_larger_than_memory_is_streamed(memory_cgroup: Path, tmp_path: Path) -> None:
    config = write_wide_id_survey(tmp_path / "survey", households=WIDE_ID_HOUSEHOLDS)
    members_file = tmp_path / "survey" / "members.csv"
    limit = MEMORY_LIMIT_MIB * 2**20
    assert members_file.stat().st_size > limit  # the file alone does not fit
    work = tmp_path / "work"
    done = subprocess.run(
        [
            *cgroups.in_cgroup(memory_cgroup),
            *(sys.executable, "-m", "tests.bounded_ingest", str(config), str(work)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, f"{done.stderr[-3000:]}\nOOM record: {oom_kills(memory_cgroup)}"
    counts = json.loads(done.stdout)
    assert counts["usable_memory_mib"] == MEMORY_LIMIT_MIB  # the cgroup's limit was seen
    with duckdb.connect(str(work / "staging.duckdb"), read_only=True) as staging:
        members = staging.sql("SELECT * FROM stg_members").pl()
        mismatched = staging.sql(
            """SELECT count(*) FROM stg_households AS h
               JOIN stg_member_features AS f USING (hh_id)
               WHERE f.n_members <> h.hh_size OR f.n_heads <> 1"""
        ).fetchall()[0][0]
    assert members.estimated_size() > limit  # the loaded rows would not fit either
    assert counts["members_read"] == counts["members_loaded"] == counts["members_staged"]
    # 450,000 households of 1 + index % 17 members: 26,470 cycles x 153 + (1 + ... + 10)
    assert counts["members_loaded"] == members.height == 4_049_965
    assert counts["feature_rows"] == counts["households_loaded"] == WIDE_ID_HOUSEHOLDS
    assert mismatched == 0  # every household's members were aggregated, none lost or doubled


def test_the_analysis_memory_estimate_is_fixed_part_plus_3_5_times_the_households() -> None:
    staged = 512 * 2**20  # 512 MiB of household rows
    assert check_analysis_fits(households=10, household_bytes=staged, usable=2**33) == (
        1536 * 2**20 + 1792 * 2**20
    )
    with pytest.raises(MemoryLimitError, match=r"10 households .* about 3.2 GiB .* allows 3.0 GiB"):
        check_analysis_fits(households=10, household_bytes=staged, usable=3 * 2**30)


@pytest.mark.usefixtures("prefect_harness")
def test_an_analysis_too_large_for_memory_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import analysis as analysis_flow
    from flows import audit as audit_flow

    survey = tmp_path / "survey"
    write_synthetic_survey(survey, households=800, seed=4, file_format="parquet")
    warehouse = tmp_path / "welfare_audit.duckdb"
    monkeypatch.setattr(analysis_flow, "usable_memory", lambda: 2**29)  # a 512 MiB container
    with pytest.raises(MemoryLimitError, match=r"800 households .* allows 0.5 GiB"):
        audit_flow.audit(str(survey / "audit.toml"), str(warehouse))
    with connect(warehouse, read_only=True) as con:
        status, error = con.sql("SELECT status, error FROM audit.runs").fetchall()[0]
        stages_after = con.sql("SELECT count(*) FROM audit.targeting_errors").fetchall()[0][0]
    assert status == "failed" and error.startswith("MemoryLimitError: the analysis holds")
    assert stages_after == 0  # stopped before any estimate
