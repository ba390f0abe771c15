"""Ingest + indicators with the project's own transforms (no Prefect, no GX, no models).

The slice the pandas baseline (benchmarks/pandas_baseline.py) re-implements: row rules on
regions, households, members and projection; member features; the analysis frame (welfare,
regional poverty line, quintiles, design); the programme's targeting table with design-based
SEs; coverage and adequacy by domain and beneficiary/benefit incidence by group. Staging in
DuckDB, validation, model training and publication are left out of both.

Usage (from the repository root):
    .venv/bin/python -m benchmarks.pipeline_slice --scale 1m
    .venv/bin/python -m benchmarks.pipeline_slice --scale 1m --households 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from benchmarks.slice_common import (
    KEY_RATES,
    SCALES,
    peak_rss_mib,
    result_path,
    survey_dir,
    write_result,
)
from flows.analysis import build_analysis
from transforms import tables
from transforms.config import AuditConfig, load_config
from transforms.contract import quote_literal
from transforms.household import member_features_sql
from transforms.io.ingest import (
    CheckedTable,
    ingest_households,
    ingest_members,
    ingest_table,
)
from transforms.io.readers import read_raw
from transforms.io.staging import loaded_household_ids
from transforms.matching import (
    MATCHING_GROUPS,
    add_matching_columns,
    domain_rates,
    incidence_shares,
)
from transforms.survey import Design
from transforms.targeting import RATES, unit_weight

NAME = "pipeline_slice"
MATCHING_RATES = ["coverage", "adequacy"]


@contextmanager
def timed(stages: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall seconds of a block under ``name``."""
    started = time.perf_counter()
    yield
    stages[name] = round(time.perf_counter() - started, 3)


def ingest(config: AuditConfig, work_dir: Path) -> dict[str, CheckedTable]:
    """Row rules on every input file, in the ingest flow's order (flows/ingest.py)."""
    inputs = config.inputs
    assert inputs.regions is not None and inputs.members is not None
    assert inputs.projection is not None
    regions = ingest_table(
        read_raw(inputs.regions, work_dir),
        inputs.regions,
        role="regions",
        work_dir=work_dir,
    )
    households = ingest_households(
        read_raw(inputs.households, work_dir),
        inputs.households,
        known_regions=regions.read_loaded()["region"],
        work_dir=work_dir,
        programmes=config.programmes,
        negative_welfare=config.welfare.negative_policy,
    )
    members = ingest_members(
        read_raw(inputs.members, work_dir),
        inputs.members,
        household_ids=loaded_household_ids(households),
        work_dir=work_dir,
        programmes=config.programmes,
    )
    projection = ingest_table(
        read_raw(inputs.projection, work_dir),
        inputs.projection,
        role="projection",
        work_dir=work_dir,
    )
    return {
        "regions": regions,
        "households": households,
        "members": members,
        "projection": projection,
    }


def programme_targeting(analysis: pl.DataFrame, config: AuditConfig) -> pl.DataFrame:
    """The programme's targeting table by group with SEs, small cells suppressed (the table
    function the flow's task calls)."""
    published = tables.programme_targeting(
        analysis,
        tables.measures(config.programmes, config.poverty_lines),
        targeting=config.targeting,
        disclosure=config.disclosure,
        run_id="slice",
    )
    return published.tables["targeting_errors"]


def matching(analysis: pl.DataFrame, config: AuditConfig) -> pl.DataFrame:
    """Coverage and adequacy by domain, beneficiary and benefit incidence by group."""
    design = Design(weight=unit_weight(config.targeting.unit), strata="strata", psu="psu")
    groups = [group for group in MATCHING_GROUPS if group in analysis.columns]
    prepared = add_matching_columns(analysis, design=design, notes=[])
    rates = domain_rates(prepared, design=design, groups=groups, names=MATCHING_RATES)
    shares = incidence_shares(prepared, design=design, groups=groups, money=True)
    return pl.concat([rates, shares])


def numbers(targeting: pl.DataFrame, indicators: pl.DataFrame) -> dict[str, list[float | None]]:
    """Flat ``table|group_type|group_value|statistic`` -> [estimate, se] for the comparison."""
    flat: dict[str, list[float | None]] = {}
    for row in targeting.iter_rows(named=True):
        for rate in RATES:
            key = f"targeting|{row['group_type']}|{row['group_value']}|{rate}"
            flat[key] = [row[rate], row[f"{rate}_se"]]
    for row in indicators.iter_rows(named=True):
        key = f"matching|{row['group_type']}|{row['group_value']}|{row['indicator']}"
        flat[key] = [row["value"], row["se"]]
    return flat


def run(survey: Path, *, scale: str) -> dict[str, Any]:
    """Run the slice on a survey folder (audit.toml and its files); return the result payload."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    config = load_config(survey / "audit.toml")
    with tempfile.TemporaryDirectory(prefix="pipeline-slice-") as work_dir:
        with timed(stages, "ingest"):
            checked = ingest(config, Path(work_dir))
        rows = {
            role: {"read": table.rows_read, "loaded": table.rows_loaded}
            for role, table in checked.items()
        }
        with timed(stages, "member_features"), duckdb.connect() as con:
            members = checked.pop("members")  # the flow's aggregate, over the loaded rows' file
            source = f"read_parquet({quote_literal(str(members.loaded_path))})"
            columns = set(members.scan_loaded().collect_schema().names())
            features = con.sql(member_features_sql(source, columns)).pl()
        with timed(stages, "analysis_frame"):
            analysis = build_analysis(
                checked["households"].read_loaded(),
                features,
                checked["regions"].read_loaded(),
                config,
            ).frame
    del checked, features  # as in the flow, ingest frames are not kept past this point
    with timed(stages, "targeting"):
        targeting = programme_targeting(analysis, config)
    with timed(stages, "matching"):
        indicators = matching(analysis, config)
    national = targeting.filter(pl.col("group_type") == "all").row(0, named=True)
    return {
        "name": NAME,
        "scale": scale,
        "households": analysis.height,
        "seconds": round(time.perf_counter() - started, 3),
        "stages": stages,
        "peak_rss_mib": peak_rss_mib(),
        "rows": rows,
        "key_numbers": {
            rate: {"estimate": national[rate], "se": national[f"{rate}_se"]} for rate in KEY_RATES
        },
        "numbers": numbers(targeting, indicators),
    }


def main() -> None:
    """Parse arguments, run the slice, write benchmarks/results/pipeline_slice-<scale>.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=SCALES, default="1m")
    parser.add_argument("--households", type=int, help="develop on a subset of about N households")
    args = parser.parse_args()
    survey = survey_dir(args.scale, args.households)  # a subset is written before timing
    payload = run(survey, scale=args.scale)
    write_result(result_path(NAME, args.scale, args.households), payload)


if __name__ == "__main__":
    main()
