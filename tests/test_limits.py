"""Limits: a full disk is one clear error, and nothing half-written is published."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import audit_command, harness_env
from transforms.survey_files import write_synthetic_survey

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: far too small for a warehouse (needs mount rights, as root in CI)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)


@pytest.mark.usefixtures("prefect_harness")
def test_a_full_disk_is_one_clear_error_and_publishes_nothing(
    small_disk: Path, tmp_path: Path
) -> None:
    survey = tmp_path / "survey"
    write_synthetic_survey(survey, households=800, seed=4, file_format="parquet")
    published = small_disk / "audit.duckdb"
    done = subprocess.run(
        audit_command(survey / "audit.toml", published),
        cwd=ROOT,
        env=harness_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    assert "the disk is full" in output and "Nothing was published" in output
    assert str(small_disk) in output  # names where it could not write
    assert "Traceback" not in output  # one message, no stack dumps (--debug shows them)
    assert not published.exists()
