"""The command line: help with examples, readable errors, and the quickstart path end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.processes import harness_env
from transforms.io.warehouse import connect

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.mark.parametrize("command", ["run", "validate", "generate"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: welfare-audit " + command in " ".join(result.output.split())


def test_bad_config_is_one_readable_message_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text('name = "x"\n[poverty_line]\nmethod = "regional"\n')
    result = runner.invoke(app, ["validate", "--config", str(config)])
    assert result.exit_code == 2
    assert "inputs: required key is missing" in result.output
    assert "Traceback" not in result.output


def test_version_prints_the_package_version() -> None:
    from importlib import metadata

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"welfare-audit {metadata.version('welfare-audit')}"


def test_exit_codes_tell_failed_validation_from_other_user_errors() -> None:
    from flows.cli import exit_code
    from transforms.config import ConfigError
    from transforms.expectations import ValidationFailed

    assert exit_code(ValidationFailed("data validation failed")) == 3
    assert exit_code(ConfigError("inputs: required key is missing")) == 2


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--config", str(tmp_path / "missing.toml"), "--debug"])
    assert result.exit_code != 0
    assert "configuration file not found" in str(result.exception)


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


@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_missing_column_is_one_message_before_any_work(tmp_path: Path, command: str) -> None:
    """The header is checked before Prefect or the flow start: one message naming the file,
    the config key and the column, exit 2, nothing written (it took 47-60 s and printed the
    message five times)."""
    (tmp_path / "hh.csv").write_text("id,reg,n,y\n1,A,2,10\n")
    small_config(tmp_path, welfare="income")
    result = runner.invoke(app, [command, "--config", str(tmp_path / "audit.toml")])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert text.count("mapped in the config are not in the file") == 1
    assert "hh.csv" in text and "welfare -> 'income'" in text
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "welfare_audit.duckdb").exists()


@pytest.mark.usefixtures("prefect_harness")
def test_every_row_rejected_names_the_reasons_by_column_and_a_hint(tmp_path: Path) -> None:
    """A file whose welfare uses a decimal comma: every row fails. The message lists the
    reasons by column with counts and suggests csv.decimal_comma (it said only "no household
    row passed the row rules")."""
    rows = "".join(f'{i};A;2;"{i},5"\n' for i in range(1, 9))
    (tmp_path / "hh.csv").write_text("id;reg;n;y\n" + rows)
    config = small_config(tmp_path, welfare="y")
    # a child process, as a user runs it: in-process runs share Prefect's log handlers,
    # which keep the stream of an earlier CliRunner invocation
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "validate", "--config", str(config)],
        cwd=ROOT,
        env=harness_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    text = " ".join(output.split())
    assert done.returncode == 2, text
    assert "none of its 8 rows passed the row rules" in text
    assert "welfare: not a number: 8 rows" in text
    assert "csv.decimal_comma = true" in text
    assert "Traceback" not in output
