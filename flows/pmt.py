"""PMT model evaluation: cross-validate each model (kept in a checked training cache in the
audit's output folder, keyed on data, code and settings), then publish its
out-of-sample targeting (transforms.tables.model_targeting)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import sklearn
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.futures import as_completed

import models
from flows import progress
from flows.analysis import read_for
from flows.lifecycle import RunContext, file_sha256, write_tables
from flows.runners import execution_place, run_each, runs_on_dask
from models import cache
from models.features import best_single_predictors, high_cardinality
from models.pmt import configured_models
from models.training import SharedFrame, fit_model, model_features, training_frame
from transforms import tables
from transforms.config import AuditConfig, pseudonym_key
from transforms.io import warehouse
from transforms.io.analysis_file import read_analysis
from transforms.io.scores import read_model_scores, write_model_scores
from transforms.pmt_evaluation import ModelScores
from transforms.targeting import unit_weight


def models_code_sha256() -> str:
    """SHA-256 of the models package's source: a code change invalidates cached training."""
    digest = hashlib.sha256()
    for source in sorted(Path(models.__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def model_settings(config: AuditConfig, name: str) -> dict[str, Any]:
    """Everything that changes a model's result, for the cache key (with code and library)."""
    custom = config.models.custom.get(name)
    return {
        "code": models_code_sha256(),
        "scikit-learn": sklearn.__version__,
        "name": name,
        "custom": custom.model_dump() if custom else None,
        "folds": config.models.folds,
        "cap": config.models.max_train_rows,
        "features": config.models.features,
        "params": config.models.params.get(name) if name in config.models.params else None,
        "region_effects": config.models.region_effects,
        "derived": config.inputs.households.derived,
        "line": config.model_line.model_dump(),
        "unit": config.targeting.unit,
        "seed": config.seed,
    }


def training_key(config: AuditConfig, name: str, data_sha256: str) -> str:
    """The training cache's key: the analysis data's hash, the model settings, the models'
    code and the scikit-learn version (not paths or run ids)."""
    settings = json.dumps(model_settings(config, name), sort_keys=True)
    return hashlib.sha256(f"{data_sha256}|{settings}".encode()).hexdigest()


def cache_directory(config: AuditConfig, data_sha256: str) -> Path:
    """Where a model's artifact and cache entry live: the audit's output folder, per data."""
    return config.output.directory / "models" / data_sha256[:16]


def training_threads(models: int, cpus: int | None = None) -> int:
    """Threads for each of ``models`` trained side by side: the cores shared out, at least one."""
    available = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(1, available // max(1, models))


TRAINING_COST: dict[str, float] = {"hgb": 4.8, "rf": 4.5, "ols": 1.7, "logit": 0.8}
"""Seconds to cross-validate and fit each built-in model on the embedded sample (20,000
households, one thread, 2 cores): only their order matters, for :func:`longest_first`. Kept
out of the models package, whose code is part of the training cache's key."""


def longest_first(names: Sequence[str]) -> list[str]:
    """Models in the order to start training when fewer run at once than there are models:
    custom models first (their cost is unknown), then the built-ins, slowest first, so the
    last to finish is a short one (longest-processing-time-first scheduling)."""
    unknown = max(TRAINING_COST.values()) + 1
    return sorted(names, key=lambda name: -TRAINING_COST.get(name, unknown))


def side_by_side(models: int) -> int:
    """How many models train at once on the thread runner (one task per core)."""
    return max(1, min(models, os.cpu_count() or 1))


@task(name="train-pmt", task_run_name="train-pmt-{name}", cache_policy=NO_CACHE, retries=1)
def train_model(
    config: AuditConfig,
    name: str,
    data_path: str,
    data_sha256: str,
    threads: int = 1,
    retrain: bool = False,
    shared: SharedFrame | None = None,
) -> ModelScores:
    """A model's out-of-fold scores, from the training cache when an entry for the same data,
    code and settings passes its hash checks (unless ``retrain``), else trained anew (on the
    ``shared`` frame of the models trained in this process, if given)."""
    logger = get_run_logger()
    key = training_key(config, name, data_sha256)
    directory = cache_directory(config, data_sha256)
    entry = None
    if not retrain:
        try:
            entry = cache.lookup(directory, key, name)
        except cache.CacheEntryRejected as problem:
            logger.warning("%s: cached training not used (%s); training again", name, problem)
    if entry is None:
        entry = fit_model(config, name, data_path, directory, threads, shared)
        cache.store(directory, key, entry)
        logger.info(
            "%s: out-of-fold AUC %.3f (%s); trained, and every household scored, in %s "
            "with %d thread(s)",
            name,
            entry.auc,
            entry.cv_scheme,
            execution_place(),
            threads,
        )
    else:
        logger.info("%s: out-of-fold AUC %.3f; reused the checked cache entry", name, entry.auc)
    return ModelScores(
        model=name,
        p_poor=entry.p_poor,
        fold=entry.fold,
        auc=entry.auc,
        n_train=entry.n_train,
        cv_scheme=entry.cv_scheme,
        artifact_sha256=entry.artifact_sha256,
        in_sample_p_poor=entry.in_sample_p_poor,
        final_n_train=entry.final_n_train,
        in_sample_auc=entry.in_sample_auc,
    )


@task(name="pmt-targeting", task_run_name="pmt-targeting-{model}", cache_policy=NO_CACHE)
def model_targeting_tables(
    config: AuditConfig, analysis_path: str, scores_path: str, model: str, run_id: str
) -> tables.Published:
    """Targeting errors of one model under every decision rule, from the run's analysis and
    scores files."""
    get_run_logger().info("%s: model targeting computed in %s", model, execution_place())
    (scores,) = read_model_scores(Path(scores_path), [model])
    line, measured = tables.models_line(config.programmes, config.poverty_lines, config.model_line)
    return tables.model_targeting(
        read_for(analysis_path, config, tables.estimate_columns),
        scores,
        line=line,
        measured=measured,
        targeting=config.targeting,
        models=config.models,
        disclosure=config.disclosure,
        survey=config.design,
        run_id=run_id,
    )


def measure_model_targeting(
    config: AuditConfig, run: RunContext, scores: Sequence[ModelScores]
) -> list[dict[str, Any]]:
    """Each model's targeting tables, computed where the tasks run (side by side on a Dask
    cluster, one after the other here), published here; returns the out-of-fold metrics."""
    paths = (str(run.analysis_path), str(run.scores_path))
    calls = [(config, *paths, s.model, run.run_id) for s in scores]
    metrics = []
    for published in run_each(model_targeting_tables, calls):
        write_tables(run, published)
        rows = published.tables["model_metrics"].filter(pl.col("sample") == "out_of_fold")
        metrics.extend(rows.drop("run_id").to_dicts())
    return metrics


@task(name="pmt-checks", task_run_name="pmt-checks", cache_policy=NO_CACHE)
def check_models(config: AuditConfig, run: RunContext, scores: list[ModelScores]) -> list[str]:
    """Warnings a methodologist needs: a categorical feature with very many levels, and an
    out-of-fold AUC too high for a PMT (naming the features that predict poverty best alone,
    the likely leak); logged and recorded in audit.run_notes."""
    spec = model_features(config, str(run.analysis_path))
    frame = training_frame(str(run.analysis_path), spec.columns, config)
    notes = high_cardinality(frame, spec)
    suspicious = [s for s in scores if s.auc > config.models.max_plausible_auc]
    if suspicious:
        weight = unit_weight(config.targeting.unit)
        best = ", ".join(
            f"{name} (AUC {auc:.3f} alone)"
            for name, auc in best_single_predictors(frame, spec, weight=weight)
        )
        models = ", ".join(f"{s.model} {s.auc:.3f}" for s in suspicious)
        notes.append(
            f"out-of-fold AUC above {config.models.max_plausible_auc:g} ({models}) is "
            f"implausible for a proxy-means test: a feature may reveal welfare or poverty; the "
            f"best single predictors are {best}"
        )
    for note in notes:
        get_run_logger().warning("PMT: %s", note)
    if notes:
        write_tables(run, tables.Published({}, notes), stage="pmt")
    return notes


@task(name="pmt-folds", task_run_name="pmt-folds", cache_policy=NO_CACHE)
def publish_folds(config: AuditConfig, run: RunContext, scores: ModelScores) -> int:
    """Publish the households and poor households of each cross-validation fold (every model
    shares the folds)."""
    line, _ = tables.models_line(config.programmes, config.poverty_lines, config.model_line)
    rows = tables.pmt_folds(
        read_for(str(run.analysis_path), config, tables.targeting_columns),
        scores.fold,
        line=line,
        unit=config.targeting.unit,
        run_id=run.run_id,
    )
    with run.connect() as con:
        return warehouse.insert_frame(con, "pmt_folds", rows)


@task(name="household-scores", task_run_name="household-scores", cache_policy=NO_CACHE)
def publish_household_scores(
    config: AuditConfig, run: RunContext, scores: list[ModelScores]
) -> int:
    """Per household and model: pseudonym, region, p_poor, selection (poverty-rate rule), as the
    run's file of the table (stored in files beside the warehouse)."""
    line, _ = tables.models_line(config.programmes, config.poverty_lines, config.model_line)
    rows = tables.household_scores(
        read_analysis(run.analysis_path),
        scores,
        line=line,
        unit=config.targeting.unit,
        key=pseudonym_key(),
        run_id=run.run_id,
    )
    return warehouse.write_run_file(run.published, "household_scores", rows)


@flow(
    name="pmt-evaluation",
    flow_run_name="pmt-evaluation",
    validate_parameters=False,
    persist_result=False,
)
def evaluate_models(
    config: AuditConfig, run: RunContext, retrain: bool = False
) -> tuple[list[dict[str, Any]], list[str]]:
    """Train every PMT model (in parallel where the task runner allows), then publish each
    model's out-of-sample targeting; returns the metrics and the models' names (their scores
    are in the run's scores file: the flow does not hold them through the later stages)."""
    data_path = str(run.analysis_path)
    data_sha256 = file_sha256(run.analysis_path)
    names = configured_models(config.models)
    context = FlowRunContext.get()
    on_dask = runs_on_dask(context.task_runner if context else None)
    threads = 1 if on_dask else training_threads(side_by_side(len(names)))  # Dask: one each
    shared = None if on_dask else SharedFrame(data_path, config)  # threads share one frame
    scores_by_name: dict[str, ModelScores] = {}
    futures = [  # slowest first: the runner starts them in this order, one per free thread
        train_model.submit(config, name, data_path, data_sha256, threads, retrain, shared)
        for name in longest_first(names)
    ]
    for future in as_completed(futures):  # progress as each model is ready, wherever it ran
        trained = future.result()
        scores_by_name[trained.model] = trained
        done = len(scores_by_name)
        progress.advance("models", done, len(names), "models", f"{trained.model} ready")
    del shared, futures  # the training frame, freed before the targeting tables
    scores = [scores_by_name[name] for name in names]
    write_model_scores(run.scores_path, scores)  # read by the tasks after training
    if scores:
        publish_folds(config, run, scores[0])
        check_models(config, run, scores)
    metrics = measure_model_targeting(config, run, scores)
    if config.disclosure.publish_household_scores:
        publish_household_scores(config, run, scores)
    get_run_logger().info("PMT models, out of sample:\n%s", metrics_text(metrics))
    return metrics, [s.model for s in scores]


def metrics_text(metrics: list[dict[str, Any]]) -> str:
    """A compact fixed-width table of the models' headline errors for the run log."""
    lines = [f"{'model':<10} {'rule':<24} {'AUC':>6} {'cover':>6} {'excl':>6} {'incl':>6}"]
    for row in metrics:
        rates = " ".join(
            f"{row[name]:>6.1%}" if row[name] is not None else f"{'-':>6}"
            for name in ("coverage", "exclusion_error", "inclusion_error")
        )
        lines.append(f"{row['model']:<10} {row['decision_rule']:<24} {row['auc']:>6.3f} {rates}")
    return "\n".join(lines)
