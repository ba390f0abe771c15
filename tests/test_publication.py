"""Analysts keep reading the published warehouse while a run works and publishes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import audit_command, harness_env
from transforms.io.warehouse import connect
from transforms.sample.files import write_synthetic_survey

ROOT = Path(__file__).resolve().parents[1]


def reader_view(warehouse: Path) -> tuple[int, int, str, int]:
    """What an analyst sees: succeeded runs, rows of the latest targeting, its run id, and
    household scores (a view over one file per run, beside the warehouse)."""
    with connect(warehouse, read_only=True) as con:
        succeeded = con.sql(
            "SELECT count(*) FROM audit.runs WHERE status = 'succeeded'"
        ).fetchall()[0][0]
        latest = con.sql(
            "SELECT count(*), any_value(run_id) FROM audit.latest_targeting_errors"
        ).fetchall()[0]
        scores = con.sql("SELECT count(*) FROM audit.household_scores").fetchall()[0][0]
    return int(succeeded), int(latest[0]), str(latest[1]), int(scores)


@pytest.mark.usefixtures("prefect_harness")
def test_readers_see_the_old_or_the_new_state_never_half_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.audit import audit

    monkeypatch.setenv("WELFARE_AUDIT_PSEUDONYM_KEY", "publication-test-key-of-some-length")
    write_synthetic_survey(tmp_path, households=3000, seed=8, file_format="parquet")
    config = tmp_path / "audit.toml"
    text = config.read_text().replace(
        'enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit"]'
    )
    config.write_text(
        text.replace("min_cell_n = 10", "min_cell_n = 10\npublish_household_scores = true")
    )
    warehouse = tmp_path / "welfare_audit.duckdb"
    first = audit(str(config), str(warehouse))
    old_state = reader_view(warehouse)
    assert old_state[0] == 1 and old_state[2] == first["run_id"] and old_state[3] == 3000

    env = harness_env()
    command = audit_command(config, warehouse)
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seen: list[tuple[int, int, str]] = []
    deadline = time.monotonic() + 300
    while child.poll() is None and time.monotonic() < deadline:
        seen.append(reader_view(warehouse))  # any lock error or torn file would raise here
        time.sleep(0.02)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr.decode()[-2000:]
    seen.append(reader_view(warehouse))

    new_state = seen[-1]
    assert new_state[0] == 2 and new_state[2] != first["run_id"] and new_state[3] == 6000
    assert set(seen) <= {old_state, new_state}  # nothing in between, ever
    assert len(seen) > 20  # the readers really ran during the run
