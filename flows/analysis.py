"""The analysis frame from the staged tables, built one way for the run, validation's checks
and the benchmarks."""

from __future__ import annotations

import polars as pl

from transforms.config import AuditConfig
from transforms.household import Analysis, prepare_households


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
