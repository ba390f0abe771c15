"""Session-wide test settings: a quiet, offline Prefect harness with heartbeats off.

Under pytest-xdist (``make test``) every worker is its own session: its own PREFECT_HOME,
Prefect API and shared audit runs."""

from __future__ import annotations

import os
import tempfile

for _key, _value in {
    "PREFECT_HOME": tempfile.mkdtemp(prefix="welfare-audit-prefect-"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "DASK_LOGGING__DISTRIBUTED": "warning",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ.setdefault(_key, _value)
os.environ["PREFECT_API_URL"] = ""

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402

from tests.audit_run import AuditRun, run_small_audit  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the session (about 10 s), heartbeats off."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=90),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture(scope="session")
def audit_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    """One audit of a generated 1,500-household survey with three programmes (PMT ols only,
    3 folds, money in XOF), shared by the tests that only read what it published (the report,
    the workbook): about a minute, once."""
    return run_small_audit(tmp_path_factory.mktemp("audit-run"), programmes=True)


@pytest.fixture(scope="session")
def no_programme_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    """The same survey audited without its programmes (a survey without programme data)."""
    return run_small_audit(tmp_path_factory.mktemp("no-programme-run"), programmes=False)
