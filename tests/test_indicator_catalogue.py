"""The indicator catalogue is the one home of every published indicator's facts.

Every name a producer publishes, and every name the report, the workbook and the alert rules
read, is catalogued; units are joined from the catalogue at publication; labels, display kinds
and the targeting rate columns come from it.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from transforms import catalogue
from transforms.catalogue import catalogue as all_indicators
from transforms.catalogue import indicators_of, lookup, targeting_rates, with_units
from transforms.contract import TABLES, data_dictionary_markdown, publishable, table
from transforms.io import warehouse

ROOT = Path(__file__).resolve().parents[1]
LONG_TABLES = ("matching_indicators", "fiscal_indicators")
READERS = (*sorted((ROOT / "transforms" / "report").glob("*.py")), ROOT / "transforms/alerts.py")


def test_catalogue_entries_are_unique_and_complete() -> None:
    items = all_indicators()
    # coverage is both a matching indicator and a targeting rate: unique within each table
    counts = Counter((item.table, item.name) for item in items)
    assert [key for key, n in counts.items() if n > 1] == []
    prefixes = Counter((item.table, item.prefix) for item in items)
    assert [key for key, n in prefixes.items() if n > 1] == []
    tables = {spec.name for spec in TABLES}
    for item in items:
        assert item.table in tables, item
        assert item.unit.strip() and item.definition.strip() and item.source.strip(), item
        assert item.label.strip() and "_" not in item.label, item  # a label, not a key
        assert item.display in {"percent", "points", "number", "money", "year"}, item
        assert ":" not in item.name or item.name.endswith(">"), item
        assert ("{suffix}" in item.label) == item.name.endswith(">"), item


def test_the_targeting_rates_and_their_columns_come_from_the_catalogue() -> None:
    assert targeting_rates() == (
        "poverty_rate",
        "coverage",
        "exclusion_error",
        "inclusion_error",
        "inclusion_rate_nonpoor",
        "targeting_differential",
        "cgh",
    )
    columns = table("targeting_errors").column_names()
    for rate in targeting_rates():
        assert [f"{rate}{s}" in columns for s in ("", "_se", "_ci_low", "_ci_high")] == [True] * 4
    assert catalogue.watched("points") == ("exclusion_error", "inclusion_error")
    assert catalogue.watched("ratio") == ("coverage",)


def test_labels_carry_the_suffix_of_a_published_name() -> None:
    assert catalogue.label("fiscal_indicators", "financing_share:local_budget") == (
        "Share of the cost borne by local_budget"
    )
    assert catalogue.display("fiscal_indicators", "threshold_crossed_year") == "year"
    assert catalogue.display("matching_indicators", "adequacy") == "percent"  # a ratio, shown %
    assert catalogue.display("fiscal_indicators", "spending") == "money"
    with pytest.raises(KeyError, match="sustainability_thresholds"):
        lookup("fiscal_indicators", "sustainability_thresholds")


def test_units_are_joined_at_publication_and_unknown_names_refused() -> None:
    rows = pl.DataFrame(
        {
            "programme": ["dibao", None],
            "poverty_line": ["national", "national"],
            "population_unit": ["persons", "persons"],
            "scenario": ["current", "current"],
            "year": [2025, None],
            "indicator": ["spending", "budget_pmt:ols"],
            "value": [1.0, 2.0],
        }
    )
    published = publishable("fiscal_indicators", rows, run_id="r")
    assert published["unit"].to_list() == ["currency/year", "currency/year"]
    assert published.columns == table("fiscal_indicators").column_names()
    with pytest.raises(KeyError, match="made_up_indicator"):
        with_units(
            rows.with_columns(pl.lit("made_up_indicator").alias("indicator")), "fiscal_indicators"
        )


def test_the_data_dictionary_lists_every_indicator_with_its_label() -> None:
    text = data_dictionary_markdown()
    assert text.index("# Data dictionary") < text.index("\n## Indicators\n")
    for table_name in (*LONG_TABLES, "targeting_errors"):
        assert f"### `audit.{table_name}`" in text
        for item in indicators_of(table_name):
            label = item.label.replace("|", "\\|").replace("<", "\\<")
            assert f"| `{item.name}` | {label} |" in text


def literal_indicator_reads(path: Path) -> list[str]:
    """String literals a module compares with an ``indicator`` value: pl.col("indicator") ==
    "x" / .is_in([...]), row["indicator"] == "x". Readers must name indicators through the
    catalogue (``catalogue.require``), so every such literal is a finding."""
    found: list[str] = []

    def is_indicator(node: ast.AST) -> bool:
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "col":
            return any(isinstance(a, ast.Constant) and a.value == "indicator" for a in node.args)
        if isinstance(node, ast.Subscript):
            return isinstance(node.slice, ast.Constant) and node.slice.value == "indicator"
        return False

    def strings(node: ast.AST) -> list[str]:
        return [
            n.value
            for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        ]

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare) and (
            is_indicator(node.left) or any(is_indicator(c) for c in node.comparators)
        ):
            found += strings(node)
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "is_in"
            and is_indicator(getattr(node.func, "value", ast.Constant(None)))
        ):
            found += [s for arg in node.args for s in strings(arg)]
    return [text for text in found if text != "indicator"]


@pytest.mark.parametrize("path", READERS, ids=lambda p: p.name)
def test_readers_name_indicators_only_through_the_catalogue(path: Path) -> None:
    """The report, workbook and alert rules hold no indicator name of their own: a name they
    read that nothing publishes (as sustainability_threshold once was) cannot recur."""
    assert literal_indicator_reads(path) == []


def test_the_literal_finder_finds_literals() -> None:
    source = (
        'frame.filter(pl.col("indicator") == "sustainability_threshold")\n'
        'frame.filter(pl.col("indicator").is_in(["projected_cost", "cost_share_gdp"]))\n'
        'ok = row["indicator"] == NAME\n'
    )
    path = Path(pytest.importorskip("tempfile").mkdtemp()) / "probe.py"
    path.write_text(source)
    assert literal_indicator_reads(path) == [
        "sustainability_threshold",
        "projected_cost",
        "cost_share_gdp",
    ]


def catalogue_form(published: str, table_name: str) -> str:
    """A published name as catalogued (``budget_pmt:ols`` -> ``budget_pmt:<model>``)."""
    return lookup(table_name, published).name


@pytest.mark.usefixtures("prefect_harness")
def test_every_published_indicator_is_catalogued(tmp_path: Path) -> None:
    from flows.audit import audit
    from transforms.sample.files import write_synthetic_survey

    write_synthetic_survey(tmp_path, households=1500, seed=3, file_format="parquet")
    config = tmp_path / "audit.toml"
    text = config.read_text()
    assert 'enabled = ["ols", "logit", "hgb", "rf"]' in text
    config.write_text(
        text.replace('enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit"]')
    )
    audit(str(config), None)

    with warehouse.connect(tmp_path / "welfare_audit.duckdb", read_only=True) as con:
        published = {
            name: con.sql(f"SELECT DISTINCT indicator, unit FROM audit.{name}").fetchall()
            for name in LONG_TABLES
        }
        threshold = con.sql(
            "SELECT DISTINCT value FROM audit.fiscal_indicators "
            "WHERE indicator = 'sustainability_threshold'"
        ).fetchall()
    assert threshold == [(0.01,)]  # the report's dashed line has a published value
    for table_name, rows in published.items():
        assert rows, f"audit.{table_name} is empty"
        for name, unit in rows:
            assert unit == lookup(table_name, name).unit, (table_name, name)
        assert {catalogue_form(n, table_name) for n, _ in rows} <= {
            item.name for item in indicators_of(table_name)
        }
