"""One pure function per published table: the analysis frame in, the publishable rows out.

Each function applies the business rules of its table (decision rules, groups, what a survey
without amounts skips) for every programme × poverty line the run measures (a
:class:`Measure`), names that programme and line (and the counting unit) in every row, and
ends in :func:`transforms.contract.publishable` (units from the catalogue, disclosure control,
column order, run id). The flow's tasks only read, call one of these and write; the no-Prefect
benchmark calls the same functions. A new dimension of every table is added here, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from transforms.alerts import alerts_between
from transforms.config import (
    ANY_PROGRAMME,
    Alerts,
    Disclosure,
    Fiscal,
    HouseholdInput,
    Models,
    PovertyLine,
    Programme,
    SurveyDesign,
    Targeting,
)
from transforms.contract import publishable
from transforms.definitions import disclosure_note
from transforms.fiscal import PreTransfer, fiscal_indicators, project_costs
from transforms.household import view
from transforms.indicators import DECLARED_INDICATORS
from transforms.matching import LineFree, columns_read, matching_indicators, population_shares
from transforms.pmt_evaluation import (
    DecisionRule,
    ModelScores,
    fold_spread,
    poverty_rate_rule,
    programme_coverage,
    pseudonyms,
    select,
    select_each,
    targeting_curve,
)
from transforms.summation import exact_sums
from transforms.survey import PSU_CODE, STRATUM_CODE, Design
from transforms.targeting import (
    SELECTION_COLUMNS,
    add_indicator_columns,
    analysis_design,
    available_groups,
    targeting_rates_of,
    unit_weight,
    wide_rates,
)

PROGRAMME_METHOD = "program"
ACTUAL_RULE = "actual"
NO_PROGRAMME = "none"


@dataclass(frozen=True)
class Published:
    """Rows for one or more contract tables, and notes on what was skipped and why."""

    tables: dict[str, pl.DataFrame]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Measure:
    """One programme × poverty line that the tables are measured for.

    ``programme`` is the published name (None for a survey without programme data);
    ``programme_index`` its position in the configuration (None for 'any' and for none).
    """

    programme: str | None
    programme_index: int | None
    line: str
    line_index: int
    spec: Programme | None = None
    """The programme's settings (None for 'any' and for none)."""
    line_spec: PovertyLine | None = None

    def frame(self, analysis: pl.DataFrame) -> pl.DataFrame:
        """The analysis frame as the indicator functions read it, for this programme and line."""
        return view(analysis, programme=self.programme_index, line=self.line_index)

    def dimensions(self) -> list[pl.Expr]:
        """The programme and poverty_line columns of every row measured here."""
        return [
            pl.lit(self.programme, pl.String).alias("programme"),
            pl.lit(self.line, pl.String).alias("poverty_line"),
        ]


def programme_measures(
    programmes: Sequence[Programme], line: PovertyLine, line_index: int
) -> list[Measure]:
    """Each programme, and 'any' when there are several, against one line (one measure with no
    programme for a survey without programme data)."""
    if not programmes:
        return [Measure(None, None, line.label, line_index, None, line)]
    measures = [
        Measure(p.name, i, line.label, line_index, p, line) for i, p in enumerate(programmes)
    ]
    if len(programmes) > 1:
        measures.append(Measure(ANY_PROGRAMME, None, line.label, line_index, None, line))
    return measures


def measures(programmes: Sequence[Programme], lines: Sequence[PovertyLine]) -> list[Measure]:
    """Every programme (and 'any' when several) × every poverty line, in configuration order."""
    return [m for j, line in enumerate(lines) for m in programme_measures(programmes, line, j)]


def models_line(
    programmes: Sequence[Programme], lines: Sequence[PovertyLine], chosen: PovertyLine
) -> tuple[Measure, list[Measure]]:
    """The line the PMT models learn (as a measure without programme) and the programmes on
    it (for the like-for-like rules)."""
    index = next(j for j, line in enumerate(lines) if line.label == chosen.label)
    return Measure(None, None, chosen.label, index, None, chosen), programme_measures(
        programmes, chosen, index
    )


def records_receipt(measure: Measure) -> bool:
    """True when the measure is of a programme the survey records."""
    return measure.programme is not None


def amounts_recorded(measure: Measure, programmes: Sequence[Programme]) -> bool:
    """True when the measure's programme (any of them, for 'any') has an amount column."""
    if measure.spec is not None:
        return measure.spec.amount is not None
    return measure.programme == ANY_PROGRAMME and any(p.amount for p in programmes)


def method_of(model: str) -> str:
    """The targeting_errors method of a PMT model."""
    return f"pmt:{model}"


def rates_by_group(
    frame: pl.DataFrame,
    *,
    selected: str,
    benefit: str | None,
    targeting: Targeting,
    survey: SurveyDesign | None = None,
) -> pl.DataFrame:
    """Every targeting rate with SE and CI, nationally and by each group the survey can form."""
    return rates_by_selection(
        frame, {selected: selected}, benefit=benefit, targeting=targeting, survey=survey
    )[selected]


def rates_by_selection(
    frame: pl.DataFrame,
    selections: Mapping[str, str | np.ndarray],
    *,
    benefit: str | None,
    targeting: Targeting,
    survey: SurveyDesign | None = None,
) -> dict[str, pl.DataFrame]:
    """:func:`rates_by_group` of each selection (a column of ``frame`` or a boolean array
    aligned with it), keyed as ``selections``, estimated side by side as many at a time as
    :func:`selections_per_pass` allows (the same numbers whatever the grouping)."""
    design = analysis_design(targeting.unit, survey, frame.columns)
    groups = available_groups(targeting, frame.columns)
    keys = list(selections)
    per_pass = selections_per_pass(frame.height)
    rates: dict[str, pl.DataFrame] = {}
    for start in range(0, len(keys), per_pass):
        batch = {key: selections[key] for key in keys[start : start + per_pass]}
        rates |= rates_in_one_pass(
            frame, batch, benefit=benefit, unit=targeting.unit, design=design, groups=groups
        )
    return rates


PASS_BYTES = 256 * 2**20
"""What one pass of the estimator may spend on its selections' own columns, at about 96 bytes
per household and selection (:func:`selections_per_pass`). Each selection adds six columns to
the PSU totals (about one row per household) and, a block of households at a time, their
fixed-point forms. One model's targeting table at 1M households (6 selections, 2026-12-08):
0.19 GiB above its input one selection per pass (31 s), 0.26 GiB two (22 s), 0.53 GiB all six
(17 s); two per pass at 1M, one from 3M; the sample's fit in one pass."""


def selections_per_pass(households: int) -> int:
    """How many selections one pass of the estimator takes within :data:`PASS_BYTES`."""
    per_selection = 16 * len(SELECTION_COLUMNS) * max(households, 1)
    return max(1, PASS_BYTES // per_selection)


def rates_in_one_pass(
    frame: pl.DataFrame,
    selections: Mapping[str, str | np.ndarray],
    *,
    benefit: str | None,
    unit: str,
    design: Design,
    groups: Sequence[str],
) -> dict[str, pl.DataFrame]:
    """:func:`rates_by_selection` of selections estimated together in one pass."""
    suffixes = {key: f"__sel{k}" for k, key in enumerate(selections)}
    flags = {  # one boolean column per selection (a bit per household)
        f"__selection{suffixes[key]}": (
            pl.col(selection) if isinstance(selection, str) else pl.Series(selection)
        )
        for key, selection in selections.items()
    }
    # the indicator columns stay expressions: the estimator computes them a block of
    # households at a time, never for every household at once
    indicators = frame.with_columns(value.alias(name) for name, value in flags.items()).lazy()
    for key in selections:
        indicators = add_indicator_columns(
            indicators,
            selected=f"__selection{suffixes[key]}",
            benefit=benefit,
            unit=unit,
            suffix=suffixes[key],
        )
    long = targeting_rates_of(
        indicators, design=design, groups=groups, suffixes=list(suffixes.values())
    )
    return {key: wide_rates(long[suffix]) for key, suffix in suffixes.items()}


def with_method(
    wide: pl.DataFrame, *, method: str, rule: str, unit: str, dimensions: Sequence[pl.Expr]
) -> pl.DataFrame:
    """The dimension columns of a targeting_errors row."""
    return wide.with_columns(
        pl.lit(method).alias("method"),
        pl.lit(rule).alias("decision_rule"),
        pl.lit(unit).alias("unit"),
        *dimensions,
    )


def targeting_columns(
    columns: Sequence[str], households: HouseholdInput, targeting: Targeting
) -> list[str]:
    """The analysis file's columns the targeting tables read: all but the proxies and derived
    proxies (a third of the file at 1M), which only the models read, unless one is also a
    breakdown group."""
    proxies = (set(households.proxies) | set(households.derived)) - set(targeting.groups)
    return [column for column in columns if column not in proxies]


ESTIMATES_UNREAD = frozenset({"hh_id", "psu"})
"""Columns the targeting and matching tables do not read once the frame has the PSUs'
integer codes (the estimator groups those). The 10M analysis file read without them (and the
proxies): 2.43 GiB resident, against 2.73 GiB without the proxies alone."""


def estimate_columns(
    columns: Sequence[str], households: HouseholdInput, targeting: Targeting
) -> list[str]:
    """The analysis file's columns the programme and model targeting tables read: the
    targeting columns, but the household ids and PSU labels when the PSUs' codes are there."""
    kept = targeting_columns(columns, households, targeting)
    if PSU_CODE not in columns:
        return kept
    return [column for column in kept if column not in ESTIMATES_UNREAD]


FISCAL_UNREAD = frozenset({"hh_id", "strata", "psu", "fpc", STRATUM_CODE, PSU_CODE})
"""Columns of the targeting tables that the fiscal tables never read: identifiers and the
survey design (fiscal indicators are population totals and shares, without design-based
SEs). The 10M analysis file read without them (and the proxies): 2.20 GiB resident, against
2.73 GiB without the proxies alone."""


def fiscal_columns(
    columns: Sequence[str], households: HouseholdInput, targeting: Targeting
) -> list[str]:
    """The analysis file's columns the fiscal tables read: the targeting tables' but the
    identifiers and the design."""
    kept = targeting_columns(columns, households, targeting)
    return [column for column in kept if column not in FISCAL_UNREAD]


def matching_columns(
    columns: Sequence[str], households: HouseholdInput, targeting: Targeting
) -> list[str]:
    """The analysis file's columns the matching tables read: the targeting tables'
    (:func:`estimate_columns`) and any column a declared indicator (transforms.indicators)
    reads."""
    declared = set().union(*(columns_read(item) for item in DECLARED_INDICATORS))
    kept = set(estimate_columns(columns, households, targeting)) | declared
    return [column for column in columns if column in kept]


def programme_targeting(
    analysis: pl.DataFrame,
    measured: Sequence[Measure],
    *,
    targeting: Targeting,
    disclosure: Disclosure,
    survey: SurveyDesign | None = None,
    run_id: str,
) -> Published:
    """targeting_errors of each programme against each line (receipt as selection,
    money-based CGH), and each one's single point on the targeting curves."""
    rows, points = [], []
    for measure in (m for m in measured if records_receipt(m)):
        frame = measure.frame(analysis)
        wide = rates_by_group(
            frame,
            selected="receives_benefit",
            benefit="benefit",
            targeting=targeting,
            survey=survey,
        )
        rows.append(
            with_method(
                wide,
                method=PROGRAMME_METHOD,
                rule=ACTUAL_RULE,
                unit=targeting.unit,
                dimensions=measure.dimensions(),
            )
        )
        national = wide.filter(pl.col("group_type") == "all").row(0, named=True)
        points.append(
            curve_point(national).with_columns(
                *measure.dimensions(), pl.lit(targeting.unit).alias("unit")
            )
        )
    if not rows:
        return Published({})
    return Published(
        {
            "targeting_errors": publishable(
                "targeting_errors",
                pl.concat(rows),
                run_id=run_id,
                min_cell_n=disclosure.min_cell_n,
            ),
            "targeting_curves": publishable("targeting_curves", pl.concat(points), run_id=run_id),
        }
    )


def curve_point(national: Mapping[str, float | None]) -> pl.DataFrame:
    """The programme's one point on the targeting curves (coverage, errors, ROC point)."""
    exclusion = national["exclusion_error"]
    return pl.DataFrame(
        {
            "method": [PROGRAMME_METHOD],
            "coverage": [national["coverage"]],
            "exclusion_error": [exclusion],
            "inclusion_error": [national["inclusion_error"]],
            "true_positive_rate": [None if exclusion is None else 1.0 - exclusion],
            "false_positive_rate": [national["inclusion_rate_nonpoor"]],
        },
        schema={
            "method": pl.String,
            **{
                c: pl.Float64
                for c in (
                    "coverage",
                    "exclusion_error",
                    "inclusion_error",
                    "true_positive_rate",
                    "false_positive_rate",
                )
            },
        },
    )


def model_rules(
    frame: pl.DataFrame,
    configured: Sequence[str],
    measured: Sequence[Measure],
    *,
    weight: str,
) -> list[tuple[DecisionRule, str | None]]:
    """The decision rules of a model on the model's line, each with the programme it is
    compared with: the rate rule at the poverty rate; for a like-for-like comparison, the rate
    rule at each programme's own coverage; the line rule."""
    rules: list[tuple[DecisionRule, str | None]] = []
    if "rate" in configured:
        rules.append((poverty_rate_rule(frame, weight=weight), None))
        for measure in (m for m in measured if records_receipt(m)):
            coverage = programme_coverage(measure.frame(frame), weight=weight)
            rules.append(
                (DecisionRule("rate:programme_coverage", "rate", coverage), measure.programme)
            )
    if "line" in configured:
        rules.append((DecisionRule("line", "line"), None))
    return rules


def model_targeting(
    analysis: pl.DataFrame,
    scores: ModelScores,
    *,
    line: Measure,
    measured: Sequence[Measure],
    targeting: Targeting,
    models: Models,
    disclosure: Disclosure,
    survey: SurveyDesign | None = None,
    run_id: str,
) -> Published:
    """targeting_errors, model_metrics and targeting_curves of one PMT model: its out-of-fold
    selections under every decision rule, nationally and by group, against the models' line
    (``line``; ``measured`` are the programmes on that line, for the like-for-like rules)."""
    weight = unit_weight(targeting.unit)
    frame = line.frame(analysis).with_columns(pl.Series("fold", scores.fold))
    weights = frame[weight].to_numpy()
    rules = model_rules(frame, models.decision_rules, measured, weight=weight)
    decision_rules = [rule for rule, _ in rules]
    selections = {  # the rate rules of one score array share its ranking
        f"out_of_fold{k}": chosen
        for k, chosen in enumerate(select_each(scores.p_poor, weights, decision_rules))
    }
    wide = rates_by_selection(  # every rule in one pass of the estimator
        frame, selections, benefit=None, targeting=targeting, survey=survey
    )
    if scores.in_sample_p_poor is not None:  # national rates only: no groups to estimate
        in_sample = {
            f"in_sample{k}": chosen
            for k, chosen in enumerate(
                select_each(scores.in_sample_p_poor, weights, decision_rules)
            )
        }
        nationally = targeting.model_copy(update={"groups": []})
        wide |= rates_by_selection(frame, in_sample, benefit=None, targeting=nationally)
    targeting_rows, metrics = [], []
    for k, (rule, programme) in enumerate(rules):
        dimensions = [
            pl.lit(programme, pl.String).alias("programme"),
            pl.lit(line.line, pl.String).alias("poverty_line"),
        ]
        targeting_rows.append(
            with_method(
                wide[f"out_of_fold{k}"],
                method=method_of(scores.model),
                rule=rule.name,
                unit=targeting.unit,
                dimensions=dimensions,
            )
        )
        scored = frame.with_columns(pl.Series("selected", selections[f"out_of_fold{k}"]))
        spread = fold_spread(scored, selected="selected", fold="fold", weight=weight)
        dims = {"programme": programme, "poverty_line": line.line, "unit": targeting.unit}
        metrics.append(metrics_row(scores, rule, national(wide[f"out_of_fold{k}"]), spread) | dims)
        if scores.in_sample_p_poor is not None:
            metrics.append(in_sample_row(scores, rule, national(wide[f"in_sample{k}"])) | dims)
    curve = targeting_curve(
        scores.p_poor, frame[weight].to_numpy(), frame["is_poor"].to_numpy()
    ).select(
        pl.lit(method_of(scores.model)).alias("method"),
        pl.lit(None, pl.String).alias("programme"),
        pl.lit(line.line).alias("poverty_line"),
        pl.lit(targeting.unit).alias("unit"),
        pl.all(),
    )
    return Published(
        {
            "targeting_errors": publishable(
                "targeting_errors",
                pl.concat(targeting_rows),
                run_id=run_id,
                min_cell_n=disclosure.min_cell_n,
            ),
            "model_metrics": publishable(
                "model_metrics",
                pl.DataFrame(metrics, schema_overrides={"programme": pl.String}),
                run_id=run_id,
            ),
            "targeting_curves": publishable("targeting_curves", curve, run_id=run_id),
        }
    )


def national(wide: pl.DataFrame) -> dict[str, object]:
    """The national ('all') row of a wide targeting table."""
    return wide.filter(pl.col("group_type") == "all").row(0, named=True)


def in_sample_row(
    scores: ModelScores, rule: DecisionRule, national: Mapping[str, object]
) -> dict[str, object]:
    """The model_metrics row of the final model's in-sample selections under one rule (beside
    the out-of-fold row, to show how optimistic in-sample rates are)."""
    row = metrics_row(scores, rule, national, None)
    return row | {
        "sample": "in_sample",
        "auc": scores.in_sample_auc,
        "n_train": scores.final_n_train,
    }


def metrics_row(
    scores: ModelScores, rule: DecisionRule, national: Mapping[str, object], spread: float | None
) -> dict[str, object]:
    """One model_metrics row: the model's national out-of-sample rates under one rule."""
    return {
        "model": scores.model,
        "decision_rule": rule.name,
        "sample": "out_of_fold",
        "n_train": scores.n_train,
        "auc": scores.auc,
        "coverage": national["coverage"],
        "inclusion_error": national["inclusion_error"],
        "exclusion_error": national["exclusion_error"],
        "cgh": national["cgh"],
        "cv_scheme": scores.cv_scheme,
        "fold_spread": spread,
        "artifact_sha256": scores.artifact_sha256,
    }


def pmt_selections(
    frame: pl.DataFrame, scores: Sequence[ModelScores], *, unit: str
) -> dict[str, np.ndarray]:
    """Each model's out-of-fold selections under the poverty-rate rule of the frame's line,
    aligned with the frame."""
    weight = unit_weight(unit)
    rule = poverty_rate_rule(frame, weight=weight)
    return {s.model: select(s.p_poor, frame[weight].to_numpy(), rule) for s in scores}


def household_scores(
    analysis: pl.DataFrame,
    scores: Sequence[ModelScores],
    *,
    line: Measure,
    unit: str,
    key: bytes,
    run_id: str,
) -> pl.DataFrame:
    """Per household and model: keyed pseudonym, region, p_poor and the poverty-rate rule's
    selection on the models' line (never the raw household id)."""
    frame = line.frame(analysis)
    keys = pseudonyms(frame["hh_id"], key)
    selections = pmt_selections(frame, scores, unit=unit)
    pieces = [
        frame.select(
            keys.alias("hh_key"),
            "region",
            pl.lit(s.model).alias("model"),
            pl.lit(line.line).alias("poverty_line"),
            pl.Series("p_poor", s.p_poor),
            pl.Series("predicted_eligible", selections[s.model]),
            "is_poor",
            "receives_benefit",
        )
        for s in scores
    ]
    return publishable("household_scores", pl.concat(pieces), run_id=run_id)


def no_settings(measure: Measure) -> Programme:
    """Programme settings for 'any' (or no programme): no benefit tiers, no national floor."""
    return Programme.model_construct(name=measure.programme or NO_PROGRAMME)


def pmt_folds(
    analysis: pl.DataFrame, folds: np.ndarray, *, line: Measure, unit: str, run_id: str
) -> pl.DataFrame:
    """pmt_folds: households, poor households, PSUs and the poverty rate of each test fold."""
    weight = unit_weight(unit)
    frame = line.frame(analysis).with_columns(pl.Series("fold", folds, dtype=pl.Int32))
    counts = frame.group_by("fold").agg(
        pl.len().alias("households"),
        pl.col("is_poor").sum().alias("poor_households"),
        pl.col("psu").n_unique().alias("psus"),
    )
    weighted = exact_sums(
        frame.select(
            "fold",
            (pl.col("is_poor").cast(pl.Float64) * pl.col(weight)).alias("__poor"),
            pl.col(weight).cast(pl.Float64).alias("__all"),
        ),
        by=["fold"],
        columns=["__poor", "__all"],
    )
    rows = (
        counts.join(weighted, on="fold")
        .select(
            "fold",
            "households",
            "poor_households",
            "psus",
            (pl.col("__poor") / pl.col("__all")).alias("poverty_rate"),
        )
        .sort("fold")
        .with_columns(pl.lit(line.line).alias("poverty_line"))
    )
    return publishable(
        "pmt_folds",
        rows.cast({"households": pl.Int64, "poor_households": pl.Int64, "psus": pl.Int64}),
        run_id=run_id,
    )


def merged_notes(per_measure: Sequence[tuple[Measure, Sequence[str]]]) -> list[str]:
    """Each stage's notes once: a note every measure made as it is, the others prefixed with
    the programme and line they concern."""
    if not per_measure:
        return []
    everywhere = set(per_measure[0][1]).intersection(*(set(notes) for _, notes in per_measure))
    merged = [note for note in per_measure[0][1] if note in everywhere]
    for measure, notes in per_measure:
        where = f"{measure.programme or NO_PROGRAMME}, line {measure.line}: "
        merged += [where + note for note in notes if note not in everywhere]
    return list(dict.fromkeys(merged))


def matching(
    analysis: pl.DataFrame,
    regions: pl.DataFrame | None,
    measured: Sequence[Measure],
    *,
    programmes: Sequence[Programme],
    targeting: Targeting,
    disclosure: Disclosure,
    survey: SurveyDesign | None = None,
    run_id: str,
) -> Published:
    """matching_indicators of each programme against each line: coverage, incidence,
    adequacy, gap closure, tiers, regional standards and the declared indicators; the notes
    start with the disclosure threshold (:func:`transforms.definitions.disclosure_note`)."""
    pieces, notes = [], []
    line_free: dict[str | None, LineFree | None] = {}  # per programme, whatever the line
    for measure in measured:
        result = matching_indicators(
            measure.frame(analysis),
            regions,
            programme=measure.spec or no_settings(measure),
            national_line=measure.line_spec.national_line if measure.line_spec else None,
            amounts_recorded=amounts_recorded(measure, programmes),
            design=analysis_design(targeting.unit, survey, analysis.columns),
            extra_groups=targeting.groups,
            line_free=line_free.get(measure.programme),
        )
        line_free[measure.programme] = result.line_free
        pieces.append(
            result.indicators.with_columns(
                *measure.dimensions(), pl.lit(targeting.unit).alias("population_unit")
            )
        )
        notes.append((measure, result.notes))
    rows = publishable(
        "matching_indicators", pl.concat(pieces), run_id=run_id, min_cell_n=disclosure.min_cell_n
    )
    # every run has this stage: its notes also state the disclosure threshold, for the report
    return Published(
        {"matching_indicators": rows}, [disclosure_note(disclosure), *merged_notes(notes)]
    )


def fiscal(
    analysis: pl.DataFrame,
    projection: pl.DataFrame | None,
    measured: Sequence[Measure],
    *,
    programmes: Sequence[Programme],
    scores: Sequence[ModelScores],
    settings: Fiscal,
    unit: str,
    run_id: str,
) -> Published:
    """fiscal_indicators of each programme against each line: spending, poverty, inequality,
    budgets, and the ageing projection by scenario (persons always)."""
    pieces, notes = [], []
    selections: dict[str, dict[str, np.ndarray]] = {}  # they depend on the line alone
    pre_transfer: dict[str, PreTransfer | None] = {}  # as does pre-transfer poverty
    for measure in measured:
        frame = measure.frame(analysis)
        if measure.line not in selections:
            selections[measure.line] = pmt_selections(frame, scores, unit=unit)
        recorded = amounts_recorded(measure, programmes)
        current = fiscal_indicators(
            frame,
            fiscal=settings,
            amounts_recorded=recorded,
            pmt_selections=selections[measure.line],
            pre_transfer=pre_transfer.get(measure.line),
        )
        pre_transfer[measure.line] = current.pre_transfer
        projected = project_costs(frame, projection, fiscal=settings, amounts_recorded=recorded)
        pieces.append(
            pl.concat([current.indicators, projected.indicators]).with_columns(
                *measure.dimensions(), pl.lit("persons").alias("population_unit")
            )
        )
        notes.append((measure, current.notes + projected.notes))
    rows = publishable("fiscal_indicators", pl.concat(pieces), run_id=run_id)
    return Published({"fiscal_indicators": rows}, merged_notes(notes))


def poverty_lines(lines: pl.DataFrame, *, currency: str, run_id: str) -> pl.DataFrame:
    """poverty_lines: each line's value, per region where it varies."""
    return publishable(
        "poverty_lines", lines.with_columns(pl.lit(currency).alias("currency")), run_id=run_id
    )


def programme_overlap(
    analysis: pl.DataFrame,
    programmes: Sequence[Programme],
    *,
    targeting: Targeting,
    disclosure: Disclosure,
    survey: SurveyDesign | None = None,
    run_id: str,
) -> Published:
    """programme_overlap: the share of the population receiving each combination of the
    programmes, with design-based SEs (only when there are two or more programmes)."""
    if len(programmes) < 2:
        return Published({})
    received = [
        pl.when(pl.col(f"receives_benefit__{i}").fill_null(False)).then(pl.lit(p.name))
        for i, p in enumerate(programmes)
    ]
    combination = pl.concat_list(received).list.drop_nulls().list.join(" + ")
    weight = unit_weight(targeting.unit)
    frame = analysis.with_columns(
        pl.when(combination == "")
        .then(pl.lit(NO_PROGRAMME))
        .otherwise(combination)
        .alias("__combination"),
        pl.lit(1.0).alias("__one"),
    )
    shares = population_shares(
        frame,
        design=analysis_design(targeting.unit, survey, analysis.columns),
        bases={"share": "__one"},
        group="__combination",
    )
    totals = exact_sums(
        frame.select("__combination", pl.col(weight).cast(pl.Float64).alias("population")),
        by=["__combination"],
        columns=["population"],
    )
    rows = shares.join(totals, left_on="group_value", right_on="__combination", how="left").select(
        pl.col("group_value").alias("programmes"),
        pl.lit(targeting.unit).alias("population_unit"),
        "population",
        pl.col("estimate").alias("share"),
        "se",
        "ci_low",
        "ci_high",
        "n_obs",
    )
    return Published(
        {
            "programme_overlap": publishable(
                "programme_overlap",
                rows.sort("programmes"),
                run_id=run_id,
                min_cell_n=disclosure.min_cell_n,
            )
        }
    )


def alerts(
    previous: pl.DataFrame,
    current: pl.DataFrame,
    *,
    thresholds: Alerts,
    previous_run_id: str,
    run_id: str,
) -> pl.DataFrame:
    """alerts: headline indicators that moved beyond the thresholds since the previous run."""
    moved = alerts_between(previous, current, thresholds)
    return publishable(
        "alerts",
        moved.with_columns(pl.lit(previous_run_id).alias("previous_run_id")),
        run_id=run_id,
    )


def run_notes(stage: str, notes: Sequence[str], *, run_id: str) -> pl.DataFrame:
    """run_notes: what a stage skipped or assumed, one row per note."""
    frame = pl.DataFrame(
        {"stage": [stage] * len(notes), "note": list(notes)},
        schema={"stage": pl.String, "note": pl.String},
    )
    return publishable("run_notes", frame, run_id=run_id)
