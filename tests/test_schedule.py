"""Scheduled runs: `welfare-audit serve` against a real Prefect server on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
    # the same deployment as `welfare-audit serve`, one run at a time (queued, not failed)
    assert deployment["name"] == "scheduled-audit"
    assert deployment["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}


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
        broken = subprocess.run(
            [*prefect, "run", "welfare-audit/test-audit", "--param",
             f"config_path={tmp_path / 'missing.toml'}", "--watch", "--watch-timeout", "120"],
            env=env, capture_output=True, text=True, timeout=200,
        )  # fmt: skip
        assert broken.returncode != 0, "a run with a missing config must fail"
        seen = what_prefect_shows(api)
    finally:
        if served is not None:
            stop(served)
        stop(server)
    with connect(warehouse, read_only=True) as con:
        assert con.sql("SELECT status FROM audit.runs").fetchall() == [("succeeded",)]
        assert con.sql("SELECT count(*) FROM audit.targeting_errors").fetchall()[0][0] > 0
    succeeded = next(run for run in seen["runs"] if run["state_type"] == "COMPLETED")
    # the run is named after the audit and tagged with its name and config hash
    assert succeeded["name"].startswith("synthetic-dibao-audit-20"), succeeded["name"]
    assert "audit:synthetic-dibao-audit" in succeeded["tags"]
    assert any(tag.startswith("config:") for tag in succeeded["tags"])
    # every stage, file and model is told apart
    names = set(seen["tasks"][succeeded["id"]])
    assert {"start-run", "validate", "prepare-analysis", "report", "finish-run-succeeded"} <= names
    inner = {name for tasks in seen["tasks"].values() for name in tasks}
    assert {"train-pmt-logit", "pmt-targeting-logit", "ingest-households[households.parquet]"} <= (
        inner
    )
    # artifacts keyed per audit, with a link to the report
    keys = {artifact["key"] for artifact in seen["artifacts"]}
    assert {"synthetic-dibao-audit-summary", "synthetic-dibao-audit-report"} <= keys
    # events an Automation can act on: the success, and the failure of the broken run
    events = {event["event"]: event for event in seen["events"]}
    assert events["welfare-audit.run.succeeded"]["payload"]["run_id"]
    failed = events["welfare-audit.run.failed"]
    assert failed["resource"]["prefect.resource.id"] == "welfare-audit.audit.missing"
    assert "configuration file not found" in failed["payload"]["message"]


def what_prefect_shows(api: str) -> dict[str, Any]:
    """Top-level flow runs, the task run names of every flow run, artifacts and the
    welfare-audit events, as the Prefect UI would show them (asked of the API)."""
    runs = httpx.post(f"{api}/flow_runs/filter", json={}, timeout=30).json()
    tasks: dict[str, list[str]] = {}
    for run in runs:
        shown = httpx.post(
            f"{api}/task_runs/filter",
            json={"flow_runs": {"id": {"any_": [run["id"]]}}},
            timeout=30,
        ).json()
        tasks[run["id"]] = [task["name"] for task in shown]
    artifacts = httpx.post(f"{api}/artifacts/filter", json={}, timeout=30).json()

    def events_seen() -> list[dict[str, Any]]:
        found = httpx.post(
            f"{api}/events/filter",
            json={"filter": {"event": {"prefix": ["welfare-audit."]}}, "limit": 50},
            timeout=30,
        ).json()
        return list(found.get("events", []))

    # events are written asynchronously by the server: wait for both
    wait_for(
        lambda: (
            {"welfare-audit.run.succeeded", "welfare-audit.run.failed"}
            <= {event["event"] for event in events_seen()}
        ),
        timeout=60,
        what="the run events",
    )
    top = [run for run in runs if run.get("parent_task_run_id") is None]
    return {"runs": top, "tasks": tasks, "artifacts": artifacts, "events": events_seen()}


def test_serve_refuses_without_a_prefect_server(tmp_path: Path) -> None:
    """No server configured, or one that does not answer: serve stops at once, exit 2."""
    port = free_port()  # nothing listens there
    for api, expected in (
        ("", "no Prefect server is configured"),
        (f"http://127.0.0.1:{port}/api", "does not answer"),
    ):
        env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "home")}
        served = subprocess.run(
            [sys.executable, "-m", "flows.cli", "serve", "--config",
             str(ROOT / "data" / "sample" / "audit.toml")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        output = served.stdout + served.stderr
        assert served.returncode == 2, output
        assert expected in output
        assert "Traceback" not in output


@pytest.mark.parametrize("command", ["serve", "runs"])
def test_schedule_commands_have_help(command: str) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert f"Example: welfare-audit {command}" in " ".join(result.output.split())


def test_example_automation_is_a_valid_prefect_automation() -> None:
    """The README's example Automation parses as Prefect's own model and reacts to our
    failure events."""
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    spec = yaml.safe_load((ROOT / "docs" / "examples" / "notify-on-failure.yaml").read_text())
    automation = AutomationCore.model_validate(spec)
    assert isinstance(automation.trigger, EventTrigger)
    assert automation.trigger.expect == {
        "welfare-audit.run.failed",
        "welfare-audit.validation.failed",
    }
