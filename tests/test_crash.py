"""Crash safety: kill -9 a run at each stage; the published warehouse keeps its previous state."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flows.lifecycle import RAW_COPIES
from tests import raw_identifiers
from tests.processes import audit_command, harness_env
from transforms.config import load_config
from transforms.io.warehouse import connect, files_folder, refresh_file_views
from transforms.sample.files import write_synthetic_survey

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("prefect_harness")


def snapshot(warehouse: Path) -> dict[str, object]:
    """Everything a reader sees: every table's row count (household_scores through its view
    over files) and the runs table."""
    with connect(warehouse, read_only=True) as con:
        tables = [
            row[0]
            for row in con.sql(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'audit' "
                "UNION ALL SELECT 'household_scores' ORDER BY 1"
            ).fetchall()
        ]
        counts = {
            name: con.sql(f"SELECT count(*) FROM audit.{name}").fetchall()[0][0] for name in tables
        }
        runs = con.sql("SELECT run_id, status FROM audit.runs ORDER BY started_at").fetchall()
    return {"counts": counts, "runs": runs}


def start_run(
    config: Path, warehouse: Path, *, pause: Path | None = None
) -> subprocess.Popen[bytes]:
    """`welfare-audit run` in a child process reporting to the test's Prefect API; with
    ``pause``, it stops at the atomic replace and writes that marker file."""
    command = audit_command(config, warehouse)
    if pause is not None:  # python -m tests.paused_publication MARKER PUBLISHED -- run ...
        wrapper = [sys.executable, "-m", "tests.paused_publication", str(pause), str(warehouse)]
        command = [*wrapper, "--", *command[command.index("run") :]]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=harness_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_when(
    child: subprocess.Popen[bytes], reached: Callable[[], bool], timeout: float = 240
) -> None:
    """SIGKILL the child as soon as the stage marker appears."""
    deadline = time.monotonic() + timeout
    while not reached():
        assert child.poll() is None, "the run ended before the stage was reached"
        assert time.monotonic() < deadline, "stage not reached in time"
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


@pytest.fixture(scope="module", autouse=True)
def pseudonym_key() -> Iterator[None]:
    """The key household scores need, for this module's runs and their child processes."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WELFARE_AUDIT_PSEUDONYM_KEY", "crash-test-key-of-some-length")
        yield


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV survey (slower to read than Parquet, so stages last) audited with two models,
    publishing household scores (stored in files beside the warehouse)."""
    out = tmp_path_factory.mktemp("crash-survey")
    write_synthetic_survey(out, households=2500, seed=21, file_format="csv")
    config = out / "audit.toml"
    text = config.read_text().replace(
        'enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit", "rf"]'
    )
    assert "min_cell_n = 10" in text
    config.write_text(
        text.replace("min_cell_n = 10", "min_cell_n = 10\npublish_household_scores = true")
    )
    return out


def score_files(warehouse: Path) -> list[str]:
    """The runs whose household-score files lie beside the warehouse."""
    folder = files_folder(warehouse) / "household_scores"
    return sorted(path.name for path in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def published(survey: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A warehouse holding one successful run, copied by each test."""
    from flows.audit import audit

    warehouse = tmp_path_factory.mktemp("published") / "welfare_audit.duckdb"
    return warehouse, str(audit(str(survey / "audit.toml"), str(warehouse))["run_id"])


def stage_markers(survey: Path, warehouse: Path) -> dict[str, Callable[[], bool]]:
    """Files that exist once a stage has begun."""
    runs = survey / "output" / "runs"

    def ingesting() -> bool:
        return any(runs.glob("*/ingest/*.parquet")) if runs.exists() else False

    def data_docs() -> bool:
        return any(runs.glob("*/data_docs/index.html")) if runs.exists() else False

    def training() -> bool:
        return any(runs.glob("*/analysis.parquet")) if runs.exists() else False

    def publication() -> bool:
        return (warehouse.parent / "publishing.marker").exists()

    return {
        "ingest": ingesting,
        "validation": data_docs,
        "training": training,
        "publication": publication,
    }


@pytest.mark.parametrize("stage", ["ingest", "validation", "training", "publication"])
def test_kill_minus_nine_leaves_the_published_state(
    survey: Path, published: tuple[Path, str], tmp_path: Path, stage: str
) -> None:
    from flows.audit import audit

    warehouse = tmp_path / "welfare_audit.duckdb"
    shutil.copyfile(published[0], warehouse)
    shutil.copytree(files_folder(published[0]), files_folder(warehouse))
    with connect(warehouse) as con:  # its view names the fixture's files: name these instead
        refresh_file_views(con, warehouse)
    before = snapshot(warehouse)
    assert before["counts"]["household_scores"] == 2500 * 2  # type: ignore[index]
    for old in (survey / "output" / "runs").glob("*"):  # markers must come from the new run
        for marker in (old / "data_docs", old / "analysis.parquet"):
            if marker.is_dir():
                shutil.rmtree(marker)
            else:
                marker.unlink(missing_ok=True)

    pause = tmp_path / "publishing.marker" if stage == "publication" else None
    child = start_run(survey / "audit.toml", warehouse, pause=pause)
    kill_when(child, stage_markers(survey, warehouse)[stage])

    assert snapshot(warehouse) == before  # readers see exactly the previous state
    runs_folder = survey / "output" / "runs"
    raw_copies = {path.parent.name for name in RAW_COPIES for path in runs_folder.glob(f"*/{name}")}
    if stage == "publication":  # deleted before the atomic replace, so a kill there leaves none
        assert not raw_copies
    else:
        assert raw_copies  # the killed run left copies of the raw data behind
    after = audit(str(survey / "audit.toml"), str(warehouse))
    with connect(warehouse, read_only=True) as con:
        runs = con.sql(
            "SELECT run_id, status, error FROM audit.runs ORDER BY started_at"
        ).fetchall()
    assert runs[0][0] == published[1]
    assert runs[-1][:2] == (after["run_id"], "succeeded")
    interrupted = [r for r in runs if r[1] == "failed"]
    assert len(interrupted) == 1
    assert interrupted[0][2].startswith("interrupted")
    assert not list(tmp_path.glob(".welfare_audit.duckdb.*.work"))
    # the killed run's score file (written before the replace) was swept; published ones stay
    assert score_files(warehouse) == sorted(
        [f"{published[1]}.parquet", f"{after['run_id']}.parquet"]
    )
    assert raw_copies <= {interrupted[0][0]}
    left = [path.name for path in (runs_folder / interrupted[0][0]).glob("*")]
    assert not set(left) & set(RAW_COPIES)  # the next run deleted them (raw identifiers)
    wanted, _ = raw_identifiers.identifiers(load_config(survey / "audit.toml"), tmp_path)
    searched = [survey / "output", tmp_path, Path(os.environ["PREFECT_HOME"])]
    assert raw_identifiers.scan(searched, wanted) == {}
