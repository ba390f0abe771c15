"""Run `welfare-audit run` in a child process that reports to the test session's Prefect API."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def harness_env(**extra: str) -> dict[str, str]:
    """This process's environment pointed at the session's Prefect test API (plus extras)."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), **extra}


def audit_command(config: Path, warehouse: Path, *options: str) -> list[str]:
    """The command line of a full audit run (plus extra options)."""
    return [
        sys.executable,
        "-m",
        "flows.cli",
        "run",
        "--config",
        str(config),
        "--warehouse",
        str(warehouse),
        *options,
    ]
