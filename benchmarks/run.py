"""Benchmarks: each case runs in its own process; wall, CPU and peak RSS go to JSON and Markdown.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.run                 # the 1M-household cases
    .venv/bin/python -m benchmarks.run --scale 10m     # the 10M-household cases
    .venv/bin/python -m benchmarks.run --case generate # one case
Results: benchmarks/results/<date>-<scale>.json and .md (machine size included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache"
RESULTS = ROOT / "benchmarks" / "results"
SCALES = {"1m": 1_000_000, "10m": 10_000_000}
LIBRARIES = ("polars", "duckdb", "scikit-learn", "prefect", "great-expectations", "numpy")


@dataclass(frozen=True)
class Measurement:
    """One benchmark case as measured."""

    case: str
    households: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    rows_per_second: float
    exit_code: int
    target: str


def machine() -> dict[str, object]:
    """Machine size and library versions, recorded with every result."""
    pages = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": {name: metadata.version(name) for name in LIBRARIES},
    }


def run_case(case: str, command: list[str], *, households: int, target: str) -> Measurement:
    """Run one command as a child process and measure it."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(child.pid, 0)  # this child's own usage (and its reaped children)
    wall = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(
        case=case,
        households=households,
        wall_seconds=round(wall, 2),
        cpu_seconds=round(cpu, 2),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),
        rows_per_second=round(households / wall) if wall else 0.0,
        exit_code=os.waitstatus_to_exitcode(status),
        target=target,
    )


def generate_case(households: int, *, out: Path) -> list[str]:
    """The generator writing parquet at the given size."""
    return [
        sys.executable, "-m", "flows.cli", "generate", "--households", str(households),
        "--seed", "7", "--format", "parquet", "--out", str(out),
    ]  # fmt: skip


def cli_case(command: str, survey: Path) -> list[str]:
    """A welfare-audit command on the cached survey (its warehouse inside the cache)."""
    config = str(survey / "audit.toml")
    extra = ["--warehouse", str(survey / "bench.duckdb")] if command == "run" else []
    return [sys.executable, "-m", "flows.cli", command, "--config", config, *extra]


def cases(scale: str) -> dict[str, tuple[list[str], str]]:
    """Benchmark cases for a scale: name -> (command, target). Later cases reuse the survey."""
    households = SCALES[scale]
    survey = CACHE / f"survey-{scale}"
    large = scale == "10m"
    return {
        "generate": (
            generate_case(households, out=survey),
            "<= 10 min, memory bounded by a chunk" if large else "<= 60 s",
        ),
        "ingest_validate": (cli_case("validate", survey), "ingest + GX validation, no target yet"),
        "audit": (
            cli_case("run", survey),
            "<= 20 min, peak RSS <= 16 GiB" if large else "<= 180 s, peak RSS <= 6 GiB",
        ),
    }


def markdown(results: list[Measurement], info: dict[str, object]) -> str:
    """A Markdown table of the results with the machine they ran on."""
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['cpus']} cores, "
        f"{info['memory_gib']} GiB, Python {info['python']}.",
        "",
        "| case | households | wall s | CPU s | peak RSS MiB | rows/s | target | exit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.case} | {r.households:,} | {r.wall_seconds} | {r.cpu_seconds} | "
            f"{r.peak_rss_mib} | {r.rows_per_second:,.0f} | {r.target} | {r.exit_code} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the selected cases and write JSON and Markdown results."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", choices=sorted(SCALES), default="1m")
    parser.add_argument("--case", action="append", help="run only these cases")
    args = parser.parse_args()
    selected = cases(args.scale)
    names = args.case or list(selected)
    results = []
    for name in names:
        command, target = selected[name]
        print(f"running {name}: {' '.join(command)}", flush=True)
        results.append(run_case(name, command, households=SCALES[args.scale], target=target))
        print(json.dumps(asdict(results[-1])), flush=True)
    info = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{datetime.now(UTC):%Y%m%d}-{args.scale}"
    payload = {"machine": info, "results": [asdict(r) for r in results]}
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    table = markdown(results, info)
    stem.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
