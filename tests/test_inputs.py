"""The input contract is data, and the config maps, row rules, table checks and the input
dictionary are derived from it."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.config import (
    BoolCoding,
    HouseholdColumns,
    HouseholdInput,
    MemberColumns,
    Programme,
    ProjectionColumns,
    RegionColumns,
    RegionInput,
    Validation,
)
from transforms.expectations import expectations_for, helper_tables, nothing_loaded
from transforms.inputs import (
    INPUT_TABLES,
    NUMERIC_PROXY,
    PROGRAMME_COLUMNS,
    input_dictionary_markdown,
    input_table,
)
from transforms.rules import (
    WHY,
    ColumnRule,
    column_rule,
    household_columns,
    parse_value,
    row_rules,
)

ROOT = Path(__file__).resolve().parents[1]
COLUMN_MAPS = {
    "households": HouseholdColumns,
    "members": MemberColumns,
    "regions": RegionColumns,
    "projection": ProjectionColumns,
}


@pytest.mark.parametrize("role", list(COLUMN_MAPS))
def test_the_config_column_maps_are_the_contract(role: str) -> None:
    """Same columns in the same order; required keys are the columns that must be mapped;
    descriptions read from the contract."""
    spec, fields = input_table(role), COLUMN_MAPS[role].model_fields
    assert list(fields) == spec.names()
    for name, info in fields.items():
        column = spec.column(name)
        assert info.is_required() == (column.mapped == "required"), name
        assert info.description == column.description, name


def test_row_rules_are_read_from_the_contract() -> None:
    rules = row_rules("households")
    # negatives: welfare.negative; magnitudes above 1e15 are missing-value codes or unit errors
    assert rules["welfare"] == ColumnRule("float", required=True, minimum=-1e15, maximum=1e15)
    assert rules["weight"] == ColumnRule(
        "float", required=True, minimum=0.0, exclusive_minimum=True, maximum=1e9
    )
    assert rules["hh_size"] == ColumnRule("int", required=True, minimum=1, maximum=100)
    assert row_rules("members")["age"] == ColumnRule("int", required=True, minimum=0, maximum=120)
    assert row_rules("projection")["year"] == ColumnRule(
        "int", required=True, minimum=1900, maximum=2200
    )
    for spec in INPUT_TABLES:
        assert list(row_rules(spec.role)) == spec.names()
        assert set(spec.keys) <= set(spec.names())


def test_the_input_dictionary_is_current() -> None:
    text = (ROOT / "docs" / "input-dictionary.md").read_text(encoding="utf-8")
    assert text == input_dictionary_markdown(), "run `make docs`"
    assert "| `welfare` | float | required | quarantined | >= -1e+15, <= 1e+15 |" in text
    assert "| `amount` | float | allowed | >= 0, <= 1e+15 |" in text
    assert "| *(each numeric proxy)* | float | allowed | >= -1e+15, <= 1e+15 |" in text


def households(**columns: str | None) -> HouseholdInput:
    """A household file map with hh_id, region, hh_size, welfare and the given columns."""
    mapped = {"hh_id": "id", "region": "r", "hh_size": "n", "welfare": "y", **columns}
    return HouseholdInput.model_validate(
        {"path": "hh.csv", "columns": mapped}, context={"check_files": False}
    )


def test_table_checks_are_only_what_row_rules_cannot_see() -> None:
    """A bare survey gets the schema and quarantine checks only: no value-range check repeats
    a row rule, so one absurd value is quarantined, never fatal."""
    checks = expectations_for(
        households(), validation=Validation(), staged={"stg_households"}, regions=None
    )
    assert [(c.table, c.kind, c.severity) for c in checks] == [
        ("stg_households", "ExpectTableColumnsToMatchSet", "error"),
        ("file_counts", "ExpectColumnValuesToBeBetween", "error"),
    ]


def test_a_designed_survey_gets_the_statisticians_checks() -> None:
    spec = households(weight="w", strata="s", psu="p")
    programmes = [Programme(name="cash", receives="b", amount="t")]
    regions = RegionInput.model_validate(
        {"path": "r.csv", "columns": {"region": "r", "population": "pop"}},
        context={"check_files": False},
    )
    staged = {"stg_households", "stg_regions", "stg_members", "stg_member_features"}
    helpers = helper_tables(spec, regions, staged, programmes)
    assert helpers == [
        "hh_size_check",
        "design_check",
        "weight_check",
        "population_check",
        "benefit_check_0",
    ]
    checks = expectations_for(
        spec,
        validation=Validation(population_tolerance=0.2, max_row_count_change=0.25),
        staged=staged | set(helpers),
        regions=["R2", "R1"],
        previous_households=1000,
    )
    by_table = {(c.table, c.kind): c for c in checks}
    assert by_table[("design_check", "ExpectColumnValuesToBeBetween")].kwargs == {
        "column": "n_psu",
        "min_value": 2,
    }
    population = by_table[("population_check", "ExpectColumnValuesToBeBetween")]
    assert population.kwargs["min_value"] == pytest.approx(0.8)
    assert population.kwargs["max_value"] == pytest.approx(1.2)
    assert by_table[("benefit_check_0", "ExpectColumnValuesToBeInSet")].kwargs["value_set"] == [
        True
    ]
    assert by_table[("stg_households", "ExpectColumnDistinctValuesToContainSet")].kwargs[
        "value_set"
    ] == ["R1", "R2"]
    drift = by_table[("stg_households", "ExpectTableRowCountToBeBetween")].kwargs
    assert drift == {"min_value": 750, "max_value": 1251}
    weights = by_table[("weight_check", "ExpectColumnValuesToBeBetween")]
    assert weights.kwargs == {"column": "weight_to_median", "max_value": 1000.0}
    assert weights.offending_rows_sql is not None and "__source_row" in weights.offending_rows_sql
    warnings = {c.table for c in checks if c.severity == "warning"}
    assert warnings == {
        "design_check",
        "weight_check",
        "population_check",
        "benefit_check_0",
        "stg_households",
        "stg_member_features",
        "hh_size_check",
    }


def test_a_file_none_of_whose_rows_loaded_is_named_with_reasons_and_hints() -> None:
    """Any input file, not only the households: the reasons by column, commonest first, with
    the hint that fits each; a file with some rows loaded passes."""
    reasons = {
        "hh_id: household not loaded (unknown or quarantined hh_id)": 40,
        "(row): line has 3 field(s) but the header has 4": 2,
        "age: must be <= 120": 1,
    }
    message = nothing_loaded("/survey/members.csv", 43, 0, reasons)
    assert message == (
        "/survey/members.csv: none of its 43 rows passed the row rules. Commonest reasons "
        "(column: reason):\n"
        "  - hh_id: household not loaded (unknown or quarantined hh_id): 40 rows\n"
        "  - (row): line has 3 field(s) but the header has 4: 2 rows\n"
        "  - age: must be <= 120: 1 rows\n"
        "  hint: the members' hh_id does not match the household file's (e.g. '01' vs '1', or "
        "hh_id mapped to another column in one of the two files)\n"
        "  hint: the lines split into another number of fields than the header: is "
        "csv.delimiter right, and are fields holding the delimiter quoted?\n"
        "`welfare-audit validate` lists every reason; the rows are in audit.quarantine after "
        "a run."
    )
    assert nothing_loaded("/survey/regions.csv", 0, 0, {}) == (
        "/survey/regions.csv: the file has a header but no data rows"
    )
    assert nothing_loaded("/survey/members.csv", 43, 1, reasons) is None


def test_every_rule_ingest_applies_is_the_contracts() -> None:
    """Canonical columns, programme columns and numeric proxies alike: the bounds a row rule
    checks are the contract's, never a copy that can drift (programme columns used to drop
    the contract's maximum, and numeric proxies had no bounds)."""
    spec = HouseholdInput.model_validate(
        {
            "path": "hh.csv",
            "columns": {"hh_id": "id", "region": "r", "hh_size": "n", "welfare": "y"},
            "proxies": {"rooms": {"column": "q1"}, "roof": {"column": "q2", "kind": "categorical"}},
        },
        context={"check_files": False},
    )
    programmes = [Programme(name="cash", receives="b", amount="t")]
    rules = household_columns(spec, programmes=programmes, negative_welfare="keep").rules
    contract = {column.name: column for column in input_table("households").columns}
    for name in ("hh_id", "region", "hh_size", "welfare"):
        assert rules[name] == column_rule(contract[name]), name
    templates = {column.name: column for column in PROGRAMME_COLUMNS}
    assert rules["receives__0"] == column_rule(templates["receives"])
    assert rules["amount__0"] == ColumnRule("float", minimum=0.0, maximum=1e15)
    assert rules["rooms"] == column_rule(NUMERIC_PROXY)
    assert (rules["rooms"].minimum, rules["rooms"].maximum) == (-1e15, 1e15)
    assert rules["roof"] == ColumnRule("string")
    quarantined = household_columns(spec, negative_welfare="quarantine").rules["welfare"]
    assert (quarantined.minimum, quarantined.maximum) == (0.0, 1e15)


BOUNDED = [
    (spec.role, column)
    for spec in INPUT_TABLES
    for column in spec.columns
    if column.kind in ("float", "int")
    and (column.minimum is not None or column.maximum is not None)
]


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.sampled_from([1e308, -1e308, 8.98846567431158e307, 1e300, 1e15, 1e9, 0.0, 1.0]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_a_number_passes_its_row_rule_exactly_when_the_contract_allows_it(
    values: list[float],
) -> None:
    """For every bounded numeric column of every input file: a value passes its row rule if
    and only if it is finite, whole where the column is an integer, and within the
    contract's bounds; anything else (1e308, inf, NaN, a Stata missing code) gets a reason,
    so it is quarantined at ingest instead of overflowing a later stage."""
    for role, column in BOUNDED:
        rule = row_rules(role)[column.name]
        frame = pl.DataFrame({column.name: values}, schema={column.name: pl.Float64})
        _, why = parse_value(
            column.name,
            rule,
            coding=BoolCoding(),
            labels={},
            decimal_comma=False,
            dtype=pl.Float64(),
        )
        reasons = frame.select(why)[WHY + column.name].to_list()
        for value, reason in zip(values, reasons, strict=True):
            allowed = (
                math.isfinite(value)
                and (column.kind == "float" or value == round(value))
                and (
                    column.minimum is None
                    or (
                        value > column.minimum
                        if column.exclusive_minimum
                        else value >= column.minimum
                    )
                )
                and (column.maximum is None or value <= column.maximum)
            )
            assert (reason is None) == allowed, (role, column.name, value, reason)
