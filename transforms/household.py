"""Household-level derivations: member aggregates, design columns, welfare and poverty status."""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from transforms.config import PovertyLine, WelfareDefinition

CHILD_MAX_AGE = 14
ELDERLY_MIN_AGE = 65
MEMBER_FEATURES = (
    "n_members",
    "n_children",
    "n_elderly",
    "n_working_age",
    "n_disabled",
    "n_employed",
    "dependency_ratio",
    "share_disabled",
    "head_age",
    "head_sex",
    "head_education_years",
    "n_heads",
)


def member_features_sql(members: str, columns: Collection[str]) -> str:
    """DuckDB SQL aggregating the member table ``members`` to one row per hh_id.

    Requires hh_id, age, __source_row; uses is_head, sex, education_years, disabled, employed
    when in ``columns``. Counts members, children (0-14), elderly (65+), working age (15-64),
    disabled, employed; dependency_ratio = (children + elderly) / max(working age, 1);
    share_disabled; the head's age, sex and education: the flagged head, else the oldest
    member, ties to the first row in the file; n_heads. DuckDB spills to disk when the
    households do not fit in memory, so the member file is never held whole.
    """

    def flag(name: str) -> str:
        return f"coalesce({name}, false)" if name in columns else "false"

    def optional(name: str) -> str:
        return name if name in columns else "NULL"

    return f"""
        WITH ranked AS (
            SELECT
                *,
                -- who heads the household: the flagged head, then the oldest, then the first
                -- row in the file (age <= 120 < 2^8, rows < 2^32: the parts cannot overlap)
                ({flag("is_head")}::BIGINT << 40) + (age::BIGINT << 32) - __source_row
                    AS head_rank
            FROM {members}
        ),
        counted AS (
            SELECT
                hh_id,
                count(*)::INTEGER AS n_members,
                count(*) FILTER (age <= {CHILD_MAX_AGE})::INTEGER AS n_children,
                count(*) FILTER (age >= {ELDERLY_MIN_AGE})::INTEGER AS n_elderly,
                count(*) FILTER (
                    age BETWEEN {CHILD_MAX_AGE + 1} AND {ELDERLY_MIN_AGE - 1}
                )::INTEGER AS n_working_age,
                count(*) FILTER ({flag("disabled")})::INTEGER AS n_disabled,
                count(*) FILTER ({flag("employed")})::INTEGER AS n_employed,
                arg_max_null(age, head_rank) AS head_age,
                arg_max_null({optional("sex")}, head_rank)::VARCHAR AS head_sex,
                arg_max_null({optional("education_years")}, head_rank)::DOUBLE
                    AS head_education_years,
                count(*) FILTER ({flag("is_head")})::INTEGER AS n_heads
            FROM ranked
            GROUP BY hh_id
        )
        SELECT
            hh_id,
            n_members,
            n_children,
            n_elderly,
            n_working_age,
            n_disabled,
            n_employed,
            -- dependants per working-age member (at least one in the denominator)
            (n_children + n_elderly) / greatest(n_working_age, 1) AS dependency_ratio,
            n_disabled / n_members AS share_disabled,
            head_age,
            head_sex,
            head_education_years,
            n_heads
        FROM counted
    """


def attach_member_features(households: pl.LazyFrame, features: pl.LazyFrame) -> pl.LazyFrame:
    """Left-join member aggregates; adds has_elderly, has_disabled and hh_size_matches_members."""
    joined = households.join(features, on="hh_id", how="left", maintain_order="left")
    return joined.with_columns(
        (pl.col("n_elderly").fill_null(0) > 0).alias("has_elderly"),
        (pl.col("n_disabled").fill_null(0) > 0).alias("has_disabled"),
        (pl.col("n_members") == pl.col("hh_size")).alias("hh_size_matches_members"),
    )


def add_design_columns(households: pl.LazyFrame) -> pl.LazyFrame:
    """Fill the survey design: weight 1, one stratum, each household its own PSU when absent.

    Adds weight (households), strata, psu as needed; psu ids are made unique within strata.
    """
    names = households.collect_schema().names()
    additions = []
    if "weight" not in names:
        additions.append(pl.lit(1.0).alias("weight"))
    if "strata" not in names:
        additions.append(pl.lit("all").alias("strata"))
    if "psu" not in names:
        additions.append(pl.col("hh_id").alias("psu"))
    frame = households.with_columns(additions) if additions else households
    return frame.with_columns(pl.concat_str("strata", "psu", separator="\u241f").alias("psu"))


def equivalence_scale(
    definition: WelfareDefinition, *, hh_size: pl.Expr, n_children: pl.Expr
) -> pl.Expr:
    """Adult equivalents under the configured scale (the member count for per capita)."""
    if definition.basis != "adult_equivalent":
        return hh_size.cast(pl.Float64)
    adults = hh_size - n_children
    if definition.equivalence_scale == "square_root":
        return hh_size.cast(pl.Float64).sqrt()
    if definition.equivalence_scale == "oecd":
        return 1 + 0.7 * (adults - 1).clip(lower_bound=0) + 0.5 * n_children
    return 1 + 0.5 * (adults - 1).clip(lower_bound=0) + 0.3 * n_children


def add_welfare(
    households: pl.LazyFrame, *, definition: WelfareDefinition, benefit_period: str
) -> pl.LazyFrame:
    """Per-capita post- and pre-transfer welfare, annual benefits, person weights.

    Requires hh_size, welfare, weight; uses benefit_amount, receives_benefit, n_children.
    Adds benefit (annual household benefit, currency/year), welfare_post and welfare_pre
    (per person per year, currency), person_weight (= weight x hh_size, persons).
    """
    names = households.collect_schema().names()
    yearly = 12.0 if benefit_period == "monthly" else 1.0
    benefit = (
        (pl.col("benefit_amount").fill_null(0.0) * yearly)
        if "benefit_amount" in names
        else pl.lit(0.0)
    )
    if "receives_benefit" in names:
        receives = pl.col("receives_benefit")
    elif "benefit_amount" in names:
        receives = benefit > 0
    else:  # no programme in this survey: unknown, not "nobody"
        receives = pl.lit(None, dtype=pl.Boolean)
    children = pl.col("n_children").fill_null(0) if "n_children" in names else pl.lit(0)
    scale = equivalence_scale(definition, hh_size=pl.col("hh_size"), n_children=children)
    per_unit = {
        "per_capita": pl.col("welfare"),
        "household": pl.col("welfare") / pl.col("hh_size"),
        "adult_equivalent": pl.col("welfare"),
    }
    post = per_unit[definition.basis]
    transfer_per_unit = benefit / (
        scale if definition.basis == "adult_equivalent" else pl.col("hh_size")
    )
    pre = (post - transfer_per_unit).clip(lower_bound=0.0) if definition.includes_benefit else post
    post_final = post if definition.includes_benefit else post + transfer_per_unit
    return households.with_columns(
        benefit.alias("benefit"),
        receives.alias("receives_benefit"),
        post_final.alias("welfare_post"),
        pre.alias("welfare_pre"),
        (pl.col("weight") * pl.col("hh_size")).alias("person_weight"),
    )


def weighted_quantile(values: pl.Series, weights: pl.Series, quantile: float) -> float:
    """The weighted quantile (inverse of the weighted empirical CDF, no interpolation)."""
    frame = pl.DataFrame({"v": values, "w": weights}).sort("v")
    cumulative = frame["w"].cum_sum() / frame["w"].sum()
    position = int((cumulative < quantile).sum())
    return float(frame["v"][min(position, frame.height - 1)])


def add_poverty_line(
    households: pl.DataFrame, regions: pl.DataFrame | None, line: PovertyLine
) -> pl.DataFrame:
    """Attach each household's poverty line and is_poor (pre-transfer welfare below the line).

    Requires region, welfare_pre, person_weight. Adds poverty_line (currency per person per year)
    and is_poor.
    """
    if line.method == "national":
        frame = households.with_columns(pl.lit(line.national_line).alias("poverty_line"))
    elif line.method in {"regional", "national_price_index"}:
        assert regions is not None
        lines = regions.select(
            "region",
            (
                pl.col("poverty_line")
                if line.method == "regional"
                else pl.col("price_index") * line.national_line
            ).alias("poverty_line"),
        )
        frame = households.join(lines, on="region", how="left", maintain_order="left")
    else:
        if line.method == "relative_percentile":
            assert line.percentile is not None
            value = weighted_quantile(
                households["welfare_pre"], households["person_weight"], line.percentile
            )
        else:
            assert line.median_share is not None
            value = line.median_share * weighted_quantile(
                households["welfare_pre"], households["person_weight"], 0.5
            )
        frame = households.with_columns(pl.lit(value).alias("poverty_line"))
    return frame.with_columns((pl.col("welfare_pre") < pl.col("poverty_line")).alias("is_poor"))


def add_quintiles(households: pl.DataFrame, *, weight: str = "person_weight") -> pl.DataFrame:
    """Pre-transfer welfare quintile (1 = poorest) cut at weighted quintiles of persons.

    Requires welfare_pre and the weight column; adds quintile (Int8) and in_bottom_40.
    """
    ordered = households.with_row_index("__order").sort("welfare_pre", "__order")
    share = (ordered[weight].cum_sum() - ordered[weight] / 2) / ordered[weight].sum()
    ordered = ordered.with_columns(
        ((share * 5).floor().clip(0, 4) + 1).cast(pl.Int8).alias("quintile"),
        (share < 0.4).alias("in_bottom_40"),
    )
    return ordered.sort("__order").drop("__order")


def prepare_households(
    households: pl.DataFrame,
    members_features: pl.DataFrame | None,
    regions: pl.DataFrame | None,
    *,
    welfare: WelfareDefinition,
    benefit_period: str,
    poverty_line: PovertyLine,
) -> pl.DataFrame:
    """From loaded households to the analysis frame every indicator stage reads."""
    frame = households.lazy()
    if members_features is not None:
        frame = attach_member_features(frame, members_features.lazy())
    frame = add_design_columns(frame)
    frame = add_welfare(frame, definition=welfare, benefit_period=benefit_period)
    analysis = add_poverty_line(frame.collect(), regions, poverty_line)
    analysis = add_quintiles(analysis)
    # the file's row order, whatever the joins did: folds and tie-breaks depend on it
    return analysis.sort("__source_row") if "__source_row" in analysis.columns else analysis
