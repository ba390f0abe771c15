"""The analysis frame of a cached survey, built as the audit flow builds it, cached for benchmarks.

Mirrors flows/ingest.py and flows/audit.py (prepare_analysis) without Prefect: each input file is
read and checked with the transforms the ingest tasks call, staged in DuckDB with the flow's
staging functions, and turned into the analysis frame by ``prepare_households``. The result
goes to benchmarks/cache/analysis-<scale>/ with the staged regions and projection tables; it is
rebuilt when the survey files or the transforms' source change.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from flows.analysis import build_analysis
from transforms.config import AuditConfig, InputFile, load_config
from transforms.io.analysis_file import write_analysis
from transforms.io.ingest import (
    ingest_households,
    ingest_members,
    ingest_table,
)
from transforms.io.readers import read_raw
from transforms.io.staging import (
    loaded_household_ids,
    read_staged,
    stage_loaded,
    stage_member_features,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache"
RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class AnalysisInputs:
    """Paths of the cached analysis frame and staged reference tables, and the audit config."""

    config: AuditConfig
    directory: Path
    analysis: Path
    regions: Path | None
    projection: Path | None


def survey_dir(scale: str) -> Path:
    """benchmarks/cache/survey-<scale>, which must hold the generator's audit.toml."""
    folder = CACHE / f"survey-{scale}"
    if not (folder / "audit.toml").is_file():
        raise SystemExit(
            f"{folder}/audit.toml not found: generate it first, e.g. "
            f"`.venv/bin/python -m benchmarks.run --scale {scale} --case generate`"
        )
    return folder


BUILDERS = ("household.py", "io/ingest.py", "io/readers.py", "io/staging.py")  # shape the frame


def _cache_key(config_path: Path, config: AuditConfig) -> str:
    """Hash of the config, the input files' sizes and mtimes, the builders and polars version."""
    inputs = config.inputs
    specs: list[InputFile | None] = [
        inputs.households,
        inputs.members,
        inputs.regions,
        inputs.projection,
    ]
    digest = hashlib.sha256(pl.__version__.encode())
    digest.update(config_path.read_bytes())
    for spec in specs:
        if spec is not None:
            stat = spec.path.stat()
            digest.update(f"{spec.path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for source in BUILDERS:
        digest.update((ROOT / "transforms" / source).read_bytes())
    return digest.hexdigest()


def build(config: AuditConfig, directory: Path) -> None:
    """Ingest the survey, prepare the analysis frame and write it with the staged tables."""
    work = directory / "transcoded"
    ingest_dir = directory / "ingest"
    inputs = config.inputs
    with duckdb.connect() as staging:
        regions = projection = features = None
        if inputs.regions is not None:
            checked = ingest_table(
                read_raw(inputs.regions, work), inputs.regions,
                role="regions", work_dir=ingest_dir,
            )  # fmt: skip
            stage_loaded(staging, checked, "stg_regions")
            regions = checked.read_loaded()
        known = None if regions is None else regions["region"]
        households = ingest_households(
            read_raw(inputs.households, work), inputs.households,
            known_regions=known, work_dir=ingest_dir, programmes=config.programmes,
            negative_welfare=config.welfare.negative_policy,
        )  # fmt: skip
        stage_loaded(staging, households, "stg_households")
        if inputs.members is not None:
            members = ingest_members(
                read_raw(inputs.members, work), inputs.members,
                household_ids=loaded_household_ids(households), work_dir=ingest_dir,
                programmes=config.programmes,
            )  # fmt: skip
            stage_loaded(staging, members, "stg_members")
            exported = ingest_dir / "member_features.parquet"
            stage_member_features(staging, export=exported)
            features = read_staged(exported)  # read as the run reads it
        if inputs.projection is not None:
            checked = ingest_table(
                read_raw(inputs.projection, work), inputs.projection,
                role="projection", work_dir=ingest_dir,
            )  # fmt: skip
            projection = checked.read_loaded()
        staged_households = read_staged(households.loaded_path)
    shutil.rmtree(ingest_dir, ignore_errors=True)
    analysis = build_analysis(
        staged_households,
        features,
        regions,
        config,
    ).frame
    write_analysis(analysis, directory / "analysis.parquet")
    if regions is not None:
        regions.write_parquet(directory / "regions.parquet")
    if projection is not None:
        projection.write_parquet(directory / "projection.parquet")


def analysis_inputs(scale: str) -> AnalysisInputs:
    """The cached analysis inputs of a scale, built first when missing or stale."""
    config_path = survey_dir(scale) / "audit.toml"
    config = load_config(config_path)
    directory = CACHE / f"analysis-{scale}"
    key_file = directory / "key.json"
    key = _cache_key(config_path, config)
    fresh = key_file.is_file() and json.loads(key_file.read_text()).get("key") == key
    if not fresh:
        directory.mkdir(parents=True, exist_ok=True)
        key_file.unlink(missing_ok=True)
        print(f"building the analysis frame for {scale} in {directory}", flush=True)
        build(config, directory)
        key_file.write_text(json.dumps({"key": key}) + "\n")
    regions, projection = directory / "regions.parquet", directory / "projection.parquet"
    return AnalysisInputs(
        config=config,
        directory=directory,
        analysis=directory / "analysis.parquet",
        regions=regions if regions.is_file() else None,
        projection=projection if projection.is_file() else None,
    )


def staged_analysis(path: Path) -> pl.DataFrame:
    """The analysis frame as the targeting task reads it: a DuckDB query's result as polars."""
    with duckdb.connect() as con:
        return con.sql(f"SELECT * FROM read_parquet('{path}')").pl()


def load_average() -> float:
    """The machine's 1-minute load average (other work on a shared machine skews timings)."""
    return round(os.getloadavg()[0], 2)


def write_result(name: str, scale: str, payload: dict[str, object]) -> Path:
    """Write a benchmark's JSON to benchmarks/results/<name>-<scale>.json and print it."""
    payload = {**payload, "load_average_end": load_average(), "cpus": os.cpu_count()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{scale}.json"
    text = json.dumps(payload, indent=2)
    path.write_text(text + "\n")
    print(text)
    return path
