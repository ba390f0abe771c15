"""The CLI's view of a run's progress: a live display on a terminal, one plain line per stage
in a log file (cron, CI), nothing with --quiet."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from rich.console import Console
from rich.progress import (
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from flows.progress import PROGRESS_LOGGER, StageEvent

STAGE_LABELS = {
    "ingest": "Reading the input files",
    "validate": "Validating (row rules, Great Expectations)",
    "analysis": "Welfare, poverty lines, programme targeting",
    "models": "Training and scoring the PMT models",
    "matching": "Resource matching",
    "fiscal": "Fiscal feedback",
    "extensions": "Extension stages",
    "alerts": "Alerts against the previous run",
    "publish": "Publishing the warehouse",
    "report": "Report and standard tables",
}


def stage_label(stage: str) -> str:
    """What a stage does, in words."""
    return STAGE_LABELS.get(stage, stage)


def plain_line(event: StageEvent, now: datetime) -> str | None:
    """The log-file line for one event: a stage's finish, or an advance with a detail."""
    clock = now.strftime("%H:%M:%S")
    if event.kind == "finish":
        detail = f" ({event.detail})" if event.detail else ""
        return f"{clock} {stage_label(event.stage)}: done in {event.seconds or 0:.1f} s{detail}"
    if event.kind == "advance" and (event.detail or event.total):
        count = count_text(event.done or 0, event.total, event.unit)
        text = ", ".join(part for part in (event.detail, count) if part)
        return f"{clock}   {event.stage}: {text}"
    return None


def count_text(done: float, total: float | None, unit: str) -> str:
    """ "2 of 4 models", or nothing for a stage without a count."""
    return f"{int(done)} of {int(total)} {unit}".strip() if total else ""


class PlainProgress(logging.Handler):
    """One line per finished stage (and per file or model), for logs without a terminal."""

    def __init__(self, console: Console) -> None:
        super().__init__(level=logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        """Print the record's event as a plain line, if it makes one."""
        event = getattr(record, "stage_event", None)
        if isinstance(event, StageEvent):
            line = plain_line(event, datetime.now())
            if line:
                self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class LiveProgress(logging.Handler):
    """A live display on a terminal: each stage with its spinner, count and elapsed time."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(level=logging.INFO)
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def emit(self, record: logging.LogRecord) -> None:
        """Start, advance or finish the stage's line of the display."""
        event = getattr(record, "stage_event", None)
        if not isinstance(event, StageEvent):
            return
        if event.kind == "start":
            self.tasks[event.stage] = self.progress.add_task(
                stage_label(event.stage),
                total=event.total,
                status="",
                count=count_text(0, event.total, event.unit),
                unit=event.unit,
            )
            return
        task = self.tasks.get(event.stage)
        if task is None:
            return
        shown = self.progress.tasks[task]
        if event.kind == "advance":
            done = event.done if event.done is not None else int(shown.completed) + 1
            count = count_text(done, shown.total, shown.fields["unit"])
            self.progress.update(task, completed=done, status=event.detail, count=count)
        elif event.kind == "finish":
            self.progress.update(task, completed=shown.total or 1, total=shown.total or 1)
            self.progress.update(task, status=event.detail)
            self.progress.stop_task(task)


@contextmanager
def showing_progress(console: Console, *, quiet: bool) -> Iterator[None]:
    """Show the run's progress on ``console`` while the block runs (live on a terminal,
    plain lines otherwise, nothing when quiet)."""
    logger = logging.getLogger(PROGRESS_LOGGER)
    if quiet:
        yield
        return
    logger.setLevel(logging.INFO)
    logger.propagate = False  # progress is shown here, not as log records elsewhere
    if not console.is_terminal:
        handler: logging.Handler = PlainProgress(console)
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)
        return
    columns = (
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description}"),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[status]}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        handler = LiveProgress(progress)
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)
