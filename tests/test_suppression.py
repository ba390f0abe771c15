"""Disclosure control: primary and complementary suppression (transforms.suppression).

Hand-made tables with known answers, then a property: over generated surveys, thresholds and
tables, no withheld cell can be found from the published cells by the additive relations
between them (parts of a group_type add up to their whole; the same group's population is the
same number in every method's rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.contract import publishable, table
from transforms.report.data import SQL_TYPES
from transforms.suppression import COMPLEMENTARY, PRIMARY, partitions_of, suppression

SHARES = ("beneficiary_incidence", "benefit_incidence", "tier_share")


def contract_frame(table_name: str, rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Rows of a published table as a producer hands them over: the contract's columns, NULL
    where a row does not say (run_id and the disclosure columns left to publication)."""
    columns = [
        c
        for c in table(table_name).columns
        if c.name not in ("run_id", "suppressed", "suppression")
    ]
    schema = {c.name: SQL_TYPES[c.sql_type] for c in columns}
    filled = [{c.name: r.get(c.name) for c in columns} for r in rows]
    frame = pl.DataFrame(filled, schema=schema)
    return frame.drop("unit") if "indicator" in frame.columns else frame  # from the catalogue


def regions(counts: dict[str, int], **scope: Any) -> list[dict[str, Any]]:
    """targeting_errors rows of one method: the whole and one region per count (population
    10 per household)."""
    base = {
        "method": "program",
        "decision_rule": "actual",
        "programme": "cash",
        "poverty_line": "national",
        "unit": "persons",
    } | scope
    whole = {"group_type": "all", "group_value": "all", "n_obs": sum(counts.values())}
    rows = [whole] + [
        {"group_type": "region", "group_value": name, "n_obs": n} for name, n in counts.items()
    ]
    return [base | row | {"population": 10.0 * row["n_obs"]} for row in rows]


def withheld(frame: pl.DataFrame, table_name: str, threshold: int) -> dict[str, str | None]:
    """Why each group is withheld, by group_value."""
    why = suppression(frame, partitions_of(table_name, SHARES), min_cell_n=threshold)
    return dict(zip(frame["group_value"], why, strict=True))


def test_a_lone_small_region_takes_the_next_smallest_with_it() -> None:
    frame = contract_frame("targeting_errors", regions({"A": 5, "B": 40, "C": 25, "D": 30}))
    assert withheld(frame, "targeting_errors", 10) == {
        "all": None,
        "A": PRIMARY,
        "B": None,
        "C": COMPLEMENTARY,  # 25 households: the fewest of the published regions
        "D": None,
    }


def test_two_small_regions_protect_each_other() -> None:
    frame = contract_frame("targeting_errors", regions({"A": 5, "B": 40, "C": 8, "D": 30}))
    assert set(withheld(frame, "targeting_errors", 10).items()) == {
        ("all", None),
        ("A", PRIMARY),
        ("B", None),
        ("C", PRIMARY),
        ("D", None),
    }


def test_no_complement_when_the_whole_is_withheld_too() -> None:
    frame = contract_frame("targeting_errors", regions({"A": 3, "B": 4}))
    assert withheld(frame, "targeting_errors", 10) == {"all": PRIMARY, "A": PRIMARY, "B": PRIMARY}


def test_ties_are_broken_by_name_and_every_method_withholds_the_same_regions() -> None:
    rows = regions({"A": 5, "B": 30, "C": 30})
    rows += regions({"A": 5, "B": 30, "C": 30}, method="pmt:ols", programme=None)
    frame = contract_frame("targeting_errors", rows)
    why = suppression(frame, partitions_of("targeting_errors"), min_cell_n=10)
    assert why.to_list() == [None, PRIMARY, COMPLEMENTARY, None] * 2


def incidence(counts: dict[str, int], indicator: str = "benefit_incidence") -> pl.DataFrame:
    """matching_indicators rows: one programme's shares by quintile (no whole row: they sum
    to 1)."""
    total = sum(counts.values()) or 1
    rows = [
        {
            "programme": "cash",
            "poverty_line": "national",
            "population_unit": "persons",
            "group_type": "quintile",
            "group_value": quintile,
            "indicator": indicator,
            "value": n / total,
            "n_obs": n,
        }
        for quintile, n in counts.items()
    ]
    return contract_frame("matching_indicators", rows)


def test_shares_are_parts_of_one_and_an_empty_group_protects_nothing() -> None:
    # Q4 and Q5 have no beneficiary: their share is 0 whatever is shown, so Q3 alone is
    # unknown and the smallest published quintile joins it
    frame = incidence({"1": 50, "2": 40, "3": 3, "4": 0, "5": 0})
    assert withheld(frame, "matching_indicators", 10) == {
        "1": None,
        "2": COMPLEMENTARY,
        "3": PRIMARY,
        "4": PRIMARY,
        "5": PRIMARY,
    }
    empty_only = incidence({"1": 50, "2": 40, "3": 30, "4": 0, "5": 0})
    assert set(withheld(empty_only, "matching_indicators", 10).values()) == {None, PRIMARY}


def test_a_ratio_without_a_published_whole_has_no_complement() -> None:
    frame = incidence({"1": 50, "2": 40, "3": 3}, indicator="adequacy")  # no group all
    assert withheld(frame, "matching_indicators", 10) == {"1": None, "2": None, "3": PRIMARY}


def test_a_domain_withheld_in_targeting_errors_is_withheld_in_matching_indicators() -> None:
    counts = {"A": 5, "B": 40, "C": 25, "D": 30}
    targeting = contract_frame("targeting_errors", regions(counts))
    coverage = [
        {"programme": "cash", "poverty_line": "national", "population_unit": "persons"}
        | {"group_type": kind, "group_value": value, "indicator": "coverage", "n_obs": n}
        for kind, value, n in [
            ("all", "all", sum(counts.values())),
            *(("region", *c) for c in counts.items()),
        ]
    ]
    matching = contract_frame("matching_indicators", coverage)
    assert withheld(matching, "matching_indicators", 10) == withheld(
        targeting, "targeting_errors", 10
    )


def test_publication_nulls_complementary_cells_and_says_why() -> None:
    frame = contract_frame("targeting_errors", regions({"A": 5, "B": 40, "C": 25}))
    published = publishable("targeting_errors", frame, run_id="r", min_cell_n=10)
    assert published["suppression"].to_list() == [None, PRIMARY, None, COMPLEMENTARY]
    assert published["suppressed"].to_list() == [False, True, False, True]
    assert published["population"].to_list() == [700.0, None, 400.0, None]
    assert published["n_obs"].to_list() == [70, 5, 40, 25]  # counts stay published


def test_overlap_combinations_are_shares_of_the_population() -> None:
    rows = [
        {"programmes": p, "population_unit": "persons", "share": n / 60, "n_obs": n}
        for p, n in (("none", 40), ("a", 12), ("b", 6), ("a + b", 2))
    ]
    frame = contract_frame("programme_overlap", rows)
    published = publishable("programme_overlap", frame, run_id="r", min_cell_n=7)
    assert published["suppression"].to_list() == [None, None, PRIMARY, PRIMARY]  # two small
    published = publishable("programme_overlap", frame, run_id="r", min_cell_n=5)
    assert published["suppression"].to_list() == [None, None, COMPLEMENTARY, PRIMARY]
    assert published["share"].to_list()[2:] == [None, None]


# ---------------------------------------------------------------- the property


@st.composite
def surveys(draw: st.DrawFn) -> dict[str, Any]:
    """A survey of up to 60 weighted households, each in one group of 1–3 group types (1–6
    groups each, some possibly empty), receiving 1–2 programmes, with a threshold."""
    n = draw(st.integers(0, 60))
    weights = draw(st.lists(st.integers(1, 50), min_size=n, max_size=n))
    kinds = {}
    for k in range(draw(st.integers(1, 3))):
        size = draw(st.integers(1, 6))
        kinds[f"kind{k}"] = (size, draw(st.lists(st.integers(0, size - 1), min_size=n, max_size=n)))
    methods = draw(st.integers(1, 2))
    receives = [draw(st.lists(st.booleans(), min_size=n, max_size=n)) for _ in range(methods)]
    threshold = draw(st.integers(1, 25))
    return {"weights": weights, "kinds": kinds, "receives": receives, "threshold": threshold}


def targeting_rows(survey: dict[str, Any]) -> list[dict[str, Any]]:
    """targeting_errors as a producer emits it: per method, the whole and every group, with
    its households, population and coverage (beneficiaries ÷ population)."""
    weights = np.array(survey["weights"], dtype=float)
    cells = [("all", "all", np.ones(len(weights), dtype=bool))]
    for kind, (size, labels) in survey["kinds"].items():
        labels = np.array(labels, dtype=int)
        cells += [(kind, f"g{j}", labels == j) for j in range(size)]
    rows = []
    for m, receives in enumerate(survey["receives"]):
        paid = np.array(receives, dtype=bool)
        for kind, value, members in cells:
            population = float(weights[members].sum())
            reached = float(weights[members & paid].sum())
            rows.append(
                {
                    "method": f"pmt:m{m}",
                    "decision_rule": "line",
                    "poverty_line": "national",
                    "unit": "persons",
                    "group_type": kind,
                    "group_value": value,
                    "n_obs": int(members.sum()),
                    "population": population,
                    "coverage": reached / population if population else None,
                }
            )
    return rows


def unknowns_determined(
    cells: pl.DataFrame, relations: Sequence[tuple[Sequence[int], int | None]]
) -> list[int]:
    """The withheld cells the relations determine. ``cells``: one row per published number
    with ``known`` (published, or empty: 0); a relation is (parts, whole) by row position,
    whole None for shares of a known whole (1); equalities are relations with one part.
    Linear algebra: a withheld cell is determined iff its unit vector lies in the row space
    of the relations restricted to the withheld cells."""
    unknown = [i for i, known in enumerate(cells["known"]) if not known]
    if not unknown:
        return []
    column = {cell: j for j, cell in enumerate(unknown)}
    matrix = np.zeros((len(relations), len(unknown)))
    for r, (parts, whole) in enumerate(relations):
        for part in parts:
            if part in column:
                matrix[r, column[part]] += 1.0
        if whole is not None and whole in column:
            matrix[r, column[whole]] -= 1.0
    rank = np.linalg.matrix_rank(matrix) if len(relations) else 0
    determined = []
    for cell, j in column.items():
        probe = np.zeros((1, len(unknown)))
        probe[0, j] = 1.0
        if np.linalg.matrix_rank(np.vstack([matrix, probe])) == rank:
            determined.append(cell)
    return determined


Relation = tuple[list[int], int | None]


def sums(published: pl.DataFrame) -> list[Relation]:
    """Every group type's parts add up to its method's whole (by row position)."""
    rows = published.with_row_index("i")
    relations = []
    for (method, kind), parts in rows.group_by("method", "group_type"):
        if kind != "all":
            whole = rows.filter((pl.col("method") == method) & (pl.col("group_type") == "all"))
            relations.append((parts["i"].to_list(), int(whole["i"].item())))
    return relations


def equalities(published: pl.DataFrame) -> list[Relation]:
    """A group's population is the same number in every method's rows."""
    rows = published.with_row_index("i")
    relations: list[Relation] = []
    for _, same in rows.group_by("group_type", "group_value"):
        first, *others = same["i"].to_list()
        relations += [([other], first) for other in others]
    return relations


def known_cells(published: pl.DataFrame, column: str) -> pl.DataFrame:
    """Which numbers a reader knows: the published ones, and those of empty groups (0)."""
    return published.select((pl.col(column).is_not_null() | (pl.col("n_obs") == 0)).alias("known"))


@settings(max_examples=200, deadline=None)
@given(surveys())
def test_no_withheld_targeting_cell_follows_from_the_published_ones(survey: dict[str, Any]) -> None:
    threshold = survey["threshold"]
    frame = contract_frame("targeting_errors", targeting_rows(survey))
    published = publishable("targeting_errors", frame, run_id="r", min_cell_n=threshold)
    primary = (published["suppression"] == PRIMARY).fill_null(False)
    assert primary.to_list() == (published["n_obs"] < threshold).to_list()
    # populations: parts of their whole, and one number across methods
    cells = known_cells(published, "population")
    assert unknowns_determined(cells, sums(published) + equalities(published)) == []
    # beneficiaries (coverage × population): additive too, but a number per method
    assert unknowns_determined(known_cells(published, "coverage"), sums(published)) == []
    # the same, as a reader would check it by eye
    assert lone_withheld_parts(published) == []


def lone_withheld_parts(published: pl.DataFrame) -> list[tuple[str, str]]:
    """(method, group type) whose whole is published and exactly one non-empty part withheld."""
    found = []
    for (method, kind), parts in published.group_by("method", "group_type"):
        whole = published.filter(
            (pl.col("method") == method) & (pl.col("group_type") == "all")
        ).row(0, named=True)
        hidden = parts.filter(pl.col("suppressed") & (pl.col("n_obs") > 0)).height
        if kind != "all" and not whole["suppressed"] and hidden == 1:
            found.append((str(method), str(kind)))
    return found


@st.composite
def share_tables(draw: st.DrawFn) -> tuple[list[int], int]:
    """Beneficiary households in 1–8 groups (some possibly empty) and a threshold."""
    counts = draw(st.lists(st.integers(0, 40), min_size=1, max_size=8))
    return counts, draw(st.integers(1, 25))


@settings(max_examples=200, deadline=None)
@given(share_tables())
def test_no_withheld_share_follows_from_the_published_ones(table_: tuple[list[int], int]) -> None:
    counts, threshold = table_
    frame = incidence({str(g): n for g, n in enumerate(counts)})
    published = publishable("matching_indicators", frame, run_id="r", min_cell_n=threshold)
    nonempty = [n for n in counts if n > 0]
    determined = unknowns_determined(
        known_cells(published, "value"), [(list(range(len(counts))), None)]
    )
    if len(nonempty) == 1:
        # the only group with beneficiaries has all of them: a share of 1 that the published
        # counts already say (every other group counts 0); no withheld value can hide that
        assert determined in ([], [counts.index(nonempty[0])])
    else:
        assert determined == []
