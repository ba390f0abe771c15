"""Tests for models/: features, PSU folds, out-of-fold PMT scores, custom models, artifacts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_info, threadpool_limits

from models.artifacts import (
    ArtifactIntegrityError,
    SavedModel,
    file_sha256,
    fit_and_save,
    load_model,
)
from models.cv import PmtResult, cross_validate, make_folds
from models.features import FeatureSpec, feature_spec, to_model_input
from models.pmt import (
    build_pipeline,
    configured_models,
    fit_pmt,
    training_sample,
)
from transforms.config import AuditConfig, ConfigError, CustomModel, Targeting, parse_config
from transforms.targeting import unit_weight

SEED = 7
N_FOLDS = 5
PROXIES = {
    "rooms": {"column": "rooms"},
    "has_fridge": {"column": "fridge"},
    "land_ha": {"column": "land"},
    "wall": {"column": "wall", "kind": "categorical"},
}


def feature_spec_of(columns: Any, config: AuditConfig) -> FeatureSpec:
    """feature_spec with the config's proxies and feature list."""
    return feature_spec(
        columns, proxies=config.inputs.households.proxies, features=config.models.features
    )


def make_config(**models: Any) -> AuditConfig:
    """An audit config with the test proxies; ``models`` overrides the [models] section."""
    data = {
        "inputs": {
            "households": {
                "path": "hh.csv",
                "columns": {"hh_id": "id", "region": "reg", "hh_size": "n", "welfare": "y"},
                "proxies": PROXIES,
            }
        },
        "poverty_line": {"method": "relative_percentile", "percentile": 0.3},
        "models": models,
    }
    return parse_config(data, base_dir=Path.cwd(), source="test", check_files=False)


def synthetic_households(n_psu: int = 150, per_psu: int = 20, seed: int = 0) -> pl.DataFrame:
    """A household analysis frame whose welfare the proxies partly predict.

    Regions A-D hold most PSUs; region E holds only 3 (fewer than the folds). Log welfare is
    a linear function of the proxies plus a PSU effect and noise; the poverty line differs by
    region. Numeric and categorical proxies have some nulls.
    """
    rng = np.random.default_rng(seed)
    psu_region = np.array(["E"] * 3 + [("A", "B", "C", "D")[i % 4] for i in range(n_psu - 3)])
    n = n_psu * per_psu
    psu = np.repeat(np.arange(n_psu), per_psu)
    region = psu_region[psu]
    urban = rng.random(n) < np.where(np.isin(region, ["A", "B"]), 0.6, 0.3)
    rooms = rng.poisson(2.0, n) + 1.0
    fridge = rng.random(n) < 0.2 + 0.3 * urban
    land = rng.exponential(1.0, n)
    wall = rng.choice(np.array(["brick", "mud", "wood"]), n, p=[0.4, 0.4, 0.2])
    children = rng.poisson(1.2, n)
    elderly = rng.binomial(2, 0.15, n)
    working = rng.integers(1, 4, n)
    education = rng.integers(0, 16, n).astype(float)
    head_age = rng.integers(20, 80, n).astype(float)
    log_welfare = (
        8.0
        + 0.20 * rooms
        + 0.35 * fridge
        + 0.15 * np.log1p(land)
        + np.select([wall == "brick", wall == "mud"], [0.3, -0.2], 0.0)
        - 0.18 * children
        + 0.04 * education
        + 0.25 * urban
        + rng.normal(0.0, 0.15, n_psu)[psu]
        + rng.normal(0.0, 0.45, n)
    )
    welfare = np.exp(log_welfare)
    line_factor = {"A": 1.1, "B": 1.0, "C": 0.9, "D": 0.95, "E": 1.0}
    national_line = float(np.quantile(welfare, 0.3))
    poverty_line = national_line * np.array([line_factor[r] for r in region])
    hh_size = (children + elderly + working).astype(np.int64)
    weight = rng.uniform(50.0, 400.0, n_psu)[psu]
    return pl.DataFrame(
        {
            "hh_id": [f"H{i:06d}" for i in range(n)],
            "region": region,
            "urban": urban,
            "psu": [f"{region[i]}\u241fP{psu[i]:04d}" for i in range(n)],
            "strata": region,
            "weight": weight,
            "person_weight": weight * hh_size,
            "hh_size": hh_size,
            "welfare_pre": welfare,
            "poverty_line": poverty_line,
            "is_poor": welfare < poverty_line,
            "rooms": rooms,
            "has_fridge": fridge.astype(float),
            "land_ha": np.where(rng.random(n) < 0.05, np.nan, land),
            "wall": np.where(rng.random(n) < 0.03, None, wall),
            "n_members": hh_size,
            "n_children": children,
            "n_elderly": elderly,
            "n_working_age": working,
            "dependency_ratio": (children + elderly) / working,
            "head_age": head_age,
            "head_sex": rng.choice(np.array(["male", "female"]), n, p=[0.7, 0.3]),
            "head_education_years": np.where(rng.random(n) < 0.04, np.nan, education),
            "n_heads": np.ones(n, dtype=np.int64),
        },
    ).with_columns(pl.col("land_ha", "head_education_years").fill_nan(None))


@pytest.fixture(scope="module", autouse=True)
def one_openmp_thread() -> Iterator[None]:
    """HistGradientBoosting's OpenMP threads slow down 5-40x when other processes share the
    cores; one thread keeps this module well under a minute on a busy machine. (Scores are
    identical with two threads: checked by hand on 20,000 households.)"""
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def households() -> pl.DataFrame:
    return synthetic_households()


@pytest.fixture(scope="module")
def config() -> AuditConfig:
    return make_config()


@pytest.fixture(scope="module")
def spec(households: pl.DataFrame, config: AuditConfig) -> FeatureSpec:
    return feature_spec_of(households.schema, config)


@pytest.fixture(scope="module")
def results(
    households: pl.DataFrame, spec: FeatureSpec, config: AuditConfig
) -> dict[str, PmtResult]:
    """Out-of-fold results of the four built-in models (computed once for the module)."""
    return {
        name: cross_validate(
            households,
            name=name,
            spec=spec,
            models=config.models,
            weight=unit_weight(config.targeting.unit),
            seed=SEED,
        )
        for name in ("ols", "logit", "hgb", "rf")
    }


# --- features ------------------------------------------------------------------------------------


def test_default_features_are_proxies_member_aggregates_size_and_urban(
    spec: FeatureSpec,
) -> None:
    assert spec.numeric == (
        "rooms",
        "has_fridge",
        "land_ha",
        "n_members",
        "n_children",
        "n_elderly",
        "n_working_age",
        "dependency_ratio",
        "head_age",
        "head_education_years",
        "hh_size",
        "urban",
    )
    assert spec.categorical == ("wall", "head_sex")
    assert "n_heads" not in spec.columns


def test_region_effects_and_derived_proxies_join_the_default_features(
    households: pl.DataFrame, config: AuditConfig
) -> None:
    """Region fixed effects only when asked; a derived proxy by the kind of its dtype."""
    frame = households.with_columns((pl.col("rooms") ** 2).alias("rooms_sq"))
    spec = feature_spec(
        frame.schema,
        proxies=config.inputs.households.proxies,
        features=None,
        derived=["rooms_sq"],
        region_effects=True,
    )
    assert spec.categorical == ("wall", "head_sex", "region")
    assert "rooms_sq" in spec.numeric


def test_default_features_need_only_column_names(
    households: pl.DataFrame, spec: FeatureSpec, config: AuditConfig
) -> None:
    assert feature_spec_of(households.columns, config) == spec


def test_configured_feature_list_takes_kinds_from_dtypes(households: pl.DataFrame) -> None:
    spec = feature_spec_of(households.schema, make_config(features=["rooms", "urban", "head_sex"]))
    assert spec == FeatureSpec(numeric=("rooms", "urban"), categorical=("head_sex",))


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (["rooms", "welfare_pre"], r"models\.features: 'welfare_pre' cannot be a PMT feature"),
        (["rooms", "is_poor"], r"models\.features: 'is_poor' cannot be a PMT feature"),
        (["roms"], r"models\.features: 'roms' is not a column"),
    ],
)
def test_configured_feature_list_refuses_outcomes_and_unknown_columns(
    households: pl.DataFrame, features: list[str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        feature_spec_of(households.schema, make_config(features=features))


def test_missing_proxy_column_names_its_config_key(households: pl.DataFrame) -> None:
    with pytest.raises(ConfigError, match=r"inputs\.households\.proxies\.rooms"):
        feature_spec_of(households.drop("rooms").schema, make_config())


def test_model_input_turns_booleans_into_floats_and_nulls_into_nan_or_missing() -> None:
    frame = pl.DataFrame(
        {
            "urban": [True, False, None],
            "rooms": [2, None, 4],
            "ratio": [0.5, float("inf"), 1.0],
            "wall": ["mud", None, "brick"],
        }
    )
    spec = FeatureSpec(numeric=("urban", "rooms", "ratio"), categorical=("wall",))
    model_input = to_model_input(frame, spec)
    assert model_input.columns == ["urban", "rooms", "ratio", "wall"]
    assert model_input["urban"].to_list()[:2] == [1.0, 0.0]
    assert math.isnan(model_input["urban"][2])
    assert math.isnan(model_input["rooms"][1])
    assert math.isnan(model_input["ratio"][1])
    assert model_input["wall"].to_list() == ["mud", "missing", "brick"]


# --- folds ---------------------------------------------------------------------------------------


def test_every_household_gets_one_fold_and_no_psu_straddles_folds(
    households: pl.DataFrame,
) -> None:
    folds = make_folds(households, n_folds=N_FOLDS, seed=SEED)
    assert folds.shape == (households.height,)
    assert set(folds.tolist()) == set(range(N_FOLDS))
    per_psu = households.with_columns(fold=folds).group_by("psu").agg(pl.col("fold").n_unique())
    assert per_psu["fold"].max() == 1


def test_each_fold_holds_every_region_with_enough_psus(households: pl.DataFrame) -> None:
    folds = make_folds(households, n_folds=N_FOLDS, seed=SEED)
    with_folds = households.with_columns(fold=folds)
    psus_per_region = with_folds.group_by("region").agg(pl.col("psu").n_unique())
    large = set(psus_per_region.filter(pl.col("psu") >= N_FOLDS)["region"].to_list())
    small = set(psus_per_region.filter(pl.col("psu") < N_FOLDS)["region"].to_list())
    assert large == {"A", "B", "C", "D"}
    assert small == {"E"}
    for fold in range(N_FOLDS):
        regions = set(with_folds.filter(pl.col("fold") == fold)["region"].to_list())
        assert large <= regions
    # region E's 3 PSUs land in 3 different folds, never split
    assert with_folds.filter(pl.col("region") == "E")["fold"].n_unique() == 3


def test_folds_are_balanced_by_region(households: pl.DataFrame) -> None:
    folds = make_folds(households, n_folds=N_FOLDS, seed=SEED)
    counts = households.with_columns(fold=folds).group_by("region", "fold").len()
    spread = (
        counts.filter(pl.col("region") != "E")
        .group_by("region")
        .agg((pl.col("len").max() - pl.col("len").min()).alias("spread"))
    )
    assert spread["spread"].max() <= 20  # at most one PSU of 20 households apart


def test_folds_depend_only_on_the_seed(households: pl.DataFrame) -> None:
    first = make_folds(households, n_folds=N_FOLDS, seed=SEED)
    again = make_folds(households.sample(fraction=1.0, shuffle=True, seed=1), n_folds=5, seed=SEED)
    shuffled = households.sample(fraction=1.0, shuffle=True, seed=1)
    by_id = dict(zip(households["hh_id"].to_list(), first.tolist(), strict=True))
    assert [by_id[h] for h in shuffled["hh_id"].to_list()] == again.tolist()
    assert not np.array_equal(first, make_folds(households, n_folds=N_FOLDS, seed=SEED + 1))


def test_fewer_psus_than_folds_is_an_error() -> None:
    frame = pl.DataFrame({"psu": ["a", "a", "b", "c"], "region": ["R"] * 4})
    with pytest.raises(ValueError, match=r"models\.folds = 5 but the data have only 3"):
        make_folds(frame, n_folds=5, seed=SEED, balance=None)


# --- cross-validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ols", "logit", "hgb", "rf"])
def test_out_of_fold_scores_cover_every_household(
    results: dict[str, PmtResult], households: pl.DataFrame, name: str
) -> None:
    result = results[name]
    assert result.p_poor.shape == (households.height,)
    assert not np.isnan(result.p_poor).any()
    assert result.p_poor.min() >= 0.0
    assert result.p_poor.max() <= 1.0
    assert result.hh_id.to_list() == households["hh_id"].to_list()
    assert np.array_equal(result.fold, make_folds(households, n_folds=N_FOLDS, seed=SEED))


@pytest.mark.parametrize("name", ["ols", "logit", "hgb", "rf"])
def test_models_predict_poverty_out_of_sample(results: dict[str, PmtResult], name: str) -> None:
    assert 0.7 < results[name].auc < 0.99


@pytest.mark.parametrize("name", ["ols", "logit", "hgb", "rf"])
def test_auc_is_sklearn_weighted_auc_of_the_out_of_fold_scores(
    results: dict[str, PmtResult], households: pl.DataFrame, name: str
) -> None:
    result = results[name]
    poor = households["is_poor"].to_numpy()
    weights = households["person_weight"].to_numpy()
    assert result.auc == pytest.approx(
        roc_auc_score(poor, result.p_poor, sample_weight=weights), abs=1e-12
    )
    for fold, auc in enumerate(result.fold_auc):
        rows = result.fold == fold
        expected = roc_auc_score(poor[rows], result.p_poor[rows], sample_weight=weights[rows])
        assert auc == pytest.approx(expected, abs=1e-12)
    assert result.weight_column == "person_weight"


def test_ols_probability_crosses_one_half_where_predicted_welfare_crosses_the_line(
    results: dict[str, PmtResult], households: pl.DataFrame
) -> None:
    result = results["ols"]
    assert result.predicted_log_welfare is not None
    predicted_welfare = np.expm1(result.predicted_log_welfare)
    below_line = predicted_welfare < households["poverty_line"].to_numpy()
    assert np.array_equal(result.p_poor >= 0.5, below_line)
    assert 0 < below_line.sum() < households.height


def hand_fold_frame() -> pl.DataFrame:
    """PSUs A..E of 5, 4, 3, 2, 1 households in regions r1, r1, r2, r1, r2 (sizes distinct, so
    the seeded shuffle cannot change the largest-first order)."""
    psus = [("A", "r1", 5), ("B", "r1", 4), ("C", "r2", 3), ("D", "r1", 2), ("E", "r2", 1)]
    return pl.DataFrame(
        [(psu, region) for psu, region, size in psus for _ in range(size)],
        schema=["psu", "region"],
        orient="row",
    )


def test_the_fold_rule_by_region_alone_by_hand() -> None:
    """Two folds. A (r1) -> 0; B (r1): fold 0 has 5 of r1 -> 1; C (r2): no r2 anywhere, fold 1
    is smaller (4 < 5) -> 1; D (r1): r1 5 vs 4 -> 1; E (r2): r2 0 vs 3 -> 0."""
    frame = hand_fold_frame()
    folds = make_folds(frame, n_folds=2, seed=123, balance=None)
    by_psu = dict(zip(frame["psu"], folds.tolist(), strict=True))
    assert by_psu == {"A": 0, "B": 1, "C": 1, "D": 1, "E": 0}
    assert np.bincount(folds).tolist() == [6, 9]


def test_the_fold_rule_balances_the_poor_by_hand() -> None:
    """One region of 13 households, 8 poor, two folds. PSUs largest first: A (5, 1 poor) -> 0;
    B (4, 4 poor): load 5/13 + 1/8 = 0.51 in fold 0 against 0 -> 1; C (3, 3 poor): 0.51 in
    fold 0 against 4/13 + 4/8 = 0.81 -> 0 (by region alone it would go to the smaller fold 1);
    D (1, 0 poor): 8/13 + 4/8 = 1.12 against 0.81 -> 1. Each fold holds 4 poor households
    (by region alone: 1 and 7)."""
    psus = [("A", 5, 1), ("B", 4, 4), ("C", 3, 3), ("D", 1, 0)]
    frame = pl.DataFrame(
        [(psu, "r1", i < poor) for psu, size, poor in psus for i in range(size)],
        schema=["psu", "region", "is_poor"],
        orient="row",
    )
    folds = make_folds(frame, n_folds=2, seed=123)
    assert dict(zip(frame["psu"], folds.tolist(), strict=True)) == {"A": 0, "B": 1, "C": 0, "D": 1}
    poor = frame["is_poor"].to_numpy()
    assert [int(poor[folds == k].sum()) for k in (0, 1)] == [4, 4]
    by_region = make_folds(frame, n_folds=2, seed=123, balance=None)
    assert [int(poor[by_region == k].sum()) for k in (0, 1)] == [1, 7]


def test_the_fold_rule_is_not_scikit_learns_stratified_group_k_fold() -> None:
    """The name in cv_scheme says what the rule is. Three folds, one region, PSUs A..D of 4, 1,
    2, 3 households. Ours, largest first: A -> 0, D -> 1, C -> 2, then B to the fold with the
    fewest households of its region (2, in fold 2). scikit-learn's StratifiedGroupKFold puts
    B with D instead."""
    from sklearn.model_selection import StratifiedGroupKFold

    sizes = {"A": 4, "B": 1, "C": 2, "D": 3}
    frame = pl.DataFrame(
        [(psu, "r1") for psu, size in sizes.items() for _ in range(size)],
        schema=["psu", "region"],
        orient="row",
    )
    ours = make_folds(frame, n_folds=3, seed=123, balance=None)
    assert dict(zip(frame["psu"], ours.tolist(), strict=True)) == {"A": 0, "B": 2, "C": 2, "D": 1}
    theirs = np.empty(frame.height, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=3)
    for fold, (_, test) in enumerate(splitter.split(frame, frame["region"], frame["psu"])):
        theirs[test] = fold
    by_psu = dict(zip(frame["psu"], theirs.tolist(), strict=True))
    assert by_psu["B"] == by_psu["D"] != by_psu["C"]  # a partition ours never makes here


def test_cv_scheme_and_training_size_are_reported(results: dict[str, PmtResult]) -> None:
    result = results["logit"]
    assert result.cv_scheme == (
        "5-fold whole-psu folds balanced by region and poverty (greedy: largest psu first, to "
        "the fold with the smallest share of its region's households plus share of the poor "
        "households so far), seed 7, train cap 100000 "
        "(simple random sample without replacement, survey weights kept)"
    )
    assert result.n_train == round(3000 * (N_FOLDS - 1) / N_FOLDS)
    assert result.scores().columns == ["hh_id", "fold", "p_poor"]


@pytest.mark.parametrize("name", ["hgb", "rf"])
def test_same_seed_gives_identical_scores(
    results: dict[str, PmtResult],
    households: pl.DataFrame,
    spec: FeatureSpec,
    config: AuditConfig,
    name: str,
) -> None:
    again = cross_validate(
        households,
        name=name,
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
    )
    assert np.array_equal(again.p_poor, results[name].p_poor)
    assert again.auc == results[name].auc


def test_train_cap_is_respected_and_every_household_is_scored(
    households: pl.DataFrame, spec: FeatureSpec
) -> None:
    capped = make_config(max_train_rows=1000)
    result = cross_validate(
        households,
        name="logit",
        spec=spec,
        models=capped.models,
        weight=unit_weight(capped.targeting.unit),
        seed=SEED,
    )
    assert result.n_train == 1000
    assert result.p_poor.shape == (households.height,)
    assert not np.isnan(result.p_poor).any()
    assert "train cap 1000" in result.cv_scheme
    assert result.auc > 0.7


def test_training_sample_is_a_seeded_subset_without_replacement() -> None:
    rows = np.arange(10, 5010)
    sample = training_sample(rows, cap=1000, seed=3)
    assert sample.size == 1000
    assert np.unique(sample).size == 1000
    assert set(sample.tolist()) <= set(rows.tolist())
    assert np.array_equal(sample, training_sample(rows, cap=1000, seed=3))
    assert np.array_equal(training_sample(rows[:999], cap=1000, seed=3), rows[:999])


def test_household_unit_weights_by_households(households: pl.DataFrame, spec: FeatureSpec) -> None:
    by_household = make_config().model_copy(update={"targeting": Targeting(unit="households")})
    result = cross_validate(
        households,
        name="logit",
        spec=spec,
        models=by_household.models,
        weight=unit_weight(by_household.targeting.unit),
        seed=SEED,
    )
    assert result.weight_column == "weight"
    expected = roc_auc_score(
        households["is_poor"].to_numpy(), result.p_poor, sample_weight=households["weight"]
    )
    assert result.auc == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", ["ols", "rf"])
def test_scoring_in_batches_gives_the_same_scores(
    households: pl.DataFrame, spec: FeatureSpec, config: AuditConfig, name: str
) -> None:
    model = fit_pmt(
        households,
        name=name,
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
    )
    if name == "rf":  # a parallel estimator: batches go to threads, each predicting on one
        model.pipeline.named_steps["estimator"].set_params(n_jobs=2)
    whole_p, whole_welfare = model.score(households)
    batched_p, batched_welfare = model.score(households, chunk_rows=700)
    assert np.array_equal(whole_p, batched_p)
    if name == "ols":
        assert whole_welfare is not None
        assert np.array_equal(whole_welfare, batched_welfare)
    rows = np.array([2999, 5, 1000])
    assert np.array_equal(model.predict_p_poor(households, rows=rows), whole_p[rows])
    n_jobs = model.pipeline.named_steps["estimator"].get_params().get("n_jobs")
    assert n_jobs == (2 if name == "rf" else None)  # restored after single-threaded batches


# --- custom models -------------------------------------------------------------------------------


def test_custom_sklearn_classifier_by_import_path(
    households: pl.DataFrame, spec: FeatureSpec
) -> None:
    custom = {
        "extra": {
            "estimator": "sklearn.ensemble.ExtraTreesClassifier",
            "params": {"n_estimators": 100, "min_samples_leaf": 10, "n_jobs": 2},
        }
    }
    config = make_config(custom=custom)
    assert configured_models(config.models) == ("ols", "logit", "hgb", "rf", "extra")
    result = cross_validate(
        households,
        name="extra",
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
    )
    assert result.task == "classifier"
    assert 0.7 < result.auc < 0.99
    assert not np.isnan(result.p_poor).any()


def test_custom_regressor_predicts_log_welfare(households: pl.DataFrame, spec: FeatureSpec) -> None:
    custom = {"linear": {"estimator": "sklearn.linear_model.LinearRegression", "task": "regressor"}}
    config = make_config(custom=custom)
    result = cross_validate(
        households,
        name="linear",
        spec=spec,
        models=config.models,
        weight="person_weight",
        seed=SEED,
    )
    assert result.task == "regressor"
    assert result.predicted_log_welfare is not None
    assert 0.7 < result.auc < 0.99


@pytest.mark.parametrize(
    ("estimator", "task", "message"),
    [
        ("os.system", "classifier", r"models\.custom\.bad\.estimator: 'os\.system' is refused"),
        ("sklearn.utils.shuffle", "classifier", "not a scikit-learn estimator class"),
        ("sklearn.nowhere.Model", "classifier", r"cannot import module 'sklearn\.nowhere'"),
        ("sklearn.svm.LinearSVC", "classifier", r"models\.custom\.bad\.estimator: .*predict_proba"),
        ("sklearn.linear_model.Ridge", "classifier", r"models\.custom\.bad\.task"),
        ("__import__('os')", "classifier", "not a dotted import path"),
    ],
)
def test_custom_estimators_outside_sklearn_or_unusable_are_refused(
    spec: FeatureSpec, estimator: str, task: str, message: str
) -> None:
    custom = CustomModel.model_validate({"estimator": estimator, "task": task})
    with pytest.raises(ConfigError, match=message):
        build_pipeline("bad", spec, seed=SEED, custom=custom)


def test_custom_params_errors_name_the_params_key(spec: FeatureSpec) -> None:
    custom = CustomModel(estimator="sklearn.ensemble.ExtraTreesClassifier", params={"trees": 5})
    with pytest.raises(ConfigError, match=r"models\.custom\.bad\.params"):
        build_pipeline("bad", spec, seed=SEED, custom=custom)


def test_custom_model_may_not_shadow_a_builtin() -> None:
    config = make_config(custom={"rf": {"estimator": "sklearn.ensemble.ExtraTreesClassifier"}})
    with pytest.raises(ConfigError, match=r"models\.custom\.rf: the name clashes"):
        configured_models(config.models)


# --- artifacts -----------------------------------------------------------------------------------


def test_saved_model_round_trips_and_its_sidecar_vouches_for_it(
    households: pl.DataFrame,
    spec: FeatureSpec,
    config: AuditConfig,
    results: dict[str, PmtResult],
    tmp_path: Path,
) -> None:
    saved = fit_and_save(
        households,
        name="logit",
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
        directory=tmp_path,
        cv=results["logit"],
    )
    assert saved.path == tmp_path / "logit.joblib"
    assert saved.sha256 == file_sha256(saved.path)
    sidecar = json.loads(saved.sidecar.read_text())
    assert sidecar["artifact_sha256"] == saved.sha256
    assert sidecar["features"] == {
        "numeric": list(spec.numeric),
        "categorical": list(spec.categorical),
    }
    assert sidecar["cv"]["auc"] == pytest.approx(results["logit"].auc)
    assert sidecar["n_train"] == households.height
    assert set(sidecar["versions"]) >= {"python", "scikit-learn", "numpy", "polars"}
    refit = fit_pmt(
        households,
        name="logit",
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
    )
    assert sidecar["training_sha256"] == refit.training_sha256
    loaded = load_model(saved.path, expected_sha256=saved.sha256)
    assert np.array_equal(loaded.predict_p_poor(households), refit.predict_p_poor(households))


def test_saved_model_bytes_do_not_depend_on_jobs_or_threads(
    households: pl.DataFrame, spec: FeatureSpec, config: AuditConfig, tmp_path: Path
) -> None:
    """The published artifact hash is the same whether the model is fitted with one job and
    one BLAS thread, or two of each (as a lone model on the thread runner is), and whatever
    was fitted before in the process: with two joblib jobs the preprocessing used to be fitted
    in loky processes and came back unpickled, changing the bytes (not the values)."""
    from joblib import parallel_config

    def saved_hash(jobs: int, folder: str) -> str:
        with parallel_config(n_jobs=jobs), threadpool_limits(limits=jobs, user_api="blas"):
            return saved_ols(households, spec, config, tmp_path / folder).sha256

    hashes = [saved_hash(jobs, f"run{k}") for k, jobs in enumerate((2, 1, 2))]
    assert len(set(hashes)) == 1, hashes


def test_blas_stays_on_one_thread_until_the_last_holder_leaves() -> None:
    """Models training side by side in threads each hold the BLAS limit; the first to finish
    must not lift it for the others (plain threadpool_limits blocks, being process-wide,
    did), and the last restores the process's setting."""
    from contextlib import ExitStack

    from models.training import single_threaded_blas

    def blas_threads() -> set[int]:
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        first, second = ExitStack(), ExitStack()
        first.enter_context(single_threaded_blas())
        second.enter_context(single_threaded_blas())
        assert blas_threads() == {1}
        first.close()  # one model done, the other still fitting
        assert blas_threads() == {1}
        second.close()
        assert blas_threads() == {2}


def saved_ols(
    households: pl.DataFrame, spec: FeatureSpec, config: AuditConfig, directory: Path
) -> SavedModel:
    """The OLS model fitted on all households and saved into ``directory``."""
    return fit_and_save(
        households,
        name="ols",
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
        directory=directory,
    )


def test_tampered_or_unvouched_artifacts_are_refused(
    households: pl.DataFrame, spec: FeatureSpec, config: AuditConfig, tmp_path: Path
) -> None:
    saved = saved_ols(households, spec, config, tmp_path)
    with pytest.raises(ArtifactIntegrityError, match="is not the expected"):
        load_model(saved.path, expected_sha256="0" * 64)
    with saved.path.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactIntegrityError, match="does not match the sidecar"):
        load_model(saved.path)
    saved.sidecar.unlink()
    with pytest.raises(ArtifactIntegrityError, match="no sidecar"):
        load_model(saved.path)


def test_training_data_hash_changes_with_the_data(
    households: pl.DataFrame, spec: FeatureSpec, config: AuditConfig
) -> None:
    first = fit_pmt(
        households,
        name="ols",
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
    )
    again = fit_pmt(
        households,
        name="ols",
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
    )
    changed = households.with_columns(pl.col("rooms") + 1)
    other = fit_pmt(
        changed,
        name="ols",
        spec=spec,
        models=config.models,
        weight=unit_weight(config.targeting.unit),
        seed=SEED,
    )
    assert first.training_sha256 == again.training_sha256
    assert first.training_sha256 != other.training_sha256


def test_training_starts_with_the_slowest_models_and_custom_ones_first() -> None:
    """Longest-processing-time-first: unknown (custom) cost first, then by known cost."""
    from flows.pmt import longest_first

    assert longest_first(["logit", "ols", "mine", "rf", "hgb"]) == [
        "mine",
        "hgb",
        "rf",
        "ols",
        "logit",
    ]


def test_models_trained_side_by_side_share_one_training_frame(
    config: AuditConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The models trained in one process's threads read the training frame once and share it
    (memory: one copy per model at 10M households was about 2.5 GiB each); nothing is read
    until a model asks."""
    import threading

    from models import training

    reads: list[str] = []

    def read(data_path: str, features: object, config: object) -> pl.DataFrame:
        reads.append(data_path)
        return pl.DataFrame({"x": [1.0, 2.0]})

    monkeypatch.setattr(training, "model_features", lambda config, path: FeatureSpec(("x",), ()))
    monkeypatch.setattr(training, "training_frame", read)
    shared = training.SharedFrame("analysis.parquet", config)
    assert reads == []
    frames: list[pl.DataFrame] = []
    threads = [threading.Thread(target=lambda: frames.append(shared.get())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads == ["analysis.parquet"]
    assert len(frames) == 4 and all(frame is frames[0] for frame in frames)
