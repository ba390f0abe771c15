"""Resource matching (indicators.md, 'Resource matching'): who gets how much, and where.

Survey indicators (coverage, incidence, adequacy, gap closure, tier shares) are ratios of
weighted totals estimated with :func:`transforms.survey.estimate_ratios` on the full design, so
each carries a Taylor-linearised SE and a 95 % CI. Head counts use the design's weight (persons
by default); money uses household weights w: a household amount A enters as A·w/d, so that
Σ d·(A·w/d) = Σ w·A whatever the design weight d is. Regional standards come from the regions
file, not from the sample: their se, ci and n_obs are null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from transforms import indicators
from transforms.config import Programme
from transforms.indicators import RatioIndicator, available
from transforms.summation import exact_sums, exact_total
from transforms.survey import Design, estimate_ratios

MATCHING_GROUPS = ("quintile", "region", "urban")
QUANTILE_GROUPS = ("quintile_post", "decile", "decile_post")
"""Further groups of the matching indicators, when targeting.groups asks for them (ASPIRE
reports coverage and incidence by post-transfer quintile too)."""
NEED_TIERS = ("extreme_poor", "poor", "near_poor", "non_poor")
NEED_TIER_CUTS = (0.5, 1.0, 1.5)  # y⁰ below these multiples of z: extreme poor, poor, near poor
DEFAULT_BAND_IS_POSITIVE = frozenset({"extreme_poor", "poor"})
PSU_CELLS_PER_PASS = 20_000_000  # PSUs × shares per estimator pass (about 160 MB of floats)
_STRATUM, _PSU, _FPC, _CELL = "__share_stratum", "__share_psu", "__share_fpc", "__share_cell"
_NULL = "\u2400"  # stands for a null group value while cells are pivoted
OUTPUT_SCHEMA: dict[str, type[pl.DataType]] = {
    "group_type": pl.String,
    "group_value": pl.String,
    "indicator": pl.String,
    "value": pl.Float64,
    "se": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n_obs": pl.Int64,
}
BOUNDED = frozenset({"coverage", "gap_closure"})
"""Domain rates that are proportions (logit-transformed CIs); adequacy is a ratio of money
and keeps a Student-t interval."""
DOMAIN_RATIOS: dict[str, tuple[str, str]] = {
    "coverage": ("__beneficiary", "__one"),
    "adequacy": ("__benefit_money_b", "__welfare_money_b"),
    "gap_closure": ("__gap_closed", "__gap_poor_b"),
}


@dataclass(frozen=True)
class MatchingResult:
    """Long indicator rows (columns of OUTPUT_SCHEMA; units come from the catalogue at
    publication) and notes on what was skipped and why."""

    indicators: pl.DataFrame
    notes: list[str] = field(default_factory=list)
    line_free: LineFree | None = None
    """What another line of the same programme can reuse (see :class:`LineFree`)."""


LINE_COLUMNS = frozenset({"is_poor", "poverty_line"})
"""The analysis columns that change with the poverty line (the rest do not)."""


@dataclass(frozen=True)
class LineFree:
    """A programme's indicators that no poverty line enters: beneficiary and benefit
    incidence, and the declared indicators when none reads a line column. The same for every
    line, so they are estimated once per programme (``declared`` None: estimate anew)."""

    incidence: pl.DataFrame
    declared: pl.DataFrame | None


def columns_read(item: RatioIndicator) -> set[str]:
    """The columns a declared indicator reads: those it requires and those its expressions
    name (``requires`` only has to list what may be missing from a survey)."""
    named = [*item.numerator.meta.root_names(), *item.denominator.meta.root_names()]
    return {*item.requires, *named}


def declared_indicator_rows(
    frame: pl.DataFrame,
    *,
    design: Design,
    groups: Sequence[str],
    declared: Sequence[RatioIndicator],
) -> pl.DataFrame:
    """The declared ratio indicators (transforms.indicators), overall and per group, with SEs."""
    if not declared:
        return empty_indicators()
    prepared = frame.lazy().with_columns(
        *[item.numerator.cast(pl.Float64).alias(f"__num_{i}") for i, item in enumerate(declared)],
        *[item.denominator.cast(pl.Float64).alias(f"__den_{i}") for i, item in enumerate(declared)],
    )
    ratios = {item.name: (f"__num_{i}", f"__den_{i}") for i, item in enumerate(declared)}
    bounded = {item.name for item in declared if item.unit == "fraction"}
    long = estimate_ratios(prepared, ratios=ratios, design=design, by=groups, bounded=bounded)
    return to_indicator_rows(long.rename({"statistic": "indicator"}))


def matching_indicators(
    frame: pl.DataFrame,
    regions: pl.DataFrame | None,
    *,
    programme: Programme,
    national_line: float | None,
    amounts_recorded: bool,
    design: Design,
    declared: Sequence[RatioIndicator] | None = None,
    extra_groups: Sequence[str] = (),
    line_free: LineFree | None = None,
) -> MatchingResult:
    """All resource-matching indicators of the analysis frame (one row per household).

    Requires weight, the design's columns, hh_size, benefit (currency/year per household),
    receives_benefit, welfare_pre and poverty_line (currency/person/year), is_poor; uses
    quintile, region, urban as groups when present. ``national_line`` is the national
    poverty line (regional coefficients, needs-based standards); ``amounts_recorded`` whether
    the survey maps benefit amounts. ``declared`` defaults to the indicators declared in
    transforms.indicators. ``extra_groups`` adds quintile_post, decile or decile_post when
    named. ``line_free``: the :class:`LineFree` rows of the same programme measured against
    another line (the result carries this line's, for the next).
    """
    notes: list[str] = []
    wanted = [*MATCHING_GROUPS, *(g for g in QUANTILE_GROUPS if g in extra_groups)]
    groups = [g for g in wanted if g in frame.columns]
    has_receipt, has_amounts = programme_status(
        frame, amounts_recorded=amounts_recorded, notes=notes
    )
    pieces = []
    incidence = empty_indicators()
    if has_receipt:
        prepared = add_matching_columns(frame, design=design, notes=notes)
        names = [*DOMAIN_RATIOS] if has_amounts else ["coverage"]
        pieces.append(domain_rates(prepared, design=design, groups=groups, names=names))
        incidence = (
            line_free.incidence
            if line_free is not None
            else incidence_shares(prepared, design=design, groups=groups, money=has_amounts)
        )
        pieces.append(incidence)
    if has_amounts:
        pieces.append(tier_matching(frame, programme=programme, design=design))
        notes += unreachable_bands(programme)
    standards, standard_notes = regional_standards(
        regions, frame, programme=programme, national_line=national_line
    )
    pieces.append(standards)
    notes += standard_notes
    usable, skipped = available(
        frame, indicators.DECLARED_INDICATORS if declared is None else declared
    )
    declared_rows = line_free.declared if line_free is not None else None
    if declared_rows is None:
        declared_rows = declared_indicator_rows(
            frame, design=design, groups=groups, declared=usable
        )
    pieces.append(declared_rows)
    notes += skipped
    reads_line = any(LINE_COLUMNS.intersection(columns_read(item)) for item in usable)
    return MatchingResult(
        pl.concat([empty_indicators(), *pieces], how="vertical"),
        notes,
        LineFree(incidence, None if reads_line else declared_rows),
    )


def programme_status(
    frame: pl.DataFrame, *, amounts_recorded: bool, notes: list[str]
) -> tuple[bool, bool]:
    """(receipt known, benefit amounts known), noting whatever makes indicators unavailable."""
    receipt = "receives_benefit" in frame.columns and (
        frame["receives_benefit"].null_count() < frame.height
    )
    mapped = amounts_recorded
    amounts = receipt and mapped and exact_total(frame["benefit"].fill_null(0.0)) > 0.0
    if not receipt:
        notes.append(
            "the survey does not record the programme (receives_benefit unknown): coverage, "
            "incidence, adequacy, gap closure and tier matching skipped"
        )
    elif not mapped:
        notes.append(
            "no benefit amounts in the survey: benefit_incidence, adequacy, gap_closure and "
            "tier matching skipped"
        )
    elif not amounts:
        notes.append("benefit amounts sum to zero in the sample: money-based indicators skipped")
    return receipt, amounts


def add_matching_columns(frame: pl.DataFrame, *, design: Design, notes: list[str]) -> pl.LazyFrame:
    """Per-household numerators and denominators of the matching ratios (a lazy plan).

    Adds __one, __beneficiary (B) and, as household money times w/d (d the design weight):
    __benefit_money (T), __benefit_money_b (B·T), __welfare_money_b (B·n·y⁰),
    __gap_poor_b (B·P·n·(z−y⁰)) and __gap_closed (B·P·min(T, n·(z−y⁰))).
    """
    unknown = frame["receives_benefit"].null_count()
    if unknown:
        notes.append(
            f"receives_benefit unknown for {unknown} households: taken as benefit > 0 for them"
        )
    receives = pl.col("receives_benefit").fill_null(pl.col("benefit").fill_null(0.0) > 0.0)
    beneficiary = receives.cast(pl.Float64)
    scale = pl.col("weight").cast(pl.Float64) / pl.col(design.weight).cast(pl.Float64)
    benefit = pl.col("benefit").fill_null(0.0).cast(pl.Float64)
    size = pl.col("hh_size").cast(pl.Float64)
    gap = size * (pl.col("poverty_line") - pl.col("welfare_pre")).clip(lower_bound=0.0)
    poor_beneficiary = beneficiary * pl.col("is_poor").cast(pl.Float64)
    return frame.lazy().with_columns(
        pl.lit(1.0).alias("__one"),
        beneficiary.alias("__beneficiary"),
        (benefit * scale).alias("__benefit_money"),
        (beneficiary * benefit * scale).alias("__benefit_money_b"),
        (beneficiary * size * pl.col("welfare_pre") * scale).alias("__welfare_money_b"),
        (poor_beneficiary * gap * scale).alias("__gap_poor_b"),
        (poor_beneficiary * pl.min_horizontal(benefit, gap) * scale).alias("__gap_closed"),
    )


def domain_rates(
    prepared: pl.LazyFrame, *, design: Design, groups: Sequence[str], names: Sequence[str]
) -> pl.DataFrame:
    """coverage, adequacy and gap_closure overall and within each group (domain estimates)."""
    long = estimate_ratios(
        prepared,
        ratios={name: DOMAIN_RATIOS[name] for name in names},
        design=design,
        by=groups,
        bounded=[name for name in names if name in BOUNDED],
    )
    return to_indicator_rows(long.rename({"statistic": "indicator"}))


def incidence_shares(
    prepared: pl.LazyFrame, *, design: Design, groups: Sequence[str], money: bool
) -> pl.DataFrame:
    """Each group's share of all beneficiaries (and of all benefits) with linearised SEs.

    Requires the columns of :func:`add_matching_columns`. n_obs counts the group's households
    that contribute to the numerator (beneficiary households; households paid).
    """
    bases = {"beneficiary_incidence": "__beneficiary"}
    if money:
        bases["benefit_incidence"] = "__benefit_money"
    if not groups:
        return empty_indicators()
    shares = shares_by_group(prepared, design=design, bases=bases, groups={g: None for g in groups})
    return to_indicator_rows(shares)


def population_shares(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    design: Design,
    bases: Mapping[str, str],
    group: str,
    values: Sequence[str | None] | None = None,
) -> pl.DataFrame:
    """Share of each value of ``group`` in the population total Σ d·y, y each of ``bases``.

    A share Σ_g d·y / Σ d·y is a ratio over the whole population, not a domain estimate: its
    numerator is y·1[g] and its denominator y for everybody. Because the linearised variance
    only needs PSU totals, households are first summed to PSU × group (one pass over the
    households; memory grows with PSUs, not households); :func:`estimate_ratios` then runs on
    the PSU-level frame with unit weights, which gives the same estimates, SEs and degrees of
    freedom as on households. ``bases`` maps an indicator name to its column y; ``values``
    lists the values to report (default: those present). Returns indicator, group_value,
    estimate, se, ci_low, ci_high, n_obs (households with y ≠ 0).
    """
    shares = shares_by_group(frame, design=design, bases=bases, groups={group: values})
    return shares.drop("group_type")


def shares_by_group(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    design: Design,
    bases: Mapping[str, str],
    groups: Mapping[str, Sequence[str | None] | None],
) -> pl.DataFrame:
    """:func:`population_shares` of several groups (each with its ``values``, None: those
    present), with a group_type column: every group's PSU × value totals side by side in one
    PSU-level frame, estimated in as few passes as :data:`PSU_CELLS_PER_PASS` allows (a share's
    estimate and SE do not depend on the shares estimated beside it)."""
    unit = [_STRATUM, _PSU, *([_FPC] if design.fpc else [])]
    per_group = {g: psu_cell_totals(frame, design=design, bases=bases, group=g) for g in groups}
    units = (  # the PSUs and their totals of each base: the same whatever the group
        exact_sums(
            next(iter(per_group.values())),
            by=unit,
            columns=[f"__dy{i}" for i in range(len(bases))],
        )
        .rename({f"__dy{i}": f"__total{i}" for i in range(len(bases))})
        .sort(unit)
        .with_row_index("__psu_index")
        .with_columns(
            pl.col(_STRATUM).rank("dense").alias("__stratum_index"), pl.lit(1.0).alias("__unit")
        )
    )
    columns: dict[str, np.ndarray] = {}  # one PSU-level column per group × base × value
    labels: dict[str, tuple[str, str, str, int]] = {}  # column -> group, base, value, base index
    counts = []
    for g, (group, cells) in enumerate(per_group.items()):
        cells = cells.join(
            units.select(*unit, "__psu_index"), on=unit, how="left", maintain_order="left"
        )
        values = groups[group]
        wanted = (
            cells[_CELL].unique().sort().to_list()
            if values is None
            else [_NULL if value is None else value for value in values]
        )
        codes = (
            cells[_CELL]
            .replace_strict({v: k for k, v in enumerate(wanted)}, default=-1, return_dtype=pl.Int64)
            .to_numpy()
        )
        for i, name in enumerate(bases):
            totals = cell_matrix(cells, codes, f"__dy{i}", n_psu=units.height, n_cells=len(wanted))
            for k, value in enumerate(wanted):
                columns[f"__cell{g}_{i}_{k}"] = totals[:, k]
                labels[f"__cell{g}_{i}_{k}"] = (group, name, value, i)
            counts.append(
                cells.group_by(_CELL)
                .agg(pl.col(f"__nonzero{i}").sum().alias("n_obs"))
                .with_columns(pl.lit(group).alias("group_type"), pl.lit(name).alias("indicator"))
            )
    psu_design = Design(
        weight="__unit",
        strata="__stratum_index",
        psu="__psu_index",
        fpc=_FPC if design.fpc else None,
        lonely_psu=design.lonely_psu,
    )
    names = list(columns)
    per_pass = max(1, PSU_CELLS_PER_PASS // max(units.height, 1))
    pieces = []
    for start in range(0, len(names), per_pass):
        batch = names[start : start + per_pass]
        wide = units.with_columns(pl.Series(c, columns[c]) for c in batch)
        ratios = {c: (c, f"__total{labels[c][3]}") for c in batch}
        pieces.append(estimate_ratios(wide, ratios=ratios, design=psu_design, bounded=batch))
    long = pl.concat(pieces)
    label = {part: {c: labels[c][j] for c in names} for j, part in enumerate(("g", "b", "v"))}
    return (
        long.with_columns(
            pl.col("statistic").replace_strict(label["g"]).alias("group_type"),
            pl.col("statistic").replace_strict(label["b"]).alias("indicator"),
            pl.col("statistic").replace_strict(label["v"]).alias(_CELL),
        )
        .drop("n_obs")  # PSUs here; households come from the counts
        .join(
            pl.concat(counts),
            on=["group_type", "indicator", _CELL],
            how="left",
            maintain_order="left",
        )
        .select(
            "group_type",
            "indicator",
            pl.when(pl.col(_CELL) != _NULL).then(pl.col(_CELL)).alias("group_value"),
            "estimate",
            "se",
            "ci_low",
            "ci_high",
            pl.col("n_obs").fill_null(0).cast(pl.Int64),
        )
    )


def cell_matrix(
    cells: pl.DataFrame, codes: np.ndarray, column: str, *, n_psu: int, n_cells: int
) -> np.ndarray:
    """PSU × cell matrix of ``column`` (each PSU × cell pair occurs once in ``cells``)."""
    matrix = np.zeros((n_psu, n_cells))
    keep = codes >= 0
    rows = cells["__psu_index"].to_numpy()[keep]
    matrix[rows, codes[keep]] = cells[column].to_numpy()[keep]
    return matrix


def psu_cell_totals(
    frame: pl.DataFrame | pl.LazyFrame, *, design: Design, bases: Mapping[str, str], group: str
) -> pl.DataFrame:
    """Per stratum × PSU (× fpc) × group value: Σ d·y (__dy{i}) and households with y ≠ 0
    (__nonzero{i}) for the i-th base; a null group value becomes the _NULL label."""
    psu = pl.col(design.psu) if design.psu else pl.int_range(pl.len())
    keys = [
        (pl.col(design.strata) if design.strata else pl.lit(0)).alias(_STRATUM),
        psu.alias(_PSU),
        *([pl.col(design.fpc).alias(_FPC)] if design.fpc else []),
    ]
    weight = pl.col(design.weight).cast(pl.Float64)
    columns = list(bases.values())
    lazy = frame.lazy().select(
        *keys,
        pl.col(group).cast(pl.String).fill_null(_NULL).alias(_CELL),
        *[(weight * pl.col(c).cast(pl.Float64)).alias(f"__dy{i}") for i, c in enumerate(columns)],
        *[(pl.col(c) != 0).cast(pl.Int64).alias(f"__nonzero{i}") for i, c in enumerate(columns)],
    )
    keys_out = [_STRATUM, _PSU, *([_FPC] if design.fpc else []), _CELL]
    sums = [c for c in lazy.collect_schema().names() if c not in keys_out]
    return exact_sums(lazy, by=keys_out, columns=sums)


def to_indicator_rows(long: pl.DataFrame) -> pl.DataFrame:
    """estimate_ratios rows (with an ``indicator`` column) in the output shape."""
    return long.select(
        "group_type",
        "group_value",
        "indicator",
        pl.col("estimate").alias("value"),
        "se",
        "ci_low",
        "ci_high",
        pl.col("n_obs").cast(pl.Int64),
    ).cast(OUTPUT_SCHEMA)  # type: ignore[arg-type]


def empty_indicators() -> pl.DataFrame:
    """No rows, the output columns."""
    return pl.DataFrame(schema=OUTPUT_SCHEMA)


def need_tier(*, welfare: pl.Expr, line: pl.Expr) -> pl.Expr:
    """extreme_poor (y⁰ < 0.5z), poor (< z), near_poor (< 1.5z) or non_poor."""
    extreme, poor, near = NEED_TIER_CUTS
    return (
        pl.when(welfare < extreme * line)
        .then(pl.lit("extreme_poor"))
        .when(welfare < poor * line)
        .then(pl.lit("poor"))
        .when(welfare < near * line)
        .then(pl.lit("near_poor"))
        .otherwise(pl.lit("non_poor"))
    )


def benefit_band(per_capita: pl.Expr, bounds: Sequence[float]) -> pl.Expr:
    """Band 0 when nothing is paid; band k when b_(k−1) < T/n ≤ b_k (b_0 = 0); last band open."""
    above = [(per_capita > bound).cast(pl.Int32) for bound in sorted(set(bounds))]
    positive = pl.lit(1, pl.Int32) + (pl.sum_horizontal(above) if above else pl.lit(0, pl.Int32))
    return pl.when(per_capita > 0.0).then(positive).otherwise(pl.lit(0, pl.Int32))


def band_matches(tier: pl.Expr, band: pl.Expr, *, programme: Programme) -> pl.Expr:
    """True when the band is the one the need tier calls for (configured, else the default)."""
    configured = programme.need_tier_bands or {}
    rule = pl.lit(False)
    for name in NEED_TIERS:
        if name in configured:
            wanted = band == configured[name]
        else:
            wanted = band > 0 if name in DEFAULT_BAND_IS_POSITIVE else band == 0
        rule = pl.when(tier == name).then(wanted).otherwise(rule)
    return rule


def unreachable_bands(programme: Programme) -> list[str]:
    """Notes for need_tier_bands entries naming a band beyond the configured bounds."""
    last = len(set(programme.benefit_tier_bounds)) + 1
    return [
        f"programme.need_tier_bands.{tier} = {band} but the last band is {last}: "
        f"every {tier} person counts as a mismatch"
        for tier, band in (programme.need_tier_bands or {}).items()
        if band > last or band < 0
    ]


def tier_matching(frame: pl.DataFrame, *, programme: Programme, design: Design) -> pl.DataFrame:
    """Need tier × benefit band share matrix (tier_share) and tier_mismatch_rate, with SEs.

    Requires welfare_pre, poverty_line, benefit, hh_size. Cells are labelled
    '<need_tier>|band<k>' under group_type 'tier'; every cell of the matrix is published, each
    a share of all persons (n_obs: households in the cell).
    """
    bounds = programme.benefit_tier_bounds
    tier = need_tier(welfare=pl.col("welfare_pre"), line=pl.col("poverty_line"))
    per_capita = pl.col("benefit").fill_null(0.0) / pl.col("hh_size")
    classified = (
        frame.lazy()
        .with_columns(tier.alias("__tier"), benefit_band(per_capita, bounds).alias("__band"))
        .with_columns(
            pl.lit(1.0).alias("__one"),
            pl.format("{}|band{}", "__tier", "__band").alias("__cell"),
            (~band_matches(pl.col("__tier"), pl.col("__band"), programme=programme))
            .cast(pl.Float64)
            .alias("__mismatch"),
        )
    )
    cells = [f"{t}|band{b}" for t in NEED_TIERS for b in range(len(set(bounds)) + 2)]
    shares = population_shares(
        classified, design=design, bases={"tier_share": "__one"}, group="__cell", values=cells
    ).with_columns(pl.lit("tier").alias("group_type"))
    mismatch = estimate_ratios(
        classified,
        ratios={"tier_mismatch_rate": ("__mismatch", "__one")},
        design=design,
        bounded=["tier_mismatch_rate"],
    ).rename({"statistic": "indicator"})
    return pl.concat([to_indicator_rows(shares), to_indicator_rows(mismatch)])


def region_population(regions: pl.DataFrame) -> tuple[pl.Expr, str]:
    """Population weights of regions: regions.population when complete, else survey persons."""
    if "population" in regions.columns and regions["population"].null_count() == 0:
        return pl.col("population").cast(pl.Float64), "regions.population"
    return pl.col("__survey_persons"), "the survey's person weights"


def regional_standards(
    regions: pl.DataFrame | None,
    frame: pl.DataFrame,
    *,
    programme: Programme,
    national_line: float | None,
) -> tuple[pl.DataFrame, list[str]]:
    """Per-region cost coefficients and benefit standards, and the CV of real standards.

    regional_coefficient = price_index (else the region's line ÷ the national line);
    needs_based_standard = national floor × coefficient; standard_gap = (benefit_standard −
    needs_based) ÷ needs_based; real_standard = benefit_standard ÷ coefficient; real_standard_cv
    = population-weighted SD ÷ mean of real_standard across regions.
    """
    if regions is None:
        return empty_indicators(), ["no regions file: regional standards skipped"]
    notes: list[str] = []
    persons = exact_sums(
        frame.select(
            pl.col("region").cast(pl.String), pl.col("person_weight").alias("__survey_persons")
        ),
        by=["region"],
        columns=["__survey_persons"],
    )
    table = regions.with_columns(pl.col("region").cast(pl.String)).join(
        persons, on="region", how="left", maintain_order="left"
    )
    population, population_source = region_population(regions)
    table = table.with_columns(population.alias("__population"))
    coefficient = regional_coefficient(table, national_line=national_line, notes=notes)
    if coefficient is None:
        return empty_indicators(), notes
    table = table.with_columns(coefficient.alias("regional_coefficient"))
    values = {"regional_coefficient": pl.col("regional_coefficient")}
    floor = programme.national_floor or national_line
    if floor is None:
        notes.append(
            "no programme.national_floor nor poverty_line.national_line: "
            "needs_based_standard and standard_gap skipped"
        )
    else:
        values["needs_based_standard"] = floor * pl.col("regional_coefficient")
    if "benefit_standard" in table.columns:
        standard = pl.col("benefit_standard").cast(pl.Float64)
        values["benefit_standard"] = standard
        values["real_standard"] = standard / pl.col("regional_coefficient")
        if floor is not None:
            needs = floor * pl.col("regional_coefficient")
            values["standard_gap"] = (standard - needs) / needs
    else:
        notes.append("regions file has no benefit_standard: standard comparisons skipped")
    computed = table.with_columns([expr.alias(name) for name, expr in values.items()])
    rows = region_rows(computed, names=list(values))
    if "real_standard" in values:
        cv = real_standard_cv(computed, notes=notes, population_source=population_source)
        rows = pl.concat([rows, cv])
    return rows, notes


def regional_coefficient(
    table: pl.DataFrame, *, national_line: float | None, notes: list[str]
) -> pl.Expr | None:
    """price_index, else poverty_line ÷ the national line; None (with a note) if neither."""
    candidates = []
    if "price_index" in table.columns:
        candidates.append(pl.col("price_index").cast(pl.Float64))
    if "poverty_line" in table.columns:
        national = national_line
        if national is None:
            lines = table.filter(
                pl.col("poverty_line").is_not_null() & (pl.col("__population") > 0)
            )
            weighted = exact_total(lines["poverty_line"] * lines["__population"])
            national = weighted / exact_total(lines["__population"])
            notes.append(
                "no poverty_line.national_line: regional lines divided by their "
                f"population-weighted mean ({national:.6g}) where price_index is missing"
            )
        candidates.append(pl.col("poverty_line").cast(pl.Float64) / national)
    if not candidates:
        notes.append("regions file has neither price_index nor poverty_line: standards skipped")
        return None
    return pl.coalesce(candidates)


def region_rows(table: pl.DataFrame, *, names: Sequence[str]) -> pl.DataFrame:
    """One row per region × indicator (non-null values only); se, ci, n_obs null."""
    long = table.select(
        pl.col("region").alias("group_value"), *[pl.col(name) for name in names]
    ).unpivot(index="group_value", variable_name="indicator", value_name="value")
    return (
        long.filter(pl.col("value").is_not_null() & pl.col("value").is_finite())
        .with_columns(
            pl.lit("region").alias("group_type"),
            *[pl.lit(None, pl.Float64).alias(c) for c in ("se", "ci_low", "ci_high")],
            pl.lit(None, pl.Int64).alias("n_obs"),
        )
        .sort("indicator", "group_value")
        .select(list(OUTPUT_SCHEMA))
        .cast(OUTPUT_SCHEMA)  # type: ignore[arg-type]
    )


def real_standard_cv(
    table: pl.DataFrame, *, notes: list[str], population_source: str
) -> pl.DataFrame:
    """Population-weighted coefficient of variation of real_standard across regions."""
    used = table.filter(
        pl.col("real_standard").is_not_null()
        & pl.col("real_standard").is_finite()
        & (pl.col("__population").fill_null(0.0) > 0.0)
    )
    value = weighted_cv(used["real_standard"], used["__population"]) if used.height else None
    notes.append(f"real_standard_cv over {used.height} regions, weighted by {population_source}")
    return pl.DataFrame(
        {
            "group_type": ["all"],
            "group_value": ["all"],
            "indicator": ["real_standard_cv"],
            "value": [value],
            "se": [None],
            "ci_low": [None],
            "ci_high": [None],
            "n_obs": [None],
        },
        schema=OUTPUT_SCHEMA,
    )


def weighted_cv(values: pl.Series, weights: pl.Series) -> float | None:
    """sqrt(Σp·(x − x̄)² / Σp) ÷ x̄ with x̄ = Σp·x / Σp; None when x̄ is 0."""
    total = exact_total(weights)
    mean = exact_total(values * weights) / total
    if mean == 0.0:
        return None
    variance = exact_total(weights * (values - mean) ** 2) / total
    return variance**0.5 / mean
