"""Alerts between runs: hand-made previous/current tables."""

from __future__ import annotations

import polars as pl

from transforms.alerts import alerts_between
from transforms.config import Alerts


def targeting(rows: list[tuple[str, str, float, float, float]]) -> pl.DataFrame:
    """(group_type, group_value, coverage, exclusion, inclusion) rows for the programme."""
    return pl.DataFrame(
        rows,
        schema=["group_type", "group_value", "coverage", "exclusion_error", "inclusion_error"],
        orient="row",
    ).with_columns(
        method=pl.lit("program"),
        decision_rule=pl.lit("actual"),
        programme=pl.lit("cash"),
        poverty_line=pl.lit("national"),
        unit=pl.lit("persons"),
    )


def test_error_moves_and_coverage_halving_fire() -> None:
    previous = targeting([("all", "all", 0.16, 0.56, 0.44), ("region", "R1", 0.20, 0.50, 0.40)])
    current = targeting([("all", "all", 0.15, 0.62, 0.45), ("region", "R1", 0.09, 0.52, 0.40)])
    alerts = alerts_between(
        previous, current, Alerts(error_change_points=0.05, coverage_change_ratio=0.5)
    )
    fired = {(r["group_value"], r["indicator"]) for r in alerts.iter_rows(named=True)}
    assert fired == {("all", "exclusion_error"), ("R1", "coverage")}
    national = alerts.filter(pl.col("indicator") == "exclusion_error").row(0, named=True)
    assert abs(national["change"] - 0.06) < 1e-12
    assert national["message"] == (
        "exclusion_error of program (actual, programme cash; line national) nationally: "
        "56.0 % -> 62.0 %"
    )


def test_small_changes_and_other_groups_are_quiet() -> None:
    previous = targeting([("all", "all", 0.16, 0.56, 0.44), ("quintile", "1", 0.30, 0.40, 0.10)])
    current = targeting([("all", "all", 0.17, 0.58, 0.41), ("quintile", "1", 0.05, 0.90, 0.10)])
    assert alerts_between(previous, current, Alerts()).height == 0


def test_suppressed_cells_do_not_alert() -> None:
    previous = targeting([("region", "R9", 0.2, 0.5, 0.4)])
    current = targeting([("region", "R9", 0.2, 0.5, 0.4)]).with_columns(
        pl.lit(None, dtype=pl.Float64).alias("exclusion_error")
    )
    assert alerts_between(previous, current, Alerts(error_change_points=0.0)).height == 0


def test_a_rate_counted_in_another_unit_is_not_compared() -> None:
    """The configuration moved from persons to households: a definition change, not a move."""
    previous = targeting([("all", "all", 0.16, 0.56, 0.44)])
    current = targeting([("all", "all", 0.16, 0.70, 0.44)]).with_columns(unit=pl.lit("households"))
    assert alerts_between(previous, current, Alerts(error_change_points=0.05)).height == 0
    same_unit = alerts_between(previous, current.with_columns(unit=pl.lit("persons")), Alerts())
    assert same_unit["indicator"].to_list() == ["exclusion_error"]
