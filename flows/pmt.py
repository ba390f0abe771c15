"""PMT tasks: cross-validate each model (cached on data + settings), then measure its targeting."""

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
from flows.run import RunContext, file_sha256, with_run_id
from flows.runners import execution_place, runs_on_dask
from flows.targeting import analysis_design, available_groups, has_programme, publishable
from models.artifacts import fit_and_save
from models.cv import PmtResult, cross_validate
from models.features import feature_spec
from models.pmt import configured_models, weight_column
from transforms import warehouse
from transforms.config import AuditConfig, ConfigError
from transforms.contract import table
from transforms.pmt_evaluation import (
    DecisionRule,
    decision_rules,
    fold_spread,
    programme_coverage,
    pseudonyms,
    select,
    targeting_curve,
)
from transforms.targeting import (
    add_indicator_columns,
    targeting_rates,
    weighted_share,
    wide_rates,
)

PSEUDONYM_KEY_VARIABLE = "WELFARE_AUDIT_PSEUDONYM_KEY"


@dataclass(frozen=True)
class TrainedModel:
    """A model's out-of-fold result and its saved artifact."""

    result: PmtResult
    artifact_sha256: str
    artifact_path: str


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
    wanted = [*TRAINING_COLUMNS, weight_column(config), *features]
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
    spec = feature_spec(pl.read_parquet_schema(data_path), config)
    frame = pl.read_parquet(data_path, columns=training_columns(spec.columns, config))
    with threadpool_limits(limits=threads), parallel_config(n_jobs=threads):
        result = cross_validate(frame, name=name, spec=spec, config=config, seed=config.seed)
        directory = config.output.directory / "models" / data_sha256[:16]
        saved = fit_and_save(
            frame,
            name=name,
            spec=spec,
            config=config,
            seed=config.seed,
            directory=directory,
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


def rule_frame(
    frame: pl.DataFrame, trained: TrainedModel, rule: DecisionRule, weight: str
) -> pl.DataFrame:
    """The analysis frame with this model's out-of-fold score, fold and selection."""
    selected = select(trained.result.p_poor, frame[weight].to_numpy(), rule)
    return frame.with_columns(
        pl.Series("p_poor", trained.result.p_poor),
        pl.Series("fold", trained.result.fold),
        pl.Series("selected", selected),
    )


def metrics_row(
    trained: TrainedModel, rule: DecisionRule, national: dict[str, Any], spread: float
) -> dict[str, Any]:
    """One model_metrics row."""
    return {
        "model": trained.result.model,
        "decision_rule": rule.name,
        "n_train": trained.result.n_train,
        "auc": trained.result.auc,
        "coverage": national["coverage"],
        "inclusion_error": national["inclusion_error"],
        "exclusion_error": national["exclusion_error"],
        "cgh": national["cgh"],
        "cv_scheme": trained.result.cv_scheme,
        "fold_spread": spread,
        "artifact_sha256": trained.artifact_sha256,
    }


@task(name="pmt-targeting", cache_policy=NO_CACHE)
def measure_model_targeting(
    config: AuditConfig, run: RunContext, data_path: str, trained: TrainedModel
) -> list[dict[str, Any]]:
    """Targeting errors of one model under every decision rule; publishes rows and metrics."""
    frame = pl.read_parquet(data_path)
    weight = weight_column(config)
    poverty = weighted_share(frame["is_poor"], frame[weight])
    coverage = programme_coverage(frame, weight=weight) if has_programme(config) else None
    rules = decision_rules(
        config.models.decision_rules, poverty_rate=poverty, programme_coverage=coverage
    )
    metrics, published = [], []
    for rule in rules:
        scored = rule_frame(frame, trained, rule, weight)
        indicators = add_indicator_columns(
            scored, selected="selected", benefit=None, unit=config.targeting.unit
        )
        wide = wide_rates(
            targeting_rates(
                indicators, design=analysis_design(config), groups=available_groups(config, frame)
            )
        )
        method = f"pmt:{trained.result.model}"
        published.append(
            publishable(
                wide, method=method, decision_rule=rule.name, config=config, run_id=run.run_id
            )
        )
        national = wide.filter(pl.col("group_type") == "all").row(0, named=True)
        spread = fold_spread(scored, selected="selected", fold="fold", weight=weight)
        metrics.append(metrics_row(trained, rule, national, spread))
    curve = targeting_curve(
        trained.result.p_poor,
        frame[weight].to_numpy(),
        frame["is_poor"].to_numpy(),
    ).select(pl.lit(f"pmt:{trained.result.model}").alias("method"), pl.all())
    with run.connect() as con:
        warehouse.insert_frame(con, "targeting_errors", pl.concat(published))
        warehouse.insert_frame(con, "model_metrics", with_run_id(pl.DataFrame(metrics), run.run_id))
        warehouse.insert_frame(con, "targeting_curves", with_run_id(curve, run.run_id))
    return metrics


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
    config: AuditConfig, run: RunContext, data_path: str, models: list[TrainedModel]
) -> int:
    """Per household and model: pseudonym, region, p_poor, selection (poverty-rate rule)."""
    key = pseudonym_key()
    frame = pl.read_parquet(data_path)
    weight = weight_column(config)
    keys = pseudonyms(frame["hh_id"], key)
    poverty = weighted_share(frame["is_poor"], frame[weight])
    rule = DecisionRule("rate:poverty_rate", "rate", poverty)
    pieces = []
    for trained in models:
        scored = rule_frame(frame, trained, rule, weight)
        pieces.append(
            scored.select(
                keys.alias("hh_key"),
                "region",
                pl.lit(trained.result.model).alias("model"),
                "p_poor",
                pl.col("selected").alias("predicted_eligible"),
                "is_poor",
                "receives_benefit",
            )
        )
    rows = pl.concat(pieces).select(
        [c for c in table("household_scores").column_names() if c != "run_id"]
    )
    with run.connect() as con:
        return warehouse.insert_frame(con, "household_scores", with_run_id(rows, run.run_id))


def analysis_file(run: RunContext) -> tuple[str, str]:
    """Path and SHA-256 of the analysis frame exported for the model tasks."""
    path = run.output_dir / "analysis.parquet"
    return str(path), file_sha256(Path(path))


def enabled_models(config: AuditConfig) -> list[str]:
    """Built-in and custom models to evaluate."""
    return list(configured_models(config))


@flow(name="demand-identification", validate_parameters=False)
def identify_demand(
    config: AuditConfig, run: RunContext
) -> tuple[list[dict[str, Any]], list[TrainedModel]]:
    """Train every PMT model (in parallel where the task runner allows), then measure each."""
    data_path, data_sha256 = analysis_file(run)
    names = enabled_models(config)
    context = FlowRunContext.get()
    on_dask = runs_on_dask(context.task_runner if context else None)
    threads = 1 if on_dask else training_threads(side_by_side(len(names)))  # Dask: one each
    futures = [train_model.submit(config, name, data_path, data_sha256, threads) for name in names]
    trained = [future.result() for future in futures]
    metrics = [
        row for model in trained for row in measure_model_targeting(config, run, data_path, model)
    ]
    if config.disclosure.publish_household_scores:
        publish_household_scores(config, run, data_path, trained)
    get_run_logger().info("PMT models, out of sample:\n%s", metrics_text(metrics))
    return metrics, trained


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
