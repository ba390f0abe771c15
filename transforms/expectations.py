"""Table-level data checks, defined in code as plain data and run by Great Expectations.

Row rules (``transforms.rules``, read from the input contract) already quarantine every value
of the wrong type, out of its bounds or missing, and every duplicated key, one row at a time.
What they cannot see is a property of a whole table; those are the checks here:

- the staged household table has exactly the columns the configuration maps (error);
- no file has more of its rows quarantined than ``validation.max_quarantine_share`` (error);
- at least two PSUs per stratum, as the with-replacement variance needs (warning);
- no weight above 1,000 times the median weight, naming the rows (warning);
- survey persons per region (Σ weight × hh_size) within ``validation.population_tolerance``
  of ``regions.population`` where the regions file gives it (warning);
- a positive benefit amount exactly when the household receives each programme (warning);
- every region of the regions file present among the households (warning);
- the household count within ``validation.max_row_count_change`` of the previous
  successful run of the same audit (warning);
- one head per household and a household size equal to its member count (warnings).

Each expectation names a Great Expectations (GX Core 1.x) expectation class, its arguments and
a severity: ``error`` stops the run, ``warning`` is recorded. Checks on a derived quantity run
on a small helper table that :func:`helper_tables_sql` builds in the staging database.
:mod:`flows.validate` turns these into GX suites and runs them inside DuckDB.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from transforms.config import HouseholdInput, Programme, RegionInput, Validation
from transforms.rules import household_columns

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Expectation:
    """One expectation on one staging (or helper) table."""

    table: str
    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    severity: Severity = "error"
    offending_rows_sql: str | None = None
    """When the check fails: a query for the source rows (``__source_row``) that break it, so
    the result names them."""

    @property
    def column(self) -> str | None:
        """The column the expectation checks, if it is a column expectation."""
        column = self.kwargs.get("column")
        return str(column) if column is not None else None


HELPER_TABLES_SQL = {
    "hh_size_check": """
        -- households with their member count (0 when no member row was loaded)
        CREATE OR REPLACE TABLE hh_size_check AS
        SELECT h.hh_id, h.hh_size, coalesce(f.n_members, 0) AS n_members
        FROM stg_households AS h
        LEFT JOIN stg_member_features AS f USING (hh_id)""",
    "design_check": """
        -- sampled PSUs per stratum (a stratum needs two for the with-replacement variance)
        CREATE OR REPLACE TABLE design_check AS
        SELECT strata, count(DISTINCT psu) AS n_psu
        FROM stg_households
        GROUP BY strata""",
    "population_check": """
        -- survey persons per region (households' weight x size) against regions.population
        CREATE OR REPLACE TABLE population_check AS
        SELECT
            r.region,
            sum(h.weight * h.hh_size) AS survey_persons,
            r.population,
            sum(h.weight * h.hh_size) / r.population AS survey_to_population
        FROM stg_regions AS r
        JOIN stg_households AS h USING (region)
        WHERE r.population IS NOT NULL
        GROUP BY r.region, r.population""",
    "population_check_from_members": """
        -- survey persons per region (households' weight x members loaded) against
        -- regions.population: the survey maps no household size, so the members count
        CREATE OR REPLACE TABLE population_check AS
        SELECT
            r.region,
            sum(h.weight * coalesce(f.n_members, 0)) AS survey_persons,
            r.population,
            sum(h.weight * coalesce(f.n_members, 0)) / r.population AS survey_to_population
        FROM stg_regions AS r
        JOIN stg_households AS h USING (region)
        LEFT JOIN stg_member_features AS f USING (hh_id)
        WHERE r.population IS NOT NULL
        GROUP BY r.region, r.population""",
    "weight_check": """
        -- each household's weight against the median weight
        CREATE OR REPLACE TABLE weight_check AS
        SELECT __source_row, weight, weight / median(weight) OVER () AS weight_to_median
        FROM stg_households""",
}
IMPLAUSIBLE_WEIGHT = 1000.0
"""A weight this many times the median is implausible (it dominates every estimate)."""
IMPLAUSIBLE_WEIGHT_ROWS_SQL = f"""
    SELECT __source_row FROM weight_check
    WHERE weight_to_median > {IMPLAUSIBLE_WEIGHT:g}
    ORDER BY weight_to_median DESC
    LIMIT 10"""
BENEFIT_CHECK_SQL = """
    -- programme {index}: a positive amount exactly when the household receives it
    CREATE OR REPLACE TABLE benefit_check_{index} AS
    SELECT hh_id, (receives__{index} = (amount__{index} > 0)) AS receipt_matches_amount
    FROM stg_households
    WHERE receives__{index} IS NOT NULL AND amount__{index} IS NOT NULL"""


def helper_tables(
    households: HouseholdInput,
    regions: RegionInput | None,
    staged: Collection[str],
    programmes: Sequence[Programme] = (),
) -> list[str]:
    """The helper tables this survey's checks need, in the order they are built."""
    mapped = households.columns
    wanted = []
    if "stg_member_features" in staged and mapped.hh_size is not None:
        wanted.append("hh_size_check")  # a size counted from the members cannot disagree
    if mapped.psu is not None and mapped.strata is not None:
        wanted.append("design_check")
    if mapped.weight is not None:
        wanted.append("weight_check")
    if (
        "stg_regions" in staged
        and regions is not None
        and regions.columns.population is not None
        and mapped.weight is not None
        and mapped.region is not None
    ):
        if mapped.hh_size is not None:
            wanted.append("population_check")
        elif "stg_member_features" in staged:
            wanted.append("population_check_from_members")
    wanted += [
        f"benefit_check_{index}"
        for index, programme in enumerate(programmes)
        if programme.level == "household" and programme.receives and programme.amount
    ]
    return wanted


def helper_tables_sql(names: Sequence[str]) -> list[str]:
    """CREATE statements of the named helper tables."""
    return [
        BENEFIT_CHECK_SQL.format(index=name.rsplit("_", 1)[1])
        if name.startswith("benefit_check_")
        else HELPER_TABLES_SQL[name]
        for name in names
    ]


def household_expectations(
    columns: Sequence[str],
    *,
    helpers: Collection[str],
    regions: Sequence[str] | None,
    validation: Validation,
    previous_households: int | None,
) -> list[Expectation]:
    """The household table's schema and the survey statistician's table-level checks."""
    table = "stg_households"
    checks = [
        Expectation(
            table,
            "ExpectTableColumnsToMatchSet",
            {"column_set": list(columns), "exact_match": True},
        )
    ]
    if "design_check" in helpers:
        checks.append(
            Expectation(
                "design_check",
                "ExpectColumnValuesToBeBetween",
                {"column": "n_psu", "min_value": 2},
                "warning",
            )
        )
    if "weight_check" in helpers:
        checks.append(
            Expectation(
                "weight_check",
                "ExpectColumnValuesToBeBetween",
                {"column": "weight_to_median", "max_value": IMPLAUSIBLE_WEIGHT},
                "warning",
                offending_rows_sql=IMPLAUSIBLE_WEIGHT_ROWS_SQL,
            )
        )
    if {"population_check", "population_check_from_members"} & set(helpers):
        tolerance = validation.population_tolerance
        checks.append(
            Expectation(
                "population_check",
                "ExpectColumnValuesToBeBetween",
                {
                    "column": "survey_to_population",
                    "min_value": 1.0 - tolerance,
                    "max_value": 1.0 + tolerance,
                },
                "warning",
            )
        )
    for helper in sorted(h for h in helpers if h.startswith("benefit_check_")):
        checks.append(
            Expectation(
                helper,
                "ExpectColumnValuesToBeInSet",
                {"column": "receipt_matches_amount", "value_set": [True]},
                "warning",
            )
        )
    if regions is not None:
        checks.append(
            Expectation(
                table,
                "ExpectColumnDistinctValuesToContainSet",
                {"column": "region", "value_set": sorted(regions)},
                "warning",
            )
        )
    if previous_households:
        change = validation.max_row_count_change
        checks.append(
            Expectation(
                table,
                "ExpectTableRowCountToBeBetween",
                {
                    "min_value": int(previous_households * (1.0 - change)),
                    "max_value": int(previous_households * (1.0 + change)) + 1,
                },
                "warning",
            )
        )
    return checks


def member_feature_expectations(*, sizes: bool = True) -> list[Expectation]:
    """Exactly one head per household, and (``sizes``: when the household file gives sizes)
    household size equal to the member count (warnings)."""
    heads = Expectation(
        "stg_member_features",
        "ExpectColumnValuesToBeBetween",
        {"column": "n_heads", "min_value": 1, "max_value": 1},
        "warning",
    )
    size = Expectation(
        "hh_size_check",
        "ExpectColumnPairValuesToBeEqual",
        {"column_A": "hh_size", "column_B": "n_members"},
        "warning",
    )
    return [heads, size] if sizes else [heads]


def quarantine_expectations(ceiling: float) -> list[Expectation]:
    """The share of each file's rows that was quarantined stays below the configured ceiling."""
    return [
        Expectation(
            "file_counts",
            "ExpectColumnValuesToBeBetween",
            {"column": "quarantined_share", "min_value": 0, "max_value": ceiling},
        )
    ]


def expected_household_columns(
    households: HouseholdInput, programmes: Sequence[Programme] = ()
) -> list[str]:
    """The staged household schema the config promises: source row, mapped columns, proxies,
    household-level programme columns."""
    return ["__source_row", *household_columns(households, programmes=programmes).mapping]


def expectations_for(
    households: HouseholdInput,
    *,
    validation: Validation,
    staged: Collection[str],
    regions: Sequence[str] | None,
    previous_households: int | None = None,
    programmes: Sequence[Programme] = (),
) -> list[Expectation]:
    """All table-level expectations for the staging and helper tables this run produced.

    ``staged`` names the tables in staging (helper tables included); ``regions`` are the keys
    of the regions file (None without one); ``previous_households`` the households the
    previous successful run of the same audit loaded (None for a first run).
    """
    checks = household_expectations(
        expected_household_columns(households, programmes),
        helpers=staged,
        regions=regions,
        validation=validation,
        previous_households=previous_households,
    )
    if "stg_member_features" in staged:
        checks += member_feature_expectations(sizes="hh_size_check" in staged)
    return checks + quarantine_expectations(validation.max_quarantine_share)


class ValidationFailed(Exception):
    """Expectations of severity 'error' failed; the message lists them with what was observed."""


def describe_failures(rows: Sequence[dict[str, Any]], explanations: Sequence[str] = ()) -> str:
    """A readable list of failed error-severity expectations, then what they mean."""
    lines = [
        f"  - {row['table_name']}.{row['column_name'] or '(table)'}: {row['expectation']} "
        f"failed; observed {row['observed']}"
        for row in rows
    ]
    text = "data validation failed (severity error):\n" + "\n".join(lines)
    return text + "".join(f"\n{explanation}" for explanation in explanations)


def over_quarantine_ceiling(
    path: str, rows_read: int, rows_quarantined: int, reasons: Mapping[str, int], ceiling: float
) -> str | None:
    """Why a file's quarantine stops the run (the file, its share, the ceiling, the commonest
    reasons and what to do), or None when the file is under the ceiling."""
    if not rows_read or rows_quarantined / rows_read <= ceiling:
        return None
    commonest = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:3]
    listed = "; ".join(f"{reason} ({rows:,} rows)" for reason, rows in commonest)
    return (
        f"{path}: {rows_quarantined:,} of {rows_read:,} rows quarantined "
        f"({rows_quarantined / rows_read:.1%}), above validation.max_quarantine_share = "
        f"{ceiling:g}. Commonest reasons: {listed}. Fix the data or the column map "
        "(`welfare-audit validate` lists every reason), or raise the ceiling in [validation] "
        "if these rows are rightly left out."
    )


REJECTION_HINTS = (
    (
        "not a number",
        "a decimal comma (1,5)? set csv.decimal_comma = true; another missing-value "
        "code? add it to csv.null_values",
    ),
    (
        "not one of the configured codes",
        "the file codes yes/no differently: set the column's "
        "codes in the config (e.g. yes = [1], no = [2])",
    ),
    (
        "text (set csv.encoding)",
        "the file is not saved in the configured encoding: set csv.encoding to the one it "
        'was saved in ("latin1", "cp1252", "gbk" or "utf16")',
    ),
    (
        "region not in the regions file",
        "the region codes differ between the two files (e.g. 1 vs '01')",
    ),
    (
        "household not loaded",
        "the members' hh_id does not match the household file's (e.g. '01' vs '1', or "
        "hh_id mapped to another column in one of the two files)",
    ),
    (
        "field(s) but the header has",
        "the lines split into another number of fields than the header: is csv.delimiter "
        "right, and are fields holding the delimiter quoted?",
    ),
    (
        "times in the file",
        "every row repeats a key: is the key mapped to an identifier column, not a category?",
    ),
)
"""Reason fragments with what usually causes them when every row is rejected."""


def all_rows_rejected(path: str, rows_read: int, reasons: Mapping[str, int]) -> str:
    """The message when no row of a file passed the row rules: the reasons by column with
    their counts, commonest first, and a hint where one applies."""
    if not rows_read:
        return f"{path}: the file has a header but no data rows"
    commonest = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:5]
    listed = "\n".join(f"  - {reason}: {rows:,} rows" for reason, rows in commonest)
    hints = [hint for fragment, hint in REJECTION_HINTS if any(fragment in r for r, _ in commonest)]
    advice = "".join(f"\n  hint: {hint}" for hint in hints)
    return (
        f"{path}: none of its {rows_read:,} rows passed the row rules. Commonest reasons "
        f"(column: reason):\n{listed}{advice}\n`welfare-audit validate` lists every reason; "
        "the rows are in audit.quarantine after a run."
    )


def nothing_loaded(
    path: str, rows_read: int, rows_loaded: int, reasons: Mapping[str, int]
) -> str | None:
    """Why an input file stops the run when none of its rows loaded (every row rejected, or
    no data rows), or None when some did: any input file, not only the households."""
    return all_rows_rejected(path, rows_read, reasons) if not rows_loaded else None


def raise_on_errors(rows: Sequence[dict[str, Any]], explanations: Sequence[str] = ()) -> None:
    """Stop the run when an expectation of severity 'error' failed (``explanations``: what the
    failures mean for the user, e.g. which file quarantined too many rows)."""
    failed = [row for row in rows if not row["success"] and row["severity"] == "error"]
    if failed:
        raise ValidationFailed(describe_failures(failed, explanations))
