"""Publication time against history (issue #19): does publishing run 30 cost more than run 1?

Usage (from the repository root):
    .venv/bin/python -m benchmarks.publication [--runs 30] [--households 1000000]

What it measures: the flow's own publication path, run after run into one warehouse — the
working copy's preparation (``start_run``: sweep, prepare the copy, create the schema, record
the run), writing the run's tables (``write_tables``) and publishing (``finish_run``: record
the end, checkpoint, fsync, atomic replace) — called through the same functions the audit
flow calls, under the same locks.

How it stays faithful without 30 full audits: one real audit of the cached generated survey
(``benchmarks/cache/survey-<n>``, 4 models, ``disclosure.publish_household_scores = true``)
is run once and every table it published is kept as Parquet
(``benchmarks/cache/publication-<n>/tables``); each simulated run then publishes exactly those
rows under its own run id. The warehouse grows as 30 scheduled audits would grow it.

Each run is compared with a first run into an empty warehouse published just before it
(its ``first_run_alongside_seconds``): on a shared machine the load drifts over the minutes
between run 1 and run 30, and a pair measured together cancels that drift. The plain sequence
(run 30 over run 1, and the medians of the first and last five runs) is reported too.

Writes benchmarks/results/publication.json (``--out``): every run's seconds by part and the
warehouse's size, the machine, and whether it was busy: the load average, and the CPU other
processes used during the measurement (from /proc/stat), in cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import polars as pl

from benchmarks.run import CACHE, RESULTS, ROOT, SCALES, generate_case, machine

TARGET_RATIO = 1.5
"""Issue #19: publication after 30 runs at most 1.5 times the first run's."""
BUSY_CORES = 0.25
"""Other processes using more than this many cores on average make the machine 'busy'."""
PSEUDONYM_KEY = "benchmark-publication-key-not-a-secret"
SPAN = 5
"""Runs whose median is reported at each end too: one run's seconds swing on a busy machine."""


@dataclass(frozen=True)
class Publication:
    """One simulated run's publication, in seconds by part, and the warehouse after it."""

    run: int
    prepare_seconds: float
    write_seconds: float
    publish_seconds: float
    total_seconds: float
    warehouse_mib: float
    disk_mib: float
    reader_seconds: float
    """An analyst's query of the latest run's household scores right after, for the record:
    not part of publication."""


def scores_config(survey: Path) -> Path:
    """The survey's audit.toml with household scores published, its outputs apart."""
    text = (survey / "audit.toml").read_text()
    text, found = re.subn(
        r"^\[disclosure\]$", "[disclosure]\npublish_household_scores = true", text, flags=re.M
    )
    if not found:
        text += "\n[disclosure]\npublish_household_scores = true\n"
    text = re.sub(r'^directory = "output"$', 'directory = "output-publication"', text, flags=re.M)
    config = survey / "audit-scores.toml"
    config.write_text(text)
    return config


def scale_name(households: int) -> str:
    """The cache's name for a survey size: 1m, 10m, or the number itself."""
    return next((name for name, size in SCALES.items() if size == households), str(households))


def source_tables(households: int) -> tuple[Path, Path]:
    """The tables of one real audit run with household scores, as Parquet (made once and
    cached), and the config that produced them."""
    survey = CACHE / f"survey-{scale_name(households)}"
    folder = CACHE / f"publication-{scale_name(households)}"
    tables = folder / "tables"
    if not (survey / "audit.toml").is_file():
        subprocess.run(generate_case(households, out=survey), cwd=ROOT, check=True)
    config = scores_config(survey)
    if (tables / "household_scores.parquet").is_file():
        return tables, config
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "source.duckdb"
    if not source.is_file():  # the real audit, once (about 8 min at 1M on 2 busy cores)
        command = [sys.executable, "-m", "flows.cli", "run", "--config", str(config)]
        env = {**os.environ, "WELFARE_AUDIT_PSEUDONYM_KEY": PSEUDONYM_KEY}
        subprocess.run([*command, "--warehouse", str(source)], cwd=ROOT, env=env, check=True)
    dump_run(source, tables)
    return tables, config


def dump_run(warehouse: Path, out: Path) -> None:
    """Every audit table's rows of the warehouse's last successful run, one Parquet each
    (audit.runs is left out: each simulated run records its own)."""
    from transforms.contract import TABLES

    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (run_id,) = con.sql(
            "SELECT run_id FROM audit.runs WHERE status = 'succeeded' "
            "ORDER BY finished_at DESC LIMIT 1"
        ).fetchall()[0]
        for spec in TABLES:
            if spec.name == "runs":
                continue
            rows = con.sql(f"SELECT * FROM audit.{spec.name} WHERE run_id = ?", params=[run_id])
            rows.pl().write_parquet(out / f"{spec.name}.parquet")


def load_tables(folder: Path) -> dict[str, pl.DataFrame]:
    """The cached tables of the source run that hold rows."""
    frames = {path.stem: pl.read_parquet(path) for path in sorted(folder.glob("*.parquet"))}
    return {name: frame for name, frame in frames.items() if frame.height}


def mib(path: Path) -> float:
    """A file's size in MiB (0 when absent)."""
    return round(path.stat().st_size / 2**20, 1) if path.exists() else 0.0


def disk_used(folder: Path) -> float:
    """MiB held by every file in a folder (the warehouse, its spare generation, scratch)."""
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20, 1)


def publish_once(
    config_path: Path, published: Path, frames: dict[str, pl.DataFrame], number: int
) -> Publication:
    """One run's publication through the flow's own tasks: prepare, write, publish."""
    from prefect.logging import disable_run_logger

    from flows.lifecycle import finish_run, start_run, write_tables
    from transforms import tables
    from transforms.config import load_config
    from transforms.io.warehouse import exclusive_lock, output_lock

    config = load_config(config_path)
    with (
        exclusive_lock(published),
        output_lock(config.output.directory),
        disable_run_logger(),
    ):
        started = time.perf_counter()
        run = start_run.fn(config, config_path, published)
        prepared = time.perf_counter()
        rows = {
            name: frame.with_columns(pl.lit(run.run_id).alias("run_id"))
            for name, frame in frames.items()
        }
        write_tables(run, tables.Published(rows), stage="benchmark")
        written = time.perf_counter()
        finish_run.fn(run, status="succeeded")
        done = time.perf_counter()
    return Publication(
        reader_seconds=read_latest_scores(published),
        run=number,
        prepare_seconds=round(prepared - started, 2),
        write_seconds=round(written - prepared, 2),
        publish_seconds=round(done - written, 2),
        total_seconds=round(done - started, 2),
        warehouse_mib=mib(published),
        disk_mib=disk_used(published.parent),
    )


def median_total(runs: list[Publication]) -> float:
    """The median of the runs' total seconds."""
    return round(statistics.median(r.total_seconds for r in runs), 2)


def read_latest_scores(published: Path) -> float:
    """Seconds an analyst's plain connection takes to summarise the latest run's scores."""
    started = time.perf_counter()
    with duckdb.connect(str(published), read_only=True) as con:
        con.sql(
            "SELECT model, count(*), avg(p_poor) FROM audit.latest_household_scores GROUP BY 1"
        ).fetchall()
    return round(time.perf_counter() - started, 2)


def cpu_ticks() -> tuple[int, int]:
    """The machine's busy and total CPU ticks so far (/proc/stat; zeros elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def others_cores(before: tuple[int, int], after: tuple[int, int], own_cpu: float) -> float:
    """Cores other processes kept busy on average between two /proc/stat readings."""
    busy, total = after[0] - before[0], after[1] - before[1]
    if not total:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    cores = os.cpu_count() or 1
    wall = total / ticks / cores
    return round(max(0.0, busy / ticks - own_cpu) / wall, 2) if wall else 0.0


def own_cpu() -> float:
    """CPU seconds of this process and its reaped children."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def first_run_alongside(config: Path, folder: Path, frames: dict[str, pl.DataFrame]) -> float:
    """A first run's publication into an empty warehouse, timed now: the baseline each run is
    compared with, measured beside it because the load of a shared machine drifts."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    seconds = publish_once(config, folder / "welfare_audit.duckdb", frames, 1).total_seconds
    shutil.rmtree(folder, ignore_errors=True)
    return seconds


def measure(config: Path, folder: Path, frames: dict[str, pl.DataFrame], runs: int) -> list[Run]:
    """Publish ``runs`` runs into one warehouse, each beside a first run into an empty one."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "history").mkdir(parents=True)
    published = folder / "history" / "welfare_audit.duckdb"
    measured: list[Run] = []
    for number in range(1, runs + 1):
        baseline = first_run_alongside(config, folder / "first", frames)
        measured.append(Run(publish_once(config, published, frames, number), baseline))
        print(json.dumps(asdict(measured[-1])), flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return measured


@dataclass(frozen=True)
class Run:
    """One run into the growing warehouse and the first run published just before it."""

    publication: Publication
    first_run_alongside_seconds: float

    @property
    def paired_ratio(self) -> float:
        """This run's publication time over the first run's beside it."""
        return round(self.publication.total_seconds / self.first_run_alongside_seconds, 2)


def summary(runs: list[Run]) -> dict[str, object]:
    """The figures: the sequence (run N over run 1, medians of the ends) and the pairs."""
    totals = [r.publication for r in runs]
    shown = sorted({1, min(10, len(runs)), len(runs)})
    return {
        "seconds_at": {n: runs[n - 1].publication.total_seconds for n in shown},
        "first_run_alongside_at": {n: runs[n - 1].first_run_alongside_seconds for n in shown},
        "paired_ratio_at": {n: runs[n - 1].paired_ratio for n in shown},
        f"median_paired_ratio_last_{SPAN}": statistics.median(r.paired_ratio for r in runs[-SPAN:]),
        "ratio_last_to_first": round(totals[-1].total_seconds / totals[0].total_seconds, 2),
        f"median_first_{SPAN}_seconds": median_total(totals[:SPAN]),
        f"median_last_{SPAN}_seconds": median_total(totals[-SPAN:]),
        "ratio_of_medians": round(median_total(totals[-SPAN:]) / median_total(totals[:SPAN]), 2),
    }


def main() -> None:
    """Publish ``--runs`` runs into a fresh warehouse, print and write the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--households", type=int, default=SCALES["1m"])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=RESULTS / "publication.json")
    parser.add_argument("--label", default="", help="what was measured, e.g. a commit")
    args = parser.parse_args()
    folder, config = source_tables(args.households)
    frames = load_tables(folder)
    os.environ.setdefault("WELFARE_AUDIT_PSEUDONYM_KEY", PSEUDONYM_KEY)
    load_start, ticks_start, cpu_start = os.getloadavg(), cpu_ticks(), own_cpu()
    scratch = CACHE / f"publication-{scale_name(args.households)}" / "measured"
    runs = measure(config, scratch, frames, args.runs)
    others = others_cores(ticks_start, cpu_ticks(), own_cpu() - cpu_start)
    figures = summary(runs)
    paired = float(statistics.median(r.paired_ratio for r in runs[-SPAN:]))
    payload = {
        "label": args.label,
        "machine": machine(),
        "households": args.households,
        "rows_per_run": {name: frame.height for name, frame in frames.items()},
        "target": f"publication after {args.runs} runs <= {TARGET_RATIO}x the first run's",
        "met": paired <= TARGET_RATIO,
        "met_by": (
            f"the median, over runs {args.runs - SPAN + 1}-{args.runs}, of each run's time over "
            "a first run's published just before it (one pair alone swings by 2x here)"
        ),
        **figures,
        "load_average_start": [round(v, 2) for v in load_start],
        "load_average_end": [round(v, 2) for v in os.getloadavg()],
        "other_processes_cores": others,
        "busy": others > BUSY_CORES,
        "runs": [asdict(r) for r in runs],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(table(runs, args.runs))
    state = "busy" if payload["busy"] else "idle"
    print(
        f"runs {args.runs - SPAN + 1}-{args.runs}: median {paired}x a first run published beside "
        f"each (target <= {TARGET_RATIO}x; run {args.runs} alone {runs[-1].paired_ratio}x); run "
        f"{args.runs} / run 1: {figures['ratio_last_to_first']}x; machine {state}: other "
        f"processes used {others} cores, load {payload['load_average_start']} -> "
        f"{payload['load_average_end']}"
    )


def table(runs: list[Run], last: int) -> str:
    """Runs 1, 10 and the last as a Markdown table."""
    lines = [
        "| run | prepare s | write s | publish s | total s | first run beside it s | ratio | "
        "warehouse MiB | disk MiB | reader s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        p = r.publication
        if p.run in (1, 10, last):
            lines.append(
                f"| {p.run} | {p.prepare_seconds} | {p.write_seconds} | {p.publish_seconds} | "
                f"{p.total_seconds} | {r.first_run_alongside_seconds} | {r.paired_ratio} | "
                f"{p.warehouse_mib} | {p.disk_mib} | {p.reader_seconds} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
