"""Out-of-sample PMT scores: whole-PSU folds balanced by region, and cross-validation.

The fold rule is our own greedy assignment, *not* scikit-learn's ``StratifiedGroupKFold``
(which places each group where it least increases the spread of class proportions across
folds; on a design shaped like the embedded sample about half the households or more land in
a different fold under it). Ours: PSUs, sorted by label, are shuffled with
``numpy.random.RandomState(seed)`` and then stable-sorted by size, largest first; each PSU in
turn goes to the fold with the smallest *load*: the share of its region's households that the
fold holds so far plus the share of all poor households it holds so far. Ties go to the fold
with the fewest households overall, then to the lowest fold number. So folds hold similar
parts of every region and similar numbers of the poor. A PSU therefore
never straddles training and test rows, and a region with at least ``n_folds`` PSUs has
households in every fold; regions with fewer PSUs sit in fewer folds. A PSU whose households
span regions counts for its most common region. It is computed over the PSU table, so it
takes seconds at millions of households.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from models.features import FeatureSpec
from models.pmt import (
    BUILTIN_MODELS,
    DEFAULT_ALLOWED_MODULES,
    Task,
    fit_pmt,
    model_task,
)
from transforms.config import Models


@dataclass(frozen=True, eq=False)
class PmtResult:
    """Out-of-fold scores of one model for every household, in the input frame's order."""

    model: str
    task: Task
    hh_id: pl.Series
    fold: np.ndarray
    """Fold (0 .. n_folds - 1) in which each household was a test row."""
    p_poor: np.ndarray
    """Out-of-fold probability of being poor, in [0, 1]."""
    predicted_log_welfare: np.ndarray | None
    """Out-of-fold predicted log(welfare_pre + 1) (regressors only)."""
    fold_auc: tuple[float, ...]
    """Weighted ROC AUC within each test fold (NaN when a fold holds a single class)."""
    auc: float
    """Weighted ROC AUC of all out-of-fold scores against is_poor."""
    n_train: int
    """Mean number of households actually used to fit each training fold."""
    cv_scheme: str
    weight_column: str

    def scores(self) -> pl.DataFrame:
        """hh_id, fold, p_poor (and predicted_log_welfare) as a frame."""
        columns: dict[str, pl.Series | np.ndarray] = {
            "hh_id": self.hh_id,
            "fold": self.fold,
            "p_poor": self.p_poor,
        }
        if self.predicted_log_welfare is not None:
            columns["predicted_log_welfare"] = self.predicted_log_welfare
        return pl.DataFrame(columns)


def _assign_groups(
    strata: np.ndarray, sizes: np.ndarray, poor: np.ndarray, *, n_folds: int, seed: int
) -> np.ndarray:
    """The greedy rule: largest group first, each to the fold where its stratum and the poor
    are least represented so far, each relative to its total (ties: the smaller fold, then
    the lower number)."""
    order = np.arange(sizes.size)
    np.random.RandomState(seed).shuffle(order)
    order = order[np.argsort(-sizes[order], kind="stable")]
    stratum_totals = np.bincount(strata, weights=sizes).tolist()
    poor_total = float(poor.sum())
    per_stratum = [[0.0] * n_folds for _ in stratum_totals]
    poor_in = [0.0] * n_folds
    totals = [0] * n_folds
    candidates = range(n_folds)
    assignment = np.empty(sizes.size, dtype=np.int64)
    for group in order.tolist():
        stratum = int(strata[group])
        counts, total = per_stratum[stratum], stratum_totals[stratum]

        def load(fold: int, counts: list[float] = counts, total: float = total) -> float:
            share = counts[fold] / total
            return share + (poor_in[fold] / poor_total if poor_total else 0.0)

        best = min(candidates, key=lambda fold: (load(fold), totals[fold]))
        counts[best] += float(sizes[group])
        poor_in[best] += float(poor[group])
        totals[best] += int(sizes[group])
        assignment[group] = best
    return assignment


def make_folds(
    frame: pl.DataFrame,
    *,
    n_folds: int,
    seed: int,
    group: str = "psu",
    stratify: str = "region",
    balance: str | None = "is_poor",
) -> np.ndarray:
    """Fold id (0 .. n_folds - 1) of every household: whole PSUs, balanced by region and by
    the poor (``balance``, a boolean column; None balances by region only).

    Requires the ``group`` (PSU) and ``stratify`` (region) columns, without nulls.
    """
    keys = frame.select(
        pl.col(group).cast(pl.String).alias("group"),
        pl.col(stratify).cast(pl.String).alias("stratum"),
        (pl.col(balance).fill_null(False) if balance else pl.lit(False))
        .cast(pl.Int64)
        .alias("poor"),
    )
    for column, name in (("group", group), ("stratum", stratify)):
        if keys[column].null_count():
            raise ValueError(f"make_folds: {name} has null values")
    groups = (
        keys.group_by("group")
        .agg(
            pl.len().alias("size"),
            pl.col("poor").sum().alias("poor"),
            pl.col("stratum").mode().sort().first().alias("stratum"),
        )
        .sort("group")
    )
    if groups.height < n_folds:
        raise ValueError(
            f"models.folds = {n_folds} but the data have only {groups.height} distinct {group} "
            "values; every fold needs at least one"
        )
    _, strata = np.unique(groups["stratum"].to_numpy(), return_inverse=True)
    assignment = _assign_groups(
        strata,
        groups["size"].to_numpy().astype(np.int64),
        groups["poor"].to_numpy().astype(np.int64),
        n_folds=n_folds,
        seed=seed,
    )
    folds = groups.select("group", pl.Series("fold", assignment))
    joined = keys.join(folds, on="group", how="left", maintain_order="left")
    return joined["fold"].to_numpy()


def weighted_auc(is_poor: np.ndarray, score: np.ndarray, weights: np.ndarray) -> float:
    """Weighted ROC AUC of a score against poverty (NaN when only one class is present)."""
    if np.unique(is_poor).size < 2:
        return float("nan")
    return float(roc_auc_score(is_poor, score, sample_weight=weights))


def cv_scheme(
    *, n_folds: int, seed: int, cap: int, group: str = "psu", stratify: str = "region"
) -> str:
    """The cross-validation scheme, as recorded beside every metric."""
    return (
        f"{n_folds}-fold whole-{group} folds balanced by {stratify} and poverty (greedy: "
        f"largest {group} first, to the fold with the smallest share of its {stratify}'s "
        f"households plus share of the poor households so far), seed {seed}, "
        f"train cap {cap} (simple random sample without replacement, survey weights kept)"
    )


def cross_validate(
    frame: pl.DataFrame,
    *,
    name: str,
    spec: FeatureSpec,
    models: Models,
    weight: str,
    seed: int,
    allowed_modules: Collection[str] = DEFAULT_ALLOWED_MODULES,
) -> PmtResult:
    """Fit ``name`` on each training fold and score its test fold: p_poor for every household.

    Requires hh_id, psu, region, is_poor, welfare_pre, poverty_line (regressors), the
    ``weight`` column (the targeting unit's) and the features of ``spec``.
    """
    n_folds = models.folds
    folds = make_folds(frame, n_folds=n_folds, seed=seed)
    custom = models.custom.get(name) if name not in BUILTIN_MODELS else None
    task = model_task(name, custom)
    p_poor = np.full(frame.height, np.nan)
    log_welfare = np.full(frame.height, np.nan) if task == "regressor" else None
    used: list[int] = []
    for fold in range(n_folds):
        test = np.flatnonzero(folds == fold)
        model = fit_pmt(
            frame,
            name=name,
            spec=spec,
            models=models,
            weight=weight,
            seed=seed,
            rows=np.flatnonzero(folds != fold),
            allowed_modules=allowed_modules,
        )
        used.append(model.n_train)
        fold_p, fold_log_welfare = model.score(frame, rows=test)
        p_poor[test] = fold_p
        if log_welfare is not None and fold_log_welfare is not None:
            log_welfare[test] = fold_log_welfare
    if np.isnan(p_poor).any():
        raise RuntimeError(f"{name}: {int(np.isnan(p_poor).sum())} households were not scored")
    is_poor = frame["is_poor"].cast(pl.Int8).to_numpy()
    weights = frame[weight].cast(pl.Float64).to_numpy()
    fold_auc = tuple(
        weighted_auc(is_poor[folds == k], p_poor[folds == k], weights[folds == k])
        for k in range(n_folds)
    )
    return PmtResult(
        model=name,
        task=task,
        hh_id=frame["hh_id"],
        fold=folds,
        p_poor=p_poor,
        predicted_log_welfare=log_welfare,
        fold_auc=fold_auc,
        auc=weighted_auc(is_poor, p_poor, weights),
        n_train=round(float(np.mean(used))),
        cv_scheme=cv_scheme(n_folds=n_folds, seed=seed, cap=models.max_train_rows),
        weight_column=weight,
    )
