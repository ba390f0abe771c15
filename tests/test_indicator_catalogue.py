"""The indicator catalogue of the output contract covers every indicator a run publishes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from transforms import warehouse
from transforms.contract import INDICATORS, TABLES, data_dictionary_markdown, indicators_of

LONG_TABLES = ("matching_indicators", "fiscal_indicators")


def catalogue_form(published: str, table_name: str) -> str:
    """A published indicator name as catalogued: any ':suffix' becomes the catalogue's ':<…>'."""
    if ":" not in published:
        return published
    prefix = published.split(":", 1)[0]
    forms = [item.name for item in indicators_of(table_name) if item.prefix == prefix]
    return forms[0] if forms else published


def test_catalogue_entries_are_unique_and_complete() -> None:
    # coverage is both a matching indicator and a targeting rate: unique within each table
    counts = Counter((item.table, item.name) for item in INDICATORS)
    assert [key for key, n in counts.items() if n > 1] == []
    prefixes = Counter((item.table, item.prefix) for item in INDICATORS)
    assert [key for key, n in prefixes.items() if n > 1] == []
    tables = {spec.name for spec in TABLES}
    for item in INDICATORS:
        assert item.table in tables, item
        assert item.unit.strip() and item.definition.strip() and item.source.strip(), item
        assert ":" not in item.name or item.name.endswith(">"), item


def test_catalogue_lists_the_targeting_rates_and_both_long_tables() -> None:
    rates = {item.name for item in indicators_of("targeting_errors")}
    assert rates == {
        "poverty_rate",
        "coverage",
        "exclusion_error",
        "inclusion_error",
        "inclusion_rate_nonpoor",
        "targeting_differential",
        "cgh",
    }
    text = data_dictionary_markdown()
    assert text.index("# Data dictionary") < text.index("\n## Indicators\n")
    for table_name in (*LONG_TABLES, "targeting_errors"):
        assert f"### `audit.{table_name}`" in text
        for item in indicators_of(table_name):
            assert f"| `{item.name}` |" in text


@pytest.mark.usefixtures("prefect_harness")
def test_every_published_indicator_is_catalogued(tmp_path: Path) -> None:
    from flows.audit import audit
    from transforms.survey_files import write_synthetic_survey

    write_synthetic_survey(tmp_path, households=1500, seed=3, file_format="parquet")
    config = tmp_path / "audit.toml"
    text = config.read_text()
    assert 'enabled = ["ols", "logit", "hgb", "rf"]' in text
    config.write_text(
        text.replace('enabled = ["ols", "logit", "hgb", "rf"]', 'enabled = ["logit"]')
    )
    audit(str(config), None)

    with warehouse.connect(tmp_path / "audit.duckdb", read_only=True) as con:
        published = {
            name: con.sql(f"SELECT DISTINCT indicator, unit FROM audit.{name}").fetchall()
            for name in LONG_TABLES
        }
    for table_name, rows in published.items():
        assert rows, f"audit.{table_name} is empty"
        catalogue = {item.name: item for item in indicators_of(table_name)}
        missing = sorted({n for n, _ in rows if catalogue_form(n, table_name) not in catalogue})
        assert missing == [], f"audit.{table_name}: not catalogued: {missing}"
        wrong_unit = sorted(
            (n, unit) for n, unit in rows if unit != catalogue[catalogue_form(n, table_name)].unit
        )
        assert wrong_unit == [], f"audit.{table_name}: unit differs from the catalogue"
