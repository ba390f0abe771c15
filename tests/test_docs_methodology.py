"""docs/methodology.md and CHANGELOG.md stay true to the code: names, defaults, worked examples.

Fast: reads the two files and the output contract, and recomputes the two small worked
examples of the methodology with the transform functions (no flow runs).
"""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from models.features import FeatureSpec
from models.pmt import BUILTIN_MODELS, ESTIMATOR_STEP, build_pipeline
from transforms.catalogue import catalogue, indicators_of
from transforms.config import Alerts, AuditConfig, Disclosure, Fiscal, Models, Targeting
from transforms.contract import TABLES, table
from transforms.fiscal import fiscal_indicators
from transforms.survey import Design
from transforms.targeting import add_indicator_columns, targeting_rates

ROOT = Path(__file__).resolve().parents[1]
METHODOLOGY = ROOT / "docs" / "methodology.md"
CHANGELOG = ROOT / "CHANGELOG.md"

RULE = (
    "Any change to an indicator's definition is a breaking change: its entry must name every "
    "affected warehouse table and column, and the release must bump the version."
)
# Tables whose every column the methodology explains (provenance tables are left to the
# data dictionary).
ANALYTIC_TABLES = (
    "targeting_errors",
    "model_metrics",
    "targeting_curves",
    "household_scores",
    "matching_indicators",
    "fiscal_indicators",
    "alerts",
    "run_notes",
)
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")
RATES_SUFFIXES = ("_se", "_ci_low", "_ci_high")  # companions of each targeting rate

INDICATORS = catalogue()


def methodology() -> str:
    return METHODOLOGY.read_text(encoding="utf-8")


def sections(text: str) -> list[tuple[str, str]]:
    """(level-2 heading, body) pairs; a body runs to the next level-2 heading."""
    parts = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    return [(part.split("\n", 1)[0], part) for part in parts]


def section_of(table_name: str) -> str:
    """The text of every level-2 section whose heading names ``audit.<table_name>``."""
    bodies = [
        body for heading, body in sections(methodology()) if f"`audit.{table_name}`" in heading
    ]
    assert bodies, f"no section heading of docs/methodology.md names `audit.{table_name}`"
    return "\n".join(bodies)


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    """Cells of every Markdown table row of ``text`` whose first cell is ``first_cell``."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in UNESCAPED_PIPE.split(line.strip().strip("|"))]
        if cells and cells[0] == first_cell:
            rows.append(cells)
    return rows


def test_every_published_table_has_a_section() -> None:
    headings = "\n".join(heading for heading, _ in sections(methodology()))
    missing = [spec.name for spec in TABLES if f"`audit.{spec.name}`" not in headings]
    assert missing == [], f"tables without a section in docs/methodology.md: {missing}"


@pytest.mark.parametrize("item", INDICATORS, ids=lambda item: f"{item.table}:{item.name}")
def test_every_catalogued_indicator_is_defined_with_its_unit_and_source(item: Any) -> None:
    """A row `| `name` | unit | definition | source |` in the section of the indicator's table."""
    rows = table_rows(section_of(item.table), f"`{item.name}`")
    assert rows, f"`{item.name}` has no table row in the section of audit.{item.table}"
    matching = [r for r in rows if len(r) == 4 and r[1] == item.unit and item.source in r[3]]
    assert matching, (
        f"`{item.name}`: no row with unit {item.unit!r} and source {item.source!r} "
        f"(rows found: {rows})"
    )


def test_catalogue_names_per_table_are_all_documented() -> None:
    """The same check by table, so one failure lists every missing name at once."""
    for table_name in {item.table for item in INDICATORS}:
        text = section_of(table_name)
        missing = [i.name for i in indicators_of(table_name) if f"`{i.name}`" not in text]
        assert missing == [], f"audit.{table_name}: undocumented indicators {missing}"


@pytest.mark.parametrize("table_name", ANALYTIC_TABLES)
def test_every_column_of_the_analytic_tables_is_explained(table_name: str) -> None:
    """Each column appears in its table's section (a rate's _se/_ci columns via the rate)."""
    columns = table(table_name).column_names()
    text = section_of(table_name)
    companions = {f"{c}{suffix}" for c in columns for suffix in RATES_SUFFIXES}
    wanted = [c for c in columns if c != "run_id" and c not in companions]
    missing = [c for c in wanted if f"`{c}`" not in text]
    assert missing == [], f"audit.{table_name}: columns not explained {missing}"
    if any(c in companions for c in columns):
        for suffix in RATES_SUFFIXES:
            assert f"`<rate>{suffix}`" in text


ESTIMATOR_CALL = re.compile(r"`(\w+)\((.*)\)`")
KEYWORD = re.compile(r"(\w+)=(\w+\([^)]*\)|[^,]+)")


@pytest.mark.parametrize("name", sorted(BUILTIN_MODELS))
def test_documented_estimator_settings_match_the_code(name: str) -> None:
    """`Class(key=value, …)` in the models table of section 4.1 is what models/pmt.py builds."""
    seed = 7
    estimator = build_pipeline(
        name, FeatureSpec(numeric=("x",), categorical=()), seed=seed
    ).named_steps[ESTIMATOR_STEP]
    rows = table_rows(section_of("model_metrics"), f"`{name}`")
    assert rows, f"model `{name}` missing from the models table"
    call = ESTIMATOR_CALL.search(rows[0][2])
    assert call, f"`{name}`: no `Class(key=value, ...)` in {rows[0][2]!r}"
    assert call[1] == type(estimator).__name__
    params = estimator.get_params()
    for key, text in KEYWORD.findall(call[2]):
        value = text.strip()
        if value == "seed":
            assert params[key] == seed, key
        elif value.startswith("logspace("):
            expected = np.logspace(*ast.literal_eval(value.removeprefix("logspace")))
            assert np.allclose(params[key], expected), key
        else:
            assert params[key] == ast.literal_eval(value), (key, params[key], value)


def config_default(model: type[Any], field: str) -> Any:
    """The declared default of a configuration field."""
    return model.model_fields[field].get_default(call_default_factory=True)


SETTINGS: dict[str, Any] = {
    "seed": config_default(AuditConfig, "seed"),
    "targeting.unit": config_default(Targeting, "unit"),
    "targeting.groups": config_default(Targeting, "groups"),
    "models.folds": config_default(Models, "folds"),
    "models.max_train_rows": config_default(Models, "max_train_rows"),
    "models.decision_rules": config_default(Models, "decision_rules"),
    "disclosure.min_cell_n": config_default(Disclosure, "min_cell_n"),
    "fiscal.base_year": config_default(Fiscal, "base_year"),
    "fiscal.real_benefit_growth": config_default(Fiscal, "real_benefit_growth"),
    "fiscal.gdp_real_growth": config_default(Fiscal, "gdp_real_growth"),
    "fiscal.sustainability_threshold": config_default(Fiscal, "sustainability_threshold"),
    "alerts.error_change_points": config_default(Alerts, "error_change_points"),
    "alerts.coverage_change_ratio": config_default(Alerts, "coverage_change_ratio"),
}


@pytest.mark.parametrize(("key", "default"), SETTINGS.items(), ids=list(SETTINGS))
def test_documented_setting_defaults_match_the_config_model(key: str, default: Any) -> None:
    rows = table_rows(methodology(), f"`{key}`")
    assert rows, f"setting `{key}` missing from the settings table of docs/methodology.md"
    assert rows[0][1] == f"`{json.dumps(default)}`", f"`{key}`: the config default is {default!r}"


def worked_example() -> pl.DataFrame:
    """The six households of methodology section 7.6."""
    frame = pl.DataFrame(
        {
            "strata": ["A", "A", "A", "B", "B", "B"],
            "psu": ["A1", "A1", "A2", "B1", "B2", "B2"],
            "weight": [10.0, 10.0, 20.0, 15.0, 15.0, 5.0],
            "hh_size": [2, 3, 1, 4, 2, 2],
            "is_poor": [True, False, True, True, False, False],
            "selected": [True, True, False, True, False, False],
            "in_bottom_40": [True, False, True, True, False, False],
            "urban": [True, False, True, False, True, False],
        }
    )
    return frame.with_columns((pl.col("weight") * pl.col("hh_size")).alias("person_weight"))


def test_worked_targeting_example_matches_the_code() -> None:
    indicators = add_indicator_columns(
        worked_example(), selected="selected", benefit=None, unit="persons"
    )
    design = Design(weight="person_weight", strata="strata", psu="psu")
    long = targeting_rates(indicators, design=design, groups=["urban"])
    text = methodology()
    shown = {
        "all": [
            "poverty_rate",
            "coverage",
            "exclusion_error",
            "inclusion_error",
            "inclusion_rate_nonpoor",
            "targeting_differential",
        ],
        "true": ["exclusion_error"],
    }
    for group_value, rates in shown.items():
        for rate in rates:
            row = long.filter(
                (pl.col("group_value") == group_value) & (pl.col("statistic") == rate)
            ).row(0, named=True)
            assert row["df"] == 2
            numbers = " | ".join(f"{row[c]:.6f}" for c in ("estimate", "se", "ci_low", "ci_high"))
            assert f"| `{rate}` | {numbers} |" in text, (group_value, rate, numbers)


def test_worked_fiscal_example_matches_the_code() -> None:
    """Grosh et al. (2022, ch. 7): ten persons, z = 20, a universal transfer of 3 each."""
    incomes = [6.0, 8.0, 11.0, 15.0, 21.0, 25.0, 30.0, 40.0, 50.0, 100.0]
    frame = pl.DataFrame(
        {
            "weight": [1.0] * 10,
            "hh_size": [1] * 10,
            "person_weight": [1.0] * 10,
            "welfare_pre": incomes,
            "welfare_post": [y + 3.0 for y in incomes],
            "poverty_line": [20.0] * 10,
            "benefit": [3.0] * 10,
            "receives_benefit": [True] * 10,
        }
    )
    # the fiscal stage takes the fiscal section and whether amounts are recorded
    result = fiscal_indicators(frame, fiscal=Fiscal(), amounts_recorded=True)
    values = dict(zip(result.indicators["indicator"], result.indicators["value"], strict=True))
    text = methodology()
    documented = [line for line in text.splitlines() if re.match(r"^\| `[^`]+` \| -?\d", line)]
    fiscal_rows = [line for line in documented if line.count("|") == 3]
    assert len(fiscal_rows) >= 10
    for line in fiscal_rows:
        name, number = (cell.strip() for cell in line.strip().strip("|").split("|"))
        value = values[name.strip("`")]
        assert value is not None
        assert f"{value:.2f}" == number, (name, value, number)


def test_changelog_states_the_rule_and_the_current_version() -> None:
    text = CHANGELOG.read_text(encoding="utf-8")
    assert RULE in text
    assert "## [Unreleased]" in text
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    assert f"## [{version}]" in text, f"CHANGELOG.md has no section for version {version}"
