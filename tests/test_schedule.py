"""Scheduled runs: `welfare-audit serve` against a real Prefect server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from transforms.io.warehouse import connect
from transforms.sample.files import write_synthetic_survey

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: object, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def test_prefect_yaml_deploys_the_audit_flow_by_path() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployment = spec["deployments"][0]
    module, function = deployment["entrypoint"].split(":")
    assert (ROOT / module).is_file()
    assert f"def {function}(" in (ROOT / module).read_text()
    assert set(deployment["parameters"]) == {"config_path", "warehouse"}
    assert deployment["schedules"][0]["cron"]


def test_served_deployment_runs_on_trigger_against_a_real_server(tmp_path: Path) -> None:
    write_synthetic_survey(tmp_path, households=1500, seed=4, file_format="parquet")
    config = tmp_path / "audit.toml"
    config.write_text(
        config.read_text().replace('enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit"]')
    )
    warehouse = tmp_path / "served.duckdb"
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env={k: v for k, v in env.items() if k != "PREFECT_API_URL"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    served = None
    try:
        wait_for(
            lambda: httpx.get(f"{api}/health").status_code == 200, timeout=120, what="the server"
        )
        served = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", "--config", str(config), "--warehouse",
             str(warehouse), "--cron", "0 2 1 * *", "--name", "test-audit"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        prefect = [str(BIN / "prefect"), "deployment"]

        def deployed() -> bool:
            """The deployment and its cron schedule, asked of the API (no CLI process per
            poll: each took seconds to import Prefect)."""
            shown = httpx.get(f"{api}/deployments/name/welfare-audit/test-audit", timeout=10)
            if shown.status_code != 200:
                return False
            schedules = shown.json().get("schedules") or []
            return any(s.get("schedule", {}).get("cron") == "0 2 1 * *" for s in schedules)

        wait_for(deployed, timeout=120, what="the deployment and its cron schedule")
        triggered = subprocess.run(
            [*prefect, "run", "welfare-audit/test-audit", "--watch", "--watch-timeout", "300"],
            env=env, capture_output=True, text=True, timeout=400,
        )  # fmt: skip
        assert triggered.returncode == 0, triggered.stdout[-2000:] + triggered.stderr[-2000:]
    finally:
        if served is not None:
            stop(served)
        stop(server)
    with connect(warehouse, read_only=True) as con:
        assert con.sql("SELECT status FROM audit.runs").fetchall() == [("succeeded",)]
        assert con.sql("SELECT count(*) FROM audit.targeting_errors").fetchall()[0][0] > 0


@pytest.mark.parametrize("command", ["serve", "runs"])
def test_schedule_commands_have_help(command: str) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert f"Example: welfare-audit {command}" in " ".join(result.output.split())
