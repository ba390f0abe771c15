"""The audit configuration: one TOML file, validated once at the edge, passed down typed.

Paths inside a config resolve relative to the config file. Unknown keys, wrong
types and missing files raise :class:`ConfigError`, whose message names the key
path (``inputs.households.columns.weight``) and what was expected.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from transforms.inputs import describe

FileFormat = Literal["auto", "csv", "parquet", "dta", "sav"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REFERENCE = re.compile(r"^(?P<module>[^:]+):(?P<function>[A-Za-z_]\w*)$")
MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class ConfigError(Exception):
    """A configuration that cannot be used; the message names every offending key path."""


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a path relative to the directory of the config file being validated (left as
    written when there is no config file: a default shown in the reference or the schema)."""
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if path.is_absolute():
        joined = path
    elif base is None:
        return path
    else:
        joined = Path(base) / path
    try:
        return joined.resolve()
    except (RuntimeError, OSError) as error:  # a symlink loop (RuntimeError on Python 3.11)
        raise ValueError(f"cannot resolve {joined}: {error}") from None


class CsvOptions(StrictModel):
    """How to read a delimited text file."""

    delimiter: str | None = Field(
        default=None, description="Field separator; sniffed from the header line when omitted."
    )
    encoding: Literal["utf8", "utf8-lossy", "latin1", "cp1252", "gbk", "utf16"] = Field(
        default="utf8",
        description="Text encoding of the file (other encodings are transcoded to UTF-8 "
        "first); rows with bytes that are invalid in it are quarantined.",
    )
    decimal_comma: bool = Field(
        default=False, description="Numbers are written with a decimal comma, as in 1.234,5."
    )
    null_values: list[str] = Field(
        default_factory=lambda: ["", "NA", "N/A", ".", "NaN"],
        description="Cell texts read as missing (compared after stripping surrounding spaces).",
    )

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) != 1:
            raise ValueError("expected a single one-byte character such as ',' ';' '|' or '\\t'")
        return value


class BoolCoding(StrictModel):
    """Raw values that mean true and false for a boolean column (others are quarantined)."""

    true: list[str | int | float | bool] = Field(
        default=[1, "1", "yes", "true"], description="Raw values read as true."
    )
    false: list[str | int | float | bool] = Field(
        default=[0, "0", "no", "false"], description="Raw values read as false."
    )
    otherwise: bool | None = Field(
        default=None,
        description="Value for any other non-missing code (e.g. relationship: only 'Head' is "
        "true, otherwise false); None quarantines unknown codes.",
    )


class ProxySpec(StrictModel):
    """One proxy-means-test variable: its raw column and whether it is numeric or a category."""

    column: str = Field(description="Raw column name in the household file.")
    kind: Literal["numeric", "categorical"] = Field(
        default="numeric",
        description="numeric: used as a number (median-imputed, standardised); categorical: "
        "one-hot encoded.",
    )
    allow_identifier_proxy: bool = Field(
        default=False,
        description="Use this proxy although its name or values look like personal data. Two "
        "heuristics refuse a proxy: a name such as name, address, phone, telephone, e-mail, ID, "
        "cedula, latitude or date of birth (in several languages), and, for a categorical "
        "proxy, values that look like names or free text (50 or more distinct values, nearly "
        "all words of letters) or are nearly unique per household. A model file keeps every "
        "category it saw, so an identity mapped as a proxy ends up in every model file. Set "
        "true only for an observable characteristic the heuristics mistake (e.g. owning a "
        "telephone, a district name).",
    )


class InputFile(StrictModel):
    """A raw input file and how to read it."""

    path: Path = Field(description="The file, relative to the configuration file; it must exist.")
    format: FileFormat = Field(
        default="auto",
        description="File format; auto: from the extension (.csv .txt .tsv, .parquet .pq, "
        ".dta, .sav).",
    )
    csv: CsvOptions = Field(
        default_factory=CsvOptions, description="How to read the file when it is delimited text."
    )
    booleans: dict[str, BoolCoding] = Field(
        default_factory=dict, description="Per canonical boolean column: raw true/false codes."
    )
    value_labels: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per canonical categorical column: raw code -> label (e.g. sex 1 -> male).",
    )
    preprocess: list[str] = Field(
        default_factory=list,
        description="Functions applied in order to the raw table before the column map, each "
        "'package.module:function' or 'file.py:function' (relative to this file); see "
        "transforms/hooks.py. Each takes (polars.LazyFrame, HookContext) and returns the same "
        "rows with columns added or changed, e.g. welfare derived from expenditure modules.",
    )

    @field_validator("preprocess")
    @classmethod
    def _hooks_importable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _resolve_references(value, info)

    @field_validator("path")
    @classmethod
    def _path_exists(cls, value: Path, info: ValidationInfo) -> Path:
        path = _resolve_path(value, info)
        if (info.context or {}).get("check_files", True) and not path.is_file():
            if path.is_dir():
                raise ValueError(f"{path} is a folder; name the data file inside it")
            raise ValueError(f"file not found: {path}")
        return path

    @property
    def resolved_format(self) -> str:
        """The file format, from the config or else from the file extension."""
        if self.format != "auto":
            return self.format
        suffix = self.path.suffix.lower().lstrip(".")
        aliases = {"txt": "csv", "tsv": "csv", "pq": "parquet"}
        fmt = aliases.get(suffix, suffix)
        if fmt not in {"csv", "parquet", "dta", "sav"}:
            raise ConfigError(
                f"{self.path}: cannot tell the format from the extension '.{suffix}'; "
                "set format = 'csv' | 'parquet' | 'dta' | 'sav'"
            )
        return fmt


class HouseholdColumns(StrictModel):
    """Canonical household column -> raw column name in the file (None: not available)."""

    hh_id: str = Field(description=describe("households", "hh_id"))
    region: str | None = Field(default=None, description=describe("households", "region"))
    hh_size: str | None = Field(default=None, description=describe("households", "hh_size"))
    welfare: str = Field(description=describe("households", "welfare"))
    urban: str | None = Field(default=None, description=describe("households", "urban"))
    weight: str | None = Field(default=None, description=describe("households", "weight"))
    strata: str | None = Field(default=None, description=describe("households", "strata"))
    psu: str | None = Field(default=None, description=describe("households", "psu"))
    fpc: str | None = Field(default=None, description=describe("households", "fpc"))
    head_age: str | None = Field(default=None, description=describe("households", "head_age"))
    head_sex: str | None = Field(default=None, description=describe("households", "head_sex"))
    head_education_years: str | None = Field(
        default=None, description=describe("households", "head_education_years")
    )


PERSONAL_DATA = re.compile(
    r"(^|_)("
    # names, in several languages
    r"names?|full_?name|surnames?|first_?name|last_?name|given_?name|family_?name|"
    r"nombres?|apellidos?|nom|prenoms?|nome|sobrenome|"
    # addresses and places a person can be found
    r"address(es)?|street|direccion|adresse|endereco|domicilio|"
    r"gps|latitude|longitude|lat|lon|lng|coordinates?|"
    # phones and e-mail
    r"phone_?(number|no)|telephone|telefono|telefone|tel|mobile_?(number|no)?|"
    r"cell_?(phone|number)?|celular|e_?mail|courriel|correo|"
    # identity numbers and identifiers
    r"national_?id|nid|id_?(number|no|card)|identifier|passport|ssn|cedula|dni|curp|cpf|"
    r"rut|nin|cni|"
    # birth dates
    r"dob|date_?of_?birth|birth_?date|fecha_?(de_?)?nacimiento|date_?de_?naissance"
    r")($|_)"
)
"""Column or proxy names that suggest personal data, matched on ``_``-separated words. A
heuristic: an asset such as owning a telephone matches too (allow it per proxy)."""


class HouseholdInput(InputFile):
    """The household file (required)."""

    level: Literal["households", "persons"] = Field(
        default="households",
        description="households: one row per household; persons: one row per person, each "
        "its own unit (no household structure, no members file; hh_size 1 unless mapped).",
    )
    columns: HouseholdColumns = Field(
        description="Canonical household column -> raw column name in the file."
    )
    proxies: dict[str, ProxySpec] = Field(
        default_factory=dict, description="Canonical proxy name -> raw column and kind."
    )
    derived: dict[str, str] = Field(
        default_factory=dict,
        description="Derived proxies: name -> a SQL expression over the analysis frame's "
        "columns (proxies, head_age, head_sex, head_education_years, n_members, hh_size, …), "
        'evaluated with polars (pl.sql_expr), e.g. head_age_sq = "head_age * head_age", '
        'log_land = "LN(land_ha + 1)", female_head = "CASE WHEN head_sex = \'female\' THEN '
        '1 ELSE 0 END". Checked when the config loads: an expression that does not parse, '
        "reads a column the analysis frame will not have, or reads the welfare, a poverty "
        "line or a receipt (the outcome) is refused. Each joins the default features.",
    )

    @field_validator("derived")
    @classmethod
    def _expressions_parse(cls, derived: dict[str, str]) -> dict[str, str]:
        import polars as pl

        for name, expression in derived.items():
            if not IDENTIFIER.match(name):
                raise ValueError(f"derived proxy name {name!r}: use letters, digits and '_'")
            try:
                pl.sql_expr(expression)
            except Exception as error:  # polars raises several error types for bad SQL
                raise ValueError(
                    f"derived proxy {name!r}: {expression!r} is not a SQL expression polars "
                    f"can read ({type(error).__name__}: {str(error).splitlines()[0]})"
                ) from None
        return derived

    @field_validator("proxies")
    @classmethod
    def _no_personal_data(cls, proxies: dict[str, ProxySpec]) -> dict[str, ProxySpec]:
        for name, spec in proxies.items():
            if spec.allow_identifier_proxy:
                continue
            for text in (name, spec.column):
                if PERSONAL_DATA.search(text.lower().replace("-", "_").replace(" ", "_")):
                    raise ValueError(
                        f"proxy {name!r} (column {spec.column!r}) looks like personal data "
                        "(a name, address, phone, e-mail, ID, location or birth date); proxies "
                        "must be observable characteristics, never identities. If it is one "
                        "(e.g. owning a telephone), set allow_identifier_proxy = true on it"
                    )
        return proxies


class MemberColumns(StrictModel):
    """Canonical member column -> raw column name."""

    hh_id: str = Field(description=describe("members", "hh_id"))
    person_id: str = Field(description=describe("members", "person_id"))
    age: str = Field(description=describe("members", "age"))
    sex: str | None = Field(default=None, description=describe("members", "sex"))
    is_head: str | None = Field(default=None, description=describe("members", "is_head"))
    education_years: str | None = Field(
        default=None, description=describe("members", "education_years")
    )
    disabled: str | None = Field(default=None, description=describe("members", "disabled"))
    employed: str | None = Field(default=None, description=describe("members", "employed"))


class MemberInput(InputFile):
    """The person file (optional)."""

    columns: MemberColumns = Field(
        description="Canonical member column -> raw column name in the file."
    )


class RegionColumns(StrictModel):
    """Canonical region column -> raw column name."""

    region: str = Field(description=describe("regions", "region"))
    poverty_line: str | None = Field(default=None, description=describe("regions", "poverty_line"))
    price_index: str | None = Field(default=None, description=describe("regions", "price_index"))
    benefit_standard: str | None = Field(
        default=None, description=describe("regions", "benefit_standard")
    )
    population: str | None = Field(default=None, description=describe("regions", "population"))


class RegionInput(InputFile):
    """The region file (optional)."""

    columns: RegionColumns = Field(
        description="Canonical region column -> raw column name in the file."
    )


class ProjectionColumns(StrictModel):
    """Canonical projection column -> raw column name."""

    year: str = Field(description=describe("projection", "year"))
    age_group: str = Field(description=describe("projection", "age_group"))
    population: str = Field(description=describe("projection", "population"))
    region: str | None = Field(default=None, description=describe("projection", "region"))


class ProjectionInput(InputFile):
    """The population projection (optional)."""

    columns: ProjectionColumns = Field(
        description="Canonical projection column -> raw column name in the file."
    )


class Inputs(StrictModel):
    """All input files of one audit."""

    households: HouseholdInput = Field(description="The household file (one row per household).")
    members: MemberInput | None = Field(
        default=None,
        description="The person file (one row per person); aggregated into household features.",
    )
    regions: RegionInput | None = Field(
        default=None, description="The region file (one row per region)."
    )
    projection: ProjectionInput | None = Field(
        default=None,
        description="The population projection that drives the fiscal ageing projection.",
    )


class WelfareDefinition(StrictModel):
    """What the welfare column measures."""

    basis: Literal["per_capita", "household", "adult_equivalent"] = Field(
        default="per_capita",
        description="The welfare column is per person, per household (divided by hh_size) or "
        "per adult equivalent.",
    )
    equivalence_scale: Literal["oecd_modified", "oecd", "square_root"] | None = Field(
        default=None,
        description="Adult-equivalence scale; required when basis = 'adult_equivalent'.",
    )
    concept: Literal["consumption", "income"] = Field(
        default="consumption",
        description="What welfare measures; sets the default for negative values.",
    )
    negative: Literal["keep", "bottom_code", "quarantine"] | None = Field(
        default=None,
        description="Negative welfare: keep (losses are real: those people are poor), "
        "bottom_code (set to 0), or quarantine (an error in the data). Default: keep for "
        "income, quarantine for consumption. Recorded in the run notes.",
    )
    currency: str = Field(default="LCU", description="Unit of welfare and benefits.")

    @model_validator(mode="after")
    def _scale_when_needed(self) -> WelfareDefinition:
        if self.basis == "adult_equivalent" and self.equivalence_scale is None:
            raise ValueError("basis = 'adult_equivalent' needs equivalence_scale")
        return self

    @property
    def negative_policy(self) -> Literal["keep", "bottom_code", "quarantine"]:
        """The declared policy for negative welfare, or the concept's default."""
        if self.negative is not None:
            return self.negative
        return "keep" if self.concept == "income" else "quarantine"


LineMethod = Literal[
    "national",
    "regional",
    "national_price_index",
    "relative_percentile",
    "relative_median",
    "relative_mean",
    "international",
]
LINE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "national": ("national_line",),
    "national_price_index": ("national_line",),
    "relative_percentile": ("percentile",),
    "relative_median": ("median_share",),
    "relative_mean": ("mean_share",),
    "international": ("dollars_per_day", "ppp_factor"),
}


class PovertyLine(StrictModel):
    """One poverty line (data-contract.md, 'Poverty line options'); a run may declare several."""

    name: str = Field(
        default="",
        description="Name of the line, as published in every row measured against it "
        "(default: the method).",
    )
    method: LineMethod = Field(
        description="national: national_line; regional: the regions file's poverty_line; "
        "national_price_index: national_line x the regions file's price_index; "
        "relative_percentile: the weighted percentile of pre-transfer welfare; "
        "relative_median / relative_mean: median_share (mean_share) x its weighted median "
        "(mean); international: dollars_per_day x ppp_factor x cpi_ratio x days_per_year."
    )
    national_line: PositiveFloat | None = Field(
        default=None,
        description="Per-capita annual line, national prices (currency units); required by "
        "the national and national_price_index methods.",
        json_schema_extra={"unit": "currency/person/year"},
    )
    percentile: Annotated[float, Field(gt=0.0, lt=1.0)] | None = Field(
        default=None,
        description="Quantile of the unit (see unit) by pre-transfer welfare that sets the "
        "line (0.2 = 20th percentile); required by method = 'relative_percentile'.",
        json_schema_extra={"unit": "fraction"},
    )
    median_share: PositiveFloat | None = Field(
        default=None,
        description="Line as a multiple of the weighted median of pre-transfer welfare "
        "(0.6 = 60 %); required by method = 'relative_median'.",
        json_schema_extra={"unit": "ratio"},
    )
    mean_share: PositiveFloat | None = Field(
        default=None,
        description="Line as a multiple of the weighted mean of pre-transfer welfare; "
        "required by method = 'relative_mean'.",
        json_schema_extra={"unit": "ratio"},
    )
    unit: Literal["persons", "households"] | None = Field(
        default=None,
        description="For relative lines: the percentile, median or mean is taken over persons "
        "(weights x hh_size) or households (weights); default: targeting.unit. With that unit, "
        "the headcount at the p-th percentile line is p.",
    )
    dollars_per_day: PositiveFloat | None = Field(
        default=None,
        description="International line in PPP dollars per person per day (e.g. 3.00); "
        "required by method = 'international'.",
        json_schema_extra={"unit": "PPP $/person/day"},
    )
    ppp_factor: PositiveFloat | None = Field(
        default=None,
        description="PPP conversion factor for private consumption: local currency per "
        "international dollar in the PPP base year (World Bank ICP); required by method = "
        "'international'.",
        json_schema_extra={"unit": "currency per PPP $"},
    )
    cpi_ratio: PositiveFloat = Field(
        default=1.0,
        description="Consumer price index of the survey period ÷ that of the PPP base year.",
        json_schema_extra={"unit": "ratio"},
    )
    days_per_year: PositiveFloat = Field(
        default=365.0, description="Days per year for the international line."
    )
    source: str = Field(default="", description="Where the line comes from (policy reference).")

    @model_validator(mode="after")
    def _parameters_for_method(self) -> PovertyLine:
        for required in LINE_PARAMETERS.get(self.method, ()):
            if getattr(self, required) is None:
                raise ValueError(f"method = '{self.method}' needs {required}")
        if self.unit is not None and not self.method.startswith("relative"):
            raise ValueError(f"unit applies to relative lines only, not method = '{self.method}'")
        return self

    @property
    def label(self) -> str:
        """The published name: the configured name, else the method."""
        return self.name or self.method

    @property
    def international_value(self) -> float | None:
        """dollars_per_day x ppp_factor x cpi_ratio x days_per_year (international lines)."""
        if self.dollars_per_day is None or self.ppp_factor is None:
            return None
        return self.dollars_per_day * self.ppp_factor * self.cpi_ratio * self.days_per_year


class Programme(StrictModel):
    """One audited programme; a run may declare several ([[programmes]])."""

    name: str = Field(default="programme", description="Name of the programme, as published.")
    receives: str | None = Field(
        default=None,
        description="Raw column saying who receives it (in the household file, or the members "
        "file when level = 'member'); when not mapped, receipt is amount > 0.",
    )
    amount: str | None = Field(
        default=None,
        description="Raw column of the benefit received, per benefit_period (summed over "
        "members when level = 'member').",
    )
    level: Literal["household", "member"] = Field(
        default="household",
        description="Whether receives and amount are columns of the household file or of the "
        "members file (a household receives when any member does).",
    )
    receipt_codes: BoolCoding = Field(
        default_factory=BoolCoding, description="Raw codes of the receives column."
    )
    benefit_period: Literal["annual", "monthly"] = Field(
        default="annual",
        description="Period of the amount column (converted to annual).",
    )
    category: str = Field(
        default="", description="Programme category (e.g. social_assistance, social_pension)."
    )
    included_in_welfare: bool = Field(
        default=False,
        description="True when the welfare aggregate already contains this programme's "
        "benefit: pre-transfer welfare then subtracts it.",
    )
    benefit_tier_bounds: list[PositiveFloat] = Field(
        default_factory=list,
        description="Upper bounds of benefit bands per capita (currency/year) for tier "
        "matching; band 0 is 'no benefit', band k the k-th interval, the last band open.",
        json_schema_extra={"unit": "currency/person/year"},
    )
    need_tier_bands: dict[Literal["extreme_poor", "poor", "near_poor", "non_poor"], int] | None = (
        Field(
            default=None,
            description="Benefit band each need tier calls for (0 = no benefit); default: "
            "non-poor and near-poor 0, poor and extreme poor any positive band.",
        )
    )
    national_floor: PositiveFloat | None = Field(
        default=None,
        description="National guaranteed minimum per capita (currency/year) for needs-based "
        "regional standards; default: the line's national_line.",
        json_schema_extra={"unit": "currency/person/year"},
    )

    @model_validator(mode="after")
    def _some_column(self) -> Programme:
        if self.receives is None and self.amount is None:
            raise ValueError(f"programme {self.name!r} needs receives or amount (raw columns)")
        if not self.name.strip() or self.name == ANY_PROGRAMME:
            raise ValueError(f"programme name {self.name!r} is empty or reserved")
        return self


ANY_PROGRAMME = "any"
"""The published name of 'any programme' (receipt of at least one, the sum of benefits)."""


class Targeting(StrictModel):
    """How targeting accuracy is measured."""

    unit: Literal["persons", "households"] = Field(
        default="persons",
        description="Count persons (household weight x hh_size) or households in every rate.",
    )
    groups: list[
        Literal[
            "region",
            "urban",
            "quintile",
            "quintile_post",
            "decile",
            "decile_post",
            "head_sex",
            "has_elderly",
            "has_disabled",
        ]
    ] = Field(
        default=["region", "urban", "quintile"],
        description="Groups to break the rates down by, besides the whole population: "
        "quintile/decile of pre-transfer welfare, quintile_post/decile_post of post-transfer "
        "welfare, …; groups the survey cannot form (no such column) are skipped.",
    )
    quantile_unit: Literal["persons", "households"] | None = Field(
        default=None,
        description="Quintiles and deciles hold a fifth (tenth) of persons or of households; "
        "default: unit (so persons, as ASPIRE, unless rates count households).",
    )

    @property
    def quantiles_over(self) -> Literal["persons", "households"]:
        """The unit quintiles and deciles are cut over."""
        return self.quantile_unit or self.unit


class CustomModel(StrictModel):
    """A scikit-learn-compatible estimator declared by import path."""

    estimator: str = Field(description="Import path, e.g. sklearn.ensemble.ExtraTreesClassifier")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments for the estimator's constructor."
    )
    task: Literal["classifier", "regressor"] = Field(
        default="classifier",
        description="classifier: predicts poor vs non-poor; regressor: predicts "
        "log(welfare_pre + 1), like ols.",
    )


class Models(StrictModel):
    """Proxy-means-test models and their cross-validation."""

    enabled: list[Literal["ols", "logit", "hgb", "rf"]] = Field(
        default=["ols", "logit", "hgb", "rf"],
        description="Built-in models: ols (ridge regression of log welfare, the traditional "
        "PMT), logit, hgb (histogram gradient boosting), rf (random forest).",
    )
    custom: dict[str, CustomModel] = Field(
        default_factory=dict,
        description="Model name -> a scikit-learn estimator to fit besides the built-ins.",
    )
    folds: Annotated[int, Field(ge=2, le=20)] = Field(
        default=5,
        description="Cross-validation folds (whole PSUs, balanced by region); the data need at "
        "least this many PSUs.",
    )
    max_train_rows: Annotated[int, Field(ge=1000)] = Field(
        default=100_000,
        description="Larger training sets are cut to a simple random sample of this many "
        "households; every household is still scored and every rate uses all of them. At "
        "100,000 the out-of-sample AUC is within 0.002 of training on 160,000 for every "
        "built-in model (1M benchmark survey); training time is about halved.",
        json_schema_extra={"unit": "households"},
    )
    decision_rules: list[Literal["rate", "line"]] = Field(
        default=["rate", "line"],
        description="How a model selects beneficiaries: rate: the households most likely to "
        "be poor, up to a coverage equal to the poverty rate (and, as a second rule, to the "
        "programme's coverage when known); line: probability of being poor >= 0.5.",
    )
    features: list[str] | None = Field(
        default=None,
        description="Feature names; default: every proxy and derived proxy, the member "
        "aggregates and hh_size (and region when region_effects).",
    )
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Constructor parameters of a built-in model that replace its defaults, "
        "e.g. [models.params.logit] C = 0.5 (the regularisation strength; default 1.0) or "
        "[models.params.rf] min_samples_leaf = 50. Defaults: methodology.md §4.1.",
    )
    region_effects: bool = Field(
        default=False,
        description="Add region as a categorical feature (fixed effects) to the default "
        "features. Off by default: a region seen in few households adds dummies that are "
        "barely seen out of fold.",
    )
    poverty_line: str | None = Field(
        default=None,
        description="Name of the poverty line the models learn and are judged against; "
        "default: the first of [[poverty_lines]].",
    )

    @field_validator("params")
    @classmethod
    def _builtin_names(cls, params: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        unknown = sorted(set(params) - {"ols", "logit", "hgb", "rf"})
        if unknown:
            raise ValueError(
                f"{unknown}: params are for the built-in models ols, logit, hgb, rf (a custom "
                "model takes its parameters in models.custom.<name>.params)"
            )
        return params

    max_plausible_auc: Annotated[float, Field(gt=0.5, le=1.0)] = Field(
        default=0.97,
        description="An out-of-fold AUC above this is implausible for a PMT (a feature leaks "
        "the outcome): the run warns and names the features that predict poverty best alone.",
    )


class SurveyDesign(StrictModel):
    """How the sample was drawn, beyond the design columns of the household file."""

    lonely_psu: Literal["adjust", "certainty", "fail"] = Field(
        default="adjust",
        description="A stratum with one PSU: adjust (centred at the grand mean, R "
        "survey.lonely.psu = 'adjust'), certainty (adds no variance) or fail (stop).",
    )
    poststratify: Literal["none", "region"] = Field(
        default="none",
        description="region: scale the weights so that survey persons per region equal "
        "regions.population (R survey postStratify); SEs account for it.",
    )


class Disclosure(StrictModel):
    """Statistical disclosure control of published tables."""

    min_cell_n: Annotated[int, Field(ge=1)] = Field(
        default=10,
        description="Published estimates from fewer households than this are suppressed.",
        json_schema_extra={"unit": "households"},
    )
    publish_household_scores: bool = Field(
        default=False,
        description="Publish each household's PMT scores under a keyed pseudonym; needs the "
        "environment variable WELFARE_AUDIT_PSEUDONYM_KEY.",
    )


class Validation(StrictModel):
    """Data-quality thresholds."""

    max_quarantine_share: Fraction = Field(
        default=0.05,
        description="Error when more than this share of a file's rows is quarantined.",
        json_schema_extra={"unit": "fraction"},
    )
    population_tolerance: Fraction = Field(
        default=0.10,
        description="Warning when a region's survey persons (Σ weight × hh_size) differ from "
        "its regions.population by more than this share.",
        json_schema_extra={"unit": "fraction"},
    )
    max_row_count_change: Fraction = Field(
        default=0.5,
        description="Warning when the household count moved by more than this share since the "
        "previous successful run of the same audit.",
        json_schema_extra={"unit": "fraction"},
    )


class Alerts(StrictModel):
    """When a run's headline indicators moved too far since the previous successful run."""

    error_change_points: Fraction = Field(
        default=0.05,
        description="Alert when an exclusion or inclusion error moves by more than this "
        "(fraction points, 0.05 = 5 points), nationally or in a region.",
        json_schema_extra={"unit": "difference of fractions"},
    )
    coverage_change_ratio: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        default=0.5,
        description="Alert when coverage falls below this ratio of its previous value "
        "(0.5 = halves) or rises above its inverse (doubles).",
        json_schema_extra={"unit": "ratio"},
    )


class FinancingSource(StrictModel):
    """One source of programme finance and its rule."""

    source: str = Field(description="Name of the source, e.g. central_transfer.")
    rule: Literal["share", "old_age_linked", "remainder"] = Field(
        description="share: a fixed share of the cost; old_age_linked: share x the old-age "
        "dependency ratio relative to the base year; remainder: what is left, split equally "
        "among remainder sources."
    )
    share: Fraction | None = Field(
        default=None,
        description="Share of the cost; required unless rule = 'remainder'.",
        json_schema_extra={"unit": "fraction"},
    )

    @model_validator(mode="after")
    def _share_when_needed(self) -> FinancingSource:
        if self.rule != "remainder" and self.share is None:
            raise ValueError(f"rule = '{self.rule}' needs share")
        return self


class FiscalScenario(StrictModel):
    """A projection scenario."""

    name: str = Field(description="Scenario name, as published.")
    elderly_growth_multiplier: PositiveFloat = Field(
        default=1.0,
        description="The 65+ population changes this many times as fast as projected.",
        json_schema_extra={"unit": "ratio"},
    )
    real_benefit_growth: float | None = Field(
        default=None,
        description="Real growth of benefits per year; default fiscal.real_benefit_growth.",
        json_schema_extra={"unit": "fraction/year"},
    )


class Fiscal(StrictModel):
    """Fiscal parameters for spending and the ageing projection."""

    base_year: int = Field(
        default=2025,
        description="Year of the survey-based cost, gdp and revenue; projected years grow from it.",
        json_schema_extra={"unit": "year"},
    )
    gdp: PositiveFloat | None = Field(
        default=None,
        description="Nominal GDP, base year, currency.",
        json_schema_extra={"unit": "currency/year"},
    )
    revenue: PositiveFloat | None = Field(
        default=None,
        description="Government revenue, base year.",
        json_schema_extra={"unit": "currency/year"},
    )
    gdp_real_growth: float = Field(
        default=0.03,
        description="Real growth of GDP (and revenue) per year in the projection.",
        json_schema_extra={"unit": "fraction/year"},
    )
    real_benefit_growth: float = Field(
        default=0.01,
        description="Real growth of benefits per year in the projection, unless a scenario "
        "sets its own.",
        json_schema_extra={"unit": "fraction/year"},
    )
    sustainability_threshold: Fraction = Field(
        default=0.01,
        description="Programme cost share of GDP that must not be crossed.",
        json_schema_extra={"unit": "fraction of GDP"},
    )
    financing: list[FinancingSource] = Field(
        default_factory=lambda: [
            FinancingSource(source="central_transfer", rule="share", share=0.6),
            FinancingSource(source="local_budget", rule="remainder"),
        ],
        description="Who pays the programme's cost, one entry per source.",
    )
    scenarios: list[FiscalScenario] = Field(
        default_factory=lambda: [FiscalScenario(name="baseline")],
        description="Projection scenarios, one entry per scenario.",
    )


class Output(StrictModel):
    """Where the run publishes."""

    warehouse: Path = Field(
        default=Path("welfare_audit.duckdb"),
        validate_default=True,
        description="The published DuckDB file, relative to the configuration file "
        "(the CLI's --warehouse overrides it).",
    )
    directory: Path = Field(
        default=Path("output"),
        validate_default=True,
        description="Directory for reports, model artifacts and Prefect results, relative to the "
        "configuration file.",
    )

    @field_validator("warehouse", "directory")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve_path(value, info)


class Runtime(StrictModel):
    """How a run is operated."""

    stage_timeout_minutes: float = Field(
        default=360,
        ge=0,
        description="A stage that can hang (reading the input files, validation, model "
        "training, the report) and runs longer than this is stopped, and the run fails with a "
        "timeout instead of holding the warehouse lock; 0: no limit. Raise it for "
        "registries of tens of millions of households.",
    )

    @property
    def stage_timeout_seconds(self) -> float | None:
        """The timeout in seconds, as Prefect takes it."""
        return self.stage_timeout_minutes * 60 if self.stage_timeout_minutes else None


def resolve_reference(reference: str, base_dir: Path | None) -> str:
    """Check a code reference's syntax; a 'file.py:function' becomes an absolute file path.

    Nothing is imported here: user code is imported once, when a run starts
    (:func:`transforms.io.hooks.load_user_code`).
    """
    match = REFERENCE.match(reference.strip())
    if not match:
        raise ValueError(f"{reference!r}: expected 'package.module:function' or 'file.py:function'")
    module, function = match["module"], match["function"]
    if module.endswith(".py"):
        path = Path(module).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return f"{path.resolve()}:{function}"
    if not MODULE_PATH.match(module):
        raise ValueError(f"{reference!r}: {module!r} is not a module path")
    return f"{module}:{function}"


def _resolve_references(value: list[str], info: ValidationInfo) -> list[str]:
    """Resolve 'module:function' / 'file.py:function' references; a named file must exist."""
    base = (info.context or {}).get("base_dir")
    resolved = [resolve_reference(reference, base) for reference in value]
    if (info.context or {}).get("check_files", True):
        for reference in resolved:
            module = reference.rsplit(":", 1)[0]
            if module.endswith(".py") and not Path(module).is_file():
                raise ValueError(f"{reference!r}: no file {module}")
    return resolved


class Extensions(StrictModel):
    """Extra stages of the audit flow, written for one programme (see docs/extending.md)."""

    stages: list[str] = Field(
        default_factory=list,
        description="Functions or Prefect tasks run in order after the fiscal stage, each "
        "'package.module:function' or 'file.py:function' (relative to this file). Each is "
        "called as stage(config, run, data_path): the validated config, the run's RunContext "
        "(run_id, connect()) and the analysis frame's Parquet path. A failing stage fails the "
        "run; nothing is published.",
    )

    @field_validator("stages")
    @classmethod
    def _stages_importable(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _resolve_references(value, info)


OUTCOME_COLUMNS = frozenset(
    {
        "welfare",
        "welfare_pre",
        "welfare_post",
        "welfare_divisor",
        "poverty_line",
        "is_poor",
        "quintile",
        "quintile_post",
        "decile",
        "decile_post",
        "in_bottom_40",
        "benefit",
        "benefit_amount",
        "receives_benefit",
    }
)
"""Analysis columns that are, or follow from, welfare or receipt: no proxy may read them."""
OUTCOME_PREFIXES = (
    "poverty_line__",
    "is_poor__",
    "benefit__",
    "receives_benefit__",
    "receives__",
    "amount__",
)
"""Per-line and per-programme analysis columns: outcomes and programmes, never features."""
MEMBER_FEATURES = (
    "n_members",
    "n_children",
    "n_elderly",
    "n_working_age",
    "n_disabled",
    "n_employed",
    "dependency_ratio",
    "share_disabled",
    "head_age",
    "head_sex",
    "head_education_years",
    "n_heads",
)
"""The member aggregates staged per household (transforms.household.member_features_sql)."""
MEMBER_FEATURE_COLUMNS = frozenset({*MEMBER_FEATURES, "has_elderly", "has_disabled"})
"""Analysis columns aggregated from the members file."""
DESIGN_COLUMNS = frozenset(
    {"hh_id", "region", "urban", "weight", "person_weight", "strata", "psu", "fpc", "hh_size"}
)
"""Identifiers, design and shape columns of the analysis frame."""
DERIVED_COLUMNS = DESIGN_COLUMNS | OUTCOME_COLUMNS | MEMBER_FEATURE_COLUMNS
"""Columns the analysis frame has or derives: a proxy may not take one of these names (a proxy
named quintile would be overwritten by the welfare quintile and the models would learn the
outcome)."""
SHAREABLE = frozenset({"region", "strata", "psu", "urban"})
"""Canonical design columns that may read the same raw column (a survey stratified by region;
each household its own PSU)."""


def legacy_sections(data: dict[str, Any]) -> dict[str, Any]:
    """Read the single-line, single-programme form of a config as the list form.

    ``[poverty_line]`` becomes one entry of ``poverty_lines``; the household columns
    ``receives_benefit`` / ``benefit_amount`` (with their boolean codes), ``[programme]`` and
    ``welfare.includes_benefit`` become one entry of ``programmes``.
    """
    data = copy.deepcopy(data)
    if "poverty_line" in data:
        if "poverty_lines" in data:
            raise ValueError("give either [poverty_line] or [[poverty_lines]], not both")
        data["poverty_lines"] = [data.pop("poverty_line")]
    households = data.get("inputs", {}).get("households", {})
    columns = households.get("columns", {}) if isinstance(households, dict) else {}
    legacy = {
        key: columns.pop(key)
        for key in ("receives_benefit", "benefit_amount")
        if isinstance(columns, dict) and key in columns
    }
    section = data.pop("programme", None)
    includes = data.get("welfare", {}).pop("includes_benefit", None)
    if not legacy:
        return data
    if "programmes" in data:
        raise ValueError("give the programme either in [[programmes]] or as household columns")
    entry: dict[str, Any] = dict(section or {})
    entry.setdefault("name", "programme")
    if "receives_benefit" in legacy:
        entry["receives"] = legacy["receives_benefit"]
    if "benefit_amount" in legacy:
        entry["amount"] = legacy["benefit_amount"]
    codes = households.get("booleans", {}).pop("receives_benefit", None)
    if codes is not None:
        entry["receipt_codes"] = codes
    if includes is not None:
        entry["included_in_welfare"] = includes
    data["programmes"] = [entry]
    return data


def cross_check_problems(config: AuditConfig) -> list[str]:
    """What makes a config inconsistent across sections, each in words naming the keys."""
    problems: list[str] = []
    households = config.inputs.households
    mapped = {k: v for k, v in households.columns.model_dump().items() if v is not None}
    regions = config.inputs.regions
    labels = [line.label for line in config.poverty_lines]
    if len(set(labels)) < len(labels):
        problems.append(f"poverty_lines: names must differ (got {labels})")
    for line in config.poverty_lines:
        needed = {"regional": "poverty_line", "national_price_index": "price_index"}
        column = needed.get(line.method)
        if column and (regions is None or getattr(regions.columns, column) is None):
            problems.append(
                f"poverty line {line.label!r} (method = '{line.method}') needs "
                f"inputs.regions.columns.{column}"
            )
        if column and "region" not in mapped:
            problems.append(f"poverty line {line.label!r} needs inputs.households.columns.region")
    if config.models.poverty_line is not None and config.models.poverty_line not in labels:
        problems.append(
            f"models.poverty_line = {config.models.poverty_line!r} is not one of {labels}"
        )
    names = [programme.name for programme in config.programmes]
    if len(set(names)) < len(names):
        problems.append(f"programmes: names must differ (got {names})")
    if any(p.level == "member" for p in config.programmes) and config.inputs.members is None:
        problems.append("a programme with level = 'member' needs inputs.members")
    if households.level == "persons" and config.inputs.members is not None:
        problems.append("inputs.households.level = 'persons' takes no members file")
    if households.level == "households" and "hh_size" not in mapped and not config.inputs.members:
        problems.append(
            "map inputs.households.columns.hh_size, give a members file (sizes are counted "
            "from it), or set inputs.households.level = 'persons'"
        )
    if config.design.poststratify == "region" and (
        "region" not in mapped or regions is None or regions.columns.population is None
    ):
        problems.append(
            "design.poststratify = 'region' needs inputs.households.columns.region and "
            "inputs.regions.columns.population"
        )
    problems += proxy_problems(
        households, config.programmes, has_members=config.inputs.members is not None
    )
    problems += shared_column_problems(mapped)
    return problems


def proxy_problems(
    households: HouseholdInput, programmes: list[Programme], *, has_members: bool = False
) -> list[str]:
    """Proxies and derived proxies that would leak the outcome or shadow a derived column."""
    problems = []
    outcome = {households.columns.welfare} | {
        column
        for p in programmes
        if p.level == "household"
        for column in (p.receives, p.amount)
        if column is not None
    }
    for name, spec in households.proxies.items():
        if name in DERIVED_COLUMNS:
            problems.append(
                f"inputs.households.proxies.{name}: {name!r} is a column the audit derives; "
                "rename the proxy"
            )
        if spec.column in outcome:
            problems.append(
                f"inputs.households.proxies.{name}: column {spec.column!r} is the welfare or a "
                "programme column; a proxy must not reveal the outcome"
            )
    for name in households.derived:
        if name in DERIVED_COLUMNS or name in households.proxies:
            problems.append(
                f"inputs.households.derived.{name}: the name is taken (a proxy or a column "
                "the audit derives)"
            )
    return problems + derived_reference_problems(households, has_members)


def derived_readable_columns(households: HouseholdInput, has_members: bool) -> set[str]:
    """The analysis columns a derived proxy may read: proxies, mapped non-outcome columns, the
    design and shape columns the audit fills in, member aggregates (with a members file)."""
    mapped = {k for k, v in households.columns.model_dump().items() if v is not None}
    readable = set(households.proxies) | (mapped - OUTCOME_COLUMNS - {"hh_id"})
    readable |= {"region", "hh_size", "weight", "person_weight", "strata", "psu"}
    if has_members:
        readable |= MEMBER_FEATURE_COLUMNS
    return readable


def derived_reference_problems(households: HouseholdInput, has_members: bool) -> list[str]:
    """Derived proxies that read the outcome (welfare, poverty, receipt) or a column the
    analysis frame will not have, each named with what it may read instead."""
    import polars as pl

    readable = derived_readable_columns(households, has_members)
    problems = []
    for name, expression in households.derived.items():
        columns = set(pl.sql_expr(expression).meta.root_names())
        leaking = sorted(
            c for c in columns if c in OUTCOME_COLUMNS or c.startswith(OUTCOME_PREFIXES)
        )
        unknown = sorted(columns - readable - set(leaking))
        if leaking:
            problems.append(
                f"inputs.households.derived.{name}: {expression!r} reads {', '.join(leaking)}, "
                "the welfare, poverty or receipt the models must predict; a proxy must not "
                "reveal the outcome"
            )
        if unknown:
            problems.append(
                f"inputs.households.derived.{name}: {expression!r} reads "
                f"{', '.join(unknown)}, which the analysis frame will not have; it may read "
                f"{', '.join(sorted(readable))}"
            )
    return problems


def shared_column_problems(mapped: dict[str, str]) -> list[str]:
    """Canonical columns that read the same raw column where that cannot be meant."""
    by_raw: dict[str, list[str]] = {}
    for canonical, raw in mapped.items():
        by_raw.setdefault(raw, []).append(canonical)
    problems = []
    for raw, canonicals in by_raw.items():
        if len(canonicals) < 2:
            continue
        rest = set(canonicals) - SHAREABLE
        allowed = rest <= {"hh_id"} and "psu" in canonicals and len(rest) <= 1
        if rest and not allowed:
            problems.append(
                f"inputs.households.columns: {', '.join(sorted(canonicals))} all read the raw "
                f"column {raw!r}; map each to its own column"
            )
    return problems


class AuditConfig(StrictModel):
    """One audit: its inputs, definitions, models and outputs."""

    name: str = Field(
        default="audit",
        description="Name of the audit, recorded with every run; alerts compare runs of "
        "the same name.",
    )
    seed: int = Field(
        default=20261127, description="Random seed for cross-validation folds and models."
    )
    inputs: Inputs = Field(description="The input files and their column maps.")
    welfare: WelfareDefinition = Field(
        default_factory=WelfareDefinition, description="What the welfare column measures."
    )
    poverty_lines: Annotated[list[PovertyLine], Field(min_length=1)] = Field(
        description="The poverty lines; every targeting, matching and fiscal row names the "
        "line it was measured against. A single [poverty_line] table is read as one line."
    )
    programmes: list[Programme] = Field(
        default_factory=list,
        description="The audited programmes (none: a survey without programme data); each is "
        "measured on its own and together as 'any'. A single [programme] table with the "
        "household columns receives_benefit / benefit_amount is read as one programme.",
    )
    design: SurveyDesign = Field(
        default_factory=SurveyDesign, description="How the sample was drawn."
    )
    targeting: Targeting = Field(
        default_factory=Targeting, description="How targeting accuracy is measured."
    )
    models: Models = Field(
        default_factory=Models, description="Proxy-means-test models and cross-validation."
    )
    disclosure: Disclosure = Field(
        default_factory=Disclosure, description="Disclosure control of published tables."
    )
    validation: Validation = Field(
        default_factory=Validation, description="Data-quality thresholds."
    )
    alerts: Alerts = Field(
        default_factory=Alerts, description="Thresholds for alerts against the previous run."
    )
    fiscal: Fiscal = Field(
        default_factory=Fiscal, description="Fiscal cost, financing and the ageing projection."
    )
    output: Output = Field(default_factory=Output, description="Where the run publishes.")
    runtime: Runtime = Field(default_factory=Runtime, description="How a run is operated.")
    extensions: Extensions = Field(
        default_factory=Extensions, description="Extra flow stages for this audit."
    )

    @model_validator(mode="before")
    @classmethod
    def _output_defaults_resolve_too(cls, data: Any) -> Any:
        if isinstance(data, dict) and "output" not in data:
            return {**data, "output": {}}
        return data

    @model_validator(mode="before")
    @classmethod
    def _single_line_and_programme(cls, data: Any) -> Any:
        return legacy_sections(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _cross_checks(self) -> AuditConfig:
        for problem in cross_check_problems(self):
            raise ValueError(problem)
        return self

    @property
    def model_line(self) -> PovertyLine:
        """The poverty line the PMT models learn (models.poverty_line, else the first)."""
        wanted = self.models.poverty_line
        return next(
            (line for line in self.poverty_lines if wanted in (None, line.label)),
            self.poverty_lines[0],
        )


def format_validation_error(error: ValidationError, source: str) -> str:
    """Render pydantic errors as 'file: key.path: message (got value)' lines."""
    lines = [f"{source}: invalid configuration ({error.error_count()} problem(s))"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(across sections)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see the configuration reference)"
        elif item["type"] == "missing":
            message = "required key is missing"
        got = item.get("input")
        quiet = item["type"] in {"missing", "extra_forbidden"} or isinstance(got, dict)
        shown = "" if quiet else f" (got {got!r:.80})"
        lines.append(f"  - {location}: {message}{shown}")
    return "\n".join(lines)


def parse_config(
    data: dict[str, Any], *, base_dir: Path, source: str, check_files: bool = True
) -> AuditConfig:
    """Validate an already-parsed TOML mapping; paths resolve against base_dir."""
    try:
        return AuditConfig.model_validate(
            data, context={"base_dir": base_dir, "check_files": check_files}
        )
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, source)) from None


def load_config(path: Path, *, check_files: bool = True) -> AuditConfig:
    """Read and validate one audit TOML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text ({error.reason})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse_config(
        data, base_dir=path.resolve().parent, source=str(path), check_files=check_files
    )


def config_sha256(path: Path) -> str:
    """Hash of the config file's bytes (recorded with every run)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


PSEUDONYM_KEY_VARIABLE = "WELFARE_AUDIT_PSEUDONYM_KEY"


def pseudonym_key() -> bytes:
    """The HMAC key for household pseudonyms, from the environment."""
    key = os.environ.get(PSEUDONYM_KEY_VARIABLE, "")
    if len(key) < 16:
        raise ConfigError(
            f"disclosure.publish_household_scores = true needs the environment variable "
            f"{PSEUDONYM_KEY_VARIABLE} (a secret of at least 16 characters) to key the pseudonyms"
        )
    return key.encode("utf-8")
