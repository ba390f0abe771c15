"""Proxy-means-test estimators: feature pipelines, fitting with survey weights, scoring.

Built-in models (``models.enabled``):

- ``ols``: the traditional PMT, a ridge regression (``RidgeCV``) of log(welfare_pre + 1);
- ``logit``: logistic regression of poor (1) vs non-poor (0);
- ``hgb``: ``HistGradientBoostingClassifier``;
- ``rf``: ``RandomForestClassifier`` (100 trees, each grown on a bootstrap sample of a quarter
  of the training households, leaves of at least 20 households). Against 200 trees on full
  bootstrap samples this takes about a fifth of the fit time for an out-of-sample AUC 0.001
  lower (0.8151 vs 0.8162 on 160,000 training households of the 1M benchmark survey,
  scored on 200,000 others; ``python -m benchmarks.training_cap``).

Built-in estimators run single-threaded unless the caller sets a thread budget (the flow does,
with ``threadpoolctl`` and ``joblib.parallel_config``), so models can train side by side
without oversubscribing the cores.

Custom models (``models.custom``) name a scikit-learn estimator class by import path; only
paths under ``sklearn`` (or top-level modules the caller lists in ``allowed_modules``) are
imported. A custom regressor predicts log(welfare_pre + 1) like ``ols``.

Every model shares one preprocessing step: numeric features are median-imputed with a
missing-value indicator per column that had gaps, then standardised; categorical features
are one-hot encoded (levels unseen in training are ignored). Survey weights (persons or
households, ``targeting.unit``) reach the final estimator as ``sample_weight``, rescaled to
mean 1 on the training rows so that regularisation strength does not depend on the weights'
scale. Training frames larger than ``models.max_train_rows`` are cut to a simple random
sample of that many households without replacement, keeping their survey weights (a
self-weighting subsample: each household kept with the same probability, so the weighted
sample still represents the population); every household is still scored.

A regressor's probability of being poor is ``Φ((log(z + 1) − ŷ) / σ)`` with σ the weighted
residual standard deviation on the training rows, so ``p_poor ≥ 0.5`` exactly when the
predicted welfare is below the household's poverty line z (the ``line`` rule).
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import math
import os
import re
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy.special import ndtr
from sklearn.base import BaseEstimator, is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import has_fit_parameter

from models.features import FeatureSpec, to_model_input
from transforms.config import ConfigError, CustomModel, Models

Task = Literal["classifier", "regressor"]

BUILTIN_MODELS: dict[str, Task] = {
    "ols": "regressor",
    "logit": "classifier",
    "hgb": "classifier",
    "rf": "classifier",
}
DEFAULT_ALLOWED_MODULES: tuple[str, ...] = ("sklearn",)
SCORING_CHUNK_ROWS = 200_000
"""Households scored per batch: bounds the memory of the encoded feature matrix."""

ESTIMATOR_STEP = "estimator"
MODEL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")

log = logging.getLogger(__name__)


def configured_models(models: Models) -> tuple[str, ...]:
    """Names of the models an audit fits: the enabled built-ins, then the custom ones."""
    for name in models.custom:
        key = f"models.custom.{name}"
        if name in BUILTIN_MODELS:
            raise ConfigError(f"{key}: the name clashes with the built-in model '{name}'")
        if not MODEL_NAME.match(name):
            raise ConfigError(f"{key}: model names may use only letters, digits, '_' and '-'")
    return (*models.enabled, *models.custom)


def model_task(name: str, custom: CustomModel | None = None) -> Task:
    """classifier (predicts poor vs non-poor) or regressor (predicts log welfare)."""
    if custom is not None:
        return custom.task
    if name not in BUILTIN_MODELS:
        raise ValueError(
            f"unknown model '{name}': built-ins are {sorted(BUILTIN_MODELS)}; "
            "custom models need their models.custom entry"
        )
    return BUILTIN_MODELS[name]


def build_preprocessor(spec: FeatureSpec) -> ColumnTransformer:
    """Median imputation with missing indicators and scaling; one-hot for categories.

    Fitted in the calling thread (``n_jobs=1``), whatever joblib's default: with more jobs its
    transformers are fitted in loky's worker processes and come back unpickled, and the saved
    model's bytes (so its published hash) then differ with the thread count and with what the
    process ran before, although every value is the same."""
    numeric = Pipeline(
        [
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("scale", StandardScaler()),
        ]
    )
    categorical = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
    transformers: list[tuple[str, Any, list[str]]] = []
    if spec.numeric:
        transformers.append(("numeric", numeric, list(spec.numeric)))
    if spec.categorical:
        transformers.append(("categorical", categorical, list(spec.categorical)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0, n_jobs=1)


def _builtin_estimator(name: str, seed: int) -> BaseEstimator:
    """The built-in estimators with their fixed settings."""
    if name == "ols":
        return RidgeCV(alphas=np.logspace(-3, 3, 13))
    if name == "logit":
        return LogisticRegression(C=1.0, max_iter=2000)
    if name == "hgb":
        return HistGradientBoostingClassifier(
            max_iter=300,
            learning_rate=0.1,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=10,
            random_state=seed,
        )
    if name == "rf":
        return RandomForestClassifier(
            n_estimators=100,
            min_samples_leaf=20,
            max_features="sqrt",
            max_samples=0.25,
            random_state=seed,
        )
    model_task(name)  # raises the unknown-model error
    raise AssertionError(name)


def _import_estimator_class(key: str, path: str, allowed_modules: Collection[str]) -> type:
    """Import an estimator class by dotted path, refusing modules outside the allow-list."""
    allowed = ", ".join(sorted(allowed_modules))
    if not IMPORT_PATH.match(path):
        raise ConfigError(
            f"{key}: '{path}' is not a dotted import path such as "
            "'sklearn.ensemble.ExtraTreesClassifier'"
        )
    top_level = path.split(".", 1)[0]
    if top_level not in allowed_modules:
        raise ConfigError(
            f"{key}: '{path}' is refused: custom estimators may only be imported from "
            f"{allowed} (top-level module '{top_level}' is not allowed)"
        )
    module_path, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_path)
    except ImportError as error:
        raise ConfigError(f"{key}: cannot import module '{module_path}' ({error})") from None
    found = getattr(module, attribute, None)
    if not (isinstance(found, type) and issubclass(found, BaseEstimator)):
        raise ConfigError(f"{key}: '{path}' is not a scikit-learn estimator class")
    if found.__module__.split(".", 1)[0] not in allowed_modules:
        raise ConfigError(
            f"{key}: '{path}' is defined in '{found.__module__}', outside the allowed "
            f"modules ({allowed})"
        )
    return found


def _custom_estimator(
    name: str, custom: CustomModel, *, seed: int, allowed_modules: Collection[str]
) -> BaseEstimator:
    """Instantiate and check a custom estimator declared in models.custom.<name>."""
    key = f"models.custom.{name}"
    estimator_class = _import_estimator_class(f"{key}.estimator", custom.estimator, allowed_modules)
    try:
        estimator = estimator_class(**custom.params)
    except TypeError as error:
        raise ConfigError(f"{key}.params: {error}") from None
    if "random_state" in estimator.get_params() and "random_state" not in custom.params:
        estimator.set_params(random_state=seed)
    if custom.task == "classifier" and not is_classifier(estimator):
        raise ConfigError(f"{key}.task: '{custom.estimator}' is not a classifier")
    if custom.task == "regressor" and not is_regressor(estimator):
        raise ConfigError(f"{key}.task: '{custom.estimator}' is not a regressor")
    if custom.task == "classifier" and not hasattr(estimator, "predict_proba"):
        raise ConfigError(
            f"{key}.estimator: '{custom.estimator}' has no predict_proba; a PMT classifier "
            "must give probabilities of being poor"
        )
    if not has_fit_parameter(estimator, "sample_weight"):
        raise ConfigError(
            f"{key}.estimator: '{custom.estimator}' does not accept sample_weight; "
            "PMT models are fitted with survey weights"
        )
    return estimator


def with_params(estimator: BaseEstimator, name: str, params: Mapping[str, Any]) -> BaseEstimator:
    """A built-in estimator with models.params.<name> replacing its defaults (errors name the
    key and the parameters the estimator has)."""
    if not params:
        return estimator
    known = estimator.get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise ConfigError(
            f"models.params.{name}: {', '.join(unknown)} not a parameter of "
            f"{type(estimator).__name__} (parameters: {', '.join(sorted(known))})"
        )
    return estimator.set_params(**params)


def build_pipeline(
    name: str,
    spec: FeatureSpec,
    *,
    seed: int,
    custom: CustomModel | None = None,
    params: Mapping[str, Any] | None = None,
    allowed_modules: Collection[str] = DEFAULT_ALLOWED_MODULES,
) -> Pipeline:
    """Preprocessing plus the named estimator (built-in with ``params`` replacing its defaults,
    or ``custom`` when given)."""
    if custom is not None:
        estimator = _custom_estimator(name, custom, seed=seed, allowed_modules=allowed_modules)
    else:
        estimator = with_params(_builtin_estimator(name, seed), name, params or {})
    return Pipeline([("features", build_preprocessor(spec)), (ESTIMATOR_STEP, estimator)])


def training_sample(rows: np.ndarray, *, cap: int, seed: int) -> np.ndarray:
    """At most ``cap`` of ``rows``: all of them, or a simple random sample without replacement.

    The survey weights of the kept rows are used unchanged (every row has the same inclusion
    probability, so the rescaling constant drops out when weights are normalised).
    """
    if rows.size <= cap:
        return rows
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=cap, replace=False))


def training_data_sha256(features: pl.DataFrame, target: np.ndarray, weights: np.ndarray) -> str:
    """SHA-256 of the training matrix as fitted: feature columns, target and weights."""
    digest = hashlib.sha256()
    for name in features.columns:
        column = features[name]
        digest.update(f"{name}:{column.dtype}\n".encode())
        if column.dtype == pl.String:
            digest.update("\x00".join(column.to_list()).encode())
        else:
            digest.update(np.ascontiguousarray(column.to_numpy(), dtype=np.float64).tobytes())
    for array in (target, weights):
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _target(frame: pl.DataFrame, task: Task) -> np.ndarray:
    """1 for poor / 0 for non-poor (classifiers) or log(welfare_pre + 1) (regressors)."""
    column = "is_poor" if task == "classifier" else "welfare_pre"
    values = frame[column]
    if values.null_count():
        raise ValueError(f"{column} has {values.null_count()} null values; a PMT needs it for all")
    if task == "classifier":
        return values.cast(pl.Int8).to_numpy().astype(np.int64)
    return np.log1p(np.clip(values.cast(pl.Float64).to_numpy(), 0.0, None))


def _normalised_weights(frame: pl.DataFrame, column: str) -> np.ndarray:
    """Survey weights rescaled to mean 1 (positive, no nulls)."""
    weights = frame[column].cast(pl.Float64).to_numpy()
    if not np.all(np.isfinite(weights)) or np.any(weights <= 0):
        raise ValueError(f"{column} must be positive and non-null for every household")
    return weights / weights.mean()


@dataclass(eq=False)
class PmtModel:
    """A fitted PMT: pipeline plus what is needed to turn its output into p_poor."""

    name: str
    task: Task
    spec: FeatureSpec
    pipeline: Pipeline
    weight_column: str
    n_train: int
    training_sha256: str
    sigma: float | None = None
    """Weighted residual SD of log(welfare_pre + 1) on the training rows (regressors)."""

    def score(
        self,
        frame: pl.DataFrame,
        *,
        rows: np.ndarray | None = None,
        chunk_rows: int = SCORING_CHUNK_ROWS,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """p_poor, and predicted log(welfare + 1) for regressors, for ``rows`` (default all).

        Scores in batches of at most ``chunk_rows`` households. An estimator that averages in
        parallel (``n_jobs`` > 1, e.g. random forests) predicts each batch single-threaded, so
        its sums run in a fixed order and scores are reproducible; batches then run on that
        many threads instead. Regressors read ``poverty_line``.
        """
        selected = np.arange(frame.height) if rows is None else np.asarray(rows)
        needed = list(self.spec.columns) + (["poverty_line"] if self.task == "regressor" else [])
        columns = frame.select(needed)
        estimator = self.pipeline.named_steps[ESTIMATOR_STEP]
        n_jobs = estimator.get_params().get("n_jobs")
        workers = 1 if n_jobs in (None, 1) else max(1, min(os.cpu_count() or 1, abs(n_jobs)))
        size = max(1, min(chunk_rows, math.ceil(selected.size / workers)))
        batches = [selected[start : start + size] for start in range(0, selected.size, size)]
        if workers > 1:
            estimator.set_params(n_jobs=1)
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                scored = list(pool.map(lambda batch: self._score_batch(columns[batch]), batches))
        finally:
            if workers > 1:
                estimator.set_params(n_jobs=n_jobs)
        if not scored:
            empty = np.empty(0, dtype=np.float64)
            return empty, (empty if self.task == "regressor" else None)
        p_poor = np.concatenate([p for p, _ in scored])
        if self.task == "classifier":
            return p_poor, None
        return p_poor, np.concatenate([w for _, w in scored if w is not None])

    def _score_batch(self, batch: pl.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """p_poor (and predicted log welfare) of one batch of households."""
        model_input = to_model_input(batch, self.spec)
        if self.task == "classifier":
            classes = list(self.pipeline.classes_)
            return self.pipeline.predict_proba(model_input)[:, classes.index(1)], None
        assert self.sigma is not None
        predicted = np.asarray(self.pipeline.predict(model_input), dtype=np.float64)
        line = np.log1p(batch["poverty_line"].cast(pl.Float64).to_numpy())
        return ndtr((line - predicted) / self.sigma), predicted

    def predict_p_poor(self, frame: pl.DataFrame, *, rows: np.ndarray | None = None) -> np.ndarray:
        """Probability of being poor before the transfer, in [0, 1]."""
        return self.score(frame, rows=rows)[0]


def fit_pmt(
    frame: pl.DataFrame,
    *,
    name: str,
    spec: FeatureSpec,
    models: Models,
    weight: str,
    seed: int,
    rows: np.ndarray | None = None,
    allowed_modules: Collection[str] = DEFAULT_ALLOWED_MODULES,
) -> PmtModel:
    """Fit one PMT on ``rows`` of the analysis frame (default all), capped at max_train_rows.

    Requires the feature columns, is_poor (classifiers) or welfare_pre (regressors) and the
    ``weight`` column (the targeting unit's: person_weight or weight).
    """
    custom = models.custom.get(name) if name not in BUILTIN_MODELS else None
    task = model_task(name, custom)
    candidates = np.arange(frame.height) if rows is None else np.asarray(rows)
    used = training_sample(candidates, cap=models.max_train_rows, seed=seed)
    if used.size < candidates.size:
        log.info("%s: training on %d of %d households (cap)", name, used.size, candidates.size)
    target_column = "is_poor" if task == "classifier" else "welfare_pre"
    training = frame.select(*spec.columns, target_column, weight)[used]
    features = to_model_input(training, spec)
    target = _target(training, task)
    weights = _normalised_weights(training, weight)
    if task == "classifier" and np.unique(target).size < 2:
        raise ValueError(f"{name}: the training households are all poor or all non-poor")
    pipeline = build_pipeline(
        name,
        spec,
        seed=seed,
        custom=custom,
        params=models.params.get(name),
        allowed_modules=allowed_modules,
    )
    pipeline.fit(features, target, **{f"{ESTIMATOR_STEP}__sample_weight": weights})
    sigma = None
    if task == "regressor":
        residual = target - pipeline.predict(features)
        sigma = max(float(np.sqrt(np.average(residual**2, weights=weights))), 1e-9)
    return PmtModel(
        name=name,
        task=task,
        spec=spec,
        pipeline=pipeline,
        weight_column=weight,
        n_train=int(used.size),
        training_sha256=training_data_sha256(features, target, weights),
        sigma=sigma,
    )
