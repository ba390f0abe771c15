"""One pure function per published table: the analysis frame in, the publishable rows out.

Each function applies the business rules of its table (decision rules, groups, what a survey
without amounts skips) and ends in :func:`transforms.contract.publishable` (units from the
catalogue, disclosure control, column order, run id). The flow's tasks only read, call one of
these and write; the no-Prefect benchmark calls the same functions. A new dimension of every
table (a poverty line, a programme) is added here, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from transforms.alerts import alerts_between
from transforms.config import Alerts, Disclosure, Fiscal, Models, PovertyLine, Programme, Targeting
from transforms.contract import publishable
from transforms.fiscal import fiscal_indicators, project_costs
from transforms.matching import matching_indicators
from transforms.pmt_evaluation import (
    DecisionRule,
    ModelScores,
    fold_spread,
    poverty_rate_rule,
    pseudonyms,
    rules_for,
    select,
    targeting_curve,
)
from transforms.targeting import (
    add_indicator_columns,
    analysis_design,
    available_groups,
    targeting_rates,
    unit_weight,
    wide_rates,
)

PROGRAMME_METHOD = "program"
ACTUAL_RULE = "actual"


@dataclass(frozen=True)
class Published:
    """Rows for one or more contract tables, and notes on what was skipped and why."""

    tables: dict[str, pl.DataFrame]
    notes: list[str] = field(default_factory=list)


def method_of(model: str) -> str:
    """The targeting_errors method of a PMT model."""
    return f"pmt:{model}"


def rates_by_group(
    frame: pl.DataFrame, *, selected: str, benefit: str | None, targeting: Targeting
) -> pl.DataFrame:
    """Every targeting rate with SE and CI, nationally and by each group the survey can form."""
    indicators = add_indicator_columns(
        frame, selected=selected, benefit=benefit, unit=targeting.unit
    )
    long = targeting_rates(
        indicators,
        design=analysis_design(targeting.unit),
        groups=available_groups(targeting, frame.columns),
    )
    return wide_rates(long)


def with_method(wide: pl.DataFrame, *, method: str, rule: str, unit: str) -> pl.DataFrame:
    """The dimension columns of a targeting_errors row."""
    return wide.with_columns(
        pl.lit(method).alias("method"),
        pl.lit(rule).alias("decision_rule"),
        pl.lit(unit).alias("unit"),
    )


def programme_targeting(
    frame: pl.DataFrame, *, targeting: Targeting, disclosure: Disclosure, run_id: str
) -> Published:
    """targeting_errors of the actual programme (receipt as selection, money-based CGH), and
    its single point on the targeting curves."""
    wide = rates_by_group(
        frame, selected="receives_benefit", benefit="benefit", targeting=targeting
    )
    rows = publishable(
        "targeting_errors",
        with_method(wide, method=PROGRAMME_METHOD, rule=ACTUAL_RULE, unit=targeting.unit),
        run_id=run_id,
        min_cell_n=disclosure.min_cell_n,
    )
    national = wide.filter(pl.col("group_type") == "all").row(0, named=True)
    point = pl.DataFrame(
        {
            "method": [PROGRAMME_METHOD],
            "coverage": [national["coverage"]],
            "exclusion_error": [national["exclusion_error"]],
            "inclusion_error": [national["inclusion_error"]],
            "true_positive_rate": [_complement(national["exclusion_error"])],
            "false_positive_rate": [national["inclusion_rate_nonpoor"]],
        },
        schema_overrides={c: pl.Float64 for c in ("coverage", "exclusion_error")},
    )
    curve = publishable("targeting_curves", point, run_id=run_id)
    return Published({"targeting_errors": rows, "targeting_curves": curve})


def _complement(value: float | None) -> float | None:
    """1 − value (None stays None)."""
    return None if value is None else 1.0 - value


def model_targeting(
    frame: pl.DataFrame,
    scores: ModelScores,
    *,
    targeting: Targeting,
    models: Models,
    disclosure: Disclosure,
    programme_known: bool,
    run_id: str,
) -> Published:
    """targeting_errors, model_metrics and targeting_curves of one PMT model: its out-of-fold
    selections under every decision rule, nationally and by group."""
    weight = unit_weight(targeting.unit)
    rules = rules_for(frame, models.decision_rules, weight=weight, programme_known=programme_known)
    targeting_rows, metrics = [], []
    for rule in rules:
        scored = frame.with_columns(
            pl.Series("fold", scores.fold),
            pl.Series("selected", select(scores.p_poor, frame[weight].to_numpy(), rule)),
        )
        wide = rates_by_group(scored, selected="selected", benefit=None, targeting=targeting)
        method = method_of(scores.model)
        framed = with_method(wide, method=method, rule=rule.name, unit=targeting.unit)
        targeting_rows.append(framed)
        national = wide.filter(pl.col("group_type") == "all").row(0, named=True)
        spread = fold_spread(scored, selected="selected", fold="fold", weight=weight)
        metrics.append(metrics_row(scores, rule, national, spread))
    curve = targeting_curve(
        scores.p_poor, frame[weight].to_numpy(), frame["is_poor"].to_numpy()
    ).select(pl.lit(method_of(scores.model)).alias("method"), pl.all())
    return Published(
        {
            "targeting_errors": publishable(
                "targeting_errors",
                pl.concat(targeting_rows),
                run_id=run_id,
                min_cell_n=disclosure.min_cell_n,
            ),
            "model_metrics": publishable("model_metrics", pl.DataFrame(metrics), run_id=run_id),
            "targeting_curves": publishable("targeting_curves", curve, run_id=run_id),
        }
    )


def metrics_row(
    scores: ModelScores, rule: DecisionRule, national: Mapping[str, object], spread: float
) -> dict[str, object]:
    """One model_metrics row: the model's national out-of-sample rates under one rule."""
    return {
        "model": scores.model,
        "decision_rule": rule.name,
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
    """Each model's out-of-fold selections under the poverty-rate rule, aligned with the frame."""
    weight = unit_weight(unit)
    rule = poverty_rate_rule(frame, weight=weight)
    return {s.model: select(s.p_poor, frame[weight].to_numpy(), rule) for s in scores}


def household_scores(
    frame: pl.DataFrame, scores: Sequence[ModelScores], *, unit: str, key: bytes, run_id: str
) -> pl.DataFrame:
    """Per household and model: keyed pseudonym, region, p_poor and the poverty-rate rule's
    selection (never the raw household id)."""
    keys = pseudonyms(frame["hh_id"], key)
    selections = pmt_selections(frame, scores, unit=unit)
    pieces = [
        frame.select(
            keys.alias("hh_key"),
            "region",
            pl.lit(s.model).alias("model"),
            pl.Series("p_poor", s.p_poor),
            pl.Series("predicted_eligible", selections[s.model]),
            "is_poor",
            "receives_benefit",
        )
        for s in scores
    ]
    return publishable("household_scores", pl.concat(pieces), run_id=run_id)


def matching(
    frame: pl.DataFrame,
    regions: pl.DataFrame | None,
    *,
    programme: Programme,
    poverty_line: PovertyLine,
    amounts_recorded: bool,
    targeting: Targeting,
    disclosure: Disclosure,
    run_id: str,
) -> Published:
    """matching_indicators: coverage, incidence, adequacy, gap closure, tiers, regional
    standards and the declared indicators."""
    result = matching_indicators(
        frame,
        regions,
        programme=programme,
        national_line=poverty_line.national_line,
        amounts_recorded=amounts_recorded,
        design=analysis_design(targeting.unit),
    )
    rows = publishable(
        "matching_indicators",
        result.indicators,
        run_id=run_id,
        min_cell_n=disclosure.min_cell_n,
    )
    return Published({"matching_indicators": rows}, result.notes)


def fiscal(
    frame: pl.DataFrame,
    projection: pl.DataFrame | None,
    *,
    settings: Fiscal,
    amounts_recorded: bool,
    selections: Mapping[str, np.ndarray],
    run_id: str,
) -> Published:
    """fiscal_indicators: the survey year's spending, poverty, inequality and budgets, and the
    ageing projection by scenario."""
    current = fiscal_indicators(
        frame, fiscal=settings, amounts_recorded=amounts_recorded, pmt_selections=selections
    )
    projected = project_costs(frame, projection, fiscal=settings, amounts_recorded=amounts_recorded)
    rows = pl.concat([current.indicators, projected.indicators])
    return Published(
        {"fiscal_indicators": publishable("fiscal_indicators", rows, run_id=run_id)},
        current.notes + projected.notes,
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
