"""A memory-limited cgroup (v1 or v2) for one test, and the command prefix that starts a child
inside it (needs root and a memory controller, as in CI; the test is skipped elsewhere)."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def memory_cgroup(limit_mib: int) -> Iterator[Path]:
    """A cgroup capped at ``limit_mib`` MiB; yields its folder and removes it afterwards."""
    limit = str(limit_mib * 2**20)
    name = f"welfare-audit-test-{os.getpid()}-{limit_mib}"
    candidates = [
        (Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"),  # v1
        (Path("/sys/fs/cgroup"), "memory.max"),  # v2
    ]
    for root, limit_file in candidates:
        if not (root / limit_file).exists() and not (root / "cgroup.controllers").exists():
            continue
        folder = root / name
        try:
            folder.mkdir()
            (folder / limit_file).write_text(limit)
        except OSError:
            if folder.exists():
                folder.rmdir()
            continue
        try:
            yield folder
        finally:
            remove_cgroup(folder)
        return
    pytest.skip("cannot create a memory-limited cgroup here (needs root and a memory controller)")


def remove_cgroup(folder: Path, *, seconds: float = 10.0) -> None:
    """Remove an empty cgroup, waiting a little while its last process is still being reaped."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            folder.rmdir()
            return
        except OSError:  # EBUSY: a process of the cgroup has not exited yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def in_cgroup(cgroup: Path) -> list[str]:
    """A command prefix that moves the child into ``cgroup``, then runs the rest of the line."""
    procs = shlex.quote(str(cgroup / "cgroup.procs"))
    return ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh"]
