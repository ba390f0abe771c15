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

Post-stratification, as R's ``postStratify(design, ~g, population)``: ``poststratify``
scales the weights of each post-stratum g to its known total, w·N_g / Σ_{i∈g} w_i, and
``Design(poststrata="g")`` tells the estimator to replace each row's weighted linearised
variable u_i = w_i·e_i by its residual u_i − w_i·Σ_{j∈g} u_j / Σ_{j∈g} w_j (sums over
all sample rows of g, inside and outside the domain) before the between-PSU variance,
as R's ``svyrecvar``. A PSU without domain members but with rows in a post-stratum that
has some then gets a non-zero total. When PSUs span several post-strata, each such PSU is
residualised (at most PSUs × domains rows); when each PSU lies in one post-stratum (always
so without PSUs), per stratum × post-stratum sums of weights and squared weights add them
in, so rows outside a domain are still never materialised.

Bounded intervals, as R's ``svyciprop(method="logit")`` (and Stata ``svy: proportion``):
statistics named in ``bounded`` get expit(logit p̂ ± t_df·SE / (p̂(1 − p̂))) with the
same linearised SE and df; the others keep the Student-t Wald interval. At p̂ = 0 or 1
(SE 0) the interval is the point [p̂, p̂]; R's glm stops short of the boundary and prints
a point interval about 3e-12 inside it instead.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import polars as pl
from scipy import stats

from transforms.summation import FixedPoint, exact_sums, exact_total, fixed_points

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
_POST = "__svy_poststratum"
_WEIGHT = "__svy_weight"
_CELL_WEIGHT = "__svy_cell_weight"
_ORDER = "__svy_order"
_DOMAIN = (_ORDER, GROUP_TYPE, GROUP_VALUE)
_ROUNDING = 1e-12  # a bounded estimate this far outside [0, 1] is rounding, not an error


@dataclass(frozen=True)
class Design:
    """Column names of a survey design; no ``psu``: each row its own PSU; no ``strata``: one.

    ``poststrata`` names the post-stratum column of weights made by ``poststratify``.
    """

    weight: str
    strata: str | None = None
    psu: str | None = None
    fpc: str | None = None
    lonely_psu: LonelyPsu = "adjust"
    poststrata: str | None = None  # post-stratum column; ``weight`` must be post-stratified on it
    strata_labels: str | None = None
    """The strata's labels, for messages, when ``strata`` holds their codes (:func:`with_codes`)."""

    def __post_init__(self) -> None:
        """Reject an unknown lonely-PSU rule at construction."""
        if self.lonely_psu not in get_args(LonelyPsu):
            raise ValueError(
                f"lonely_psu must be one of {get_args(LonelyPsu)}, got {self.lonely_psu!r}"
            )


STRATUM_CODE = "__stratum_code"
PSU_CODE = "__psu_code"


def with_codes(frame: pl.DataFrame, *, strata: str, psu: str) -> pl.DataFrame:
    """``frame`` with integer codes of its strata and PSUs (:data:`STRATUM_CODE`,
    :data:`PSU_CODE`): dense ranks of the labels, so a design on the codes groups the same
    rows and adds them in the same order as on the labels, with the same results to the last
    bit; sorting and grouping integers instead of strings made one targeting table at 1M
    households about a fifth faster and 0.07 GiB smaller at its peak. Made once per frame:
    ranking the labels costs more than one estimate saves. PSUs are ranked within strata
    (nested, as the estimator takes them)."""
    return frame.with_columns(
        pl.col(strata).rank("dense").cast(pl.UInt32).alias(STRATUM_CODE),
        pl.struct(strata, psu).rank("dense").cast(pl.UInt32).alias(PSU_CODE),
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
    bounded: Collection[str] = (),
) -> pl.DataFrame:
    """Ratios ``name -> (numerator, denominator)`` overall and per domain of each ``by`` column.

    ``differences`` adds ``name -> (ratio_a, ratio_b)``: the difference R_a − R_b of two
    requested ratios, linearised as z_a − z_b (e.g. the targeting differential).
    ``bounded`` names ratios that are proportions in [0, 1]: they get logit intervals.
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
    return _estimate(frame, specs, design=design, by=by, confidence=confidence, bounded=bounded)


def estimate_means(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    variables: Sequence[str],
    design: Design,
    by: Sequence[str] = (),
    confidence: float = 0.95,
    bounded: Collection[str] = (),
) -> pl.DataFrame:
    """Weighted means Σw·y / Σw of ``variables``; those named in ``bounded`` get logit intervals."""
    specs = [_Statistic(name, name, None) for name in variables]
    return _estimate(frame, specs, design=design, by=by, confidence=confidence, bounded=bounded)


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
    return _estimate(frame, specs, design=design, by=by, confidence=confidence, bounded=())


def poststratify(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    weight: str,
    poststrata: str,
    totals: Mapping[Any, float],
    name: str | None = None,
) -> pl.LazyFrame:
    """Frame with ``name`` (default: ``weight``) set to w·N_g / Σ_{i∈g} w_i, N_g = ``totals[g]``.

    As R's ``postStratify``: every post-stratum in the data needs a positive total and every
    positive total a post-stratum with sample weight (R's ``partial=FALSE``); zero totals of
    post-strata absent from the data are ignored. The weights of g then add up to N_g.
    """
    lazy = frame.lazy()
    sample = exact_sums(
        lazy.select(
            poststrata,
            pl.col(weight).cast(pl.Float64).alias("sample_total"),
            pl.col(weight).is_null().cast(pl.Int64).alias("missing_weights"),
        ),
        by=[poststrata],
        columns=["sample_total", "missing_weights"],
    )
    _check_poststrata(sample, poststrata, weight, totals)
    keys = sample[poststrata]
    factors = [totals[key] / total for key, total in zip(keys, sample["sample_total"], strict=True)]
    factor = pl.col(poststrata).replace_strict(keys, factors, return_dtype=pl.Float64)
    return lazy.with_columns((pl.col(weight).cast(pl.Float64) * factor).alias(name or weight))


def _check_poststrata(
    sample: pl.DataFrame, poststrata: str, weight: str, totals: Mapping[Any, float]
) -> None:
    """Raise ValueError unless the sample's post-strata and the known totals match one to one."""
    bad_totals = {
        key: total for key, total in totals.items() if not math.isfinite(total) or total < 0
    }
    if bad_totals:
        raise ValueError(f"post-stratum totals must be finite and non-negative: {bad_totals}")
    if sample[poststrata].null_count() or sample["missing_weights"].sum():
        raise ValueError(f"null values in post-stratum column {poststrata!r} or weight {weight!r}")
    if not sample["sample_total"].is_finite().all():
        raise ValueError(f"weight {weight!r} holds NaN or infinite values")
    present = dict(zip(sample[poststrata], sample["sample_total"], strict=True))
    no_total = [key for key in present if totals.get(key, 0.0) == 0.0]
    if no_total:
        raise ValueError(
            f"post-strata of {poststrata!r} in the data have no population total: {no_total[:10]}"
        )
    empty = [key for key, total in totals.items() if total > 0 and present.get(key, 0.0) <= 0.0]
    if empty:
        raise ValueError(
            f"post-strata of {poststrata!r} with a population total have no sample weight "
            f"(no rows, or weights summing to 0 or less): {empty[:10]}"
        )


def _estimate(
    frame: pl.DataFrame | pl.LazyFrame,
    specs: Sequence[_Statistic],
    *,
    design: Design,
    by: Sequence[str],
    confidence: float,
    bounded: Collection[str],
) -> pl.DataFrame:
    """Shared pipeline: check inputs, PSU sums per domain, strata variances, long result."""
    if not specs:
        raise ValueError("no statistic requested")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    _check_bounded(specs, bounded)
    lazy = frame.lazy()
    _check_complete(lazy, specs, design)
    weighted = _weighted_columns(specs)
    prepared = _prepare(lazy, weighted, design, by)
    strata = _strata_table(prepared, design, lazy)
    points = fixed_points(prepared, list(weighted.values()))
    blocks = _psu_blocks(prepared, int(strata["n_h"].sum()), design)
    psu_totals, cells = _psu_table(prepared, by, points, design, blocks)
    # one group type at a time when large (the post-strata's exact sums take their fixed
    # points from the rows they add, so those keep one step); one step when small: polars'
    # fixed cost per step counts more than memory there
    in_parts = cells is None and sum(part.height for part in psu_totals) > VARIANCE_ROWS
    if not in_parts:
        psu_totals = [pl.concat(psu_totals)]
    totals_points = (  # the domain totals' fixed points, of every part's PSU totals
        fixed_points(pl.concat([part.lazy() for part in psu_totals]), list(points))
        if in_parts
        else None
    )
    per_domain = pl.concat(
        [
            _domain_variances(
                part, strata, specs, weighted, design.lonely_psu, cells, totals_points
            )
            for part in psu_totals
        ]
    )
    degrees = int(strata["n_h"].sum()) - strata.height
    long = pl.concat([_long_rows(per_domain, index, spec) for index, spec in enumerate(specs)])
    return _with_intervals(long, degrees, confidence, frozenset(bounded))


VARIANCE_ROWS = 2**17
"""PSU × domain rows above which the variances are computed one group type at a time
(without post-strata): each step (sorting the PSU totals by domain, stratum and PSU) then
holds a group type's rows."""
BLOCK_ROWS = 2**18
"""Rows whose PSU totals are summed at once when each PSU's rows are contiguous."""


def _psu_blocks(prepared: pl.LazyFrame, n_psu: int, design: Design) -> list[tuple[int, int]]:
    """Row ranges (offset, length) of whole PSUs, about :data:`BLOCK_ROWS` each, when every
    PSU's rows are contiguous (survey files are usually in PSU order); else one range of all
    rows. Blocks of whole PSUs have PSU totals of their own: no two blocks share a PSU."""
    rows = prepared.select(pl.len()).collect().item()
    if design.psu is None or rows <= BLOCK_ROWS:
        return [(0, rows)]
    changes = prepared.select(
        pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in (_STRATUM, _PSU))
        .fill_null(True)
        .alias("starts")
    ).collect()["starts"]
    starts = np.flatnonzero(changes.to_numpy())
    if starts.size != n_psu:  # some PSU's rows lie apart
        return [(0, rows)]
    cuts = np.unique(starts[np.searchsorted(starts, np.arange(0, rows, BLOCK_ROWS))])
    ends = np.append(cuts[1:], rows)
    return [(int(start), int(end - start)) for start, end in zip(cuts, ends, strict=True)]


def _psu_table(
    prepared: pl.LazyFrame,
    by: Sequence[str],
    points: Mapping[str, FixedPoint],
    design: Design,
    blocks: Sequence[tuple[int, int]],
) -> tuple[list[pl.DataFrame], _Cells | None]:
    """Each group type's PSU totals (one frame per group type), block by block of whole PSUs,
    and the post-stratum cells.

    The fixed-point columns (16 bytes per household and summed column) exist for one block at
    a time and only in here. One programme targeting table at 1M households peaked 0.48 GiB
    above its input with them made for all rows and held to the end, 0.38 GiB with them freed
    before the variances, 0.36 GiB made a block at a time."""
    cells = _poststratum_cells(prepared, design) if design.poststrata else None
    encode = [p.encode(pl.col(c)).alias(c) for c, p in points.items()]
    groups = list(enumerate((ALL, *by)))
    parts: list[list[pl.DataFrame]] = [[] for _ in groups]
    for offset, length in blocks:
        block = prepared.slice(offset, length)
        if design.psu is not None:  # encoded once for every group type, decoded after the sums
            block = block.with_columns(encode).collect().lazy()
        summed = pl.collect_all(  # every group type's PSU totals, summed side by side
            [_psu_totals(block, order, group, points, design) for order, group in groups]
        )
        for order, totals in enumerate(summed):
            parts[order].append(totals)
    return [pl.concat(part) for part in parts], cells


def _check_bounded(specs: Sequence[_Statistic], bounded: Collection[str]) -> None:
    """Raise ValueError if ``bounded`` names anything but a requested ratio or mean."""
    if isinstance(bounded, str):
        raise TypeError("bounded must be a collection of statistic names, not a string")
    proportions = {s.name for s in specs if not s.is_total and s.minus is None}
    unknown = sorted(set(bounded) - proportions)
    if unknown:
        raise ValueError(
            f"bounded names {unknown}, which are not requested ratios or means "
            "(totals and differences are not proportions)"
        )


def _check_complete(lazy: pl.LazyFrame, specs: Sequence[_Statistic], design: Design) -> None:
    """Raise ValueError naming design or statistic columns that hold null (or NaN) values."""
    design_columns = [design.weight, design.strata, design.psu, design.fpc, design.poststrata]
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


def _weighted_columns(specs: Sequence[_Statistic]) -> dict[str | None, str]:
    """Each distinct numerator and denominator (None: x = 1) -> its per-row w·y column; a
    column several statistics share (a ratio's denominator, another's numerator) once."""
    sources = [c for s in specs for c in (s.numerator, s.denominator)]
    return {source: f"__w{k}" for k, source in enumerate(dict.fromkeys(sources))}


def _prepare(
    lazy: pl.LazyFrame, weighted: Mapping[str | None, str], design: Design, by: Sequence[str]
) -> pl.LazyFrame:
    """Design keys, domain columns and the per-row w·y of each ``weighted`` column.

    Domain columns keep their type (made strings after the PSU sums, on a few rows: a string
    copy of each would cost 16 bytes per row), except floats, made strings here so that
    values floats hold equal but print apart (0.0 and -0.0) stay apart as before."""
    schema = lazy.collect_schema()
    weight = pl.col(design.weight).cast(pl.Float64)
    stratum = pl.col(design.strata) if design.strata else pl.lit(0)
    psu = pl.col(design.psu) if design.psu else pl.int_range(pl.len())
    fpc = pl.col(design.fpc).cast(pl.Float64) if design.fpc else pl.lit(None, pl.Float64)
    post = (
        [pl.col(design.poststrata).alias(_POST), weight.alias(_WEIGHT)] if design.poststrata else []
    )
    return lazy.select(
        stratum.alias(_STRATUM),
        psu.alias(_PSU),
        fpc.alias(_FPC),
        *post,
        *[
            (pl.col(column).cast(pl.String) if schema[column].is_float() else pl.col(column)).alias(
                _by_alias(j)
            )
            for j, column in enumerate(by)
        ],
        *[
            (weight if source is None else weight * pl.col(source).cast(pl.Float64)).alias(name)
            for source, name in weighted.items()
        ],
    )


def _by_alias(index: int) -> str:
    """Internal name of the ``index``-th domain column (avoids clashes with design columns)."""
    return f"__svy_by{index}"


def _strata_table(prepared: pl.LazyFrame, design: Design, frame: pl.LazyFrame) -> pl.DataFrame:
    """Per stratum of the full design: ``n_h`` PSUs, sampling factor ``f_h`` and ``is_lonely``
    (``frame``: the input, whose strata labels name a stratum in a message)."""
    strata = (
        prepared.group_by(_STRATUM)
        .agg(
            pl.col(_PSU).n_unique().alias("n_h"),
            pl.col(_FPC).first().alias("N_h"),
            pl.col(_FPC).n_unique().alias("fpc_values"),
        )
        .collect()
    )
    _check_fpc(strata, design, frame)
    sampling_factor = (1.0 - pl.col("n_h") / pl.col("N_h")) if design.fpc else pl.lit(1.0)
    strata = strata.with_columns(sampling_factor.alias("f_h")).with_columns(
        ((pl.col("n_h") == 1) & (pl.col("f_h") > 0.0)).alias("is_lonely")
    )
    lonely = strata.filter(pl.col("is_lonely"))[_STRATUM].to_list()
    if design.lonely_psu == "fail" and lonely:
        lonely = _stratum_labels(frame, design, lonely)
        raise ValueError(
            f"stratum {lonely[0]!r} of column {design.strata_labels or design.strata!r} "
            "has only one PSU "
            f"({len(lonely)} such strata: {lonely[:10]}); choose lonely_psu='adjust' or 'certainty'"
        )
    return strata.select(_STRATUM, "n_h", "f_h", "is_lonely")


def _check_fpc(strata: pl.DataFrame, design: Design, frame: pl.LazyFrame) -> None:
    """Raise ValueError if the fpc varies within a stratum or is below its number of PSUs."""
    if design.fpc is None:
        return
    varying = strata.filter(pl.col("fpc_values") > 1)[_STRATUM].to_list()
    if varying:
        varying = _stratum_labels(frame, design, varying[:10])
        raise ValueError(f"fpc column {design.fpc!r} varies within strata {varying}")
    too_small = strata.filter(pl.col("N_h") < pl.col("n_h"))[_STRATUM].to_list()
    if too_small:
        too_small = _stratum_labels(frame, design, too_small[:10])
        raise ValueError(
            f"fpc column {design.fpc!r} (population PSUs per stratum) is below the "
            f"number of sampled PSUs in strata {too_small}"
        )


def _stratum_labels(frame: pl.LazyFrame, design: Design, strata: list[Any]) -> list[Any]:
    """The strata as the survey names them: their labels when the design's are codes."""
    if design.strata is None or design.strata_labels is None:
        return strata
    found = (
        frame.filter(pl.col(design.strata).is_in(strata))
        .group_by(design.strata)
        .agg(pl.col(design.strata_labels).first())
        .collect()
    )
    labels = dict(zip(found[design.strata], found[design.strata_labels], strict=True))
    return [labels.get(stratum, stratum) for stratum in strata]


def _psu_sums(
    prepared: pl.LazyFrame, order: int, group: str, sums: Sequence[str], design: Design
) -> pl.LazyFrame:
    """Σw·y, Σw·x (the ``sums`` columns) and row count per domain × stratum × PSU
    (× post-stratum) for one group type.

    With PSUs, ``prepared`` holds the ``sums`` columns as fixed-point integers: the rows of a PSU
    add up exactly, so a PSU's totals do not depend on the order or partitioning of its rows
    (the caller rounds each total once to a float).
    """
    value = pl.lit(ALL) if order == 0 else pl.col(_by_alias(order - 1))
    cell = [_STRATUM, _PSU, *([_POST] if design.poststrata else [])]
    rows = prepared.select(
        pl.lit(order).alias(_ORDER),
        pl.lit(group).alias(GROUP_TYPE),
        value.alias(GROUP_VALUE),
        *cell,
        *sums,
        pl.lit(1, pl.Int64).alias("n_obs"),
    )
    as_text = pl.col(GROUP_VALUE).cast(pl.String)  # every group type's values alike
    if design.psu is None:  # each row is its own PSU: nothing to add up
        return rows.with_columns(as_text)
    return (
        rows.group_by([*_DOMAIN, *cell]).agg(pl.col([*sums, "n_obs"]).sum()).with_columns(as_text)
    )


def _psu_totals(
    prepared: pl.LazyFrame,
    order: int,
    group: str,
    points: Mapping[str, FixedPoint],
    design: Design,
) -> pl.LazyFrame:
    """:func:`_psu_sums` of one group type, its fixed-point sums back to floats (lazy)."""
    summed = _psu_sums(prepared, order, group, list(points), design)
    if design.psu is not None:
        summed = summed.with_columns(p.decode(pl.col(c)).alias(c) for c, p in points.items())
    return summed


@dataclass(frozen=True)
class _Cells:
    """Σw of all sample rows per stratum × PSU × post-stratum; ``is_nested``: one per PSU."""

    frame: pl.DataFrame
    is_nested: bool


def _poststratum_cells(prepared: pl.LazyFrame, design: Design) -> _Cells:
    """The design's post-stratum cells (``__svy_cell_weight``), summed when PSUs group rows."""
    cells = prepared.select(_STRATUM, _PSU, _POST, pl.col(_WEIGHT).alias(_CELL_WEIGHT))
    if design.psu is None:  # each row its own PSU, in one post-stratum
        return _Cells(cells.collect(), is_nested=True)
    summed = exact_sums(cells, by=[_STRATUM, _PSU, _POST], columns=[_CELL_WEIGHT])
    return _Cells(summed, is_nested=summed.height == summed.select(_STRATUM, _PSU).n_unique())


def _domain_variances(
    psu_sums: pl.DataFrame,
    strata: pl.DataFrame,
    specs: Sequence[_Statistic],
    weighted: Mapping[str | None, str],
    lonely: LonelyPsu,
    cells: _Cells | None,
    points: Mapping[str, FixedPoint] | None = None,
) -> pl.DataFrame:
    """Per domain: totals ``__Y{i}``, ``__X{i}``, ``n_obs`` and linearised variance ``__v{i}``.

    The domain totals are exact sums of the PSU totals (in ``points`` when given: those of
    all group types' PSU totals, so that one group type at a time gives the same numbers as
    all at once); the variance's sums over PSUs and strata add in a fixed order (sorted by
    domain, stratum and PSU id), so nothing depends on the order in which the PSU and stratum
    rows come (polars' group_by returns groups in an order that varies by run). With
    post-strata, the residualised stratum sums are exact.
    """
    count = range(len(specs))
    columns = list(weighted.values())
    totals = exact_sums(psu_sums, by=_DOMAIN, columns=[*columns, "n_obs"], points=points).rename(
        {name: name.upper() for name in columns}  # __w{k} -> __W{k}
    )
    y = [weighted[s.numerator] for s in specs]
    x = [weighted[s.denominator] for s in specs]
    if cells is None:
        per_stratum = _stratum_sums(psu_sums, totals, specs, weighted)
    else:
        per_stratum = _poststratified_stratum_sums(
            _z_cells(psu_sums, totals, specs, weighted),
            cells.frame,
            len(specs),
            is_nested=cells.is_nested,
        )
    per_stratum = per_stratum.join(strata, on=_STRATUM, how="inner")
    n_psu = int(strata["n_h"].sum())
    lonely_factor = exact_total(strata.filter(pl.col("is_lonely"))["f_h"])
    variances = _variances_over_strata(per_stratum, len(specs), n_psu, lonely, lonely_factor)
    return totals.select(
        *_DOMAIN,
        "n_obs",
        *[pl.col(y[i].upper()).alias(f"__Y{i}") for i in count],
        *[pl.col(x[i].upper()).alias(f"__X{i}") for i in count],
    ).join(variances, on=_DOMAIN, how="left", nulls_equal=True)


def _z_cells(
    psu_sums: pl.DataFrame,
    totals: pl.DataFrame,
    specs: Sequence[_Statistic],
    weighted: Mapping[str | None, str],
) -> pl.DataFrame:
    """The PSU totals with each statistic's linearised PSU total ``__z{i}`` (one column per
    statistic, as polars expressions): the residualised post-stratified sums start here."""
    y = [weighted[s.numerator] for s in specs]
    x = [weighted[s.denominator] for s in specs]
    linearised = [
        _linearised(spec, y[i], x[i], pl.col(y[i].upper()), pl.col(x[i].upper()))
        for i, spec in enumerate(specs)
    ]
    for i, spec in enumerate(specs):
        if spec.minus is not None:
            linearised[i] = linearised[spec.minus[0]] - linearised[spec.minus[1]]
    return psu_sums.join(
        totals.drop("n_obs"), on=_DOMAIN, how="left", nulls_equal=True
    ).with_columns(z.alias(f"__z{i}") for i, z in enumerate(linearised))


def _stratum_sums(
    psu_sums: pl.DataFrame,
    totals: pl.DataFrame,
    specs: Sequence[_Statistic],
    weighted: Mapping[str | None, str],
) -> pl.DataFrame:
    """Per domain × stratum: Σz (``__s1_{i}``) and Σz² (``__s2_{i}``) over the PSU totals z of
    each statistic's linearised variable, added in a fixed order: PSUs sorted by domain,
    stratum and PSU id. One statistic at a time, in numpy: memory holds a few columns of the
    PSU rows, not one per statistic."""
    order, starts, heads = _ordering(psu_sums, [*_DOMAIN, _STRATUM], then=[_PSU])
    domain_starts = starts[_runs(heads, _DOMAIN)]
    domain = np.repeat(np.arange(domain_starts.size), np.diff(domain_starts, append=order.size))
    per_domain = (
        heads[_runs(heads, _DOMAIN)]
        .select(_DOMAIN)
        .join(totals, on=_DOMAIN, how="left", nulls_equal=True, maintain_order="left")
    )

    def in_order(column: str) -> np.ndarray:
        """A column of the PSU totals in the fixed order."""
        return psu_sums[column].to_numpy()[order]

    def linearised(spec: _Statistic) -> np.ndarray:
        """The PSU totals of a ratio's or total's linearised variable, in the fixed order (not
        recursive: a function that calls itself is a reference cycle, which would keep this
        call's PSU totals alive until Python's cyclic collector happened to run)."""
        y, x = weighted[spec.numerator], weighted[spec.denominator]
        if spec.is_total:
            return in_order(y)
        total_y = per_domain[y.upper()].to_numpy()
        total_x = per_domain[x.upper()].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero total_x gives NaN
            ratio = np.where(total_x != 0.0, total_y / total_x, np.nan)[domain]
            return (in_order(y) - ratio * in_order(x)) / total_x[domain]

    s1, s2 = [], []
    for spec in specs:
        if spec.minus is None:
            z = linearised(spec)
        else:  # a difference of two ratios (never of another difference)
            first, second = spec.minus
            z = linearised(specs[first]) - linearised(specs[second])
        s1.append(np.add.reduceat(z, starts) if starts.size else z[:0])
        s2.append(np.add.reduceat(z * z, starts) if starts.size else z[:0])
    return _with_matrices(heads, {"__s1_": np.column_stack(s1), "__s2_": np.column_stack(s2)})


def _ordering(
    frame: pl.DataFrame, keys: Sequence[str], then: Sequence[str] = ()
) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    """The rows of ``frame`` in the order of :func:`_segments` (as row numbers), the first of
    each run of equal keys in that order, and those runs' keys; only the key columns move."""
    row = "__svy_row"
    ordered = (
        frame.select(*keys, *then)
        .with_row_index(row)
        .sort([*keys, *then], nulls_last=True, maintain_order=True)
    )
    starts = _runs(ordered, keys)
    return ordered[row].to_numpy(), starts, ordered[starts].select(keys)


def _runs(frame: pl.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """The rows of a frame sorted by ``keys`` that start a run of equal keys."""
    changes = frame.select(
        pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys)
    ).to_series()
    return np.flatnonzero(changes.fill_null(True).to_numpy())


def _z_stratum_sums(z_psu: pl.DataFrame, count: int) -> pl.DataFrame:
    """Per domain × stratum: Σz (``__s1_{i}``) and Σz² (``__s2_{i}``) over the PSU totals z,
    added in a fixed order: PSUs sorted by domain, stratum and PSU id."""
    ordered, starts = _segments(z_psu, [*_DOMAIN, _STRATUM], then=[_PSU])
    z = ordered.select(_names("__z", count)).to_numpy()
    return _with_matrices(
        ordered[starts].select(*_DOMAIN, _STRATUM),
        {
            "__s1_": np.add.reduceat(z, starts, axis=0),
            "__s2_": np.add.reduceat(z * z, starts, axis=0),
        },
    )


def _segments(
    frame: pl.DataFrame, keys: Sequence[str], then: Sequence[str] = ()
) -> tuple[pl.DataFrame, np.ndarray]:
    """``frame`` sorted by ``keys`` (then by ``then``) and the first row of each run of equal
    keys: a fixed order for adding up each run (``np.add.reduceat``), whatever the order of
    the input rows, as long as keys and ``then`` identify a row."""
    ordered = frame.sort([*keys, *then], nulls_last=True, maintain_order=True)
    return ordered, _runs(ordered, keys)


def _with_matrices(heads: pl.DataFrame, matrices: Mapping[str, np.ndarray]) -> pl.DataFrame:
    """``heads`` with each matrix's columns as ``prefix0 … prefix{k−1}``."""
    return heads.with_columns(
        pl.Series(f"{prefix}{i}", matrix[:, i], dtype=pl.Float64)
        for prefix, matrix in matrices.items()
        for i in range(matrix.shape[1])
    )


def _moment_columns(count: int) -> list[str]:
    """Σz (``__s1_{i}``) and Σz² (``__s2_{i}``) of each statistic, per domain × stratum."""
    return [*_names("__s1_", count), *_names("__s2_", count)]


def _names(prefix: str, count: int) -> list[str]:
    """Internal per-statistic column names ``prefix0 … prefix{count−1}``."""
    return [f"{prefix}{i}" for i in range(count)]


def _poststratified_stratum_sums(
    z_cells: pl.DataFrame, cells: pl.DataFrame, count: int, *, is_nested: bool
) -> pl.DataFrame:
    """``_z_stratum_sums`` of PSU totals residualised on post-stratum means: z_i − b_i.

    b_i = Σ_g W_ig·m_g, with W_ig the PSU's Σw in post-stratum g (all its rows) and m_g the
    domain's Σ_g z / W_g. A PSU without domain members but with rows in such a g has
    z_i = −b_i ≠ 0. ``is_nested``: every PSU lies in a single post-stratum (always so
    without PSUs), and per stratum × post-stratum sums replace the PSU-by-PSU residuals.
    """
    means = _poststratum_means(z_cells, cells, count)
    if is_nested:
        return _nested_stratum_sums(z_cells, cells, means, count)
    psu_keys = [*_DOMAIN, _STRATUM, _PSU]
    shifts = exact_sums(
        means.join(cells, on=_POST).select(
            *psu_keys,
            *[(pl.col(f"__m{i}") * pl.col(_CELL_WEIGHT)).alias(f"__b{i}") for i in range(count)],
        ),
        by=psu_keys,
        columns=_names("__b", count),
    )
    psus = exact_sums(z_cells, by=psu_keys, columns=_names("__z", count))
    residuals = shifts.join(psus, on=psu_keys, how="left", nulls_equal=True).select(
        *psu_keys,
        *[
            (pl.col(f"__z{i}").fill_null(0.0) - pl.col(f"__b{i}")).alias(f"__z{i}")
            for i in range(count)
        ],
    )
    return _z_stratum_sums(residuals, count)


def _nested_stratum_sums(
    z_cells: pl.DataFrame, cells: pl.DataFrame, means: pl.DataFrame, count: int
) -> pl.DataFrame:
    """Residualised stratum sums when each PSU lies in one post-stratum g: b_i = W_i·m_g.

    PSUs with members enter one by one; the others of stratum h and band g add
    −m_g·(W_hg − ΣW_i) to Σz and m_g²·(ΣW²_hg − ΣW_i²) to Σz² (sums over the PSUs with
    members), only where such PSUs exist, so a fully covered band adds exactly 0.
    """
    band_keys = [*_DOMAIN, _STRATUM, _POST]
    residual = [pl.col(f"__z{i}") - pl.col(_CELL_WEIGHT) * pl.col(f"__m{i}") for i in range(count)]
    present = exact_sums(
        z_cells.join(cells, on=[_STRATUM, _PSU, _POST])
        .join(means, on=[*_DOMAIN, _POST], nulls_equal=True)
        .select(
            *band_keys,
            *[r.alias(f"__s1_{i}") for i, r in enumerate(residual)],
            *[(r**2).alias(f"__s2_{i}") for i, r in enumerate(residual)],
            pl.lit(1, pl.Int64).alias("__svy_present"),
            pl.col(_CELL_WEIGHT).alias("__svy_w1"),
            (pl.col(_CELL_WEIGHT) ** 2).alias("__svy_w2"),
        ),
        by=band_keys,
        columns=[*_moment_columns(count), "__svy_present", "__svy_w1", "__svy_w2"],
    )
    bands = exact_sums(
        cells.select(
            _STRATUM,
            _POST,
            pl.lit(1, pl.Int64).alias("__svy_psus"),
            pl.col(_CELL_WEIGHT).alias("__svy_band_w1"),
            (pl.col(_CELL_WEIGHT) ** 2).alias("__svy_band_w2"),
        ),
        by=[_STRATUM, _POST],
        columns=["__svy_psus", "__svy_band_w1", "__svy_band_w2"],
    )
    everywhere = means.join(bands, on=_POST).join(
        present, on=band_keys, how="left", nulls_equal=True
    )
    absent = pl.col("__svy_present").fill_null(0) < pl.col("__svy_psus")
    missing_w1 = pl.col("__svy_band_w1") - pl.col("__svy_w1").fill_null(0.0)
    missing_w2 = (pl.col("__svy_band_w2") - pl.col("__svy_w2").fill_null(0.0)).clip(0.0)
    terms = everywhere.select(
        *_DOMAIN,
        _STRATUM,
        *[
            (
                pl.col(f"__s1_{i}").fill_null(0.0)
                - pl.when(absent).then(pl.col(f"__m{i}") * missing_w1).otherwise(0.0)
            ).alias(f"__s1_{i}")
            for i in range(count)
        ],
        *[
            (
                pl.col(f"__s2_{i}").fill_null(0.0)
                + pl.when(absent).then(pl.col(f"__m{i}") ** 2 * missing_w2).otherwise(0.0)
            ).alias(f"__s2_{i}")
            for i in range(count)
        ],
    )
    return exact_sums(terms, by=[*_DOMAIN, _STRATUM], columns=_moment_columns(count))


def _poststratum_means(z_cells: pl.DataFrame, cells: pl.DataFrame, count: int) -> pl.DataFrame:
    """Per domain × post-stratum g: ``__m{i}`` = Σ_g z / W_g, W_g the Σw of all rows of g."""
    weight = exact_sums(cells, by=[_POST], columns=[_CELL_WEIGHT]).rename(
        {_CELL_WEIGHT: "__svy_w_g"}
    )
    return (
        exact_sums(z_cells, by=[*_DOMAIN, _POST], columns=_names("__z", count))
        .join(weight, on=_POST)
        .select(
            *_DOMAIN,
            _POST,
            *[
                pl.when(pl.col("__svy_w_g") != 0.0)
                .then(pl.col(f"__z{i}") / pl.col("__svy_w_g"))
                .otherwise(0.0)
                .alias(f"__m{i}")
                for i in range(count)
            ],
        )
    )


def _linearised(spec: _Statistic, y: str, x: str, total_y: pl.Expr, total_x: pl.Expr) -> pl.Expr:
    """PSU total of the linearised variable: (Y_i − R·X_i) / X for a ratio, Y_i for a total."""
    if spec.is_total:
        return pl.col(y)
    ratio = pl.when(total_x != 0.0).then(total_y / total_x)
    return (pl.col(y) - ratio * pl.col(x)) / total_x


def _variances_over_strata(
    per_stratum: pl.DataFrame, count: int, n_psu: int, lonely: LonelyPsu, lonely_factor: float
) -> pl.DataFrame:
    """Per domain, ``__v{i}``: Σ over strata of f_h·n_h/(n_h−1)·Σ(z_hi − z̄_h)², lonely rule
    applied; the strata of a domain added in a fixed order (sorted by stratum id)."""
    ordered, starts = _segments(per_stratum, _DOMAIN, then=[_STRATUM])
    s1 = ordered.select(_names("__s1_", count)).to_numpy()
    s2 = ordered.select(_names("__s2_", count)).to_numpy()
    n_h = ordered["n_h"].cast(pl.Float64).to_numpy()[:, None]
    f_h = ordered["f_h"].to_numpy()[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):  # n_h = 1 is taken out by the where
        spread = np.where(n_h > 1.0, f_h * n_h / (n_h - 1.0) * (s2 - s1**2 / n_h), 0.0)
    variance = np.add.reduceat(spread, starts, axis=0)
    if lonely == "adjust":
        # the lonely PSU is centred at the grand mean c of all PSU totals. A lonely stratum
        # without domain members (z = 0, absent here) adds f_h·c², so add c²·Σf_h over all
        # lonely strata and, for the present ones, f_h·((s1 − c)² − c²) = f_h·s1·(s1 − 2c).
        centre = np.add.reduceat(s1, starts, axis=0) / n_psu
        domain = np.repeat(np.arange(starts.size), np.diff(starts, append=len(ordered)))
        is_lonely = ordered["is_lonely"].to_numpy()[:, None]
        present = np.where(is_lonely, f_h * s1 * (s1 - 2.0 * centre[domain]), 0.0)
        variance = variance + np.add.reduceat(present, starts, axis=0) + centre**2 * lonely_factor
    # "certainty": lonely strata add nothing (their n_h = 1); "fail" never gets here
    return _with_matrices(ordered[starts].select(_DOMAIN), {"__v": variance})


def _long_rows(per_domain: pl.DataFrame, index: int, spec: _Statistic) -> pl.DataFrame:
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


def _with_intervals(
    long: pl.DataFrame, degrees: int, confidence: float, bounded: frozenset[str]
) -> pl.DataFrame:
    """Add t limits with the design's df (Wald; logit for ``bounded``); sort; fix columns."""
    quantile = float(stats.t.ppf((1.0 + confidence) / 2.0, degrees)) if degrees > 0 else None
    margin = pl.col("se") * pl.lit(quantile, pl.Float64)
    low, high = pl.col("estimate") - margin, pl.col("estimate") + margin
    if bounded:
        _check_proportions(long, bounded)
        is_bounded = pl.col("statistic").is_in(sorted(bounded))
        logit_low, logit_high = _logit_interval(pl.col("estimate"), pl.col("se"), quantile)
        low = pl.when(is_bounded).then(logit_low).otherwise(low)
        high = pl.when(is_bounded).then(logit_high).otherwise(high)
    return (
        long.with_columns(
            low.alias("ci_low"),
            high.alias("ci_high"),
            pl.lit(degrees, pl.Int64).alias("df"),
        )
        .sort([_ORDER, GROUP_VALUE, "__svy_statistic"], nulls_last=True)
        .select(OUTPUT_COLUMNS)
    )


def _check_proportions(long: pl.DataFrame, bounded: frozenset[str]) -> None:
    """Raise ValueError if a ``bounded`` statistic's estimate is outside [0, 1] beyond rounding."""
    outside = long.filter(
        pl.col("statistic").is_in(sorted(bounded))
        & ~pl.col("estimate").is_between(-_ROUNDING, 1.0 + _ROUNDING)
    )
    if outside.height:
        first = outside.row(0, named=True)
        raise ValueError(
            f"bounded statistic {first['statistic']!r} is {first['estimate']} in "
            f"{first[GROUP_TYPE]}={first[GROUP_VALUE]!r}, outside [0, 1]: not a proportion"
        )


def _logit_interval(
    estimate: pl.Expr, se: pl.Expr, quantile: float | None
) -> tuple[pl.Expr, pl.Expr]:
    """expit(logit p ± t·SE / (p(1 − p))), widened to hold p; [p, p] when p is 0 or 1 or SE is 0."""
    if quantile is None:
        return pl.lit(None, pl.Float64), pl.lit(None, pl.Float64)
    p = estimate.clip(0.0, 1.0)
    interior = (p > 0.0) & (p < 1.0) & (se > 0.0)
    logit = (p / (1.0 - p)).log()
    half_width = quantile * se / (p * (1.0 - p))
    low = pl.min_horizontal(_expit(logit - half_width), p)
    high = pl.max_horizontal(_expit(logit + half_width), p)
    return pl.when(interior).then(low).otherwise(p), pl.when(interior).then(high).otherwise(p)


def _expit(logit: pl.Expr) -> pl.Expr:
    """Inverse logit 1 / (1 + e^−x); ±inf map to 1 and 0."""
    return 1.0 / (1.0 + (-logit).exp())
