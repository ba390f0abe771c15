"""The input contract (../shared/spec/data-contract.md) as data: every canonical input column.

For each input file (households, members, regions, projection) and each canonical column: its
type, whether the configuration must map it, whether a mapped column may hold missing values,
its bounds, unit and description. Everything else is derived from here:

- the row rules of ingest (:func:`row_rules`; a value that breaks them is quarantined with its
  reason, never fatal);
- the descriptions of the column maps of the configuration (``transforms.config``, so the
  configuration reference shows them), checked against this contract by a test;
- the table-level checks Great Expectations runs (``transforms.expectations``), which keep only
  what a row rule cannot express;
- the input data dictionary, ``docs/input-dictionary.md`` (``make docs``).

This module imports nothing of the project, so the config can read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["string", "float", "int", "bool"]


@dataclass(frozen=True)
class InputColumn:
    """One canonical input column."""

    name: str
    kind: Kind
    description: str
    mapped: Literal["required", "optional"] = "optional"
    """Whether the configuration must map the column to a raw one."""
    nullable: bool = True
    """False: a row whose mapped value is missing is quarantined."""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    unit: str = ""

    def bounds_text(self) -> str:
        """The allowed range in words (blank when unbounded)."""
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        return ", ".join(parts)


@dataclass(frozen=True)
class InputTable:
    """One input file: its grain, key and canonical columns."""

    role: str
    description: str
    keys: tuple[str, ...]
    columns: tuple[InputColumn, ...]

    def column(self, name: str) -> InputColumn:
        """A canonical column by name (KeyError when it is not in the contract)."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.role}: no canonical column {name!r}")

    def names(self) -> list[str]:
        """Canonical column names in contract order."""
        return [column.name for column in self.columns]


CURRENCY_YEAR_PERSON = "currency/person/year"

MONEY_LIMIT = 1e15
"""Largest magnitude of an amount of money per year (currency units): above any survey's
welfare, benefit or line in any currency, and far below where sums over millions of
weighted households overflow. A larger value is a missing-value code (Stata stores . as
8.99e307, SPSS -1.8e308) or a unit error: its row is quarantined, not let through to
overflow later."""
WEIGHT_LIMIT = 1e9
"""Largest sampling weight: no sampled unit stands for more than a billion households."""
POPULATION_LIMIT = 1e10
"""Largest population of a region or projection cell (the world has about 8e9 people)."""
PSU_LIMIT = 1e9
"""Largest number of PSUs in a stratum's population (the finite population correction)."""
PRICE_INDEX_LIMIT = 1e3
"""Largest spatial price index (national = 1, or 100 where the index is based at 100)."""

HOUSEHOLDS = InputTable(
    "households",
    "One row per household (or per person for a person-level file): identity, design, "
    "welfare, programme receipt and the proxies of the proxy-means test.",
    keys=("hh_id",),
    columns=(
        InputColumn("hh_id", "string", "Household identifier, unique.", "required", nullable=False),
        InputColumn(
            "region",
            "string",
            "First-level area (province, state, commune); when not mapped, the audit is "
            "national only (one region, 'national').",
            nullable=False,
        ),
        InputColumn(
            "hh_size",
            "int",
            "Number of members (integer >= 1); when not mapped: the member count from the "
            "members file, or 1 for a person-level file.",
            nullable=False,
            minimum=1,
            maximum=100,
            unit="persons",
        ),
        InputColumn(
            "welfare",
            "float",
            "Annual consumption or income in currency, on the basis set in [welfare] (per "
            "capita by default). Negative values follow welfare.negative: kept (the default "
            "for income), bottom-coded at 0, or quarantined (the default for consumption).",
            "required",
            nullable=False,
            minimum=-MONEY_LIMIT,
            maximum=MONEY_LIMIT,
            unit="currency/year, per [welfare] basis",
        ),
        InputColumn("urban", "bool", "Urban (true) or rural (boolean)."),
        InputColumn(
            "weight",
            "float",
            "Household sampling weight (> 0, households in the population); 1 for every "
            "household when not mapped.",
            nullable=False,
            minimum=0.0,
            exclusive_minimum=True,
            maximum=WEIGHT_LIMIT,
            unit="households per sampled household",
        ),
        InputColumn("strata", "string", "Sampling stratum.", nullable=False),
        InputColumn(
            "psu",
            "string",
            "Primary sampling unit (cluster), nested in strata.",
            nullable=False,
        ),
        InputColumn(
            "fpc",
            "float",
            "Finite population correction: the number of PSUs in the stratum's population "
            "(constant within a stratum); when not mapped, PSUs are taken as drawn with "
            "replacement.",
            nullable=False,
            minimum=0.0,
            exclusive_minimum=True,
            maximum=PSU_LIMIT,
            unit="PSUs",
        ),
        InputColumn(
            "head_age",
            "int",
            "Age of the household head, for surveys without a members file (the members file "
            "derives it otherwise).",
            minimum=0,
            maximum=120,
            unit="years",
        ),
        InputColumn(
            "head_sex",
            "string",
            "Sex of the household head (category), for surveys without a members file; the "
            "breakdown group head_sex reads it.",
        ),
        InputColumn(
            "head_education_years",
            "float",
            "Years of education of the household head, for surveys without a members file.",
            minimum=0,
            maximum=30,
            unit="years",
        ),
    ),
)

PROGRAMME_COLUMNS: tuple[InputColumn, ...] = (
    InputColumn(
        "receives",
        "bool",
        "The household (or member, for a member-level programme) receives the programme; "
        "codes in [[programmes]] receipt_codes. When not mapped: amount > 0.",
        nullable=False,
    ),
    InputColumn(
        "amount",
        "float",
        "Benefit received, per the programme's benefit_period (a member-level programme's "
        "amounts are summed over the household's members).",
        minimum=0.0,
        maximum=MONEY_LIMIT,
        unit="currency per benefit_period",
    ),
)
"""The columns each [[programmes]] entry maps in the household or members file."""

NUMERIC_PROXY = InputColumn(
    "proxy",
    "float",
    "A numeric proxy (inputs.households.proxies with kind = 'numeric'): missing values are "
    "imputed by the models; a magnitude beyond any count, area or amount is a missing-value "
    "code or a unit error.",
    minimum=-MONEY_LIMIT,
    maximum=MONEY_LIMIT,
)
"""The rule every numeric proxy of the household file follows (categorical proxies are text)."""

MEMBERS = InputTable(
    "members",
    "One row per person; aggregated into household features (dependency ratio, head's "
    "characteristics, elderly and disabled members, …).",
    keys=("person_id", "hh_id"),
    columns=(
        InputColumn(
            "hh_id",
            "string",
            "Household identifier; must exist in the household file.",
            "required",
            nullable=False,
        ),
        InputColumn(
            "person_id",
            "string",
            "Person identifier, unique within the household.",
            "required",
            nullable=False,
        ),
        InputColumn(
            "age",
            "int",
            "Age in completed years (0-120).",
            "required",
            nullable=False,
            minimum=0,
            maximum=120,
            unit="years",
        ),
        InputColumn("sex", "string", "Sex (category)."),
        InputColumn(
            "is_head",
            "bool",
            "Person is the household head (boolean; one head per household expected).",
        ),
        InputColumn(
            "education_years",
            "float",
            "Years of education.",
            minimum=0,
            maximum=30,
            unit="years",
        ),
        InputColumn("disabled", "bool", "Person has a disability (boolean)."),
        InputColumn("employed", "bool", "Person is employed (boolean)."),
    ),
)

REGIONS = InputTable(
    "regions",
    "One row per region: lines, price indices, benefit standards and populations.",
    keys=("region",),
    columns=(
        InputColumn(
            "region",
            "string",
            "Region key, as in the household file's region column.",
            "required",
            nullable=False,
        ),
        InputColumn(
            "poverty_line",
            "float",
            "Per-capita annual poverty line of the region (currency); needed by "
            "poverty_line.method = 'regional'.",
            nullable=False,
            minimum=0.0,
            exclusive_minimum=True,
            maximum=MONEY_LIMIT,
            unit=CURRENCY_YEAR_PERSON,
        ),
        InputColumn(
            "price_index",
            "float",
            "Spatial cost-of-living index (national = 1); needed by "
            "poverty_line.method = 'national_price_index'.",
            nullable=False,
            minimum=0.0,
            exclusive_minimum=True,
            maximum=PRICE_INDEX_LIMIT,
            unit="ratio",
        ),
        InputColumn(
            "benefit_standard",
            "float",
            "Programme's per-capita guaranteed minimum in the region (currency/year).",
            minimum=0.0,
            maximum=MONEY_LIMIT,
            unit=CURRENCY_YEAR_PERSON,
        ),
        InputColumn(
            "population",
            "float",
            "Population of the region.",
            minimum=0.0,
            exclusive_minimum=True,
            maximum=POPULATION_LIMIT,
            unit="persons",
        ),
    ),
)

PROJECTION = InputTable(
    "projection",
    "Projected population by year and age group (optionally by region): drives the fiscal "
    "ageing projection.",
    keys=("year", "age_group", "region"),
    columns=(
        InputColumn(
            "year",
            "int",
            "Projection year.",
            "required",
            nullable=False,
            minimum=1900,
            maximum=2200,
            unit="year",
        ),
        InputColumn(
            "age_group",
            "string",
            "Age group, such as 0-14, 15-64, 65+ or 5-year bands.",
            "required",
            nullable=False,
        ),
        InputColumn(
            "population",
            "float",
            "Projected population of the year and age group.",
            "required",
            nullable=False,
            minimum=0.0,
            maximum=POPULATION_LIMIT,
            unit="persons",
        ),
        InputColumn("region", "string", "Region, when the projection is by region."),
    ),
)

INPUT_TABLES: tuple[InputTable, ...] = (HOUSEHOLDS, MEMBERS, REGIONS, PROJECTION)


def programme_column(role: str, index: int) -> str:
    """The staged name of programme ``index``'s column ``role`` (receives or amount)."""
    return f"{role}__{index}"


def input_table(role: str) -> InputTable:
    """The contract of one input file by role (KeyError for an unknown role)."""
    for spec in INPUT_TABLES:
        if spec.role == role:
            return spec
    raise KeyError(f"no input file role {role!r}")


def describe(role: str, name: str) -> str:
    """A canonical column's description, for the configuration's column maps."""
    return input_table(role).column(name).description


def input_dictionary_markdown() -> str:
    """The input data dictionary as Markdown, one section per input file."""
    lines = [
        "# Input data dictionary",
        "",
        "Generated from `transforms/inputs.py` (`make docs`). Each input file's raw columns "
        "are mapped onto these canonical names in the audit configuration "
        "([`configuration.md`](configuration.md)); the row rules below are applied to every "
        "row, and a row that breaks one is quarantined with its reason "
        "(`audit.quarantine`). *mapped*: whether the configuration must map the column; "
        "*missing values*: whether a mapped column may hold them.",
        "",
    ]
    for spec in INPUT_TABLES:
        lines += [f"## `{spec.role}`", "", f"{spec.description} Key: {', '.join(spec.keys)}.", ""]
        lines += [
            "| column | type | mapped | missing values | allowed values | unit | description |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in spec.columns:
            missing = "allowed" if c.nullable else "quarantined"
            cells = [c.kind, c.mapped, missing, c.bounds_text(), c.unit, c.description]
            lines.append(f"| `{c.name}` | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "## Programme columns (`[[programmes]]`)",
        "",
        "Each programme maps up to two raw columns of the household file (or of the members "
        'file for `level = "member"`); the same row rules apply.',
        "",
        "| column | type | missing values | allowed values | unit | description |",
        "|---|---|---|---|---|---|",
    ]
    for c in PROGRAMME_COLUMNS:
        missing = "allowed" if c.nullable else "quarantined"
        cells = [c.kind, missing, c.bounds_text(), c.unit, c.description]
        lines.append(f"| `{c.name}` | " + " | ".join(cells) + " |")
    c = NUMERIC_PROXY
    lines += [
        "",
        "## Numeric proxies (`inputs.households.proxies`)",
        "",
        "| column | type | missing values | allowed values | description |",
        "|---|---|---|---|---|",
        f"| *(each numeric proxy)* | {c.kind} | allowed | {c.bounds_text()} | {c.description} |",
        "",
    ]
    return "\n".join(lines)
