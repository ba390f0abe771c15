"""Turn out-of-fold PMT scores into selections (decision rules) and model-level metrics."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from transforms.summation import exact_cumulative, exact_sums, exact_total
from transforms.targeting import RateRanking, rate_ranking, weighted_share

LINE_THRESHOLD = 0.5


@dataclass(frozen=True, eq=False)
class ModelScores:
    """One PMT model's out-of-fold scores for every household of the analysis frame, in its
    row order, with what model_metrics records about the model."""

    model: str
    p_poor: np.ndarray
    """Out-of-fold probability of being poor."""
    fold: np.ndarray
    """Test fold of each household."""
    auc: float
    n_train: int
    cv_scheme: str
    artifact_sha256: str
    in_sample_p_poor: np.ndarray | None = None
    """The final model's scores on the households it was fitted on (for in-sample rates)."""
    final_n_train: int | None = None
    in_sample_auc: float | None = None


@dataclass(frozen=True)
class DecisionRule:
    """How a model's scores become selections; ``name`` is written into every output row."""

    name: str
    kind: str  # "rate" or "line"
    target_coverage: float | None = None


def decision_rules(
    configured: Sequence[str], *, poverty_rate: float, programme_coverage: float | None
) -> list[DecisionRule]:
    """Expand the configured rules: 'rate' matches the poverty rate and the programme's coverage."""
    rules: list[DecisionRule] = []
    if "rate" in configured:
        rules.append(DecisionRule("rate:poverty_rate", "rate", poverty_rate))
        if programme_coverage is not None:
            rules.append(DecisionRule("rate:programme_coverage", "rate", programme_coverage))
    if "line" in configured:
        rules.append(DecisionRule("line", "line"))
    return rules


def poverty_rate_rule(frame: pl.DataFrame, *, weight: str) -> DecisionRule:
    """The rate rule at the poverty rate: the selection every budget scenario and household
    score uses (one coverage, the share of the unit that is poor)."""
    return DecisionRule(
        "rate:poverty_rate", "rate", weighted_share(frame["is_poor"], frame[weight])
    )


def rules_for(
    frame: pl.DataFrame, configured: Sequence[str], *, weight: str, programme_known: bool
) -> list[DecisionRule]:
    """The configured rules for this frame: the rate rules at the poverty rate and, for a
    like-for-like comparison, at the programme's own coverage when the survey records it."""
    coverage = programme_coverage(frame, weight=weight) if programme_known else None
    return decision_rules(
        configured,
        poverty_rate=poverty_rate_rule(frame, weight=weight).target_coverage or 0.0,
        programme_coverage=coverage,
    )


def select(p_poor: np.ndarray, weight: np.ndarray, rule: DecisionRule) -> np.ndarray:
    """Selections under a rule: highest p_poor up to a coverage, or p_poor >= 0.5."""
    return select_each(p_poor, weight, [rule])[0]


def select_each(
    p_poor: np.ndarray, weight: np.ndarray, rules: Sequence[DecisionRule]
) -> list[np.ndarray]:
    """:func:`select` under each rule; the rate rules share one ranking of ``p_poor``."""
    ranking: RateRanking | None = None
    selections = []
    for rule in rules:
        if rule.kind == "line":
            selections.append(p_poor >= LINE_THRESHOLD)
            continue
        assert rule.target_coverage is not None
        ranking = ranking or rate_ranking(p_poor, weight)
        selections.append(ranking.select(rule.target_coverage))
    return selections


def fold_spread(frame: pl.DataFrame, *, selected: str, fold: str, weight: str) -> float:
    """Standard deviation across folds of the exclusion error within each test fold."""
    poor = pl.col("is_poor").cast(pl.Float64) * pl.col(weight)
    per_fold = exact_sums(
        frame.select(
            fold,
            (poor * (1 - pl.col(selected).cast(pl.Float64))).alias("__excluded"),
            poor.alias("__poor"),
        ),
        by=[fold],
        columns=["__excluded", "__poor"],
    ).sort(fold)  # the spread adds the folds' errors in fold order
    ee = per_fold["__excluded"] / per_fold["__poor"]
    values = ee.drop_nulls().drop_nans().to_numpy()
    return float(np.std(values, ddof=1)) if values.size > 1 else 0.0


def programme_coverage(frame: pl.DataFrame, *, weight: str) -> float:
    """Weighted share of the unit that receives the programme."""
    return weighted_share(frame["receives_benefit"], frame[weight])


def pseudonym(hh_id: str, key: bytes) -> str:
    """Keyed HMAC-SHA256 of a household id: stable for one key, meaningless without it."""
    return hmac.new(key, hh_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonyms(hh_ids: pl.Series, key: bytes) -> pl.Series:
    """Pseudonyms for a column of household ids."""
    return hh_ids.map_elements(lambda value: pseudonym(value, key), return_dtype=pl.String)


def targeting_curve(
    p_poor: np.ndarray, weight: np.ndarray, is_poor: np.ndarray, *, points: int = 41
) -> pl.DataFrame:
    """Errors at evenly spaced coverages when the highest scores are selected first.

    Returns coverage, exclusion_error, inclusion_error, true_positive_rate (= 1 − exclusion
    error) and false_positive_rate, computed on cumulative weighted sums (one sort).
    """
    order = np.lexsort((np.arange(p_poor.size), -p_poor))
    w, poor = weight[order], is_poor[order].astype(float)
    covered = np.concatenate([[0.0], exact_cumulative(w)]) / exact_total(w)
    poor_covered = np.concatenate([[0.0], exact_cumulative(w * poor)])
    nonpoor_covered = np.concatenate([[0.0], exact_cumulative(w * (1 - poor))])
    positions = np.searchsorted(covered, np.linspace(0.0, 1.0, points), side="left")
    positions = np.clip(positions, 0, w.size)
    poor_total, nonpoor_total = poor_covered[-1], nonpoor_covered[-1]
    selected = poor_covered[positions] + nonpoor_covered[positions]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = poor_covered[positions] / poor_total if poor_total else np.full(points, np.nan)
        fpr = (
            nonpoor_covered[positions] / nonpoor_total if nonpoor_total else np.full(points, np.nan)
        )
        inclusion = np.where(selected > 0, nonpoor_covered[positions] / selected, np.nan)
    return pl.DataFrame(
        {
            "coverage": covered[positions],
            "exclusion_error": 1.0 - tpr,
            "inclusion_error": inclusion,
            "true_positive_rate": tpr,
            "false_positive_rate": fpr,
        }
    ).with_columns(pl.col("inclusion_error").fill_nan(None))
