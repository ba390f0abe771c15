"""The analysis frame from the staged tables, built one way for the run, validation's checks
and the benchmarks; read back from the run's file by the targeting tasks."""

from __future__ import annotations

import polars as pl

from transforms import tables
from transforms.config import AuditConfig
from transforms.household import Analysis, prepare_households
from transforms.io.analysis_file import read_analysis


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


def read_without_proxies(analysis_path: str, config: AuditConfig) -> pl.DataFrame:
    """The run's analysis file without the proxies, which only the models read (the targeting
    and fiscal tables do not)."""
    names = list(pl.read_parquet_schema(analysis_path))
    columns = tables.targeting_columns(names, config.inputs.households, config.targeting)
    return read_analysis(analysis_path, columns)
