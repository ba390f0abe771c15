"""Member aggregates: counts by age band and the head's traits, computed by hand."""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.household import (
    attach_member_features,
    in_household_order,
    in_one_chunk,
    member_features_sql,
)

MEMBERS = """
    CREATE TABLE members AS SELECT * FROM (VALUES
        ('a', 30, false, 'F', 1), ('a', 30, false, 'M', 2), ('a', 10, false, 'X', 3),
        ('b', 20, true, 'M', 4), ('b', 70, false, 'F', 5), ('b', 20, true, 'F', 6),
        ('c', 5, NULL, NULL, 7)
    ) AS t(hh_id, age, is_head, sex, __source_row)
"""


def features() -> dict[str, dict[str, object]]:
    """The aggregates of the hand-made members, by household."""
    with duckdb.connect() as con:
        con.execute(MEMBERS)
        query = member_features_sql("members", {"hh_id", "age", "is_head", "sex", "__source_row"})
        frame = con.sql(query).pl()
    return {row["hh_id"]: row for row in frame.iter_rows(named=True)}


def test_counts_by_age_band_and_dependency_ratio() -> None:
    by_household = features()
    # a: 30, 30, 10 -> one child, two of working age: (1 + 0) / 2
    assert (by_household["a"]["n_children"], by_household["a"]["n_working_age"]) == (1, 2)
    assert by_household["a"]["dependency_ratio"] == 0.5
    # b: 20, 70, 20 -> one elderly, two of working age: (0 + 1) / 2
    assert (by_household["b"]["n_elderly"], by_household["b"]["dependency_ratio"]) == (1, 0.5)
    # c: one child and nobody of working age: the denominator is at least 1
    assert by_household["c"]["dependency_ratio"] == 1.0
    assert [by_household[h]["n_members"] for h in "abc"] == [3, 3, 1]


def test_the_head_is_the_flagged_member_else_the_oldest_ties_to_the_first_row() -> None:
    by_household = features()
    # a: no flag, two members of 30: the first row (F) heads
    assert (by_household["a"]["head_age"], by_household["a"]["head_sex"]) == (30, "F")
    assert by_household["a"]["n_heads"] == 0
    # b: two flagged heads of 20 (an older unflagged member too): the first flagged row (M)
    assert (by_household["b"]["head_age"], by_household["b"]["head_sex"]) == (20, "M")
    assert by_household["b"]["n_heads"] == 2
    # c: a head whose sex is missing stays missing (not another member's)
    assert (by_household["c"]["head_age"], by_household["c"]["head_sex"]) == (5, None)
    assert by_household["c"]["head_education_years"] is None  # column absent: NULL


def member_amounts(rows: str) -> dict[str, float]:
    """Households' totals of a member-level programme's amounts (amount__0) of ``rows``."""
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE members AS SELECT * FROM (VALUES "
            f"{rows}) AS t(hh_id, age, __source_row, amount__0)"
        )
        query = member_features_sql("members", {"hh_id", "age", "__source_row", "amount__0"})
        return dict(con.sql(f"SELECT hh_id, amount__0 FROM ({query})").fetchall())


def test_member_amounts_add_up_exactly_in_any_order() -> None:
    # as floats, 1e16 + 1 - 1e16 is 0 and 1e16 - 1e16 + 1 is 1
    forward = "('a', 70, 1, 1e16), ('a', 71, 2, 1.0), ('a', 72, 3, -1e16), ('b', 80, 4, NULL)"
    backward = "('a', 72, 3, -1e16), ('a', 71, 2, 1.0), ('a', 70, 1, 1e16), ('b', 80, 4, NULL)"
    assert member_amounts(forward) == member_amounts(backward) == {"a": 1.0, "b": None}
    # ten payments of 0.1 (as floats: 0.9999999999999999), beside a larger household's
    tenths = "".join(f", ('c', 66, {5 + i}, 0.1)" for i in range(10))
    assert member_amounts(f"('d', 70, 1, 2500.0){tenths}") == {"c": 1.0, "d": 2500.0}


def test_member_features_sit_beside_their_household_as_a_left_join_would_put_them() -> None:
    """Gathered by hh_id, not joined: households in their own order, null features for one
    without members, a clashing name suffixed `_right` (memory: benchmarks/README.md)."""
    households = pl.DataFrame(
        {"hh_id": ["c", "a", "b"], "hh_size": [2, 1, 3], "n_heads": [9, 9, 9]}
    )
    features = pl.DataFrame(
        {
            "hh_id": ["a", "c", "z"],
            "n_members": [1, 3, 4],
            "n_elderly": [0, 1, 0],
            "n_disabled": [1, 0, 0],
            "n_heads": [1, 1, 1],
        }
    )
    attached = attach_member_features(households, features).collect()
    joined = households.join(features, on="hh_id", how="left", maintain_order="left")
    assert attached.select(joined.columns).equals(joined)
    assert attached["n_members"].to_list() == [3, 1, None]
    assert attached["n_heads_right"].to_list() == [1, 1, None]
    assert attached["has_elderly"].to_list() == [True, False, False]
    assert attached["has_disabled"].to_list() == [False, True, False]
    assert attached["hh_size_matches_members"].to_list() == [False, True, None]


def test_features_in_household_order_are_placed_beside_them_as_they_are() -> None:
    """The build puts the member aggregates in the households' order first (freeing the
    file's rows); attaching them then gathers nothing, with the same frame as before."""
    households = pl.DataFrame({"hh_id": ["c", "a", "b"], "hh_size": [2, 1, 3]})
    features = pl.DataFrame(
        {"hh_id": ["a", "c", "z"], "n_members": [1, 2, 4], "n_elderly": [0, 1, 0]}
    ).with_columns(n_disabled=pl.lit(0))
    ordered = in_household_order(features, households["hh_id"])
    assert ordered["hh_id"].to_list() == ["c", "a", "b"]
    assert ordered["n_members"].to_list() == [2, 1, None]
    assert in_household_order(ordered, households["hh_id"]) is ordered
    assert (
        attach_member_features(households, ordered)
        .collect()
        .equals(attach_member_features(households, features).collect(), null_equal=True)
    )


def test_the_built_frame_shares_the_households_columns() -> None:
    """Each household column of the built frame is the staged column itself, in one memory
    chunk: the build copies no household column (at 1M households a copy was +0.25 GiB)."""
    rows = 300_000  # the streaming engine would cut these into morsels
    households = pl.DataFrame({"hh_id": [f"h{i}" for i in range(rows)], "x": range(rows)})
    features = pl.DataFrame({"hh_id": households["hh_id"], "n_members": range(rows)})
    features = features.with_columns(n_elderly=pl.lit(0), n_disabled=pl.lit(1))
    attached = in_one_chunk(attach_member_features(households, features))
    assert all(attached[name].n_chunks() == 1 for name in attached.columns)
    # the same memory, not an equal copy
    assert address(attached["x"]) == address(households["x"])
    assert address(households["x"].rechunk()) == address(households["x"])
    assert address(households["x"].clone().append(households["x"])) != address(households["x"])


def address(column: pl.Series) -> int:
    """Where a numeric column's values lie in memory (numpy sees them without a copy)."""
    return int(column.to_numpy().__array_interface__["data"][0])
