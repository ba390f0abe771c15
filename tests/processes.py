"""Run `welfare-audit` in a child process that reports to the test session's Prefect API."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def harness_env(**extra: str) -> dict[str, str]:
    """This process's environment pointed at the session's Prefect test API (plus extras)."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), **extra}


def cli_command(*arguments: str) -> list[str]:
    """The command line of `welfare-audit` (its entry point, ``python -m flows.cli``)."""
    return [sys.executable, "-m", "flows.cli", *arguments]


def audit_command(config: Path, warehouse: Path, *options: str) -> list[str]:
    """The command line of a full audit run (plus extra options)."""
    return cli_command("run", "--config", str(config), "--warehouse", str(warehouse), *options)
