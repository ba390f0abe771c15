"""Fiscal balance: Grosh et al. worked example, Beckerman–Immervoll, CEQ indices, projection."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.config import FinancingSource, Fiscal
from transforms.fiscal import (
    OUTPUT_SCHEMA,
    FiscalResult,
    age_bounds,
    beckerman_immervoll,
    broad_age_population,
    broad_shares,
    fill_from_bottom,
    financing_shares,
    fiscal_indicators,
    project_costs,
    ranking,
    weighted_concentration,
)

GROSH_INCOMES = [6.0, 8.0, 11.0, 15.0, 21.0, 25.0, 30.0, 40.0, 50.0, 100.0]


def make_config(
    *,
    columns: dict[str, str | None] | None = None,
    fiscal: dict[str, Any] | None = None,
    line: float = 20.0,
) -> dict[str, Any]:
    """The config sections the fiscal stage takes: the fiscal section and whether the household
    file maps benefit amounts (``columns`` overrides the programme columns; ``line`` is the
    poverty line of the frames, not a setting of the stage)."""
    mapped = {"receives_benefit": "b", "benefit_amount": "t", **(columns or {})}
    return {
        "fiscal": Fiscal.model_validate(fiscal or {}),
        "amounts_recorded": mapped["benefit_amount"] is not None,
    }


def frame_of(
    pre: list[float],
    benefit: list[float],
    *,
    line: float | list[float] = 20.0,
    hh_size: list[int] | None = None,
    weight: list[float] | None = None,
    extra: dict[str, list[Any]] | None = None,
) -> pl.DataFrame:
    """Analysis-frame columns for the fiscal stage (benefit: household amount)."""
    n = len(pre)
    frame = pl.DataFrame(
        {
            "weight": weight or [1.0] * n,
            "hh_size": hh_size or [1] * n,
            "welfare_pre": pre,
            "benefit": benefit,
            "receives_benefit": [b > 0 for b in benefit],
            "poverty_line": line if isinstance(line, list) else [line] * n,
            **(extra or {}),
        }
    )
    return frame.with_columns(
        (pl.col("weight") * pl.col("hh_size")).alias("person_weight"),
        (pl.col("welfare_pre") + pl.col("benefit") / pl.col("hh_size")).alias("welfare_post"),
    )


def values(result: FiscalResult, scenario: str = "current") -> dict[str, float | None]:
    """indicator -> value for one scenario (rows with a year, or the threshold row)."""
    rows = result.indicators.filter(pl.col("scenario") == scenario)
    return dict(zip(rows["indicator"], rows["value"], strict=True))


def by_year(result: FiscalResult, scenario: str, indicator: str) -> dict[int, float]:
    """year -> value of one indicator of one scenario."""
    rows = result.indicators.filter(
        (pl.col("scenario") == scenario) & (pl.col("indicator") == indicator)
    )
    return dict(zip(rows["year"], rows["value"], strict=True))


# --- Grosh, Leite, Wai-Poi and Tesliuc (2022), Revisiting Targeting, ch. 7 -------------------


def test_grosh_universal_transfer_of_three_each() -> None:
    """Ten persons, z = 20: gap 14 + 12 + 9 + 5 = 40; $3 each (budget 30) cuts it by 12."""
    result = fiscal_indicators(frame_of(GROSH_INCOMES, [3.0] * 10), **make_config())
    got = values(result)
    assert got["poverty_gap_total"] == pytest.approx(40.0)
    assert got["spending"] == pytest.approx(30.0)
    assert got["spending_effectiveness"] == pytest.approx(0.40)
    before, after = got["fgt1_pre"], got["fgt1_post"]
    assert before is not None and after is not None
    assert after / before == pytest.approx(0.70)  # the poverty gap falls 30 %
    assert got["fgt1_pre"] == pytest.approx(40 / (20 * 10))
    assert got["fgt0_pre"] == pytest.approx(0.4)
    assert got["fgt0_post"] == pytest.approx(0.4)  # nobody crosses the line
    # Beckerman–Immervoll: all 12 that reach the poor fill gaps; PRE = BCR
    assert got["vee"] == pytest.approx(12 / 30)
    assert got["spillover"] == pytest.approx(0.0)
    assert got["pre"] == pytest.approx(0.40)
    assert got["pge"] == pytest.approx(12 / 40)
    assert got["leakage_spending"] == pytest.approx(18.0)
    assert got["leakage_share"] == pytest.approx(0.6)
    assert got["budget_perfect_targeting"] == pytest.approx(40.0)
    # today's 30 spent perfectly fills 30 of the 40 gap: FGT1 falls by 30/(20·10)
    assert got["poverty_reduction_with_current_budget:perfect_targeting"] == pytest.approx(0.15)
    assert got["poverty_reduction_with_current_budget:universal"] == pytest.approx(0.06)
    assert got["poverty_reduction_with_current_budget:programme"] == pytest.approx(0.06)
    assert result.indicators.schema == pl.Schema(OUTPUT_SCHEMA)
    assert set(result.indicators["year"]) == {2025}


def test_grosh_scenario_two_benefit_cost_ratio() -> None:
    """Scenario 2 (EE 50 %, IE 50 %): 21 of 30 closes gaps, BCR 0.70.

    Reconstruction: the covered poor are incomes 8 and 11 (gaps 12 + 9 = 21, paid exactly
    their gaps) and the remaining 9 goes to two non-poor (21 and 25, 4.5 each); only the sum
    paid to the non-poor matters for the ratio.
    """
    paid = [0.0, 12.0, 9.0, 0.0, 4.5, 4.5, 0.0, 0.0, 0.0, 0.0]
    got = values(fiscal_indicators(frame_of(GROSH_INCOMES, paid), **make_config()))
    assert got["spending"] == pytest.approx(30.0)
    assert got["spending_effectiveness"] == pytest.approx(0.70)
    assert got["pre"] == pytest.approx(0.70)
    assert got["vee"] == pytest.approx(0.70)
    assert got["pge"] == pytest.approx(21 / 40)
    assert got["leakage_share"] == pytest.approx(0.30)
    assert got["spillover"] == pytest.approx(0.0)  # 8 + 12 and 11 + 9 land exactly on z
    assert got["fgt0_post"] == pytest.approx(0.2)


def test_pmt_and_universal_budgets_on_the_grosh_economy() -> None:
    selected = np.array([True, True, False, False, True, True, False, False, False, False])
    result = fiscal_indicators(
        frame_of(GROSH_INCOMES, [3.0] * 10),
        **make_config(fiscal={"gdp": 1000.0, "revenue": 300.0}),
        pmt_selections={"ols": selected},
    )
    got = values(result)
    assert got["mean_gap_per_poor_person"] == pytest.approx(10.0)  # 40 over 4 poor
    assert got["budget_pmt:ols"] == pytest.approx(14.0 + 12.0)  # the selected poor's gaps
    assert got["budget_pmt_flat:ols"] == pytest.approx(10.0 * 4)
    assert got["budget_universal"] == pytest.approx(10.0 * 10)
    # 30 split among 4 selected = 7.5 a head; the poor 6 and 8 gain 7.5 each: 15 of gap
    assert got["poverty_reduction_with_current_budget:pmt:ols"] == pytest.approx(15 / 200)
    assert got["spending_share_gdp"] == pytest.approx(0.03)
    assert got["spending_share_revenue"] == pytest.approx(0.1)
    assert got["poverty_gap_share_gdp"] == pytest.approx(0.04)


def test_misaligned_pmt_selection_is_an_error() -> None:
    with pytest.raises(ValueError, match="one flag per row"):
        fiscal_indicators(
            frame_of(GROSH_INCOMES, [3.0] * 10),
            **make_config(),
            pmt_selections={"ols": np.ones(3, dtype=bool)},
        )


# --- Beckerman–Immervoll in person units --------------------------------------------------


def test_beckerman_immervoll_four_households_with_person_weights() -> None:
    """z = 10. Households (size, weight → ω): (1, 1 → 1), (2, 1 → 2), (1, 2 → 2), (1, 1 → 1).

    Per person y⁰ = 2, 6, 9, 20 and d = 3, 6, 0, 5 (household T = 3, 12, 0, 5); y = 5, 12, 9, 25.
    AB  = Σω·d over the pre-poor (first three) = 1·3 + 2·6 + 2·0 = 15
    ABC = Σω·d = 15 + 1·5 = 20 (= spending Σ w·T = 3 + 12 + 0 + 5)
    B   = Σω·(y − z) over those lifted out (household 2) = 2·(12 − 10) = 4
    A   = Σω·d over the post-poor (1 and 3) + Σω·(z − y⁰) over the lifted = 3 + 2·4 = 11
    AD  = Σω·(z − y⁰) over the pre-poor = 1·8 + 2·4 + 2·1 = 18
    VEE = 15/20, spillover = 4/15, PRE = 11/20, PGE = 11/18; AB = A + B.
    """
    frame = frame_of(
        [2.0, 6.0, 9.0, 20.0],
        [3.0, 12.0, 0.0, 5.0],
        line=10.0,
        hh_size=[1, 2, 1, 1],
        weight=[1.0, 1.0, 2.0, 1.0],
    )
    got = values(fiscal_indicators(frame, **make_config(line=10.0)))
    assert got["vee"] == pytest.approx(15 / 20)
    assert got["spillover"] == pytest.approx(4 / 15)
    assert got["pre"] == pytest.approx(11 / 20)
    assert got["pge"] == pytest.approx(11 / 18)
    assert got["spending"] == pytest.approx(20.0)
    assert got["spending_effectiveness"] == pytest.approx(11 / 20)
    assert got["poverty_gap_total"] == pytest.approx(18.0)
    assert got["leakage_share"] == pytest.approx(5 / 20)
    # persons 6; FGT over ω: headcount 5/6 → 3/6; gap (0.8 + 2·0.4 + 2·0.1)/6 → (0.5 + 2·0.1)/6
    assert got["fgt0_pre"] == pytest.approx(5 / 6)
    assert got["fgt0_post"] == pytest.approx(3 / 6)
    assert got["fgt1_pre"] == pytest.approx(1.8 / 6)
    assert got["fgt1_post"] == pytest.approx(0.7 / 6)
    assert got["fgt2_pre"] == pytest.approx((0.64 + 2 * 0.16 + 2 * 0.01) / 6)
    assert got["fgt2_post"] == pytest.approx((0.25 + 2 * 0.01) / 6)


def test_beckerman_immervoll_parts_add_up() -> None:
    rng = np.random.default_rng(1)
    pre = rng.uniform(0, 20, 200)
    post = pre + rng.uniform(0, 8, 200) * (rng.random(200) < 0.5)
    line, persons = np.full(200, 10.0), rng.uniform(1, 5, 200)
    got = beckerman_immervoll(pre, post, line, persons)
    assert got["vee"] is not None and got["spillover"] is not None and got["pre"] is not None
    # AB = A + B: VEE·(1 − spillover) = PRE
    assert got["vee"] * (1 - got["spillover"]) == pytest.approx(got["pre"])


# --- Gini, concentration, Kakwani, Reynolds–Smolensky --------------------------------------


def mean_difference_concentration(
    x: np.ndarray, w: np.ndarray, rank: np.ndarray | None = None
) -> float:
    """Independent formula: ΣΣ w_i·w_j·(x_i − x_j)·sign(r_i − r_j) / (2·Σw·Σw·x).

    With r = x this is the weighted mean absolute difference over twice the mean (Gini).
    """
    r = x if rank is None else rank
    pairs = np.subtract.outer(x, x) * np.sign(np.subtract.outer(r, r))
    return float(np.sum(np.outer(w, w) * pairs) / (2 * w.sum() * np.sum(w * x)))


def ceq_covconc_loop(x: np.ndarray, w: np.ndarray, rank: np.ndarray) -> float:
    """CEQ covconc written as printed: C = 1 − 2·[Σ w_i·c_i / Σ x_i·w_i] / Σ w_i (no ties)."""
    order = np.argsort(rank)
    x, w = x[order], w[order]
    running, weighted_c = 0.0, 0.0
    for xi, wi in zip(x, w, strict=True):
        running += xi * wi
        weighted_c += wi * (running - xi * wi / 2)
    return float(1 - 2 * (weighted_c / np.sum(x * w)) / np.sum(w))


def test_gini_of_one_to_four_is_a_quarter() -> None:
    assert weighted_concentration(np.array([1.0, 2, 3, 4]), np.ones(4)) == pytest.approx(0.25)
    # weights act as replication: weight 2 on '1' equals listing it twice
    doubled = weighted_concentration(np.array([1.0, 2, 3, 4, 1]), np.ones(5))
    weighted = weighted_concentration(np.array([1.0, 2, 3, 4]), np.array([2.0, 1, 1, 1]))
    assert weighted == pytest.approx(doubled)
    assert weighted_concentration(np.zeros(3), np.ones(3)) is None


def test_concentration_matches_the_mean_difference_and_ceq_formulas() -> None:
    rng = np.random.default_rng(11)
    x = rng.lognormal(0, 1, 60)
    w = rng.uniform(0.5, 3, 60)
    rank = rng.normal(size=60)
    assert weighted_concentration(x, w) == pytest.approx(mean_difference_concentration(x, w))
    concentration = weighted_concentration(x, w, rank_by=rank)
    assert concentration == pytest.approx(mean_difference_concentration(x, w, rank))
    assert concentration == pytest.approx(ceq_covconc_loop(x, w, rank))
    # ties in the ranking variable share a mid-point rank: order of ties is irrelevant
    tied = np.round(rank)
    forward = weighted_concentration(x, w, rank_by=tied)
    backward = weighted_concentration(x[::-1], w[::-1], rank_by=tied[::-1])
    assert forward == pytest.approx(backward)
    assert forward == pytest.approx(mean_difference_concentration(x, w, tied))


def test_a_ranking_sorts_once_and_finds_runs_of_ties_by_hand() -> None:
    """[3, 1, 3, nan, 1, nan, 2]: order 1 (positions 1, 4), 2 (6), 3 (0, 2), NaN (3, 5) last;
    runs start at 0, 2, 3, 5 and hold 2, 1, 2, 2 units (NaNs tie with each other)."""
    ranked = ranking(np.array([3.0, 1, 3, np.nan, 1, np.nan, 2]))
    assert ranked.order.tolist() == [1, 4, 6, 0, 2, 3, 5]
    assert ranked.starts.tolist() == [0, 2, 3, 5]
    assert ranked.counts.tolist() == [2, 1, 2, 2]
    empty = ranking(np.array([]))
    assert empty.starts.size == 0 and empty.counts.size == 0


def test_a_shared_ranking_gives_the_same_concentration_to_the_last_bit() -> None:
    """One ranking of y⁰ serves the Gini, the benefits' and post-transfer concentrations."""
    rng = np.random.default_rng(5)
    pre = np.round(rng.lognormal(0, 1, 500), 1)  # rounded: many ties
    post = pre + rng.uniform(0, 1, 500)
    w = rng.uniform(0.5, 3, 500)
    shared = ranking(pre)
    assert weighted_concentration(pre, w, ranked=shared) == weighted_concentration(pre, w)
    by_pre = weighted_concentration(post, w, rank_by=pre)
    assert weighted_concentration(post, w, ranked=shared) == by_pre


def test_kakwani_and_reynolds_smolensky_by_hand() -> None:
    """y⁰ = 1, 2, 3, 4 (z = 2.5); T = 2, 1, 0, 0 → y = 3, 3, 3, 4; mid-ranks 1/8, 3/8, 5/8, 7/8.

    G_pre = 0.25; C_T = 2·(2·1/8 + 1·3/8)/3 − 1 = −7/12, Kakwani = 0.25 + 7/12 = 5/6;
    C_post|pre = 2·(3/8 + 9/8 + 15/8 + 28/8)/13 − 1 = 3/52 = G_post (no reranking);
    RS = 0.25 − 3/52 = 5/26.
    """
    frame = frame_of([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 0.0, 0.0], line=2.5)
    got = values(fiscal_indicators(frame, **make_config(line=2.5)))
    assert got["gini_pre"] == pytest.approx(0.25)
    assert got["concentration_benefits"] == pytest.approx(-7 / 12)
    assert got["kakwani"] == pytest.approx(5 / 6)
    assert got["gini_post"] == pytest.approx(3 / 52)
    assert got["reynolds_smolensky"] == pytest.approx(5 / 26)
    assert got["reranking"] == pytest.approx(0.0)
    assert got["redistributive_effect"] == pytest.approx(0.25 - 3 / 52)


# --- Allocating a budget ---------------------------------------------------------------------


def test_fill_from_bottom_by_hand() -> None:
    ones = np.ones(3)
    # 4 raises 2 to 4 (cost 2), then both to 5 (cost 2)
    got = fill_from_bottom(np.array([2.0, 4.0, 9.0]), np.full(3, 10.0), ones, 4.0)
    assert got.tolist() == pytest.approx([5.0, 5.0, 9.0])
    # own lines cap: the first stops at its line 3 (cost 1), the second takes 4 more
    capped = fill_from_bottom(np.array([2.0, 4.0]), np.array([3.0, 10.0]), np.ones(2), 5.0)
    assert capped.tolist() == pytest.approx([3.0, 8.0])
    # weights: ω = 2 on the poorest makes each unit of its rise cost 2
    weighted = fill_from_bottom(np.array([2.0, 4.0]), np.full(2, 10.0), np.array([2.0, 1.0]), 7.0)
    assert weighted.tolist() == pytest.approx([5.0, 5.0])
    # more than the gap: everybody at the line, nobody above it
    full = fill_from_bottom(np.array([2.0, 4.0, 12.0]), np.full(3, 10.0), ones, 100.0)
    assert full.tolist() == pytest.approx([10.0, 10.0, 12.0])


# --- Missing programme -----------------------------------------------------------------------


def test_survey_without_programme_keeps_poverty_and_budgets() -> None:
    frame = frame_of(GROSH_INCOMES, [0.0] * 10).with_columns(
        pl.lit(None, pl.Boolean).alias("receives_benefit")
    )
    config = make_config(columns={"receives_benefit": None, "benefit_amount": None})
    result = fiscal_indicators(frame, **config)
    got = values(result)
    assert "spending" not in got
    assert "vee" not in got
    assert got["poverty_gap_total"] == pytest.approx(40.0)
    assert got["budget_universal"] == pytest.approx(100.0)
    assert any("does not record the programme" in note for note in result.notes)


# --- Projection ------------------------------------------------------------------------------


def projection_frame() -> pl.DataFrame:
    """Survey: h1 1 child + 2 working age, paid 300; h2 2 elderly, paid 400; h3 1 + 1, unpaid.

    Persons by age 1 / 3 / 3; beneficiaries 1 / 2 / 2; benefits (equal shares) 100 / 200 / 400.
    Rates 1, 2/3, 2/3; benefit per beneficiary 100, 100, 200; spending a head 100, 200/3, 400/3.
    """
    return frame_of(
        [5.0, 5.0, 30.0],
        [300.0, 400.0, 0.0],
        hh_size=[3, 2, 2],
        extra={"n_children": [1, 0, 0], "n_working_age": [2, 0, 1], "n_elderly": [0, 2, 1]},
    )


def toy_projection() -> pl.DataFrame:
    """Two regions, 2025 and 2026: 0-14 10, 15-64 30, 65+ 6 → 9 (totals over regions)."""
    rows = []
    for year, elderly in ((2025, 6.0), (2026, 9.0)):
        for group, total in (("0-14", 10.0), ("15-64", 30.0), ("65+", elderly)):
            rows += [(year, group, region, total / 2) for region in ("A", "B")]
    return pl.DataFrame(rows, schema=["year", "age_group", "region", "population"], orient="row")


def projection_config(**fiscal: Any) -> dict[str, Any]:
    """Base 2025, GDP 400 000 growing 3 %, revenue 100 000, threshold 1.03 %, two scenarios."""
    return make_config(
        fiscal={
            "base_year": 2025,
            "gdp": 400_000.0,
            "revenue": 100_000.0,
            "gdp_real_growth": 0.03,
            "real_benefit_growth": 0.01,
            "sustainability_threshold": 0.0103,
            "financing": [
                {"source": "central", "rule": "share", "share": 0.5},
                {"source": "pension_fund", "rule": "old_age_linked", "share": 0.2},
                {"source": "local", "rule": "remainder"},
            ],
            "scenarios": [
                {"name": "baseline"},
                {"name": "faster_ageing", "elderly_growth_multiplier": 2.0},
            ],
            **fiscal,
        }
    )


def test_projection_by_hand() -> None:
    result = project_costs(projection_frame(), toy_projection(), **projection_config())
    current = values(result)
    assert current["age_beneficiary_rate:0-14"] == pytest.approx(1.0)
    assert current["age_beneficiary_rate:65+"] == pytest.approx(2 / 3)
    assert current["age_benefit_per_beneficiary:65+"] == pytest.approx(200.0)
    assert by_year(result, "baseline", "old_age_dependency_ratio") == pytest.approx(
        {2025: 0.2, 2026: 0.3}
    )
    # 2025: 100·10 + (200/3)·30 + (400/3)·6 = 3800; 2026: (1000 + 2000 + 1200)·1.01
    cost = by_year(result, "baseline", "projected_cost")
    assert cost == pytest.approx({2025: 3800.0, 2026: 4200.0 * 1.01})
    assert by_year(result, "baseline", "projected_beneficiaries")[2025] == pytest.approx(34.0)
    share = by_year(result, "baseline", "cost_share_gdp")
    assert share == pytest.approx({2025: 3800 / 400_000, 2026: 4242 / 412_000})
    assert by_year(result, "baseline", "cost_share_revenue")[2025] == pytest.approx(0.038)
    # faster ageing: 65+ grows twice as fast, 6 → 12
    assert by_year(result, "faster_ageing", "old_age_dependency_ratio")[2026] == pytest.approx(0.4)
    assert by_year(result, "faster_ageing", "projected_cost")[2026] == pytest.approx(4600 * 1.01)
    # 4242/412 000 = 1.0296 % stays under 1.03 %; 4646/412 000 = 1.128 % crosses it in 2026
    assert values(result, "baseline")["threshold_crossed_year"] is None
    assert values(result, "faster_ageing")["threshold_crossed_year"] == 2026
    assert values(result, "baseline")["sustainability_threshold"] == pytest.approx(0.0103)
    threshold = result.indicators.filter(pl.col("indicator") == "threshold_crossed_year")
    assert threshold["year"].null_count() == threshold.height
    # financing: central 0.5; pension 0.2 × dependency growth (1, 1.5, 2); local the rest
    assert by_year(result, "baseline", "financing_share:pension_fund") == pytest.approx(
        {2025: 0.2, 2026: 0.3}
    )
    assert by_year(result, "baseline", "financing_share:local") == pytest.approx(
        {2025: 0.3, 2026: 0.2}
    )
    assert by_year(result, "faster_ageing", "financing_share:local")[2026] == pytest.approx(0.1)
    assert by_year(result, "baseline", "financing_cost:central")[2025] == pytest.approx(1900.0)


def test_projection_without_member_ages_uses_one_rate() -> None:
    frame = projection_frame().drop("n_children", "n_working_age", "n_elderly")
    result = project_costs(frame, toy_projection(), **projection_config())
    # 5 of 7 persons covered, 700 paid: 100 a head of population; 2025 population 46
    assert values(result)["age_beneficiary_rate:all"] == pytest.approx(5 / 7)
    assert by_year(result, "baseline", "projected_cost")[2025] == pytest.approx(4600.0)
    assert any("no member ages" in note for note in result.notes)


def test_projection_notes_instead_of_crashes() -> None:
    config = projection_config()
    missing = project_costs(projection_frame(), None, **config)
    assert missing.indicators.height == 0
    assert missing.notes == ["no population projection: skipped"]
    bad = toy_projection().with_columns(
        pl.when(pl.col("age_group") == "65+")
        .then(pl.lit("60+"))
        .otherwise("age_group")
        .alias("age_group")
    )
    straddling = project_costs(projection_frame(), bad, **config)
    assert straddling.indicators.height == 0
    assert any("straddles 65" in note for note in straddling.notes)
    later = project_costs(projection_frame(), toy_projection(), **projection_config(base_year=2020))
    assert any("ageing measured from 2025" in note for note in later.notes)
    no_gdp = project_costs(projection_frame(), toy_projection(), **projection_config(gdp=None))
    assert "threshold_crossed_year" not in set(no_gdp.indicators["indicator"])


def test_age_bands() -> None:
    assert age_bounds("0-14") == (0, 14)
    assert age_bounds(" 65+ ") == (65, None)
    assert age_bounds("80 and over") == (80, None)
    assert age_bounds("7") == (7, 7)
    with pytest.raises(ValueError, match="not understood"):
        age_bounds("elderly")
    assert broad_shares(10, 19) == {"0-14": 0.5, "15-64": 0.5, "65+": 0.0}
    assert broad_shares(85, None) == {"0-14": 0.0, "15-64": 0.0, "65+": 1.0}
    five_year = pl.DataFrame(
        {
            "year": [2030] * 4,
            "age_group": ["0-4", "10-19", "60-69", "70+"],
            "population": [5.0, 10.0, 20.0, 4.0],
        }
    )
    notes: list[str] = []
    broad = broad_age_population(five_year, notes)
    assert broad is not None
    assert broad.row(0, named=True) == pytest.approx(
        {"year": 2030, "0-14": 10.0, "15-64": 15.0, "65+": 14.0}
    )
    assert any("split evenly" in note for note in notes)


def test_financing_shares_stay_in_the_unit_interval() -> None:
    sources = [
        FinancingSource(source="central", rule="share", share=0.5),
        FinancingSource(source="pension", rule="old_age_linked", share=0.4),
        FinancingSource(source="local", rule="remainder"),
    ]
    notes: list[str] = []
    capped = financing_shares(sources, ageing=2.0, notes=notes)
    assert capped == pytest.approx({"central": 0.5, "pension": 0.5, "local": 0.0})
    unfunded = financing_shares(sources[:1], ageing=1.0, notes=notes)
    assert unfunded == {"central": 0.5}
    assert any("no 'remainder'" in note for note in notes)


# --- Properties ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    incomes=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=30),
    seed=st.integers(0, 10_000),
)
def test_gini_lies_in_the_unit_interval(incomes: list[float], seed: int) -> None:
    weights = np.random.default_rng(seed).uniform(0.1, 10.0, len(incomes))
    gini = weighted_concentration(np.array(incomes), weights)
    if sum(incomes) == 0:
        assert gini is None
    else:
        assert gini is not None
        assert -1e-9 <= gini <= 1.0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 30))
def test_leakage_share_lies_in_the_unit_interval(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    paid = rng.uniform(0, 50, n) * (rng.random(n) < 0.6)
    paid[0] = 10.0
    frame = frame_of(
        rng.uniform(0, 60, n).tolist(),
        paid.tolist(),
        hh_size=rng.integers(1, 6, n).tolist(),
        weight=rng.uniform(0.2, 4, n).tolist(),
    )
    got = values(fiscal_indicators(frame, **make_config()))
    share = got["leakage_share"]
    assert share is not None
    assert 0.0 <= share <= 1.0
    for name in ("vee", "pre", "spending_effectiveness"):
        value = got[name]
        assert value is not None
        assert -1e-12 <= value <= 1.0 + 1e-12


def test_pre_transfer_rows_shared_by_programmes_on_one_line_equal_rows_computed_anew() -> None:
    """Two programmes against one line: the second reusing the first's pre-transfer poverty,
    Gini and ranking of y⁰ publishes the same rows, to the last bit, as computed alone."""
    first = fiscal_indicators(frame_of(GROSH_INCOMES, [3.0] * 10), **make_config())
    targeted = frame_of(GROSH_INCOMES, [8.0, 6.0, 4.0, 2.0] + [0.0] * 6)
    assert first.pre_transfer is not None
    reused = fiscal_indicators(targeted, **make_config(), pre_transfer=first.pre_transfer)
    alone = fiscal_indicators(targeted, **make_config())
    assert reused.indicators.equals(alone.indicators)
    assert values(reused)["gini_pre"] == values(first)["gini_pre"]


def test_a_ranking_must_belong_to_the_values_and_pre_transfer_to_the_frame() -> None:
    """A ranking of other units, or rank_by beside its ranking, is refused; so is another
    frame's pre-transfer result."""
    x, w = np.array([1.0, 2.0, 3.0]), np.ones(3)
    with pytest.raises(ValueError, match="not both"):
        weighted_concentration(x, w, rank_by=x, ranked=ranking(x))
    with pytest.raises(ValueError, match="a ranking of 2 units for 3 values"):
        weighted_concentration(x, w, ranked=ranking(x[:2]))
    other = fiscal_indicators(frame_of([5.0, 30.0], [1.0, 0.0]), **make_config())
    with pytest.raises(ValueError, match="another frame"):
        fiscal_indicators(
            frame_of(GROSH_INCOMES, [3.0] * 10), **make_config(), pre_transfer=other.pre_transfer
        )
