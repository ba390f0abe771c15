"""The analysis frame: one row per household with its design, welfare, programmes and lines.

Every stage after ingest reads this frame. It holds, per household: the design columns
(weight, strata, psu; person_weight = weight x hh_size), pre- and post-transfer welfare per
person (or adult equivalent), each programme's annual benefit and receipt, each poverty line's
value and poverty status, and quantiles of welfare. A *view* (:func:`view`) picks one programme
and one line and names them as every indicator function expects (``receives_benefit``,
``benefit``, ``welfare_post``, ``poverty_line``, ``is_poor``), so indicators are written once
and measured for every programme × line.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from transforms.config import (
    ANY_PROGRAMME,
    ConfigError,
    PovertyLine,
    Programme,
    Targeting,
    WelfareDefinition,
)
from transforms.definitions import analysis_notes, design_summary
from transforms.inputs import programme_column
from transforms.summation import decode_sql, encode_sql, exact_cumulative, exact_total, shift_sql
from transforms.survey import poststratify, with_codes

CHILD_MAX_AGE = 14
ELDERLY_MIN_AGE = 65
SHIFT = "__shift_"
"""Prefix of the column holding an amount column's fixed-point shift (transforms.summation)."""


def member_features_sql(members: str, columns: Collection[str]) -> str:
    """DuckDB SQL aggregating the member table ``members`` to one row per hh_id.

    Requires hh_id, age, __source_row; uses is_head, sex, education_years, disabled, employed
    when in ``columns``. Counts members, children (0-14), elderly (65+), working age (15-64),
    disabled, employed; dependency_ratio = (children + elderly) / max(working age, 1);
    share_disabled; the head's age, sex and education: the flagged head, else the oldest
    member, ties to the first row in the file; n_heads; and for each member-level programme
    (``receives__i``, ``amount__i``) whether any member receives it and the members' total,
    added exactly (fixed point, as transforms.summation). DuckDB spills to disk when the
    households do not fit in memory, so the member file is never held whole.
    """

    def flag(name: str) -> str:
        return f"coalesce({name}, false)" if name in columns else "false"

    def optional(name: str) -> str:
        return name if name in columns else "NULL"

    # member-level programmes: a household receives when any member does; amounts add up
    # exactly, as whole numbers of 2^-shift (one shift per amount column, from `shifts`)
    amounts = sorted(name for name in columns if name.startswith("amount__"))
    programmes = "".join(
        f",\n                bool_or({name}) AS {name}"
        if name.startswith("receives__")
        else f",\n                sum({encode_sql(name, SHIFT + name)}) AS {name}"
        for name in sorted(columns)
        if name.startswith(("receives__", "amount__"))
    )
    programme_names = "".join(
        f",\n            {name}"
        if name.startswith("receives__")
        else f",\n            {decode_sql(name, SHIFT + name)} AS {name}"
        for name in sorted(columns)
        if name.startswith(("receives__", "amount__"))
    )
    shifts = ",\n                ".join(f"{shift_sql(name)} AS {SHIFT}{name}" for name in amounts)
    scales = (
        f"""-- each amount column's fixed point, for exact sums (transforms.summation)
        shifts AS (
            SELECT
                {shifts}
            FROM {members}
        ),"""
        if amounts
        else ""
    )
    joined = " CROSS JOIN shifts" if amounts else ""

    return f"""
        WITH {scales}
        ranked AS (
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
                count(*) FILTER ({flag("is_head")})::INTEGER AS n_heads{programmes}
            FROM ranked{joined}
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
            n_heads{programme_names}
        FROM counted{joined}
    """


def in_household_order(features: pl.DataFrame, household_ids: pl.Series) -> pl.DataFrame:
    """The member aggregates with one row per household, in the households' order (all null
    but hh_id where a household has no member row); ``features`` itself when already so.

    Each household's aggregate row is looked up and gathered: a left join would copy every
    household's columns too (at 1M households the build peaked 0.22 GiB higher)."""
    if features.height == household_ids.len() and features["hh_id"].equals(household_ids):
        return features
    row = "__features_row"
    found = household_ids.to_frame("hh_id").join(
        features.select("hh_id").with_row_index(row), on="hh_id", how="left", maintain_order="left"
    )
    gathered = features.drop("hh_id").gather(found[row])
    return gathered.insert_column(0, household_ids.alias("hh_id"))


def attach_member_features(households: pl.DataFrame, features: pl.DataFrame) -> pl.LazyFrame:
    """Member aggregates beside each household (null where it has no member row), as a left
    join on hh_id would give (a clashing name gets ``_right``); adds has_elderly, has_disabled
    and (when the households give a size) hh_size_matches_members. Features already
    :func:`in_household_order` are placed beside the households without a copy."""
    gathered = in_household_order(features, households["hh_id"]).drop("hh_id")
    renamed = {c: f"{c}_right" for c in gathered.columns if c in households.columns}
    joined = households.hstack(gathered.rename(renamed).get_columns()).lazy()
    flags = [
        (pl.col("n_elderly").fill_null(0) > 0).alias("has_elderly"),
        (pl.col("n_disabled").fill_null(0) > 0).alias("has_disabled"),
    ]
    if "hh_size" in households.columns:
        flags.append((pl.col("n_members") == pl.col("hh_size")).alias("hh_size_matches_members"))
    return joined.with_columns(flags)


def in_one_chunk(frame: pl.LazyFrame) -> pl.DataFrame:
    """``frame`` collected with one memory chunk per column, sharing its inputs' columns.

    Polars copies a frame whose columns are chunked unlike each other at every expression over
    it (the overlap and the poverty lines would). The in-memory engine keeps inputs of one
    chunk as they are; the streaming engine cuts every column into morsels, which a rechunk
    then copies (0.33 GiB at 1M households)."""
    return frame.collect(engine="in-memory").rechunk()


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


PROGRAMME_PREFIX = ("receives_benefit__", "benefit__")
NATIONAL = "national"


def programme_key(index: int | None) -> str:
    """The suffix of a programme's analysis columns: its position, or 'any'."""
    return ANY_PROGRAMME if index is None else str(index)


def add_shape(frame: pl.LazyFrame, *, level: str) -> tuple[pl.LazyFrame, list[str]]:
    """Region and household size where the survey lacks them, and notes saying so.

    No region column: one region, 'national'. No hh_size: the member count (households
    without member rows count 1, noted), or 1 in a person-level file.
    """
    names = frame.collect_schema().names()
    notes, additions = [], []
    if "region" not in names:
        additions.append(pl.lit(NATIONAL).alias("region"))
        notes.append("no region column: the audit is national only (region 'national')")
    if "hh_size" not in names:
        if level == "persons":
            additions.append(pl.lit(1, pl.Int64).alias("hh_size"))
            notes.append("person-level file: each row is its own unit (hh_size 1)")
        elif "n_members" in names:
            additions.append(pl.col("n_members").fill_null(1).cast(pl.Int64).alias("hh_size"))
            notes.append("hh_size counted from the members file (1 where no member row loaded)")
    return (frame.with_columns(additions) if additions else frame), notes


def add_programmes(frame: pl.LazyFrame, programmes: Sequence[Programme]) -> pl.LazyFrame:
    """Each programme's annual household benefit and receipt, and the same for 'any'.

    Reads ``receives__i`` and ``amount__i`` (staged from the programme's raw columns, summed
    over members for a member-level programme). Adds ``benefit__i`` (currency/year, 0 when
    not paid or not recorded), ``receives_benefit__i`` (receipt, else amount > 0) and, when
    there is more than one programme, ``benefit__any`` (the sum) and ``receives_benefit__any``
    (at least one).
    """
    names = frame.collect_schema().names()
    columns = []
    for index, programme in enumerate(programmes):
        yearly = 12.0 if programme.benefit_period == "monthly" else 1.0
        amount = programme_column("amount", index)
        receives = programme_column("receives", index)
        benefit = (
            pl.col(amount).cast(pl.Float64).fill_null(0.0) * yearly
            if amount in names
            else pl.lit(0.0)
        )
        receipt = pl.col(receives) if receives in names else benefit > 0
        key = programme_key(index)
        columns += [benefit.alias(f"benefit__{key}"), receipt.alias(f"receives_benefit__{key}")]
    framed = frame.with_columns(columns)
    if len(programmes) > 1:
        keys = [programme_key(i) for i in range(len(programmes))]
        framed = framed.with_columns(
            pl.sum_horizontal([f"benefit__{k}" for k in keys]).alias(f"benefit__{ANY_PROGRAMME}"),
            pl.any_horizontal([f"receives_benefit__{k}" for k in keys]).alias(
                f"receives_benefit__{ANY_PROGRAMME}"
            ),
        )
    return framed


def add_welfare(
    households: pl.LazyFrame, *, definition: WelfareDefinition, programmes: Sequence[Programme]
) -> pl.LazyFrame:
    """Per-person pre- and post-transfer welfare and person weights.

    Requires hh_size, welfare, weight and the programme columns of :func:`add_programmes`;
    uses n_children (adult equivalents). Adds ``welfare_divisor`` (persons or adult
    equivalents a household benefit is shared by), ``welfare_pre`` (welfare without the
    programmes the aggregate includes; never below 0 unless negative welfare is kept),
    ``welfare_post`` (welfare with every programme: the aggregate plus those it does not
    include), both currency per person per year, and ``person_weight`` (weight x hh_size).
    A negative welfare is set to 0 first when welfare.negative = 'bottom_code'.
    """
    names = households.collect_schema().names()
    children = pl.col("n_children").fill_null(0) if "n_children" in names else pl.lit(0)
    scale = equivalence_scale(definition, hh_size=pl.col("hh_size"), n_children=children)
    welfare = pl.col("welfare").cast(pl.Float64)
    per_unit = welfare / pl.col("hh_size") if definition.basis == "household" else welfare
    if definition.negative_policy == "bottom_code":
        per_unit = per_unit.clip(lower_bound=0.0)

    def shared(which: Sequence[int]) -> pl.Expr:
        benefits = [pl.col(f"benefit__{programme_key(i)}") for i in which]
        return (pl.sum_horizontal(benefits) if benefits else pl.lit(0.0)) / pl.col(
            "welfare_divisor"
        )

    included = [i for i, p in enumerate(programmes) if p.included_in_welfare]
    excluded = [i for i, p in enumerate(programmes) if not p.included_in_welfare]
    pre = per_unit - shared(included)
    if included and definition.negative_policy != "keep":
        pre = pre.clip(lower_bound=0.0)
    return households.with_columns(scale.alias("welfare_divisor")).with_columns(
        (per_unit + shared(excluded)).alias("welfare_post"),
        pre.alias("welfare_pre"),
        (pl.col("weight") * pl.col("hh_size")).alias("person_weight"),
    )


def poststratified(frame: pl.DataFrame, regions: pl.DataFrame | None) -> pl.DataFrame:
    """Person weights scaled so that each region's survey persons equal regions.population
    (R survey's postStratify on region), household weights = person weights / hh_size.

    Raises ConfigError naming design.poststratify when a region lacks a population or the
    regions file lists a populated region the sample does not have.
    """
    if regions is None or "population" not in regions.columns:
        raise ConfigError("design.poststratify = 'region' needs regions.population")
    totals = {
        str(region): float(population)
        for region, population in regions.select("region", "population").iter_rows()
        if population is not None
    }
    try:
        scaled = poststratify(
            frame.with_columns(pl.col("region").cast(pl.String)),
            weight="person_weight",
            poststrata="region",
            totals=totals,
        ).collect()
    except ValueError as error:
        raise ConfigError(f"design.poststratify = 'region': {error}") from None
    return scaled.with_columns((pl.col("person_weight") / pl.col("hh_size")).alias("weight"))


def unit_weight_column(unit: str) -> str:
    """person_weight for persons, weight for households."""
    return "person_weight" if unit == "persons" else "weight"


def weighted_quantile(values: pl.Series, weights: pl.Series, quantile: float) -> float:
    """The weighted quantile (inverse of the weighted empirical CDF, no interpolation): the
    smallest value whose cumulative weight share reaches ``quantile``, so the share strictly
    below it is under ``quantile`` by less than one unit's weight."""
    frame = pl.DataFrame({"v": values, "w": weights}).sort("v", maintain_order=True)
    cumulative = exact_cumulative(frame["w"]) / exact_total(frame["w"])
    position = int((cumulative < quantile).sum())
    return float(frame["v"][min(position, frame.height - 1)])


ROUNDING = 1e-12
"""Cumulative weight shares are sums of floats: a share within this of a cut point is on it."""


def first_above_share(values: pl.Series, weights: pl.Series, share: float) -> float:
    """The first value, in ascending order, whose cumulative weight share exceeds ``share``.

    As the poverty line at the ``share`` percentile, with poor meaning strictly below it, the
    units below the line hold the largest share that does not exceed ``share``: exactly
    ``share`` when the weights allow it (no ties at the line), less by under one unit's weight
    otherwise.
    """
    frame = pl.DataFrame({"v": values, "w": weights}).sort("v", maintain_order=True)
    cumulative = exact_cumulative(frame["w"]) / exact_total(frame["w"])
    position = int((cumulative <= share + ROUNDING).sum())
    return float(frame["v"][min(position, frame.height - 1)])


def relative_line(frame: pl.DataFrame, line: PovertyLine, *, unit: str) -> float:
    """The value of a relative line over ``unit``: a weighted percentile, or a share of the
    weighted median or mean of pre-transfer welfare."""
    welfare, weights = frame["welfare_pre"], frame[unit_weight_column(unit)]
    if line.method == "relative_percentile":
        assert line.percentile is not None
        return first_above_share(welfare, weights, line.percentile)
    if line.method == "relative_median":
        assert line.median_share is not None
        return line.median_share * weighted_quantile(welfare, weights, 0.5)
    assert line.mean_share is not None
    mean = exact_total(welfare * weights) / exact_total(weights)
    return line.mean_share * mean


def line_values(
    frame: pl.DataFrame, regions: pl.DataFrame | None, line: PovertyLine, *, unit: str
) -> pl.DataFrame:
    """The line's value: one row (region null) for a national value, one per region where it
    varies; columns region, value (currency per person per year)."""
    if line.method in {"regional", "national_price_index"}:
        assert regions is not None
        value = (
            pl.col("poverty_line")
            if line.method == "regional"
            else pl.col("price_index") * line.national_line
        )
        return regions.select(
            pl.col("region").cast(pl.String), value.cast(pl.Float64).alias("value")
        )
    if line.method == "national":
        number = line.national_line
    elif line.method == "international":
        number = line.international_value
    else:
        number = relative_line(frame, line, unit=unit)
    return pl.DataFrame(
        {"region": [None], "value": [number]}, schema={"region": pl.String, "value": pl.Float64}
    )


def line_notes(
    frame: pl.DataFrame, lines: Sequence[PovertyLine], *, default_unit: str, headcount_unit: str
) -> list[str]:
    """What a reader of a relative percentile line should know: units tied at the line (none
    is poor, so the headcount falls short of the percentile), and a line taken over another
    unit than the one headcounts are counted in (its headcount is then not the percentile)."""
    notes = []
    for index, line in enumerate(lines):
        if line.method != "relative_percentile" or line.percentile is None:
            continue
        unit = line.unit or default_unit
        weight = frame[unit_weight_column(unit)].cast(pl.Float64).to_numpy()
        value = frame[f"poverty_line__{index}"][0]
        on_line = frame["welfare_pre"] == value
        total = exact_total(weight)
        headcount = exact_total(weight[frame[f"is_poor__{index}"].to_numpy()]) / total
        one_unit = float(weight.max()) / total  # the shortfall a line without ties allows
        if int(on_line.sum()) > 1 and line.percentile - headcount > one_unit + ROUNDING:
            notes.append(
                f"poverty line {line.label}: {int(on_line.sum())} {unit_noun(unit)} records "
                f"have welfare exactly at the line ({value:,.2f}); poor is strictly below, so "
                f"the headcount over {unit} is {headcount:.5f}, not {line.percentile:g}"
            )
        if unit != headcount_unit:
            notes.append(
                f"poverty line {line.label} is a percentile over {unit}, but headcounts and "
                f"errors count {headcount_unit} (targeting.unit): its headcount there is not "
                f"{line.percentile:g}"
            )
    return notes


def unit_noun(unit: str) -> str:
    """'household' or 'person' for a unit name."""
    return "household" if unit == "households" else "person"


def line_column(values: pl.DataFrame) -> pl.Expr:
    """Each household's value of a line (:func:`line_values`): the national value, or its
    region's (null for a region without one). A column of its own: joining the lines onto the
    frame would copy every column of every household once per line."""
    if values["region"].null_count() == values.height:
        return pl.lit(values["value"][0], pl.Float64)
    regional = values.filter(pl.col("region").is_not_null())  # region is a key: unique
    return (
        pl.col("region")
        .cast(pl.String)
        .replace_strict(regional["region"], regional["value"], default=None)
        .cast(pl.Float64)
    )


def add_poverty_lines(
    households: pl.DataFrame,
    regions: pl.DataFrame | None,
    lines: Sequence[PovertyLine],
    *,
    default_unit: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each household's value of every line (``poverty_line__j``) and poverty status
    (``is_poor__j``: pre-transfer welfare strictly below the line), and the lines' values.

    Requires region, welfare_pre, weight, person_weight. Returns the frame and a table of the
    lines (line, method, unit, region, value, source) for audit.poverty_lines.
    """
    frame, published = households, []
    for index, line in enumerate(lines):
        unit = line.unit or default_unit
        values = line_values(frame, regions, line, unit=unit)
        name = f"poverty_line__{index}"
        frame = frame.with_columns(line_column(values).alias(name))
        frame = frame.with_columns(
            (pl.col("welfare_pre") < pl.col(name)).alias(f"is_poor__{index}")
        )
        published.append(
            values.select(
                pl.lit(line.label).alias("poverty_line"),
                pl.lit(line.method).alias("method"),
                pl.lit(unit if line.method.startswith("relative") else None, pl.String).alias(
                    "unit"
                ),
                "region",
                "value",
                pl.lit(line.source).alias("source"),
            )
        )
    return frame, pl.concat(published)


def add_quantiles(
    households: pl.DataFrame, *, weight: str = "person_weight", welfare: str = "welfare_pre"
) -> pl.DataFrame:
    """Quintile and decile (1 = poorest) of ``welfare``, cut at weighted shares of ``weight``.

    A household's share is the weight ranked below it plus half its own, over the total (ties
    keep file order), so each quintile holds a fifth of the weight to within one household.
    Adds quintile and decile (Int8) for pre-transfer welfare, quintile_post and decile_post
    for post-transfer welfare, and in_bottom_40 (pre-transfer share below 0.4).
    """
    suffix = "" if welfare == "welfare_pre" else "_post"
    # only welfare and weight are sorted (sorting the frame would copy every column twice)
    ordered = households.select(welfare, weight).with_row_index("__order").sort(welfare, "__order")
    running = pl.Series(exact_cumulative(ordered[weight]))
    share = (running - ordered[weight] / 2) / exact_total(ordered[weight])
    share = share + ROUNDING  # a share of exactly 0.8 computed as 0.7999… is still 0.8
    columns = [
        ((share * 5).floor().clip(0, 4) + 1).cast(pl.Int8).alias(f"quintile{suffix}"),
        ((share * 10).floor().clip(0, 9) + 1).cast(pl.Int8).alias(f"decile{suffix}"),
    ]
    if not suffix:
        columns.append((share < 0.4).alias("in_bottom_40"))
    in_file_order = ordered.select("__order").with_columns(columns).sort("__order")
    return households.with_columns(in_file_order.drop("__order").get_columns())


def add_quintiles(households: pl.DataFrame, *, weight: str = "person_weight") -> pl.DataFrame:
    """Pre-transfer quintiles and deciles, and in_bottom_40 (see :func:`add_quantiles`)."""
    return add_quantiles(households, weight=weight)


def add_derived(frame: pl.DataFrame, derived: Mapping[str, str]) -> pl.DataFrame:
    """The configured derived proxies, each a SQL expression over the frame's columns."""
    if not derived:
        return frame
    columns = []
    for name, expression in derived.items():
        try:
            columns.append(pl.sql_expr(expression).alias(name))
            frame.head(1).select(columns[-1])
        except Exception as error:
            raise ConfigError(
                f"inputs.households.derived.{name}: {expression!r} cannot be evaluated on the "
                f"analysis frame ({type(error).__name__}: {str(error).splitlines()[0]}); its "
                f"columns are {', '.join(frame.columns)}"
            ) from None
    return frame.with_columns(columns)


@dataclass(frozen=True)
class Analysis:
    """The analysis frame, the values of the poverty lines and notes on what was assumed."""

    frame: pl.DataFrame
    lines: pl.DataFrame
    notes: list[str] = field(default_factory=list)


def prepare_households(
    households: pl.DataFrame,
    members_features: pl.DataFrame | None,
    regions: pl.DataFrame | None,
    *,
    welfare: WelfareDefinition,
    programmes: Sequence[Programme],
    poverty_lines: Sequence[PovertyLine],
    targeting: Targeting,
    level: str = "households",
    derived: Mapping[str, str] | None = None,
    poststratify: bool = False,
) -> Analysis:
    """From loaded households to the analysis frame every indicator stage reads
    (``poststratify``: person weights scaled to regions.population by region)."""
    frame = households.lazy()
    if members_features is not None:
        frame = attach_member_features(households, members_features)
    frame, notes = add_shape(frame, level=level)
    frame = add_design_columns(frame)
    frame = add_programmes(frame, programmes)
    frame = add_welfare(frame, definition=welfare, programmes=programmes)
    collected = with_codes(in_one_chunk(frame), strata="strata", psu="psu")
    if poststratify:
        collected = poststratified(collected, regions)
        notes.append("weights post-stratified to regions.population by region")
    analysis, lines = add_poverty_lines(
        collected, regions, poverty_lines, default_unit=targeting.unit
    )
    notes += line_notes(
        analysis, poverty_lines, default_unit=targeting.unit, headcount_unit=targeting.unit
    )
    weight = unit_weight_column(targeting.quantiles_over)
    analysis = add_quantiles(analysis, weight=weight)
    analysis = add_quantiles(analysis, weight=weight, welfare="welfare_post")
    analysis = add_derived(analysis, derived or {})
    negative = int((analysis["welfare"] < 0).sum())
    if negative:
        notes.append(
            f"{negative} households with negative welfare, {welfare.negative_policy} "
            f"(welfare.negative; concept {welfare.concept})"
        )
    design = design_summary(
        analysis, has_strata="strata" in households.columns, has_psus="psu" in households.columns
    )
    notes += analysis_notes(welfare, design)  # the report's definitions (transforms.definitions)
    # the file's row order, whatever the joins did: folds and tie-breaks depend on it (checked
    # first: the joins keep the households' order, and a sort would copy every column)
    if "__source_row" in analysis.columns and not analysis["__source_row"].is_sorted():
        analysis = analysis.sort("__source_row")
    return Analysis(analysis, lines, notes)


def view(frame: pl.DataFrame, *, programme: int | None, line: int) -> pl.DataFrame:
    """The frame as the indicator functions read it, for one programme and one line.

    ``programme`` is a programme's position, None for 'any' (or for a survey without
    programmes: receipt unknown, benefit 0). Adds receives_benefit, benefit (currency/year per
    household), welfare_post (pre-transfer welfare plus this programme's benefit, per person),
    poverty_line and is_poor.
    """
    key = programme_key(programme)
    lines = [
        pl.col(f"poverty_line__{line}").alias("poverty_line"),
        pl.col(f"is_poor__{line}").alias("is_poor"),
    ]
    if f"benefit__{key}" not in frame.columns:  # no programme in this survey
        return frame.with_columns(
            *lines,
            pl.lit(None, pl.Boolean).alias("receives_benefit"),
            pl.lit(0.0).alias("benefit"),
            pl.col("welfare_pre").alias("welfare_post"),
        )
    benefit = pl.col(f"benefit__{key}")
    return frame.with_columns(
        *lines,
        pl.col(f"receives_benefit__{key}").alias("receives_benefit"),
        benefit.alias("benefit"),
        (pl.col("welfare_post") - other_benefits(frame, key) / pl.col("welfare_divisor")).alias(
            "welfare_post"
        ),
    )


def other_benefits(frame: pl.DataFrame, key: str) -> pl.Expr:
    """The benefits of every programme but ``key`` (nothing for 'any' or a sole programme)."""
    others = [
        pl.col(name)
        for name in frame.columns
        if name.startswith("benefit__")
        and name != f"benefit__{key}"
        and name != f"benefit__{ANY_PROGRAMME}"
    ]
    if key == ANY_PROGRAMME or not others:
        return pl.lit(0.0)
    return pl.sum_horizontal(others)
