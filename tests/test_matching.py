"""Resource matching: hand-computed incidence, adequacy, gap closure, tiers, standards and SEs."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms import matching
from transforms.catalogue import with_units
from transforms.config import PovertyLine, Programme
from transforms.household import add_quintiles
from transforms.indicators import RatioIndicator
from transforms.matching import (
    OUTPUT_SCHEMA,
    MatchingResult,
    matching_indicators,
    population_shares,
    weighted_cv,
)
from transforms.survey import Design, estimate_ratios

PERSONS = Design(weight="person_weight")
PROGRAMME_COLUMNS = {"receives_benefit": "b", "benefit_amount": "t"}


def make_config(
    *,
    columns: dict[str, str | None] | None = None,
    programme: dict[str, Any] | None = None,
    poverty_line: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The config sections matching takes: the programme, the national line, and whether the
    household file maps benefit amounts (the programme columns, overridden by ``columns``)."""
    mapped = {**PROGRAMME_COLUMNS, **(columns or {})}
    line = PovertyLine.model_validate(poverty_line or {"method": "national", "national_line": 10.0})
    return {
        "programme": Programme.model_validate({"amount": "t", **(programme or {})}),
        "national_line": line.national_line,
        "amounts_recorded": mapped["benefit_amount"] is not None,
    }


def analysis_frame(
    *,
    hh_size: list[int],
    welfare_pre: list[float],
    benefit: list[float],
    receives: list[bool | None],
    line: float = 10.0,
    weight: list[float] | None = None,
    region: list[str] | None = None,
    urban: list[bool] | None = None,
) -> pl.DataFrame:
    """The analysis-frame columns matching reads (welfare excludes the benefit)."""
    n = len(hh_size)
    frame = pl.DataFrame(
        {
            "hh_id": [str(i) for i in range(n)],
            "region": region or ["N"] * n,
            "urban": urban or [True] * n,
            "weight": weight or [1.0] * n,
            "hh_size": hh_size,
            "benefit": benefit,
            "receives_benefit": pl.Series(receives, dtype=pl.Boolean),
            "welfare_pre": welfare_pre,
            "poverty_line": [line] * n,
        }
    ).with_columns(
        (pl.col("weight") * pl.col("hh_size")).alias("person_weight"),
        (pl.col("welfare_pre") + pl.col("benefit") / pl.col("hh_size")).alias("welfare_post"),
        (pl.col("welfare_pre") < pl.col("poverty_line")).alias("is_poor"),
    )
    return add_quintiles(frame)


def five_households(line: float = 10.0) -> pl.DataFrame:
    """z = 10. Persons 2,1,1,2,1 (7); one household per quintile; h1, h2 poor.

    h1 (N, urban): y⁰ 4, paid 8 (4 per person); h2 (N, rural): y⁰ 8, paid 4; h3 (S, rural):
    y⁰ 12, paid 6; h4 (S, urban) y⁰ 15 and h5 (S, rural) y⁰ 30 get nothing.
    """
    return analysis_frame(
        hh_size=[2, 1, 1, 2, 1],
        welfare_pre=[4.0, 8.0, 12.0, 15.0, 30.0],
        benefit=[8.0, 4.0, 6.0, 0.0, 0.0],
        receives=[True, True, True, False, False],
        region=["N", "N", "S", "S", "S"],
        urban=[True, False, False, True, False],
        line=line,
    )


def values(result: MatchingResult) -> dict[tuple[str, str | None, str], float | None]:
    """(group_type, group_value, indicator) -> value."""
    return {
        (row["group_type"], row["group_value"], row["indicator"]): row["value"]
        for row in result.indicators.iter_rows(named=True)
    }


def test_quintiles_of_the_fixture_hold_one_household_each() -> None:
    assert five_households()["quintile"].to_list() == [1, 2, 3, 4, 5]


def test_output_columns_and_units() -> None:
    result = matching_indicators(five_households(), None, **make_config(), design=PERSONS)
    assert result.indicators.schema == pl.Schema(OUTPUT_SCHEMA)
    published = with_units(result.indicators, "matching_indicators")
    units = dict(zip(published["indicator"], published["unit"], strict=True))
    assert units["coverage"] == "fraction"
    assert units["adequacy"] == "ratio"
    assert units["tier_mismatch_rate"] == "fraction"
    assert "no regions file: regional standards skipped" in result.notes


def test_hand_computed_coverage_incidence_adequacy_gap_closure() -> None:
    got = values(matching_indicators(five_households(), None, **make_config(), design=PERSONS))
    # 4 of 7 persons live in a beneficiary household
    assert got[("all", "all", "coverage")] == pytest.approx(4 / 7)
    assert got[("region", "N", "coverage")] == pytest.approx(1.0)
    assert got[("region", "S", "coverage")] == pytest.approx(1 / 4)
    # beneficiaries (persons) 2, 1, 1 in quintiles 1-3 of 4
    incidence = [got[("quintile", str(q), "beneficiary_incidence")] for q in range(1, 6)]
    assert incidence == pytest.approx([2 / 4, 1 / 4, 1 / 4, 0.0, 0.0])
    assert got[("region", "N", "beneficiary_incidence")] == pytest.approx(3 / 4)
    # money: 8, 4, 6 of 18
    money = [got[("quintile", str(q), "benefit_incidence")] for q in range(1, 6)]
    assert money == pytest.approx([8 / 18, 4 / 18, 6 / 18, 0.0, 0.0])
    assert got[("urban", "false", "benefit_incidence")] == pytest.approx(10 / 18)
    # adequacy: 18 / (2·4 + 1·8 + 1·12)
    assert got[("all", "all", "adequacy")] == pytest.approx(18 / 28)
    assert got[("urban", "true", "adequacy")] == pytest.approx(8 / 8)
    assert got[("urban", "false", "adequacy")] == pytest.approx(10 / 20)
    # poor beneficiaries h1 (gap 2·6 = 12, paid 8) and h2 (gap 2, paid 4): (8 + 2) / (12 + 2)
    assert got[("all", "all", "gap_closure")] == pytest.approx(10 / 14)
    assert got[("region", "S", "gap_closure")] is None  # no poor beneficiary in S


def test_money_indicators_do_not_depend_on_the_counting_unit() -> None:
    frame = five_households().with_columns(pl.Series("weight", [1.0, 3.0, 2.0, 1.0, 5.0]))
    frame = frame.with_columns((pl.col("weight") * pl.col("hh_size")).alias("person_weight"))
    config = make_config()
    by_person = values(matching_indicators(frame, None, **config, design=PERSONS))
    by_household = values(
        matching_indicators(frame, None, **config, design=Design(weight="weight"))
    )
    money = ("benefit_incidence", "adequacy", "gap_closure")
    keys = [k for k in by_person if k[2] in money and by_person[k] is not None]
    assert len(keys) > 10
    for key in keys:
        assert by_household[key] == pytest.approx(by_person[key]), key
    # Σ w·T: 8·1 + 4·3 + 6·2 = 32, of which quintile 1 (h1) holds 8
    assert by_person[("quintile", "1", "benefit_incidence")] == pytest.approx(8 / 32)


def test_coverage_se_is_the_srs_formula() -> None:
    frame = analysis_frame(
        hh_size=[1] * 5,
        welfare_pre=[1.0, 2.0, 3.0, 4.0, 5.0],
        benefit=[5.0, 0.0, 5.0, 0.0, 0.0],
        receives=[True, False, True, False, False],
    )
    result = matching_indicators(frame, None, **make_config(), design=PERSONS)
    row = result.indicators.filter(
        (pl.col("indicator") == "coverage") & (pl.col("group_type") == "all")
    ).row(0, named=True)
    # equal weights, each household its own PSU: sqrt(p(1−p)/(n−1)) = sqrt(0.24/4)
    assert row["value"] == pytest.approx(0.4)
    assert row["se"] == pytest.approx(math.sqrt(0.24 / 4))


def test_incidence_se_is_the_linearised_share_variance() -> None:
    frame = five_households()
    result = matching_indicators(frame, None, **make_config(), design=PERSONS)
    row = result.indicators.filter(
        (pl.col("indicator") == "beneficiary_incidence") & (pl.col("group_value") == "N")
    ).row(0, named=True)
    # R = Σω·B·1[N] / Σω·B; z_i = ω_i·(B_i·1[N]_i − R·B_i) / Σω·B; var = n/(n−1)·Σ(z − z̄)²
    omega = frame["person_weight"].to_numpy()
    b = frame["receives_benefit"].cast(pl.Float64).to_numpy()
    north = (frame["region"] == "N").cast(pl.Float64).to_numpy()
    total = float(np.sum(omega * b))
    share = float(np.sum(omega * b * north)) / total
    z = omega * (b * north - share * b) / total
    expected = math.sqrt(len(z) / (len(z) - 1) * float(np.sum((z - z.mean()) ** 2)))
    assert row["value"] == pytest.approx(0.75)
    assert row["se"] == pytest.approx(expected)
    assert row["n_obs"] == 2  # beneficiary households in N


@pytest.mark.parametrize("cells_per_pass", [matching.PSU_CELLS_PER_PASS, 1])
def test_population_shares_on_psu_totals_equal_household_level_estimates(
    cells_per_pass: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matching, "PSU_CELLS_PER_PASS", cells_per_pass)  # 1: a pass per share
    rng = np.random.default_rng(7)
    n = 120
    frame = pl.DataFrame(
        {
            "strata": rng.integers(0, 3, n).astype(str),
            "cluster": rng.integers(0, 8, n).astype(str),
            "w": rng.uniform(0.5, 4.0, n),
            "y": rng.uniform(0.0, 10.0, n) * (rng.random(n) < 0.6),
            "g": [[None, "a", "b", "c"][k] for k in rng.integers(0, 4, n)],
        }
    )
    design = Design(weight="w", strata="strata", psu="cluster")
    shares = population_shares(frame, design=design, bases={"share": "y"}, group="g")
    indicators = frame.with_columns(
        [
            (pl.col("y") * pl.col("g").eq_missing(pl.lit(v, pl.String))).alias(f"y_{v}")
            for v in ("a", "b", "c", None)
        ]
    )
    direct = estimate_ratios(
        indicators,
        ratios={str(v): (f"y_{v}", "y") for v in ("a", "b", "c", None)},
        design=design,
        bounded=[str(v) for v in ("a", "b", "c", None)],  # shares: logit intervals
    )
    for row in shares.iter_rows(named=True):
        reference = direct.filter(pl.col("statistic") == str(row["group_value"])).row(0, named=True)
        assert row["estimate"] == pytest.approx(reference["estimate"])
        assert row["se"] == pytest.approx(reference["se"])
        assert row["ci_low"] == pytest.approx(reference["ci_low"])
    assert sum(shares["estimate"]) == pytest.approx(1.0)


def tier_frame() -> pl.DataFrame:
    """z = 10, bands per person: 0 | (0, 50] | (50, 100] | > 100; one person per household."""
    return analysis_frame(
        hh_size=[1] * 8,
        welfare_pre=[3.0, 4.0, 7.0, 9.0, 12.0, 14.0, 20.0, 30.0],
        benefit=[60.0, 0.0, 50.0, 120.0, 0.0, 10.0, 0.0, 0.0],
        receives=[True, False, True, True, False, True, False, False],
    )


def test_tier_share_matrix_and_default_mismatch_rate() -> None:
    config = make_config(programme={"benefit_tier_bounds": [50.0, 100.0]})
    result = matching_indicators(tier_frame(), None, **config, design=PERSONS)
    got = values(result)
    shares = {k[1]: v for k, v in got.items() if k[2] == "tier_share"}
    assert len(shares) == 4 * 4  # need tiers × bands 0..3
    assert sum(v or 0.0 for v in shares.values()) == pytest.approx(1.0)
    assert shares["extreme_poor|band2"] == pytest.approx(1 / 8)  # y⁰ 3, 60 a head
    assert shares["extreme_poor|band0"] == pytest.approx(1 / 8)  # y⁰ 4, nothing
    assert shares["poor|band1"] == pytest.approx(1 / 8)  # 50 is the band's upper bound
    assert shares["poor|band3"] == pytest.approx(1 / 8)
    assert shares["near_poor|band1"] == pytest.approx(1 / 8)
    assert shares["non_poor|band0"] == pytest.approx(2 / 8)
    assert shares["non_poor|band3"] == pytest.approx(0.0)
    cells = dict(zip(result.indicators["group_value"], result.indicators["n_obs"], strict=True))
    assert cells["non_poor|band0"] == 2  # households in the cell
    assert cells["non_poor|band3"] == 0
    # default rule: the unpaid extreme poor (y⁰ 4) and the paid near-poor (y⁰ 14) mismatch
    assert got[("all", "all", "tier_mismatch_rate")] == pytest.approx(2 / 8)


def test_configured_need_tier_bands() -> None:
    config = make_config(
        programme={
            "benefit_tier_bounds": [100.0, 50.0],  # order does not matter
            "need_tier_bands": {"extreme_poor": 3, "poor": 2},
        }
    )
    got = values(matching_indicators(tier_frame(), None, **config, design=PERSONS))
    # extreme poor need band 3 (both miss), poor need band 2 (bands 1 and 3 miss),
    # near poor keep the default band 0 (the one paid 10 misses)
    assert got[("all", "all", "tier_mismatch_rate")] == pytest.approx(5 / 8)
    beyond = make_config(programme={"benefit_tier_bounds": [50.0], "need_tier_bands": {"poor": 5}})
    notes = matching_indicators(tier_frame(), None, **beyond, design=PERSONS).notes
    assert any("need_tier_bands.poor = 5" in note for note in notes)


def regions_table() -> pl.DataFrame:
    """A: index 1.2, standard 600; B: 0.8, 480; C: no index, line 11 (national line 10)."""
    return pl.DataFrame(
        {
            "region": ["A", "B", "C"],
            "poverty_line": [12.0, 8.0, 11.0],
            "price_index": [1.2, 0.8, None],
            "benefit_standard": [600.0, 480.0, None],
            "population": [100.0, 300.0, 50.0],
        }
    )


def test_regional_standards_by_hand() -> None:
    config = make_config(programme={"national_floor": 500.0})
    result = matching_indicators(five_households(), regions_table(), **config, design=PERSONS)
    got = values(result)
    assert got[("region", "A", "regional_coefficient")] == pytest.approx(1.2)
    assert got[("region", "C", "regional_coefficient")] == pytest.approx(1.1)  # 11 / 10
    assert got[("region", "A", "needs_based_standard")] == pytest.approx(600.0)
    assert got[("region", "B", "needs_based_standard")] == pytest.approx(400.0)
    assert got[("region", "C", "needs_based_standard")] == pytest.approx(550.0)
    assert got[("region", "A", "standard_gap")] == pytest.approx(0.0)
    assert got[("region", "B", "standard_gap")] == pytest.approx(0.2)  # (480 − 400) / 400
    assert got[("region", "B", "real_standard")] == pytest.approx(600.0)
    assert ("region", "C", "standard_gap") not in got  # no benefit standard in C
    # real standards 500 (pop 100) and 600 (pop 300): mean 575, variance 1875
    assert got[("all", "all", "real_standard_cv")] == pytest.approx(math.sqrt(1875) / 575)
    regional = result.indicators.filter(pl.col("indicator") == "benefit_standard")
    assert regional["se"].null_count() == regional.height
    assert regional["n_obs"].null_count() == regional.height


def test_population_falls_back_to_survey_persons_and_floor_to_national_line() -> None:
    regions = regions_table().drop("population").filter(pl.col("region") != "C")
    frame = five_households().with_columns(
        pl.Series("region", ["A", "A", "B", "B", "B"])  # persons: A 3, B 4
    )
    result = matching_indicators(frame, regions, **make_config(), design=PERSONS)
    got = values(result)
    # floor = the national line 10
    assert got[("region", "B", "needs_based_standard")] == pytest.approx(8.0)
    mean = (3 * 500 + 4 * 600) / 7
    sd = math.sqrt((3 * (500 - mean) ** 2 + 4 * (600 - mean) ** 2) / 7)
    assert got[("all", "all", "real_standard_cv")] == pytest.approx(sd / mean)
    assert any("survey's person weights" in note for note in result.notes)


def test_no_floor_skips_needs_based_standards_with_a_note() -> None:
    config = make_config(poverty_line={"method": "relative_median", "median_share": 0.5})
    result = matching_indicators(five_households(), regions_table(), **config, design=PERSONS)
    indicators = set(result.indicators["indicator"])
    assert "needs_based_standard" not in indicators
    assert "standard_gap" not in indicators
    assert "real_standard" in indicators
    assert any("national_floor" in note for note in result.notes)
    # without a national line, a line-based coefficient divides by the weighted mean line
    c = result.indicators.filter(
        (pl.col("indicator") == "regional_coefficient") & (pl.col("group_value") == "C")
    )["value"].item()
    assert c == pytest.approx(11.0 / ((12 * 100 + 8 * 300 + 11 * 50) / 450))


def test_survey_without_programme_gives_notes_not_rows() -> None:
    frame = five_households().with_columns(
        pl.lit(None, pl.Boolean).alias("receives_benefit"), pl.lit(0.0).alias("benefit")
    )
    config = make_config(columns={"receives_benefit": None, "benefit_amount": None})
    result = matching_indicators(frame, None, **config, design=PERSONS)
    assert result.indicators.height == 0
    assert any("does not record the programme" in note for note in result.notes)


def test_receipt_without_amounts_gives_head_counts_only() -> None:
    frame = five_households().with_columns(pl.lit(0.0).alias("benefit"))
    config = make_config(columns={"benefit_amount": None})
    result = matching_indicators(frame, None, **config, design=PERSONS)
    assert set(result.indicators["indicator"]) == {"coverage", "beneficiary_incidence"}
    assert values(result)[("all", "all", "coverage")] == pytest.approx(4 / 7)
    assert any("no benefit amounts" in note for note in result.notes)


def test_weighted_cv() -> None:
    assert weighted_cv(pl.Series([1.0, 3.0]), pl.Series([1.0, 1.0])) == pytest.approx(0.5)
    assert weighted_cv(pl.Series([0.0, 0.0]), pl.Series([1.0, 2.0])) is None


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 100_000), n=st.integers(6, 40))
def test_incidence_shares_sum_to_one(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    receives = rng.random(n) < 0.5
    receives[0] = True
    frame = analysis_frame(
        hh_size=rng.integers(1, 6, n).tolist(),
        welfare_pre=rng.lognormal(2.0, 0.8, n).tolist(),
        benefit=(receives * rng.uniform(1.0, 50.0, n)).tolist(),
        receives=receives.tolist(),
        weight=rng.uniform(0.2, 5.0, n).tolist(),
        region=rng.choice(["A", "B", "C"], n).tolist(),
    )
    indicators = matching_indicators(frame, None, **make_config(), design=PERSONS).indicators
    sums = (
        indicators.filter(pl.col("indicator").is_in(["beneficiary_incidence", "benefit_incidence"]))
        .group_by("group_type", "indicator")
        .agg(pl.col("value").sum())
    )
    assert sums.height == 6  # quintile, region, urban × the two incidences
    assert sums["value"].to_list() == pytest.approx([1.0] * 6)
    published = with_units(indicators, "matching_indicators")
    rates = published.filter(pl.col("unit") == "fraction")["value"].drop_nulls()
    assert ((rates >= -1e-12) & (rates <= 1 + 1e-12)).all()


def test_line_free_rows_reused_for_another_line_equal_rows_estimated_anew() -> None:
    """Incidence and the declared ratios (no line column) are estimated once per programme:
    the rows of line z = 20 with line z = 10's line-free rows equal those estimated anew."""
    config = make_config()
    low, high = five_households(), five_households(line=20.0)
    first = matching_indicators(low, None, **config, design=PERSONS)
    assert first.line_free is not None and first.line_free.declared is not None
    reused = matching_indicators(high, None, **config, design=PERSONS, line_free=first.line_free)
    anew = matching_indicators(high, None, **config, design=PERSONS)
    assert reused.indicators.equals(anew.indicators)
    assert reused.notes == anew.notes
    # the line matters elsewhere: gap closure differs between the two lines
    assert (
        values(first)[("all", "all", "gap_closure")] != values(anew)[("all", "all", "gap_closure")]
    )


def test_declared_indicators_that_read_the_line_are_not_reused() -> None:
    """A declared ratio over the poor changes with the line: its rows are not kept."""
    over_poor = RatioIndicator(
        name="coverage_poor_households",
        unit="fraction",
        label="Coverage of the poor",
        definition="Σ d·B·P / Σ d·P",
        source="test",
        numerator=pl.col("receives_benefit").cast(pl.Float64) * pl.col("is_poor").cast(pl.Float64),
        denominator=pl.col("is_poor").cast(pl.Float64),
        requires=("receives_benefit", "is_poor"),
    )
    result = matching_indicators(
        five_households(), None, **make_config(), design=PERSONS, declared=[over_poor]
    )
    assert result.line_free is not None and result.line_free.declared is None
    # requires lists what may be missing from a survey; the expressions decide what is read
    unlisted = dataclasses.replace(over_poor, requires=("receives_benefit",))
    first = matching_indicators(
        five_households(), None, **make_config(), design=PERSONS, declared=[unlisted]
    )
    assert first.line_free is not None and first.line_free.declared is None
    high = five_households(line=20.0)
    kwargs = {**make_config(), "design": PERSONS, "declared": [unlisted]}
    reused = matching_indicators(high, None, **kwargs, line_free=first.line_free)
    assert reused.indicators.equals(matching_indicators(high, None, **kwargs).indicators)
