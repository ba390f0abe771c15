"""Extra stages named in the config ([extensions] stages), run as Prefect tasks of the audit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.lifecycle import RunContext
from transforms.config import AuditConfig


def as_task(stage: Any, reference: str) -> Task[..., Any]:
    """The stage itself when it is a Prefect task, else the function wrapped as one."""
    if isinstance(stage, Task):
        return stage
    name = f"stage-{getattr(stage, '__name__', reference.rsplit(':', 1)[-1])}"
    wrapped: Task[..., Any] = task(name=name, task_run_name=name, cache_policy=NO_CACHE)(stage)
    return wrapped


def run_extension_stages(
    config: AuditConfig,
    run: RunContext,
    data_path: str,
    stages: Sequence[tuple[str, Callable[..., Any]]],
) -> list[Any]:
    """Call each configured stage (imported at run start) as stage(config, run, data_path)."""
    results = []
    for reference, stage in stages:
        get_run_logger().info("Extension stage %s", reference)
        results.append(as_task(stage, reference)(config, run, data_path))
    return results
