"""The audit flow end to end on generated data, into a temporary warehouse."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import polars as pl
import pytest

from models import cache
from tests import raw_identifiers
from transforms.config import load_config
from transforms.io.warehouse import connect
from transforms.sample.files import write_synthetic_survey

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3,000-household generated survey with its config."""
    out = tmp_path_factory.mktemp("survey")
    write_synthetic_survey(out, households=3000, seed=11, file_format="parquet")
    return out


def run_audit(config: Path, warehouse: Path) -> dict[str, object]:
    from flows.audit import audit

    return audit(str(config), str(warehouse))


@pytest.fixture(scope="module")
def audited(
    survey: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, object]]:
    """One audit of the survey, shared by the tests that only read what it published (a
    test that runs the flow differently runs its own)."""
    warehouse = tmp_path_factory.mktemp("audited") / "welfare_audit.duckdb"
    return warehouse, run_audit(survey / "audit.toml", warehouse)


def test_run_publishes_a_succeeded_run_with_conserved_rows(
    audited: tuple[Path, dict[str, object]],
) -> None:
    warehouse, result = audited
    assert warehouse.exists()
    assert not list(warehouse.parent.glob(".welfare_audit.duckdb.*.work"))  # nothing left aside
    with connect(warehouse, read_only=True) as con:
        runs = con.sql("SELECT * FROM audit.runs").pl()
        files = con.sql("SELECT * FROM audit.input_files").pl()
        targeting = con.sql("SELECT * FROM audit.latest_targeting_errors").pl()
        validation = con.sql("SELECT * FROM audit.validation_results").pl()
    assert runs["status"].to_list() == ["succeeded"]
    assert runs["run_id"].item() == result["run_id"]
    run = runs.row(0, named=True)
    assert run["rows_read"] == run["rows_loaded"] + run["rows_quarantined"]
    assert set(files["role"]) == {"households", "members", "regions", "projection"}
    assert (files["rows_read"] == files["rows_loaded"] + files["rows_quarantined"]).all()
    assert files.filter(pl.col("role") == "households")["rows_read"].item() == 3000
    assert all(len(h) == 64 for h in files["sha256"])
    national = targeting.filter(
        (pl.col("method") == "program") & (pl.col("group_type") == "all")
    ).row(0, named=True)
    for rate in ("coverage", "exclusion_error", "inclusion_error"):
        assert 0 < national[rate] < 1
        assert national[f"{rate}_ci_low"] < national[rate] < national[f"{rate}_ci_high"]
        assert national[f"{rate}_se"] > 0
    assert {"region", "quintile", "urban"} <= set(targeting["group_type"])
    assert validation.height > 5
    assert validation.filter(pl.col("severity") == "error")["success"].all()
    docs = Path(str(result["output_dir"])) / "data_docs" / "index.html"
    assert docs.is_file()  # the Data Docs beside the run's outputs (test_validation_docs.py)
    assert not (Path(str(result["output_dir"])) / "staging.duckdb").exists()  # raw ids discarded


def test_models_are_evaluated_out_of_sample_for_every_rule(
    audited: tuple[Path, dict[str, object]],
) -> None:
    warehouse, _ = audited
    with connect(warehouse, read_only=True) as con:
        metrics = con.sql("SELECT * FROM audit.latest_model_metrics").pl()
        methods = con.sql(
            "SELECT DISTINCT method, decision_rule FROM audit.latest_targeting_errors"
        ).pl()
        scores = con.sql("SELECT count(*) AS n FROM audit.household_scores").pl()["n"].item()
    assert set(metrics["model"]) == {"ols", "logit", "hgb", "rf"}
    assert set(metrics["decision_rule"]) == {"rate:poverty_rate", "rate:programme_coverage", "line"}
    assert set(metrics["sample"]) == {"out_of_fold", "in_sample"}
    in_sample = metrics.filter(pl.col("sample") == "in_sample")
    metrics = metrics.filter(pl.col("sample") == "out_of_fold")
    # the generator's proxies are realistic: out-of-fold AUC near 0.8, never near 1
    assert metrics["auc"].min() > 0.72
    assert metrics["auc"].max() < 0.9
    # the forest fitted on every household scores them better than it scores unseen ones
    forest = in_sample.filter(pl.col("model") == "rf")["auc"].min()
    assert forest > metrics.filter(pl.col("model") == "rf")["auc"].max()
    assert (metrics["fold_spread"] > 0).all()
    assert metrics["artifact_sha256"].str.len_chars().min() == 64
    assert metrics["cv_scheme"].str.contains("whole-psu folds balanced by region").all()
    like_for_like = metrics.filter(pl.col("decision_rule") == "rate:poverty_rate")
    # coverage matched to the poverty rate: inclusion error equals exclusion error
    for row in like_for_like.iter_rows(named=True):
        assert abs(row["inclusion_error"] - row["exclusion_error"]) < 0.02
    assert {"pmt:ols", "pmt:logit", "pmt:hgb", "pmt:rf", "program"} == set(methods["method"])
    assert scores == 0  # household scores are off unless the config allows them


def test_household_scores_need_a_key_and_are_pseudonymised(
    survey: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed = tmp_path / "allowed"
    shutil.copytree(survey, allowed)
    text = (allowed / "audit.toml").read_text()
    text = text.replace("min_cell_n = 10", "min_cell_n = 10\npublish_household_scores = true")
    text = text.replace('enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit"]')
    (allowed / "audit.toml").write_text(text)
    warehouse = tmp_path / "welfare_audit.duckdb"
    monkeypatch.delenv("WELFARE_AUDIT_PSEUDONYM_KEY", raising=False)
    from transforms.config import ConfigError

    with pytest.raises(ConfigError, match="WELFARE_AUDIT_PSEUDONYM_KEY"):
        run_audit(allowed / "audit.toml", warehouse)
    assert not warehouse.exists()  # refused before any work
    monkeypatch.setenv("WELFARE_AUDIT_PSEUDONYM_KEY", "a-test-secret-of-some-length")
    run_audit(allowed / "audit.toml", warehouse)
    raw_ids = set(pl.read_parquet(allowed / "households.parquet")["HHID"].cast(pl.String))
    with connect(warehouse, read_only=True) as con:
        scores = con.sql("SELECT * FROM audit.household_scores").pl()
    assert scores.height == 3000
    assert scores["hh_key"].n_unique() == 3000
    assert not set(scores["hh_key"]) & raw_ids
    assert scores["hh_key"].str.len_chars().min() == 64


def test_after_a_full_run_no_raw_identifier_is_left_anywhere(
    survey: Path, audited: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """The output folder (run folders, model cache), the warehouse and the Prefect home hold
    none of the survey's raw household or person ids (tests/raw_identifiers.py)."""
    wanted, _ = raw_identifiers.identifiers(load_config(survey / "audit.toml"), tmp_path)
    assert len(wanted) == 3000  # the household ids (person numbers are too short to search)
    prefect_home = Path(os.environ["PREFECT_HOME"])
    searched = [survey / "output", audited[0], prefect_home]
    assert raw_identifiers.scan(searched, wanted) == {}
    storage = prefect_home / "storage"  # where Prefect persisted the old model cache
    assert not list(storage.glob("pmt-*"))  # (a failed flow's exception may still land here)


def test_second_run_appends_and_does_not_trust_a_tampered_cache(
    survey: Path, audited: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """The second run reuses the checked training cache, except the entry tampered with: it
    retrains that model and publishes the same numbers as the first run."""
    warehouse = tmp_path / "welfare_audit.duckdb"
    shutil.copyfile(audited[0], warehouse)  # the first run, as it was published
    first = audited[1]
    [entry_folder] = (survey / "output" / "models").iterdir()
    scores = cache.scores_path(entry_folder, "logit")
    pl.read_parquet(scores).with_columns(p_poor=pl.lit(0.999)).write_parquet(scores)
    second = run_audit(survey / "audit.toml", warehouse)
    assert pl.read_parquet(scores)["p_poor"].n_unique() > 2  # trained again, stored again
    metrics = "SELECT * EXCLUDE (run_id) FROM audit.model_metrics WHERE run_id = ? ORDER BY ALL"
    with connect(warehouse, read_only=True) as con:
        before = con.sql(metrics, params=[first["run_id"]]).pl()
        after = con.sql(metrics, params=[second["run_id"]]).pl()
    assert after.equals(before)
    with connect(warehouse, read_only=True) as con:
        runs = con.sql("SELECT run_id FROM audit.runs ORDER BY started_at").pl()["run_id"].to_list()
        latest = (
            con.sql("SELECT DISTINCT run_id FROM audit.latest_targeting_errors")
            .pl()["run_id"]
            .to_list()
        )
        comment = (
            con.sql(
                "SELECT comment FROM duckdb_columns() WHERE table_name = 'targeting_errors' "
                "AND column_name = 'exclusion_error'"
            )
            .pl()["comment"]
            .item()
        )
    assert runs == [first["run_id"], second["run_id"]]
    assert latest == [second["run_id"]]
    assert "Share of the poor not selected" in comment


def test_validation_error_fails_the_run_and_records_it(survey: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(survey, bad)
    households = pl.read_parquet(bad / "households.parquet")
    config = tomllib.loads((bad / "audit.toml").read_text())
    weight = config["inputs"]["households"]["columns"]["weight"]
    # a third of the weights zero: far above the 5 % quarantine ceiling
    households.with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(0.0).otherwise(pl.col(weight)).alias(weight)
    ).write_parquet(bad / "households.parquet")
    warehouse = tmp_path / "welfare_audit.duckdb"
    from transforms.expectations import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        run_audit(bad / "audit.toml", warehouse)
    assert "file_counts.quarantined_share" in str(caught.value)
    # the message says which file, how many rows, the ceiling's key and the commonest reason
    rows = households.height
    zeroed = len(range(0, rows, 3))
    explanation = " ".join(str(caught.value).split())
    assert f"households.parquet: {zeroed:,} of {rows:,} rows quarantined" in explanation
    assert "above validation.max_quarantine_share = 0.05" in explanation
    assert f"weight: must be > 0 ({zeroed:,} rows)" in explanation
    with connect(warehouse, read_only=True) as con:
        run = con.sql("SELECT status, error FROM audit.runs").pl().row(0, named=True)
        reasons = con.sql("SELECT DISTINCT column_name, reason FROM audit.quarantine").pl()
        results = con.sql("SELECT count(*) AS n FROM audit.targeting_errors").pl()["n"].item()
    assert run["status"] == "failed"
    assert "quarantined_share" in run["error"]
    assert ("weight", "must be > 0") in set(reasons.iter_rows())
    assert results == 0


def test_alerts_fire_on_a_perturbed_second_input(
    survey: Path, audited: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    warehouse = tmp_path / "welfare_audit.duckdb"
    shutil.copyfile(audited[0], warehouse)  # the unperturbed run comes first
    perturbed = tmp_path / "perturbed"
    shutil.copytree(survey, perturbed)
    households = pl.read_parquet(perturbed / "households.parquet")
    # the programme stops paying in region R03: its coverage collapses
    households.with_columns(
        pl.when(pl.col("prov_code") == "R03")
        .then(0)
        .otherwise(pl.col("prog_recv"))
        .alias("prog_recv"),
        pl.when(pl.col("prov_code") == "R03")
        .then(0.0)
        .otherwise(pl.col("prog_amt"))
        .alias("prog_amt"),
    ).write_parquet(perturbed / "households.parquet")
    second = run_audit(perturbed / "audit.toml", warehouse)
    with connect(warehouse, read_only=True) as con:
        alerts = con.sql("SELECT * FROM audit.alerts").pl()
    fired = alerts.filter(pl.col("method") == "program")
    assert ("region", "R03", "coverage") in set(
        fired.select("group_type", "group_value", "indicator").iter_rows()
    )
    assert (alerts["run_id"] == second["run_id"]).all()
    assert any("in region R03" in alert["message"] for alert in second["alerts"])


def test_matching_and_fiscal_tables_find_what_the_generator_planted(
    survey: Path, audited: tuple[Path, dict[str, object]]
) -> None:
    warehouse, _ = audited
    truth = json.loads((survey / "truth.json").read_text())
    with connect(warehouse, read_only=True) as con:
        # the planted standards and pro-poor design are the dibao's (the first programme)
        dibao = "programme = 'dibao' AND poverty_line = 'regional'"
        gaps = con.sql(
            "SELECT group_value, value FROM audit.latest_matching_indicators "
            f"WHERE indicator = 'standard_gap' AND {dibao}"
        ).pl()
        every_quintile = con.sql(
            "SELECT programme, poverty_line, group_value, value, suppressed "
            "FROM audit.latest_matching_indicators "
            "WHERE indicator = 'benefit_incidence' AND group_type = 'quintile'"
        ).pl()
        cost = con.sql(
            "SELECT scenario, year, value FROM audit.latest_fiscal_indicators "
            f"WHERE indicator = 'projected_cost' AND {dibao}"
        ).pl()
    quintiles = every_quintile.filter(
        (pl.col("programme") == "dibao") & (pl.col("poverty_line") == "regional")
    )
    # every programme's incidence, against every line, shares one total (small cells withheld)
    totals = every_quintile.group_by("programme", "poverty_line").agg(pl.col("value").sum())
    assert totals.height == 4 * 2  # three programmes and 'any', two lines
    assert (totals["value"] <= 1.0 + 1e-9).all()
    flagged_low = set(gaps.filter(pl.col("value") < -0.2)["group_value"])
    flagged_high = set(gaps.filter(pl.col("value") > 0.15)["group_value"])
    assert flagged_low == set(truth["standards_too_low"])
    assert flagged_high == set(truth["standards_too_high"])
    shown = quintiles.filter(~pl.col("suppressed"))
    assert (
        quintiles.filter(pl.col("suppressed"))["value"].null_count()
        == quintiles["suppressed"].sum()
    )
    assert shown["value"].sum() <= 1.0 + 1e-9  # shares of one total (small cells withheld)
    q1 = quintiles.filter(pl.col("group_value") == "1")["value"].item()
    assert q1 > 0.3  # a pro-poor programme despite its errors

    def at(scenario: str, year: int) -> float:
        return cost.filter((pl.col("scenario") == scenario) & (pl.col("year") == year))[
            "value"
        ].item()

    first, last = int(cost["year"].min()), int(cost["year"].max())
    assert at("baseline", last) > at("baseline", first)  # the ageing projection raises cost
    assert at("faster_ageing", last) > at("baseline", last)


def test_the_documented_provenance_query_traces_a_run(
    audited: tuple[Path, dict[str, object]],
) -> None:
    from typer.testing import CliRunner

    from flows.cli import app
    from transforms.io.provenance import PROVENANCE_SQL, explain_run

    warehouse, result = audited
    assert Path(__file__).resolve().parents[1] / "docs/queries/provenance.sql" == PROVENANCE_SQL
    with connect(warehouse, read_only=True) as con:
        answers = [frame for _title, frame in explain_run(con, str(result["run_id"]))]
    run, files, validation, failed, models, _notes = answers
    assert run["config_sha256"].str.len_chars().item() == 64
    assert set(files["role"]) == {"households", "members", "regions", "projection"}
    assert validation["checked"].sum() > 5
    assert failed.height == validation["failed"].sum()
    assert models["artifact_sha256"].str.len_chars().min() == 64
    shown = CliRunner().invoke(
        app,
        ["explain", "--warehouse", str(warehouse), "--indicator", "exclusion_error"],
        env={"COLUMNS": "200"},
    )
    assert shown.exit_code == 0, shown.output
    assert str(result["run_id"]) in shown.output  # the latest successful run by default
    assert run["config_sha256"].item() in shown.output
    for sha in files["sha256"]:
        assert sha in shown.output
    assert "Share of the poor not selected" in shown.output  # the catalogued definition
    unknown = CliRunner().invoke(app, ["explain", "--warehouse", str(warehouse), "--run-id", "x"])
    assert unknown.exit_code == 2
    assert "no run 'x'" in unknown.output


def test_report_defaults_to_the_latest_successful_run(
    survey: Path, audited: tuple[Path, dict[str, object]]
) -> None:
    from typer.testing import CliRunner

    from flows.cli import app

    warehouse, result = audited
    command = ["report", "--config", str(survey / "audit.toml"), "--warehouse", str(warehouse)]
    shown = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert shown.exit_code == 0, shown.output
    folder = survey / "output" / "runs" / str(result["run_id"])
    assert str(folder / "report.html") in " ".join(shown.output.split())
