"""Feedback between runs: headline indicators that moved beyond thresholds since the last run."""

from __future__ import annotations

import polars as pl

from transforms import catalogue
from transforms.config import Alerts

KEYS = [
    "method",
    "decision_rule",
    "programme",
    "poverty_line",
    "unit",
    "group_type",
    "group_value",
]
"""What identifies one rate across runs: a rate counted in another unit is another rate."""
ERRORS = catalogue.watched("points")
"""Rates judged by their change in fraction points (the catalogue's alert rule)."""
RATIOS = catalogue.watched("ratio")
"""Rates judged by the ratio of their values (halving, doubling)."""
WATCHED_GROUPS = ("all", "region")


def headline_changes(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Long previous/current values of coverage and errors, nationally and by region."""
    indicators = [*RATIOS, *ERRORS]

    def long(frame: pl.DataFrame) -> pl.DataFrame:
        kept = frame.filter(pl.col("group_type").is_in(WATCHED_GROUPS)).select(*KEYS, *indicators)
        return kept.unpivot(index=KEYS, on=indicators, variable_name="indicator")

    joined = long(previous).join(
        long(current), on=[*KEYS, "indicator"], suffix="_current", nulls_equal=True
    )
    return joined.select(
        *KEYS,
        "indicator",
        pl.col("value").alias("previous"),
        pl.col("value_current").alias("current"),
    ).drop_nulls(["previous", "current"])


def alerts_between(
    previous: pl.DataFrame, current: pl.DataFrame, thresholds: Alerts
) -> pl.DataFrame:
    """Changes beyond the thresholds: error moves in points, coverage halving or doubling."""
    changes = headline_changes(previous, current).with_columns(
        (pl.col("current") - pl.col("previous")).alias("change")
    )
    points = thresholds.error_change_points
    ratio = thresholds.coverage_change_ratio
    error_moved = pl.col("indicator").is_in(ERRORS) & (pl.col("change").abs() > points)
    coverage_ratio = pl.col("current") / pl.col("previous")
    coverage_moved = (
        pl.col("indicator").is_in(RATIOS)
        & (pl.col("previous") > 0)
        & ((coverage_ratio < ratio) | (coverage_ratio > 1 / ratio))
    )
    rule = (
        pl.when(error_moved)
        .then(pl.lit(f"|change| > {points:g}"))
        .otherwise(pl.lit(f"ratio outside [{ratio:g}, {1 / ratio:g}]"))
    )
    where = (
        pl.when(pl.col("group_type") == "all")
        .then(pl.lit("nationally"))
        .otherwise(pl.format("in {} {}", pl.col("group_type"), pl.col("group_value")))
    )
    programme = pl.when(pl.col("programme").is_not_null()).then(
        pl.format(", programme {}", pl.col("programme"))
    )
    message = pl.format(
        "{} of {} ({}{}; line {}) {}: {} -> {}",
        pl.col("indicator"),
        pl.col("method"),
        pl.col("decision_rule"),
        programme.fill_null(""),
        pl.col("poverty_line").fill_null("?"),
        where,
        (pl.col("previous") * 100).round(1).cast(pl.String) + pl.lit(" %"),
        (pl.col("current") * 100).round(1).cast(pl.String) + pl.lit(" %"),
    )
    return (
        changes.filter(error_moved | coverage_moved)
        .with_columns(rule.alias("threshold"), message.alias("message"))
        .rename({"unit": "population_unit"})  # `unit` names an indicator's unit in long tables
    )
