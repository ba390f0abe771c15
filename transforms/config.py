"""The audit configuration: one TOML file, validated once at the edge, passed down typed.

Paths inside a config resolve relative to the config file. Unknown keys, wrong
types and missing files raise :class:`ConfigError`, whose message names the key
path (``inputs.households.columns.weight``) and what was expected.
"""

from __future__ import annotations

import hashlib
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

FileFormat = Literal["auto", "csv", "parquet", "dta", "sav"]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]


class ConfigError(Exception):
    """A configuration that cannot be used; the message names every offending key path."""


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Resolve a path relative to the directory of the config file being validated."""
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path.resolve()


class CsvOptions(StrictModel):
    """How to read a delimited text file."""

    delimiter: str | None = Field(
        default=None, description="Field separator; sniffed from the header line when omitted."
    )
    encoding: Literal["utf8", "utf8-lossy", "latin1", "cp1252", "gbk", "utf16"] = "utf8"
    decimal_comma: bool = Field(default=False, description="Numbers written as 1.234,5")
    null_values: list[str] = Field(default_factory=lambda: ["", "NA", "N/A", ".", "NaN"])

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) != 1:
            raise ValueError("expected a single one-byte character such as ',' ';' '|' or '\\t'")
        return value


class BoolCoding(StrictModel):
    """Raw values that mean true and false for a boolean column (others are quarantined)."""

    true: list[str | int | float | bool] = Field(default=[1, "1", "yes", "true"])
    false: list[str | int | float | bool] = Field(default=[0, "0", "no", "false"])
    otherwise: bool | None = Field(
        default=None,
        description="Value for any other non-missing code (e.g. relationship: only 'Head' is "
        "true, otherwise false); None quarantines unknown codes.",
    )


class ProxySpec(StrictModel):
    """One proxy-means-test variable: its raw column and whether it is numeric or a category."""

    column: str
    kind: Literal["numeric", "categorical"] = "numeric"


class InputFile(StrictModel):
    """A raw input file and how to read it."""

    path: Path
    format: FileFormat = "auto"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    booleans: dict[str, BoolCoding] = Field(
        default_factory=dict, description="Per canonical boolean column: raw true/false codes."
    )
    value_labels: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per canonical categorical column: raw code -> label (e.g. sex 1 -> male).",
    )

    @field_validator("path")
    @classmethod
    def _path_exists(cls, value: Path, info: ValidationInfo) -> Path:
        path = _resolve_path(value, info)
        if (info.context or {}).get("check_files", True) and not path.is_file():
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

    hh_id: str
    region: str
    hh_size: str
    welfare: str
    urban: str | None = None
    weight: str | None = None
    strata: str | None = None
    psu: str | None = None
    receives_benefit: str | None = None
    benefit_amount: str | None = None


PERSONAL_DATA = re.compile(
    r"(^|_)(names?|surname|first_?name|last_?name|address|street|phone_?(number|no)|mobile_?"
    r"(number|no)?|e_?mail|national_?id|id_?(number|no|card)|passport|ssn|gps|latitude|longitude)"
    r"($|_)"
)


class HouseholdInput(InputFile):
    """The household file (required)."""

    columns: HouseholdColumns
    proxies: dict[str, ProxySpec] = Field(
        default_factory=dict, description="Canonical proxy name -> raw column and kind."
    )

    @field_validator("proxies")
    @classmethod
    def _no_personal_data(cls, proxies: dict[str, ProxySpec]) -> dict[str, ProxySpec]:
        for name, spec in proxies.items():
            for text in (name, spec.column):
                if PERSONAL_DATA.search(text.lower().replace("-", "_").replace(" ", "_")):
                    raise ValueError(
                        f"proxy {name!r} (column {spec.column!r}) looks like personal data "
                        "(a name, address, phone, e-mail, ID or location); proxies must be "
                        "observable characteristics, never identities"
                    )
        return proxies


class MemberColumns(StrictModel):
    """Canonical member column -> raw column name."""

    hh_id: str
    person_id: str
    age: str
    sex: str | None = None
    is_head: str | None = None
    education_years: str | None = None
    disabled: str | None = None
    employed: str | None = None


class MemberInput(InputFile):
    """The person file (optional)."""

    columns: MemberColumns


class RegionColumns(StrictModel):
    """Canonical region column -> raw column name."""

    region: str
    poverty_line: str | None = None
    price_index: str | None = None
    benefit_standard: str | None = None
    population: str | None = None


class RegionInput(InputFile):
    """The region file (optional)."""

    columns: RegionColumns


class ProjectionColumns(StrictModel):
    """Canonical projection column -> raw column name."""

    year: str
    age_group: str
    population: str
    region: str | None = None


class ProjectionInput(InputFile):
    """The population projection (optional)."""

    columns: ProjectionColumns


class Inputs(StrictModel):
    """All input files of one audit."""

    households: HouseholdInput
    members: MemberInput | None = None
    regions: RegionInput | None = None
    projection: ProjectionInput | None = None


class WelfareDefinition(StrictModel):
    """What the welfare column measures."""

    basis: Literal["per_capita", "household", "adult_equivalent"] = "per_capita"
    equivalence_scale: Literal["oecd_modified", "oecd", "square_root"] | None = None
    includes_benefit: bool = Field(
        default=False, description="True when welfare already contains the programme benefit."
    )
    currency: str = Field(default="LCU", description="Unit of welfare and benefits.")

    @model_validator(mode="after")
    def _scale_when_needed(self) -> WelfareDefinition:
        if self.basis == "adult_equivalent" and self.equivalence_scale is None:
            raise ValueError("basis = 'adult_equivalent' needs equivalence_scale")
        return self


class PovertyLine(StrictModel):
    """Which poverty line to use (data-contract.md, 'Poverty line options')."""

    method: Literal[
        "national", "regional", "national_price_index", "relative_percentile", "relative_median"
    ]
    national_line: PositiveFloat | None = Field(
        default=None, description="Per-capita annual line, national prices (currency units)."
    )
    percentile: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    median_share: PositiveFloat | None = None
    source: str = Field(default="", description="Where the line comes from (policy reference).")

    @model_validator(mode="after")
    def _parameters_for_method(self) -> PovertyLine:
        needs = {
            "national": "national_line",
            "national_price_index": "national_line",
            "relative_percentile": "percentile",
            "relative_median": "median_share",
        }
        required = needs.get(self.method)
        if required is not None and getattr(self, required) is None:
            raise ValueError(f"method = '{self.method}' needs {required}")
        return self


class Programme(StrictModel):
    """The audited programme."""

    name: str = "programme"
    benefit_period: Literal["annual", "monthly"] = Field(
        default="annual",
        description="Period of benefit_amount in the raw file (converted to annual).",
    )
    benefit_tier_bounds: list[PositiveFloat] = Field(
        default_factory=list,
        description="Upper bounds of benefit bands per capita (currency/year) for tier "
        "matching; band 0 is 'no benefit', band k the k-th interval, the last band open.",
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
        "regional standards; default poverty_line.national_line.",
    )


class Targeting(StrictModel):
    """How targeting accuracy is measured."""

    unit: Literal["persons", "households"] = "persons"
    groups: list[
        Literal["region", "urban", "quintile", "head_sex", "has_elderly", "has_disabled"]
    ] = Field(default=["region", "urban", "quintile"])


class CustomModel(StrictModel):
    """A scikit-learn-compatible estimator declared by import path."""

    estimator: str = Field(description="Import path, e.g. sklearn.ensemble.ExtraTreesClassifier")
    params: dict[str, Any] = Field(default_factory=dict)
    task: Literal["classifier", "regressor"] = "classifier"


class Models(StrictModel):
    """Proxy-means-test models and their cross-validation."""

    enabled: list[Literal["ols", "logit", "hgb", "rf"]] = Field(
        default=["ols", "logit", "hgb", "rf"]
    )
    custom: dict[str, CustomModel] = Field(default_factory=dict)
    folds: Annotated[int, Field(ge=2, le=20)] = 5
    max_train_rows: Annotated[int, Field(ge=1000)] = 200_000
    decision_rules: list[Literal["rate", "line"]] = Field(default=["rate", "line"])
    features: list[str] | None = Field(
        default=None, description="Feature names; default all proxies + member aggregates + region."
    )


class Disclosure(StrictModel):
    """Statistical disclosure control of published tables."""

    min_cell_n: Annotated[int, Field(ge=1)] = 10
    publish_household_scores: bool = False


class Validation(StrictModel):
    """Data-quality thresholds."""

    max_quarantine_share: Fraction = Field(
        default=0.05, description="Error when more than this share of a file's rows is quarantined."
    )


class Alerts(StrictModel):
    """When a run's headline indicators moved too far since the previous successful run."""

    error_change_points: Fraction = Field(
        default=0.05,
        description="Alert when an exclusion or inclusion error moves by more than this "
        "(fraction points, 0.05 = 5 points), nationally or in a region.",
    )
    coverage_change_ratio: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        default=0.5,
        description="Alert when coverage falls below this ratio of its previous value "
        "(0.5 = halves) or rises above its inverse (doubles).",
    )


class FinancingSource(StrictModel):
    """One source of programme finance and its rule."""

    source: str
    rule: Literal["share", "old_age_linked", "remainder"]
    share: Fraction | None = None

    @model_validator(mode="after")
    def _share_when_needed(self) -> FinancingSource:
        if self.rule != "remainder" and self.share is None:
            raise ValueError(f"rule = '{self.rule}' needs share")
        return self


class FiscalScenario(StrictModel):
    """A projection scenario."""

    name: str
    elderly_growth_multiplier: PositiveFloat = 1.0
    real_benefit_growth: float | None = None


class Fiscal(StrictModel):
    """Fiscal parameters for spending and the ageing projection."""

    base_year: int = 2025
    gdp: PositiveFloat | None = Field(default=None, description="Nominal GDP, base year, currency.")
    revenue: PositiveFloat | None = Field(
        default=None, description="Government revenue, base year."
    )
    gdp_real_growth: float = 0.03
    real_benefit_growth: float = 0.01
    sustainability_threshold: Fraction = Field(
        default=0.01, description="Programme cost share of GDP that must not be crossed."
    )
    financing: list[FinancingSource] = Field(
        default_factory=lambda: [
            FinancingSource(source="central_transfer", rule="share", share=0.6),
            FinancingSource(source="local_budget", rule="remainder"),
        ]
    )
    scenarios: list[FiscalScenario] = Field(
        default_factory=lambda: [FiscalScenario(name="baseline")]
    )


class Output(StrictModel):
    """Where the run publishes."""

    warehouse: Path = Field(default=Path("audit.duckdb"), validate_default=True)
    directory: Path = Field(default=Path("output"), validate_default=True)

    @field_validator("warehouse", "directory")
    @classmethod
    def _resolve(cls, value: Path, info: ValidationInfo) -> Path:
        return _resolve_path(value, info)


class AuditConfig(StrictModel):
    """One audit: its inputs, definitions, models and outputs."""

    name: str = "audit"
    seed: int = 20261127
    inputs: Inputs
    welfare: WelfareDefinition = Field(default_factory=WelfareDefinition)
    poverty_line: PovertyLine
    programme: Programme = Field(default_factory=Programme)
    targeting: Targeting = Field(default_factory=Targeting)
    models: Models = Field(default_factory=Models)
    disclosure: Disclosure = Field(default_factory=Disclosure)
    validation: Validation = Field(default_factory=Validation)
    alerts: Alerts = Field(default_factory=Alerts)
    fiscal: Fiscal = Field(default_factory=Fiscal)
    output: Output = Field(default_factory=Output)

    @model_validator(mode="before")
    @classmethod
    def _output_defaults_resolve_too(cls, data: Any) -> Any:
        if isinstance(data, dict) and "output" not in data:
            return {**data, "output": {}}
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> AuditConfig:
        if self.poverty_line.method in {"regional", "national_price_index"}:
            regions = self.inputs.regions
            needed = "poverty_line" if self.poverty_line.method == "regional" else "price_index"
            if regions is None or getattr(regions.columns, needed) is None:
                raise ValueError(
                    f"poverty_line.method = '{self.poverty_line.method}' needs "
                    f"inputs.regions.columns.{needed}"
                )
        return self


def format_validation_error(error: ValidationError, source: str) -> str:
    """Render pydantic errors as 'file: key.path: message (got value)' lines."""
    lines = [f"{source}: invalid configuration ({error.error_count()} problem(s))"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see the configuration reference)"
        elif item["type"] == "missing":
            message = "required key is missing"
        got = item.get("input")
        shown = "" if item["type"] in {"missing", "extra_forbidden"} else f" (got {got!r:.80})"
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
