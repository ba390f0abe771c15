"""Trust boundaries: the training cache cannot run code or be poisoned, raw identifiers never
outlive a run, killed runs are swept, identifier-like proxies are refused."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from flows import watchdog
from models import cache
from models.artifacts import file_sha256
from tests.mounts import tmpfs
from tests.processes import audit_command
from transforms.sample.files import write_synthetic_survey

ROOT = Path(__file__).resolve().parents[1]


def entry(directory: Path, artifact_bytes: bytes = b"model bytes") -> cache.TrainingEntry:
    """A small training entry whose artifact (and sidecar) are written to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    artifact = directory / "logit.joblib"
    artifact.write_bytes(artifact_bytes)
    sha256 = file_sha256(artifact)
    (directory / "logit.json").write_text(f'{{"artifact_sha256": "{sha256}"}}')
    return cache.TrainingEntry(
        model="logit",
        fold=np.array([0, 1, 0, 1]),
        p_poor=np.array([0.1, 0.9, 0.4, 0.6]),
        in_sample_p_poor=np.array([0.2, 0.8, 0.3, 0.7]),
        auc=0.75,
        n_train=2,
        cv_scheme="test",
        final_n_train=4,
        in_sample_auc=0.8,
        artifact_path=artifact,
        artifact_sha256=sha256,
    )


def test_a_cache_entry_is_used_only_for_its_key_and_hashes(tmp_path: Path) -> None:
    stored = entry(tmp_path)
    cache.store(tmp_path, "key-1", stored)
    found = cache.lookup(tmp_path, "key-1", "logit")
    assert found is not None and found.p_poor.tolist() == [0.1, 0.9, 0.4, 0.6]
    assert cache.lookup(tmp_path, "key-2", "logit") is None  # other data, code or settings
    assert cache.lookup(tmp_path, "key-1", "rf") is None
    poisoned = pl.DataFrame(
        {"fold": [0, 1, 0, 1], "p_poor": [0.99] * 4, "in_sample_p_poor": [0.99] * 4}
    )
    poisoned.write_parquet(cache.scores_path(tmp_path, "logit"))
    with pytest.raises(cache.CacheEntryRejected, match="does not match"):
        cache.lookup(tmp_path, "key-1", "logit")
    cache.store(tmp_path, "key-1", stored)
    (tmp_path / "logit.joblib").write_bytes(b"another model")
    with pytest.raises(cache.CacheEntryRejected, match="does not match"):
        cache.lookup(tmp_path, "key-1", "logit")


class Payload:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (str(self.marker), "code ran"))  # type: ignore[return-value]


def test_reading_the_cache_never_unpickles(tmp_path: Path) -> None:
    """Even a consistent entry whose artifact is a malicious pickle runs no code: the cache
    reads JSON and Parquet and only hashes the artifact (before, a cache hit unpickled a
    Prefect result from ~/.prefect/storage with no check)."""
    marker = tmp_path / "marker"
    stored = entry(tmp_path / "cache", pickle.dumps(Payload(marker)))
    cache.store(tmp_path / "cache", "key", stored)
    assert cache.lookup(tmp_path / "cache", "key", "logit") is not None
    assert not marker.exists()


def test_a_killed_run_leaves_no_temporary_prefect_server(tmp_path: Path) -> None:
    """SIGKILL on the audit process alone (as the out-of-memory killer does): its temporary
    Prefect server (uvicorn, a child) is stopped by the watchdog instead of running on."""
    survey = tmp_path / "survey"
    write_synthetic_survey(survey, households=300, seed=2, file_format="parquet")
    env = {**os.environ, "PREFECT_API_URL": "", "PREFECT_HOME": str(tmp_path / "prefect")}
    child = subprocess.Popen(
        audit_command(survey / "audit.toml", survey / "welfare_audit.duckdb"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while not servers:
            assert child.poll() is None, "the run ended before its server was seen"
            assert time.monotonic() < deadline, "no temporary server started"
            servers = watchdog.server_children(child.pid)
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 30
        while any(watchdog.alive(pid) for pid in servers):
            assert time.monotonic() < deadline, "the temporary server outlived its run"
            time.sleep(0.2)
    finally:
        child.kill()
        for pid in servers:
            if watchdog.alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_sweep_deletes_every_raw_copy_left_under_the_output_folder(tmp_path: Path) -> None:
    """Killed runs and validations leave raw copies (raw identifiers); the next run or
    validation deletes them all, except its own scratch folder, and keeps reports."""
    from flows.lifecycle import RAW_COPIES, VALIDATION_SCRATCH, sweep_raw_copies

    output = tmp_path / "output"
    for run in ("20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb"):
        folder = output / "runs" / run
        (folder / "ingest").mkdir(parents=True)
        (folder / "ingest" / "households.parquet").write_bytes(b"raw")
        (folder / "staging.duckdb").write_bytes(b"raw")
        (folder / "report.html").write_text("kept")
    killed_validation = output / f"{VALIDATION_SCRATCH}killed"
    killed_validation.mkdir()
    (killed_validation / "scratch.duckdb").write_bytes(b"raw")
    own = output / f"{VALIDATION_SCRATCH}own"
    own.mkdir()
    swept = sweep_raw_copies(output, keep=own)
    assert len(swept) == 3
    left = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    assert not any(name in path for path in left for name in RAW_COPIES)
    assert {path for path in left if path.endswith("report.html")} == {
        "runs/20260101T000000Z-aaaaaa/report.html",
        "runs/20260102T000000Z-bbbbbb/report.html",
    }
    assert not killed_validation.exists() and own.exists()


def test_an_output_folder_that_cannot_be_written_stops_the_run_before_any_copy(
    tmp_path: Path,
) -> None:
    from transforms.io import warehouse

    published = tmp_path / "welfare_audit.duckdb"
    warehouse.publish(warehouse.open_workspace(published, "r0"), published)
    blocked = tmp_path / "output"
    blocked.write_text("a file where the output folder should be")
    with pytest.raises(warehouse.WarehouseError, match="not writable"):
        warehouse.check_can_start(published, blocked)
    assert not warehouse.stale_workspaces(published)


def test_a_read_only_output_folder_stops_the_run_before_any_copy(tmp_path: Path) -> None:
    """A read-only mount as output folder (before, the run copied the warehouse first and
    left the full copy behind when the output folder could not be made)."""
    from transforms.io import warehouse

    published = tmp_path / "welfare_audit.duckdb"
    warehouse.publish(warehouse.open_workspace(published, "r0"), published)
    with (
        tmpfs(tmp_path / "read-only", 1024, read_only=True) as mount_point,
        pytest.raises(warehouse.WarehouseError, match=r"not writable.*Read-only"),
    ):
        warehouse.check_can_start(published, mount_point / "output")
    assert not warehouse.stale_workspaces(published)
