"""The audit's functions called directly, without Prefect: the baseline for orchestration overhead.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.direct_audit --config benchmarks/cache/survey-1m/audit.toml \
        --warehouse benchmarks/cache/survey-1m/direct.duckdb
Calls the same task functions as flows/audit.py (their ``.fn``, each of which reads, calls one
table function of transforms/tables.py and writes), in the same order, with the
models trained side by side on threads as the flow's thread runner does. Nothing is cached,
no Prefect API is started and no Prefect artifact is written (the report files are). Compare
its wall time with ``welfare-audit run --retrain``.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prefect.logging import disable_run_logger

from flows.alerts import raise_alerts
from flows.audit import prepare_analysis
from flows.extensions import as_task
from flows.fiscal import measure_fiscal
from flows.ingest import (
    FileSummary,
    ingest_households_file,
    ingest_members_file,
    ingest_projection_file,
    ingest_regions_file,
    record_file,
    stage_features,
)
from flows.lifecycle import RunContext, file_sha256, finish_run, start_run
from flows.matching import measure_matching
from flows.pmt import (
    longest_first,
    measure_model_targeting,
    side_by_side,
    train_model,
    training_threads,
)
from flows.programme import measure_programme_targeting
from flows.report import write_report
from flows.validate import validate_staging
from models.pmt import configured_models
from transforms.config import AuditConfig, load_config
from transforms.expectations import raise_on_errors
from transforms.io.hooks import UserCode, load_user_code
from transforms.io.scores import write_model_scores
from transforms.io.staging import loaded_household_ids
from transforms.io.warehouse import exclusive_lock


def ingest(config: AuditConfig, run: RunContext, code: UserCode) -> list[FileSummary]:
    """flows.ingest.ingest_inputs, its tasks called directly."""
    files, known_regions = [], None
    if config.inputs.regions is not None:
        regions = ingest_regions_file.fn(config, run, code.hooks_for("regions"))
        files.append(
            record_file.fn(run, "regions", config.inputs.regions.path, regions, "stg_regions")
        )
        known_regions = regions.read_loaded()["region"]
    households = ingest_households_file.fn(config, run, known_regions, code.hooks_for("households"))
    spec = config.inputs.households
    files.append(record_file.fn(run, "households", spec.path, households, "stg_households"))
    if config.inputs.members is not None:
        members = ingest_members_file.fn(
            config, run, loaded_household_ids(households), code.hooks_for("members")
        )
        path = config.inputs.members.path
        files.append(record_file.fn(run, "members", path, members, "stg_members"))
        stage_features.fn(run)
    if config.inputs.projection is not None:
        projection = ingest_projection_file.fn(config, run, code.hooks_for("projection"))
        path = config.inputs.projection.path
        files.append(record_file.fn(run, "projection", path, projection, "stg_projection"))
    return files


def evaluate_models(config: AuditConfig, run: RunContext) -> list[str]:
    """flows.pmt.evaluate_models: models trained side by side, then measured one by one."""
    names = configured_models(config.models)
    workers = side_by_side(len(names))
    threads = training_threads(workers)
    data_path, data_sha256 = str(run.analysis_path), file_sha256(run.analysis_path)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(train_model.fn, config, name, data_path, data_sha256, threads, True)
            for name in longest_first(names)  # retrain: a benchmark times the training
        ]
        scores = [future.result() for future in futures]
    write_model_scores(run.scores_path, scores)
    measure_model_targeting(config, run, scores)  # outside a flow: plain calls, in turn
    return [s.model for s in scores]


def direct_audit(config_path: Path, warehouse: Path) -> dict[str, float]:
    """One audit, every stage a plain call; returns seconds per stage."""
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = round(now - clock, 2)
        clock = now

    config = load_config(config_path)
    code = load_user_code(config)
    published = warehouse.resolve()
    with disable_run_logger(), exclusive_lock(published):
        run = start_run.fn(config, config_path, published)
        files = ingest(config, run, code)
        lap("ingest")
        raise_on_errors(validate_staging.fn(config, run, files))
        lap("validate")
        prepare_analysis.fn(config, run)
        measure_programme_targeting(config, run)
        lap("prepare + programme targeting")
        trained = evaluate_models(config, run)
        lap("models")
        measure_matching(config, run)
        measure_fiscal(config, run, trained)
        for reference, stage in code.stages:
            as_task(stage, reference).fn(config, run, str(run.analysis_path))
        raise_alerts.fn(config, run)
        finish_run.fn(run, status="succeeded")
        lap("matching + fiscal + publish")
        write_report(published, run.run_id, run.output_dir)
        lap("report")
    return stages


def main() -> None:
    """Run the direct audit once and print its stage timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    stages = direct_audit(args.config, args.warehouse)
    print({"seconds": round(time.perf_counter() - started, 2), "stages": stages})


if __name__ == "__main__":
    main()
