"""Look for a survey's raw household and person identifiers in what the audit leaves behind.

Usage (from the repository root):
    .venv/bin/python -m tests.raw_identifiers CONFIG PATH [PATH ...]

Reads the raw identifiers from the survey's input files (the columns the config maps to
``hh_id`` and ``person_id``), then looks for them in every file under each PATH (the output
folder, the warehouse, the Prefect home): DuckDB files are queried (their text is
compressed on disk), Parquet files read, joblib model files unpickled (trusted: our own
test output), workbooks unzipped, every other file read as bytes (and the base64 values of
JSON files decoded: Prefect's persisted results are base64 pickles). Prints each place
an identifier was found and exits 1; exits 0 when none was. Identifiers shorter than
``MIN_LENGTH`` characters (a person number such as "01") are not searched: they would match
everywhere; the script says how many it skipped.
"""

from __future__ import annotations

import base64
import json
import pickle
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb
import polars as pl

from transforms.config import AuditConfig, InputFile, load_config
from transforms.io.readers import read_raw
from transforms.raw import as_text

MIN_LENGTH = 6
DUCKDB_SUFFIXES = (".duckdb", ".work")
CHUNK = 1 << 22
OVERLAP = 1024


def raw_column(spec: InputFile, column: str, work_dir: Path) -> set[str]:
    """A raw file's column, as text, as the ingest reads it."""
    raw = read_raw(spec, work_dir)
    return set(raw.frame.select(as_text(pl.col(column))).collect()[column].drop_nulls())


def identifiers(config: AuditConfig, work_dir: Path) -> tuple[set[str], int]:
    """The raw ids of the households and members files worth searching, and how many were
    too short to search."""
    households = config.inputs.households
    found = raw_column(households, households.columns.hh_id, work_dir)
    if config.inputs.members is not None:
        members = config.inputs.members
        found |= raw_column(members, members.columns.person_id, work_dir)
    searched = {value for value in found if len(value) >= MIN_LENGTH}
    return searched, len(found) - len(searched)


def files_under(paths: Iterable[Path]) -> Iterator[Path]:
    """Every regular file under the paths (a path may be a file), symlinks not followed."""
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.is_file() and not p.is_symlink())


def duckdb_texts(path: Path) -> Iterator[str]:
    """Every text value of every table in a DuckDB file."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.sql(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE data_type = 'VARCHAR' AND NOT internal"
        ).fetchall()
        for schema, table, column in columns:
            rows = con.execute(f'SELECT DISTINCT "{column}" FROM "{schema}"."{table}"').fetchall()
            yield from (str(row[0]) for row in rows if row[0] is not None)


def parquet_texts(path: Path) -> Iterator[str]:
    """Every text value of a Parquet file."""
    frame = pl.read_parquet(path)
    for name, dtype in frame.schema.items():
        if dtype == pl.String or dtype == pl.Categorical:
            yield from frame[name].cast(pl.String).drop_nulls().unique()


def byte_tokens(data: bytes) -> Iterator[str]:
    """Bytes as text, one latin-1 character per byte (identifiers are searched in their
    UTF-8 bytes too), in overlapping chunks: identifiers may sit back to back without a
    separator, as in a pickled polars column."""
    for start in range(0, max(len(data), 1), CHUNK):
        yield data[start : start + CHUNK + OVERLAP].decode("latin-1")


def texts_of(path: Path) -> Iterator[str]:
    """What an identifier could hide in, per kind of file."""
    if path.suffix in DUCKDB_SUFFIXES:
        try:
            yield from duckdb_texts(path)
            return
        except duckdb.Error:
            pass  # a torn copy: read its bytes
    if path.suffix == ".parquet":
        yield from parquet_texts(path)
        return
    if path.suffix == ".joblib":
        import joblib

        yield from byte_tokens(pickle.dumps(joblib.load(path)))
        return
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as workbook:
            for member in workbook.namelist():
                yield from byte_tokens(workbook.read(member))
        return
    data = path.read_bytes()
    yield from byte_tokens(data)
    yield from encoded_tokens(data)


def encoded_tokens(data: bytes) -> Iterator[str]:
    """Tokens of the base64 values of a JSON document (Prefect stores results as base64
    pickles in JSON); nothing for other files."""
    try:
        document = json.loads(data)
    except ValueError:
        return
    for value in json_strings(document):
        if len(value) >= 16:
            try:
                yield from byte_tokens(base64.b64decode(value.replace("\n", ""), validate=True))
            except ValueError:
                continue


def json_strings(document: object) -> Iterator[str]:
    """Every string value of a parsed JSON document."""
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from json_strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from json_strings(value)


def search_patterns(wanted: set[str]) -> list[str]:
    """The identifiers as text and as their UTF-8 bytes read as latin-1 (see byte_tokens)."""
    return sorted(wanted | {value.encode("utf-8").decode("latin-1") for value in wanted})


def found_in(path: Path, patterns: list[str]) -> set[str]:
    """The identifiers that occur anywhere in a file's texts (Aho-Corasick, by polars)."""
    texts = pl.Series("text", list(texts_of(path)), dtype=pl.String)
    if texts.is_empty():
        return set()
    matches = texts.str.extract_many(patterns, ascii_case_insensitive=False).explode()
    return set(matches.drop_nulls().to_list())


def scan(paths: Iterable[Path], wanted: set[str]) -> dict[Path, set[str]]:
    """Each file holding an identifier, with the identifiers found there."""
    hits: dict[Path, set[str]] = {}
    patterns = search_patterns(wanted)
    for path in files_under(paths):
        found = found_in(path, patterns)
        if found:
            hits[path] = found
    return hits


def main(arguments: list[str]) -> int:
    """Scan the paths for the config's raw identifiers; print hits; 1 if any, else 0."""
    if len(arguments) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    config = load_config(Path(arguments[0]))
    import tempfile

    with tempfile.TemporaryDirectory() as work_dir:
        wanted, skipped = identifiers(config, Path(work_dir))
    hits = scan([Path(p) for p in arguments[1:]], wanted)
    print(f"searched {len(wanted):,} identifiers ({skipped:,} shorter than {MIN_LENGTH} skipped)")
    for path, found in hits.items():
        print(f"{path}: {len(found):,} identifiers, e.g. {sorted(found)[:3]}")
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
