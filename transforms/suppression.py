"""Disclosure control of published cells: primary and complementary suppression.

**Primary.** A cell resting on fewer than ``disclosure.min_cell_n`` unweighted households
(``n_obs``) is withheld. A cell without ``n_obs`` (a value from a table, not the sample) is
never withheld.

**Complementary.** The cells of one ``group_type`` (the regions, the quintiles, …) are parts of
a whole: their populations, counts, amounts and shares add up to the group ``all`` of the same
table (or, for shares, to 1), and so do the weighted numerator and denominator of every rate
(coverage × population is the beneficiaries). When exactly one part of a whole is withheld and
the whole is known, that part is the whole minus the published parts. So whenever a whole is
known (its ``all`` cell published, or its parts shares of one) and exactly one of its parts is
withheld for its count, the published part with the fewest households (ties: by name) is
withheld too. A part with ``n_obs`` 0 does not count either way: its value is known to be
nothing from its published count. The complement depends on the counts only, so every row
that counts the same households the same way (each method, rule and line of targeting_errors,
matching_indicators' domain estimates) withholds the same groups.

What this protects, and what it does not (docs/methodology.md, "Disclosure control"): it stops
a withheld cell being found by subtraction within one whole. It does not stop bounds (a
withheld part lies between 0 and the total less the published parts; two withheld parts are
known together), relations between tables counting different households (a quintile's
beneficiaries as coverage × population of targeting_errors where its incidence, counted on
beneficiaries, is withheld), relations across runs, or an insider who knows one of the
withheld cells. Ratios are not additive: a rate's complement protects it through its additive
numerator and denominator, not on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

PRIMARY = "primary"
COMPLEMENTARY = "complementary"
WHOLE = "all"
"""The group_type (and group_value) of the cell that is the whole of a table's partitions."""


@dataclass(frozen=True)
class Partitions:
    """How the cells of one suppressible table add up: within one ``scope`` (the columns naming
    what is measured: method, rule, programme, line, unit, indicator), the cells of each
    ``group_type`` are parts of the cell of group_type ``all``, or shares of one."""

    scope: tuple[str, ...]
    group_type: str | None = "group_type"
    """The column naming the partition; None: every row of a scope is a part of one whole."""
    part: str = "group_value"
    """The column naming the part within its partition."""
    shares: pl.Expr = field(default_factory=lambda: pl.lit(False))
    """True for rows whose parts are shares summing to 1: their whole is always known."""


def partitions_of(table_name: str, share_indicators: Sequence[str] = ()) -> Partitions | None:
    """The partitions of a suppressible published table (None for another table);
    ``share_indicators`` are the matching_indicators whose groups sum to 1 (the catalogue's)."""
    if table_name == "targeting_errors":
        return Partitions(("method", "decision_rule", "programme", "poverty_line", "unit"))
    if table_name == "matching_indicators":
        return Partitions(
            ("programme", "poverty_line", "population_unit", "indicator"),
            shares=pl.col("indicator").is_in(list(share_indicators)),
        )
    if table_name == "programme_overlap":  # combinations received: shares of the population
        return Partitions(("population_unit",), None, "programmes", pl.lit(True))
    return None


def suppression(
    frame: pl.DataFrame, partitions: Partitions | None, *, min_cell_n: int
) -> pl.Series:
    """Why each row is withheld: 'primary', 'complementary' or None (published). Requires
    ``n_obs`` and the columns ``partitions`` names (None: primary suppression only)."""
    primary = (pl.col("n_obs") < min_cell_n).fill_null(False)
    if partitions is None or frame.height == 0:
        return frame.select(pl.when(primary).then(pl.lit(PRIMARY)).alias("suppression")).to_series()
    scope = list(partitions.scope)
    kind = pl.col(partitions.group_type) if partitions.group_type else pl.lit("parts")
    whole = kind == WHOLE
    part_of = [*scope, "__partition"]
    cells = frame.select(
        *scope,
        partitions.part,
        "n_obs",
        kind.alias("__partition"),
        primary.alias("__primary"),
        whole.alias("__whole"),
        partitions.shares.alias("__shares"),
    ).with_row_index("__row")
    # a whole is known when its parts are shares of one, or its `all` cell is published
    known = pl.col("__shares") | (pl.col("__whole") & ~pl.col("__primary")).any().over(scope)
    # parts withheld for their count, other than empty ones (their count says they are nothing)
    unknown = pl.col("__primary") & (pl.col("n_obs") > 0) & ~pl.col("__whole")
    candidate = ~pl.col("__primary") & (pl.col("n_obs") > 0).fill_null(False) & ~pl.col("__whole")
    ranked = (
        cells.sort("n_obs", partitions.part, nulls_last=True)
        .with_columns(
            candidate.cast(pl.Int64).cum_sum().over(part_of).alias("__rank"),
            unknown.sum().over(part_of).alias("__unknown"),
        )
        .sort("__row")
    )
    complementary = known & (pl.col("__unknown") == 1) & candidate & (pl.col("__rank") == 1)
    return ranked.select(
        pl.when(pl.col("__primary"))
        .then(pl.lit(PRIMARY))
        .when(complementary)
        .then(pl.lit(COMPLEMENTARY))
        .alias("suppression")
    ).to_series()
