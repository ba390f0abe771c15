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

Three more checks (errors) read the analysis frame the run builds after validation
(:func:`analysis_checks`), so that `validate` and the validation step of `run` stop on
what would otherwise fail later, during model training or in every rate:

- at least ``models.folds`` PSUs (each cross-validation fold holds whole PSUs);
- under every poverty line, a poverty rate strictly between 0 and 1 (someone poor, not
  everybody);
- every programme with at least one recipient.

They give rows in the shape GX results take, each naming the file, the column, what was
observed and the threshold.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from transforms.config import (
    HouseholdInput,
    MemberInput,
    PovertyLine,
    Programme,
    RegionInput,
    Validation,
)
from transforms.rules import household_columns
from transforms.summation import exact_total

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

    @property
    def expected(self) -> str:
        """What the check holds the data to, in words (:func:`expected_text`)."""
        return expected_text(self.kind, self.kwargs)


def listed(values: Sequence[Any], *, at_most: int = 12) -> str:
    """Values as a short comma-separated list, the rest counted: 'a, b, … (20 in all)'."""
    shown = ", ".join(str(value) for value in values[:at_most])
    return shown if len(values) <= at_most else f"{shown}, … ({len(values)} in all)"


def bounds_text(kwargs: Mapping[str, Any]) -> str:
    """min_value and max_value in words: 'between 1 and 3', 'at least 2', 'at most 0.05'."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        return f"= {low:g}" if low == high else f"between {low:g} and {high:g}"
    if low is not None:
        return f"at least {low:g}"
    return f"at most {high:g}" if high is not None else "any value"


def expected_text(kind: str, kwargs: Mapping[str, Any]) -> str:
    """What a Great Expectations check of class ``kind`` with ``kwargs`` requires, in words
    (its threshold or condition, shown beside what was observed); a class not listed here
    shows its arguments."""
    column = kwargs.get("column")
    share = kwargs.get("mostly")
    every = f"at least {share:.0%} of values" if share is not None else "every value"
    if kind == "ExpectTableColumnsToMatchSet":
        exact = "exactly" if kwargs.get("exact_match", True) else "at least"
        return f"{exact} the columns {listed(kwargs['column_set'], at_most=60)}"
    if kind == "ExpectColumnValuesToBeBetween":
        return f"{every} of {column} {bounds_text(kwargs)}"
    if kind == "ExpectColumnValuesToBeInSet":
        return f"{every} of {column} in {{{listed(kwargs['value_set'])}}}"
    if kind == "ExpectColumnDistinctValuesToContainSet":
        return f"{column} takes every value of {{{listed(kwargs['value_set'])}}}"
    if kind == "ExpectTableRowCountToBeBetween":
        return f"a row count {bounds_text(kwargs)}"
    if kind == "ExpectColumnPairValuesToBeEqual":
        return f"{kwargs['column_A']} = {kwargs['column_B']} in every row"
    return "; ".join(f"{key} = {value}" for key, value in sorted(kwargs.items()))


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


ANALYSIS_TABLE = "analysis"
"""The table name analysis checks are recorded under: the frame every stage after validation
reads, built from the staged households, member features and regions."""


STAGED_DESCRIPTIONS = {
    "stg_households": "The household file as staged: its columns, its regions and its size "
    "against the previous run.",
    "stg_member_features": "The member file summed per household (members, heads).",
    "file_counts": "Rows read and quarantined, per input file.",
    ANALYSIS_TABLE: "The analysis frame the run builds after validation (households with "
    "their poverty lines, programmes and design): what would otherwise stop the run later, "
    "in model training or in every rate.",
}


def sql_comment(sql: str) -> str:
    """The ``-- …`` comment lines of an SQL statement, joined into one text."""
    lines = (line.strip() for line in sql.splitlines())
    return " ".join(line.removeprefix("--").strip() for line in lines if line.startswith("--"))


def table_description(name: str) -> str:
    """What a validated table is, in words: a staged file, the analysis frame, or a helper
    table (the comment of its CREATE statement)."""
    if name in STAGED_DESCRIPTIONS:
        return STAGED_DESCRIPTIONS[name]
    if name.startswith("benefit_check_"):
        said = sql_comment(BENEFIT_CHECK_SQL).format(index=name.rsplit("_", 1)[1])
    else:
        said = sql_comment(HELPER_TABLES_SQL.get(name, ""))
    return f"Helper table built in staging: {said}." if said else f"Staging table {name}."


def check_row(
    column: str, expectation: str, *, success: bool, observed: str, expected: str
) -> dict[str, Any]:
    """An analysis check's result in the shape of a GX result row (severity error)."""
    return {
        "table_name": ANALYSIS_TABLE,
        "expectation": expectation,
        "column_name": column,
        "severity": "error",
        "success": success,
        "expected": expected,
        "observed": observed,
    }


def psu_check(frame: pl.DataFrame, households: HouseholdInput, *, folds: int) -> dict[str, Any]:
    """At least ``folds`` PSUs: each cross-validation fold holds whole PSUs (``psu`` of the
    analysis frame: strata x psu, or each household when psu is not mapped)."""
    mapped = households.columns
    found = frame["psu"].n_unique()
    if mapped.psu is None:
        counted = f"each household its own PSU, as psu is not mapped (column {mapped.hh_id!r})"
    elif mapped.strata is None:
        counted = f"distinct values of column {mapped.psu!r}"
    else:
        counted = f"distinct strata x psu, columns {mapped.strata!r} x {mapped.psu!r}"
    observed = f"{households.path}: {found:,} PSUs ({counted}); models.folds = {folds}"
    if found < folds:
        observed += (
            f" needs at least {folds}: every cross-validation fold holds whole PSUs, so model "
            "training would stop. Lower models.folds, or check the psu (and strata) mapping"
        )
    return check_row(
        "psu",
        "expect_psu_count_to_be_at_least_folds",
        success=found >= folds,
        observed=observed,
        expected=f"at least {folds} PSUs (models.folds)",
    )


def line_text(values: pl.Series) -> str:
    """A line's value, or its range where it varies by region."""
    if values.drop_nulls().is_empty():
        return "no value"
    numbers = values.cast(pl.Float64).drop_nulls().to_list()
    low, high = min(numbers), max(numbers)
    return f"{low:,.2f}" if low == high else f"{low:,.2f} to {high:,.2f} by region"


def poverty_rate_checks(
    frame: pl.DataFrame,
    households: HouseholdInput,
    lines: Sequence[PovertyLine],
    *,
    weight: str,
) -> list[dict[str, Any]]:
    """Under every line, a poverty rate strictly between 0 and 1 (``is_poor__j`` of the
    analysis frame, weighted by ``weight``): with nobody or everybody poor there is nothing
    to target, and a classifier cannot be trained."""
    rows = []
    total = exact_total(frame[weight])
    for index, line in enumerate(lines):
        poor = frame[f"is_poor__{index}"].fill_null(False)
        n_poor = int(poor.sum())
        rate = exact_total(frame.filter(poor)[weight]) / total if total else 0.0
        value = line_text(frame[f"poverty_line__{index}"])
        observed = (
            f"{households.path}: poverty line {line.label!r} ({line.method}, {value} per "
            f"person per year): {n_poor:,} of {frame.height:,} households have pre-transfer "
            f"welfare (column {households.columns.welfare!r}) below it, a poverty rate of "
            f"{rate:.4g}"
        )
        success = 0 < n_poor < frame.height
        if not success:
            who = "nobody is poor" if n_poor == 0 else "everybody is poor"
            observed += (
                f"; it must be strictly between 0 and 1 ({who}: no targeting to audit, no "
                "model to train). Check the line's value and unit against the welfare "
                "column's (welfare.basis, currency per person per year)"
            )
        rows.append(
            check_row(
                "welfare",
                "expect_poverty_rate_to_be_strictly_between_0_and_1",
                success=success,
                observed=observed,
                expected=f"under line {line.label!r}, a poverty rate strictly between 0 and 1",
            )
        )
    return rows


def recipient_checks(
    frame: pl.DataFrame,
    households: HouseholdInput,
    members: MemberInput | None,
    programmes: Sequence[Programme],
) -> list[dict[str, Any]]:
    """Every programme has at least one recipient (``receives_benefit__i`` of the analysis
    frame): a programme nobody receives has no coverage or targeting to measure."""
    rows = []
    for index, programme in enumerate(programmes):
        recipients = int(frame[f"receives_benefit__{index}"].fill_null(False).sum())
        source = members if programme.level == "member" and members is not None else households
        key = f"programmes.{programme.name}"
        if programme.receives is not None:
            codes = ", ".join(repr(code) for code in programme.receipt_codes.true)
            read = f"column {programme.receives!r}, true codes {codes}"
            setting = f"{key}.receives and {key}.receipt_codes"
        else:
            read = f"column {programme.amount!r} > 0"
            setting = f"{key}.amount"
        observed = (
            f"{source.path}: programme {programme.name!r}: {recipients:,} of {frame.height:,} "
            f"households receive it ({read})"
        )
        if not recipients:
            observed += (
                "; it needs at least 1 recipient for coverage and targeting errors to mean "
                f"anything. Check {setting} against the file's codes"
            )
        rows.append(
            check_row(
                f"{key}.{'receives' if programme.receives is not None else 'amount'}",
                "expect_programme_to_have_recipients",
                success=recipients > 0,
                observed=observed,
                expected=f"programme {programme.name!r}: at least 1 recipient",
            )
        )
    return rows


def analysis_checks(
    frame: pl.DataFrame,
    *,
    households: HouseholdInput,
    members: MemberInput | None,
    programmes: Sequence[Programme],
    lines: Sequence[PovertyLine],
    weight: str,
    folds: int | None,
) -> list[dict[str, Any]]:
    """The checks on the analysis frame (see the module docstring): PSUs against the folds
    (``folds`` None: no model is trained), each line's poverty rate, each programme's
    recipients. Requires psu, is_poor__j, poverty_line__j, receives_benefit__i, ``weight``."""
    rows = [psu_check(frame, households, folds=folds)] if folds is not None else []
    rows += poverty_rate_checks(frame, households, lines, weight=weight)
    return rows + recipient_checks(frame, households, members, programmes)


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
        "(`welfare-audit validate` lists every reason), or raise "
        "validation.max_quarantine_share if these rows are rightly left out."
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
