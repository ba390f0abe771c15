"""Targeting rates: hand-computed tiny cases, the IE = EE identity, and monotonicity."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.contract import publishable
from transforms.household import add_quintiles
from transforms.survey import Design
from transforms.targeting import (
    add_indicator_columns,
    select_by_rate,
    targeting_rates,
    wide_rates,
)

SRS = Design(weight="person_weight")


def five_households() -> pl.DataFrame:
    """Poor: h1, h2. Selected: h1 (poor) and h3 (non-poor). Benefits 100 and 300."""
    frame = pl.DataFrame(
        {
            "hh_id": ["1", "2", "3", "4", "5"],
            "region": ["N", "N", "S", "S", "S"],
            "hh_size": [1, 1, 1, 1, 1],
            "person_weight": [1.0] * 5,
            "welfare_pre": [10.0, 20.0, 30.0, 40.0, 50.0],
            "is_poor": [True, True, False, False, False],
            "receives_benefit": [True, False, True, False, False],
            "benefit": [100.0, 0.0, 300.0, 0.0, 0.0],
        }
    )
    return add_quintiles(frame)


def rates_of(frame: pl.DataFrame, groups: list[str] | None = None) -> dict[tuple[str, str], float]:
    indicators = add_indicator_columns(
        frame, selected="receives_benefit", benefit="benefit", unit="persons"
    )
    long = targeting_rates(indicators, design=SRS, groups=groups or [])
    return {
        (row["group_value"], row["statistic"]): row["estimate"]
        for row in long.iter_rows(named=True)
    }


def test_bottom_40_is_the_two_poorest() -> None:
    assert five_households()["in_bottom_40"].to_list() == [True, True, False, False, False]
    assert five_households()["quintile"].to_list() == [1, 2, 3, 4, 5]


def test_hand_computed_rates() -> None:
    got = rates_of(five_households())
    assert got[("all", "poverty_rate")] == pytest.approx(2 / 5)
    assert got[("all", "coverage")] == pytest.approx(2 / 5)
    assert got[("all", "exclusion_error")] == pytest.approx(1 / 2)
    assert got[("all", "inclusion_error")] == pytest.approx(1 / 2)
    assert got[("all", "inclusion_rate_nonpoor")] == pytest.approx(1 / 3)
    assert got[("all", "targeting_differential")] == pytest.approx(1 / 2 - 1 / 3)
    # 100 of the 400 paid goes to the bottom 40 %: 0.25 / 0.40
    assert got[("all", "cgh")] == pytest.approx(0.625)


def test_domains_use_their_own_denominators() -> None:
    got = rates_of(five_households(), ["region"])
    assert got[("N", "exclusion_error")] == pytest.approx(1 / 2)
    assert got[("N", "inclusion_error")] == pytest.approx(0.0)
    assert got[("S", "inclusion_error")] == pytest.approx(1.0)
    assert got[("S", "poverty_rate")] == pytest.approx(0.0)
    assert got[("S", "exclusion_error")] is None  # no poor in S: undefined, not NaN


def test_standard_error_of_coverage_matches_the_srs_formula() -> None:
    indicators = add_indicator_columns(
        five_households(), selected="receives_benefit", benefit="benefit", unit="persons"
    )
    long = targeting_rates(indicators, design=SRS, groups=[])
    se = long.filter(pl.col("statistic") == "coverage")["se"].item()
    # with replacement, each household its own PSU: sqrt(p(1-p)/(n-1)) = sqrt(0.24/4)
    assert se == pytest.approx(math.sqrt(0.24 / 4))


def test_targeting_differential_se_is_zero_for_a_perfect_rule() -> None:
    frame = five_households().with_columns(pl.col("is_poor").alias("receives_benefit"))
    indicators = add_indicator_columns(
        frame, selected="receives_benefit", benefit="benefit", unit="persons"
    )
    long = targeting_rates(indicators, design=SRS, groups=[])
    row = long.filter(pl.col("statistic") == "targeting_differential").row(0, named=True)
    assert row["estimate"] == pytest.approx(1.0)
    assert row["se"] == pytest.approx(0.0, abs=1e-12)


def test_wide_table_and_suppression() -> None:
    indicators = add_indicator_columns(
        five_households(), selected="receives_benefit", benefit="benefit", unit="persons"
    )
    wide = wide_rates(targeting_rates(indicators, design=SRS, groups=["region"]))
    assert set(wide["group_value"]) == {"all", "N", "S"}
    north = wide.filter(pl.col("group_value") == "N").row(0, named=True)
    assert north["n_obs"] == 2
    assert north["population"] == pytest.approx(2.0)
    framed = wide.with_columns(
        pl.lit("program").alias("method"),
        pl.lit("actual").alias("decision_rule"),
        pl.lit("persons").alias("unit"),
        pl.lit("cash").alias("programme"),
        pl.lit("national").alias("poverty_line"),
    )
    suppressed = publishable("targeting_errors", framed, run_id="r", min_cell_n=3)
    north = suppressed.filter(pl.col("group_value") == "N").row(0, named=True)
    assert north["suppressed"] is True
    assert north["coverage"] is None and north["coverage_se"] is None
    assert north["population"] is None and north["n_obs"] == 2
    assert north["suppression"] == "primary"
    # the south alone would be the whole less the north: withheld too, as its complement
    south = suppressed.filter(pl.col("group_value") == "S").row(0, named=True)
    assert south["n_obs"] == 3 and south["suppressed"] is True
    assert south["suppression"] == "complementary"
    assert south["population"] is None and south["coverage"] is None
    everyone = suppressed.filter(pl.col("group_value") == "all").row(0, named=True)
    assert everyone["suppressed"] is False and everyone["suppression"] is None
    assert everyone["coverage"] == pytest.approx(0.4)


def test_select_by_rate_takes_the_highest_scores() -> None:
    score = np.array([0.9, 0.1, 0.5, 0.7])
    chosen = select_by_rate(score, np.ones(4), target_coverage=0.5)
    assert chosen.tolist() == [True, False, False, True]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    coverages=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    levels=st.integers(2, 50),
)
def test_rules_sharing_one_ranking_select_as_each_alone(
    seed: int, coverages: list[float], levels: int
) -> None:
    """The rate rules of one score array, sharing one ranking (``select_each``), select exactly
    what each rule selects alone, also with ties among the scores; the line rule likewise."""
    from transforms.pmt_evaluation import DecisionRule, select, select_each

    rng = np.random.default_rng(seed)
    n = 300
    score = rng.integers(0, levels, n) / levels  # few distinct values: many ties
    weight = rng.uniform(0.5, 3.0, n)
    rules = [DecisionRule(f"rate{c}", "rate", c) for c in coverages]
    rules.insert(len(rules) // 2, DecisionRule("line", "line"))
    ranked = sorted(range(n), key=lambda i: (-score[i], i))  # by hand: ties in input order
    above = dict(zip(ranked, np.cumsum([0.0, *weight[ranked][:-1]]), strict=True))
    shared = select_each(score, weight, rules)
    for rule, chosen in zip(rules, shared, strict=True):
        assert np.array_equal(chosen, select(score, weight, rule))
        if rule.kind == "rate":
            limit = rule.target_coverage * weight.sum()
            expected = [above[i] + weight[i] / 2 <= limit for i in range(n)]
            undecided = [abs(above[i] + weight[i] / 2 - limit) < 1e-9 for i in range(n)]
            assert all(c == e or u for c, e, u in zip(chosen, expected, undecided, strict=True))
            alone = select_by_rate(score, weight, target_coverage=rule.target_coverage)
            assert np.array_equal(chosen, alone)
        else:
            assert np.array_equal(chosen, score >= 0.5)


def test_inclusion_equals_exclusion_when_coverage_equals_poverty_rate() -> None:
    rng = np.random.default_rng(3)
    n = 400
    weight = rng.uniform(0.5, 3.0, n)
    welfare = rng.lognormal(0, 1, n)
    is_poor = welfare < np.quantile(welfare, 0.3)
    score = -welfare + rng.normal(0, 1.0, n)
    # unit weights make the rate rule hit the poverty rate exactly
    chosen = select_by_rate(score, np.ones(n), target_coverage=is_poor.mean())
    frame = add_quintiles(
        pl.DataFrame(
            {
                "hh_size": np.ones(n, dtype=int),
                "person_weight": np.ones(n),
                "welfare_pre": welfare,
                "is_poor": is_poor,
                "selected": chosen,
                "weight": weight,
            }
        )
    )
    got = targeting_rates(
        add_indicator_columns(frame, selected="selected", benefit=None, unit="persons"),
        design=SRS,
        groups=[],
    )
    values = dict(zip(got["statistic"], got["estimate"], strict=True))
    assert values["coverage"] == pytest.approx(values["poverty_rate"])
    assert values["inclusion_error"] == pytest.approx(values["exclusion_error"])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), low=st.floats(0.05, 0.45), step=st.floats(0.05, 0.5))
def test_exclusion_error_does_not_rise_with_coverage(seed: int, low: float, step: float) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    weight = rng.uniform(0.5, 3.0, n)
    is_poor = rng.random(n) < 0.3
    score = is_poor + rng.normal(0, 0.8, n)
    errors = []
    for coverage in (low, min(low + step, 1.0)):
        chosen = select_by_rate(score, weight, target_coverage=coverage)
        poor_weight = (weight * is_poor).sum()
        errors.append(
            float((weight * is_poor * ~chosen).sum() / poor_weight) if poor_weight else 0.0
        )
        rate_values = [errors[-1]]
        assert all(0.0 <= value <= 1.0 for value in rate_values)
    assert errors[1] <= errors[0] + 1e-12


def test_targeting_curve_by_hand() -> None:
    from transforms.pmt_evaluation import targeting_curve

    # scores rank h1 > h2 > h3 > h4; h1 and h3 are poor; equal weights
    curve = targeting_curve(
        np.array([0.9, 0.7, 0.5, 0.1]), np.ones(4), np.array([True, False, True, False]), points=5
    )
    assert curve["coverage"].to_list() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve["exclusion_error"].to_list() == [1.0, 0.5, 0.5, 0.0, 0.0]
    assert curve["inclusion_error"].to_list() == [None, 0.0, 0.5, 1 / 3, 0.5]
    assert curve["false_positive_rate"].to_list() == [0.0, 0.0, 0.5, 0.5, 1.0]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(12, 60),
    poor_share=st.floats(0.05, 0.95),
    cover_share=st.floats(0.0, 1.0),
)
def test_rates_are_fractions_in_every_group(
    seed: int, n: int, poor_share: float, cover_share: float
) -> None:
    rng = np.random.default_rng(seed)
    frame = add_quintiles(
        pl.DataFrame(
            {
                "region": rng.choice(["A", "B", "C"], n),
                "strata": rng.choice(["s1", "s2"], n),
                "psu": [f"p{i % 7}" for i in range(n)],
                "hh_size": rng.integers(1, 6, n),
                "welfare_pre": rng.lognormal(0, 1, n),
                "is_poor": rng.random(n) < poor_share,
                "selected": rng.random(n) < cover_share,
                "benefit": rng.uniform(0, 100, n),
            }
        ).with_columns(person_weight=pl.col("hh_size") * pl.lit(rng.uniform(0.5, 4, n)))
    )
    indicators = add_indicator_columns(
        frame, selected="selected", benefit="benefit", unit="persons"
    )
    design = Design(weight="person_weight", strata="strata", psu="psu")
    long = targeting_rates(indicators, design=design, groups=["region", "quintile"])
    fractions = long.filter(~pl.col("statistic").is_in(["targeting_differential", "cgh"]))
    values = fractions["estimate"].drop_nulls()
    assert ((values >= -1e-12) & (values <= 1 + 1e-12)).all()
    differential = long.filter(pl.col("statistic") == "targeting_differential")[
        "estimate"
    ].drop_nulls()
    assert ((differential >= -1 - 1e-12) & (differential <= 1 + 1e-12)).all()
    assert (long["se"].drop_nulls() >= 0).all()


def test_the_targeting_tasks_read_every_column_but_the_proxies() -> None:
    """The targeting tables read the analysis file less the model proxies (which only the
    models read), keeping a proxy the audit also breaks results down by, in file order."""
    from pathlib import Path

    from transforms.config import load_config
    from transforms.tables import targeting_columns

    config = load_config(Path(__file__).resolve().parents[1] / "data/sample/audit.toml")
    households = config.inputs.households
    assert {"roof", "has_tv"} <= set(households.proxies)
    columns = ["hh_id", "roof", "weight", "has_tv", "psu", "region", "is_poor__0"]
    assert targeting_columns(columns, households, config.targeting) == [
        "hh_id",
        "weight",
        "psu",
        "region",
        "is_poor__0",
    ]
    by_roof = config.targeting.model_copy(update={"groups": ["region", "roof"]})
    assert "roof" in targeting_columns(columns, households, by_roof)
