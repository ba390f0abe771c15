"""How much memory this process may use: the machine's RAM or its container's limit, if lower."""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_LIMIT_FILES = (
    Path("/sys/fs/cgroup/memory.max"),  # cgroup v2
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),  # cgroup v1
)
UNLIMITED = 2**60  # cgroup v1 reports "no limit" as a number near 2**63


def physical_memory() -> int:
    """Bytes of RAM in the machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def cgroup_path(controller_line: str) -> str | None:
    """The cgroup path of the memory controller in one line of /proc/self/cgroup, if it is one."""
    parts = controller_line.strip().split(":", 2)
    if len(parts) != 3:
        return None
    hierarchy, controllers, path = parts
    if hierarchy == "0" and controllers == "":
        return path  # cgroup v2: one unified hierarchy
    return path if "memory" in controllers.split(",") else None


def cgroup_memory_limit(proc_cgroup: Path = Path("/proc/self/cgroup")) -> int | None:
    """The memory limit of the process's cgroup (v1 or v2) in bytes, or None when unlimited."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits: list[int | None] = []
    for line in lines:
        path = cgroup_path(line)
        if path is None:
            continue
        for base in CGROUP_LIMIT_FILES:
            limit_file = base.parent / path.lstrip("/") / base.name
            limits.extend(read_limit(candidate) for candidate in (limit_file, base))
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def read_limit(path: Path) -> int | None:
    """A cgroup limit file's value in bytes; None for 'max', absent files or no limit."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    value = int(text)
    return value if value < UNLIMITED else None


def usable_memory() -> int:
    """Bytes this process may use: the RAM, or the cgroup's limit when it is lower."""
    limit = cgroup_memory_limit()
    return min(physical_memory(), limit) if limit else physical_memory()


ANALYSIS_PEAK_FACTOR = 3.5
"""Peak bytes of the stages after ingest per byte of staged household rows, above
:data:`FIXED_NEED`. Measured 2026-12-08 on the generated surveys (4 programmes × 2 lines,
4 models trained): 1M households (185 MiB staged) peaked at 2.07 GiB, 10M (about 1.85 GiB
staged) at 7.49 GiB, a line of 1.48 GiB + 3.25× the staged bytes; 3.5× estimates 2.13 and
7.98 GiB. It was 6× (11.01 GiB at 10M) before the build stopped copying the households'
columns, the estimator worked a block of PSUs at a time on integer design codes and the
models trained side by side shared one frame; 9× (16.31 GiB) before the analysis frame
stopped being copied by the member join and by columns in unequal memory chunks, 20× while
the estimator's calls left their working data in reference cycles (the 10M run killed by
the kernel at 23 GiB), and 10× before every table was made per programme × line
(benchmarks/README.md)."""
FIXED_NEED = 3 * 2**29
"""Python, polars, DuckDB, scikit-learn and Great Expectations before any data (about 1 GiB),
and the models' training on their capped sample (1.5 GiB in all)."""


class MemoryLimitError(Exception):
    """The audit would need more memory than the machine or container allows."""


def analysis_memory_need(household_bytes: int) -> int:
    """Estimated peak bytes of the analysis stages for staged household rows of this size."""
    return FIXED_NEED + int(ANALYSIS_PEAK_FACTOR * household_bytes)


def check_analysis_fits(*, households: int, household_bytes: int, usable: int) -> int:
    """The estimated need; a MemoryLimitError when it is above what this process may use."""
    need = analysis_memory_need(household_bytes)
    if need > usable:
        raise MemoryLimitError(
            f"the analysis holds every household in memory: {households:,} households "
            f"({household_bytes / 2**30:.1f} GiB as staged) need about {need / 2**30:.1f} GiB "
            f"at peak, and this machine or container allows {usable / 2**30:.1f} GiB. The input "
            "files were read; nothing was published. Run on a machine with more memory, or "
            "audit a subset of households (e.g. some regions) per run."
        )
    return need
