"""Fiscal balance (indicators.md, 'Fiscal balance'): what the programme costs and what it buys.

Population point values (the fiscal table carries no SEs). Units follow field-anchors B3: money
totals are Σ w·T over households, which equals Σ ω·(T/n) over persons; poverty measures and the
Beckerman–Immervoll decomposition use per-capita incomes weighted by persons ω = w·n. Inequality
measures use the CEQ concentration formula (``covconc``) through one vectorised helper,
:func:`weighted_concentration`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from transforms.config import FinancingSource, Fiscal, FiscalScenario
from transforms.summation import exact_cumulative, exact_sums, exact_total

CURRENT = "current"
OUTPUT_SCHEMA: dict[str, type[pl.DataType]] = {
    "scenario": pl.String,
    "year": pl.Int64,
    "indicator": pl.String,
    "value": pl.Float64,
}
BROAD_AGE_GROUPS = (("0-14", 0, 14), ("15-64", 15, 64), ("65+", 65, None))
ELDERLY, WORKING_AGE = "65+", "15-64"
MEMBER_COUNTS = {"0-14": "n_children", "15-64": "n_working_age", "65+": "n_elderly"}
FGT_ALPHAS = (0, 1, 2)


@dataclass(frozen=True)
class FiscalResult:
    """Long rows (scenario, year, indicator, value; units come from the catalogue at
    publication) and notes on what was skipped."""

    indicators: pl.DataFrame
    notes: list[str] = field(default_factory=list)
    pre_transfer: PreTransfer | None = None
    """What every other programme measured against the same line can reuse."""


@dataclass(frozen=True)
class PreTransfer:
    """Pre-transfer poverty and inequality against one line (FGT 0/1/2 of y⁰, the aggregate
    gap, the Gini of y⁰) and the ranking of y⁰: no programme enters them, so every programme
    measured against the line shares them."""

    rows: tuple[tuple[str, float | None], ...]
    gap_total: float
    pre_ranking: Ranking
    gini_pre: float | None


@dataclass
class Rows:
    """Accumulates fiscal rows; ``add`` writes to the default scenario and year, ``add_at`` to
    any (a null year is allowed: threshold_crossed_year belongs to no single year)."""

    year: int | None
    scenario: str = CURRENT
    items: list[dict[str, object]] = field(default_factory=list)

    def add(self, indicator: str, value: float | None) -> None:
        """One row under the default scenario and year."""
        self.add_at(self.scenario, self.year, indicator, value)

    def add_at(self, scenario: str, year: int | None, indicator: str, value: float | None) -> None:
        """One row; non-finite values become nulls."""
        finite = value is not None and bool(np.isfinite(value))
        self.items.append(
            {
                "scenario": scenario,
                "year": year,
                "indicator": indicator,
                "value": float(value) if finite and value is not None else None,
            }
        )

    def frame(self) -> pl.DataFrame:
        """The rows as a frame in the output shape."""
        if not self.items:
            return pl.DataFrame(schema=OUTPUT_SCHEMA)
        return pl.DataFrame(self.items, schema=OUTPUT_SCHEMA, orient="row")


@dataclass(frozen=True)
class Incomes:
    """Per-household arrays: weight w, persons ω = w·n, size n, y⁰, y, z (per person) and T."""

    weight: np.ndarray
    persons: np.ndarray
    size: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    line: np.ndarray
    benefit: np.ndarray

    @classmethod
    def from_frame(cls, frame: pl.DataFrame) -> Incomes:
        """Read weight, person_weight, hh_size, welfare_pre/_post, poverty_line, benefit."""

        def column(name: str) -> np.ndarray:
            return frame[name].cast(pl.Float64).fill_null(0.0).to_numpy()

        return cls(
            weight=column("weight"),
            persons=column("person_weight"),
            size=column("hh_size"),
            pre=column("welfare_pre"),
            post=column("welfare_post"),
            line=frame["poverty_line"].cast(pl.Float64).to_numpy(),
            benefit=column("benefit"),
        )

    @property
    def gap(self) -> np.ndarray:
        """Pre-transfer poverty gap per person, max(z − y⁰, 0)."""
        return np.maximum(self.line - self.pre, 0.0)

    @property
    def is_poor(self) -> np.ndarray:
        """P = 1[y⁰ < z]."""
        return self.pre < self.line


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator ÷ denominator, None when the denominator is 0."""
    return None if denominator == 0.0 else numerator / denominator


@dataclass(frozen=True)
class Ranking:
    """Units in ascending order of a variable (ties in input order) and the runs of tied
    values in that order: where each run starts and how many units it holds."""

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray


def ranking(values: np.ndarray) -> Ranking:
    """The ranking of ``values``: one stable sort; ties found as changes between neighbours
    (NaNs tie with each other, as in ``np.unique``)."""
    rank = np.asarray(values, dtype=float)
    order = np.argsort(rank, kind="stable")
    ranked = rank[order]
    changes = (ranked[1:] != ranked[:-1]) & ~(np.isnan(ranked[1:]) & np.isnan(ranked[:-1]))
    starts = np.flatnonzero(np.concatenate([[rank.size > 0], changes]))
    return Ranking(order, starts, np.diff(np.append(starts, rank.size)))


def weighted_concentration(
    values: np.ndarray,
    weights: np.ndarray,
    *,
    rank_by: np.ndarray | None = None,
    ranked: Ranking | None = None,
) -> float | None:
    """Concentration coefficient of ``values`` ranked by ``rank_by`` (the Gini when omitted).

    CEQ ``covconc``: C = 1 − 2·[Σ w_i·c_i / Σ x_i·w_i] / Σ w_i with c_i = Σ_{j≤i} x_j·w_j −
    x_i·w_i/2, which equals 2·Σ w·x·F / Σ w·x − 1 with the mid-point rank F_i = (Σ_{j<i} w_j +
    w_i/2) / Σ w. Units tied in rank share their group's mid-point, so the value does not depend
    on the order of ties. None when Σ w·x = 0. ``ranked``: the ranking of ``rank_by`` (or of
    ``values``) when the caller already has it, so one variable is sorted once.
    """
    x = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if ranked is not None and rank_by is not None:
        raise ValueError("give rank_by or its ranking (ranked), not both")
    if ranked is None:
        ranked = ranking(x if rank_by is None else rank_by)
    if ranked.order.size != x.size:
        raise ValueError(f"a ranking of {ranked.order.size} units for {x.size} values")
    x, w = x[ranked.order], w[ranked.order]
    total_w, total_x = exact_total(w), exact_total(w * x)
    if total_w <= 0.0 or total_x == 0.0:
        return None
    cumulative = np.concatenate([[0.0], exact_cumulative(w)])  # exact at every tie's ends
    group_start = cumulative[ranked.starts]
    group_end = cumulative[ranked.starts + ranked.counts]
    midpoint = np.repeat((group_start + group_end) / 2.0, ranked.counts) / total_w
    return 2.0 * exact_total(w * x * midpoint) / total_x - 1.0


def fgt(welfare: np.ndarray, line: np.ndarray, persons: np.ndarray, alpha: int) -> float | None:
    """P_α = Σ ω·(max(z − y, 0)/z)^α / Σ ω; α = 0 is the headcount 1[y < z]."""
    poor = welfare < line
    shortfall = np.where(poor, 1.0 - welfare / line, 0.0)
    terms = poor.astype(float) if alpha == 0 else shortfall**alpha
    return ratio(exact_total(persons * terms), exact_total(persons))


def beckerman_immervoll(
    pre: np.ndarray, post: np.ndarray, line: np.ndarray, persons: np.ndarray
) -> dict[str, float | None]:
    """VEE = AB/ABC, spillover = B/AB, PRE = A/ABC, PGE = A/AD (CEQ ``ceqbeck``, ω-weighted).

    d = y − y⁰; AB = Σ d over the pre-poor; ABC = Σ d; B = Σ (y − z) over those lifted out
    (y⁰ < z ≤ y); A = Σ d over the post-poor + Σ (z − y⁰) over those lifted out; AD = Σ (z − y⁰)
    over the pre-poor.
    """
    d = post - pre
    pre_poor, post_poor = pre < line, post < line
    lifted = pre_poor & ~post_poor
    ab = exact_total(persons * d * pre_poor)
    abc = exact_total(persons * d)
    b = exact_total(persons * (post - line) * lifted)
    a = exact_total(persons * d * post_poor) + exact_total(persons * (line - pre) * lifted)
    ad = exact_total(persons * (line - pre) * pre_poor)
    return {
        "vee": ratio(ab, abc),
        "spillover": ratio(b, ab),
        "pre": ratio(a, abc),
        "pge": ratio(a, ad),
    }


def fill_from_bottom(
    pre: np.ndarray, line: np.ndarray, persons: np.ndarray, budget: float
) -> np.ndarray:
    """Welfare after spending ``budget`` to raise the poorest to a common level c (capped at z).

    Each poor person ends at max(y⁰, min(c, z)); money spent f(c) = Σ_poor ω·[(c − y⁰)_+ −
    (c − z)_+] is piecewise linear in c, so c is found from its breakpoints (CEQ ``ceqbenstar``
    with each person's line as a cap). A budget beyond the total gap lifts everyone to z.
    """
    poor = pre < line
    gap_total = exact_total(persons * (line - pre) * poor)
    if budget <= 0.0 or gap_total == 0.0:
        return pre.copy()
    if budget >= gap_total:
        return np.where(poor, line, pre)
    points = np.concatenate([pre[poor], line[poor]])
    slopes = np.concatenate([persons[poor], -persons[poor]])
    order = np.argsort(points, kind="stable")
    points, slopes = points[order], slopes[order]
    last = np.flatnonzero(np.append(points[1:] != points[:-1], True))  # each breakpoint once
    slope = exact_cumulative(slopes)[last]  # exact, so ties may come in any order
    intercept = exact_cumulative(slopes * points)[last]
    points = points[last]
    spent = points * slope - intercept  # f at each breakpoint
    k = int(np.searchsorted(spent, budget, side="left"))  # f(p_(k−1)) < budget ≤ f(p_k)
    level = (budget + intercept[k - 1]) / slope[k - 1]
    return np.where(poor, np.maximum(pre, np.minimum(level, line)), pre)


def benefits_known(frame: pl.DataFrame, *, amounts_recorded: bool) -> str | None:
    """None when the survey records programme amounts; else the reason they are unusable."""
    receipt = frame["receives_benefit"] if "receives_benefit" in frame.columns else None
    if receipt is None or receipt.null_count() == frame.height:
        return "the survey does not record the programme"
    if not amounts_recorded:
        return "the survey has no benefit amounts"
    return None


def fiscal_indicators(
    frame: pl.DataFrame,
    *,
    fiscal: Fiscal,
    amounts_recorded: bool,
    pmt_selections: Mapping[str, np.ndarray] | None = None,
    pre_transfer: PreTransfer | None = None,
) -> FiscalResult:
    """Spending, leakage, poverty and inequality effects, and budget scenarios (scenario current).

    Requires weight, person_weight, hh_size, welfare_pre, welfare_post, poverty_line, benefit,
    receives_benefit. ``pmt_selections`` maps a PMT model name to a boolean array aligned with
    the frame's rows (the households that model selects). ``pre_transfer``: the result's
    :class:`PreTransfer` of another programme measured on the same frame and line.
    """
    incomes = Incomes.from_frame(frame)
    rows = Rows(year=fiscal.base_year)
    notes: list[str] = []
    pre = pre_transfer or pre_transfer_of(incomes)
    if pre.pre_ranking.order.size != frame.height:
        raise ValueError(
            f"pre_transfer ranks {pre.pre_ranking.order.size} households, the frame has "
            f"{frame.height}: it belongs to another frame"
        )
    for indicator, value in pre.rows:
        rows.add(indicator, value)
    missing = benefits_known(frame, amounts_recorded=amounts_recorded)
    spending: float | None = None
    if missing is None:
        spending = programme_rows(incomes, rows, notes, pre)
    else:
        notes.append(f"{missing}: spending, leakage, post-transfer and effectiveness skipped")
    selections = aligned_selections(pmt_selections or {}, frame.height)
    budget_rows(incomes, rows, selections=selections, spending=spending, notes=notes)
    share_rows(rows, fiscal=fiscal, spending=spending, gap_total=pre.gap_total)
    return FiscalResult(rows.frame(), notes, pre)


def pre_transfer_of(incomes: Incomes) -> PreTransfer:
    """Pre-transfer poverty (FGT 0/1/2, aggregate gap) and inequality (Gini of y⁰), in the
    order they are published, with the ranking of y⁰ they and the concentrations share."""
    fgts = [(f"fgt{a}_pre", fgt(incomes.pre, incomes.line, incomes.persons, a)) for a in FGT_ALPHAS]
    gap_total = exact_total(incomes.persons * incomes.gap)
    pre_ranking = ranking(incomes.pre)
    gini_pre = weighted_concentration(incomes.pre, incomes.persons, ranked=pre_ranking)
    rows = (*fgts, ("poverty_gap_total", gap_total), ("gini_pre", gini_pre))
    return PreTransfer(rows, gap_total, pre_ranking, gini_pre)


def programme_rows(incomes: Incomes, rows: Rows, notes: list[str], pre: PreTransfer) -> float:
    """Spending, leakage, post-transfer poverty, effectiveness, BI and CEQ indices; the spending."""
    w, persons = incomes.weight, incomes.persons
    spending = exact_total(w * incomes.benefit)
    if spending == 0.0:
        notes.append("the programme pays nothing in the sample: spending ratios are null")
    leakage = exact_total(w * ~incomes.is_poor * incomes.benefit)
    rows.add("spending", spending)
    rows.add("leakage_spending", leakage)
    rows.add("leakage_share", ratio(leakage, spending))
    for alpha in FGT_ALPHAS:
        rows.add(f"fgt{alpha}_post", fgt(incomes.post, incomes.line, persons, alpha))
    post_gap = np.maximum(incomes.line - incomes.post, 0.0)
    reduction = exact_total(persons * (incomes.gap - post_gap))
    rows.add("spending_effectiveness", ratio(reduction, spending))
    for name, value in beckerman_immervoll(
        incomes.pre, incomes.post, incomes.line, persons
    ).items():
        rows.add(name, value)
    inequality_rows(incomes, rows, pre)
    return spending


def inequality_rows(incomes: Incomes, rows: Rows, pre: PreTransfer) -> None:
    """gini_post, concentration_benefits, kakwani, reynolds_smolensky (+ RE and reranking)."""
    persons = incomes.persons
    per_capita = np.divide(
        incomes.benefit, incomes.size, out=np.zeros_like(incomes.benefit), where=incomes.size > 0
    )
    gini_pre = pre.gini_pre
    gini_post = weighted_concentration(incomes.post, persons)
    benefits = weighted_concentration(per_capita, persons, ranked=pre.pre_ranking)
    post_by_pre = weighted_concentration(incomes.post, persons, ranked=pre.pre_ranking)

    def difference(first: float | None, second: float | None) -> float | None:
        return None if first is None or second is None else first - second

    rows.add("gini_post", gini_post)
    rows.add("concentration_benefits", benefits)
    rows.add("concentration_post_by_pre", post_by_pre)
    rows.add("kakwani", difference(gini_pre, benefits))
    rows.add("reynolds_smolensky", difference(gini_pre, post_by_pre))
    rows.add("redistributive_effect", difference(gini_pre, gini_post))
    rows.add("reranking", difference(gini_post, post_by_pre))


def aligned_selections(selections: Mapping[str, np.ndarray], height: int) -> dict[str, np.ndarray]:
    """Boolean selection arrays, checked to have one entry per frame row."""
    aligned = {}
    for model, selected in selections.items():
        array = np.asarray(selected, dtype=bool)
        if array.shape != (height,):
            raise ValueError(
                f"pmt_selections[{model!r}] has shape {array.shape}; expected ({height},), "
                "one flag per row of the analysis frame"
            )
        aligned[model] = array
    return aligned


def budget_rows(
    incomes: Incomes,
    rows: Rows,
    *,
    selections: Mapping[str, np.ndarray],
    spending: float | None,
    notes: list[str],
) -> None:
    """Cost of closing the gap under each allocation, and what today's spending buys under it.

    budget_perfect_targeting = Σ ω·gap; budget_pmt:<m> = Σ_selected ω·gap (each selected
    household paid its own gap n·(z − y⁰)_+); budget_pmt_flat:<m> and budget_universal pay a flat
    ḡ per person (ḡ = mean gap per poor person) to the selected, or to everybody.
    poverty_reduction_with_current_budget:<s> = FGT1(y⁰) − FGT1(y⁰ + allocation of ``spending``).
    """
    persons, gap, poor = incomes.persons, incomes.gap, incomes.is_poor
    poor_persons = exact_total(persons * poor)
    mean_gap = ratio(exact_total(persons * gap), poor_persons) or 0.0
    rows.add("budget_perfect_targeting", exact_total(persons * gap))
    rows.add("mean_gap_per_poor_person", mean_gap)
    for model, selected in selections.items():
        rows.add(f"budget_pmt:{model}", exact_total(persons * gap * selected))
        flat = mean_gap * exact_total(persons * selected)
        rows.add(f"budget_pmt_flat:{model}", flat)
    rows.add("budget_universal", mean_gap * exact_total(persons))
    if not spending:
        notes.append("no current spending: poverty_reduction_with_current_budget skipped")
        return
    fgt1 = {
        "programme": incomes.post,
        "perfect_targeting": fill_from_bottom(incomes.pre, incomes.line, persons, spending),
        **{f"pmt:{m}": flat_transfer(incomes, s, spending) for m, s in selections.items()},
        "universal": flat_transfer(incomes, np.ones_like(poor), spending),
    }
    baseline = fgt(incomes.pre, incomes.line, persons, 1)
    for scenario, welfare in fgt1.items():
        after = fgt(welfare, incomes.line, persons, 1)
        reduction = None if baseline is None or after is None else baseline - after
        rows.add(f"poverty_reduction_with_current_budget:{scenario}", reduction)


def flat_transfer(incomes: Incomes, selected: np.ndarray, budget: float) -> np.ndarray:
    """Pre-transfer welfare plus ``budget`` split equally per person among the selected."""
    covered = exact_total(incomes.persons * selected)
    if covered == 0.0:
        return incomes.pre.copy()
    return incomes.pre + selected * (budget / covered)


def share_rows(rows: Rows, *, fiscal: Fiscal, spending: float | None, gap_total: float) -> None:
    """Spending and the aggregate gap as shares of GDP and revenue, when those are configured."""
    for name, denominator in (("gdp", fiscal.gdp), ("revenue", fiscal.revenue)):
        if denominator is None:
            continue
        if spending is not None:
            rows.add(f"spending_share_{name}", spending / denominator)
        rows.add(f"poverty_gap_share_{name}", gap_total / denominator)


# --- Dynamic balance: the ageing projection --------------------------------------------------

ELDERLY_AGE = 65
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-|–|—|to)\s*(\d+)\s*(?:years)?\s*$", re.IGNORECASE)
_OPEN = re.compile(
    r"^\s*(\d+)\s*(?:\+|and over|and older|or more|plus)\s*(?:years)?\s*$", re.IGNORECASE
)
_SINGLE = re.compile(r"^\s*(\d+)\s*$")


def age_bounds(label: str) -> tuple[int, int | None]:
    """'0-14' -> (0, 14); '65+' -> (65, None); '7' -> (7, 7); ValueError otherwise."""
    if match := _RANGE.match(label):
        low, high = int(match[1]), int(match[2])
        if high < low:
            raise ValueError(f"age group {label!r}: upper bound below lower bound")
        return low, high
    if match := _OPEN.match(label):
        return int(match[1]), None
    if match := _SINGLE.match(label):
        return int(match[1]), int(match[1])
    raise ValueError(f"age group {label!r} not understood (expected e.g. '0-14', '65+', '7')")


def broad_shares(low: int, high: int | None) -> dict[str, float]:
    """Fractions of an age band falling in 0-14, 15-64 and 65+ (single years spread evenly)."""
    if high is None:
        if low < ELDERLY_AGE:
            raise ValueError(f"open age group '{low}+' straddles {ELDERLY_AGE}: cannot split it")
        return {name: float(name == ELDERLY) for name, *_ in BROAD_AGE_GROUPS}
    years = high - low + 1
    shares = {}
    for name, start, end in BROAD_AGE_GROUPS:
        top = high if end is None else min(high, end)
        shares[name] = max(top - max(low, start) + 1, 0) / years
    return shares


def broad_age_population(projection: pl.DataFrame, notes: list[str]) -> pl.DataFrame | None:
    """Projected population by year in 0-14, 15-64 and 65+ (summed over regions).

    Requires year, age_group, population. None (with a note) if an age group cannot be mapped.
    """
    labels = projection["age_group"].cast(pl.String).unique().sort().to_list()
    try:
        shares = pl.DataFrame(
            [{"age_group": label, **broad_shares(*age_bounds(str(label)))} for label in labels]
        )
    except ValueError as error:
        notes.append(f"projection skipped: {error}")
        return None
    groups = [name for name, *_ in BROAD_AGE_GROUPS]
    partial = [pl.col(g).is_between(0.0, 1.0, closed="none") for g in groups]
    if shares.select(pl.any_horizontal(partial).any()).item():
        notes.append("some age bands straddle 15 or 65: split evenly by single year of age")
    people = (
        projection.with_columns(pl.col("age_group").cast(pl.String))
        .join(shares, on="age_group", how="left", maintain_order="left")
        .select(
            "year", *[(pl.col("population").cast(pl.Float64) * pl.col(g)).alias(g) for g in groups]
        )
    )
    return exact_sums(people, by=["year"], columns=groups).sort("year")


@dataclass(frozen=True)
class AgeProfile:
    """Base-year beneficiary rate and benefit per beneficiary person, by age group."""

    rate: dict[str, float]
    per_beneficiary: dict[str, float]

    def cost(self, population: Mapping[str, float]) -> float:
        """Σ_a rate_a × benefit per beneficiary_a × population_a (group 'all': the total)."""
        if "all" in self.rate:
            total = sum(population[name] for name, *_ in BROAD_AGE_GROUPS)
            return self.rate["all"] * self.per_beneficiary["all"] * total
        return sum(self.rate[g] * self.per_beneficiary[g] * population[g] for g in self.rate)

    def beneficiaries(self, population: Mapping[str, float]) -> float:
        """Σ_a rate_a × population_a."""
        if "all" in self.rate:
            return self.rate["all"] * sum(population[name] for name, *_ in BROAD_AGE_GROUPS)
        return sum(self.rate[g] * population[g] for g in self.rate)


def age_profile(frame: pl.DataFrame, notes: list[str]) -> AgeProfile:
    """Beneficiary rates and benefits per beneficiary person by age, from household aggregates.

    With member counts (n_children, n_working_age, n_elderly): rate_a = Σ w·B·n_a / Σ w·n_a and
    benefit per beneficiary_a = Σ w·T·n_a/n / Σ w·B·n_a, n the household's counted members (the
    benefit is shared equally by members; households without member rows are left out of these
    ratios). Without member counts: one group 'all' with n = hh_size.
    """
    if all(column in frame.columns for column in MEMBER_COUNTS.values()):
        counts = {g: pl.col(column).cast(pl.Float64) for g, column in MEMBER_COUNTS.items()}
        counted = pl.sum_horizontal(list(counts.values()))
        known = pl.all_horizontal([c.is_not_null() for c in counts.values()]) & (counted > 0)
        usable = frame.filter(known)
        if usable.height < frame.height:
            notes.append(
                f"{frame.height - usable.height} households without member ages left out of "
                "the age-specific beneficiary rates"
            )
    else:
        notes.append("no member ages: one beneficiary rate for the whole population")
        counted = pl.col("hh_size").cast(pl.Float64)
        counts, usable = {"all": counted}, frame
    receives = pl.col("receives_benefit").fill_null(pl.col("benefit").fill_null(0.0) > 0.0)
    paid = pl.col("weight") * pl.col("benefit").fill_null(0.0) / counted
    covered = pl.col("weight") * receives.cast(pl.Float64)
    terms = usable.select(
        *[(pl.col("weight") * n).alias(f"persons:{g}") for g, n in counts.items()],
        *[(covered * n).alias(f"beneficiaries:{g}") for g, n in counts.items()],
        *[(paid * n).alias(f"benefits:{g}") for g, n in counts.items()],
    )
    totals = exact_sums(terms, by=[], columns=terms.columns).row(0, named=True)
    return AgeProfile(
        rate={
            g: ratio(totals[f"beneficiaries:{g}"], totals[f"persons:{g}"]) or 0.0 for g in counts
        },
        per_beneficiary={
            g: ratio(totals[f"benefits:{g}"], totals[f"beneficiaries:{g}"]) or 0.0 for g in counts
        },
    )


def financing_shares(
    sources: Sequence[FinancingSource], *, ageing: float, notes: list[str]
) -> dict[str, float]:
    """Each source's share of the cost when old-age dependency is ``ageing`` × the base year's.

    'share': fixed (all fixed shares scaled down to 1 if they exceed it); 'old_age_linked':
    share × ageing, scaled down together if fixed + linked would exceed 1; 'remainder': what is
    left, split equally among remainder sources. Shares stay in [0, 1].
    """
    fixed = {s.source: float(s.share or 0.0) for s in sources if s.rule == "share"}
    linked = {
        s.source: float(s.share or 0.0) * ageing for s in sources if s.rule == "old_age_linked"
    }
    remainder = [s.source for s in sources if s.rule == "remainder"]
    if sum(fixed.values()) > 1.0:
        add_note(notes, "fixed financing shares add up to more than 1: scaled down to sum to 1")
        fixed = {k: v / sum(fixed.values()) for k, v in fixed.items()}
    room, linked_total = 1.0 - sum(fixed.values()), sum(linked.values())
    if linked_total > room:
        linked = {k: v * room / linked_total for k, v in linked.items()}
    left = max(1.0 - sum(fixed.values()) - sum(linked.values()), 0.0)
    if not remainder and left > 1e-12:
        add_note(notes, "no 'remainder' financing source: part of the cost has no source")
    return fixed | linked | {source: left / len(remainder) for source in remainder}


def add_note(notes: list[str], note: str) -> None:
    """Append a note once."""
    if note not in notes:
        notes.append(note)


def project_costs(
    frame: pl.DataFrame, projection: pl.DataFrame | None, *, fiscal: Fiscal, amounts_recorded: bool
) -> FiscalResult:
    """Yearly old-age dependency, cost, cost shares and financing shares for each scenario.

    Requires the analysis frame (weight, hh_size, benefit, receives_benefit; n_children,
    n_working_age, n_elderly when members exist) and a projection with year, age_group,
    population (optionally by region: summed). Base-year survey profile rows are published
    under scenario 'current'.
    """
    notes: list[str] = []
    if projection is None or projection.height == 0:
        return FiscalResult(Rows(year=None).frame(), ["no population projection: skipped"])
    broad = broad_age_population(projection, notes)
    if broad is None:
        return FiscalResult(Rows(year=None).frame(), notes)
    base = fiscal.base_year
    years = [int(year) for year in broad["year"].to_list()]
    reference = base if base in years else years[0]
    if reference != base:
        notes.append(f"base year {base} not in the projection: ageing measured from {reference}")
    missing = benefits_known(frame, amounts_recorded=amounts_recorded)
    profile = None if missing else age_profile(frame, notes)
    rows = Rows(year=base)
    if profile is None:
        notes.append(f"{missing}: projected costs skipped, dependency ratios only")
    else:
        for group, value in profile.rate.items():
            rows.add(f"age_beneficiary_rate:{group}", value)
            per_beneficiary = profile.per_beneficiary[group]
            rows.add(f"age_benefit_per_beneficiary:{group}", per_beneficiary)
    for scenario in fiscal.scenarios:
        scenario_rows(broad, profile, scenario, rows, fiscal=fiscal, reference=reference)
        financing_rows(
            rows, scenario=scenario.name, fiscal=fiscal, reference=reference, notes=notes
        )
        threshold_row(rows, scenario=scenario.name, fiscal=fiscal, notes=notes)
    return FiscalResult(rows.frame(), notes)


def scenario_rows(
    broad: pl.DataFrame,
    profile: AgeProfile | None,
    scenario: FiscalScenario,
    rows: Rows,
    *,
    fiscal: Fiscal,
    reference: int,
) -> None:
    """Yearly dependency ratio, beneficiaries, cost and its GDP/revenue shares for a scenario.

    The 65+ population grows m times as fast as projected: E'_t = E_ref + m·(E_t − E_ref).
    GDP and revenue grow at gdp_real_growth (revenue keeps its base-year share of GDP).
    """
    growth = (
        fiscal.real_benefit_growth
        if scenario.real_benefit_growth is None
        else scenario.real_benefit_growth
    )
    elderly_ref = float(broad.filter(pl.col("year") == reference)[ELDERLY].item())
    for projected in broad.iter_rows(named=True):
        year, since_base = int(projected["year"]), int(projected["year"]) - fiscal.base_year
        population = {name: float(projected[name]) for name, *_ in BROAD_AGE_GROUPS}
        change = population[ELDERLY] - elderly_ref
        population[ELDERLY] = max(elderly_ref + scenario.elderly_growth_multiplier * change, 0.0)

        def add(name: str, value: float | None, year: int = year) -> None:
            rows.add_at(scenario.name, year, name, value)

        add("old_age_dependency_ratio", ratio(population[ELDERLY], population[WORKING_AGE]))
        if profile is None:
            continue
        cost = profile.cost(population) * (1.0 + growth) ** since_base
        add("projected_beneficiaries", profile.beneficiaries(population))
        add("projected_cost", cost)
        for name, level in (("gdp", fiscal.gdp), ("revenue", fiscal.revenue)):
            if level is not None:
                grown = level * (1.0 + fiscal.gdp_real_growth) ** since_base
                add(f"cost_share_{name}", cost / grown)


def scenario_series(rows: Rows, scenario: str, indicator: str) -> list[tuple[int, float | None]]:
    """(year, value) pairs of one indicator of one scenario, in year order."""
    pairs = [
        (int(str(r["year"])), r["value"])
        for r in rows.items
        if r["scenario"] == scenario and r["indicator"] == indicator and r["year"] is not None
    ]
    return [(year, value if isinstance(value, float) else None) for year, value in sorted(pairs)]


def financing_rows(
    rows: Rows, *, scenario: str, fiscal: Fiscal, reference: int, notes: list[str]
) -> None:
    """financing_share:<source> and financing_cost:<source> for each projected year.

    An old-age-linked share scales with the dependency ratio relative to the reference year.
    """
    dependency = dict(scenario_series(rows, scenario, "old_age_dependency_ratio"))
    costs = scenario_series(rows, scenario, "projected_cost")
    base = dependency.get(reference)
    for year, cost in costs:
        current = dependency.get(year)
        ageing = current / base if current is not None and base else 1.0
        shares = financing_shares(fiscal.financing, ageing=ageing, notes=notes)
        for source, share in shares.items():
            rows.add_at(scenario, year, f"financing_share:{source}", share)
            amount = None if cost is None else cost * share
            rows.add_at(scenario, year, f"financing_cost:{source}", amount)


def threshold_row(rows: Rows, *, scenario: str, fiscal: Fiscal, notes: list[str]) -> None:
    """threshold_crossed_year: first year cost_share_gdp > sustainability_threshold (null: never),
    and sustainability_threshold itself, the limit it was measured against.

    Both rows have a null year: they summarise the whole projection.
    """
    shares = scenario_series(rows, scenario, "cost_share_gdp")
    if not shares:
        add_note(notes, "no fiscal.gdp (or no projected cost): threshold_crossed_year skipped")
        return
    limit = fiscal.sustainability_threshold
    crossed = next((year for year, share in shares if share is not None and share > limit), None)
    rows.add_at(scenario, None, "threshold_crossed_year", crossed)
    rows.add_at(scenario, None, "sustainability_threshold", limit)
