"""Start-up cost of the command line: how soon an error reaches the user, and the embedded
sample's full audit (issue #17's targets: an error in <= 3 s, the sample audit in <= 25 s).

Usage (from the repository root, on an idle machine):
    .venv/bin/python -m benchmarks.startup [--repeat 3]

Each case runs `welfare-audit` as a new process (what a user waits for), with a fresh
PREFECT_HOME and Prefect's temporary server (no PREFECT_API_URL). Prints the wall seconds of
each repeat and writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.run import RESULTS, machine

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def broken_configs(folder: Path) -> dict[str, Path]:
    """The sample's config with a missing column, and a config with a wrong key."""
    for name in ("households.parquet", "members.parquet", "regions.parquet", "projection.parquet"):
        shutil.copyfile(SAMPLE / name, folder / name)
    text = (SAMPLE / "audit.toml").read_text()
    missing = folder / "missing-column.toml"
    missing.write_text(text.replace('welfare = "pcexp"', 'welfare = "pcexp_missing"', 1))
    bad = folder / "bad-config.toml"
    bad.write_text(text.replace("[inputs.households]", "[inputs.housholds]", 1))
    return {"missing_column": missing, "bad_config": bad}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, exit code and the output of one process."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    return round(seconds, 2), done.returncode, done.stdout + done.stderr


STAGE_LINE = re.compile(r"^\d\d:\d\d:\d\d (?P<stage>[^:]+): done in (?P<seconds>[\d.]+) s")


def stage_seconds(output: str) -> dict[str, float]:
    """Seconds per stage, from the plain progress lines the CLI prints without a terminal."""
    found = (STAGE_LINE.match(line) for line in output.splitlines())
    return {m["stage"]: float(m["seconds"]) for m in found if m}


def audit_case(command: list[str], env: dict[str, str], repeat: int) -> dict[str, object]:
    """Wall seconds of ``repeat`` audits, and where the last one spent its time: each stage,
    and before the first stage (imports, checks, Prefect's start-up)."""
    runs = [timed(command, env) for _ in range(repeat)]
    stages = stage_seconds(runs[-1][2])
    outside = runs[-1][0] - sum(stages.values())
    return {
        "seconds": [r[0] for r in runs],
        "exit": runs[0][1],
        "stages_of_last_run": stages,
        "outside_stages_of_last_run": round(outside, 2),
    }


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """A Prefect server on a free local port for the block; yields its API URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_API_URL": ""}
    prefect = str(Path(sys.executable).parent / "prefect")
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield api
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    """Time the error cases and the sample audit; print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    cli = [sys.executable, "-m", "flows.cli"]
    size = machine()  # with the load average before the first case
    results: dict[str, object] = {"machine": size, "repeat": repeat}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        env = {**os.environ, "PREFECT_API_URL": "", "PREFECT_HOME": str(folder / "prefect")}
        for case, config in broken_configs(folder).items():
            runs = [timed([*cli, "run", "--config", str(config)], env) for _ in range(repeat)]
            runs = [(r[0], r[1], r[2].strip().splitlines()[-1]) for r in runs]
            results[case] = {"seconds": [r[0] for r in runs], "exit": runs[0][1]}
            print(f"{case}: {[r[0] for r in runs]} s (exit {runs[0][1]}; target <= 3 s)")
        warehouse = folder / "sample.duckdb"
        audit = [*cli, "run", "--config", str(SAMPLE / "audit.toml"), "--warehouse"]
        cases = {
            "sample_audit_retrain": ([*audit, str(warehouse), "--retrain"], env),
            "sample_audit_cached_models": ([*audit, str(warehouse)], env),
        }
        for case, (command, case_env) in cases.items():
            results[case] = audit_case(command, case_env, repeat)
            print(f"{case}: {json.dumps(results[case])} (target <= 25 s)")
        with prefect_server(folder / "server-home") as api:
            served_env = {**env, "PREFECT_API_URL": api}
            command = [*audit, str(warehouse)]
            results["sample_audit_cached_models_running_server"] = audit_case(
                command, served_env, repeat
            )
            print(f"with a running server: {results['sample_audit_cached_models_running_server']}")
    start, end = size["load_average_1_5_15_min"], [round(x, 2) for x in os.getloadavg()]
    results["load_average_at_end"] = end
    print(f"load average at start {start}, at end {end} (2 cores: above ~0.5 it was busy)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
