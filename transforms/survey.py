"""Design-based ratios, means and totals with Taylor-linearised standard errors.

Reproduces R `survey` (Lumley) ``svyratio`` / ``svymean`` / ``svytotal`` and
``svyby`` under the first-stage with-replacement approximation: the variance of
a statistic is the between-PSU variance, within strata, of PSU totals of its
linearised variable ``z`` (optionally times the finite population correction).

Domains (the values of each ``by`` column) are estimated on the full design:
``z`` is zero outside the domain and every PSU of the design counts in its
stratum's ``n_h``, whether or not it holds a domain member. The zero PSUs are
never materialised; the sums ``Σz`` and ``Σz²`` per domain × stratum suffice.

PSU identifiers are taken as nested within strata (R's ``nest=TRUE``). Domain
values are reported as strings (booleans as ``"true"``/``"false"``); a null
``by`` value is a domain of its own with a null ``group_value``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import polars as pl
from scipy import stats

LonelyPsu = Literal["adjust", "certainty", "fail"]

ALL = "all"
GROUP_TYPE = "group_type"
GROUP_VALUE = "group_value"
OUTPUT_COLUMNS = (
    GROUP_TYPE,
    GROUP_VALUE,
    "statistic",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n_obs",
    "denominator_total",
    "df",
)

_STRATUM = "__svy_stratum"
_PSU = "__svy_psu"
_FPC = "__svy_fpc"
_ORDER = "__svy_order"
_DOMAIN = (_ORDER, GROUP_TYPE, GROUP_VALUE)


@dataclass(frozen=True)
class Design:
    """Column names of a survey design; no ``psu``: each row its own PSU; no ``strata``: one."""

    weight: str
    strata: str | None = None
    psu: str | None = None
    fpc: str | None = None
    lonely_psu: LonelyPsu = "adjust"

    def __post_init__(self) -> None:
        """Reject an unknown lonely-PSU rule at construction."""
        if self.lonely_psu not in get_args(LonelyPsu):
            raise ValueError(
                f"lonely_psu must be one of {get_args(LonelyPsu)}, got {self.lonely_psu!r}"
            )


@dataclass(frozen=True)
class _Statistic:
    """One requested statistic: Σw·y / Σw·x (ratio) or Σw·y (total); no denominator means x = 1."""

    name: str
    numerator: str
    denominator: str | None
    is_total: bool = False
    minus: tuple[int, int] | None = None  # difference of two earlier ratios (indices)


def estimate_ratios(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    ratios: Mapping[str, tuple[str, str]],
    design: Design,
    by: Sequence[str] = (),
    confidence: float = 0.95,
    differences: Mapping[str, tuple[str, str]] | None = None,
) -> pl.DataFrame:
    """Ratios ``name -> (numerator, denominator)`` overall and per domain of each ``by`` column.

    ``differences`` adds ``name -> (ratio_a, ratio_b)``: the difference R_a − R_b of two
    requested ratios, linearised as z_a − z_b (e.g. the targeting differential).
    """
    specs = [_Statistic(name, num, den) for name, (num, den) in ratios.items()]
    index = {spec.name: i for i, spec in enumerate(specs)}
    for name, (first, second) in (differences or {}).items():
        if first not in index or second not in index:
            raise ValueError(f"difference {name!r} needs ratios {first!r} and {second!r} requested")
        base = specs[index[first]]
        specs.append(
            _Statistic(name, base.numerator, base.denominator, minus=(index[first], index[second]))
        )
    return _estimate(frame, specs, design=design, by=by, confidence=confidence)


def estimate_means(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    variables: Sequence[str],
    design: Design,
    by: Sequence[str] = (),
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Weighted means Σw·y / Σw of ``variables`` (the ratio with denominator 1), named by column."""
    specs = [_Statistic(name, name, None) for name in variables]
    return _estimate(frame, specs, design=design, by=by, confidence=confidence)


def estimate_totals(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    variables: Sequence[str],
    design: Design,
    by: Sequence[str] = (),
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Weighted totals Σw·y of ``variables``; ``denominator_total`` is the domain's Σw."""
    specs = [_Statistic(name, name, None, is_total=True) for name in variables]
    return _estimate(frame, specs, design=design, by=by, confidence=confidence)


def _estimate(
    frame: pl.DataFrame | pl.LazyFrame,
    specs: Sequence[_Statistic],
    *,
    design: Design,
    by: Sequence[str],
    confidence: float,
) -> pl.DataFrame:
    """Shared pipeline: check inputs, PSU sums per domain, strata variances, long result."""
    if not specs:
        raise ValueError("no statistic requested")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    lazy = frame.lazy()
    _check_complete(lazy, specs, design)
    prepared = _prepare(lazy, specs, design, by)
    strata = _strata_table(prepared, design)
    psu_sums = pl.concat(
        [_psu_sums(prepared, order, group, specs, design) for order, group in enumerate((ALL, *by))]
    )
    per_domain = _domain_variances(psu_sums, strata, specs, design.lonely_psu)
    degrees = int(strata["n_h"].sum()) - strata.height
    long = pl.concat([_long_rows(per_domain, index, spec) for index, spec in enumerate(specs)])
    return _with_intervals(long.collect(), degrees, confidence)


def _check_complete(lazy: pl.LazyFrame, specs: Sequence[_Statistic], design: Design) -> None:
    """Raise ValueError naming design or statistic columns that hold null (or NaN) values."""
    design_columns = [design.weight, design.strata, design.psu, design.fpc]
    stat_columns = [c for s in specs for c in (s.numerator, s.denominator)]
    columns = list(dict.fromkeys(c for c in [*design_columns, *stat_columns] if c is not None))
    schema = lazy.collect_schema()
    missing = [
        (pl.col(c).is_null() | pl.col(c).is_nan() if schema[c].is_float() else pl.col(c).is_null())
        .sum()
        .alias(c)
        for c in columns
    ]
    counts = lazy.select(missing).collect().row(0, named=True)
    bad = {column: count for column, count in counts.items() if count}
    if bad:
        raise ValueError(
            f"missing values (null or NaN) in survey columns {bad}; "
            "drop or impute them before design-based estimation"
        )


def _prepare(
    lazy: pl.LazyFrame, specs: Sequence[_Statistic], design: Design, by: Sequence[str]
) -> pl.LazyFrame:
    """Design keys, domain columns as strings and per-row w·y (``__y{i}``) and w·x (``__x{i}``)."""
    weight = pl.col(design.weight).cast(pl.Float64)
    stratum = pl.col(design.strata) if design.strata else pl.lit(0)
    psu = pl.col(design.psu) if design.psu else pl.int_range(pl.len())
    fpc = pl.col(design.fpc).cast(pl.Float64) if design.fpc else pl.lit(None, pl.Float64)
    return lazy.select(
        stratum.alias(_STRATUM),
        psu.alias(_PSU),
        fpc.alias(_FPC),
        *[pl.col(column).cast(pl.String).alias(_by_alias(j)) for j, column in enumerate(by)],
        *[
            (weight * pl.col(s.numerator).cast(pl.Float64)).alias(f"__y{i}")
            for i, s in enumerate(specs)
        ],
        *[(weight * _denominator(s)).alias(f"__x{i}") for i, s in enumerate(specs)],
    )


def _denominator(spec: _Statistic) -> pl.Expr:
    """The unweighted denominator x of a statistic: its column, or 1 for means and totals."""
    return pl.lit(1.0) if spec.denominator is None else pl.col(spec.denominator).cast(pl.Float64)


def _by_alias(index: int) -> str:
    """Internal name of the ``index``-th domain column (avoids clashes with design columns)."""
    return f"__svy_by{index}"


def _strata_table(prepared: pl.LazyFrame, design: Design) -> pl.DataFrame:
    """Per stratum of the full design: ``n_h`` PSUs, sampling factor ``f_h`` and ``is_lonely``."""
    strata = (
        prepared.group_by(_STRATUM)
        .agg(
            pl.col(_PSU).n_unique().alias("n_h"),
            pl.col(_FPC).first().alias("N_h"),
            pl.col(_FPC).n_unique().alias("fpc_values"),
        )
        .collect()
    )
    _check_fpc(strata, design)
    sampling_factor = (1.0 - pl.col("n_h") / pl.col("N_h")) if design.fpc else pl.lit(1.0)
    strata = strata.with_columns(sampling_factor.alias("f_h")).with_columns(
        ((pl.col("n_h") == 1) & (pl.col("f_h") > 0.0)).alias("is_lonely")
    )
    lonely = strata.filter(pl.col("is_lonely"))[_STRATUM].to_list()
    if design.lonely_psu == "fail" and lonely:
        raise ValueError(
            f"stratum {lonely[0]!r} of column {design.strata!r} has only one PSU "
            f"({len(lonely)} such strata: {lonely[:10]}); choose lonely_psu='adjust' or 'certainty'"
        )
    return strata.select(_STRATUM, "n_h", "f_h", "is_lonely")


def _check_fpc(strata: pl.DataFrame, design: Design) -> None:
    """Raise ValueError if the fpc varies within a stratum or is below its number of PSUs."""
    if design.fpc is None:
        return
    varying = strata.filter(pl.col("fpc_values") > 1)[_STRATUM].to_list()
    if varying:
        raise ValueError(f"fpc column {design.fpc!r} varies within strata {varying[:10]}")
    too_small = strata.filter(pl.col("N_h") < pl.col("n_h"))[_STRATUM].to_list()
    if too_small:
        raise ValueError(
            f"fpc column {design.fpc!r} (population PSUs per stratum) is below the "
            f"number of sampled PSUs in strata {too_small[:10]}"
        )


def _psu_sums(
    prepared: pl.LazyFrame, order: int, group: str, specs: Sequence[_Statistic], design: Design
) -> pl.LazyFrame:
    """Σw·y, Σw·x and row count per domain × stratum × PSU for one ``group_type``."""
    value = pl.lit(ALL) if order == 0 else pl.col(_by_alias(order - 1))
    sums = [f"__{part}{i}" for part in "yx" for i in range(len(specs))]
    rows = prepared.select(
        pl.lit(order).alias(_ORDER),
        pl.lit(group).alias(GROUP_TYPE),
        value.alias(GROUP_VALUE),
        _STRATUM,
        _PSU,
        *sums,
        pl.lit(1, pl.Int64).alias("n_obs"),
    )
    if design.psu is None:  # each row is its own PSU: nothing to add up
        return rows
    return rows.group_by([*_DOMAIN, _STRATUM, _PSU]).agg(pl.col([*sums, "n_obs"]).sum())


def _domain_variances(
    psu_sums: pl.LazyFrame, strata: pl.DataFrame, specs: Sequence[_Statistic], lonely: LonelyPsu
) -> pl.LazyFrame:
    """Per domain: totals ``__Y{i}``, ``__X{i}``, ``n_obs`` and linearised variance ``__v{i}``."""
    count = range(len(specs))
    total_y = [pl.col(f"__y{i}").sum().over(_DOMAIN) for i in count]
    total_x = [pl.col(f"__x{i}").sum().over(_DOMAIN) for i in count]
    linearised = [
        _linearised(specs[i], f"__y{i}", f"__x{i}", total_y[i], total_x[i]) for i in count
    ]
    for i in count:
        pair = specs[i].minus
        if pair is not None:
            linearised[i] = linearised[pair[0]] - linearised[pair[1]]
    per_stratum = (
        psu_sums.with_columns([z.alias(f"__z{i}") for i, z in zip(count, linearised, strict=True)])
        .group_by([*_DOMAIN, _STRATUM])
        .agg(
            *[pl.col(f"__z{i}").sum().alias(f"__s1_{i}") for i in count],
            *[(pl.col(f"__z{i}") ** 2).sum().alias(f"__s2_{i}") for i in count],
            pl.col([f"__y{i}" for i in count] + [f"__x{i}" for i in count] + ["n_obs"]).sum(),
        )
        .join(strata.lazy(), on=_STRATUM, how="inner")
    )
    n_psu = int(strata["n_h"].sum())
    lonely_factor = float(strata.filter(pl.col("is_lonely"))["f_h"].sum())
    variances = [_variance_over_strata(i, n_psu, lonely, lonely_factor) for i in count]
    return per_stratum.group_by(_DOMAIN).agg(
        *[pl.col(f"__y{i}").sum().alias(f"__Y{i}") for i in count],
        *[pl.col(f"__x{i}").sum().alias(f"__X{i}") for i in count],
        pl.col("n_obs").sum(),
        *[v.alias(f"__v{i}") for i, v in zip(count, variances, strict=True)],
    )


def _linearised(spec: _Statistic, y: str, x: str, total_y: pl.Expr, total_x: pl.Expr) -> pl.Expr:
    """PSU total of the linearised variable: (Y_i − R·X_i) / X for a ratio, Y_i for a total."""
    if spec.is_total:
        return pl.col(y)
    ratio = pl.when(total_x != 0.0).then(total_y / total_x)
    return (pl.col(y) - ratio * pl.col(x)) / total_x


def _variance_over_strata(
    index: int, n_psu: int, lonely: LonelyPsu, lonely_factor: float
) -> pl.Expr:
    """Aggregation over a domain's strata of f_h·n_h/(n_h−1)·Σ(z_hi − z̄_h)², lonely rule applied."""
    s1, s2 = pl.col(f"__s1_{index}"), pl.col(f"__s2_{index}")
    n_h, f_h = pl.col("n_h").cast(pl.Float64), pl.col("f_h")
    spread = f_h * n_h / (n_h - 1.0) * (s2 - s1**2 / n_h)
    regular = pl.when(n_h > 1.0).then(spread).otherwise(0.0).sum()
    if lonely != "adjust":  # "certainty": lonely strata add nothing; "fail" never gets here
        return regular
    # "adjust": the lonely PSU is centred at the grand mean c of all PSU totals. A lonely stratum
    # without domain members (z = 0, absent here) adds f_h·c², so add c²·Σf_h over all lonely
    # strata and, for the present ones, f_h·((s1 − c)² − c²) = f_h·s1·(s1 − 2c).
    grand_mean = s1.sum() / n_psu
    present = pl.when(pl.col("is_lonely")).then(f_h * s1 * (s1 - 2.0 * grand_mean)).otherwise(0.0)
    return regular + present.sum() + grand_mean**2 * lonely_factor


def _long_rows(per_domain: pl.LazyFrame, index: int, spec: _Statistic) -> pl.LazyFrame:
    """One statistic's rows: estimate and SE per domain, null where a ratio's denominator is 0."""
    total_y, total_x = pl.col(f"__Y{index}"), pl.col(f"__X{index}")
    defined = pl.lit(True) if spec.is_total else total_x != 0.0
    estimate = total_y if spec.is_total else total_y / total_x
    if spec.minus is not None:
        first, second = spec.minus
        x_a, x_b = pl.col(f"__X{first}"), pl.col(f"__X{second}")
        defined = (x_a != 0.0) & (x_b != 0.0)
        estimate = pl.col(f"__Y{first}") / x_a - pl.col(f"__Y{second}") / x_b
    return per_domain.select(
        *_DOMAIN,
        pl.lit(index).alias("__svy_statistic"),
        pl.lit(spec.name).alias("statistic"),
        pl.when(defined).then(estimate).alias("estimate"),
        pl.when(defined).then(pl.col(f"__v{index}").clip(lower_bound=0.0).sqrt()).alias("se"),
        pl.col("n_obs").cast(pl.Int64),
        total_x.alias("denominator_total"),
    )


def _with_intervals(long: pl.DataFrame, degrees: int, confidence: float) -> pl.DataFrame:
    """Add Student-t confidence limits with the design's degrees of freedom; sort; fix columns."""
    quantile = float(stats.t.ppf((1.0 + confidence) / 2.0, degrees)) if degrees > 0 else None
    margin = pl.col("se") * pl.lit(quantile, pl.Float64)
    return (
        long.with_columns(
            (pl.col("estimate") - margin).alias("ci_low"),
            (pl.col("estimate") + margin).alias("ci_high"),
            pl.lit(degrees, pl.Int64).alias("df"),
        )
        .sort([_ORDER, GROUP_VALUE, "__svy_statistic"], nulls_last=True)
        .select(OUTPUT_COLUMNS)
    )
