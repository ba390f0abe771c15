"""The indicator catalogue: one home for every published indicator's facts.

Every value the long tables (matching_indicators, fiscal_indicators) can hold in their
``indicator`` column, and every rate of targeting_errors, with its unit, display label, display
kind, definition and source. Producers emit names and values only; at publication the unit is
joined from here (:func:`with_units`); the report, the workbook, the alert rules, the
targeting-rate columns of the contract and the data dictionary all read from here.

Names carrying a run-specific suffix (a model, a scenario, a financing source, an age group)
are catalogued once by their prefix, as ``budget_pmt:<model>``; a label may name the suffix
as ``{suffix}``. Indicators declared in :mod:`transforms.indicators` are catalogued from their
declaration.

Notation of indicators.md: household sampling weight w, size n, persons ω = w·n; per-capita
welfare after the programme y and before it y⁰ (= y − T/n when the survey's welfare includes
the benefit, floored at 0); annual household benefit T; beneficiary flag B (unknown receipt
taken as T > 0); per-capita poverty line z; poor P = 1[y⁰ < z]; gap g = max(z − y⁰, 0) per
person. d is the analysis weight of targeting.unit: ω (persons, the default) or w (households).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import polars as pl

from transforms import indicators as declared

Display = Literal["percent", "points", "number", "money", "year"]
"""How a value is shown: a fraction as %, a difference of fractions in points, a plain number,
an amount of money in the audit's currency, a calendar year."""
AlertRule = Literal["points", "ratio"]
"""How a change between runs is judged: by fraction points, or by the ratio of the values."""

FRACTION = "fraction"
DIFFERENCE = "difference of fractions"
TARGETING = "targeting_errors"
MATCHING = "matching_indicators"
FISCAL = "fiscal_indicators"
FGT_LABELS = {0: "Poverty headcount", 1: "Poverty gap index", 2: "Poverty severity"}
SHARE_OF = {"gdp": "GDP", "revenue": "revenue"}
ASPIRE = "ASPIRE"
CEQ = "CEQ"
BI = "Beckerman–Immervoll"
CGH = "Coady–Grosh–Hoddinott"
GROSH = "Grosh et al. 2022"
UN_DEPENDENCY = "UN old-age dependency"
OURS = "welfare-audit"


def display_of(unit: str) -> Display:
    """The usual display of a unit: fractions as %, money as money, years as years."""
    if unit.startswith(FRACTION):
        return "percent"
    if unit == DIFFERENCE:
        return "points"
    if unit.startswith("currency"):
        return "money"
    return "year" if unit == "year" else "number"


@dataclass(frozen=True)
class Indicator:
    """One catalogued indicator: a value of an ``indicator`` column, or a targeting rate.

    ``name`` is the published name, or its prefix followed by ``:<…>`` when the published name
    carries a suffix (``budget_pmt:<model>`` stands for ``budget_pmt:logit``, …).
    """

    name: str
    table: str
    unit: str
    label: str
    definition: str
    source: str
    display: Display
    alert: AlertRule | None = None
    """How the alert rules compare this indicator between runs (None: not watched)."""
    sums_to_one: bool = False
    """The groups of one group_type are shares of one whole (they sum to 1), so the whole is
    known without a published cell: disclosure control protects the shares as parts of it
    (:mod:`transforms.suppression`)."""

    @property
    def prefix(self) -> str:
        """The name before any ``:<…>`` suffix placeholder."""
        return self.name.split(":", 1)[0]

    @property
    def placeholder(self) -> str:
        """The suffix placeholder of the name ('<model>'), '' for a name without suffix."""
        return self.name.split(":", 1)[1] if ":" in self.name else ""

    def label_for(self, published: str) -> str:
        """The display label of a published name, its suffix put into the label in words
        (:func:`suffix_words`): 'budget_pmt:ols' -> '…, PMT (OLS), …'."""
        suffix = published.split(":", 1)[1] if ":" in published else ""
        return self.label.replace("{suffix}", suffix_words(self.placeholder, suffix))


MODEL_WORDS = {"ols": "OLS", "logit": "logit", "hgb": "gradient boosting", "rf": "random forest"}
"""The built-in PMT models as a reader names them (a custom model keeps its configured name)."""
ALLOCATION_WORDS = {
    "programme": "the programme as paid",
    "perfect_targeting": "perfect targeting",
    "universal": "a universal transfer",
}
"""How poverty_reduction_with_current_budget allocates today's spending, in words."""
PMT_METHOD = "pmt:"


def model_words(model: str) -> str:
    """A PMT model in words: 'ols' -> 'OLS', 'hgb' -> 'gradient boosting'."""
    return MODEL_WORDS.get(model, model)


def method_words(method: str) -> str:
    """A targeting method in words: 'pmt:ols' -> 'PMT (OLS)', 'program' -> 'programme'."""
    if method.startswith(PMT_METHOD):
        return f"PMT ({model_words(method.removeprefix(PMT_METHOD))})"
    return "programme" if method == "program" else method


def suffix_words(placeholder: str, suffix: str) -> str:
    """A published name's suffix in words, by what its placeholder stands for: a model
    ('PMT (OLS)' reads 'OLS'), an allocation ('perfect targeting', 'PMT (OLS)'), an age group
    ('aged 0–14', 'of all ages'); a financing source keeps its configured name."""
    if placeholder == "<model>":
        return model_words(suffix)
    if placeholder == "<scenario>":
        return ALLOCATION_WORDS.get(suffix) or method_words(suffix)
    if placeholder == "<group>":
        return "of all ages" if suffix == "all" else "aged " + suffix.replace("-", "–")
    return suffix


def _matching(
    name: str,
    label: str,
    unit: str,
    definition: str,
    source: str = OURS,
    display: Display | None = None,
    *,
    sums_to_one: bool = False,
) -> Indicator:
    return Indicator(
        name,
        MATCHING,
        unit,
        label,
        definition,
        source,
        display or display_of(unit),
        sums_to_one=sums_to_one,
    )


def _fiscal(
    name: str,
    label: str,
    unit: str,
    definition: str,
    source: str = OURS,
    display: Display | None = None,
) -> Indicator:
    return Indicator(name, FISCAL, unit, label, definition, source, display or display_of(unit))


def _targeting(
    name: str, label: str, definition: str, source: str, alert: AlertRule | None = None
) -> Indicator:
    unit = (
        "ratio" if name == "cgh" else DIFFERENCE if name == "targeting_differential" else FRACTION
    )
    return Indicator(name, TARGETING, unit, label, definition, source, display_of(unit), alert)


_DESIGN_SE = "Design-based SE and 95 % CI (Taylor linearisation on the full design)."
_REGIONS = "From the regions file, not the sample: group_type region, se, ci and n_obs null."
_CURRENT = "Scenario current, year fiscal.base_year; weights ω = w·n (persons) always."
_POPULATION = (
    "Per projection scenario and year t, population_a(t) of 0-14, 15-64 and 65+ summed over "
    "regions (age bands straddling 15 or 65 split evenly by single year of age), the 65+ "
    "scenario-adjusted: E'_t = E_ref + m·(E_t − E_ref), m the scenario's "
    "elderly_growth_multiplier, ref = fiscal.base_year if projected, else the first year."
)
_PROJECTED = (
    "Per projection scenario and year t, population_a(t) as for old_age_dependency_ratio; "
    "only when the survey records benefit amounts."
)
_PMT_SELECTION = (
    "S_m = model m's out-of-fold selection under the rate rule with coverage equal to the "
    "poverty rate (rate:poverty_rate)."
)

MATCHING_INDICATORS: tuple[Indicator, ...] = (
    _matching(
        "coverage",
        "Coverage",
        "fraction",
        "Share of the population receiving the programme: Σ d·B / Σ d, overall (group all) and "
        "within each quintile, region and urban domain. " + _DESIGN_SE,
        ASPIRE,
    ),
    _matching(
        "beneficiary_incidence",
        "Beneficiary incidence (share of all beneficiaries)",
        "fraction",
        "Group g's share of all beneficiaries: Σ_g d·B / Σ d·B, for each quintile, region and "
        "urban value (a population share, not a domain estimate; shares sum to 1 within a "
        "group_type). n_obs: beneficiary households in g. " + _DESIGN_SE,
        ASPIRE,
        sums_to_one=True,
    ),
    _matching(
        "benefit_incidence",
        "Benefit incidence (share of all benefit money)",
        "fraction",
        "Group g's share of all benefit money: Σ_g w·T / Σ w·T (household weights, whatever "
        "targeting.unit is), for each quintile, region and urban value. n_obs: paid households "
        "in g. " + _DESIGN_SE,
        ASPIRE,
        sums_to_one=True,
    ),
    _matching(
        "adequacy",
        "Adequacy (benefits ÷ beneficiaries' pre-transfer welfare)",
        "ratio",
        "Benefits as a share of beneficiaries' pre-transfer welfare, a ratio of totals: "
        "Σ w·B·T / Σ w·B·n·y⁰, overall and within each quintile, region and urban domain. "
        + _DESIGN_SE,
        ASPIRE,
        display="percent",
    ),
    _matching(
        "gap_closure",
        "Poverty gap closed among poor beneficiaries",
        "fraction",
        "Share of poor beneficiaries' poverty gap the benefit closes: "
        "Σ w·B·P·min(T, n·g) / Σ w·B·P·n·g (pre-transfer y⁰), overall and within each "
        "quintile, region and urban domain. " + _DESIGN_SE,
    ),
    _matching(
        "tier_share",
        "Share of the population in the need tier and benefit band",
        "fraction",
        "Share of the population in a need tier × benefit band cell: Σ_cell d / Σ d; "
        "group_type tier, group_value '<need_tier>|band<k>'. Need tiers by y⁰: extreme_poor "
        "(y⁰ < 0.5z), poor (< z), near_poor (< 1.5z), non_poor. Band 0: no benefit; band k: "
        "b_(k−1) < T/n ≤ b_k with b_0 = 0 and b = programme.benefit_tier_bounds, the last band "
        "open. Every cell is published. " + _DESIGN_SE,
        sums_to_one=True,
    ),
    _matching(
        "tier_mismatch_rate",
        "Persons whose benefit tier does not match their need",
        "fraction",
        "Share of the population whose benefit band is not the one its need tier calls for: "
        "Σ d·1[band ≠ called-for band] / Σ d (group all). Called-for band: "
        "programme.need_tier_bands, else any positive band for extreme_poor and poor and band 0 "
        "for near_poor and non_poor. " + _DESIGN_SE,
    ),
    _matching(
        "regional_coefficient",
        "Regional cost-of-living coefficient",
        "ratio",
        "A region's cost-of-living coefficient c_r: its price_index, else its poverty_line ÷ "
        "the national line (poverty_line.national_line, else the population-weighted mean of "
        "the regional lines). " + _REGIONS,
    ),
    _matching(
        "needs_based_standard",
        "Needs-based standard",
        "currency/person/year",
        "F × c_r, F the national floor (programme.national_floor, else "
        "poverty_line.national_line). " + _REGIONS,
    ),
    _matching(
        "benefit_standard",
        "Benefit standard",
        "currency/person/year",
        "The region's guaranteed benefit standard as given in the regions file. " + _REGIONS,
    ),
    _matching(
        "real_standard",
        "Benefit standard in national prices",
        "currency/person/year",
        "benefit_standard ÷ c_r: the standard in national prices. " + _REGIONS,
    ),
    _matching(
        "standard_gap",
        "Standard gap ((benefit − needs-based) ÷ needs-based)",
        "ratio",
        "(benefit_standard − needs_based_standard) ÷ needs_based_standard; negative when the "
        "region guarantees less than its needs-based standard. " + _REGIONS,
        display="percent",
    ),
    _matching(
        "real_standard_cv",
        "Variation of real benefit standards across regions (CV)",
        "ratio",
        "Horizontal inequity of the guaranteed minimum: population-weighted coefficient of "
        "variation of real_standard across regions, sqrt(Σ p·(x − x̄)² / Σ p) ÷ x̄ with "
        "x̄ = Σ p·x / Σ p, p = regions.population when complete, else the survey's persons Σ ω "
        "per region. Group all; se, ci and n_obs null.",
        display="percent",
    ),
)

FISCAL_INDICATORS: tuple[Indicator, ...] = (
    *[
        _fiscal(
            f"fgt{alpha}_{stage}",
            f"{FGT_LABELS[alpha]} {'before' if stage == 'pre' else 'after'} the transfer "
            f"(FGT{alpha})",
            "fraction",
            f"Foster–Greer–Thorbecke P_{alpha} of {welfare} welfare: "
            f"Σ ω·1[{y} < z]·((z − {y})/z)^{alpha} / Σ ω"
            + (" (headcount ratio)" if alpha == 0 else "")
            + f". {_CURRENT}",
            CEQ,
        )
        for stage, welfare, y in (("pre", "pre-transfer", "y⁰"), ("post", "post-transfer", "y"))
        for alpha in (0, 1, 2)
    ],
    _fiscal(
        "poverty_gap_total",
        "Aggregate poverty gap before the transfer",
        "currency/year",
        "Aggregate pre-transfer poverty gap Σ ω·g: the budget that closes the gap with "
        "perfect targeting. " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "spending",
        "Programme spending",
        "currency/year",
        "Programme spending Σ w·T (= Σ ω·T/n). " + _CURRENT,
        ASPIRE,
    ),
    _fiscal(
        "leakage_spending",
        "Spending on the non-poor",
        "currency/year",
        "Spending on the pre-transfer non-poor: Σ w·(1 − P)·T. " + _CURRENT,
        ASPIRE,
    ),
    _fiscal(
        "leakage_share",
        "Share of spending on the non-poor",
        "fraction",
        "leakage_spending ÷ spending. " + _CURRENT,
        ASPIRE,
    ),
    _fiscal(
        "spending_effectiveness",
        "Spending effectiveness (poverty-gap reduction ÷ spending)",
        "fraction",
        "Money reduction of the aggregate poverty gap per unit spent: "
        "Σ ω·[max(z − y⁰, 0) − max(z − y, 0)] ÷ Σ w·T (Beckerman–Immervoll PRE = ASPIRE "
        "benefit–cost ratio). " + _CURRENT,
        BI,
    ),
    _fiscal(
        "vee",
        "Vertical expenditure efficiency (share reaching the pre-poor)",
        "fraction",
        "Vertical expenditure efficiency AB/ABC: share of the transfer Σ ω·(y − y⁰) received "
        "by the pre-transfer poor (y⁰ < z). " + _CURRENT,
        BI,
    ),
    _fiscal(
        "spillover",
        "Spillover (share lifting the poor beyond the line)",
        "fraction",
        "B/AB: share of the transfer to the pre-poor that lifts them above z, "
        "B = Σ ω·(y − z) over those lifted out (y⁰ < z ≤ y). " + _CURRENT,
        BI,
    ),
    _fiscal(
        "pre",
        "Poverty reduction efficiency",
        "fraction",
        "Poverty reduction efficiency A/ABC, A = Σ ω·(y − y⁰) over the post-poor (y < z) + "
        "Σ ω·(z − y⁰) over those lifted out; equals spending_effectiveness when y − y⁰ = T/n. "
        + _CURRENT,
        BI,
    ),
    _fiscal(
        "pge",
        "Poverty gap efficiency",
        "fraction",
        "Poverty gap efficiency A/AD, AD = Σ ω·g: share of the pre-transfer gap closed. "
        + _CURRENT,
        BI,
    ),
    _fiscal(
        "gini_pre",
        "Gini before the transfer",
        "index",
        "Gini of y⁰ over persons ω (CEQ covconc: 2·Σ ω·x·F / Σ ω·x − 1, F the mid-point rank, "
        "ties sharing their rank). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "gini_post",
        "Gini after the transfer",
        "index",
        "Gini of y over persons ω (as gini_pre). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "concentration_benefits",
        "Concentration coefficient of benefits",
        "index",
        "Concentration coefficient of the per-capita benefit T/n ranked by y⁰ (ω). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "concentration_post_by_pre",
        "Concentration of post-transfer welfare (ranked before)",
        "index",
        "Concentration coefficient of y ranked by y⁰ (ω). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "kakwani",
        "Kakwani index of benefits",
        "index",
        "gini_pre − concentration_benefits: progressivity of the transfer (> 0 progressive). "
        + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "reynolds_smolensky",
        "Reynolds–Smolensky index",
        "index",
        "gini_pre − concentration_post_by_pre: vertical redistribution. " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "redistributive_effect",
        "Redistributive effect (Gini before − after)",
        "index",
        "gini_pre − gini_post (= reynolds_smolensky − reranking). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "reranking",
        "Reranking",
        "index",
        "gini_post − concentration_post_by_pre (Atkinson–Plotnick reranking). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "budget_perfect_targeting",
        "Budget needed to close the poverty gap, perfect targeting",
        "currency/year",
        "Cost of closing the gap paying every poor person exactly g: Σ ω·g "
        "(= poverty_gap_total). " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "mean_gap_per_poor_person",
        "Mean poverty gap per poor person",
        "currency/person/year",
        "ḡ = Σ ω·g / Σ ω·P: the flat transfer of the flat-budget scenarios. " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "budget_pmt:<model>",
        "Budget needed to close the poverty gap, PMT ({suffix}): each selected household paid "
        "its gap",
        "currency/year",
        "Cost when each household PMT model m selects is paid its own gap n·g: Σ ω·g·S_m "
        "(the poor it misses stay poor). " + _PMT_SELECTION + " " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "budget_pmt_flat:<model>",
        "Budget needed to close the poverty gap, PMT ({suffix}): flat transfer to those selected",
        "currency/year",
        "Cost of paying ḡ per person to the households model m selects: ḡ·Σ ω·S_m. "
        + _PMT_SELECTION
        + " "
        + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "budget_universal",
        "Budget needed to close the poverty gap, universal flat transfer",
        "currency/year",
        "Cost of paying ḡ to every person: ḡ·Σ ω. " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "poverty_reduction_with_current_budget:<scenario>",
        "Poverty gap index reduction today's spending buys, allocated by {suffix}",
        "fraction",
        "FGT1(y⁰) − FGT1(y⁰ + allocation of today's spending Σ w·T) under allocation "
        "programme (actual y), perfect_targeting (the poorest raised to a common level capped "
        "at z, CEQ ceqbenstar), pmt:<model> (spending split equally per person among S_m) or "
        "universal (split equally among everybody). " + _PMT_SELECTION + " " + _CURRENT,
        GROSH,
    ),
    *[
        _fiscal(
            f"spending_share_{name}",
            f"Spending, share of {SHARE_OF[name]}",
            "fraction",
            f"spending ÷ fiscal.{name} (base year; only when fiscal.{name} is set). " + _CURRENT,
            ASPIRE,
        )
        for name in ("gdp", "revenue")
    ],
    *[
        _fiscal(
            f"poverty_gap_share_{name}",
            f"Poverty gap, share of {SHARE_OF[name]}",
            "fraction",
            f"poverty_gap_total ÷ fiscal.{name} (base year; only when fiscal.{name} is set). "
            + _CURRENT,
        )
        for name in ("gdp", "revenue")
    ],
    _fiscal(
        "age_beneficiary_rate:<group>",
        "Share of people {suffix} in beneficiary households",
        "fraction",
        "Base-year share of age group a receiving the programme: Σ w·B·n_a / Σ w·n_a, a one of "
        "0-14, 15-64, 65+ (n_a from member ages), or all (n_a = n) when the survey has no "
        "member ages; households without member ages are left out. Scenario current, year "
        "fiscal.base_year.",
    ),
    _fiscal(
        "age_benefit_per_beneficiary:<group>",
        "Benefit per beneficiary {suffix}",
        "currency/person/year",
        "Base-year benefit per beneficiary person of age group a: Σ w·(T/n_c)·n_a / Σ w·B·n_a, "
        "n_c the household's counted members (the benefit shared equally among them). Scenario "
        "current, year fiscal.base_year.",
    ),
    _fiscal(
        "old_age_dependency_ratio",
        "Old-age dependency ratio (65+ ÷ 15–64)",
        "ratio",
        "Population 65+ (scenario-adjusted E'_t) ÷ population 15-64. " + _POPULATION,
        UN_DEPENDENCY,
    ),
    _fiscal(
        "projected_beneficiaries",
        "Projected beneficiaries",
        "persons",
        "Σ_a age_beneficiary_rate_a × population_a(t): constant base-year age-specific "
        "beneficiary rates. " + _PROJECTED,
    ),
    _fiscal(
        "projected_cost",
        "Projected programme cost",
        "currency/year",
        "Σ_a rate_a × benefit per beneficiary_a × population_a(t) × (1 + r)^(t − base_year), "
        "r the scenario's real_benefit_growth, else fiscal.real_benefit_growth. " + _PROJECTED,
    ),
    *[
        _fiscal(
            f"cost_share_{name}",
            f"Projected cost, share of {SHARE_OF[name]}",
            "fraction",
            f"projected_cost ÷ (fiscal.{name} × (1 + fiscal.gdp_real_growth)^(t − base_year)) "
            f"(only when fiscal.{name} is set). " + _PROJECTED,
        )
        for name in ("gdp", "revenue")
    ],
    _fiscal(
        "financing_share:<source>",
        "Share of the cost borne by {suffix}",
        "fraction",
        "Share of projected_cost borne by a fiscal.financing source in year t: rule share, "
        "fixed (fixed shares scaled to sum to 1 if above it); old_age_linked, share × "
        "old_age_dependency_ratio(t) ÷ its value in the reference year (scaled down if fixed + "
        "linked exceed 1); remainder, what is left, split equally among remainder sources. "
        + _PROJECTED,
    ),
    _fiscal(
        "financing_cost:<source>",
        "Cost borne by {suffix}",
        "currency/year",
        "projected_cost × financing_share of the source. " + _PROJECTED,
    ),
    _fiscal(
        "threshold_crossed_year",
        "First year the cost share of GDP exceeds the sustainability threshold",
        "year",
        "First projected year in which cost_share_gdp exceeds fiscal.sustainability_threshold "
        "(value null: never crossed). One row per scenario with a null year; only when "
        "fiscal.gdp is set.",
    ),
    _fiscal(
        "sustainability_threshold",
        "Sustainability threshold (programme cost, share of GDP)",
        "fraction",
        "fiscal.sustainability_threshold as configured: the cost share of GDP that "
        "threshold_crossed_year is measured against. One row per scenario with a null year, "
        "beside threshold_crossed_year.",
    ),
)

_TARGETING_NOTE = (
    "Weights d = ω (targeting.unit persons, default) or w (households), per group; S = B "
    "(method program, rule actual) or the PMT's out-of-fold selection (method pmt:<model>, "
    "rule rate or line). " + _DESIGN_SE
)

TARGETING_INDICATORS: tuple[Indicator, ...] = (
    _targeting(
        "poverty_rate",
        "Poverty rate (before the transfer)",
        "Pre-transfer poverty rate Σ d·P / Σ d. " + _TARGETING_NOTE,
        ASPIRE,
    ),
    _targeting(
        "coverage",
        "Coverage (share reached)",
        "Share selected Σ d·S / Σ d. " + _TARGETING_NOTE,
        ASPIRE,
        alert="ratio",
    ),
    _targeting(
        "exclusion_error",
        "Exclusion error (share of the poor missed)",
        "Share of the poor not selected (undercoverage): Σ d·P·(1 − S) / Σ d·P. " + _TARGETING_NOTE,
        GROSH,
        alert="points",
    ),
    _targeting(
        "inclusion_error",
        "Inclusion error (share of those reached who are not poor)",
        "Share of the selected who are not poor (leakage; the World Bank standard): "
        "Σ d·(1 − P)·S / Σ d·S. " + _TARGETING_NOTE,
        GROSH,
        alert="points",
    ),
    _targeting(
        "inclusion_rate_nonpoor",
        "Share of the non-poor reached",
        "Share of the non-poor who are selected: Σ d·(1 − P)·S / Σ d·(1 − P) (Alatas et al. "
        "2012 denominator). " + _TARGETING_NOTE,
        GROSH,
    ),
    _targeting(
        "targeting_differential",
        "Targeting differential (coverage of the poor − of the non-poor)",
        "Coverage among the poor minus coverage among the non-poor: Σ d·P·S / Σ d·P − "
        "Σ d·(1 − P)·S / Σ d·(1 − P), in [−1, 1] (Ravallion). " + _TARGETING_NOTE,
        GROSH,
    ),
    _targeting(
        "cgh",
        "CGH: benefit share of the poorest 40 % ÷ 0.40 (above 1 is progressive)",
        "Share of benefits reaching the bottom 40 % of persons by y⁰ (mid-point cumulative "
        "person-weight rank < 0.4), ÷ 0.40: Σ d·b·1[bottom 40] / Σ d·b ÷ 0.40 with b = money "
        "(T/n per person, T per household) for the programme and b = S for a PMT. "
        + _TARGETING_NOTE,
        CGH,
    ),
)


def declared_catalogue() -> tuple[Indicator, ...]:
    """Catalogue entries of the indicators declared in transforms.indicators (read now)."""
    return tuple(
        Indicator(
            item.name,
            declared.TABLE,
            item.unit,
            item.label,
            item.definition,
            item.source,
            item.display or display_of(item.unit),
        )
        for item in declared.DECLARED_INDICATORS
    )


def catalogue() -> tuple[Indicator, ...]:
    """Every catalogued indicator, with the declared ones as declared at call time."""
    return (*MATCHING_INDICATORS, *FISCAL_INDICATORS, *TARGETING_INDICATORS, *declared_catalogue())


def indicators_of(table_name: str) -> tuple[Indicator, ...]:
    """The catalogued indicators of one published table, in catalogue order."""
    return tuple(item for item in catalogue() if item.table == table_name)


def lookup(table_name: str, published: str) -> Indicator:
    """The catalogue entry of a published name of a table (``budget_pmt:ols`` finds its prefix).

    Raises KeyError naming the table and the name when it is not catalogued.
    """
    prefix = published.split(":", 1)[0]
    for item in indicators_of(table_name):
        if item.name == published or (item.name.endswith(">") and item.prefix == prefix):
            return item
    raise KeyError(f"{table_name}: indicator {published!r} is not in the catalogue")


def require(table_name: str, *names: str) -> tuple[str, ...]:
    """The names, each checked to be catalogued for the table (for code that reads them)."""
    for name in names:
        lookup(table_name, name)
    return names


def targeting_rates() -> tuple[str, ...]:
    """The rates of targeting_errors, in catalogue order (each a column with SE and CI)."""
    return tuple(item.name for item in indicators_of(TARGETING))


def watched(rule: AlertRule) -> tuple[str, ...]:
    """Targeting rates the alert rules compare between runs with the given rule."""
    return tuple(item.name for item in indicators_of(TARGETING) if item.alert == rule)


def label(table_name: str, published: str) -> str:
    """The display label of a published indicator name."""
    return lookup(table_name, published).label_for(published)


def display(table_name: str, published: str) -> Display:
    """The display kind of a published indicator name."""
    return lookup(table_name, published).display


def unit_expression(table_name: str, names: Iterable[str]) -> pl.Expr:
    """The catalogued unit of each value of the ``indicator`` column (strict: an unknown name
    is an error)."""
    units = {name: lookup(table_name, name).unit for name in set(names)}
    return pl.col("indicator").replace_strict(units, return_dtype=pl.String)


def with_units(frame: pl.DataFrame, table_name: str) -> pl.DataFrame:
    """The rows with their ``unit`` column from the catalogue (KeyError for a name it lacks)."""
    names = frame["indicator"].unique().to_list()
    return frame.with_columns(unit_expression(table_name, names).alias("unit"))
