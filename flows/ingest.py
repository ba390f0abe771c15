"""Ingest subflow: read each input file, apply row rules, stage loaded rows, quarantine the rest."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows import progress
from flows.lifecycle import RunContext, file_sha256
from transforms.config import AuditConfig, InputFile
from transforms.contract import publishable
from transforms.expectations import nothing_loaded
from transforms.io import warehouse
from transforms.io.hooks import LoadedHook, UserCode, apply_hooks
from transforms.io.ingest import (
    CheckedTable,
    ingest_households,
    ingest_members,
    ingest_table,
    person_rows_problem,
)
from transforms.io.readers import read_raw
from transforms.io.staging import (
    loaded_household_ids,
    quarantine_reasons,
    stage_loaded,
    stage_member_features,
)
from transforms.raw import IngestError, RawTable


@dataclass(frozen=True)
class FileSummary:
    """What happened to one input file."""

    role: str
    path: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    reasons: dict[str, int]


def summarise(role: str, checked: CheckedTable) -> FileSummary:
    """Counts and quarantine reasons of one checked file."""
    return FileSummary(
        role=role,
        path=checked.source_file,
        rows_read=checked.rows_read,
        rows_loaded=checked.rows_loaded,
        rows_quarantined=checked.rows_quarantined,
        reasons=quarantine_reasons(checked),
    )


def open_raw(spec: InputFile, run: RunContext, hooks: Sequence[LoadedHook]) -> RawTable:
    """Open a raw file lazily (transcoded copies go to the run's output folder), then run its
    pre-processing hooks."""
    return apply_hooks(read_raw(spec, run.output_dir / "transcoded"), hooks)


def file_run_name(role: str) -> Callable[[], str]:
    """A task run name naming the input file, e.g. ``ingest-households[hh_2024.csv]``."""

    def name() -> str:
        from prefect.runtime import task_run

        spec = getattr(task_run.parameters["config"].inputs, role)
        return f"ingest-{role}[{Path(spec.path).name}]"

    return name


@task(name="record-file", task_run_name="record-file-{role}", cache_policy=NO_CACHE)
def record_file(
    run: RunContext, role: str, spec_path: Path, checked: CheckedTable, staging_table: str
) -> FileSummary:
    """Stage loaded rows, quarantine the rest, and record the file with its hash; a file none
    of whose rows loaded stops the ingest here, once recorded, with the reasons."""
    with run.connect_staging() as staging:
        stage_loaded(staging, checked, staging_table)
    summary = summarise(role, checked)
    progress.report(
        progress.StageEvent(
            "ingest",
            "advance",
            detail=f"{role}: {summary.rows_loaded:,} of {summary.rows_read:,} rows loaded",
        )
    )
    with run.connect() as con:
        warehouse.insert_quarantine(con, checked.quarantine_path, run.run_id)
        file_row = pl.DataFrame(
            {
                "role": [role],
                "path": [str(spec_path)],
                "sha256": [file_sha256(spec_path)],
                "bytes": [spec_path.stat().st_size],
                "rows_read": [summary.rows_read],
                "rows_loaded": [summary.rows_loaded],
                "rows_quarantined": [summary.rows_quarantined],
            }
        )
        warehouse.insert_frame(
            con, "input_files", publishable("input_files", file_row, run_id=run.run_id)
        )
    logger = get_run_logger()
    logger.info(
        "%s: %d read, %d loaded, %d quarantined",
        role,
        summary.rows_read,
        summary.rows_loaded,
        summary.rows_quarantined,
    )
    problem = nothing_loaded(summary.path, summary.rows_read, summary.rows_loaded, summary.reasons)
    if problem:
        raise IngestError(problem)
    return summary


@task(name="ingest-regions", task_run_name=file_run_name("regions"), cache_policy=NO_CACHE)
def ingest_regions_file(
    config: AuditConfig, run: RunContext, hooks: Sequence[LoadedHook] = ()
) -> CheckedTable:
    """Read and check the regions file."""
    spec = config.inputs.regions
    assert spec is not None
    return ingest_table(
        open_raw(spec, run, hooks),
        spec,
        role="regions",
        work_dir=run.ingest_dir,
    )


@task(name="ingest-households", task_run_name=file_run_name("households"), cache_policy=NO_CACHE)
def ingest_households_file(
    config: AuditConfig,
    run: RunContext,
    known_regions: pl.Series | None,
    hooks: Sequence[LoadedHook] = (),
) -> CheckedTable:
    """Read and check the household file."""
    spec = config.inputs.households
    return ingest_households(
        open_raw(spec, run, hooks),
        spec,
        known_regions=known_regions,
        work_dir=run.ingest_dir,
        programmes=config.programmes,
        negative_welfare=config.welfare.negative_policy,
    )


@task(name="ingest-members", task_run_name=file_run_name("members"), cache_policy=NO_CACHE)
def ingest_members_file(
    config: AuditConfig, run: RunContext, household_ids: pl.Series, hooks: Sequence[LoadedHook] = ()
) -> CheckedTable:
    """Read and check the member file."""
    spec = config.inputs.members
    assert spec is not None
    return ingest_members(
        open_raw(spec, run, hooks),
        spec,
        household_ids=household_ids,
        work_dir=run.ingest_dir,
        programmes=config.programmes,
    )


@task(name="ingest-projection", task_run_name=file_run_name("projection"), cache_policy=NO_CACHE)
def ingest_projection_file(
    config: AuditConfig, run: RunContext, hooks: Sequence[LoadedHook] = ()
) -> CheckedTable:
    """Read and check the population projection."""
    spec = config.inputs.projection
    assert spec is not None
    return ingest_table(
        open_raw(spec, run, hooks),
        spec,
        role="projection",
        work_dir=run.ingest_dir,
    )


@task(name="stage-member-features", task_run_name="stage-member-features", cache_policy=NO_CACHE)
def stage_features(run: RunContext) -> int:
    """Aggregate the staged members into one row of features per household."""
    with run.connect_staging() as staging:
        return stage_member_features(staging, export=run.staged_member_features)


@flow(
    name="ingest", flow_run_name="ingest", validate_parameters=False, persist_result=False
)  # typed objects, validated at the edge
def ingest_inputs(
    config: AuditConfig, run: RunContext, user_code: UserCode | None = None
) -> list[FileSummary]:
    """Ingest regions, households, members and projection, in dependency order."""
    code = user_code or UserCode()
    summaries: list[FileSummary] = []
    known_regions = None
    if config.inputs.regions is not None:
        regions = ingest_regions_file(config, run, code.hooks_for("regions"))
        summaries.append(
            record_file(run, "regions", config.inputs.regions.path, regions, "stg_regions")
        )
        known_regions = regions.read_loaded()["region"]
    households = ingest_households_file(config, run, known_regions, code.hooks_for("households"))
    shape_problem = person_rows_problem(households, config.inputs.households.columns.hh_id)
    if shape_problem is not None:
        raise IngestError(shape_problem)
    summaries.append(
        record_file(run, "households", config.inputs.households.path, households, "stg_households")
    )
    if config.inputs.members is not None:
        members = ingest_members_file(
            config, run, loaded_household_ids(households), code.hooks_for("members")
        )
        summaries.append(
            record_file(run, "members", config.inputs.members.path, members, "stg_members")
        )
        stage_features(run)
    if config.inputs.projection is not None:
        projection = ingest_projection_file(config, run, code.hooks_for("projection"))
        summaries.append(
            record_file(
                run, "projection", config.inputs.projection.path, projection, "stg_projection"
            )
        )
    return summaries
