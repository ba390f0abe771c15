"""The command line: help with examples, exit codes, validate's report and the quickstart path end
to end (every failure a user can cause, through the CLI: tests/test_failure_messages.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.processes import audit_command, cli_command, run_cli
from transforms.io.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.parametrize("command", ["run", "validate", "generate"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: welfare-audit " + command in " ".join(result.output.split())


def test_version_prints_the_package_version() -> None:
    from importlib import metadata

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"welfare-audit {metadata.version('welfare-audit')}"


def test_the_console_script_exits_with_the_command_s_code_after_exit_handlers(
    tmp_path: Path,
) -> None:
    """main() ends the process without the interpreter's module teardown: the exit code, the
    printed output and the exit handlers (log flushing, Prefect's workers) must survive it."""
    marker = tmp_path / "handlers-ran"
    code = (
        "import atexit, pathlib, sys\n"
        f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')\n"
        "from flows.cli import main\n"
        "sys.argv = ['welfare-audit', *sys.argv[1:]]\n"
        "main()\n"
    )
    version = subprocess.run(
        [sys.executable, "-c", code, "--version"], capture_output=True, text=True, cwd=ROOT
    )
    assert version.returncode == 0
    assert version.stdout.startswith("welfare-audit ")
    assert marker.read_text() == "yes"
    missing = subprocess.run(
        [sys.executable, "-c", code, "run", "--config", str(tmp_path / "none.toml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert missing.returncode == 2
    assert "none.toml" in missing.stderr and "configuration file not found" in missing.stderr


def test_the_console_script_ends_with_a_process_pool_still_open() -> None:
    """A pool left open (joblib's loky after training, concurrent.futures) has a non-daemon
    manager thread that only stops in Python's thread shutdown: main() must run that step
    before waiting for threads, or the command never ends (it hung after a retraining run)."""
    code = (
        "import sys\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "pool = ProcessPoolExecutor(max_workers=1)\n"
        "assert pool.submit(abs, -1).result() == 1\n"
        "from flows.cli import main\n"
        "sys.argv = ['welfare-audit', '--version']\n"
        "main()\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert ended.returncode == 0
    assert ended.stdout.startswith("welfare-audit ")


def test_exit_codes_tell_failed_validation_from_other_user_errors() -> None:
    from flows.cli import exit_code
    from transforms.config import ConfigError
    from transforms.expectations import ValidationFailed

    assert exit_code(ValidationFailed("data validation failed")) == 3
    assert exit_code(ConfigError("inputs: required key is missing")) == 2


def small_config(folder: Path, *, welfare: str) -> Path:
    """audit.toml for hh.csv (columns id, reg, n, y) with welfare mapped to ``welfare``."""
    config = folder / "audit.toml"
    config.write_text(
        f"""[inputs.households]
path = "hh.csv"
columns = {{ hh_id = "id", region = "reg", hh_size = "n", welfare = "{welfare}" }}
[poverty_line]
method = "relative_median"
median_share = 0.6
[output]
directory = "out"
"""
    )
    return config


@pytest.mark.usefixtures("prefect_harness")
def test_validate_reports_rows_reasons_and_failed_expectations(tmp_path: Path) -> None:
    (tmp_path / "hh.csv").write_text(
        "id,reg,n,y\n1,A,2,10\n2,A,0,10\n3,A,2,-1\n4,A,2,7\n5,B,1,3\n6,B,3,4\n"
    )
    small_config(tmp_path, welfare="y")
    result = runner.invoke(
        app, ["validate", "--config", str(tmp_path / "audit.toml")], env={"COLUMNS": "250"}
    )
    text = " ".join(result.output.split())
    assert result.exit_code == 3  # 2 of 6 rows quarantined: above the 5 % ceiling
    assert "must be >= 1" in text
    assert "must be >= 0" in text
    assert "quarantined_share" in text
    assert not (tmp_path / "welfare_audit.duckdb").exists()  # validate publishes nothing


def test_generate_writes_a_survey_and_its_config(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["generate", "-n", "500", "--seed", "3", "--format", "csv", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "households.csv").read_text().count("\n") == 501
    assert (tmp_path / "audit.toml").is_file()


def test_quickstart_run_as_a_newcomer_would(tmp_path: Path) -> None:
    """`welfare-audit run` on the embedded sample, as a subprocess with Prefect's local API."""
    warehouse = tmp_path / "welfare_audit.duckdb"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    executable = Path(sys.executable).parent / "welfare-audit"
    completed = subprocess.run(
        [str(executable), "run", "--warehouse", str(warehouse)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Poverty lines" in completed.stdout
    assert "Programmes, whole population" in completed.stdout
    assert "dibao" in completed.stdout and "relative_60_median" in completed.stdout
    with connect(warehouse, read_only=True) as con:
        status = con.sql("SELECT status FROM audit.runs").fetchall()
        households = con.sql(
            "SELECT rows_read FROM audit.input_files WHERE role = 'households'"
        ).fetchall()
    assert status == [("succeeded",)]
    assert households == [(20000,)]


def test_two_headers_one_name_after_unicode_normalisation_stop_validate(tmp_path: Path) -> None:
    """A header with 'región' twice, once composed and once with a combining accent: the
    header check names the file and both spellings before Prefect starts, exit 2."""
    composed, decomposed = (unicodedata.normalize(form, "región") for form in ("NFC", "NFD"))
    (tmp_path / "hh.csv").write_text(
        f"id,{composed},{decomposed},n,y\n1,A,B,2,10\n", encoding="utf-8"
    )
    config = small_config(tmp_path, welfare="y")
    config.write_text(config.read_text().replace('region = "reg"', f'region = "{composed}"'))
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "validate", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=120,
    )
    output = done.stdout + done.stderr
    text = " ".join(output.split())
    assert done.returncode == 2, text
    assert f"hh.csv: columns '{composed}' and '{decomposed}' are the same name" in text
    assert "'regi\\xf3n' and 'regio\\u0301n'" in text
    assert "Traceback" not in output
    assert not (tmp_path / "out").exists()  # refused before any work


def survey_with_members_and_regions(folder: Path, *, members: bytes, regions: str) -> Path:
    """A three-row household file (ids 1-3, regions A and B) with the given members and
    regions files, and the config that maps all three."""
    (folder / "hh.csv").write_text("id,reg,n,y\n1,A,2,10\n2,A,1,12\n3,B,1,7\n")
    (folder / "members.csv").write_bytes(members)
    (folder / "regions.csv").write_text(regions)
    config = small_config(folder, welfare="y")
    config.write_text(
        config.read_text()
        + """[inputs.members]
path = "members.csv"
columns = { hh_id = "hh", person_id = "pid", age = "age" }
[inputs.regions]
path = "regions.csv"
columns = { region = "reg", population = "pop" }
"""
    )
    return config


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize(
    ("members", "regions", "named", "reason", "hint"),
    [
        (  # every member row holds a Latin-1 byte: the file is not UTF-8
            b"hh,pid,age,village\n1,1,30,Pe\xf1a\n2,1,41,Pe\xf1a\n3,1,25,Pe\xf1a\n",
            "reg,pop\nA,100\nB,200\n",
            "members.csv: none of its 3 rows passed the row rules",
            "(row): bytes that are not valid utf8 text (set csv.encoding): 3 rows",
            "set csv.encoding to the one it was saved in",
        ),
        (  # populations with a decimal comma: the regions file, not the households, is named
            b"hh,pid,age\n1,1,30\n2,1,41\n3,1,25\n",
            'reg;pop\nA;"100,5"\nB;"200,5"\n',
            "regions.csv: none of its 2 rows passed the row rules",
            "population: not a number: 2 rows",
            "set csv.decimal_comma = true",
        ),
    ],
    ids=["members-encoding", "regions-decimal-comma"],
)
def test_every_row_of_another_file_rejected_names_that_file(
    tmp_path: Path, members: bytes, regions: str, named: str, reason: str, hint: str
) -> None:
    """Not only the household file: when no row of the members or regions file passes the
    row rules, that file is named with its reasons by column, counts and a hint (members
    all rejected used to pass ingest and fail later; regions all rejected was reported as
    every household having an unknown region)."""
    config = survey_with_members_and_regions(tmp_path, members=members, regions=regions)
    done = run_cli(cli_command("validate", "--config", str(config)))
    output = done.output
    text = " ".join(output.split())
    assert done.code == 2, text
    assert named in text
    assert reason in text
    assert hint in text
    assert "hh.csv: none of its" not in text
    assert "Traceback" not in output


@pytest.mark.usefixtures("prefect_harness")
def test_an_absurd_value_is_one_quarantined_row_not_a_failed_run(tmp_path: Path) -> None:
    """A weight of 1e300 and a welfare of 1e308 among 40 households: `validate` lists both
    rows in the quarantine with the contract's bound as the reason and passes (2 of 40 rows
    is under the 5 % ceiling); nothing overflows later."""
    rows = [f"{i},{'AB'[i % 2]},{1 + i % 4},{100 + 7 * i}" for i in range(1, 41)]
    rows[4] = "5,B,2,1e308"
    (tmp_path / "hh.csv").write_text(
        "id,reg,n,y,w\n"
        + "".join(f"{row},{'1e300' if row.startswith('9,') else '10'}\n" for row in rows)
    )
    config = small_config(tmp_path, welfare="y")
    config.write_text(config.read_text().replace('welfare = "y"', 'welfare = "y", weight = "w"'))
    done = run_cli(cli_command("validate", "--config", str(config)))
    output = done.output
    text = " ".join(output.replace("│", " ").split())
    assert done.code == 0, text
    assert "hh.csv weight must be <= 1e+09 1" in text
    assert "hh.csv welfare must be <= 1e+15 1" in text
    assert "households 40 38 2" in text
    assert "Traceback" not in output


def survey_run_would_fail_on(folder: Path) -> Path:
    """Eight households in 2 PSUs (the default 5 folds need 5), a national line above every
    welfare (everybody poor) beside a relative one, and a programme nobody receives."""
    rows = "".join(f"{i},{'AB'[i % 2]},2,{100 + 10 * i},S,E{i % 2},0\n" for i in range(1, 9))
    (folder / "hh.csv").write_text("id,reg,n,y,s,ea,b\n" + rows)
    config = folder / "audit.toml"
    config.write_text(
        """[inputs.households]
path = "hh.csv"
columns = { hh_id = "id", region = "reg", hh_size = "n", welfare = "y", strata = "s", psu = "ea" }
[[poverty_lines]]
name = "national"
method = "national"
national_line = 1000000.0
[[poverty_lines]]
name = "relative"
method = "relative_median"
median_share = 0.9
[[programmes]]
name = "cash"
receives = "b"
[output]
directory = "out"
"""
    )
    return config


@pytest.mark.usefixtures("prefect_harness")
def test_validate_fails_on_what_run_would_fail_on_later(tmp_path: Path) -> None:
    """Fewer PSUs than folds, everybody poor under a line, a programme without recipients:
    `validate` lists each as a failed check naming file, column, observed and threshold, and
    exits 3 (it passed, and `run` then stopped in model training with a traceback)."""
    config = survey_run_would_fail_on(tmp_path)
    done = run_cli(cli_command("validate", "--config", str(config)))
    output = done.output
    text = " ".join(output.replace("│", " ").split())
    assert done.code == 3, text
    assert "expect_psu_count_to_be_at_least_folds" in text
    assert "hh.csv: 2 PSUs (distinct strata x psu, columns 's' x 'ea'); models.folds = 5" in text
    assert "poverty line 'national' (national, 1,000,000.00 per person per year)" in text
    assert "8 of 8 households have pre-transfer welfare (column 'y') below it" in text
    assert "everybody is poor" in text
    assert "programme 'cash': 0 of 8 households receive it (column 'b'" in text
    assert "Traceback" not in output


@pytest.mark.usefixtures("prefect_harness")
def test_run_stops_at_validation_with_the_same_message(tmp_path: Path) -> None:
    """`run` on the same survey stops at validation, before any model is trained: exit 3, the
    failed checks in one message, the run recorded as failed."""
    config = survey_run_would_fail_on(tmp_path)
    warehouse = tmp_path / "welfare_audit.duckdb"
    done = run_cli(audit_command(config, warehouse))
    output = done.output
    text = " ".join(output.split())
    assert done.code == 3, text
    assert "data validation failed (severity error)" in text
    assert (
        "analysis.psu: expect_psu_count_to_be_at_least_folds failed; observed "
        f"{tmp_path / 'hh.csv'}: 2 PSUs (distinct strata x psu, columns 's' x 'ea'); "
        "models.folds = 5 needs at least 5" in text
    )
    assert "a poverty rate of 1; it must be strictly between 0 and 1 (everybody is poor" in text
    assert "against the welfare column's (welfare.basis, currency per person per year)" in text
    assert "analysis.programmes.cash.receives: expect_programme_to_have_recipients failed" in text
    assert "Traceback" not in output
    assert not (tmp_path / "out" / "models").exists()  # stopped before training
    with connect(warehouse, read_only=True) as con:
        runs = con.sql("SELECT status, error FROM audit.runs").fetchall()
    assert runs[0][0] == "failed" and runs[0][1].startswith("ValidationFailed: ")
