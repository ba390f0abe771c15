"""Data-quality expectations for every staging table, defined in code as plain data.

Each expectation names a Great Expectations (GX Core 1.x) expectation class, its
arguments and a severity: ``error`` stops the run, ``warning`` is recorded.
:mod:`flows.validate` turns these into GX suites and runs them inside DuckDB.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from transforms.config import AuditConfig

Severity = Literal["error", "warning"]
FINITE_MAX = 1.0e300  # "finite": below this bound (inf fails), NaN fails every comparison


@dataclass(frozen=True)
class Expectation:
    """One expectation on one staging table."""

    table: str
    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: Severity = "error"

    @property
    def column(self) -> str | None:
        """The column the expectation checks, if it is a column expectation."""
        column = self.kwargs.get("column")
        return str(column) if column is not None else None


def household_expectations(
    columns: Sequence[str], regions: Sequence[str] | None
) -> list[Expectation]:
    """Schema, unique hh_id, weight > 0, finite welfare >= 0, hh_size >= 1, known regions."""
    table = "stg_households"
    checks = [
        Expectation(
            table,
            "ExpectTableColumnsToMatchSet",
            {"column_set": list(columns), "exact_match": True},
        ),
        Expectation(table, "ExpectColumnValuesToBeUnique", {"column": "hh_id"}),
        *[
            Expectation(table, "ExpectColumnValuesToNotBeNull", {"column": c})
            for c in ("hh_id", "region", "hh_size", "welfare")
        ],
        Expectation(
            table,
            "ExpectColumnValuesToBeBetween",
            {"column": "welfare", "min_value": 0, "max_value": FINITE_MAX},
        ),
        Expectation(table, "ExpectColumnValuesToBeBetween", {"column": "hh_size", "min_value": 1}),
    ]
    if "weight" in columns:
        checks.append(
            Expectation(
                table,
                "ExpectColumnValuesToBeBetween",
                {"column": "weight", "min_value": 0, "strict_min": True, "max_value": FINITE_MAX},
            )
        )
    if regions is not None:
        checks.append(
            Expectation(
                table,
                "ExpectColumnValuesToBeInSet",
                {"column": "region", "value_set": sorted(regions)},
            )
        )
    return checks


def member_expectations() -> list[Expectation]:
    """Members: ids present and unique within household, plausible ages."""
    table = "stg_members"
    return [
        Expectation(table, "ExpectColumnValuesToNotBeNull", {"column": "hh_id"}),
        Expectation(
            table, "ExpectCompoundColumnsToBeUnique", {"column_list": ["hh_id", "person_id"]}
        ),
        Expectation(
            table,
            "ExpectColumnValuesToBeBetween",
            {"column": "age", "min_value": 0, "max_value": 120},
        ),
    ]


def member_feature_expectations() -> list[Expectation]:
    """Exactly one head per household, and household size equal to the member count (warnings)."""
    return [
        Expectation(
            "stg_member_features",
            "ExpectColumnValuesToBeBetween",
            {"column": "n_heads", "min_value": 1, "max_value": 1},
            "warning",
        ),
        Expectation(
            "hh_size_check",
            "ExpectColumnPairValuesToBeEqual",
            {"column_A": "hh_size", "column_B": "n_members"},
            "warning",
        ),
    ]


def region_expectations() -> list[Expectation]:
    """Regions: unique keys, positive lines and price indices."""
    table = "stg_regions"
    return [
        Expectation(table, "ExpectColumnValuesToBeUnique", {"column": "region"}),
        Expectation(
            table,
            "ExpectColumnValuesToBeBetween",
            {"column": "poverty_line", "min_value": 0, "strict_min": True},
        ),
        Expectation(
            table,
            "ExpectColumnValuesToBeBetween",
            {"column": "price_index", "min_value": 0, "strict_min": True},
        ),
    ]


def projection_expectations() -> list[Expectation]:
    """Projection: one row per year x age group (x region), populations >= 0."""
    table = "stg_projection"
    return [
        Expectation(table, "ExpectColumnValuesToNotBeNull", {"column": "year"}),
        Expectation(
            table, "ExpectColumnValuesToBeBetween", {"column": "population", "min_value": 0}
        ),
    ]


def quarantine_expectations(ceiling: float) -> list[Expectation]:
    """The share of each file's rows that was quarantined stays below the configured ceiling."""
    return [
        Expectation(
            "file_counts",
            "ExpectColumnValuesToBeBetween",
            {"column": "quarantined_share", "min_value": 0, "max_value": ceiling},
        )
    ]


def expected_household_columns(config: AuditConfig) -> list[str]:
    """The staged household schema the config promises: source row, mapped columns, proxies."""
    mapped = [name for name, raw in config.inputs.households.columns.model_dump().items() if raw]
    return ["__source_row", *mapped, *config.inputs.households.proxies]


def expectations_for(
    config: AuditConfig, *, staged: Collection[str], regions: Sequence[str] | None
) -> list[Expectation]:
    """All expectations for the staging tables this run produced."""
    checks = household_expectations(expected_household_columns(config), regions)
    if "stg_members" in staged:
        checks += member_expectations() + member_feature_expectations()
    if "stg_regions" in staged:
        checks += region_expectations()
    if "stg_projection" in staged:
        checks += projection_expectations()
    return checks + quarantine_expectations(config.validation.max_quarantine_share)


class ValidationFailed(Exception):
    """Expectations of severity 'error' failed; the message lists them with what was observed."""


def describe_failures(rows: Sequence[dict[str, Any]]) -> str:
    """A readable list of failed error-severity expectations."""
    lines = [
        f"  - {row['table_name']}.{row['column_name'] or '(table)'}: {row['expectation']} "
        f"failed; observed {row['observed']}"
        for row in rows
    ]
    return "data validation failed (severity error):\n" + "\n".join(lines)


def raise_on_errors(rows: Sequence[dict[str, Any]]) -> None:
    """Stop the run when an expectation of severity 'error' failed."""
    failed = [row for row in rows if not row["success"] and row["severity"] == "error"]
    if failed:
        raise ValidationFailed(describe_failures(failed))
