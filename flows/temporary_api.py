"""Prefect's temporary local API, started by the audit itself so its cost overlaps the imports.

Without ``PREFECT_API_URL`` Prefect starts a temporary API server (uvicorn running
``prefect.server.api.server:create_app``) the first time a flow needs it. Prefect's own
starter imports the whole server application (FastAPI, SQLAlchemy models) into the audit's
process first: seconds of work that hold the interpreter lock while the pipeline imports its
own modules. Here the same command is started as a child process straight away, without
importing the server into this process; the flow then runs against it through
``PREFECT_API_URL`` and the child is stopped when the command ends. The child carries the
audit's watchdog mark (flows/watchdog.py), so a killed audit does not leave it behind.

Should the early start fail, nothing is set and Prefect starts its own server as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
PORT_TAKEN = 3
"""uvicorn's exit status when it cannot bind its port (another process took it meanwhile)."""
STOP_SECONDS = 5.0
SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "0",  # as Prefect's temporary server: API only
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
    # no block types registered at start: the audit uses no blocks, and finding them imported
    # every Prefect collection installed (prefect-dask, hence Dask: ~0.5-0.9 s of the start)
    "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
    "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}


@dataclass
class TemporaryApi:
    """A temporary Prefect API in a child process, and where it answers."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        """The API's address as PREFECT_API_URL wants it."""
        return f"http://{HOST}:{self.port}/api"


def free_port() -> int:
    """A local port nobody listens on now (the operating system's choice)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_command(port: int) -> list[str]:
    """The command Prefect itself runs for its temporary server."""
    import prefect

    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(Path(prefect.__file__).parent.parent),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


def server_environment() -> dict[str, str]:
    """This process's environment with Prefect's settings and the temporary-server switches."""
    from prefect.settings import get_current_settings

    settings = get_current_settings().to_environment_variables(exclude_unset=True)
    return {**os.environ, **SERVER_ENVIRONMENT, **settings}


def needs_temporary_api() -> bool:
    """Whether a flow here would start Prefect's temporary server (no server configured)."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    return not settings.api.url and settings.server.ephemeral.enabled


def launch(port: int) -> TemporaryApi:
    """Start the server process on ``port`` (it answers some seconds later)."""
    process = subprocess.Popen(server_command(port), env=server_environment())
    return TemporaryApi(process, port)


def start_temporary_api() -> TemporaryApi | None:
    """Start the temporary API now when no server is configured; None when one is, or when
    it cannot be started (Prefect then starts its own)."""
    if not needs_temporary_api():
        return None
    try:
        return launch(free_port())
    except OSError as error:
        log.info("The temporary Prefect API did not start early: %s", error)
        return None


def answers(api: TemporaryApi) -> bool:
    """Whether the API answers its health check now."""
    import httpx

    try:
        return httpx.get(f"{api.url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_ready(
    api: TemporaryApi, timeout: float, meanwhile: Callable[[], None] | None = None
) -> TemporaryApi | None:
    """Wait for the API to answer (restarting on another port if its port was taken); the
    answering API, or None (stopped) when it did not answer in time. ``meanwhile`` is called
    once first, unless the API already answers: work the run needs later, done while the
    server starts on the other core instead of after it."""
    deadline = time.monotonic() + timeout
    if meanwhile is not None and not answers(api):
        meanwhile()
    while time.monotonic() < deadline:
        if api.process.poll() == PORT_TAKEN:
            api = launch(free_port())
        elif api.process.poll() is not None:
            break
        elif answers(api):
            return api
        time.sleep(0.1)
    log.info("The temporary Prefect API did not answer; Prefect starts its own")
    stop(api)
    return None


def stop(api: TemporaryApi) -> None:
    """Stop the server process (SIGTERM, then SIGKILL after a grace period)."""
    if api.process.poll() is not None:
        return
    api.process.terminate()
    try:
        api.process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        api.process.kill()
        api.process.wait()


@contextlib.contextmanager
def using(
    api: TemporaryApi | None, timeout: float = 90, meanwhile: Callable[[], None] | None = None
) -> Iterator[None]:
    """Run the enclosed flows against ``api`` (once it answers) and stop it afterwards;
    with None, or when it never answers, leave Prefect to its defaults. ``meanwhile``: see
    :func:`wait_until_ready`."""
    if api is None:
        yield
        return
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )

    ready = wait_until_ready(api, timeout, meanwhile)
    if ready is None:
        yield
        return
    # No flow heartbeats: they let a lasting server mark a crashed run, but this API ends with
    # the command; and each flow's heartbeat thread sleeps in 1 s steps that its end waits out
    # (0.5 s on average, for the audit and each subflow).
    settings = {PREFECT_API_URL: ready.url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    try:
        with temporary_settings(updates=settings):
            try:
                yield
            finally:
                deliver_pending()  # the run's last logs and events, while the API answers
    finally:
        stop(ready)


DRAIN_PROGRESS_LOGGERS = ("APILogWorker", "EventsWorker")
"""Prefect's background workers log a WARNING ("Still processing items: 1 items
remaining...") whenever they are drained with anything still queued: at every run's end
here, a normal event that must not read as a warning."""
DRAIN_PROGRESS = "Still processing items"


def deliver_pending(timeout: float = STOP_SECONDS) -> None:
    """Send the logs and events Prefect still holds in its background workers (it would send
    them at exit, when this API is already gone), without their drain progress message."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    with without_messages(DRAIN_PROGRESS_LOGGERS, DRAIN_PROGRESS):
        for worker in (APILogWorker, EventsWorker):
            worker.drain_all(timeout=timeout)


class _DropStartingWith(logging.Filter):
    """Drops the records whose message starts with ``prefix``; passes every other."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record to drop."""
        return not record.getMessage().startswith(self.prefix)


@contextlib.contextmanager
def without_messages(names: Iterable[str], prefix: str) -> Iterator[None]:
    """Within the block, the named loggers drop records whose message starts with ``prefix``
    (every other record passes; blocks that overlap, in threads, each add and remove their
    own filter)."""
    loggers = [logging.getLogger(name) for name in names]
    dropping = _DropStartingWith(prefix)
    for logger in loggers:
        logger.addFilter(dropping)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(dropping)
