"""`welfare-audit export`: one run's tables as CSV, Parquet or Stata files, read back against
the warehouse value by value, with the data dictionary and manifest beside them."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyreadstat
import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.audit_run import AuditRun
from transforms.io.export import (
    ExportError,
    ExportFormat,
    export_run,
    folder_written_whole,
    for_stata,
    run_rows_sql,
)
from transforms.io.warehouse import connect

runner = CliRunner()


def published(run: AuditRun, table_name: str) -> pl.DataFrame:
    """One run's rows of a table as the warehouse holds them, in the export's order."""
    with connect(run.warehouse, read_only=True) as con:
        return con.sql(run_rows_sql(table_name, run.run_id)).pl()


def read_back(path: Path) -> pl.DataFrame:
    """An exported file as polars reads it (Stata through pyreadstat)."""
    if path.suffix == ".dta":
        frame, _ = pyreadstat.read_dta(str(path), output_format="polars")
        return frame
    if path.suffix == ".csv":
        return pl.read_csv(path, infer_schema_length=None)
    return pl.read_parquet(path)


def same_value(exported: object, stored: object) -> bool:
    """Equal as an analyst would read them (missing text is '' in Stata; CSV text of numbers)."""
    if stored is None:
        return exported in (None, "") or (isinstance(exported, float) and math.isnan(exported))
    if isinstance(stored, bool):
        return exported in (stored, int(stored), str(stored).lower())
    if isinstance(stored, (int, float)):
        return float(exported) == float(stored)  # type: ignore[arg-type]
    if isinstance(stored, datetime):
        return same_instant(exported, stored)
    return str(exported) == str(stored)


def same_instant(exported: object, stored: datetime) -> bool:
    """A timestamp read back: tz-aware (Parquet), naive UTC (Stata), or ISO text (CSV), to
    the millisecond (Stata's %tc holds milliseconds)."""
    if isinstance(exported, str):
        exported = datetime.fromisoformat(exported)
    assert isinstance(exported, datetime)
    if exported.tzinfo is None:
        exported = exported.replace(tzinfo=UTC)
    return abs((exported - stored).total_seconds()) < 1e-3


@pytest.mark.parametrize("export_format", list(ExportFormat))
def test_every_table_reads_back_value_for_value(
    audit_run: AuditRun, tmp_path: Path, export_format: ExportFormat
) -> None:
    folder = tmp_path / "export"
    with connect(audit_run.warehouse, read_only=True) as con:
        done = export_run(
            con,
            run_id=audit_run.run_id,
            warehouse=audit_run.warehouse,
            folder=folder,
            export_format=export_format,
        )
    names = {file.table for file in done.files}
    assert {"targeting_errors", "matching_indicators", "runs", "poverty_lines"} <= names
    assert "household_scores" in names  # stored in files, exported like the others
    assert "quarantine" not in names and done.left_out == ["quarantine"]
    for file in done.files:
        stored = published(audit_run, file.table)
        exported = read_back(folder / file.file)
        assert exported.height == stored.height == file.rows, file.table
        assert exported.columns == stored.columns, file.table
        for column in stored.columns:
            pairs = zip(exported[column].to_list(), stored[column].to_list(), strict=True)
            assert all(same_value(a, b) for a, b in pairs), (file.table, column)
    assert {row["run_id"] for row in published(audit_run, "runs").to_dicts()} == {audit_run.run_id}


def test_dictionary_and_manifest_describe_the_files(audit_run: AuditRun, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    result = runner.invoke(
        app,
        ["export", "--warehouse", str(audit_run.warehouse), "--format", "dta", "--out",
         str(folder)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Left out audit.quarantine" in result.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["run_id"] == audit_run.run_id and manifest["format"] == "dta"
    for file in manifest["files"]:
        digest = hashlib.sha256((folder / file["file"]).read_bytes()).hexdigest()
        assert digest == file["sha256"]
    dictionary = pl.read_csv(folder / "data_dictionary.csv")
    with connect(audit_run.warehouse, read_only=True) as con:
        columns = con.sql(
            "SELECT table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = 'warehouse' AND schema_name = 'audit' "
            "AND table_name <> 'quarantine' AND (table_name IN "
            "(SELECT table_name FROM duckdb_tables() WHERE schema_name = 'audit') "
            "OR table_name = 'household_scores')"  # a view over files beside the warehouse
        ).fetchall()
    assert set(zip(dictionary["table"], dictionary["column"], strict=True)) == set(columns)
    assert dictionary["description"].str.len_chars().min() > 0  # every column described
    flags = dictionary.filter(pl.col("duckdb_type") == "BOOLEAN")["type_in_file"]
    assert flags.len() > 0 and set(flags) == {"int (0 = false, 1 = true)"}


def test_an_existing_folder_or_unknown_run_writes_nothing(
    audit_run: AuditRun, tmp_path: Path
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep")
    for folder, run_id, expected in (
        (tmp_path / "taken", audit_run.run_id, "already exists"),
        (tmp_path / "new", "20990101T000000Z-000000", "not in this warehouse"),
    ):
        result = runner.invoke(
            app,
            ["export", "--warehouse", str(audit_run.warehouse), "--run-id", run_id, "--out",
             str(folder)],
        )  # fmt: skip
        assert result.exit_code == 2 and expected in result.output, result.output
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no partial folder left


def test_a_failed_export_leaves_no_folder(tmp_path: Path) -> None:
    target = tmp_path / "export"
    with pytest.raises(RuntimeError), folder_written_whole(target) as partial:
        (partial / "half.csv").write_text("a\n")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError), folder_written_whole(tmp_path):
        pass


def test_stata_frames_hold_booleans_as_integers_and_missing_text_as_empty() -> None:
    frame = pl.DataFrame(
        {"is_poor": [True, False, None], "label": ["a", None, "c"], "value": [1.5, None, 2.0]}
    ).with_columns(
        pl.Series("at", ["2026-01-01T12:00:00+02:00"] * 3).str.to_datetime(time_zone="UTC")
    )
    converted = for_stata(frame)
    assert converted["is_poor"].to_list() == [1, 0, None]
    assert converted["label"].to_list() == ["a", "", "c"]
    assert converted["value"].to_list() == [1.5, None, 2.0]
    assert converted["at"].dtype == pl.Datetime("us", None)
    assert converted["at"].dt.hour().to_list() == [10, 10, 10]  # 12:00+02:00 is 10:00 UTC


def test_exports_open_in_a_plain_duckdb_and_match(audit_run: AuditRun, tmp_path: Path) -> None:
    """The Parquet export as an R or Python user would read it, with a plain duckdb."""
    folder = tmp_path / "export"
    with connect(audit_run.warehouse, read_only=True) as con:
        export_run(
            con,
            run_id=audit_run.run_id,
            warehouse=audit_run.warehouse,
            folder=folder,
            export_format=ExportFormat.parquet,
        )
    total = duckdb.sql(
        f"SELECT sum(exclusion_error) FROM read_parquet('{folder / 'targeting_errors.parquet'}')"
    ).fetchall()[0][0]
    stored = published(audit_run, "targeting_errors")["exclusion_error"].sum()
    assert total == pytest.approx(stored, rel=1e-12)
