"""The analysis frame from the staged tables, built one way for the run, validation's checks
and the benchmarks; read back from the run's file by the targeting tasks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from flows.lifecycle import RunContext
from transforms.config import AuditConfig, HouseholdInput, Targeting
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


ColumnsOf = Callable[[Sequence[str], HouseholdInput, Targeting], list[str]]
"""A task's choice of the analysis file's columns (``tables.targeting_columns`` and kin)."""


def read_for(analysis_path: str, config: AuditConfig, columns_of: ColumnsOf) -> pl.DataFrame:
    """The run's analysis file with only the columns a task reads (``columns_of``, e.g.
    ``tables.fiscal_columns``): every task leaves out the proxies, which only the models read,
    and some the identifiers and design labels too."""
    names = list(pl.read_parquet_schema(analysis_path))
    columns = columns_of(names, config.inputs.households, config.targeting)
    return read_analysis(analysis_path, columns)
