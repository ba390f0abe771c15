"""The same audit on threads and on a local two-worker Dask cluster: same published tables?

Usage (from the repository root; the survey comes from ``benchmarks.run --case generate``):
    .venv/bin/python -m benchmarks.dask_parity [--scale 1m] [--workers 2]
Runs ``welfare-audit run --retrain`` twice on the cached survey, each in its own process: with
the thread runner, then with ``--task-runner dask --dask-workers N`` (a LocalCluster of N
single-threaded worker processes). Measures each run's wall time and the peak of the summed
RSS of its process tree (the audit and, on Dask, its workers; Prefect's temporary API server
left out), sampled every 0.2 s. Then dumps both runs' published tables with
``tests.published_snapshot`` and compares them row for row, and counts the log lines in which
the Dask run's tasks name the worker that trained and scored each model and computed each
indicator table, and keeps every output line that mentions a warning. Writes
benchmarks/results/dask_parity-<scale>.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from benchmarks.analysis import CACHE, ROOT, load_average, write_result
from benchmarks.run import machine

ON_WORKERS = (  # what a task logs when it ran on a Dask worker
    "every household scored, in Dask worker",
    "model targeting computed in Dask worker",
    "Programme targeting computed in Dask worker",
    "Resource matching computed in Dask worker",
    "Fiscal feedback computed in Dask worker",
)
SAMPLE_SECONDS = 0.2


def tree_rss(process: psutil.Process) -> int:
    """Summed RSS of a process and its descendants, Prefect's API server left out."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            if "prefect" in member.cmdline() and "server" in member.cmdline():
                continue
            total += member.memory_info().rss
        except psutil.Error:  # ended between listing and reading
            continue
    return total


def timed_run(command: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run a command; its wall time, peak summed tree RSS, exit code and output."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = [0]

    def sample() -> None:
        process = psutil.Process(child.pid)
        while child.poll() is None:
            try:
                peak[0] = max(peak[0], tree_rss(process))
            except psutil.Error:
                return
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = child.communicate()
    sampler.join()
    return {
        "wall_seconds": round(time.perf_counter() - started, 1),
        "peak_tree_rss_gib": round(peak[0] / 2**30, 2),
        "exit": child.returncode,
        "output": output,
    }


def audit(survey: Path, warehouse: Path, *options: str) -> list[str]:
    """The audit command on the cached survey, models trained anew."""
    config = str(survey / "audit.toml")
    return [
        sys.executable, "-m", "flows.cli", "run", "--config", config,
        "--warehouse", str(warehouse), "--retrain", *options,
    ]  # fmt: skip


def snapshot(warehouse: Path, out: Path) -> None:
    """Dump a warehouse's latest run with tests.published_snapshot."""
    command = [sys.executable, "-m", "tests.published_snapshot", "dump"]
    subprocess.run([*command, "--warehouse", str(warehouse), "--out", str(out)], check=True)


def main() -> None:
    """Run both audits, compare their tables, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="1m")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    survey = CACHE / f"survey-{args.scale}"
    work = CACHE / f"dask-parity-{args.scale}"
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PREFECT_LOGGING_LEVEL": "INFO",
        "WELFARE_AUDIT_PSEUDONYM_KEY": os.environ.get(
            "WELFARE_AUDIT_PSEUDONYM_KEY", "benchmark-key-0123456789abcdef"
        ),
    }
    dask = ("--task-runner", "dask", "--dask-workers", str(args.workers))
    runs: dict[str, dict[str, object]] = {}
    load_start = load_average()
    for name, options in (("threads", ()), (f"dask-{args.workers}-workers", dask)):
        warehouse = work / f"{name}.duckdb"
        warehouse.unlink(missing_ok=True)
        print(f"running {name} ...", flush=True)
        runs[name] = timed_run(audit(survey, warehouse, *options), env)
        output = str(runs[name].pop("output"))
        runs[name]["on_workers"] = {line: output.count(line) for line in ON_WORKERS}
        runs[name]["warnings"] = [line for line in output.splitlines() if "warning" in line.lower()]
        if runs[name]["exit"] != 0:
            raise SystemExit(f"{name} run failed:\n{output[-3000:]}")
        snapshot(warehouse, work / f"{name}-tables")
    compared = subprocess.run(
        [sys.executable, "-m", "tests.published_snapshot", "compare"]
        + [str(work / f"{name}-tables") for name in runs]
        + ["--allow", "validation_results"],  # its drift checks read each warehouse's history
        capture_output=True,
        text=True,
        check=False,
    )
    write_result(
        "dask_parity",
        args.scale,
        {
            "machine": machine(),
            "load_average_start": load_start,
            "runs": runs,
            "tables_identical": compared.returncode == 0,
            "comparison": compared.stdout[-4000:],
        },
    )


if __name__ == "__main__":
    main()
