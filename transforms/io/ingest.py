"""Map raw columns onto the canonical schema, cast them, and split rows into loaded and quarantined.

A row rule that fails never drops a row silently: the row goes to the
quarantine (one entry per failed column, with the raw value and the reason) and
the counts always satisfy rows_read = rows_loaded + rows_quarantined.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl

from transforms.config import (
    BoolCoding,
    HouseholdInput,
    InputFile,
    MemberInput,
    ProjectionInput,
    RegionInput,
)
from transforms.contract import quote_identifier, quote_literal
from transforms.io.warehouse import MEMORY_LIMIT_VARIABLE, scratch_connection
from transforms.raw import (
    ROW_PROBLEM,
    SOURCE_ROW,
    IngestError,
    RawTable,
    as_text,
    relabelled,
)

Kind = Literal["string", "float", "int", "bool"]
RAW = "__raw__"
FAILED = "__failed"
OCCURRENCES = "__occurrences"
KEY_CHECKED = "__key_checked"
PARTS = ("passed", "failed", "rejected", "loaded", "quarantine")
WHY = "__why__"
QUARANTINE_COLUMNS = ("source_file", "source_row", "column_name", "raw_value", "reason")


@dataclass(frozen=True)
class ColumnRule:
    """The canonical type and allowed range of one column."""

    kind: Kind
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False


HOUSEHOLD_RULES: dict[str, ColumnRule] = {
    "hh_id": ColumnRule("string", required=True),
    "region": ColumnRule("string", required=True),
    "urban": ColumnRule("bool"),
    "weight": ColumnRule("float", required=True, minimum=0.0, exclusive_minimum=True),
    "strata": ColumnRule("string", required=True),
    "psu": ColumnRule("string", required=True),
    "hh_size": ColumnRule("int", required=True, minimum=1, maximum=100),
    "welfare": ColumnRule("float", required=True, minimum=0.0),
    "receives_benefit": ColumnRule("bool", required=True),
    "benefit_amount": ColumnRule("float", minimum=0.0),
}
MEMBER_RULES: dict[str, ColumnRule] = {
    "hh_id": ColumnRule("string", required=True),
    "person_id": ColumnRule("string", required=True),
    "age": ColumnRule("int", required=True, minimum=0, maximum=120),
    "sex": ColumnRule("string"),
    "is_head": ColumnRule("bool"),
    "education_years": ColumnRule("float", minimum=0, maximum=30),
    "disabled": ColumnRule("bool"),
    "employed": ColumnRule("bool"),
}
REGION_RULES: dict[str, ColumnRule] = {
    "region": ColumnRule("string", required=True),
    "poverty_line": ColumnRule("float", required=True, minimum=0.0, exclusive_minimum=True),
    "price_index": ColumnRule("float", required=True, minimum=0.0, exclusive_minimum=True),
    "benefit_standard": ColumnRule("float", minimum=0.0),
    "population": ColumnRule("float", minimum=0.0, exclusive_minimum=True),
}
PROJECTION_RULES: dict[str, ColumnRule] = {
    "year": ColumnRule("int", required=True, minimum=1900, maximum=2200),
    "age_group": ColumnRule("string", required=True),
    "population": ColumnRule("float", required=True, minimum=0.0),
    "region": ColumnRule("string"),
}


@dataclass(frozen=True)
class CheckedTable:
    """A file after the row rules, as files: loaded rows (typed) and quarantine entries.

    Both live in Parquet files in the run's work folder, so a file larger than memory is
    checked and staged in pieces; ``read_loaded``/``read_quarantine`` load them whole
    (small tables and tests only).
    """

    source_file: str
    loaded_path: Path
    quarantine_path: Path
    rows_read: int
    rows_loaded: int

    @property
    def rows_quarantined(self) -> int:
        """Distinct raw rows that were quarantined."""
        return self.rows_read - self.rows_loaded

    def scan_loaded(self) -> pl.LazyFrame:
        """The loaded rows, lazily: ``__source_row`` and the typed canonical columns."""
        return pl.scan_parquet(self.loaded_path, glob=False)

    def read_loaded(self) -> pl.DataFrame:
        """The loaded rows in file order, in memory."""
        return pl.read_parquet(self.loaded_path, glob=False)

    def read_quarantine(self) -> pl.DataFrame:
        """The quarantine entries ordered by row and column, in memory."""
        return pl.read_parquet(self.quarantine_path, glob=False).sort("source_row", "column_name")


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


@contextmanager
def parse_errors(source_file: str) -> Iterator[None]:
    """Turn a polars error while reading a file into an IngestError naming the file."""
    try:
        yield
    except pl.exceptions.PolarsError as error:  # e.g. an unterminated quote swallows the file
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else type(error).__name__
        raise IngestError(f"{source_file}: cannot be parsed ({first_line})") from error


SEPARATE_PLANS = pl.QueryOptFlags(comm_subplan_elim=False)
"""The quarantine's pieces each re-read the rejected rows' file: a shared (cached) read would
hold them whole."""


def raw_and_reasons(columns: Sequence[str]) -> list[str]:
    """The raw-value and reason columns of the checked frame, for the rejected rows' file."""
    return [prefix + name for name in columns for prefix in (RAW, WHY)]


def duplicate_keys(
    passed: Path, failed: Path, keys: Sequence[str], *, temp_directory: Path, source_file: str
) -> pl.DataFrame:
    """Key values that occur more than once in the file, with how often (NULL is one value).

    Counted over the rows that passed and the failed rows whose key columns themselves are
    valid (a malformed key, e.g. year "2022.5", must not collide with a good one). DuckDB
    counts them, spilling to disk when the keys do not fit in memory; its connection is
    closed before the next pass so that its memory is given back.
    """
    key_list = ", ".join(quote_identifier(key) for key in keys)
    try:
        with scratch_connection(temp_directory) as con:
            return con.sql(
                f"""
                -- every key value, null included, that more than one row of the file carries
                WITH keyed AS (
                    SELECT {key_list} FROM read_parquet({quote_literal(str(passed))})
                    UNION ALL
                    SELECT {key_list} FROM read_parquet({quote_literal(str(failed))})
                    WHERE {KEY_CHECKED}
                )
                SELECT {key_list}, count(*) AS {OCCURRENCES}
                FROM keyed
                GROUP BY {key_list}
                HAVING count(*) > 1
                """
            ).pl()
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise IngestError(
            f"{source_file}: cannot check {', '.join(keys)} for duplicates ({first_line}). "
            f"If memory is short, set {MEMORY_LIMIT_VARIABLE} higher or free disk space for "
            "DuckDB's spill files."
        ) from error


def count_quarantined_rows(quarantine: Path, *, temp_directory: Path) -> int:
    """Distinct raw rows among the quarantine entries (DuckDB, spilling if need be)."""
    with scratch_connection(temp_directory) as con:
        counted = con.execute(
            "SELECT count(DISTINCT source_row) FROM read_parquet(?)", [str(quarantine)]
        ).fetchall()
    return int(counted[0][0])


def drop_duplicated_keys(
    passed: Path, duplicates: pl.DataFrame, keys: Sequence[str], target: Path
) -> None:
    """Write the passed rows whose key is unique, in file order (a streaming pass that holds
    only the duplicated keys: few, in a file worth auditing)."""
    pl.scan_parquet(passed, glob=False).join(
        duplicates.lazy().select(keys),
        on=list(keys),
        how="anti",
        nulls_equal=True,
        maintain_order="left",
    ).sink_parquet(target)


def parquet_rows(path: Path) -> int:
    """Rows in a Parquet file (from its metadata)."""
    return int(pl.scan_parquet(path, glob=False).select(pl.len()).collect().item())


def with_duplicate_reasons(
    frame: pl.LazyFrame, duplicates: pl.DataFrame, keys: Sequence[str], *, label: str
) -> pl.LazyFrame:
    """Give every row whose key occurs more than once a reason on the first key column."""
    if duplicates.is_empty():
        return frame.with_columns(pl.lit(None, dtype=pl.UInt32).alias(OCCURRENCES))
    counts = duplicates.lazy().with_columns(pl.col(OCCURRENCES).cast(pl.UInt32))
    joined = frame.join(counts, on=list(keys), how="left", nulls_equal=True, maintain_order="left")
    first = keys[0]
    reason = pl.format(f"{label} occurs {{}} times in the file", pl.col(OCCURRENCES))
    return joined.with_columns(pl.coalesce(pl.col(WHY + first), reason).alias(WHY + first))


def split_passed_and_failed(
    typed: pl.LazyFrame, keys: Sequence[str], *, passed: Path, failed: Path, source_file: str
) -> None:
    """One streaming pass: rows that passed the row rules (typed) to ``passed``; the failed
    rows' numbers, keys and whether those keys are valid to ``failed``."""
    with parse_errors(source_file):
        pl.collect_all(
            [
                typed.filter(~pl.col(FAILED))
                .drop(FAILED, KEY_CHECKED)
                .sink_parquet(passed, lazy=True),
                typed.filter(pl.col(FAILED))
                .select(SOURCE_ROW, *keys, KEY_CHECKED)
                .sink_parquet(failed, lazy=True),
            ],
            engine="streaming",
        )


def write_quarantine(
    bad: pl.LazyFrame, columns: Sequence[str], *, rejected: Path, target: Path, source_file: str
) -> None:
    """Write the rejected rows' raw values and reasons once, then their quarantine entries."""
    with parse_errors(source_file):
        bad.select(SOURCE_ROW, ROW_PROBLEM, *raw_and_reasons(columns)).sink_parquet(rejected)
    entries = quarantine_entries(
        pl.scan_parquet(rejected, glob=False), source_file=source_file, columns=columns
    )
    entries.sink_parquet(target, optimizations=SEPARATE_PLANS)
    rejected.unlink()


def checked_table(
    frame: pl.LazyFrame,
    *,
    source_file: str,
    columns: Sequence[str],
    keys: Sequence[str],
    key_label: str,
    work_dir: Path,
    role: str,
) -> CheckedTable:
    """Check a file in a streaming pass, split loaded rows from quarantined ones, as files.

    1. One streaming pass writes the rows that passed the row rules (typed) to one Parquet
       file and the failed rows' numbers and keys to another.
    2. DuckDB finds keys that occur more than once; rows carrying one are taken out of the
       loaded rows (a second pass only when there are such keys).
    3. Only when some rows failed, another pass writes their raw values and reasons (to a
       file the quarantine entries are then unpivoted from).
    Memory stays bounded by polars' streaming batches and DuckDB's cap (it spills), not by
    the file's size. Nothing is lost: loaded + quarantined rows = rows read, or an error.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    passed, failed, rejected, loaded, quarantine = (
        work_dir / f"{role}.{part}.parquet" for part in PARTS
    )
    is_bad = problem_mask(columns)
    key_is_valid = pl.col(ROW_PROBLEM).is_null() & ~pl.any_horizontal(
        [pl.lit(False), *[pl.col(WHY + key).is_not_null() for key in keys]]
    )
    typed = frame.select(
        SOURCE_ROW, *columns, is_bad.alias(FAILED), key_is_valid.alias(KEY_CHECKED)
    )
    split_passed_and_failed(typed, keys, passed=passed, failed=failed, source_file=source_file)
    rows_failed = parquet_rows(failed)
    rows_read = parquet_rows(passed) + rows_failed
    spill = work_dir / ".duckdb.tmp"
    duplicates = (
        duplicate_keys(passed, failed, keys, temp_directory=spill, source_file=source_file)
        if keys
        else pl.DataFrame()
    )
    failed.unlink()
    if duplicates.is_empty():
        passed.replace(loaded)
    else:
        drop_duplicated_keys(passed, duplicates, keys, loaded)
        passed.unlink()
    rows_loaded = parquet_rows(loaded)
    bad = with_duplicate_reasons(frame, duplicates, keys, label=key_label).filter(
        is_bad | pl.col(OCCURRENCES).is_not_null()
    )
    if rows_loaded == rows_read:
        bad = bad.head(0)  # nothing failed: no second pass over the file
    write_quarantine(bad, columns, rejected=rejected, target=quarantine, source_file=source_file)
    rows_quarantined = count_quarantined_rows(quarantine, temp_directory=spill)
    if rows_loaded + rows_quarantined != rows_read or rows_quarantined < rows_failed:
        raise AssertionError(
            f"{source_file}: rows_read {rows_read} != loaded {rows_loaded} "
            f"+ quarantined {rows_quarantined} (flagged {rows_failed})"
        )
    return CheckedTable(source_file, loaded, quarantine, rows_read, rows_loaded)


def household_columns(spec: HouseholdInput) -> tuple[dict[str, str], dict[str, ColumnRule]]:
    """Canonical -> raw mapping and rules for the household file, proxies included."""
    mapping = {name: raw for name, raw in spec.columns.model_dump().items() if raw is not None}
    rules = {name: HOUSEHOLD_RULES[name] for name in mapping}
    for proxy, proxy_spec in spec.proxies.items():
        if proxy in HOUSEHOLD_RULES:
            raise IngestError(
                f"inputs.households.proxies.{proxy}: a proxy cannot reuse a canonical name"
            )
        mapping[proxy] = proxy_spec.column
        rules[proxy] = ColumnRule("float" if proxy_spec.kind == "numeric" else "string")
    return mapping, rules


IDENTIFIER_LIKE_SHARE = 0.5
IDENTIFIER_LIKE_MINIMUM = 100


def refuse_identifier_like_proxies(
    loaded: pl.LazyFrame, spec: HouseholdInput, *, source: str
) -> None:
    """A categorical proxy almost unique per household is an identity or free text: refuse it."""
    names = loaded.collect_schema().names()
    categorical = [
        proxy
        for proxy, proxy_spec in spec.proxies.items()
        if proxy_spec.kind == "categorical" and proxy in names
    ]
    if not categorical:
        return
    counts = loaded.select(
        pl.len().alias("__households"), *[pl.col(proxy).n_unique() for proxy in categorical]
    ).collect(engine="streaming")
    households = int(counts["__households"].item())
    for proxy in categorical:
        distinct = int(counts[proxy].item())
        if distinct >= IDENTIFIER_LIKE_MINIMUM and distinct > IDENTIFIER_LIKE_SHARE * households:
            raise IngestError(
                f"{source}: categorical proxy {proxy!r} (column {spec.proxies[proxy].column!r}) "
                f"has {distinct:,} distinct values in {households:,} households: an identifier, "
                "name or free text, not a proxy; remove it from inputs.households.proxies"
            )


def ingest_households(
    raw: RawTable, spec: HouseholdInput, *, known_regions: pl.Series | None, work_dir: Path
) -> CheckedTable:
    """Apply the household row rules: types, ranges, unique hh_id, known region."""
    mapping, rules = household_columns(spec)
    frame = check_columns(select_mapped(raw, mapping, role="households"), rules, spec)
    if known_regions is not None:
        frame = flag_not_in(frame, "region", known_regions, reason="region not in the regions file")
    checked = checked_table(
        frame,
        source_file=str(raw.path),
        columns=list(rules),
        keys=["hh_id"],
        key_label="hh_id",
        work_dir=work_dir,
        role="households",
    )
    refuse_identifier_like_proxies(checked.scan_loaded(), spec, source=str(raw.path))
    return checked


def ingest_members(
    raw: RawTable, spec: MemberInput, *, household_ids: pl.Series, work_dir: Path
) -> CheckedTable:
    """Apply the member row rules; members of unknown or quarantined households are quarantined."""
    mapping = {
        name: column for name, column in spec.columns.model_dump().items() if column is not None
    }
    rules = {name: MEMBER_RULES[name] for name in mapping}
    frame = check_columns(select_mapped(raw, mapping, role="members"), rules, spec)
    frame = flag_not_in(
        frame, "hh_id", household_ids, reason="household not loaded (unknown or quarantined hh_id)"
    )
    return checked_table(
        frame,
        source_file=str(raw.path),
        columns=list(rules),
        keys=["person_id", "hh_id"],
        key_label="person_id within its household",
        work_dir=work_dir,
        role="members",
    )


def ingest_table(
    raw: RawTable,
    spec: RegionInput | ProjectionInput,
    rules: Mapping[str, ColumnRule],
    *,
    role: str,
    keys: Sequence[str],
    work_dir: Path,
) -> CheckedTable:
    """Apply row rules to a small reference table (regions, projection) with unique keys."""
    mapping = {
        name: column for name, column in spec.columns.model_dump().items() if column is not None
    }
    selected_rules = {name: rules[name] for name in mapping}
    frame = check_columns(select_mapped(raw, mapping, role=role), selected_rules, spec)
    present_keys = [key for key in keys if key in mapping]
    return checked_table(
        frame,
        source_file=str(raw.path),
        columns=list(selected_rules),
        keys=present_keys,
        key_label=" x ".join(present_keys),
        work_dir=work_dir,
        role=role,
    )
