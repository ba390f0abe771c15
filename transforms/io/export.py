"""Export one run's published tables as CSV, Parquet or Stata files, with a data dictionary.

For analysts who work in Stata, R or a spreadsheet rather than DuckDB. Every table of the
warehouse's ``audit`` schema is written with the rows of one run, in a stable order, beside:

- ``data_dictionary.csv``: table, column, DuckDB type, type in the file, description (the
  same descriptions as the warehouse's comments and docs/data-dictionary.md);
- ``manifest.json``: the run, the warehouse it came from, when, and every file's rows and
  SHA-256, so a copy can be checked.

The folder is written under a temporary name and renamed when complete: an interrupted export
leaves no half folder behind under the final name, and an existing export is never overwritten.

Stata files (.dta, version 15, readable by Stata 14 and later) differ from the warehouse where
the format cannot hold a value, and the dictionary says so per column: booleans are 0/1
integers, integers are doubles (exact up to 2^53), timestamps are in UTC without a time zone,
and a missing text is an empty string (Stata has no other missing text).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import duckdb
import polars as pl

from transforms.contract import SCHEMA, TABLES, quote_identifier, quote_literal

RAW_VALUE_TABLES = ("quarantine",)
"""Tables whose rows hold raw input values (which may hold identifiers): left out unless asked."""
STATA_LABEL_LENGTH = 80
"""The longest variable label a .dta file holds; the full text is in the dictionary."""


class ExportFormat(StrEnum):
    """The file formats an export can write."""

    csv = "csv"
    parquet = "parquet"
    dta = "dta"


class ExportError(Exception):
    """The export cannot be written; the message names the run or folder and what to do."""


@dataclass(frozen=True)
class ExportedFile:
    """One table written to one file."""

    table: str
    file: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class Export:
    """What an export wrote, and what it left out on purpose."""

    folder: Path
    files: list[ExportedFile]
    left_out: list[str]


def run_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The contract's tables present in this warehouse, by name (every one holds rows per run;
    a table stored in files beside the warehouse is present as a view of its name)."""
    rows = con.execute(
        """
        SELECT table_name FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name = ?
        UNION
        SELECT view_name FROM duckdb_views()
        WHERE database_name = current_database() AND schema_name = ?
        """,
        [SCHEMA, SCHEMA],
    ).fetchall()
    present = {str(row[0]) for row in rows}
    return sorted(spec.name for spec in TABLES if spec.name in present)


def check_run(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Refuse a run id the warehouse does not hold, listing the newest ones it does."""
    known = con.execute(
        f"SELECT run_id FROM {SCHEMA}.runs ORDER BY started_at DESC LIMIT 5"
    ).fetchall()
    found = con.execute(f"SELECT count(*) FROM {SCHEMA}.runs WHERE run_id = ?", [run_id])
    if found.fetchall()[0][0] == 0:
        newest = ", ".join(str(row[0]) for row in known) or "none"
        raise ExportError(
            f"run {run_id!r} is not in this warehouse (newest runs: {newest}); "
            "see `welfare-audit runs`"
        )


def run_rows_sql(table_name: str, run_id: str) -> str:
    """One run's rows of a table, in a stable order (every column, left to right)."""
    return (
        f"SELECT * FROM {SCHEMA}.{quote_identifier(table_name)} "
        f"WHERE run_id = {quote_literal(run_id)} ORDER BY ALL"
    )


def column_descriptions(con: duckdb.DuckDBPyConnection, tables: list[str]) -> pl.DataFrame:
    """table, column, duckdb_type, description of every exported column, from the
    warehouse's own comments."""
    return con.sql(
        """
        SELECT table_name AS "table", column_name AS "column", data_type AS duckdb_type,
               coalesce(comment, '') AS description
        FROM duckdb_columns()
        WHERE database_name = current_database() AND schema_name = ?
          AND list_contains(?, table_name)
        ORDER BY table_name, column_index
        """,
        params=[SCHEMA, tables],
    ).pl()


def stata_type(duckdb_type: str) -> str:
    """How a DuckDB column is stored in a .dta file."""
    if duckdb_type == "BOOLEAN":
        return "int (0 = false, 1 = true)"
    if duckdb_type.startswith("TIMESTAMP"):
        return "datetime %tc (UTC)"
    if duckdb_type in {"VARCHAR", "UUID"}:
        return "str / strL (missing: empty string)"
    return "double"


def file_type(duckdb_type: str, export_format: ExportFormat) -> str:
    """The column's type in the exported file."""
    if export_format == ExportFormat.dta:
        return stata_type(duckdb_type)
    if export_format == ExportFormat.csv:
        return f"text of {duckdb_type}"
    return duckdb_type


def dictionary(descriptions: pl.DataFrame, export_format: ExportFormat) -> pl.DataFrame:
    """The data dictionary written beside the files."""
    return descriptions.with_columns(
        pl.col("duckdb_type")
        .map_elements(lambda kind: file_type(kind, export_format), return_dtype=pl.String)
        .alias("type_in_file"),
    ).select("table", "column", "duckdb_type", "type_in_file", "description")


def for_stata(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame a .dta file can hold: booleans as 0/1, timestamps in naive UTC, missing text
    as ''."""
    conversions = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Boolean:
            conversions.append(pl.col(name).cast(pl.Int32))
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            conversions.append(pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None))
        elif dtype == pl.String:
            conversions.append(pl.col(name).fill_null(""))
    return frame.with_columns(conversions) if conversions else frame


def stata_labels(descriptions: pl.DataFrame, table_name: str) -> dict[str, str | None]:
    """Variable labels of one table, cut to what a .dta file holds."""
    rows = descriptions.filter(pl.col("table") == table_name)
    return {
        column: (text[:STATA_LABEL_LENGTH] or None)
        for column, text in zip(rows["column"], rows["description"], strict=True)
    }


def write_table(
    con: duckdb.DuckDBPyConnection,
    table_name: str,
    run_id: str,
    target: Path,
    export_format: ExportFormat,
    descriptions: pl.DataFrame,
) -> int:
    """Write one run's rows of one table to ``target``; the number of rows."""
    query = run_rows_sql(table_name, run_id)
    if export_format == ExportFormat.dta:
        import pyreadstat

        frame = for_stata(con.sql(query).pl())
        pyreadstat.write_dta(
            frame,
            str(target),
            file_label=f"welfare-audit {table_name}, run {run_id}"[:STATA_LABEL_LENGTH],
            column_labels=stata_labels(descriptions, table_name),
        )
        return frame.height
    options = "FORMAT parquet" if export_format == ExportFormat.parquet else "FORMAT csv, HEADER"
    con.execute(f"COPY ({query}) TO {quote_literal(str(target))} ({options})")
    counted = con.sql(f"SELECT count(*) FROM ({query})").fetchall()
    return int(counted[0][0])


def sha256(path: Path) -> str:
    """The file's SHA-256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def folder_written_whole(folder: Path) -> Iterator[Path]:
    """A temporary folder beside ``folder``, renamed to it when the block ends without error
    and removed otherwise; an existing ``folder`` is refused, never overwritten."""
    if folder.exists():
        raise ExportError(
            f"{folder}: already exists; nothing was written. Remove it, or choose another "
            "folder with --out"
        )
    partial = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    try:
        partial.mkdir(parents=True, exist_ok=False)
    except OSError as error:
        raise ExportError(f"{folder.parent}: cannot create the export folder ({error})") from None
    try:
        yield partial
        os.replace(partial, folder)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)


def manifest(run_id: str, warehouse: Path, export_format: ExportFormat, export: Export) -> str:
    """The manifest's JSON text."""
    return json.dumps(
        {
            "run_id": run_id,
            "warehouse": str(warehouse),
            "format": export_format.value,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [file.__dict__ for file in export.files],
            "left_out": export.left_out,
        },
        indent=2,
    )


def export_run(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    warehouse: Path,
    folder: Path,
    export_format: ExportFormat,
    with_raw_values: bool = False,
) -> Export:
    """Write every table of one run to ``folder`` (created whole, or not at all)."""
    check_run(con, run_id)
    tables = run_tables(con)
    left_out = [] if with_raw_values else [name for name in tables if name in RAW_VALUE_TABLES]
    chosen = [name for name in tables if name not in left_out]
    descriptions = column_descriptions(con, chosen)
    with folder_written_whole(folder) as partial:
        files = []
        for table_name in chosen:
            name = f"{table_name}.{export_format.value}"
            rows = write_table(con, table_name, run_id, partial / name, export_format, descriptions)
            files.append(ExportedFile(table_name, name, rows, sha256(partial / name)))
        dictionary(descriptions, export_format).write_csv(partial / "data_dictionary.csv")
        result = Export(folder, files, left_out)
        (partial / "manifest.json").write_text(
            manifest(run_id, warehouse, export_format, result) + "\n"
        )
    return result
