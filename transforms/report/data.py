"""What the report shows for one run, read from the warehouse: the data layer of the report.

:func:`load_report_data` is the only function of the report that touches DuckDB; it returns a
:class:`ReportData` of polars frames with the contract's columns, empty where a table is
missing, which the view layer (:mod:`transforms.report.view`) formats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from transforms.contract import SCHEMA, table

FRAME_TABLES = (
    "input_files",
    "validation_results",
    "targeting_errors",
    "model_metrics",
    "targeting_curves",
    "matching_indicators",
    "fiscal_indicators",
    "alerts",
    "poverty_lines",
    "programme_overlap",
    "pmt_folds",
)
SQL_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "DOUBLE": pl.Float64(),
    "BIGINT": pl.Int64(),
    "INTEGER": pl.Int32(),
    "BOOLEAN": pl.Boolean(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
}


def empty_frame(name: str) -> pl.DataFrame:
    """An empty frame with the published columns and types of ``audit.<name>``."""
    columns = table(name).columns
    return pl.DataFrame(schema={c.name: SQL_TYPES.get(c.sql_type, pl.String()) for c in columns})


def conform(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """Add the contract's columns a frame lacks (a warehouse older than the contract), as NULL."""
    missing = [(c, t) for c, t in empty_frame(name).schema.items() if c not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in missing)


def _empty(name: str) -> Callable[[], pl.DataFrame]:
    return lambda: empty_frame(name)


@dataclass(frozen=True)
class ReportData:
    """What the report shows for ONE run: its ``audit.runs`` row and its published rows.

    Frames default to empty frames with the contract's columns, so a caller (or a test)
    passes only what it has.
    """

    run: dict[str, Any]
    input_files: pl.DataFrame = field(default_factory=_empty("input_files"))
    validation_results: pl.DataFrame = field(default_factory=_empty("validation_results"))
    targeting_errors: pl.DataFrame = field(default_factory=_empty("targeting_errors"))
    model_metrics: pl.DataFrame = field(default_factory=_empty("model_metrics"))
    targeting_curves: pl.DataFrame = field(default_factory=_empty("targeting_curves"))
    matching_indicators: pl.DataFrame = field(default_factory=_empty("matching_indicators"))
    fiscal_indicators: pl.DataFrame = field(default_factory=_empty("fiscal_indicators"))
    alerts: pl.DataFrame = field(default_factory=_empty("alerts"))
    poverty_lines: pl.DataFrame = field(default_factory=_empty("poverty_lines"))
    programme_overlap: pl.DataFrame = field(default_factory=_empty("programme_overlap"))
    pmt_folds: pl.DataFrame = field(default_factory=_empty("pmt_folds"))
    notes: list[str] = field(default_factory=list)
    run_notes: pl.DataFrame = field(default_factory=_empty("run_notes"))
    """The run's audit.run_notes rows (stage, note): ``notes`` as a table, for the definitions
    the run records there (:mod:`transforms.definitions`)."""


def query(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> pl.DataFrame:
    """A parameterised SELECT as a polars frame (typed, even when empty)."""
    relation = con.sql(sql, params=params)
    if relation is None:
        raise ValueError(f"not a query: {sql}")
    return relation.pl()


def run_rows_sql(name: str, table_type: str) -> str:
    """SELECT of one run's rows of ``audit.<name>`` in the order they were inserted.

    Row order carries meaning: the first poverty line and the first programme published are
    the ones the report leads with. A base table keeps its insertion order in ``rowid``.
    """
    order = " ORDER BY rowid" if table_type == "BASE TABLE" else ""
    return f"SELECT * FROM {SCHEMA}.{name} WHERE run_id = ?{order}"


def load_report_data(con: duckdb.DuckDBPyConnection, run_id: str) -> ReportData:
    """Read one run's rows from schema ``audit``; tables not there become empty frames.

    Open the warehouse with :func:`transforms.io.warehouse.connect` (read-only is enough).
    Raises LookupError when the run is not in ``audit.runs``.
    """
    catalog = query(
        con,
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_schema = ? AND table_catalog = current_database()",
        [SCHEMA],
    )
    existing = dict(zip(catalog["table_name"], catalog["table_type"], strict=True))
    if "runs" not in existing:
        raise LookupError(f"no table {SCHEMA}.runs: this is not an audit warehouse")
    runs = query(con, f"SELECT * FROM {SCHEMA}.runs WHERE run_id = ?", [run_id])
    if runs.height == 0:
        raise LookupError(f"run {run_id!r} is not in {SCHEMA}.runs")
    frames: dict[str, pl.DataFrame] = {"run_notes": empty_frame("run_notes")}
    notes: list[str] = []
    for name in FRAME_TABLES:
        if name in existing:
            frames[name] = conform(query(con, run_rows_sql(name, existing[name]), [run_id]), name)
        else:
            frames[name] = empty_frame(name)
            notes.append(f"Table {SCHEMA}.{name} does not exist in this warehouse.")
    if "run_notes" in existing:  # what the run itself skipped or assumed, and why
        sql = run_rows_sql("run_notes", existing["run_notes"])
        frames["run_notes"] = conform(query(con, sql, [run_id]), "run_notes")
        recorded = frames["run_notes"].to_dicts()
        notes = [f"{r.get('stage') or 'run'}: {r.get('note')}" for r in recorded] + notes
    return ReportData(run=runs.row(0, named=True), notes=notes, **frames)
