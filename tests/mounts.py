"""A tmpfs mounted for one test: a small, full or read-only disk (needs mount rights, as
root in CI; the test is skipped where they are missing)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(mount_point: Path, size_kib: int, *, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size_kib`` at ``mount_point`` (created), read-only if asked."""
    mount_point.mkdir()
    options = f"{'ro,' if read_only else ''}size={size_kib}k"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=False)
