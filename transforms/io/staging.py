"""Move checked files into the run's DuckDB staging database in bounded memory.

The loaded rows of each file are already Parquet (see ``transforms.io.ingest.checked_table``);
DuckDB copies them into staging tables and aggregates the members to households, spilling
to disk under its memory cap, so the member file is never held whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from transforms.contract import quote_identifier, quote_literal
from transforms.household import member_features_sql
from transforms.io.ingest import CheckedTable


def stage_loaded(staging: duckdb.DuckDBPyConnection, checked: CheckedTable, table_name: str) -> int:
    """Copy a file's loaded rows into a staging table (DuckDB streams the Parquet file and
    keeps its row order)."""
    staging.execute(
        f"CREATE OR REPLACE TABLE {quote_identifier(table_name)} AS SELECT * FROM read_parquet(?)",
        [str(checked.loaded_path)],
    )
    return checked.rows_loaded


def stage_member_features(
    staging: duckdb.DuckDBPyConnection,
    members_table: str = "stg_members",
    features_table: str = "stg_member_features",
    *,
    export: Path | None = None,
) -> int:
    """Aggregate the staged members into one row of features per household (in DuckDB,
    which spills to disk rather than hold the member file); ``export``: also as a Parquet
    file there, which the analysis reads (see :func:`read_staged`)."""
    columns = {
        row[0] for row in staging.sql(f"DESCRIBE {quote_identifier(members_table)}").fetchall()
    }
    query = member_features_sql(quote_identifier(members_table), columns)
    staging.execute(f"CREATE OR REPLACE TABLE {quote_identifier(features_table)} AS {query}")
    if export is not None:
        staging.execute(
            f"COPY {quote_identifier(features_table)} TO {quote_literal(str(export))} "
            "(FORMAT parquet)"
        )
    return int(
        staging.sql(f"SELECT count(*) FROM {quote_identifier(features_table)}").fetchall()[0][0]
    )


def loaded_household_ids(households: CheckedTable) -> pl.Series:
    """The hh_id of every loaded household (one string per household, held for the member
    check)."""
    return households.scan_loaded().select("hh_id").collect(engine="streaming")["hh_id"]


def quarantine_reasons(checked: CheckedTable) -> dict[str, int]:
    """Quarantined rows per reason, each named with its column ("weight: must be > 0")."""
    reasons = (
        pl.scan_parquet(checked.quarantine_path, glob=False)
        .group_by("column_name", "reason")
        .agg(pl.col("source_row").n_unique().alias("rows"))
        .select(
            pl.concat_str(
                pl.col("column_name").fill_null("(row)"), pl.lit(": "), pl.col("reason")
            ).alias("reason"),
            "rows",
        )
        .collect(engine="streaming")
    )
    return dict(zip(reasons["reason"].to_list(), reasons["rows"].to_list(), strict=True))


def read_staged(path: Path, *, exclude: Sequence[str] = ()) -> pl.DataFrame:
    """A staged table from its Parquet file (the households' loaded rows, the exported member
    features), without ``exclude``: the same frame as the staging table's, read by polars.
    Read through DuckDB, the same rows left about twice their size resident (1M households:
    0.56 GiB after the connection closed, for 0.26 GiB of frames; 0.35 GiB from the files)."""
    names = [name for name in pl.read_parquet_schema(path) if name not in set(exclude)]
    return one_chunk_per_column(pl.read_parquet(path, columns=names, glob=False))


def one_chunk_per_column(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with each column in one memory chunk, rechunked one column at a time: the
    frame's own pieces are freed as each column is copied, so at most one column is held
    twice (``DataFrame.rechunk`` holds the whole frame twice). Polars copies a frame whose
    columns are chunked unlike each other at every expression over it (the build's first
    expression copied every household column: +0.25 GiB at 1M)."""
    columns = frame.get_columns()
    del frame  # the caller's reference is the only other one
    for index, column in enumerate(columns):
        columns[index] = column.rechunk()
    return pl.DataFrame(columns)
