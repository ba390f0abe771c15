"""Stage-by-stage progress of a run, as records on the ``welfare_audit.progress`` logger.

The flow reports; whoever runs it decides how to show it: the CLI draws a live display on a
terminal, one plain line per stage in a log file, nothing with ``--quiet``. Under Prefect
alone (a deployment), the records go wherever Python logging sends them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

PROGRESS_LOGGER = "welfare_audit.progress"


@dataclass(frozen=True)
class StageEvent:
    """One progress report: a stage started, advanced or finished."""

    stage: str
    kind: str  # "start", "advance" or "finish"
    done: int | None = None
    total: int | None = None
    unit: str = ""
    detail: str = ""
    seconds: float | None = None


def report(event: StageEvent) -> None:
    """Log one progress event (the event rides on the record as ``stage_event``)."""
    logging.getLogger(PROGRESS_LOGGER).info(
        "%s: %s", event.stage, event.kind, extra={"stage_event": event}
    )


def advance(stage: str, done: int, total: int | None, unit: str = "", detail: str = "") -> None:
    """Report that ``done`` of ``total`` units of a stage are finished."""
    report(StageEvent(stage, "advance", done=done, total=total, unit=unit, detail=detail))


@contextmanager
def stage(name: str, total: int | None = None, unit: str = "") -> Iterator[list[str]]:
    """Report a stage's start and finish (with its elapsed time); append to the yielded list
    a short detail for the finish line, e.g. "20,000 households"."""
    report(StageEvent(name, "start", done=0 if total else None, total=total, unit=unit))
    started = time.monotonic()
    details: list[str] = []
    yield details
    report(
        StageEvent(name, "finish", detail="; ".join(details), seconds=time.monotonic() - started)
    )
