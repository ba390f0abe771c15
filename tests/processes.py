"""Run `welfare-audit` in a child process that reports to the test session's Prefect API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


@dataclass(frozen=True)
class Outcome:
    """What a child process of the CLI returned and printed."""

    code: int
    output: str
    """stdout and stderr together, as a terminal shows them."""

    @property
    def text(self) -> str:
        """The output with every run of whitespace as one space (messages may wrap)."""
        return " ".join(self.output.split())


def run_cli(command: Sequence[str], *, unset: Sequence[str] = ()) -> Outcome:
    """Run a command line of the CLI in a child process, as a user would, and collect it."""
    env = harness_env()
    for name in unset:
        env.pop(name, None)
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    return Outcome(done.returncode, done.stdout + done.stderr)
