"""Benchmarks: each case runs in its own process; wall, CPU and peak RSS go to JSON and Markdown.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.run                 # the 1M-household cases
    .venv/bin/python -m benchmarks.run --scale 10m     # the 10M-household cases
    .venv/bin/python -m benchmarks.run --case generate # one case
Results: benchmarks/results/<date>-<scale>.json and .md (machine size included); cases that
measure inside (R comparison, indicator stage, pandas baseline) add their own figures, read
from benchmarks/results/<case>-<scale>.json. The R comparison needs Debian's r-cran-survey
and r-cran-data.table (`apt-get install r-cran-survey r-cran-data.table`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
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
    details: str = ""


def machine() -> dict[str, object]:
    """Machine size and library versions, recorded with every result."""
    pages = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(pages / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": {name: metadata.version(name) for name in LIBRARIES},
        "load_average_1_5_15_min": [round(load, 2) for load in os.getloadavg()],
    }


def run_case(
    case: str,
    command: list[str],
    *,
    households: int,
    target: str,
    env: dict[str, str] | None = None,
) -> Measurement:
    """Run one command as a child process and measure it."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})})
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


def cli_case(command: str, survey: Path, *options: str) -> list[str]:
    """A welfare-audit command on the cached survey (its warehouse inside the cache)."""
    config = str(survey / "audit.toml")
    extra = ["--warehouse", str(survey / "bench.duckdb")] if command == "run" else []
    return [sys.executable, "-m", "flows.cli", command, "--config", config, *extra, *options]


def module_case(module: str, *arguments: str) -> list[str]:
    """A benchmark script of this folder."""
    return [sys.executable, "-m", f"benchmarks.{module}", *arguments]


@dataclass(frozen=True)
class Case:
    """A benchmark case: its command, target and environment."""

    command: list[str]
    target: str
    env: dict[str, str] | None = None


def cases(scale: str) -> dict[str, Case]:
    """Benchmark cases for a scale: name -> case. Later cases reuse the generated survey."""
    households = SCALES[scale]
    survey = CACHE / f"survey-{scale}"
    large = scale == "10m"
    config = str(survey / "audit.toml")
    selected = {
        "generate": Case(
            generate_case(households, out=survey),
            "<= 10 min, memory bounded by a chunk" if large else "<= 60 s",
        ),
        "ingest_validate": Case(cli_case("validate", survey), "ingest + GX validation (no target)"),
        "ingest_stage": Case(
            [sys.executable, "-m", "tests.bounded_ingest", config, str(CACHE / f"ingest-{scale}")],
            "row rules, staging, member aggregates: memory must not grow with the member file",
        ),
        "audit": Case(
            cli_case("run", survey, "--retrain"),  # train every model, as a first run would
            "<= 20 min, peak RSS <= 16 GiB" if large else "<= 180 s, peak RSS <= 6 GiB",
        ),
        "audit_direct": Case(
            module_case(
                "direct_audit", "--config", config, "--warehouse", str(survey / "direct.duckdb")
            ),
            "the audit without Prefect: flow overhead = audit / audit_direct - 1 <= 10 %",
        ),
        "indicator_stage": Case(
            module_case("indicator_stage", "--scale", scale),
            "targeting + matching + fiscal <= 3x one DuckDB scan",
        ),
        "pandas_baseline": Case(
            module_case("pandas_baseline", "--scale", scale),
            "analyst-style pandas: the pipeline slice >= 5x faster, 1/3 of the memory",
        ),
        "pipeline_slice": Case(
            module_case("pipeline_slice", "--scale", scale),
            "the same ingest + indicators with this project's functions",
        ),
    }
    if not large:  # R would take about 20 minutes at 10M; 30 publications of 40M scores, hours
        selected["programme_targeting"] = Case(
            module_case("programme_targeting", "--scale", scale),
            "<= 4 s and >= 20x faster than R survey, equal to 6 decimals",
        )
        selected["publication"] = Case(
            module_case("publication", "--households", str(households), "--runs", "30"),
            "publication after 30 runs (household scores published) <= 1.5x the first run's",
        )
    selected["dask_parity"] = Case(
        module_case("dask_parity", "--scale", scale),
        "a 2-worker local Dask run publishes the thread run's tables, models and tables on workers",
    )
    return selected


def details(case: str, scale: str) -> str:
    """Figures a case measured inside itself (from its own JSON), for the table."""
    if case == "publication":
        return publication_details()
    path = RESULTS / f"{case}-{scale}.json"
    if not path.is_file():
        return ""
    data = json.loads(path.read_text())
    if case == "programme_targeting":
        return (
            f"ours {data['ours_seconds']} s (full table {data['ours_full_table_seconds']} s), "
            f"R {data['r_seconds']} s, {data['speedup']}x; max diff estimate "
            f"{data['max_abs_diff_estimate']:.1e}, SE {data['max_abs_diff_se']:.1e}"
        )
    if case == "indicator_stage":
        return (
            f"stage {data['indicator_seconds']} s vs floor {data['floor_seconds']} s: "
            f"{data['ratio']}x"
        )
    if case in ("pandas_baseline", "pipeline_slice"):
        return f"in-process {data['seconds']} s, peak {data['peak_rss_mib']} MiB"
    return ""


def publication_details() -> str:
    """The publication case's figures (benchmarks/results/publication.json): runs 1, 10, last,
    and the last over a first run published beside it."""
    path = RESULTS / "publication.json"
    if not path.is_file():
        return ""
    data = json.loads(path.read_text())
    seconds, paired = data["seconds_at"], data["paired_ratio_at"]
    last = max(seconds, key=int)
    shown = ", ".join(f"run {n} {seconds[n]} s" for n in sorted(seconds, key=int))
    busy = "busy" if data["busy"] else "idle"
    median = data["median_paired_ratio_last_5"]
    return (
        f"{shown}; over a first run published beside each: run {last} {paired[last]}x, median "
        f"of the last five {median}x ({busy} machine)"
    )


def markdown(results: list[Measurement], info: dict[str, object]) -> str:
    """A Markdown table of the results with the machine they ran on."""
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['cpus']} cores, "
        f"{info['memory_gib']} GiB, Python {info['python']}.",
        "",
        "| case | households | wall s | CPU s | peak RSS MiB | rows/s | target | exit | details |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.case} | {r.households:,} | {r.wall_seconds} | {r.cpu_seconds} | "
            f"{r.peak_rss_mib} | {r.rows_per_second:,.0f} | {r.target} | {r.exit_code} | "
            f"{r.details} |"
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
        case = selected[name]
        print(f"running {name}: {' '.join(case.command)}", flush=True)
        measured = run_case(
            name, case.command, households=SCALES[args.scale], target=case.target, env=case.env
        )
        results.append(replace(measured, details=details(name, args.scale)))
        print(json.dumps(asdict(results[-1])), flush=True)
    info = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{datetime.now(UTC):%Y%m%d}-{args.scale}"
    if args.case:  # a partial run: keep the full one
        stem = stem.with_name(stem.name + "-" + "-".join(args.case))
    payload = {"machine": info, "results": [asdict(r) for r in results]}
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    table = markdown(results, info)
    stem.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
