"""Session-wide test settings: a quiet, offline Prefect harness with heartbeats off."""

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
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


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


def generated_audit(folder: Path, *, programmes: bool) -> dict[str, object]:
    """Run the audit flow on a generated survey of 1,500 households (one model, three folds: the
    report, not the models, is under test), with its money in XOF; returns the flow's summary."""
    import tomllib

    import tomli_w

    from flows.audit import audit
    from transforms.sample.files import write_synthetic_survey

    write_synthetic_survey(folder, households=1500, seed=3, file_format="parquet")
    config = tomllib.loads((folder / "audit.toml").read_text())
    config["models"] |= {"enabled": ["ols"], "folds": 3}
    config["welfare"]["currency"] = "XOF"
    if not programmes:
        config.pop("programmes")
    (folder / "audit.toml").write_text(tomli_w.dumps(config))
    return audit(str(folder / "audit.toml"), None)


@pytest.fixture(scope="session")
def audit_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One audit of a generated survey with three programmes, shared by the report tests."""
    return generated_audit(tmp_path_factory.mktemp("audit-run"), programmes=True)


@pytest.fixture(scope="session")
def no_programme_run(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, object]:
    """The same survey audited without its programmes (a survey without programme data)."""
    return generated_audit(tmp_path_factory.mktemp("no-programme-run"), programmes=False)
