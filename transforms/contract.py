"""The output contract (../shared/spec/outputs.md) as data: tables, columns, types, units, PII.

DuckDB DDL, ``COMMENT ON`` statements and the README data dictionary are all
generated from this one module, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from transforms import indicators as declared

SCHEMA = "audit"


@dataclass(frozen=True)
class Column:
    """One published column."""

    name: str
    sql_type: str
    description: str
    unit: str = ""
    pii: str = "none"

    def comment(self) -> str:
        """The text stored with COMMENT ON COLUMN."""
        parts = [self.description]
        if self.unit:
            parts.append(f"Unit: {self.unit}.")
        parts.append(f"PII: {self.pii}.")
        return " ".join(parts)


@dataclass(frozen=True)
class Table:
    """One published table of schema ``audit``."""

    name: str
    grain: str
    description: str
    columns: tuple[Column, ...]
    has_latest_view: bool = True

    def column_names(self) -> list[str]:
        """Column names in contract order."""
        return [column.name for column in self.columns]


RUN_ID = Column("run_id", "VARCHAR", "Identifier of the audit run that produced the row.")
FRACTION = "fraction in [0, 1]"
TARGETING_RATES: tuple[tuple[str, str], ...] = (
    ("poverty_rate", "Share of the population that is poor before the transfer: Σω·P / Σω."),
    ("coverage", "Share of the population selected: Σω·S / Σω."),
    ("exclusion_error", "Share of the poor not selected: Σω·P·(1−S) / Σω·P."),
    ("inclusion_error", "Share of the selected who are not poor: Σω·(1−P)·S / Σω·S."),
    (
        "inclusion_rate_nonpoor",
        "Share of the non-poor who are selected: Σω·(1−P)·S / Σω·(1−P) (Alatas et al. 2012).",
    ),
    (
        "targeting_differential",
        "Coverage among the poor minus coverage among the non-poor (Ravallion), in [−1, 1].",
    ),
    (
        "cgh",
        "Share of benefits going to the bottom 40 % of persons by pre-transfer welfare ÷ 0.40 "
        "(Coady–Grosh–Hoddinott).",
    ),
)


def _rate_unit(name: str) -> str:
    """The unit of a targeting rate: cgh is a ratio, targeting_differential a difference."""
    if name == "cgh":
        return "ratio"
    return "difference of fractions" if name == "targeting_differential" else FRACTION


def _rate_columns(rates: tuple[tuple[str, str], ...]) -> tuple[Column, ...]:
    """A rate column plus its design-based SE and 95 % confidence bounds."""
    columns: list[Column] = []
    for name, description in rates:
        unit = _rate_unit(name)
        columns += [
            Column(name, "DOUBLE", description, unit),
            Column(f"{name}_se", "DOUBLE", f"Design-based standard error of {name}.", unit),
            Column(f"{name}_ci_low", "DOUBLE", f"Lower bound of the 95 % CI of {name}.", unit),
            Column(f"{name}_ci_high", "DOUBLE", f"Upper bound of the 95 % CI of {name}.", unit),
        ]
    return tuple(columns)


GROUP_COLUMNS = (
    Column("group_type", "VARCHAR", "Kind of group: all, region, urban, quintile, head_sex, …"),
    Column("group_value", "VARCHAR", "The group's value ('all' for the whole population)."),
)
N_OBS = Column("n_obs", "BIGINT", "Unweighted number of households in the cell.", "households")
SUPPRESSED = Column(
    "suppressed", "BOOLEAN", "True when n_obs is below the disclosure threshold; values are NULL."
)

TABLES: tuple[Table, ...] = (
    Table(
        "runs",
        "one row per run",
        "Every audit run, its status and provenance.",
        (
            RUN_ID,
            Column("started_at", "TIMESTAMPTZ", "When the run started."),
            Column("finished_at", "TIMESTAMPTZ", "When the run ended (NULL while running)."),
            Column("status", "VARCHAR", "running, succeeded or failed."),
            Column("config_name", "VARCHAR", "The audit's name from its configuration."),
            Column("config_path", "VARCHAR", "Path of the configuration file."),
            Column("config_sha256", "VARCHAR", "SHA-256 of the configuration file's bytes."),
            Column("code_version", "VARCHAR", "welfare-audit version and git commit."),
            Column("seed", "BIGINT", "Random seed used for folds and sampling."),
            Column("rows_read", "BIGINT", "Raw rows read over all input files.", "rows"),
            Column("rows_loaded", "BIGINT", "Rows loaded into staging tables.", "rows"),
            Column("rows_quarantined", "BIGINT", "Rows rejected to audit.quarantine.", "rows"),
            Column("error", "VARCHAR", "Error message of a failed run."),
        ),
        has_latest_view=False,
    ),
    Table(
        "input_files",
        "run × file",
        "The input files a run read, with their hashes.",
        (
            RUN_ID,
            Column("role", "VARCHAR", "households, members, regions or projection."),
            Column("path", "VARCHAR", "Absolute path of the file as read."),
            Column("sha256", "VARCHAR", "SHA-256 of the file's bytes."),
            Column("bytes", "BIGINT", "File size.", "bytes"),
            Column("rows_read", "BIGINT", "Raw data rows in the file.", "rows"),
            Column("rows_loaded", "BIGINT", "Rows that passed the row rules.", "rows"),
            Column("rows_quarantined", "BIGINT", "Rows rejected with a reason.", "rows"),
        ),
    ),
    Table(
        "quarantine",
        "rejected raw row × failed rule",
        "Raw rows that broke a row rule, with the reason. Raw values may hold identifiers.",
        (
            RUN_ID,
            Column("source_file", "VARCHAR", "Path of the file the row came from."),
            Column(
                "source_row", "BIGINT", "1-based data row number in the file (header excluded)."
            ),
            Column("column_name", "VARCHAR", "Canonical column that broke the rule."),
            Column("raw_value", "VARCHAR", "The value as read.", pii="may contain identifiers"),
            Column("reason", "VARCHAR", "The rule that failed, in words."),
        ),
    ),
    Table(
        "validation_results",
        "run × expectation",
        "Great Expectations results for every staging table.",
        (
            RUN_ID,
            Column("table_name", "VARCHAR", "Staging table validated."),
            Column("expectation", "VARCHAR", "Expectation type."),
            Column("column_name", "VARCHAR", "Column checked (NULL for table-level checks)."),
            Column("severity", "VARCHAR", "error (stops the run) or warning (recorded)."),
            Column("success", "BOOLEAN", "Whether the expectation held."),
            Column("observed", "VARCHAR", "What was observed (counts, values)."),
        ),
    ),
    Table(
        "model_metrics",
        "run × model × decision rule",
        "Out-of-sample performance of each proxy-means-test model.",
        (
            RUN_ID,
            Column("model", "VARCHAR", "Model name (ols, logit, hgb, rf or a custom name)."),
            Column("decision_rule", "VARCHAR", "rate or line (indicators.md)."),
            Column("n_train", "BIGINT", "Households used for training per fold.", "households"),
            Column("auc", "DOUBLE", "Weighted out-of-fold ROC AUC against pre-transfer poverty."),
            Column("coverage", "DOUBLE", "Share selected by the model.", FRACTION),
            Column("inclusion_error", "DOUBLE", "Out-of-sample inclusion error.", FRACTION),
            Column("exclusion_error", "DOUBLE", "Out-of-sample exclusion error.", FRACTION),
            Column("cgh", "DOUBLE", "Coady–Grosh–Hoddinott indicator.", "ratio"),
            Column("cv_scheme", "VARCHAR", "Cross-validation scheme (folds, grouping, seed)."),
            Column("fold_spread", "DOUBLE", "Standard deviation of exclusion error across folds."),
            Column("artifact_sha256", "VARCHAR", "SHA-256 of the saved model artifact."),
        ),
    ),
    Table(
        "targeting_errors",
        "run × method × decision rule × group",
        "Targeting accuracy of the actual programme and of each PMT model, by group.",
        (
            RUN_ID,
            Column("method", "VARCHAR", "program (actual receipt) or pmt:<model>."),
            Column("decision_rule", "VARCHAR", "actual, rate or line."),
            Column("unit", "VARCHAR", "persons or households: whose shares the rates are."),
            *GROUP_COLUMNS,
            N_OBS,
            Column(
                "population", "DOUBLE", "Weighted population of the cell.", "persons or households"
            ),
            *_rate_columns(TARGETING_RATES),
            SUPPRESSED,
        ),
    ),
    Table(
        "matching_indicators",
        "run × group × indicator",
        "Resource-matching indicators: incidence, adequacy, regional standards, tiers.",
        (
            RUN_ID,
            *GROUP_COLUMNS,
            Column("indicator", "VARCHAR", "Indicator name (see the methodology)."),
            Column("value", "DOUBLE", "Estimate."),
            Column("se", "DOUBLE", "Design-based standard error."),
            Column("ci_low", "DOUBLE", "Lower bound of the 95 % CI."),
            Column("ci_high", "DOUBLE", "Upper bound of the 95 % CI."),
            Column("unit", "VARCHAR", "Unit of value."),
            N_OBS,
            SUPPRESSED,
        ),
    ),
    Table(
        "fiscal_indicators",
        "run × scenario × year × indicator",
        "Spending, leakage, effectiveness and the ageing projection.",
        (
            RUN_ID,
            Column("scenario", "VARCHAR", "current (survey year) or a projection scenario."),
            Column("year", "INTEGER", "Year the value refers to."),
            Column("indicator", "VARCHAR", "Indicator name (see the methodology)."),
            Column("value", "DOUBLE", "Value."),
            Column("unit", "VARCHAR", "Unit of value (currency/year, fraction, ratio)."),
        ),
    ),
    Table(
        "alerts",
        "run × indicator × group that moved too far",
        "Headline indicators that changed beyond the configured thresholds since the previous "
        "successful run of the same audit.",
        (
            RUN_ID,
            Column("previous_run_id", "VARCHAR", "The run compared with."),
            Column("method", "VARCHAR", "program or pmt:<model>."),
            Column("decision_rule", "VARCHAR", "actual, rate:… or line."),
            *GROUP_COLUMNS,
            Column("indicator", "VARCHAR", "The indicator that moved."),
            Column("previous", "DOUBLE", "Its value in the previous run."),
            Column("current", "DOUBLE", "Its value in this run."),
            Column("change", "DOUBLE", "current − previous (fraction points)."),
            Column("threshold", "VARCHAR", "The rule that fired."),
            Column("message", "VARCHAR", "The alert in words."),
        ),
    ),
    Table(
        "run_notes",
        "run × note",
        "What a run skipped or assumed, and why (missing optional inputs, fallbacks).",
        (
            RUN_ID,
            Column("stage", "VARCHAR", "The stage that wrote the note (matching, fiscal, …)."),
            Column("note", "VARCHAR", "The note in words."),
        ),
    ),
    Table(
        "targeting_curves",
        "run × method × coverage point",
        "Targeting curves: errors of each method at coverages from 0 to 1 (out of sample).",
        (
            RUN_ID,
            Column("method", "VARCHAR", "pmt:<model>, or program for its single actual point."),
            Column("coverage", "DOUBLE", "Share of the unit selected.", FRACTION),
            Column("exclusion_error", "DOUBLE", "Share of the poor not selected.", FRACTION),
            Column("inclusion_error", "DOUBLE", "Share of the selected not poor.", FRACTION),
            Column("true_positive_rate", "DOUBLE", "Share of the poor selected (ROC y).", FRACTION),
            Column(
                "false_positive_rate", "DOUBLE", "Share of the non-poor selected (ROC x).", FRACTION
            ),
        ),
    ),
    Table(
        "household_scores",
        "run × household × model",
        "Out-of-fold PMT scores per household, keyed by pseudonym (only when allowed).",
        (
            RUN_ID,
            Column("hh_key", "VARCHAR", "Keyed HMAC-SHA256 pseudonym of hh_id.", pii="pseudonym"),
            Column("region", "VARCHAR", "Region of the household."),
            Column("model", "VARCHAR", "Model name."),
            Column("p_poor", "DOUBLE", "Out-of-fold probability of being poor.", FRACTION),
            Column("predicted_eligible", "BOOLEAN", "Selected under the rate rule."),
            Column("is_poor", "BOOLEAN", "Poor before the transfer."),
            Column("receives_benefit", "BOOLEAN", "Receives the programme."),
        ),
    ),
)


def table(name: str) -> Table:
    """Look up a contract table by name."""
    for candidate in TABLES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


# --- Indicator catalogue -----------------------------------------------------------------------
# Every value the long tables can hold in their ``indicator`` column, and every rate of
# targeting_errors, with its unit, formula and reference. Names carrying a run-specific suffix
# (a model, a scenario, a financing source, an age group) are catalogued once by their prefix.
# Notation of indicators.md: household sampling weight w, size n, persons ω = w·n; per-capita
# welfare after the programme y and before it y⁰ (= y − T/n when the survey's welfare includes
# the benefit, floored at 0); annual household benefit T; beneficiary flag B (unknown receipt
# taken as T > 0); per-capita poverty line z; poor P = 1[y⁰ < z]; gap g = max(z − y⁰, 0) per
# person. d is the analysis weight of targeting.unit: ω (persons, the default) or w (households).

ASPIRE = "ASPIRE"
CEQ = "CEQ"
BI = "Beckerman–Immervoll"
CGH = "Coady–Grosh–Hoddinott"
GROSH = "Grosh et al. 2022"
UN_DEPENDENCY = "UN old-age dependency"
OURS = "welfare-audit"


@dataclass(frozen=True)
class Indicator:
    """One catalogued indicator: a value of an ``indicator`` column, or a targeting rate.

    ``name`` is the published name, or its prefix followed by ``:<…>`` when the published name
    carries a suffix (``budget_pmt:<model>`` stands for ``budget_pmt:logit``, …).
    """

    name: str
    table: str
    unit: str
    definition: str
    source: str

    @property
    def prefix(self) -> str:
        """The name before any ``:<…>`` suffix placeholder."""
        return self.name.split(":", 1)[0]


def _matching(name: str, unit: str, definition: str, source: str = OURS) -> Indicator:
    return Indicator(name, "matching_indicators", unit, definition, source)


def _fiscal(name: str, unit: str, definition: str, source: str = OURS) -> Indicator:
    return Indicator(name, "fiscal_indicators", unit, definition, source)


def _targeting(name: str, definition: str, source: str) -> Indicator:
    return Indicator(name, "targeting_errors", _rate_unit(name), definition, source)


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
        "fraction",
        "Share of the population receiving the programme: Σ d·B / Σ d, overall (group all) and "
        "within each quintile, region and urban domain. " + _DESIGN_SE,
        ASPIRE,
    ),
    _matching(
        "beneficiary_incidence",
        "fraction",
        "Group g's share of all beneficiaries: Σ_g d·B / Σ d·B, for each quintile, region and "
        "urban value (a population share, not a domain estimate; shares sum to 1 within a "
        "group_type). n_obs: beneficiary households in g. " + _DESIGN_SE,
        ASPIRE,
    ),
    _matching(
        "benefit_incidence",
        "fraction",
        "Group g's share of all benefit money: Σ_g w·T / Σ w·T (household weights, whatever "
        "targeting.unit is), for each quintile, region and urban value. n_obs: paid households "
        "in g. " + _DESIGN_SE,
        ASPIRE,
    ),
    _matching(
        "adequacy",
        "ratio",
        "Benefits as a share of beneficiaries' pre-transfer welfare, a ratio of totals: "
        "Σ w·B·T / Σ w·B·n·y⁰, overall and within each quintile, region and urban domain. "
        + _DESIGN_SE,
        ASPIRE,
    ),
    _matching(
        "gap_closure",
        "fraction",
        "Share of poor beneficiaries' poverty gap the benefit closes: "
        "Σ w·B·P·min(T, n·g) / Σ w·B·P·n·g (pre-transfer y⁰), overall and within each "
        "quintile, region and urban domain. " + _DESIGN_SE,
    ),
    _matching(
        "tier_share",
        "fraction",
        "Share of the population in a need tier × benefit band cell: Σ_cell d / Σ d; "
        "group_type tier, group_value '<need_tier>|band<k>'. Need tiers by y⁰: extreme_poor "
        "(y⁰ < 0.5z), poor (< z), near_poor (< 1.5z), non_poor. Band 0: no benefit; band k: "
        "b_(k−1) < T/n ≤ b_k with b_0 = 0 and b = programme.benefit_tier_bounds, the last band "
        "open. Every cell is published. " + _DESIGN_SE,
    ),
    _matching(
        "tier_mismatch_rate",
        "fraction",
        "Share of the population whose benefit band is not the one its need tier calls for: "
        "Σ d·1[band ≠ called-for band] / Σ d (group all). Called-for band: "
        "programme.need_tier_bands, else any positive band for extreme_poor and poor and band 0 "
        "for near_poor and non_poor. " + _DESIGN_SE,
    ),
    _matching(
        "regional_coefficient",
        "ratio",
        "A region's cost-of-living coefficient c_r: its price_index, else its poverty_line ÷ "
        "the national line (poverty_line.national_line, else the population-weighted mean of "
        "the regional lines). " + _REGIONS,
    ),
    _matching(
        "needs_based_standard",
        "currency/person/year",
        "F × c_r, F the national floor (programme.national_floor, else "
        "poverty_line.national_line). " + _REGIONS,
    ),
    _matching(
        "benefit_standard",
        "currency/person/year",
        "The region's guaranteed benefit standard as given in the regions file. " + _REGIONS,
    ),
    _matching(
        "real_standard",
        "currency/person/year",
        "benefit_standard ÷ c_r: the standard in national prices. " + _REGIONS,
    ),
    _matching(
        "standard_gap",
        "ratio",
        "(benefit_standard − needs_based_standard) ÷ needs_based_standard; negative when the "
        "region guarantees less than its needs-based standard. " + _REGIONS,
    ),
    _matching(
        "real_standard_cv",
        "ratio",
        "Horizontal inequity of the guaranteed minimum: population-weighted coefficient of "
        "variation of real_standard across regions, sqrt(Σ p·(x − x̄)² / Σ p) ÷ x̄ with "
        "x̄ = Σ p·x / Σ p, p = regions.population when complete, else the survey's persons Σ ω "
        "per region. Group all; se, ci and n_obs null.",
    ),
)

FISCAL_INDICATORS: tuple[Indicator, ...] = (
    *[
        _fiscal(
            f"fgt{alpha}_{stage}",
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
        "currency/year",
        "Aggregate pre-transfer poverty gap Σ ω·g: the budget that closes the gap with "
        "perfect targeting. " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "spending",
        "currency/year",
        "Programme spending Σ w·T (= Σ ω·T/n). " + _CURRENT,
        ASPIRE,
    ),
    _fiscal(
        "leakage_spending",
        "currency/year",
        "Spending on the pre-transfer non-poor: Σ w·(1 − P)·T. " + _CURRENT,
        ASPIRE,
    ),
    _fiscal(
        "leakage_share",
        "fraction",
        "leakage_spending ÷ spending. " + _CURRENT,
        ASPIRE,
    ),
    _fiscal(
        "spending_effectiveness",
        "fraction",
        "Money reduction of the aggregate poverty gap per unit spent: "
        "Σ ω·[max(z − y⁰, 0) − max(z − y, 0)] ÷ Σ w·T (Beckerman–Immervoll PRE = ASPIRE "
        "benefit–cost ratio). " + _CURRENT,
        BI,
    ),
    _fiscal(
        "vee",
        "fraction",
        "Vertical expenditure efficiency AB/ABC: share of the transfer Σ ω·(y − y⁰) received "
        "by the pre-transfer poor (y⁰ < z). " + _CURRENT,
        BI,
    ),
    _fiscal(
        "spillover",
        "fraction",
        "B/AB: share of the transfer to the pre-poor that lifts them above z, "
        "B = Σ ω·(y − z) over those lifted out (y⁰ < z ≤ y). " + _CURRENT,
        BI,
    ),
    _fiscal(
        "pre",
        "fraction",
        "Poverty reduction efficiency A/ABC, A = Σ ω·(y − y⁰) over the post-poor (y < z) + "
        "Σ ω·(z − y⁰) over those lifted out; equals spending_effectiveness when y − y⁰ = T/n. "
        + _CURRENT,
        BI,
    ),
    _fiscal(
        "pge",
        "fraction",
        "Poverty gap efficiency A/AD, AD = Σ ω·g: share of the pre-transfer gap closed. "
        + _CURRENT,
        BI,
    ),
    _fiscal(
        "gini_pre",
        "index",
        "Gini of y⁰ over persons ω (CEQ covconc: 2·Σ ω·x·F / Σ ω·x − 1, F the mid-point rank, "
        "ties sharing their rank). " + _CURRENT,
        CEQ,
    ),
    _fiscal("gini_post", "index", "Gini of y over persons ω (as gini_pre). " + _CURRENT, CEQ),
    _fiscal(
        "concentration_benefits",
        "index",
        "Concentration coefficient of the per-capita benefit T/n ranked by y⁰ (ω). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "concentration_post_by_pre",
        "index",
        "Concentration coefficient of y ranked by y⁰ (ω). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "kakwani",
        "index",
        "gini_pre − concentration_benefits: progressivity of the transfer (> 0 progressive). "
        + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "reynolds_smolensky",
        "index",
        "gini_pre − concentration_post_by_pre: vertical redistribution. " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "redistributive_effect",
        "index",
        "gini_pre − gini_post (= reynolds_smolensky − reranking). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "reranking",
        "index",
        "gini_post − concentration_post_by_pre (Atkinson–Plotnick reranking). " + _CURRENT,
        CEQ,
    ),
    _fiscal(
        "budget_perfect_targeting",
        "currency/year",
        "Cost of closing the gap paying every poor person exactly g: Σ ω·g "
        "(= poverty_gap_total). " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "mean_gap_per_poor_person",
        "currency/person/year",
        "ḡ = Σ ω·g / Σ ω·P: the flat transfer of the flat-budget scenarios. " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "budget_pmt:<model>",
        "currency/year",
        "Cost when each household PMT model m selects is paid its own gap n·g: Σ ω·g·S_m "
        "(the poor it misses stay poor). " + _PMT_SELECTION + " " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "budget_pmt_flat:<model>",
        "currency/year",
        "Cost of paying ḡ per person to the households model m selects: ḡ·Σ ω·S_m. "
        + _PMT_SELECTION
        + " "
        + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "budget_universal",
        "currency/year",
        "Cost of paying ḡ to every person: ḡ·Σ ω. " + _CURRENT,
        GROSH,
    ),
    _fiscal(
        "poverty_reduction_with_current_budget:<scenario>",
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
            "fraction",
            f"spending ÷ fiscal.{name} (base year; only when fiscal.{name} is set). " + _CURRENT,
            ASPIRE,
        )
        for name in ("gdp", "revenue")
    ],
    *[
        _fiscal(
            f"poverty_gap_share_{name}",
            "fraction",
            f"poverty_gap_total ÷ fiscal.{name} (base year; only when fiscal.{name} is set). "
            + _CURRENT,
        )
        for name in ("gdp", "revenue")
    ],
    _fiscal(
        "age_beneficiary_rate:<group>",
        "fraction",
        "Base-year share of age group a receiving the programme: Σ w·B·n_a / Σ w·n_a, a one of "
        "0-14, 15-64, 65+ (n_a from member ages), or all (n_a = n) when the survey has no "
        "member ages; households without member ages are left out. Scenario current, year "
        "fiscal.base_year.",
    ),
    _fiscal(
        "age_benefit_per_beneficiary:<group>",
        "currency/person/year",
        "Base-year benefit per beneficiary person of age group a: Σ w·(T/n_c)·n_a / Σ w·B·n_a, "
        "n_c the household's counted members (the benefit shared equally among them). Scenario "
        "current, year fiscal.base_year.",
    ),
    _fiscal(
        "old_age_dependency_ratio",
        "ratio",
        "Population 65+ (scenario-adjusted E'_t) ÷ population 15-64. " + _POPULATION,
        UN_DEPENDENCY,
    ),
    _fiscal(
        "projected_beneficiaries",
        "persons",
        "Σ_a age_beneficiary_rate_a × population_a(t): constant base-year age-specific "
        "beneficiary rates. " + _PROJECTED,
    ),
    _fiscal(
        "projected_cost",
        "currency/year",
        "Σ_a rate_a × benefit per beneficiary_a × population_a(t) × (1 + r)^(t − base_year), "
        "r the scenario's real_benefit_growth, else fiscal.real_benefit_growth. " + _PROJECTED,
    ),
    *[
        _fiscal(
            f"cost_share_{name}",
            "fraction",
            f"projected_cost ÷ (fiscal.{name} × (1 + fiscal.gdp_real_growth)^(t − base_year)) "
            f"(only when fiscal.{name} is set). " + _PROJECTED,
        )
        for name in ("gdp", "revenue")
    ],
    _fiscal(
        "financing_share:<source>",
        "fraction",
        "Share of projected_cost borne by a fiscal.financing source in year t: rule share, "
        "fixed (fixed shares scaled to sum to 1 if above it); old_age_linked, share × "
        "old_age_dependency_ratio(t) ÷ its value in the reference year (scaled down if fixed + "
        "linked exceed 1); remainder, what is left, split equally among remainder sources. "
        + _PROJECTED,
    ),
    _fiscal(
        "financing_cost:<source>",
        "currency/year",
        "projected_cost × financing_share of the source. " + _PROJECTED,
    ),
    _fiscal(
        "threshold_crossed_year",
        "year",
        "First projected year in which cost_share_gdp exceeds fiscal.sustainability_threshold "
        "(value null: never crossed). One row per scenario with a null year; only when "
        "fiscal.gdp is set.",
    ),
)

_TARGETING_NOTE = (
    "Weights d = ω (targeting.unit persons, default) or w (households), per group; S = B "
    "(method program, rule actual) or the PMT's out-of-fold selection (method pmt:<model>, "
    "rule rate or line). " + _DESIGN_SE
)

TARGETING_INDICATORS: tuple[Indicator, ...] = (
    _targeting("poverty_rate", "Pre-transfer poverty rate Σ d·P / Σ d. " + _TARGETING_NOTE, ASPIRE),
    _targeting("coverage", "Share selected Σ d·S / Σ d. " + _TARGETING_NOTE, ASPIRE),
    _targeting(
        "exclusion_error",
        "Share of the poor not selected (undercoverage): Σ d·P·(1 − S) / Σ d·P. " + _TARGETING_NOTE,
        GROSH,
    ),
    _targeting(
        "inclusion_error",
        "Share of the selected who are not poor (leakage; the World Bank standard): "
        "Σ d·(1 − P)·S / Σ d·S. " + _TARGETING_NOTE,
        GROSH,
    ),
    _targeting(
        "inclusion_rate_nonpoor",
        "Share of the non-poor who are selected: Σ d·(1 − P)·S / Σ d·(1 − P) (Alatas et al. "
        "2012 denominator). " + _TARGETING_NOTE,
        GROSH,
    ),
    _targeting(
        "targeting_differential",
        "Coverage among the poor minus coverage among the non-poor: Σ d·P·S / Σ d·P − "
        "Σ d·(1 − P)·S / Σ d·(1 − P), in [−1, 1] (Ravallion). " + _TARGETING_NOTE,
        GROSH,
    ),
    _targeting(
        "cgh",
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
        Indicator(item.name, declared.TABLE, item.unit, item.definition, item.source)
        for item in declared.DECLARED_INDICATORS
    )


INDICATORS: tuple[Indicator, ...] = (
    *MATCHING_INDICATORS,
    *FISCAL_INDICATORS,
    *TARGETING_INDICATORS,
    *declared_catalogue(),
)


def catalogue() -> tuple[Indicator, ...]:
    """Every catalogued indicator, with the declared ones as declared at call time."""
    return (*MATCHING_INDICATORS, *FISCAL_INDICATORS, *TARGETING_INDICATORS, *declared_catalogue())


def indicators_of(table_name: str) -> tuple[Indicator, ...]:
    """The catalogued indicators of one published table, in catalogue order."""
    return tuple(item for item in catalogue() if item.table == table_name)


def quote_identifier(name: str) -> str:
    """Quote a SQL identifier so any text is treated as a name, never as SQL."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a SQL string literal (for COMMENT ON, which takes no parameters)."""
    return "'" + text.replace("'", "''") + "'"


def create_table_sql(spec: Table) -> str:
    """CREATE TABLE IF NOT EXISTS for one contract table."""
    body = ",\n    ".join(f"{quote_identifier(c.name)} {c.sql_type}" for c in spec.columns)
    return f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{spec.name} (\n    {body}\n)"


def comment_sql(spec: Table) -> list[str]:
    """COMMENT ON statements for a table and each of its columns."""
    statements = [
        f"COMMENT ON TABLE {SCHEMA}.{spec.name} IS "
        + quote_literal(f"{spec.description} Grain: {spec.grain}.")
    ]
    for column in spec.columns:
        statements.append(
            f"COMMENT ON COLUMN {SCHEMA}.{spec.name}.{quote_identifier(column.name)} IS "
            + quote_literal(column.comment())
        )
    return statements


def latest_view_sql(spec: Table) -> str:
    """A view of the table restricted to the last successful run."""
    return f"""CREATE OR REPLACE VIEW {SCHEMA}.latest_{spec.name} AS
-- rows of the most recent run whose status is 'succeeded'
SELECT t.*
FROM {SCHEMA}.{spec.name} AS t
WHERE t.run_id = (
    SELECT r.run_id
    FROM {SCHEMA}.runs AS r
    WHERE r.status = 'succeeded'
    ORDER BY r.finished_at DESC
    LIMIT 1
)"""


def data_dictionary_markdown() -> str:
    """The data dictionary as Markdown, one section per table."""
    lines = [
        "# Data dictionary (schema `audit`)",
        "",
        "Generated from `transforms/contract.py` (`make docs`). Worked SQL examples for "
        "analysts, each executed by a test against a fresh run: "
        "[`analyst-queries.md`](analyst-queries.md); definitions and sources: "
        "[`methodology.md`](methodology.md).",
        "",
    ]
    for spec in TABLES:
        lines += [f"## `{SCHEMA}.{spec.name}`", "", f"{spec.description} Grain: {spec.grain}.", ""]
        lines += ["| column | type | unit | PII | description |", "|---|---|---|---|---|"]
        for c in spec.columns:
            lines.append(f"| `{c.name}` | {c.sql_type} | {c.unit} | {c.pii} | {c.description} |")
        lines.append("")
    return "\n".join(lines + indicator_catalogue_lines())


def _markdown_cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes and angle brackets escaped."""
    return text.replace("|", "\\|").replace("<", "\\<")


def indicator_catalogue_lines() -> list[str]:
    """The '## Indicators' section of the data dictionary: one table per published table."""
    lines = [
        "## Indicators",
        "",
        "Values of the `indicator` column of the long tables, and the rates of "
        f"`{SCHEMA}.targeting_errors`. A name ending in `:<…>` stands for every published name "
        "with that prefix (`budget_pmt:<model>` covers `budget_pmt:logit`, …). Notation "
        "(indicators.md): household weight w, size n, persons ω = w·n, per-capita welfare y "
        "after and y⁰ before the transfer, household benefit T per year, beneficiary B, "
        "per-capita line z, poor P = 1[y⁰ < z], per-person gap g = max(z − y⁰, 0), analysis "
        "weight d = ω (targeting.unit persons, the default) or w (households).",
        "",
    ]
    for spec in TABLES:
        items = indicators_of(spec.name)
        if not items:
            continue
        lines += [f"### `{SCHEMA}.{spec.name}`", ""]
        lines += ["| name | unit | definition | source |", "|---|---|---|---|"]
        for item in items:
            cells = [item.unit, item.definition, item.source]
            lines.append(f"| `{item.name}` | " + " | ".join(map(_markdown_cell, cells)) + " |")
        lines.append("")
    return lines
