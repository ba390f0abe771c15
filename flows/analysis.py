"""The analysis frame from the staged tables, built one way for the run, validation's checks
and the benchmarks; read back from the run's file by the targeting tasks."""

from __future__ import annotations

import polars as pl

from flows.lifecycle import RunContext
from transforms import tables
from transforms.config import AuditConfig
from transforms.household import Analysis, in_household_order, prepare_households
from transforms.io.analysis_file import read_analysis
from transforms.io.memory import check_analysis_fits, usable_memory
from transforms.io.staging import read_staged


def build_analysis(
    households: pl.DataFrame,
    features: pl.DataFrame | None,
    regions: pl.DataFrame | None,
    config: AuditConfig,
    *,
    derived: bool = True,
) -> Analysis:
    """The analysis frame from the staged tables, with the config's sections passed down (the
    run, validation's analysis checks and the benchmarks build it the same way); without
    ``derived``, the derived proxies are left out (checks that do not read them)."""
    return prepare_households(
        households,
        features,
        regions,
        welfare=config.welfare,
        programmes=config.programmes,
        poverty_lines=config.poverty_lines,
        targeting=config.targeting,
        level=config.inputs.households.level,
        derived=config.inputs.households.derived if derived else {},
        poststratify=config.design.poststratify == "region",
    )


def build_from_staging(
    config: AuditConfig, run: RunContext, *, derived: bool = True
) -> tuple[Analysis, int]:
    """:func:`build_analysis` from the run's staged tables, once the memory check passed, and
    its estimated peak bytes. Without ``derived`` the proxies are not read either (only the
    derived proxies read them). The staged inputs are freed when this returns."""
    exclude = [] if derived else list(config.inputs.households.proxies)
    households = read_staged(run.staged_households, exclude=exclude)
    need = check_analysis_fits(
        households=households.height,
        household_bytes=int(households.estimated_size()),
        usable=usable_memory(),
    )
    features = None
    if config.inputs.members is not None:  # in the households' order now, the file's rows freed
        features = in_household_order(read_staged(run.staged_member_features), households["hh_id"])
    with run.connect_staging(read_only=True) as staging:
        tables_present = {row[0] for row in staging.sql("SHOW TABLES").fetchall()}
        regions = (
            staging.sql("SELECT * FROM stg_regions").pl()
            if "stg_regions" in tables_present
            else None
        )
    return build_analysis(households, features, regions, config, derived=derived), need


def read_without_proxies(analysis_path: str, config: AuditConfig) -> pl.DataFrame:
    """The run's analysis file without the proxies, which only the models read (the targeting
    and fiscal tables do not)."""
    names = list(pl.read_parquet_schema(analysis_path))
    columns = tables.targeting_columns(names, config.inputs.households, config.targeting)
    return read_analysis(analysis_path, columns)


def read_for_matching(analysis_path: str, config: AuditConfig) -> pl.DataFrame:
    """The run's analysis file without the proxies no matching table reads (at 10M households
    the proxies are about a third of the file)."""
    names = list(pl.read_parquet_schema(analysis_path))
    columns = tables.matching_columns(names, config.inputs.households, config.targeting)
    return read_analysis(analysis_path, columns)


def read_for_fiscal(analysis_path: str, config: AuditConfig) -> pl.DataFrame:
    """The run's analysis file without the proxies, identifiers and design columns, which no
    fiscal table reads."""
    names = list(pl.read_parquet_schema(analysis_path))
    columns = tables.fiscal_columns(names, config.inputs.households, config.targeting)
    return read_analysis(analysis_path, columns)


def read_for_estimates(analysis_path: str, config: AuditConfig) -> pl.DataFrame:
    """The run's analysis file as the programme and model targeting tasks read it: without
    the proxies, the household ids and the PSU labels."""
    names = list(pl.read_parquet_schema(analysis_path))
    columns = tables.estimate_columns(names, config.inputs.households, config.targeting)
    return read_analysis(analysis_path, columns)
