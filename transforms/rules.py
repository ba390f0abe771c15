"""Row rules: map raw columns onto the canonical schema, type them and give each bad value a reason.

Pure polars expressions over a raw table (``transforms.raw``); the rules themselves are read
from the input contract (:mod:`transforms.inputs`). A value that breaks a rule gives its row a
reason and the row goes to the quarantine (``transforms.io.ingest`` writes both), so rows are
never dropped silently: rows_read = rows_loaded + rows_quarantined.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from transforms.config import BoolCoding, HouseholdInput, InputFile, MemberInput, Programme
from transforms.inputs import (
    NUMERIC_PROXY,
    PROGRAMME_COLUMNS,
    InputColumn,
    Kind,
    input_table,
    programme_column,
)
from transforms.raw import ROW_PROBLEM, SOURCE_ROW, IngestError, RawTable, as_text, relabelled

RAW = "__raw__"
WHY = "__why__"
QUARANTINE_COLUMNS = ("source_file", "source_row", "column_name", "raw_value", "reason")


@dataclass(frozen=True)
class ColumnRule:
    """The canonical type and allowed range of one column; ``required``: not missing."""

    kind: Kind
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    range_hint: str = ""
    """Appended to an out-of-range reason: where the range comes from and how to change it."""


def column_rule(column: InputColumn) -> ColumnRule:
    """The row rule of one contract column: its type, whether it may be missing and its
    bounds, exactly as the contract states them (the only place a rule is made from)."""
    return ColumnRule(
        column.kind,
        required=not column.nullable,
        minimum=column.minimum,
        maximum=column.maximum,
        exclusive_minimum=column.exclusive_minimum,
    )


def row_rules(role: str) -> dict[str, ColumnRule]:
    """The row rules of an input file's canonical columns, from the input contract."""
    return {column.name: column_rule(column) for column in input_table(role).columns}


def mapped_rules(role: str, mapping: Mapping[str, str]) -> dict[str, ColumnRule]:
    """The rules of the canonical columns a file maps."""
    rules = row_rules(role)
    return {name: rules[name] for name in mapping}


def normalised_name(name: str) -> str:
    """A column name in Unicode NFC, the form names are compared in: 'ó' typed as one code
    point or as 'o' plus a combining accent is one name."""
    return unicodedata.normalize("NFC", name)


def spelled(name: str) -> str:
    """A name with its code points visible (non-ASCII escaped), to tell look-alikes apart."""
    return ascii(name)


def colliding_columns(path: Path, columns: Sequence[str]) -> IngestError | None:
    """The error naming two columns of a file that are one name after Unicode normalisation
    (NFC), or None when every name is distinct."""
    seen: dict[str, str] = {}
    for name in columns:
        first = seen.setdefault(normalised_name(name), name)
        if first != name:
            return IngestError(
                f"{path}: columns {first!r} and {name!r} are the same name once Unicode is "
                f"normalised (they are spelled {spelled(first)} and {spelled(name)}), so a "
                "column map cannot tell them apart; rename or drop one of them in the file"
            )
    return None


def header_matches(columns: Sequence[str], mapping: Mapping[str, str]) -> dict[str, str]:
    """Canonical name -> the file's own spelling of the mapped column, compared after Unicode
    normalisation (a mapped name the file lacks is kept as configured)."""
    spelled_in_file = {normalised_name(name): name for name in columns}
    return {
        canonical: spelled_in_file.get(normalised_name(name), name)
        for canonical, name in mapping.items()
    }


def missing_columns(
    path: Path,
    columns: Sequence[str],
    mapping: Mapping[str, str],
    *,
    role: str,
    labels: Mapping[str, str] | None = None,
) -> IngestError | None:
    """The error naming the mapped raw columns a file lacks (with the config key, the columns
    found and a delimiter hint), or None when it has them all. Names are compared after
    Unicode normalisation."""
    present = {normalised_name(name) for name in columns}
    missing = {
        canonical: name
        for canonical, name in mapping.items()
        if normalised_name(name) not in present
    }
    if not missing:
        return None
    wanted = ", ".join(
        f"{(labels or {}).get(canonical, canonical)} -> '{name}'"
        for canonical, name in missing.items()
    )
    shown = ", ".join(repr(name) for name in columns[:25])
    hint = ""
    if len(columns) == 1 and any(sep in columns[0] for sep in ",;\t|"):
        hint = " The file has a single column: is csv.delimiter right?"
    return IngestError(
        f"{path}: {role} column(s) mapped in the config are not in the file: {wanted}. "
        f"Columns found: {shown}.{hint}"
    )


def header_problem(
    path: Path,
    columns: Sequence[str],
    mapping: Mapping[str, str],
    *,
    role: str,
    labels: Mapping[str, str] | None = None,
) -> IngestError | None:
    """Why a file's columns cannot serve its column map (two look-alike names, or mapped names
    it lacks), or None; the header check and the ingest ask this same question."""
    return colliding_columns(path, columns) or missing_columns(
        path, columns, mapping, role=role, labels=labels
    )


def select_mapped(
    raw: RawTable,
    mapping: Mapping[str, str],
    *,
    role: str,
    labels: Mapping[str, str] | None = None,
) -> pl.LazyFrame:
    """Pick and rename the mapped raw columns (names compared after Unicode normalisation); a
    missing or ambiguous raw column is one clear error naming the config key (``labels``: a
    staged name's key, e.g. programmes.<name>.receives)."""
    problem = header_problem(raw.path, raw.columns, mapping, role=role, labels=labels)
    if problem:
        raise problem
    found = header_matches(raw.columns, mapping)
    renamed = [pl.col(name).alias(canonical) for canonical, name in found.items()]
    return raw.frame.select(SOURCE_ROW, ROW_PROBLEM, *renamed)


def _code_set(values: Sequence[object]) -> list[str]:
    """Normalised text forms of configured codes (1, 1.0 and '1' all match)."""
    forms: set[str] = set()
    for value in values:
        if isinstance(value, bool):
            forms.add(str(value).lower())
        elif isinstance(value, int | float) and math.isfinite(value) and float(value).is_integer():
            forms.add(str(int(value)))
        else:
            forms.add(str(value).strip().lower())
    return sorted(forms)


def parse_value(
    name: str,
    rule: ColumnRule,
    *,
    coding: BoolCoding,
    labels: Mapping[str, str],
    decimal_comma: bool,
    dtype: pl.DataType | None = None,
) -> tuple[pl.Expr, pl.Expr]:
    """The typed value and a reason text (null when fine) for one canonical column.

    ``dtype`` is the raw column's type: numbers already typed in the file (Parquet, Stata)
    are checked as numbers, without a round trip through text; ``decimal_comma`` applies to
    text only.
    """
    raw = pl.col(name)
    if rule.kind in ("int", "float") and dtype is not None and dtype.is_numeric():
        number = raw.cast(pl.Float64)
        present = raw.is_not_null()
        value = number.cast(pl.Int64, strict=False) if rule.kind == "int" else number
        missing = pl.when(~present & rule.required).then(pl.lit("missing value (required)"))
        why = _number_reason(number, present, rule)
        return value.alias(name), pl.coalesce(missing, why).alias(WHY + name)
    text = as_text(raw)
    present = raw.is_not_null() & (text != "")
    decimal_comma = decimal_comma and (dtype is None or dtype == pl.String)
    if rule.kind == "string":
        value = relabelled(text, labels)
        why = pl.lit(None, dtype=pl.String)
    elif rule.kind == "bool":
        lowered = text.str.to_lowercase()
        value = (
            pl.when(lowered.is_in(_code_set(coding.true)))
            .then(True)
            .when(lowered.is_in(_code_set(coding.false)))
            .then(False)
            .when(present)
            .then(coding.otherwise)
            .otherwise(None)
        )
        allowed = ", ".join(_code_set(coding.true) + _code_set(coding.false))
        why = pl.when(present & value.is_null()).then(
            pl.lit(f"not one of the configured codes ({allowed})")
        )
    else:
        numeric_text = (
            text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
            if decimal_comma
            else text
        )
        number = numeric_text.cast(pl.Float64, strict=False)
        value = number.cast(pl.Int64, strict=False) if rule.kind == "int" else number
        why = _number_reason(number, present, rule)
    missing = pl.when(~present & rule.required).then(pl.lit("missing value (required)"))
    return value.alias(name), pl.coalesce(missing, why).alias(WHY + name)


def _number_reason(number: pl.Expr, present: pl.Expr, rule: ColumnRule) -> pl.Expr:
    """Why a number breaks its rule: not a number, not finite, not whole, out of range."""
    checks: list[tuple[pl.Expr, str]] = [
        (number.is_null(), "not a number"),
        (~number.is_finite(), "not a finite number"),
    ]
    if rule.kind == "int":
        checks.append((number != number.round(), "not a whole number"))
    hint = f" ({rule.range_hint})" if rule.range_hint else ""
    if rule.minimum is not None and rule.exclusive_minimum:
        checks.append((number <= rule.minimum, f"must be > {rule.minimum:g}{hint}"))
    elif rule.minimum is not None:
        checks.append((number < rule.minimum, f"must be >= {rule.minimum:g}{hint}"))
    if rule.maximum is not None:
        checks.append((number > rule.maximum, f"must be <= {rule.maximum:g}"))
    return pl.coalesce([pl.when(present & failed).then(pl.lit(text)) for failed, text in checks])


def check_columns(
    frame: pl.LazyFrame,
    rules: Mapping[str, ColumnRule],
    spec: InputFile,
    codings: Mapping[str, BoolCoding] | None = None,
) -> pl.LazyFrame:
    """Add typed values, the raw value (as read; text only once quarantined) and a reason
    column for every mapped canonical column. ``codings`` adds boolean codes to the file's
    own (a programme's receipt codes)."""
    schema = frame.collect_schema()
    present = [name for name in rules if name in schema.names()]
    booleans = {**spec.booleans, **(codings or {})}
    parsed = [
        parse_value(
            name,
            rules[name],
            coding=booleans.get(name, BoolCoding()),
            labels=spec.value_labels.get(name, {}),
            decimal_comma=spec.csv.decimal_comma,
            dtype=schema[name],
        )
        for name in present
    ]
    return frame.select(
        SOURCE_ROW,
        ROW_PROBLEM,
        *[pl.col(name).alias(RAW + name) for name in present],
        *[value for value, _ in parsed],
        *[why for _, why in parsed],
    )


def flag_not_in(
    frame: pl.LazyFrame, column: str, allowed: pl.Series, *, reason: str
) -> pl.LazyFrame:
    """Give rows whose value is not among the allowed keys a reason."""
    bad = pl.col(column).is_not_null() & ~pl.col(column).is_in(allowed.implode())
    return frame.with_columns(
        pl.coalesce(pl.col(WHY + column), pl.when(bad).then(pl.lit(reason))).alias(WHY + column)
    )


def problem_mask(columns: Sequence[str]) -> pl.Expr:
    """True for rows with a row problem or a reason on any column."""
    return pl.col(ROW_PROBLEM).is_not_null() | pl.any_horizontal(
        pl.col(WHY + name).is_not_null() for name in columns
    )


def quarantine_entries(
    bad: pl.LazyFrame,
    *,
    source_file: str,
    columns: Sequence[str],
    labels: Mapping[str, str] | None = None,
) -> pl.LazyFrame:
    """Long quarantine entries (one per row problem or bad cell) of the rows that failed;
    ``labels`` names a staged column as the user knows it (a programme's columns)."""
    pieces = [
        bad.filter(pl.col(ROW_PROBLEM).is_not_null()).select(
            pl.col(SOURCE_ROW).alias("source_row"),
            pl.lit("(row)").alias("column_name"),
            pl.lit(None, dtype=pl.String).alias("raw_value"),
            pl.col(ROW_PROBLEM).alias("reason"),
        )
    ]
    for name in columns:
        pieces.append(
            bad.filter(pl.col(WHY + name).is_not_null() & pl.col(ROW_PROBLEM).is_null()).select(
                pl.col(SOURCE_ROW).alias("source_row"),
                pl.lit((labels or {}).get(name, name)).alias("column_name"),
                as_text(pl.col(RAW + name)).alias("raw_value"),
                pl.col(WHY + name).alias("reason"),
            )
        )
    quarantine = pl.concat(pieces).with_columns(pl.lit(source_file).alias("source_file"))
    return quarantine.select(QUARANTINE_COLUMNS)


@dataclass(frozen=True)
class ColumnMap:
    """What ingest reads from one file: canonical -> raw names, their rules, extra codes."""

    mapping: dict[str, str]
    rules: dict[str, ColumnRule]
    codings: dict[str, BoolCoding] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    """A staged column's name as the user knows it, where it differs (programme columns:
    ``programmes.<name>.receives``)."""


def programme_columns(programmes: Sequence[Programme], *, level: str) -> ColumnMap:
    """The receipt and amount columns of the programmes recorded at ``level`` (household or
    member), under their staged names ``receives__i`` and ``amount__i``."""
    templates = {column.name: column for column in PROGRAMME_COLUMNS}
    mapping, rules, codings, labels = {}, {}, {}, {}
    for index, programme in enumerate(programmes):
        if programme.level != level:
            continue
        for role, raw in (("receives", programme.receives), ("amount", programme.amount)):
            if raw is None:
                continue
            name = programme_column(role, index)
            template = templates[role]
            mapping[name] = raw
            labels[name] = f"programmes.{programme.name}.{role}"
            rules[name] = column_rule(template)
        if programme.receives is not None:
            codings[programme_column("receives", index)] = programme.receipt_codes
    return ColumnMap(mapping, rules, codings, labels)


NEGATIVE_HINT = "welfare.negative = 'quarantine'; 'keep' or 'bottom_code' keep such rows"


def household_columns(
    spec: HouseholdInput,
    *,
    programmes: Sequence[Programme] = (),
    negative_welfare: str = "quarantine",
) -> ColumnMap:
    """What ingest reads from the household file: the mapped canonical columns, the
    household-level programmes' columns and the proxies, with their rules. Negative welfare
    breaks a rule only when it is to be quarantined (welfare.negative)."""
    mapping = {name: raw for name, raw in spec.columns.model_dump().items() if raw is not None}
    rules = mapped_rules("households", mapping)
    if "welfare" in rules and negative_welfare == "quarantine":
        rules["welfare"] = replace(rules["welfare"], minimum=0.0, range_hint=NEGATIVE_HINT)
    canonical = row_rules("households")
    for proxy, proxy_spec in spec.proxies.items():
        if proxy in canonical:
            raise IngestError(
                f"inputs.households.proxies.{proxy}: a proxy cannot reuse a canonical name"
            )
        mapping[proxy] = proxy_spec.column
        rules[proxy] = (
            column_rule(NUMERIC_PROXY) if proxy_spec.kind == "numeric" else ColumnRule("string")
        )
    extra = programme_columns(programmes, level="household")
    return ColumnMap(
        {**mapping, **extra.mapping}, {**rules, **extra.rules}, extra.codings, extra.labels
    )


def member_columns(spec: MemberInput, *, programmes: Sequence[Programme] = ()) -> ColumnMap:
    """What ingest reads from the members file: the mapped columns and the member-level
    programmes' columns, with their rules."""
    mapping = {name: raw for name, raw in spec.columns.model_dump().items() if raw is not None}
    extra = programme_columns(programmes, level="member")
    rules = {**mapped_rules("members", mapping), **extra.rules}
    return ColumnMap({**mapping, **extra.mapping}, rules, extra.codings, extra.labels)
