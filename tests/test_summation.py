"""Exact sums: bit-identical whatever the order, chunking or partitioning of the values."""

from __future__ import annotations

import math
import random

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.summation import (
    FixedPoint,
    exact_cumulative,
    exact_sums,
    exact_total,
    fixed_points,
)

AMOUNTS = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
"""Weighted values as the audit sums them: money, persons, linearised variables (any sign)."""


def chunked(values: list[float], chunks: int) -> pl.Series:
    """The values as one Series in ``chunks`` memory chunks (as a frame read in pieces)."""
    size = max(1, -(-len(values) // chunks))
    pieces = [
        pl.Series("value", values[i : i + size], dtype=pl.Float64)
        for i in range(0, len(values), size)
    ]
    series = pieces[0] if pieces else pl.Series("value", [], dtype=pl.Float64)
    for piece in pieces[1:]:
        series = series.append(piece)  # append keeps the chunks apart
    return series


def bits(value: float) -> bytes:
    """The float's eight bytes, so -0.0 and 0.0 (or two NaNs) are told apart as stored."""
    return np.float64(value).tobytes()


def test_known_answers_where_float_addition_is_wrong() -> None:
    assert exact_total(np.full(10, 0.1)) == 1.0  # float addition gives 0.9999999999999999
    assert sum([0.1] * 10) != 1.0
    assert exact_total(np.array([1e16, 1.0, -1e16])) == 1.0  # float addition: 0.0
    assert exact_total(np.array([-1e16, 1e16, 1.0])) == 1.0
    assert exact_total(np.array([])) == 0.0


def test_nan_and_infinity_propagate_as_in_any_order_of_addition() -> None:
    assert math.isnan(exact_total(np.array([1.0, np.nan, 2.0])))
    assert exact_total(np.array([1.0, np.inf])) == math.inf
    assert math.isnan(exact_total(np.array([np.inf, -np.inf])))
    frame = pl.DataFrame({"g": [1, 1, 2], "x": [1.0, np.inf, 2.5]})
    assert exact_sums(frame, by=["g"], columns=["x"]).sort("g")["x"].to_list() == [math.inf, 2.5]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(AMOUNTS, max_size=200), chunks=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_a_total_is_bit_identical_under_permutation_and_rechunking(
    values: list[float], chunks: int, seed: int
) -> None:
    shuffled = values.copy()
    random.Random(seed).shuffle(shuffled)
    first = exact_total(pl.Series("value", values, dtype=pl.Float64))
    assert bits(exact_total(chunked(shuffled, chunks))) == bits(first)
    assert bits(exact_total(np.array(shuffled[::-1]))) == bits(first)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(AMOUNTS, min_size=1, max_size=200))
def test_a_total_is_the_exact_sum_rounded_once(values: list[float]) -> None:
    """Only what lies 2^-96 below the largest magnitude is dropped: within a few of those
    units of math.fsum (the correctly rounded exact sum)."""
    largest = max(abs(v) for v in values)
    tolerance = len(values) * largest * 2.0**-95 + abs(math.fsum(values)) * 2.0**-52
    assert abs(exact_total(np.array(values)) - math.fsum(values)) <= tolerance


@settings(max_examples=100, deadline=None)
@given(values=st.lists(AMOUNTS, min_size=1, max_size=200), parts=st.integers(1, 3))
def test_partial_sums_of_partitions_combine_exactly(values: list[float], parts: int) -> None:
    """Each partition sums its integers at the column's fixed point; the integer partials add
    up to the same total, whatever the partitioning."""
    frame = pl.DataFrame({"value": values, "part": [i % parts for i in range(len(values))]})
    point = fixed_points(frame, ["value"])["value"]
    partials = frame.group_by("part").agg(point.encode(pl.col("value")).sum())
    combined = partials.select(point.decode(pl.col("value").sum())).item()
    assert bits(combined) == bits(exact_total(np.array(values)))


@settings(max_examples=100, deadline=None)
@given(
    groups=st.lists(st.tuples(st.integers(0, 4), AMOUNTS), max_size=200),
    chunks=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_group_sums_do_not_depend_on_row_order_or_chunks(
    groups: list[tuple[int, float]], chunks: int, seed: int
) -> None:
    shuffled = groups.copy()
    random.Random(seed).shuffle(shuffled)

    def sums(rows: list[tuple[int, float]], chunks: int) -> pl.DataFrame:
        keys = pl.Series("g", [g for g, _ in rows], dtype=pl.Int64)
        frame = pl.DataFrame([keys, chunked([v for _, v in rows], chunks)])
        return exact_sums(frame, by=["g"], columns=["value"]).sort("g")

    first, second = sums(groups, 1), sums(shuffled, chunks)
    assert first["g"].to_list() == second["g"].to_list()
    assert [bits(v) for v in first["value"]] == [bits(v) for v in second["value"]]


@settings(max_examples=100, deadline=None)
@given(runs=st.lists(st.lists(AMOUNTS, min_size=1, max_size=5), max_size=40), seed=st.integers())
def test_running_totals_at_the_end_of_ties_do_not_depend_on_their_order(
    runs: list[list[float]], seed: int
) -> None:
    """Tied ranks may come in any order: the running total after each run of ties is the same."""
    ends = np.cumsum([len(run) for run in runs], dtype=np.int64) - 1
    reordered = [random.Random(seed + i).sample(run, len(run)) for i, run in enumerate(runs)]
    first = exact_cumulative(np.array([v for run in runs for v in run]))
    second = exact_cumulative(np.array([v for run in reordered for v in run]))
    assert [bits(v) for v in first[ends]] == [bits(v) for v in second[ends]]


def test_a_column_of_zeros_and_one_of_tiny_values() -> None:
    assert fixed_points(pl.DataFrame({"x": [0.0, 0.0]}), ["x"]) == {"x": FixedPoint(0)}
    tiny = np.array([3e-300, 4e-300])
    assert exact_total(tiny) == pytest.approx(7e-300, rel=1e-15)
