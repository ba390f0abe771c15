"""Map raw columns onto the canonical schema, cast them, and split rows into loaded and quarantined.

A row rule that fails never drops a row silently: the row goes to the
quarantine (one entry per failed column, with the raw value and the reason) and
the counts always satisfy rows_read = rows_loaded + rows_quarantined.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from transforms.config import (
    AuditConfig,
    HouseholdInput,
    InputFile,
    MemberInput,
    Programme,
    ProjectionInput,
    RegionInput,
)
from transforms.contract import quote_identifier, quote_literal
from transforms.inputs import input_table
from transforms.io.readers import header_names, text_file_problem
from transforms.io.warehouse import MEMORY_LIMIT_VARIABLE, scratch_connection
from transforms.raw import ROW_PROBLEM, SOURCE_ROW, IngestError, RawTable
from transforms.rules import (
    RAW,
    WHY,
    check_columns,
    flag_not_in,
    header_problem,
    household_columns,
    mapped_rules,
    member_columns,
    problem_mask,
    quarantine_entries,
    select_mapped,
)

FAILED = "__failed"
OCCURRENCES = "__occurrences"
KEY_CHECKED = "__key_checked"
PARTS = ("passed", "failed", "rejected", "loaded", "quarantine")


def work_file(work_dir: Path, role: str, part: str) -> Path:
    """The Parquet file of one of ``PARTS`` of a file's check (``role``: households, …)."""
    return work_dir / f"{role}.{part}.parquet"


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
    rows_with_repeated_key: int = 0
    """Rows whose key (e.g. hh_id) another row of the file carries too (all quarantined)."""

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
    bad: pl.LazyFrame,
    columns: Sequence[str],
    *,
    rejected: Path,
    target: Path,
    source_file: str,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Write the rejected rows' raw values and reasons once, then their quarantine entries."""
    with parse_errors(source_file):
        bad.select(SOURCE_ROW, ROW_PROBLEM, *raw_and_reasons(columns)).sink_parquet(rejected)
    entries = quarantine_entries(
        pl.scan_parquet(rejected, glob=False),
        source_file=source_file,
        columns=columns,
        labels=labels,
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
    labels: Mapping[str, str] | None = None,
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
        work_file(work_dir, role, part) for part in PARTS
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
    write_quarantine(
        bad,
        columns,
        rejected=rejected,
        target=quarantine,
        source_file=source_file,
        labels=labels,
    )
    rows_quarantined = count_quarantined_rows(quarantine, temp_directory=spill)
    if rows_loaded + rows_quarantined != rows_read or rows_quarantined < rows_failed:
        raise AssertionError(
            f"{source_file}: rows_read {rows_read} != loaded {rows_loaded} "
            f"+ quarantined {rows_quarantined} (flagged {rows_failed})"
        )
    repeated = int(duplicates[OCCURRENCES].sum()) if not duplicates.is_empty() else 0
    return CheckedTable(source_file, loaded, quarantine, rows_read, rows_loaded, repeated)


PERSON_ROWS_SHARE = 0.5
"""A household file where this share of the rows repeat a household id holds persons."""


def person_rows_problem(checked: CheckedTable, key: str) -> str | None:
    """Why a file mapped as one row per household looks like one row per person, or None."""
    if (
        not checked.rows_read
        or checked.rows_with_repeated_key < PERSON_ROWS_SHARE * checked.rows_read
    ):
        return None
    return (
        f"{checked.source_file}: {checked.rows_with_repeated_key:,} of {checked.rows_read:,} "
        f"rows repeat a household id (column {key!r}), so the file looks like one row per "
        "person, not per household; all of them would be quarantined. Map the person "
        "file as inputs.members and a household file as inputs.households, or set "
        'inputs.households.level = "persons" with hh_id mapped to a person id (each row its '
        "own unit)."
    )


IDENTIFIER_LIKE_SHARE = 0.5
IDENTIFIER_LIKE_MINIMUM = 100
NAME_LIKE_MINIMUM = 50
NAME_LIKE_SHARE = 0.9
NAME_LIKE = r"^[\p{L}][\p{L}'.\-]*( [\p{L}][\p{L}'.\-]*)*$"
"""Words of letters (any script) separated by single spaces: a name, or free text."""


def refuse_identifier_like_proxies(
    loaded: pl.LazyFrame, spec: HouseholdInput, *, source: str
) -> None:
    """A categorical proxy almost unique per household, or whose many values are nearly all
    words of letters, is an identity, a name or free text: refuse it (a heuristic; a proxy
    with allow_identifier_proxy = true is not checked)."""
    names = loaded.collect_schema().names()
    categorical = [
        proxy
        for proxy, proxy_spec in spec.proxies.items()
        if proxy_spec.kind == "categorical"
        and not proxy_spec.allow_identifier_proxy
        and proxy in names
    ]
    if not categorical:
        return
    counts = loaded.select(
        pl.len().alias("__households"), *[pl.col(proxy).n_unique() for proxy in categorical]
    ).collect(engine="streaming")
    households = int(counts["__households"].item())
    escape = (
        "remove it from inputs.households.proxies, or, if it is an observable characteristic "
        "(e.g. a district name), set allow_identifier_proxy = true on it"
    )
    for proxy in categorical:
        column = spec.proxies[proxy].column
        distinct = int(counts[proxy].item())
        if distinct >= IDENTIFIER_LIKE_MINIMUM and distinct > IDENTIFIER_LIKE_SHARE * households:
            raise IngestError(
                f"{source}: categorical proxy {proxy!r} (column {column!r}) has {distinct:,} "
                f"distinct values in {households:,} households: an identifier, name or free "
                f"text, not a proxy; {escape}"
            )
        if distinct >= NAME_LIKE_MINIMUM:
            values = loaded.select(pl.col(proxy).cast(pl.String).drop_nulls().unique())
            wordy = values.select(
                pl.col(proxy).str.strip_chars().str.contains(NAME_LIKE).mean()
            ).collect(engine="streaming")
            share = wordy.item() or 0.0
            if share >= NAME_LIKE_SHARE:
                raise IngestError(
                    f"{source}: categorical proxy {proxy!r} (column {column!r}) has "
                    f"{distinct:,} distinct values, {share:.0%} of them words of letters: "
                    f"they look like names or free text, which every model file would keep; "
                    f"{escape}"
                )


def table_mapping(spec: RegionInput | ProjectionInput) -> dict[str, str]:
    """A reference table's canonical column -> raw column, for the columns it maps."""
    return {
        name: column for name, column in spec.columns.model_dump().items() if column is not None
    }


def mapped_inputs(
    config: AuditConfig,
) -> list[tuple[str, InputFile, dict[str, str], dict[str, str]]]:
    """Each input file with the raw columns ingest will read: (role, file, canonical -> raw
    column, canonical -> config key)."""
    households = config.inputs.households
    columns = household_columns(
        households,
        programmes=config.programmes,
        negative_welfare=config.welfare.negative_policy,
    )
    found: list[tuple[str, InputFile, dict[str, str], dict[str, str]]] = [
        ("households", households, dict(columns.mapping), dict(columns.labels))
    ]
    if config.inputs.members is not None:
        members = member_columns(config.inputs.members, programmes=config.programmes)
        found.append(
            ("members", config.inputs.members, dict(members.mapping), dict(members.labels))
        )
    for role in ("regions", "projection"):
        spec = getattr(config.inputs, role)
        if spec is not None:
            found.append((role, spec, table_mapping(spec), {}))
    return found


def unreadable_problem(path: Path, role: str) -> str | None:
    """Why an input file cannot be read (permissions, an I/O error), or None: found by opening
    it, so access lists and a dropped root capability count too."""
    if not path.is_file():
        return None  # a missing file or a folder has its own message
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except PermissionError:
        return (
            f"{path}: cannot read the file (permission denied; inputs.{role}.path). Give the "
            "account that runs the audit read access, e.g. chmod o+r, or copy the file"
        )
    except OSError as error:
        return f"{path}: cannot read the file ({error.strerror}; inputs.{role}.path)"
    return None


def check_headers(config: AuditConfig) -> None:
    """Every column the config maps is in its file's header, and no two headers are one name
    after Unicode normalisation, checked before any work (files with a pre-processing hook
    are checked at ingest: the hook may add columns)."""
    for role, spec, mapping, labels in mapped_inputs(config):
        unreadable = unreadable_problem(spec.path, role)
        if unreadable:
            raise IngestError(unreadable)
        if spec.preprocess:
            continue
        if spec.path.is_file() and spec.resolved_format == "csv":
            compressed_or_encoded = text_file_problem(spec)
            if compressed_or_encoded:
                raise IngestError(compressed_or_encoded)
        names = header_names(spec)
        if names is None:
            continue
        problem = header_problem(spec.path, names, mapping, role=role, labels=labels)
        if problem:
            raise problem


def ingest_households(
    raw: RawTable,
    spec: HouseholdInput,
    *,
    known_regions: pl.Series | None,
    work_dir: Path,
    programmes: Sequence[Programme] = (),
    negative_welfare: str = "quarantine",
) -> CheckedTable:
    """Apply the household row rules: types, ranges, unique hh_id, known region."""
    columns = household_columns(spec, programmes=programmes, negative_welfare=negative_welfare)
    mapping, rules = columns.mapping, columns.rules
    frame = check_columns(
        select_mapped(raw, mapping, role="households", labels=columns.labels),
        rules,
        spec,
        columns.codings,
    )
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
        labels=columns.labels,
    )
    refuse_identifier_like_proxies(checked.scan_loaded(), spec, source=str(raw.path))
    return checked


def ingest_members(
    raw: RawTable,
    spec: MemberInput,
    *,
    household_ids: pl.Series,
    work_dir: Path,
    programmes: Sequence[Programme] = (),
) -> CheckedTable:
    """Apply the member row rules; members of unknown or quarantined households are quarantined."""
    columns = member_columns(spec, programmes=programmes)
    mapping, rules = columns.mapping, columns.rules
    frame = check_columns(
        select_mapped(raw, mapping, role="members", labels=columns.labels),
        rules,
        spec,
        columns.codings,
    )
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
        labels=columns.labels,
    )


def ingest_table(
    raw: RawTable, spec: RegionInput | ProjectionInput, *, role: str, work_dir: Path
) -> CheckedTable:
    """Apply the row rules of a small reference table (regions, projection): its contract's
    types and ranges, and unique keys."""
    mapping = table_mapping(spec)
    selected_rules = mapped_rules(role, mapping)
    frame = check_columns(select_mapped(raw, mapping, role=role), selected_rules, spec)
    present_keys = [key for key in input_table(role).keys if key in mapping]
    return checked_table(
        frame,
        source_file=str(raw.path),
        columns=list(selected_rules),
        keys=present_keys,
        key_label=" x ".join(present_keys),
        work_dir=work_dir,
        role=role,
    )
