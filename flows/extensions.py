"""Extra stages named in the config ([extensions] stages), run as Prefect tasks of the audit."""

from __future__ import annotations

from typing import Any

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.run import RunContext
from transforms.config import AuditConfig
from transforms.hooks import load_hook


def as_task(stage: Any, reference: str) -> Task[..., Any]:
    """The stage itself when it is a Prefect task, else the function wrapped as one."""
    if isinstance(stage, Task):
        return stage
    name = f"stage-{getattr(stage, '__name__', reference.rsplit(':', 1)[-1])}"
    wrapped: Task[..., Any] = task(name=name, cache_policy=NO_CACHE)(stage)
    return wrapped


def run_extension_stages(config: AuditConfig, run: RunContext, data_path: str) -> list[Any]:
    """Call each configured stage as stage(config, run, data_path), in order."""
    results = []
    for reference in config.extensions.stages:
        get_run_logger().info("Extension stage %s", reference)
        results.append(as_task(load_hook(reference), reference)(config, run, data_path))
    return results
