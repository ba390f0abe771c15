"""Where the audit's tasks run: threads in this process (default) or an existing Dask cluster.

With ``--task-runner dask --dask-address tcp://scheduler:8786`` the heavy, independent work is
submitted to that cluster through prefect-dask's ``DaskTaskRunner``: training and scoring each
model, and computing the indicator tables (programme targeting, each model's targeting,
matching, fiscal), each task reading the run's analysis file itself. Their results (the
tables, small) come back, and everything that writes the warehouse stays in the flow's own
process, so DuckDB keeps one writer. Without an address, a ``LocalCluster`` of one
single-threaded worker process per core is started for the run and closed after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # Prefect is imported when a runner is built, not when the CLI starts
    from prefect import Task
    from prefect.task_runners import TaskRunner

R = TypeVar("R")


class RunnerKind(StrEnum):
    """Task runners the audit can use."""

    threads = "threads"
    dask = "dask"


def build_task_runner(kind: RunnerKind, address: str | None = None) -> TaskRunner[Any]:
    """The task runner for a run: a thread pool, or prefect-dask on the scheduler at address."""
    if kind == RunnerKind.threads:
        if address:
            raise ValueError("--dask-address needs --task-runner dask")
        return thread_runner()
    if not address:
        raise ValueError("--task-runner dask needs --dask-address (or use local_dask_cluster)")
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=address)


def thread_runner() -> TaskRunner[Any]:
    """Threads in this process, one per core: the models training side by side each hold
    their columns of the analysis frame, so more threads than cores buy memory, not speed."""
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=os.cpu_count() or 1)


@contextmanager
def local_dask_cluster(workers: int | None = None) -> Iterator[str]:
    """A LocalCluster of single-threaded worker processes for one run; yields its address."""
    from distributed import LocalCluster

    count = workers or os.cpu_count() or 1
    with LocalCluster(
        n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield str(cluster.scheduler_address)


def subflow_task_runner() -> TaskRunner[Any] | None:
    """A fresh copy of the running flow's task runner, for its subflows (None outside a flow)."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.task_runner is None:
        return None
    return context.task_runner.duplicate()


def runs_on_dask(runner: TaskRunner[Any] | None) -> bool:
    """Whether tasks go to a Dask cluster (each task then gets one thread of a worker)."""
    return type(runner).__name__ == "DaskTaskRunner"


def execution_place() -> str:
    """Where the calling task runs: the Dask worker's address, or 'the flow process'."""
    try:
        from distributed import get_worker

        return f"Dask worker {get_worker().address}"
    except (ImportError, ValueError):  # not inside a Dask worker
        return "the flow process"


def run_each(task: Task[..., R], calls: Sequence[tuple[Any, ...]]) -> list[R]:
    """``task`` called with each argument tuple, results in the same order: submitted together
    when the flow runs on a Dask cluster (the workers compute side by side, the results come
    back here); otherwise one after the other in this process, so that only one call's
    working memory is held at a time; outside a flow (benchmarks), its plain function."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None:
        return [task.fn(*arguments) for arguments in calls]
    if runs_on_dask(context.task_runner):
        futures = [task.submit(*arguments) for arguments in calls]
        return [future.result() for future in futures]
    return [task(*arguments) for arguments in calls]


def run_one(task: Task[..., R], *arguments: Any) -> R:
    """:func:`run_each` of a single call."""
    return run_each(task, [arguments])[0]
