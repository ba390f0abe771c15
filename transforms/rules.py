"""Row rules: map raw columns onto the canonical schema, type them and give each bad value a reason.

Pure polars expressions over a raw table (``transforms.raw``); the rules themselves are read
from the input contract (:mod:`transforms.inputs`). A value that breaks a rule gives its row a
reason and the row goes to the quarantine (``transforms.io.ingest`` writes both), so rows are
never dropped silently: rows_read = rows_loaded + rows_quarantined.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from transforms.config import BoolCoding, HouseholdInput, InputFile
from transforms.inputs import Kind, input_table
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


def row_rules(role: str) -> dict[str, ColumnRule]:
    """The row rules of an input file's canonical columns, from the input contract."""
    return {
        column.name: ColumnRule(
            column.kind,
            required=not column.nullable,
            minimum=column.minimum,
            maximum=column.maximum,
            exclusive_minimum=column.exclusive_minimum,
        )
        for column in input_table(role).columns
    }


def mapped_rules(role: str, mapping: Mapping[str, str]) -> dict[str, ColumnRule]:
    """The rules of the canonical columns a file maps."""
    rules = row_rules(role)
    return {name: rules[name] for name in mapping}


def select_mapped(raw: RawTable, mapping: Mapping[str, str], *, role: str) -> pl.LazyFrame:
    """Pick and rename the mapped raw columns; a missing raw column is one clear error."""
    missing = {canonical: name for canonical, name in mapping.items() if name not in raw.columns}
    if missing:
        wanted = ", ".join(f"{canonical} -> '{name}'" for canonical, name in missing.items())
        shown = ", ".join(repr(name) for name in raw.columns[:25])
        hint = ""
        if len(raw.columns) == 1 and any(sep in raw.columns[0] for sep in ",;\t|"):
            hint = " The file has a single column: is csv.delimiter right?"
        raise IngestError(
            f"{raw.path}: {role} column(s) mapped in the config are not in the file: {wanted}. "
            f"Columns found: {shown}.{hint}"
        )
    renamed = [pl.col(name).alias(canonical) for canonical, name in mapping.items()]
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
    if rule.minimum is not None and rule.exclusive_minimum:
        checks.append((number <= rule.minimum, f"must be > {rule.minimum:g}"))
    elif rule.minimum is not None:
        checks.append((number < rule.minimum, f"must be >= {rule.minimum:g}"))
    if rule.maximum is not None:
        checks.append((number > rule.maximum, f"must be <= {rule.maximum:g}"))
    return pl.coalesce([pl.when(present & failed).then(pl.lit(text)) for failed, text in checks])


def check_columns(
    frame: pl.LazyFrame, rules: Mapping[str, ColumnRule], spec: InputFile
) -> pl.LazyFrame:
    """Add typed values, the raw value (as read; text only once quarantined) and a reason
    column for every mapped canonical column."""
    schema = frame.collect_schema()
    present = [name for name in rules if name in schema.names()]
    parsed = [
        parse_value(
            name,
            rules[name],
            coding=spec.booleans.get(name, BoolCoding()),
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
    bad: pl.LazyFrame, *, source_file: str, columns: Sequence[str]
) -> pl.LazyFrame:
    """Long quarantine entries (one per row problem or bad cell) of the rows that failed."""
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
                pl.lit(name).alias("column_name"),
                as_text(pl.col(RAW + name)).alias("raw_value"),
                pl.col(WHY + name).alias("reason"),
            )
        )
    quarantine = pl.concat(pieces).with_columns(pl.lit(source_file).alias("source_file"))
    return quarantine.select(QUARANTINE_COLUMNS)


def household_columns(spec: HouseholdInput) -> tuple[dict[str, str], dict[str, ColumnRule]]:
    """Canonical -> raw mapping and rules for the household file, proxies included."""
    mapping = {name: raw for name, raw in spec.columns.model_dump().items() if raw is not None}
    rules = mapped_rules("households", mapping)
    canonical = row_rules("households")
    for proxy, proxy_spec in spec.proxies.items():
        if proxy in canonical:
            raise IngestError(
                f"inputs.households.proxies.{proxy}: a proxy cannot reuse a canonical name"
            )
        mapping[proxy] = proxy_spec.column
        rules[proxy] = ColumnRule("float" if proxy_spec.kind == "numeric" else "string")
    return mapping, rules
