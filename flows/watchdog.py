"""Stop Prefect's temporary server when the audit process dies without stopping it.

Without ``PREFECT_API_URL``, Prefect starts a temporary API server (uvicorn) as a child of
the audit process and stops it at exit. A process killed with SIGKILL (as the out-of-memory
killer does) never reaches exit, and the server ran on indefinitely. ``welfare-audit run``
and ``validate`` mark their environment with their pid (``WELFARE_AUDIT_SERVER_OWNER``,
inherited by the server) and start this watchdog beside themselves: once the audit process
is gone, the watchdog stops every Prefect server that carries its mark (SIGTERM, then
SIGKILL after a grace period) and exits.

Usage: python -m flows.watchdog PID   (Linux: it reads /proc; elsewhere it exits at once)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

SERVER_MARK = "prefect.server.api.server:create_app"
OWNER_VARIABLE = "WELFARE_AUDIT_SERVER_OWNER"
POLL_SECONDS = 0.5
GRACE_SECONDS = 5.0
PROC = Path("/proc")


def command_line(pid: int) -> str:
    """A process's command line, or '' when it is gone."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def parent_and_state(pid: int) -> tuple[int, str] | None:
    """A process's parent pid and state letter from /proc/PID/stat, or None when gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
    return int(fields[1]), fields[0]


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    found = parent_and_state(pid)
    return found is not None and found[1] != "Z"


def environment(pid: int) -> set[bytes]:
    """A process's environment entries (KEY=value), or none when gone or not readable."""
    try:
        return set((PROC / str(pid) / "environ").read_bytes().split(b"\0"))
    except OSError:
        return set()


def owned_servers(owner: int) -> set[int]:
    """The Prefect servers started by ``owner`` (they inherited its mark), wherever they were
    reparented."""
    mark = f"{OWNER_VARIABLE}={owner}".encode()
    return {
        int(entry.name)
        for entry in PROC.iterdir()
        if entry.name.isdigit()
        and SERVER_MARK in command_line(int(entry.name))
        and mark in environment(int(entry.name))
    }


def server_children(parent: int) -> set[int]:
    """The Prefect servers among a process's children."""
    servers = set()
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            found = parent_and_state(int(entry.name))
            if found and found[0] == parent and SERVER_MARK in command_line(int(entry.name)):
                servers.add(int(entry.name))
    return servers


def stop(servers: set[int]) -> None:
    """SIGTERM each server still running (checked by its command line), SIGKILL after grace."""
    running = {pid for pid in servers if SERVER_MARK in command_line(pid)}
    for pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while running and time.monotonic() < deadline:
        running = {pid for pid in running if alive(pid)}
        time.sleep(0.1)
    for pid in running:
        if SERVER_MARK in command_line(pid):
            os.kill(pid, signal.SIGKILL)


def watch(owner: int) -> None:
    """Wait for the audit process to end; then stop the servers it left running."""
    while alive(owner):
        time.sleep(POLL_SECONDS)
    stop(owned_servers(owner))


def start_watchdog() -> None:
    """Start the watchdog for this process when it may start a temporary Prefect server (no
    API URL in the environment, the Prefect profile or the settings in force)."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or not PROC.is_dir():  # a server of the user's: not ours to stop
        return
    os.environ[OWNER_VARIABLE] = str(os.getpid())  # the server inherits it: its owner's mark
    subprocess.Popen(
        [sys.executable, "-m", "flows.watchdog", str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # not stopped by a signal to the audit's process group
        cwd=Path(__file__).resolve().parents[1],
    )


if __name__ == "__main__":
    if PROC.is_dir():
        watch(int(sys.argv[1]))
