"""The extension points of docs/extending.md, each exercised as its worked example.

- a pre-processing hook (docs/examples/welfare_from_expenditure.py) deriving welfare;
- a custom scikit-learn model declared in the config (ExtraTreesClassifier);
- an indicator declared in one place (transforms.indicators), computed by group with SEs,
  published and catalogued;
- an extra flow stage declared in the config (docs/examples/extra_stage.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from transforms import indicators
from transforms.catalogue import indicators_of
from transforms.config import ConfigError, load_config
from transforms.contract import data_dictionary_markdown
from transforms.io.hooks import apply_hooks, load_hook, load_user_code
from transforms.io.ingest import ingest_households
from transforms.io.readers import read_raw
from transforms.io.warehouse import connect
from transforms.raw import IngestError
from transforms.sample.files import write_synthetic_survey

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
HOOK = "welfare_from_expenditure.py:welfare_from_expenditure"
WITHOUT_MODULES = 3  # households whose expenditure rows are missing


def split_into_modules(survey: Path) -> pl.DataFrame:
    """Replace pcexp by item-level modules (food over 7 days, non-food over 30) and copy the
    example hook next to the files; returns the original households."""
    households = pl.read_parquet(survey / "households.parquet")
    total = households["pcexp"] * households["hhsize"]
    food = households.select(
        "HHID",
        pl.lit("food").alias("item"),
        (total * 0.6 * 7 / 365).alias("amount"),
        pl.lit(7.0).alias("recall_days"),
    )
    non_food = households.select(
        "HHID",
        pl.lit("non-food").alias("item"),
        (total * 0.4 * 30 / 365).alias("amount"),
        pl.lit(30.0).alias("recall_days"),
    )
    modules = pl.concat([food, non_food]).filter(
        ~pl.col("HHID").is_in(households["HHID"].head(WITHOUT_MODULES).implode())
    )
    modules.write_parquet(survey / "expenditure.parquet")
    households.drop("pcexp").write_parquet(survey / "households.parquet")
    (survey / "welfare_from_expenditure.py").write_text(
        (EXAMPLES / "welfare_from_expenditure.py").read_text()
    )
    config = survey / "audit.toml"
    text = config.read_text()
    text = text.replace('welfare = "pcexp"', 'welfare = "consumption_pc_annual"')
    text = text.replace(
        'path = "households.parquet"\n',
        f'path = "households.parquet"\npreprocess = ["{HOOK}"]\n',
        1,
    )
    config.write_text(text)
    return households


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    out = tmp_path_factory.mktemp("extensions")
    write_synthetic_survey(out, households=1200, seed=21, file_format="parquet")
    return out, split_into_modules(out)


def test_the_hook_derives_welfare_and_keeps_every_row(
    survey: tuple[Path, pl.DataFrame], tmp_path: Path
) -> None:
    folder, original = survey
    config = load_config(folder / "audit.toml")
    spec = config.inputs.households
    assert spec.preprocess == [f"{folder / 'welfare_from_expenditure.py'}:welfare_from_expenditure"]
    raw = apply_hooks(read_raw(spec, tmp_path), load_user_code(config).hooks_for("households"))
    checked = ingest_households(raw, spec, known_regions=None, work_dir=tmp_path / "ingest")
    assert checked.rows_read == original.height
    assert checked.rows_quarantined == WITHOUT_MODULES
    assert set(checked.read_quarantine()["reason"]) == {"missing value (required)"}
    derived = (
        checked.read_loaded()
        .select("hh_id", "welfare")
        .join(original.select(pl.col("HHID").cast(pl.String).alias("hh_id"), "pcexp"), on="hh_id")
    )
    assert derived.height == original.height - WITHOUT_MODULES
    assert np.allclose(derived["welfare"], derived["pcexp"], rtol=1e-12)


def test_a_hook_that_drops_rows_is_refused(tmp_path: Path) -> None:
    write_synthetic_survey(tmp_path, households=200, seed=2, file_format="parquet")
    (tmp_path / "dropper.py").write_text(
        "import polars as pl\n\n\ndef drop(frame, context):\n"
        "    return frame.filter(pl.col('hhsize') > 1)\n"
    )
    config = load_config(tmp_path / "audit.toml")
    raw = read_raw(config.inputs.households, tmp_path)
    with pytest.raises(IngestError, match=r"dropper\.py:drop' changed the rows \(200 in"):
        reference = f"{tmp_path / 'dropper.py'}:drop"
        apply_hooks(raw, [(reference, load_hook(reference))])


def test_a_missing_hook_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    write_synthetic_survey(tmp_path, households=200, seed=2, file_format="parquet")
    config = tmp_path / "audit.toml"
    config.write_text(
        config.read_text().replace(
            'path = "households.parquet"\n',
            'path = "households.parquet"\npreprocess = ["nowhere.py:derive"]\n',
            1,
        )
    )
    with pytest.raises(ConfigError, match=r"inputs\.households\.preprocess.*no file"):
        load_config(config)


def test_a_hook_that_cannot_be_imported_is_a_config_error_at_run_start(tmp_path: Path) -> None:
    """References are checked for syntax when the config loads; user code is imported once,
    when a run starts, and a failure names the key."""
    write_synthetic_survey(tmp_path, households=200, seed=2, file_format="parquet")
    (tmp_path / "broken.py").write_text("import no_such_module_anywhere\n")
    config = tmp_path / "audit.toml"
    config.write_text(
        config.read_text().replace(
            'path = "households.parquet"\n',
            'path = "households.parquet"\npreprocess = ["broken.py:derive"]\n',
            1,
        )
    )
    loaded = load_config(config)  # syntax and file are fine; nothing imported yet
    with pytest.raises(ConfigError, match=r"inputs\.households\.preprocess\[0\].*cannot import"):
        load_user_code(loaded)


FEMALE_HEADED = indicators.RatioIndicator(
    name="coverage_female_headed",
    unit="fraction",
    label="Coverage of people in female-headed households",
    definition="Share of people in female-headed households living in a beneficiary "
    "household: Σ d·B·F / Σ d·F, F head_sex = female.",
    source="test (docs/extending.md example)",
    numerator=pl.col("receives_benefit").fill_null(False).cast(pl.Float64)
    * (pl.col("head_sex") == "female").fill_null(False).cast(pl.Float64),
    denominator=(pl.col("head_sex") == "female").fill_null(False).cast(pl.Float64),
    requires=("receives_benefit", "head_sex"),
)


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_runs_every_extension(
    survey: tuple[Path, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One audit with the hook, a custom model, a new indicator and an extra stage."""
    from flows.audit import audit

    folder, _ = survey
    (folder / "extra_stage.py").write_text((EXAMPLES / "extra_stage.py").read_text())
    config = folder / "audit.toml"
    text = config.read_text().replace(
        'enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit"]'
    )
    config.write_text(
        text
        + "\n[models.custom.extra_trees]\n"
        + 'estimator = "sklearn.ensemble.ExtraTreesClassifier"\n'
        + "params = { n_estimators = 30, min_samples_leaf = 10 }\n"
        + '\n[extensions]\nstages = ["extra_stage.py:benefit_concentration"]\n'
    )
    # the one place a new indicator is declared
    monkeypatch.setattr(
        indicators, "DECLARED_INDICATORS", (*indicators.DECLARED_INDICATORS, FEMALE_HEADED)
    )
    result = audit(str(config), None)

    with connect(folder / "welfare_audit.duckdb", read_only=True) as con:
        metrics = con.sql("SELECT * FROM audit.latest_model_metrics").pl()
        errors = con.sql("SELECT * FROM audit.latest_targeting_errors").pl()
        matching = con.sql(
            "SELECT * FROM audit.latest_matching_indicators "
            "WHERE indicator = 'coverage_female_headed'"
        ).pl()
        notes = con.sql("SELECT stage, note FROM audit.latest_run_notes").pl()
        files = con.sql("SELECT * FROM audit.input_files").pl()
    assert result["households"] == 1200 - WITHOUT_MODULES
    assert files.filter(pl.col("role") == "households")["rows_quarantined"].item() == 3

    assert set(metrics["model"]) == {"logit", "extra_trees"}  # evaluated like a built-in
    extra = errors.filter(pl.col("method") == "pmt:extra_trees")
    assert set(extra["group_type"]) >= {"all", "region", "quintile"}
    assert (extra.filter(pl.col("group_type") == "all")["exclusion_error_se"] > 0).all()

    assert set(matching["group_type"]) == {"all", "quintile", "quintile_post", "region", "urban"}
    shown = matching.filter(~pl.col("suppressed"))
    assert (shown["se"] >= 0).all() and (shown["se"] > 0).sum() > shown.height // 2
    assert ((shown["ci_low"] <= shown["value"]) & (shown["value"] <= shown["ci_high"])).all()
    assert (shown["unit"] == "fraction").all()
    assert "coverage_female_headed" in {i.name for i in indicators_of("matching_indicators")}
    assert "`coverage_female_headed`" in data_dictionary_markdown()

    stage_notes = notes.filter(pl.col("stage") == "extension")["note"].to_list()
    programmes = [p.name for p in load_config(config).programmes]
    assert len(stage_notes) == len(programmes) == 3  # one note per programme
    for name, note in zip(programmes, stage_notes, strict=True):
        assert f"benefit concentration, {name}: the richest tenth" in note
