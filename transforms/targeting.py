"""Targeting accuracy (indicators.md, 'Demand identification') with design-based standard errors.

Every rate is a ratio of weighted totals, estimated with :func:`transforms.survey.estimate_ratios`
on the full design, overall and for each group (domains are never subsets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

from transforms import catalogue
from transforms.config import SurveyDesign, Targeting
from transforms.summation import exact_cumulative, exact_total
from transforms.survey import PSU_CODE, STRATUM_CODE, Design, estimate_ratios

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

BOTTOM_SHARE = 0.40
RATES = catalogue.targeting_rates()
"""The published rates, in the catalogue's order (each has a ratio or difference below)."""
RATIOS: dict[str, tuple[str, str]] = {
    "poverty_rate": ("__poor", "__one"),
    "coverage": ("__selected", "__one"),
    "exclusion_error": ("__poor_excluded", "__poor"),
    "inclusion_error": ("__nonpoor_selected", "__selected"),
    "inclusion_rate_nonpoor": ("__nonpoor_selected", "__nonpoor"),
    "coverage_poor": ("__poor_selected", "__poor"),
    "cgh_share": ("__benefit_bottom40", "__benefit"),
}
DIFFERENCES = {"targeting_differential": ("coverage_poor", "inclusion_rate_nonpoor")}
PROPORTIONS = frozenset(
    {
        "poverty_rate",
        "coverage",
        "exclusion_error",
        "inclusion_error",
        "inclusion_rate_nonpoor",
        "coverage_poor",
        "cgh_share",
    }
)
"""Ratios that are proportions in [0, 1]: their 95 % CIs are logit-transformed (bounded);
the targeting differential keeps a Student-t interval (section 7.8 of the methodology)."""


_SEPARATOR = "\x1f"  # between a statistic's name and its selection's suffix


def unit_weight(unit: str) -> str:
    """The weight column for a targeting unit: person_weight (persons) or weight (households)."""
    return "person_weight" if unit == "persons" else "weight"


def analysis_design(
    unit: str, survey: SurveyDesign | None = None, columns: Sequence[str] = ()
) -> Design:
    """The survey design of the analysis frame, weighted for the targeting unit: strata and
    PSUs (their integer codes when the frame has them), the fpc when the survey maps it, the
    lonely-PSU rule and post-strata by region (``[design]``)."""
    settings = survey or SurveyDesign()
    coded = PSU_CODE in columns and STRATUM_CODE in columns  # the build adds them
    return Design(
        weight=unit_weight(unit),
        strata=STRATUM_CODE if coded else "strata",
        psu=PSU_CODE if coded else "psu",
        strata_labels="strata" if coded else None,
        fpc="fpc" if "fpc" in columns else None,
        lonely_psu=settings.lonely_psu,
        poststrata="region" if settings.poststratify == "region" else None,
    )


def available_groups(targeting: Targeting, columns: Sequence[str]) -> list[str]:
    """The configured breakdown groups that this survey can form (its frame has the column)."""
    return [group for group in targeting.groups if group in columns]


SELECTION_COLUMNS = (
    "__selected",
    "__poor_excluded",
    "__nonpoor_selected",
    "__poor_selected",
    "__benefit",
    "__benefit_bottom40",
)
"""Indicator columns that depend on the selection (the others, __one, __poor and __nonpoor,
are the same for every selection of a frame)."""


def add_indicator_columns(
    frame: Frame,
    *,
    selected: str,
    benefit: str | None,
    unit: str,
    suffix: str = "",
) -> Frame:
    """0/1 columns whose weighted ratios are the targeting rates.

    Requires is_poor, in_bottom_40, hh_size and the selected flag. ``benefit`` is the household
    benefit column for money-based CGH (the programme), None for beneficiary-based CGH (a PMT).
    ``suffix`` ends the names of the selection's own columns (:data:`SELECTION_COLUMNS`), so
    that several selections of one frame sit side by side (see :func:`targeting_rates`).
    """
    poor = pl.col("is_poor").cast(pl.Float64)
    chosen = pl.col(selected).cast(pl.Float64)
    if benefit is None:
        share_basis = chosen
    else:  # money: Σw·T under household weights equals Σω·T/n under person weights
        share_basis = pl.col(benefit) / pl.col("hh_size") if unit == "persons" else pl.col(benefit)
    own = [
        chosen,
        poor * (1 - chosen),
        (1 - poor) * chosen,
        poor * chosen,
        share_basis,
        share_basis * pl.col("in_bottom_40").cast(pl.Float64),
    ]
    return frame.with_columns(
        pl.lit(1.0).alias("__one"),
        poor.alias("__poor"),
        (1 - poor).alias("__nonpoor"),
        *[
            value.alias(f"{name}{suffix}")
            for name, value in zip(SELECTION_COLUMNS, own, strict=True)
        ],
    )


def targeting_rates(
    frame: pl.DataFrame, *, design: Design, groups: Sequence[str], suffix: str = ""
) -> pl.DataFrame:
    """Long estimates (group_type, group_value, statistic, estimate, se, ci_low, ci_high, n_obs)."""
    return targeting_rates_of(frame, design=design, groups=groups, suffixes=[suffix])[suffix]


def targeting_rates_of(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    design: Design,
    groups: Sequence[str],
    suffixes: Sequence[str],
) -> dict[str, pl.DataFrame]:
    """:func:`targeting_rates` of each selection added with one of ``suffixes``, keyed by
    suffix, from one pass of the estimator: a statistic's estimate and SE do not depend on the
    other statistics estimated beside it, so the rows are those of one call per selection."""
    own = {f"{name}{suffix}": (name, suffix) for suffix in suffixes for name in SELECTION_COLUMNS}

    def renamed(column: str, suffix: str) -> str:
        return f"{column}{suffix}" if column in SELECTION_COLUMNS else column

    def named(statistic: str, suffix: str) -> str:
        return f"{statistic}{_SEPARATOR}{suffix}"

    ratios = {
        named(name, s): (renamed(num, s), renamed(den, s))
        for s in suffixes
        for name, (num, den) in RATIOS.items()
    }
    differences = {
        named(name, s): (named(first, s), named(second, s))
        for s in suffixes
        for name, (first, second) in DIFFERENCES.items()
    }
    assert set(own) <= set(frame.collect_schema().names()), "add_indicator_columns first"
    long = estimate_ratios(
        frame,
        ratios=ratios,
        design=design,
        by=list(groups),
        differences=differences,
        bounded=[named(name, s) for s in suffixes for name in PROPORTIONS],
    )
    split = long.with_columns(pl.col("statistic").str.split_exact(_SEPARATOR, 1)).unnest(
        "statistic"
    )
    result = {}
    for s in suffixes:
        one = split.filter(pl.col("field_1") == s).drop("field_1").rename({"field_0": "statistic"})
        cgh = one.filter(pl.col("statistic") == "cgh_share").with_columns(
            pl.lit("cgh").alias("statistic"),
            *[(pl.col(c) / BOTTOM_SHARE).alias(c) for c in ("estimate", "se", "ci_low", "ci_high")],
        )
        result[s] = pl.concat([one.filter(pl.col("statistic").is_in(RATES)), cgh]).select(
            long.columns
        )
    return result


def wide_rates(long: pl.DataFrame) -> pl.DataFrame:
    """One row per group: each rate with _se, _ci_low, _ci_high, plus n_obs and population."""
    keys = ["group_type", "group_value"]
    base = long.filter(pl.col("statistic") == "poverty_rate").select(
        *keys, "n_obs", pl.col("denominator_total").alias("population")
    )
    pieces = [base]
    for rate in RATES:
        part = long.filter(pl.col("statistic") == rate).select(
            *keys,
            pl.col("estimate").alias(rate),
            pl.col("se").alias(f"{rate}_se"),
            pl.col("ci_low").alias(f"{rate}_ci_low"),
            pl.col("ci_high").alias(f"{rate}_ci_high"),
        )
        pieces.append(part)
    wide = pieces[0]
    for part in pieces[1:]:
        wide = wide.join(part, on=keys, how="left", nulls_equal=True, maintain_order="left")
    return wide


@dataclass(frozen=True)
class RateRanking:
    """Households ranked by score, highest first (ties in input order), with each one's
    midpoint: the weight ranked above it plus half its own. The rate rule at any coverage is
    one comparison against it, so the rules of one score array share a single sort."""

    order: np.ndarray
    midpoint: np.ndarray  # in rank order
    total_weight: float

    def select(self, target_coverage: float) -> np.ndarray:
        """Selections (in input order) up to weighted coverage ``target_coverage``."""
        selected = np.zeros(self.order.size, dtype=bool)
        selected[self.order] = self.midpoint <= target_coverage * self.total_weight
        return selected


def rate_ranking(score: np.ndarray, weight: np.ndarray) -> RateRanking:
    """The ranking of ``score`` that :func:`select_by_rate` uses, with exact weight sums."""
    order = np.argsort(-score, kind="stable")  # highest first; ties in input order
    ranked = weight[order]
    return RateRanking(order, exact_cumulative(ranked) - ranked / 2.0, exact_total(weight))


def select_by_rate(score: np.ndarray, weight: np.ndarray, *, target_coverage: float) -> np.ndarray:
    """Select the highest scores until weighted coverage reaches the target (midpoint rule).

    A household is selected when the weight ranked above it plus half its own weight is
    within target x total weight; ties keep input order, so the rule is deterministic.
    """
    return rate_ranking(score, weight).select(target_coverage)


def weighted_share(flag: pl.Series, weight: pl.Series) -> float:
    """Σw·flag / Σw."""
    return exact_total(flag.cast(pl.Float64) * weight) / exact_total(weight)
