"""Every failure a user can cause, through the real CLI in a child process (#17): the exit code
the README documents (2 for what the user can fix, 3 for failed validation), one short message
naming the file, column or key involved, and no traceback unless --debug asks for one.

Most failures are caught before Prefect starts (1-9 s a case, on a six-row survey); the few
found inside the flow (validation, quarantine, memory, a full disk, a file that is not DuckDB)
run once each against the session's Prefect test API.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.cli import USER_ERROR, VALIDATION_FAILED
from tests import cgroups
from tests.mounts import tmpfs
from tests.processes import Outcome, audit_command, cli_command, run_cli
from tests.test_cli import small_config
from transforms.io import warehouse
from transforms.io.memory import FIXED_NEED
from transforms.sample.files import write_synthetic_survey

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 15
"""A readable failure fits on a screen: the message, its hint and Prefect's one-line logs."""
HOUSEHOLDS = "id,reg,n,y\n1,A,2,10\n2,A,1,12\n3,A,2,7\n4,B,1,3\n5,B,3,4\n6,B,2,9\n"
OVER_CEILING = "id,reg,n,y\n1,A,2,10\n2,A,0,10\n3,A,2,-1\n4,A,2,7\n5,B,1,3\n6,B,3,4\n"
"""Two of six rows break a row rule (hh_size 0, welfare -1): 33 %, above the 5 % ceiling."""
SMALL_MACHINE_MIB = 960
"""A container below the analysis' fixed need (1 GiB), above what the CLI itself takes."""


@dataclass(frozen=True)
class Failure:
    """One way to make the CLI fail: the command, its exit code and what the message names."""

    command: list[str]
    code: int
    names: tuple[str, ...]
    """Text the message must contain: the file, column, key or setting involved."""
    not_said: tuple[str, ...] = ()
    """Text a correct message must not contain (a wrong diagnosis)."""
    absent: tuple[Path, ...] = ()
    """Paths the failed command must not have created."""
    starts_flow: bool = False
    """Found only inside the Prefect flow: the child needs the session's test API."""
    unset: tuple[str, ...] = ()
    """Environment variables the child must not see."""


def assert_readable(outcome: Outcome, code: int, names: Sequence[str] = ()) -> None:
    """The documented exit code, one short message that names what is wrong, no traceback."""
    shown = outcome.output[-3000:]
    assert outcome.code == code, shown
    assert "Traceback" not in outcome.output, shown
    messages = [line for line in outcome.output.splitlines() if line.startswith("error: ")]
    assert len(messages) == 1, shown  # said once, by the CLI
    assert "--debug" in outcome.text, shown  # and where the traceback is
    for name in names:
        assert name in outcome.text, f"{name!r} not named in:\n{shown}"
    assert len(outcome.output.splitlines()) < MAX_LINES, shown


def edit(config: Path, old: str, new: str) -> None:
    """Replace one piece of the audit file's text."""
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))


Scene = Callable[[Path], AbstractContextManager[Failure]]
"""Sets up one failure in a folder holding hh.csv and its audit.toml; yields what to run."""


def run_in(folder: Path) -> list[str]:
    """`welfare-audit run` on the folder's audit file and warehouse."""
    return audit_command(folder / "audit.toml", folder / "welfare_audit.duckdb")


@contextmanager
def toml_syntax_error(folder: Path) -> Iterator[Failure]:
    config = folder / "audit.toml"
    config.write_text('name = "an unclosed string\n')
    yield Failure(run_in(folder), USER_ERROR, (f"{config}: not valid TOML", "line 1"))


@contextmanager
def unknown_key(folder: Path) -> Iterator[Failure]:
    config = folder / "audit.toml"
    edit(config, "[output]\n", '[output]\ncolour = "red"\n')
    yield Failure(run_in(folder), USER_ERROR, (str(config), "output.colour: unknown key"))


@contextmanager
def wrong_type(folder: Path) -> Iterator[Failure]:
    config = folder / "audit.toml"
    config.write_text('seed = "abc"\n' + config.read_text())
    yield Failure(run_in(folder), USER_ERROR, (str(config), "seed:", "valid integer", "'abc'"))


@contextmanager
def required_key_missing(folder: Path) -> Iterator[Failure]:
    config = folder / "audit.toml"
    config.write_text('name = "x"\n[poverty_line]\nmethod = "regional"\n')
    command = cli_command("validate", "--config", str(config))
    yield Failure(command, USER_ERROR, (str(config), "inputs: required key is missing"))


@contextmanager
def input_file_missing(folder: Path) -> Iterator[Failure]:
    edit(folder / "audit.toml", '"hh.csv"', '"nowhere.csv"')
    yield Failure(run_in(folder), USER_ERROR, (f"file not found: {folder / 'nowhere.csv'}",))


def cannot_override_permissions() -> list[str]:
    """A prefix under which even root cannot read a file its mode forbids (no CAP_DAC_*)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root reads any file, and setpriv (util-linux) is not here to drop that")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-all"]


@contextmanager
def input_file_unreadable(folder: Path) -> Iterator[Failure]:
    households = folder / "hh.csv"
    households.chmod(0)
    try:
        yield Failure(
            [*cannot_override_permissions(), *run_in(folder)],
            USER_ERROR,
            (str(households),),
            not_said=("cannot write", "Free space"),  # the input cannot be read
        )
    finally:
        households.chmod(0o644)


@contextmanager
def input_is_a_folder(folder: Path) -> Iterator[Failure]:
    (folder / "survey").mkdir()
    edit(folder / "audit.toml", '"hh.csv"', '"survey"')
    yield Failure(run_in(folder), USER_ERROR, (f"{folder / 'survey'} is a folder",))


@contextmanager
def input_gzipped(folder: Path) -> Iterator[Failure]:
    (folder / "hh.csv.gz").write_bytes(gzip.compress(HOUSEHOLDS.encode()))
    edit(folder / "audit.toml", 'path = "hh.csv"', 'path = "hh.csv.gz"\nformat = "csv"')
    names = (f"{folder / 'hh.csv.gz'}: the file is gzip-compressed", "gunzip")
    yield Failure(run_in(folder), USER_ERROR, names)


@contextmanager
def input_utf16(folder: Path) -> Iterator[Failure]:
    (folder / "hh.csv").write_text(HOUSEHOLDS, encoding="utf-16")  # with its byte-order mark
    names = (f"{folder / 'hh.csv'}: the file is UTF-16", 'csv.encoding = "utf16"')
    yield Failure(run_in(folder), USER_ERROR, names)


@contextmanager
def input_symlink_loop(folder: Path) -> Iterator[Failure]:
    (folder / "loop_a.csv").symlink_to(folder / "loop_b.csv")
    (folder / "loop_b.csv").symlink_to(folder / "loop_a.csv")
    edit(folder / "audit.toml", '"hh.csv"', '"loop_a.csv"')
    yield Failure(run_in(folder), USER_ERROR, (str(folder / "loop_a.csv"),))


@contextmanager
def bracketed_path(folder: Path) -> Iterator[Failure]:
    (folder / "[raw]").mkdir()
    edit(folder / "audit.toml", '"hh.csv"', '"[raw]/hh.csv"')
    yield Failure(run_in(folder), USER_ERROR, (f"file not found: {folder / '[raw]' / 'hh.csv'}",))


def column_missing(command: str) -> Scene:
    """A mapped column the file lacks: found from the header before Prefect or the flow start
    (it took 47-60 s and printed the message five times); nothing is written."""

    @contextmanager
    def scene(folder: Path) -> Iterator[Failure]:
        config = small_config(folder, welfare="income")
        yield Failure(
            [*run_in(folder)] if command == "run" else cli_command(command, "-c", str(config)),
            USER_ERROR,
            ("hh.csv", "mapped in the config are not in the file", "welfare -> 'income'"),
            absent=(folder / "out", folder / "welfare_audit.duckdb"),
        )

    scene.__name__ = f"column_missing_{command}"
    return scene


@contextmanager
def output_folder_busy(folder: Path) -> Iterator[Failure]:
    with warehouse.output_lock(folder / "out"):
        names = (str(folder / "out"), "another audit run or validation is using this output")
        yield Failure(run_in(folder), USER_ERROR, names, absent=(folder / "welfare_audit.duckdb",))


@contextmanager
def warehouse_busy(folder: Path) -> Iterator[Failure]:
    with warehouse.exclusive_lock(folder / "welfare_audit.duckdb"):
        names = (
            str(folder / "welfare_audit.duckdb"),
            "another audit run is writing this warehouse",
        )
        yield Failure(run_in(folder), USER_ERROR, names, absent=(folder / "welfare_audit.duckdb",))


@contextmanager
def output_folder_read_only(folder: Path) -> Iterator[Failure]:
    with tmpfs(folder / "read-only", 1024, read_only=True) as mount_point:
        edit(folder / "audit.toml", 'directory = "out"', 'directory = "read-only/out"')
        names = (str(mount_point / "out"), "read-only", "not writable")
        yield Failure(run_in(folder), USER_ERROR, names, absent=(folder / "welfare_audit.duckdb",))


@contextmanager
def pseudonym_key_missing(folder: Path) -> Iterator[Failure]:
    disclosure = "[disclosure]\npublish_household_scores = true\n"
    edit(folder / "audit.toml", "[output]", disclosure + "[output]")
    yield Failure(
        run_in(folder),
        USER_ERROR,
        ("disclosure.publish_household_scores", "WELFARE_AUDIT_PSEUDONYM_KEY"),
        absent=(folder / "welfare_audit.duckdb",),
        unset=("WELFARE_AUDIT_PSEUDONYM_KEY",),
    )


@contextmanager
def unknown_run_id(folder: Path) -> Iterator[Failure]:
    published = folder / "welfare_audit.duckdb"
    work = warehouse.open_workspace(published, "20260101T000000Z-aaaaaa")
    with warehouse.connect(work) as con:
        started = datetime(2026, 1, 1, tzinfo=UTC)
        run = warehouse.RunRecord("20260101T000000Z-aaaaaa", "x", "-", "-", "-", 1, started)
        warehouse.record_run_start(con, run)
        warehouse.record_run_end(con, run.run_id, status="succeeded")
    warehouse.publish(work, published)
    command = cli_command(
        "report", "-c", str(folder / "audit.toml"), "-w", str(published), "--run-id", "nosuchrun"
    )
    yield Failure(command, USER_ERROR, ("run 'nosuchrun' is not in audit.runs",))


@contextmanager
def warehouse_not_duckdb(folder: Path) -> Iterator[Failure]:
    """Caught before Prefect starts, naming the file given (not a working copy), and no stray
    copy is left beside it."""
    (folder / "welfare_audit.duckdb").write_text("name,value\nnot,a database\n")
    names = (str(folder / "welfare_audit.duckdb"), "not a DuckDB database")
    yield Failure(run_in(folder), USER_ERROR, names, absent=(folder / "out",))


@contextmanager
def too_little_memory(folder: Path) -> Iterator[Failure]:
    assert SMALL_MACHINE_MIB * 2**20 < FIXED_NEED
    with cgroups.memory_cgroup(SMALL_MACHINE_MIB) as cgroup:
        names = ("6 households", f"allows {SMALL_MACHINE_MIB / 1024:.1f} GiB", "more memory")
        command = [*cgroups.in_cgroup(cgroup), *run_in(folder)]
        yield Failure(command, USER_ERROR, names, starts_flow=True)


@contextmanager
def disk_full(folder: Path) -> Iterator[Failure]:
    survey = folder / "survey"
    write_synthetic_survey(survey, households=800, seed=4, file_format="parquet")
    with tmpfs(folder / "small-disk", 1024) as disk:  # far too small for a warehouse
        published = disk / "welfare_audit.duckdb"
        yield Failure(
            audit_command(survey / "audit.toml", published),
            USER_ERROR,
            (str(disk), "the disk is full", "No results were published"),
            absent=(published,),
            starts_flow=True,
        )


@contextmanager
def every_row_rejected(folder: Path) -> Iterator[Failure]:
    """A file whose welfare uses a decimal comma: every row fails. The message lists the reasons
    by column with counts and suggests csv.decimal_comma (it said only "no household row passed
    the row rules")."""
    rows = "".join(f'{i};A;2;"{i},5"\n' for i in range(1, 9))
    (folder / "hh.csv").write_text("id;reg;n;y\n" + rows)
    yield Failure(
        cli_command("validate", "--config", str(folder / "audit.toml")),
        USER_ERROR,
        (
            "none of its 8 rows passed the row rules",
            "welfare: not a number: 8 rows",
            "csv.decimal_comma = true",
        ),
        starts_flow=True,
    )


def case(scene: Scene) -> object:
    """A parametrized case named after its scene: input_utf16 -> input-utf16."""
    return pytest.param(scene, id=scene.__name__.replace("_", "-"))


def defect(scene: Scene, reason: str) -> object:
    """A case that fails today (the reason names the defect); strict: it must keep failing
    until the product is fixed, and then the marker goes."""
    return pytest.param(
        scene,
        marks=pytest.mark.xfail(strict=True, reason=reason),
        id=scene.__name__.replace("_", "-"),
    )


CASES = [
    case(toml_syntax_error),
    case(unknown_key),
    case(wrong_type),
    case(required_key_missing),
    case(input_file_missing),
    case(input_file_unreadable),
    case(input_is_a_folder),
    case(input_gzipped),
    case(input_utf16),
    case(input_symlink_loop),
    case(bracketed_path),
    case(column_missing("run")),
    case(column_missing("validate")),
    case(output_folder_busy),
    case(warehouse_busy),
    case(output_folder_read_only),
    case(pseudonym_key_missing),
    case(unknown_run_id),
    case(warehouse_not_duckdb),
    case(too_little_memory),
    case(disk_full),
    case(every_row_rejected),
]


@pytest.mark.parametrize("scene", CASES)
def test_a_user_error_is_one_short_message_without_traceback(
    scene: Scene, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    (tmp_path / "hh.csv").write_text(HOUSEHOLDS)
    small_config(tmp_path, welfare="y")
    with scene(tmp_path) as failure:
        if failure.starts_flow:
            request.getfixturevalue("prefect_harness")
        outcome = run_cli(failure.command, unset=failure.unset)
    assert_readable(outcome, failure.code, failure.names)
    for wrong in failure.not_said:
        assert wrong not in outcome.text, outcome.output[-3000:]
    for path in failure.absent:
        assert not path.exists(), f"{path} was created"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text('name = "an unclosed string\n')
    outcome = run_cli(audit_command(config, tmp_path / "welfare_audit.duckdb", "--debug"))
    assert outcome.code == 1  # an exception left uncaught, as an internal error
    assert "Traceback (most recent call last)" in outcome.output
    assert "transforms.config.ConfigError: " in outcome.output
    assert f"{config}: not valid TOML" in outcome.text


@pytest.fixture(scope="module")
def over_ceiling(
    tmp_path_factory: pytest.TempPathFactory, prefect_harness: None
) -> tuple[Path, Outcome]:
    """One `welfare-audit run` (the flow starts) on a file with a third of its rows quarantined;
    the validation cases below read its output."""
    folder = tmp_path_factory.mktemp("over-ceiling")
    (folder / "hh.csv").write_text(OVER_CEILING)
    small_config(folder, welfare="y")
    return folder, run_cli(run_in(folder))


def test_failed_validation_names_the_check_the_observed_share_and_its_ceiling(
    over_ceiling: tuple[Path, Outcome],
) -> None:
    folder, outcome = over_ceiling
    assert_readable(
        outcome,
        VALIDATION_FAILED,
        (
            "data validation failed",
            "file_counts.quarantined_share: expect_column_values_to_be_between failed",
            "(33.3%), above validation.max_quarantine_share = 0.05",
        ),
    )
    with warehouse.connect(folder / "welfare_audit.duckdb", read_only=True) as con:
        runs = con.sql("SELECT status, error FROM audit.runs").fetchall()
        results = con.sql("SELECT count(*) FROM audit.targeting_errors").fetchall()
    assert [(status, error.split(":")[0]) for status, error in runs] == [
        ("failed", "ValidationFailed")
    ]
    assert results == [(0,)]  # the run is recorded as failed; no results are published


def test_quarantine_above_its_ceiling_names_the_file_and_the_columns(
    over_ceiling: tuple[Path, Outcome],
) -> None:
    folder, outcome = over_ceiling
    assert_readable(
        outcome,
        VALIDATION_FAILED,
        (
            f"{folder / 'hh.csv'}: 2 of 6 rows quarantined",
            "hh_size: must be >= 1 (1 rows)",
            "welfare: must be >= 0",
        ),
    )


def test_failed_validation_says_where_the_data_docs_are(
    over_ceiling: tuple[Path, Outcome],
) -> None:
    _, outcome = over_ceiling
    found = re.search(r"(\S+data_docs\S*index\.html)", outcome.text)
    assert found is not None, outcome.output[-3000:]
    assert Path(found.group(1)).is_file()
