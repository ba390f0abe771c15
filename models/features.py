"""Which household columns a proxy-means test may use, and how they reach the estimators.

A PMT predicts poverty from observable, verifiable characteristics. The default feature set
is every configured proxy (by its configured kind), the member aggregates present in the
household analysis frame (``transforms.config.MEMBER_FEATURES`` without ``n_heads``, which
is a data-quality count; ``head_sex`` is a category), ``hh_size``, ``urban`` (0/1) when
present, the derived proxies, and ``region`` (category) only when ``models.region_effects``.
``models.features`` in the configuration replaces that list; kinds are then read from the
column dtypes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from transforms.config import (
    MEMBER_FEATURES,
    OUTCOME_COLUMNS,
    OUTCOME_PREFIXES,
    ConfigError,
    ProxySpec,
)

MISSING_LEVEL = "missing"
"""Category level that stands for a null in a categorical feature."""

EXCLUDED_MEMBER_FEATURES = frozenset({"n_heads"})
CATEGORICAL_MEMBER_FEATURES = frozenset({"head_sex"})

NOT_FEATURES = OUTCOME_COLUMNS | {"hh_id", "psu", "weight", "person_weight", "strata", "fpc"}
"""Identifiers, design weights, the outcome and anything derived from it or from the programme."""
DERIVED_PREFIXES = OUTCOME_PREFIXES
"""Per-line and per-programme analysis columns: outcomes and programmes, never features."""


@dataclass(frozen=True)
class FeatureSpec:
    """The model's input columns, split by how they are encoded."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]

    def __post_init__(self) -> None:
        overlap = set(self.numeric) & set(self.categorical)
        if overlap:
            raise ValueError(f"features listed as both numeric and categorical: {sorted(overlap)}")
        if not self.numeric and not self.categorical:
            raise ValueError("a proxy-means test needs at least one feature")

    @property
    def columns(self) -> tuple[str, ...]:
        """All feature columns, numeric first (the order of the model input)."""
        return self.numeric + self.categorical


def _kind_from_dtype(name: str, dtype: pl.DataType) -> str:
    """numeric for numbers and booleans, categorical for strings and categories."""
    if dtype.is_numeric() or dtype == pl.Boolean:
        return "numeric"
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "categorical"
    raise ConfigError(
        f"models.features: column '{name}' has dtype {dtype}; "
        "a feature must be numeric, boolean or a string category"
    )


def _from_config_list(features: list[str], frame_columns: Mapping[str, pl.DataType]) -> FeatureSpec:
    """Kinds of an explicit feature list, inferred from the frame's dtypes."""
    numeric: list[str] = []
    categorical: list[str] = []
    for name in dict.fromkeys(features):
        if name in NOT_FEATURES or name.startswith(DERIVED_PREFIXES):
            raise ConfigError(
                f"models.features: '{name}' cannot be a PMT feature "
                "(identifier, design weight, welfare/poverty outcome or programme receipt)"
            )
        if name not in frame_columns:
            raise ConfigError(
                f"models.features: '{name}' is not a column of the household analysis frame"
            )
        kind = _kind_from_dtype(name, frame_columns[name])
        (numeric if kind == "numeric" else categorical).append(name)
    return FeatureSpec(numeric=tuple(numeric), categorical=tuple(categorical))


def feature_spec(
    frame_columns: Mapping[str, pl.DataType] | Collection[str],
    *,
    proxies: Mapping[str, ProxySpec],
    features: list[str] | None,
    derived: Sequence[str] = (),
    region_effects: bool = False,
) -> FeatureSpec:
    """The PMT features of an audit, given the analysis frame's schema (``frame.schema``).

    Default: configured proxies by kind, derived proxies (kind from dtype), member aggregates
    and head characteristics present (not ``n_heads``; ``head_sex`` categorical), ``hh_size``,
    ``urban`` 0/1 if present, and ``region`` (categorical) only with ``region_effects``.
    ``features`` (models.features), when set, replaces the default; its kinds come from the
    dtypes, so ``frame_columns`` must then be a schema, not just column names. ``proxies`` are
    the household file's (inputs.households.proxies), ``derived`` the names of its derived
    proxies.
    """
    if features is not None:
        if not isinstance(frame_columns, Mapping):
            raise TypeError("models.features is set: pass frame.schema so kinds come from dtypes")
        return _from_config_list(features, frame_columns)
    kinds: dict[str, str] = {}
    for name, proxy in proxies.items():
        if name not in frame_columns:
            raise ConfigError(
                f"inputs.households.proxies.{name}: no column '{name}' in the analysis frame"
            )
        kinds[name] = proxy.kind
    for name in derived:
        if not isinstance(frame_columns, Mapping) or name not in frame_columns:
            raise ConfigError(f"inputs.households.derived.{name}: not in the analysis frame")
        kinds[name] = _kind_from_dtype(name, frame_columns[name])
    for name in MEMBER_FEATURES:
        if name in frame_columns and name not in EXCLUDED_MEMBER_FEATURES:
            kinds.setdefault(
                name, "categorical" if name in CATEGORICAL_MEMBER_FEATURES else "numeric"
            )
    kinds.setdefault("hh_size", "numeric")  # observable and usually the strongest proxy
    if region_effects:
        kinds.setdefault("region", "categorical")
    if "urban" in frame_columns:
        kinds.setdefault("urban", "numeric")
    return FeatureSpec(
        numeric=tuple(name for name, kind in kinds.items() if kind == "numeric"),
        categorical=tuple(name for name, kind in kinds.items() if kind == "categorical"),
    )


def to_model_input(frame: pl.DataFrame, spec: FeatureSpec) -> pl.DataFrame:
    """The feature columns as the pipelines expect them, in ``spec.columns`` order.

    Numeric features (booleans included) become Float64 with NaN for null or non-finite
    values (imputed inside the pipeline); categorical features become strings with nulls
    as the level ``"missing"``.
    """
    numeric = [
        pl.when(pl.col(name).cast(pl.Float64).is_finite())
        .then(pl.col(name).cast(pl.Float64))
        .otherwise(float("nan"))
        .alias(name)
        for name in spec.numeric
    ]
    categorical = [
        pl.col(name).cast(pl.String).fill_null(MISSING_LEVEL).alias(name)
        for name in spec.categorical
    ]
    return frame.select(*numeric, *categorical)


HIGH_CARDINALITY = 50
"""A categorical feature with more levels than this gets a warning: most levels are seen in
few households, and a level missing from a training fold adds nothing for its test rows."""


def high_cardinality(
    frame: pl.DataFrame, spec: FeatureSpec, *, limit: int = HIGH_CARDINALITY
) -> list[str]:
    """A warning for each categorical feature with more than ``limit`` levels."""
    notes = []
    for name in spec.categorical:
        levels = frame[name].n_unique()
        if levels > limit:
            notes.append(
                f"feature {name!r} has {levels:,} categories (one dummy each, many seen in few "
                "households): consider dropping it or grouping its levels (models.features, "
                "inputs.households.derived)"
            )
    return notes


def best_single_predictors(
    frame: pl.DataFrame, spec: FeatureSpec, *, weight: str, top: int = 3
) -> list[tuple[str, float]]:
    """The features that predict poverty best on their own: weighted ROC AUC of each feature
    against is_poor (a numeric feature by its value, either direction; a categorical one by
    its categories' poverty rates), highest first."""
    from sklearn.metrics import roc_auc_score

    target = frame["is_poor"].cast(pl.Int8).to_numpy()
    weights = frame[weight].cast(pl.Float64).to_numpy()
    if np.unique(target).size < 2:
        return []
    model_input = to_model_input(frame, spec)
    found = []
    for name in spec.columns:
        if name in spec.categorical:
            score = (
                pl.DataFrame({"level": model_input[name], "poor": target})
                .with_columns(pl.col("poor").cast(pl.Float64).mean().over("level").alias("score"))[
                    "score"
                ]
                .to_numpy()
            )
        else:
            values = model_input[name].to_numpy()
            score = np.where(np.isnan(values), np.nanmedian(values), values)
        if np.unique(score).size < 2:
            continue
        auc = float(roc_auc_score(target, score, sample_weight=weights))
        found.append((name, max(auc, 1.0 - auc)))
    return sorted(found, key=lambda item: -item[1])[:top]
