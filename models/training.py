"""Train one PMT model from the analysis file: cross-validated scores, the final model saved
with its hash, and its in-sample scores, as a training-cache entry.

Everything here runs wherever the model trains: a thread of the audit's process, or a Dask
worker. It reads the analysis file itself and returns plain arrays, so nothing but paths and
the typed configuration crosses to a worker, and it imports neither Prefect nor the pipeline's
orchestration.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import polars as pl
from joblib import parallel_config
from threadpoolctl import threadpool_limits

from models.artifacts import save_model
from models.cache import TrainingEntry
from models.cv import cross_validate, weighted_auc
from models.features import FeatureSpec, feature_spec
from models.pmt import fit_pmt
from transforms.config import AuditConfig
from transforms.io.analysis_file import read_analysis
from transforms.targeting import unit_weight

TRAINING_COLUMNS = ("hh_id", "psu", "region", "welfare_pre")
"""What cross-validation needs besides the features, the weight and the line (folds, target)."""


def line_index(config: AuditConfig) -> int:
    """The position of the line the models learn among the configured lines."""
    labels = [line.label for line in config.poverty_lines]
    return labels.index(config.model_line.label)


def training_frame(data_path: str, features: Sequence[str], config: AuditConfig) -> pl.DataFrame:
    """The analysis columns a model task reads, with the models' line as poverty_line and
    is_poor: models train side by side, so each reads only these, not the whole frame."""
    index = line_index(config)
    line_columns = {f"is_poor__{index}": "is_poor", f"poverty_line__{index}": "poverty_line"}
    wanted = [*TRAINING_COLUMNS, *line_columns, unit_weight(config.targeting.unit), *features]
    frame = read_analysis(data_path, list(dict.fromkeys(wanted)))
    return frame.rename(line_columns)


def model_features(config: AuditConfig, data_path: str) -> FeatureSpec:
    """The models' features, as the analysis file's columns and the configuration give them."""
    households = config.inputs.households
    return feature_spec(
        pl.read_parquet_schema(data_path),
        proxies=households.proxies,
        features=config.models.features,
        derived=list(households.derived),
        region_effects=config.models.region_effects,
    )


class SharedFrame:
    """The training frame, read by the first model that needs it and shared by the models
    trained in the same process (threads), instead of each reading its own copy (training at
    10M households peaked at 9.09 GiB with a copy per model, 6.30 GiB sharing one). Made per
    run; dropped with it after training."""

    def __init__(self, data_path: str, config: AuditConfig) -> None:
        """Nothing read yet: a run whose models all come from the cache reads nothing."""
        self._data_path = data_path
        self._config = config
        self._lock = threading.Lock()
        self._frame: pl.DataFrame | None = None

    def get(self) -> pl.DataFrame:
        """The frame, read on the first call (other threads wait for it)."""
        with self._lock:
            if self._frame is None:
                spec = model_features(self._config, self._data_path)
                self._frame = training_frame(self._data_path, spec.columns, self._config)
            return self._frame


def fit_model(
    config: AuditConfig,
    name: str,
    data_path: str,
    directory: Path,
    threads: int,
    shared: SharedFrame | None = None,
) -> TrainingEntry:
    """K-fold out-of-fold scores for every household, then the final model saved with its hash.

    ``threads`` caps OpenMP threads and joblib's default ``n_jobs`` for this model, so models
    trained side by side share the cores instead of oversubscribing them (OpenMP threads that
    spin-wait on a busy core make HistGradientBoosting several times slower). BLAS always runs
    on one thread: on more, a least-squares solve adds in another order, so OLS coefficients,
    scores and artifact hash would depend on the thread count (1M households: intercept
    9.233173663488948 on one thread, 9.233173663490449 on two). BLAS's thread count is one
    setting for the whole process, kept by :class:`SharedBlasLimit` for models trained side by
    side in threads. ``shared``: the frame of the models trained in this process (else this
    model reads its own).
    """
    spec = model_features(config, data_path)
    frame = shared.get() if shared else training_frame(data_path, spec.columns, config)
    weight = unit_weight(config.targeting.unit)
    with (
        single_threaded_blas(),
        threadpool_limits(limits=threads, user_api="openmp"),
        parallel_config(n_jobs=threads),
    ):
        result = cross_validate(
            frame, name=name, spec=spec, models=config.models, weight=weight, seed=config.seed
        )
        final = fit_pmt(
            frame, name=name, spec=spec, models=config.models, weight=weight, seed=config.seed
        )
        saved = save_model(final, directory, cv=result, seed=config.seed)
        in_sample = final.predict_p_poor(frame)
    in_sample_auc = weighted_auc(
        frame["is_poor"].cast(pl.Int8).to_numpy(), in_sample, frame[weight].to_numpy()
    )
    return TrainingEntry(
        model=name,
        fold=result.fold,
        p_poor=result.p_poor,
        in_sample_p_poor=in_sample,
        auc=result.auc,
        n_train=result.n_train,
        cv_scheme=result.cv_scheme,
        final_n_train=final.n_train,
        in_sample_auc=in_sample_auc,
        artifact_path=saved.path,
        artifact_sha256=saved.sha256,
    )


class SharedBlasLimit:
    """BLAS on one thread while any holder is inside: the first to enter sets the limit, the
    last to leave restores the process's earlier setting. BLAS's thread count is one setting
    for the whole process, so with plain nested ``threadpool_limits`` blocks in threads, one
    model's block ending (or the flow's, when a training fails) would put BLAS back on every
    core while another model still fits."""

    def __init__(self) -> None:
        """No holder yet."""
        self._lock = threading.Lock()
        self._holders = 0
        self._limit: threadpool_limits | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the limit for the block."""
        with self._lock:
            if self._holders == 0:
                self._limit = threadpool_limits(limits=1, user_api="blas")
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._limit is not None:
                    self._limit.restore_original_limits()
                    self._limit = None


BLAS_LIMIT = SharedBlasLimit()
"""The process's one BLAS limit (a process-wide setting needs one keeper)."""


def single_threaded_blas() -> AbstractContextManager[None]:
    """BLAS on one thread until the block ends, shared with every other holder in the process."""
    return BLAS_LIMIT.held()
