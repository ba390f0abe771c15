"""Which household columns a proxy-means test may use, and how they reach the estimators.

A PMT predicts poverty from observable, verifiable characteristics. The default feature set
is every configured proxy (by its configured kind), the member aggregates present in the
household analysis frame (``transforms.household.MEMBER_FEATURES`` without ``n_heads``, which
is a data-quality count; ``head_sex`` is a category), ``region`` (category) and ``urban``
(0/1) when present. ``models.features`` in the configuration replaces that list; kinds are
then read from the column dtypes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import polars as pl

from transforms.config import ConfigError, ProxySpec
from transforms.household import MEMBER_FEATURES

MISSING_LEVEL = "missing"
"""Category level that stands for a null in a categorical feature."""

EXCLUDED_MEMBER_FEATURES = frozenset({"n_heads"})
CATEGORICAL_MEMBER_FEATURES = frozenset({"head_sex"})

NOT_FEATURES = frozenset(
    {
        "hh_id",
        "psu",
        "weight",
        "person_weight",
        "welfare",
        "welfare_pre",
        "welfare_post",
        "poverty_line",
        "is_poor",
        "quintile",
        "in_bottom_40",
        "benefit",
        "benefit_amount",
        "receives_benefit",
    }
)
"""Identifiers, design weights, the outcome and anything derived from it or from the programme."""


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
        if name in NOT_FEATURES:
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
) -> FeatureSpec:
    """The PMT features of an audit, given the analysis frame's schema (``frame.schema``).

    Default: configured proxies by kind, member aggregates present (not ``n_heads``;
    ``head_sex`` categorical), ``hh_size``, ``region`` categorical, ``urban`` 0/1 if present.
    ``features`` (models.features), when set, replaces the default; its kinds come from the
    dtypes, so ``frame_columns`` must then be a schema, not just column names. ``proxies`` are
    the household file's (inputs.households.proxies).
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
    for name in MEMBER_FEATURES:
        if name in frame_columns and name not in EXCLUDED_MEMBER_FEATURES:
            kinds.setdefault(
                name, "categorical" if name in CATEGORICAL_MEMBER_FEATURES else "numeric"
            )
    kinds.setdefault("hh_size", "numeric")  # observable and usually the strongest proxy
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
