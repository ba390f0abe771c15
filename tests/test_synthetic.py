"""The synthetic survey: deterministic bytes, a realistic design and a detectable programme."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from transforms.config import load_config
from transforms.sample.files import open_table_writer, write_synthetic_survey, write_table
from transforms.sample.generator import NATIONAL_FLOOR, SurveyFormat

SAMPLE_HOUSEHOLDS = 20_000
DATA_FILES = ("households", "members", "regions", "projection")


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 20,000-household parquet survey with its frames, config path and truth."""
    out = tmp_path_factory.mktemp("survey")
    summary = write_synthetic_survey(
        out, households=SAMPLE_HOUSEHOLDS, seed=11, file_format="parquet", chunk_households=6_000
    )
    frames = {role: pl.read_parquet(summary.paths[role]) for role in DATA_FILES}
    truth = json.loads(summary.paths["truth"].read_text(encoding="utf-8"))
    return {"summary": summary, "truth": truth, **frames}


@pytest.fixture(scope="module")
def households(survey: dict[str, Any]) -> pl.DataFrame:
    """Households with regional line, person weight, pre-transfer welfare and poverty flag."""
    lines = survey["regions"].select("prov_code", "povline")
    return (
        survey["households"]
        .join(lines, on="prov_code")
        .with_columns(
            person_weight=pl.col("wt_hh") * pl.col("hhsize"),
            pre_transfer=pl.col("pcexp") - pl.col("prog_amt") / pl.col("hhsize"),
        )
        .with_columns(is_poor=(pl.col("pre_transfer") < pl.col("povline")).cast(pl.Int8))
    )


def weighted_rates(frame: pl.DataFrame) -> dict[str, float]:
    """Person-weighted poverty rate, coverage, inclusion and exclusion error."""
    w = frame["person_weight"].to_numpy()
    poor = frame["is_poor"].to_numpy()
    selected = frame["prog_recv"].to_numpy()
    return {
        "poverty_rate": float((w * poor).sum() / w.sum()),
        "coverage": float((w * selected).sum() / w.sum()),
        "inclusion_error": float((w * (1 - poor) * selected).sum() / (w * selected).sum()),
        "exclusion_error": float((w * poor * (1 - selected)).sum() / (w * poor).sum()),
    }


def write_small(
    out: Path, *, seed: int, file_format: SurveyFormat, households: int = 3_000, chunk: int = 1
) -> Path:
    """A small survey written in the smallest chunks (one ~10,000-household block each)."""
    write_synthetic_survey(
        out, households=households, seed=seed, file_format=file_format, chunk_households=chunk
    )
    return out


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_same_seed_gives_identical_bytes(tmp_path: Path, file_format: SurveyFormat) -> None:
    first = write_small(tmp_path / "a", seed=5, file_format=file_format)
    second = write_small(tmp_path / "b", seed=5, file_format=file_format)
    other = write_small(tmp_path / "c", seed=6, file_format=file_format)
    for name in [*(f"{role}.{file_format}" for role in DATA_FILES), "truth.json", "audit.toml"]:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    households = f"households.{file_format}"
    assert (first / households).read_bytes() != (other / households).read_bytes()


def test_values_do_not_depend_on_chunk_size(tmp_path: Path) -> None:
    three_chunks = write_small(tmp_path / "small", seed=5, file_format="csv", households=25_000)
    one_chunk = write_small(
        tmp_path / "whole", seed=5, file_format="csv", households=25_000, chunk=10**7
    )
    for role in ("households", "members"):
        assert (three_chunks / f"{role}.csv").read_bytes() == (
            one_chunk / f"{role}.csv"
        ).read_bytes()
    assert len(pl.read_csv(three_chunks / "households.csv")) == 25_000


def test_summary_counts_rows_written(survey: dict[str, Any]) -> None:
    rows = survey["summary"].rows
    assert rows["households"] == survey["households"].height == SAMPLE_HOUSEHOLDS
    assert rows["members"] == survey["members"].height
    assert rows["regions"] == 14
    assert rows["projection"] == 14 * 26 * 3


def test_raw_names_differ_from_canonical_and_ids_are_strings(survey: dict[str, Any]) -> None:
    hh, members = survey["households"], survey["members"]
    assert not {"hh_id", "region", "weight", "welfare", "hh_size"} & set(hh.columns)
    assert hh.schema["HHID"] == pl.String and members.schema["PID"] == pl.String
    assert hh["HHID"].is_unique().all()
    assert set(hh["area"].unique()) == {1, 2}
    assert set(members["gender"].unique()) == {1, 2}


def test_regional_poverty_rates_spread(households: pl.DataFrame) -> None:
    by_region = households.group_by("prov_code").agg(
        ((pl.col("person_weight") * pl.col("is_poor")).sum() / pl.col("person_weight").sum()).alias(
            "rate"
        )
    )
    rates = by_region["rate"]
    assert by_region.height >= 12
    assert rates.min() < 0.10 and rates.max() > 0.35  # type: ignore[operator]


def test_design_psus_nest_in_strata_and_weights_vary(households: pl.DataFrame) -> None:
    strata_per_psu = households.group_by("ea_id").agg(pl.col("strat_id").n_unique())
    assert strata_per_psu["strat_id"].max() == 1
    takes = households.group_by("ea_id").len()["len"]
    assert 14 <= takes.median() <= 26  # type: ignore[operator]
    assert households.select(pl.struct("prov_code", "area").n_unique()).item() == (
        households["strat_id"].n_unique()
    )
    weights = households["wt_hh"]
    assert weights.min() > 0  # type: ignore[operator]
    assert weights.std() / weights.mean() > 0.1  # type: ignore[operator]


def test_members_match_households(survey: dict[str, Any], households: pl.DataFrame) -> None:
    per_household = (
        survey["members"]
        .group_by("HHID")
        .agg(pl.len().alias("members"), (pl.col("rel_head") == 1).sum().alias("heads"))
    )
    joined = households.join(per_household, on="HHID", how="left")
    assert joined["members"].null_count() == 0
    assert (joined["members"] == joined["hhsize"]).all()
    assert (joined["heads"] == 1).all()
    sizes = households.group_by("area").agg(pl.col("hhsize").mean())
    urban, rural = (sizes.filter(pl.col("area") == a)["hhsize"].item() for a in (1, 2))
    assert 3.2 <= households["hhsize"].mean() <= 3.7  # type: ignore[operator]
    assert rural > urban
    assert households["hhsize"].min() >= 1 and households["hhsize"].max() <= 12  # type: ignore[operator]


def test_ages_are_consistent_with_relationships(survey: dict[str, Any]) -> None:
    members = survey["members"]
    heads = members.filter(pl.col("rel_head") == 1).select("HHID", head_age="age_yrs")
    people = members.join(heads, on="HHID")
    assert people.filter(pl.col("rel_head") == 1)["age_yrs"].min() >= 18
    children = people.filter(pl.col("rel_head") == 3)
    parents = people.filter(pl.col("rel_head") == 4)
    assert (children["head_age"] - children["age_yrs"]).min() >= 15
    assert (parents["age_yrs"] - parents["head_age"]).min() >= 15
    assert members.filter(pl.col("age_yrs") < 15)["work"].sum() == 0
    assert members["age_yrs"].max() <= 100


def test_programme_is_mistargeted_like_real_ones(
    survey: dict[str, Any], households: pl.DataFrame
) -> None:
    rates = weighted_rates(households)
    assert 0.30 <= rates["inclusion_error"] <= 0.70
    assert 0.30 <= rates["exclusion_error"] <= 0.70
    assert 0.10 <= rates["coverage"] <= 0.20
    assert 0.12 <= rates["poverty_rate"] <= 0.30
    for name, value in rates.items():
        assert survey["truth"]["sample"][name] == pytest.approx(value, rel=1e-9), name


def test_benefit_is_a_top_up_bounded_by_the_standard(
    survey: dict[str, Any], households: pl.DataFrame
) -> None:
    standards = survey["regions"].select("prov_code", "dibao_std")
    paid = households.join(standards, on="prov_code").filter(pl.col("prog_recv") == 1)
    assert (paid["prog_amt"] > 0).all()
    assert (paid["prog_amt"] <= paid["hhsize"] * paid["dibao_std"] + 6).all()
    assert (households.filter(pl.col("prog_recv") == 0)["prog_amt"] == 0).all()


def test_config_validates_and_maps_raw_names(survey: dict[str, Any]) -> None:
    config = load_config(survey["summary"].paths["config"])
    households = config.inputs.households
    assert households.columns.hh_id == "HHID" and households.columns.urban == "area"
    assert households.booleans["urban"].false[0] == 2
    assert households.proxies["roof"].kind == "categorical"
    assert len(households.proxies) == 13
    assert config.programmes[0].included_in_welfare is True
    assert [p.name for p in config.programmes] == ["dibao", "child_grant", "social_pension"]
    assert [line.method for line in config.poverty_lines] == ["regional", "relative_median"]
    assert config.inputs.members is not None and config.inputs.members.columns.is_head == "rel_head"
    assert config.output.warehouse.parent == survey["summary"].paths["config"].parent


def test_misset_standards_are_detectable(survey: dict[str, Any]) -> None:
    regions = survey["regions"].with_columns(
        ratio=pl.col("dibao_std") / (NATIONAL_FLOOR * pl.col("cpi_spatial"))
    )
    truth = survey["truth"]
    low, high = set(truth["standards_too_low"]), set(truth["standards_too_high"])
    assert 2 <= len(low) <= 3 and 1 <= len(high) <= 2
    for code, ratio in regions.select("prov_code", "ratio").iter_rows():
        if code in low:
            assert 0.60 <= ratio <= 0.80, code
        elif code in high:
            assert 1.20 <= ratio <= 1.30, code
        else:
            assert abs(ratio - 1) <= 0.05, code
    lines = regions["povline"] / regions["cpi_spatial"]
    assert np.allclose(lines.to_numpy(), truth["national_poverty_line"])


def test_projection_ages(survey: dict[str, Any]) -> None:
    projection = survey["projection"]
    assert set(projection["agegrp"].unique()) == {"0-14", "15-64", "65+"}
    by_year = projection.group_by("yr").agg(
        (
            pl.col("pop").filter(pl.col("agegrp") == "65+").sum()
            / pl.col("pop").filter(pl.col("agegrp") == "15-64").sum()
        ).alias("ratio")
    )
    ratios = by_year.sort("yr")["ratio"]
    assert by_year["yr"].min() == 2025 and by_year["yr"].max() == 2050
    assert ratios[-1] > 1.5 * ratios[0]


def test_dta_keeps_value_labels(tmp_path: Path) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    write_synthetic_survey(tmp_path, households=1_500, seed=3, file_format="dta")
    frame, meta = pyreadstat.read_dta(str(tmp_path / "members.dta"))
    assert meta.variable_value_labels["gender"] == {1: "male", 2: "female"}
    assert len(frame) == json.loads((tmp_path / "truth.json").read_text())["rows"]["members"]
    assert load_config(tmp_path / "audit.toml").inputs.regions is not None


def test_proxy_means_test_reaches_realistic_auc(
    survey: dict[str, Any], households: pl.DataFrame
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    head = pl.col("rel_head") == 1
    aggregates = (
        survey["members"]
        .group_by("HHID")
        .agg(
            n_children=(pl.col("age_yrs") < 15).sum(),
            n_elderly=(pl.col("age_yrs") >= 65).sum(),
            n_disabled=(pl.col("disab") == 1).sum(),
            n_working=(pl.col("work") == 1).sum(),
            head_age=pl.col("age_yrs").filter(head).first(),
            head_female=(pl.col("gender").filter(head).first() == 2).cast(pl.Int8),
            head_education=pl.col("educ_yrs").filter(head).first(),
        )
    )
    data = households.join(aggregates, on="HHID").sort("HHID")
    categorical = ["q_roof", "q_floor", "q_wall", "q_water", "q_toilet", "prov_code"]
    numeric = [c for c in data.columns if c.startswith("q_") and c not in categorical]
    numeric += [*aggregates.columns[1:], "hhsize", "area"]
    features = data.select(*numeric, *categorical).to_dummies(categorical, drop_first=True)
    x = features.cast(pl.Float64).to_numpy()
    y, w = data["is_poor"].to_numpy(), data["person_weight"].to_numpy()
    scores = np.zeros(y.size)
    for train, test in GroupKFold(5).split(x, y, groups=data["ea_id"].to_numpy()):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        model.fit(x[train], y[train], logisticregression__sample_weight=w[train])
        scores[test] = model.predict_proba(x[test])[:, 1]
    auc = roc_auc_score(y, scores, sample_weight=w)
    print(f"out-of-sample weighted AUC {auc:.3f}")
    assert 0.72 <= auc <= 0.88


def test_writer_deletes_partial_file_on_error(tmp_path: Path) -> None:
    path = tmp_path / "partial.parquet"
    with pytest.raises(RuntimeError), open_table_writer(path, "parquet") as writer:
        writer.write(pl.DataFrame({"HHID": ["a", "b"], "hhsize": [1, 2]}))
        raise RuntimeError("generation failed half-way")
    assert not path.exists()
    assert write_table(pl.DataFrame({"x": [1, 2, 3]}), tmp_path / "whole.csv", "csv") == 3
    assert (tmp_path / "whole.csv").read_text() == "x\n1\n2\n3\n"


def test_committed_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    """data/sample is reproducible: `make sample` rewrites the same bytes."""
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    write_synthetic_survey(
        tmp_path,
        households=20_000,
        seed=20261127,
        file_format="parquet",
        output={"warehouse": "../welfare_audit.duckdb", "directory": "../output"},
    )
    for name in (
        "households.parquet",
        "members.parquet",
        "regions.parquet",
        "projection.parquet",
        "audit.toml",
        "truth.json",
    ):
        assert (tmp_path / name).read_bytes() == (sample / name).read_bytes(), name
