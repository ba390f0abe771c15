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
