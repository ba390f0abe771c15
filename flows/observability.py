"""How an audit shows in Prefect: flow run names, tags, artifact keys, events and state hooks.

Events (documented in README, "Prefect events"), all with the resource
``welfare-audit.audit.<slug of the audit name>``:

- ``welfare-audit.run.succeeded`` / ``welfare-audit.run.failed``: from the flow's
  ``on_completion`` / ``on_failure`` hooks, for every entry point (CLI, serve, deployments);
- ``welfare-audit.validation.failed``: the failed checks, observed values and thresholds;
- ``welfare-audit.alert.raised``: one per alert against the previous run.
"""

from __future__ import annotations

import logging
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVENT_PREFIX = "welfare-audit"
SLUG_LENGTH = 48
log = logging.getLogger(__name__)


def audit_slug(name: str) -> str:
    """The audit name in Prefect's key alphabet (lowercase letters, digits, dashes)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:SLUG_LENGTH].strip("-")
    return slug or "audit"


def artifact_key(audit_name: str, what: str) -> str:
    """A Prefect artifact key of one audit, so histories of different audits do not mix."""
    return f"{audit_slug(audit_name)}-{what}"


def audit_name_of(config_path: str | Path) -> str:
    """The audit's name from its config file, read without validating the rest (a name is
    needed even for a run whose config is broken); the file's stem when there is none."""
    path = Path(config_path)
    try:
        name = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        name = None
    return name if isinstance(name, str) and name.strip() else path.stem


def audit_tags(audit_name: str, config_sha256: str) -> list[str]:
    """Tags that group an audit's runs in the Prefect UI and in Automations."""
    return [f"audit:{audit_slug(audit_name)}", f"config:{config_sha256[:12]}"]


def flow_run_name() -> str:
    """The flow run's name: the audit's name and the start time (UTC), e.g.
    ``sample-audit-2026-12-07-0702``; used by Prefect through ``flow_run_name``."""
    from prefect.runtime import flow_run

    config_path = flow_run.parameters.get("config_path", "audit")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    return f"{audit_slug(audit_name_of(config_path))}-{stamp}"


def tag_flow_run(tags: list[str]) -> None:
    """Add tags to the running flow run itself (whichever way it was started)."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    merged = sorted({*context.flow_run.tags, *tags})
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=merged)


def audit_resource(audit_name: str) -> dict[str, str]:
    """The Prefect event resource standing for one audit (by name)."""
    return {
        "prefect.resource.id": f"{EVENT_PREFIX}.audit.{audit_slug(audit_name)}",
        "prefect.resource.name": audit_name,
    }


def emit_audit_event(what: str, audit_name: str, payload: dict[str, Any]) -> None:
    """Emit ``welfare-audit.<what>`` for one audit; a failure to emit never fails the run."""
    from prefect.events import emit_event

    try:
        emit_event(
            event=f"{EVENT_PREFIX}.{what}",
            resource=audit_resource(audit_name),
            payload={key: value for key, value in payload.items() if value is not None},
        )
    except Exception as error:
        log.info("Could not emit the event %s.%s: %s", EVENT_PREFIX, what, error)


def on_run_completed(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook: ``welfare-audit.run.succeeded`` with the run id and warehouse."""
    result = state.result(raise_on_failure=False) if state.is_completed() else None
    summary = result if isinstance(result, dict) else {}
    emit_audit_event(
        "run.succeeded",
        audit_name_of(flow_run.parameters.get("config_path", "audit")),
        {
            "flow_run_name": flow_run.name,
            "run_id": summary.get("run_id"),
            "warehouse": summary.get("warehouse"),
            "report": summary.get("report"),
            "alerts": len(summary.get("alerts") or []),
        },
    )


def on_run_failed(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook: ``welfare-audit.run.failed`` with the error message."""
    emit_audit_event(
        "run.failed",
        audit_name_of(flow_run.parameters.get("config_path", "audit")),
        {"flow_run_name": flow_run.name, "message": state.message},
    )


def prefect_api_problem() -> str | None:
    """Why schedules could never fire here (no Prefect server configured, or it does not
    answer), or None when the configured server answers its health check."""
    import httpx
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        return (
            "no Prefect server is configured, so a served schedule could never fire. Start one "
            "(`.venv/bin/prefect server start`) and set PREFECT_API_URL, e.g. "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api; or run once with "
            "`welfare-audit run`"
        )
    try:
        answer = httpx.get(f"{url.rstrip('/')}/health", timeout=10)
    except httpx.HTTPError as error:
        return f"the Prefect server at PREFECT_API_URL={url} does not answer ({error})"
    if answer.status_code != 200:
        return f"the Prefect server at PREFECT_API_URL={url} answered {answer.status_code}"
    return None
