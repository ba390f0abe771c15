"""Exact sums: the same result whatever the order, chunking or partitioning of the rows.

A floating-point sum depends on the order of its additions: polars and DuckDB add in parallel,
in an order that changes with threads, chunks and (for polars' group_by) a hash seed drawn per
process, so the last bits of an estimate differ between two identical runs. Here every value of
a column becomes an integer in units of 2^-shift (fixed point, Int128), where ``shift`` puts the
column's largest magnitude just under 2^FRACTION_BITS; integers add exactly, in any order, and
the total is rounded once back to a float. Partial sums of partitions combine by adding their
integers, as long as they share the column's shift (the largest magnitude, itself an
order-independent reduction, is found first).

Each value loses only what lies below 2^-shift (under 2^-96 of the column's largest magnitude,
truncated toward zero), so a sum of n values is within n·2^-96 of that magnitude of the exact
sum, then rounded once; a value keeps all its 53 bits when it is above 2^-43 of the column's
largest (sums of values far smaller than the column's largest keep fewer). 31 bits of the
Int128 are left for carries: room for 2^31 values. NaN and infinite values are not encoded: a
sum that meets one is NaN or ±inf, as IEEE addition would make it in any order. DuckDB queries
use the same rule (``*_sql`` below), with HUGEINT for Int128.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import polars as pl

FRACTION_BITS = 96
"""Bits kept below a column's largest magnitude (the Int128 keeps 31 more for carries)."""
_NONFINITE = "__nonfinite_"


@dataclass(frozen=True)
class FixedPoint:
    """A column's values as integers in units of 2^-shift (Int128), and their sums back."""

    shift: int
    has_nonfinite: bool = False

    def encode(self, value: pl.Expr) -> pl.Expr:
        """value·2^shift truncated toward zero, as Int128; null for null, NaN and ±inf."""
        return _scaled(value.cast(pl.Float64), self.shift).cast(pl.Int128, strict=False)

    def decode(self, total: pl.Expr) -> pl.Expr:
        """An Int128 sum back to Float64: rounded once to nearest, then scaled exactly."""
        return _scaled(total.cast(pl.Float64), -self.shift)


NORMAL_POWERS = 1000
"""2^±1000 are normal floats; a larger shift (|shift| reaches 1170) is applied in two steps."""


Scalable = TypeVar("Scalable", pl.Expr, pl.Series, float)


def _scaled(value: Scalable, shift: int) -> Scalable:
    """value·2^shift, exact unless the result overflows or is subnormal."""
    if abs(shift) <= NORMAL_POWERS:
        return value * 2.0**shift
    half = shift // 2
    return value * 2.0**half * 2.0 ** (shift - half)


def fixed_point(largest: float, *, has_nonfinite: bool = False) -> FixedPoint:
    """The fixed point of a column whose largest finite magnitude is ``largest``."""
    if not largest > 0.0:  # all zeros (or nothing finite): any shift is exact
        return FixedPoint(0, has_nonfinite)
    _, exponent = math.frexp(largest)  # largest < 2^exponent
    return FixedPoint(FRACTION_BITS - exponent, has_nonfinite)


def fixed_points(
    frame: pl.DataFrame | pl.LazyFrame, columns: Sequence[str]
) -> dict[str, FixedPoint]:
    """Each float column's fixed point, from its largest finite magnitude (one pass)."""
    if not columns:
        return {}
    lazy = frame.lazy()
    values = [pl.col(c).cast(pl.Float64) for c in columns]
    largest = (  # polars' max passes over NaN; an infinite maximum is caught below
        lazy.select(
            *[v.abs().max().alias(c) for c, v in zip(columns, values, strict=True)],
            *[
                v.is_nan().any().alias(f"{_NONFINITE}{c}")
                for c, v in zip(columns, values, strict=True)
            ],
        )
        .collect()
        .row(0, named=True)
    )
    points = {}
    for c, value in zip(columns, values, strict=True):
        top = largest[c] or 0.0
        nonfinite = bool(largest[f"{_NONFINITE}{c}"]) or math.isinf(top)
        if math.isinf(top):  # the largest finite magnitude takes a second pass
            finite = pl.when(value.is_finite()).then(value.abs()).max()
            top = lazy.select(finite).collect().item() or 0.0
        points[c] = fixed_point(top, has_nonfinite=nonfinite)
    return points


def exact_sums(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    by: Sequence[str],
    columns: Sequence[str],
    points: Mapping[str, FixedPoint] | None = None,
) -> pl.DataFrame:
    """Σ of each of ``columns`` per group of ``by`` (one row when ``by`` is empty), exactly.

    Float columns go through their fixed point (``points``, when given: those of a larger
    frame this one is part of, so that sums of its parts are the sums of the whole; else
    their own); integer columns add as they are. Groups come out in no particular order, as
    from polars' group_by: sort them where order matters.
    """
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    floats = [c for c in columns if schema[c].is_float()]
    points = {c: points[c] for c in floats} if points is not None else fixed_points(lazy, floats)
    nonfinite = [c for c in floats if points[c].has_nonfinite]
    encoded = lazy.with_columns(
        *[
            pl.when(pl.col(c).is_finite()).then(0.0).otherwise(pl.col(c)).alias(f"{_NONFINITE}{c}")
            for c in nonfinite
        ],
        *[points[c].encode(pl.col(c)).alias(c) for c in floats],
    )
    sums = [pl.col(c).sum() for c in [*columns, *(f"{_NONFINITE}{c}" for c in nonfinite)]]
    grouped = encoded.group_by(by).agg(sums) if by else encoded.select(sums)
    decoded = [points[c].decode(pl.col(c)).alias(c) for c in floats]
    added = [(pl.col(c) + pl.col(f"{_NONFINITE}{c}")).alias(c) for c in nonfinite]
    return (
        grouped.with_columns(decoded)
        .with_columns(added)
        .drop(f"{_NONFINITE}{c}" for c in nonfinite)
        .collect()
    )


def exact_total(values: pl.Series | np.ndarray) -> float:
    """Σ values, exactly (then rounded once); 0.0 for no values."""
    series = _floats(values)
    largest = _largest_finite(series)
    if largest is None:  # NaN or ±inf make the sum NaN or ±inf in any order
        return float(series.sum())
    point = fixed_point(largest)
    total = _scaled(series, point.shift).cast(pl.Int128).sum()
    return _scaled(float(total), -point.shift)


def _largest_finite(series: pl.Series) -> float | None:
    """The largest magnitude of a Float64 Series (0.0 when empty); None if any is NaN or ±inf."""
    largest = series.abs().max()
    if largest is None:
        return 0.0
    if not isinstance(largest, float) or math.isinf(largest) or series.is_nan().any():
        return None
    return largest


def _floats(values: pl.Series | np.ndarray) -> pl.Series:
    """Values as a Float64 Series (a numpy array without a copy where it can)."""
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64)
    return pl.Series(np.asarray(values, dtype=float))


def exact_cumulative(values: pl.Series | np.ndarray) -> np.ndarray:
    """Running totals Σ_{j≤i} values_j, each exact (then rounded once), in the given order.

    A total at the end of a run of tied values does not depend on the order inside the run.
    """
    series = _floats(values)
    largest = _largest_finite(series)
    if largest is None:  # NaN and ±inf carry on, as in any sequential sum
        return series.cum_sum().to_numpy()
    point = fixed_point(largest)
    running = _scaled(series, point.shift).cast(pl.Int128).cum_sum()
    return _scaled(running.cast(pl.Float64), -point.shift).to_numpy()


def shift_sql(column: str) -> str:
    """A DuckDB aggregate: the shift of ``column``'s fixed point, as :func:`fixed_point`."""
    largest = f"coalesce(nullif(max(abs({column})), 0), 1)"
    return f"({FRACTION_BITS} - (floor(log2({largest})) + 1))::INTEGER"  # largest < 2^(…+1)


def encode_sql(value: str, shift: str) -> str:
    """DuckDB: ``value``·2^shift truncated toward zero, as HUGEINT (add these up exactly)."""
    return f"trunc({value} * pow(2.0, {shift} // 2) * pow(2.0, {shift} - {shift} // 2))::HUGEINT"


def decode_sql(total: str, shift: str) -> str:
    """DuckDB: a HUGEINT sum of :func:`encode_sql` values back to DOUBLE."""
    return f"{total}::DOUBLE * pow(2.0, -({shift} // 2)) * pow(2.0, ({shift} // 2) - {shift})"
