"""PMT model evaluation: cross-validate each model (cached on data + settings), then publish its
out-of-sample targeting (transforms.tables.model_targeting)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sklearn
from joblib import parallel_config
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext
from threadpoolctl import threadpool_limits

import models
from flows.lifecycle import RunContext, file_sha256, write_tables
from flows.runners import execution_place, runs_on_dask
from models.artifacts import fit_and_save
from models.cv import PmtResult, cross_validate
from models.features import feature_spec
from models.pmt import configured_models
from transforms import tables
from transforms.config import AuditConfig, ConfigError
from transforms.io import warehouse
from transforms.pmt_evaluation import ModelScores
from transforms.targeting import records_programme, unit_weight

PSEUDONYM_KEY_VARIABLE = "WELFARE_AUDIT_PSEUDONYM_KEY"


@dataclass(frozen=True)
class TrainedModel:
    """A model's out-of-fold result and its saved artifact."""

    result: PmtResult
    artifact_sha256: str
    artifact_path: str

    def scores(self) -> ModelScores:
        """What the published tables need of the model: scores, folds and its record."""
        return ModelScores(
            model=self.result.model,
            p_poor=self.result.p_poor,
            fold=self.result.fold,
            auc=self.result.auc,
            n_train=self.result.n_train,
            cv_scheme=self.result.cv_scheme,
            artifact_sha256=self.artifact_sha256,
        )


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
        "unit": config.targeting.unit,
        "seed": config.seed,
    }


def training_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache on the analysis data's hash and the model settings (not on paths or run ids)."""
    settings = json.dumps(model_settings(parameters["config"], parameters["name"]), sort_keys=True)
    digest = hashlib.sha256(f"{parameters['data_sha256']}|{settings}".encode()).hexdigest()
    return f"pmt-{parameters['name']}-{digest[:32]}"


def training_threads(models: int, cpus: int | None = None) -> int:
    """Threads for each of ``models`` trained side by side: the cores shared out, at least one."""
    available = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(1, available // max(1, models))


def side_by_side(models: int) -> int:
    """How many models train at once on the thread runner (one task per core)."""
    return max(1, min(models, os.cpu_count() or 1))


TRAINING_COLUMNS = ("hh_id", "psu", "region", "is_poor", "welfare_pre", "poverty_line")
"""What cross-validation needs besides the features and the weight (folds, targets, lines)."""


def training_columns(features: Sequence[str], config: AuditConfig) -> list[str]:
    """The analysis columns a model task reads: models train side by side, so each reads
    only these, not the whole frame."""
    wanted = [*TRAINING_COLUMNS, unit_weight(config.targeting.unit), *features]
    return list(dict.fromkeys(wanted))


@task(name="train-pmt", cache_key_fn=training_cache_key, persist_result=True, retries=1)
def train_model(
    config: AuditConfig, name: str, data_path: str, data_sha256: str, threads: int = 1
) -> TrainedModel:
    """K-fold out-of-fold scores for every household, then the final model saved with its hash.

    ``threads`` caps OpenMP/BLAS threads and joblib's default ``n_jobs`` for this model, so
    models trained side by side share the cores instead of oversubscribing them (OpenMP
    threads that spin-wait on a busy core make HistGradientBoosting several times slower).
    """
    households = config.inputs.households
    spec = feature_spec(
        pl.read_parquet_schema(data_path),
        proxies=households.proxies,
        features=config.models.features,
    )
    frame = pl.read_parquet(data_path, columns=training_columns(spec.columns, config))
    weight = unit_weight(config.targeting.unit)
    with threadpool_limits(limits=threads), parallel_config(n_jobs=threads):
        result = cross_validate(
            frame, name=name, spec=spec, models=config.models, weight=weight, seed=config.seed
        )
        saved = fit_and_save(
            frame,
            name=name,
            spec=spec,
            models=config.models,
            weight=weight,
            seed=config.seed,
            directory=config.output.directory / "models" / data_sha256[:16],
            cv=result,
        )
    get_run_logger().info(
        "%s: out-of-fold AUC %.3f (%s); trained in %s with %d thread(s)",
        name,
        result.auc,
        result.cv_scheme,
        execution_place(),
        threads,
    )
    return TrainedModel(result, saved.sha256, str(saved.path))


@task(name="pmt-targeting", cache_policy=NO_CACHE)
def measure_model_targeting(
    config: AuditConfig, run: RunContext, scores: ModelScores
) -> list[dict[str, Any]]:
    """Targeting errors of one model under every decision rule; publishes rows and metrics."""
    published = tables.model_targeting(
        pl.read_parquet(run.analysis_path),
        scores,
        targeting=config.targeting,
        models=config.models,
        disclosure=config.disclosure,
        programme_known=records_programme(config.inputs.households.columns),
        run_id=run.run_id,
    )
    write_tables(run, published)
    return published.tables["model_metrics"].drop("run_id").to_dicts()


def pseudonym_key() -> bytes:
    """The HMAC key for household pseudonyms, from the environment."""
    key = os.environ.get(PSEUDONYM_KEY_VARIABLE, "")
    if len(key) < 16:
        raise ConfigError(
            f"disclosure.publish_household_scores = true needs the environment variable "
            f"{PSEUDONYM_KEY_VARIABLE} (a secret of at least 16 characters) to key the pseudonyms"
        )
    return key.encode("utf-8")


@task(name="household-scores", cache_policy=NO_CACHE)
def publish_household_scores(
    config: AuditConfig, run: RunContext, scores: list[ModelScores]
) -> int:
    """Per household and model: pseudonym, region, p_poor, selection (poverty-rate rule)."""
    rows = tables.household_scores(
        pl.read_parquet(run.analysis_path),
        scores,
        unit=config.targeting.unit,
        key=pseudonym_key(),
        run_id=run.run_id,
    )
    with run.connect() as con:
        return warehouse.insert_frame(con, "household_scores", rows)


@flow(name="pmt-evaluation", validate_parameters=False)
def evaluate_models(
    config: AuditConfig, run: RunContext
) -> tuple[list[dict[str, Any]], list[ModelScores]]:
    """Train every PMT model (in parallel where the task runner allows), then publish each
    model's out-of-sample targeting."""
    data_path = str(run.analysis_path)
    data_sha256 = file_sha256(run.analysis_path)
    names = configured_models(config.models)
    context = FlowRunContext.get()
    on_dask = runs_on_dask(context.task_runner if context else None)
    threads = 1 if on_dask else training_threads(side_by_side(len(names)))  # Dask: one each
    futures = [train_model.submit(config, name, data_path, data_sha256, threads) for name in names]
    scores = [future.result().scores() for future in futures]
    metrics = [row for s in scores for row in measure_model_targeting(config, run, s)]
    if config.disclosure.publish_household_scores:
        publish_household_scores(config, run, scores)
    get_run_logger().info("PMT models, out of sample:\n%s", metrics_text(metrics))
    return metrics, scores


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
