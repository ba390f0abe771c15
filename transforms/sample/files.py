"""Write survey tables to one file format, chunk by chunk, and write the synthetic survey.

Parquet appends one zstd row group per chunk (``pyarrow.parquet.ParquetWriter``); CSV appends
rows under a single header. Stata ``.dta`` cannot be appended to (pyreadstat writes whole
files), so that writer keeps every chunk in memory and writes on close: its memory grows
with the table, not with the chunk. Parquet and CSV bytes depend only on the chunks written;
a ``.dta`` header carries the time of writing.

Use a writer as a context manager: a normal exit finishes the file, an exception deletes
the partial file so no truncated survey is left behind.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow.parquet as pq

from transforms.sample import generator as synthetic

WriteFormat = synthetic.SurveyFormat


@dataclass(frozen=True)
class TableLabels:
    """Variable labels and value labels (code -> label), kept by formats that store them (dta)."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[int, str]] = field(default_factory=dict)


class TableWriter:
    """Appends frames with one schema to one file; `rows` counts what was written."""

    def __init__(self, path: Path) -> None:
        """Remember the target; subclasses open it."""
        self.path = path
        self.rows = 0

    def write(self, frame: pl.DataFrame) -> None:
        """Append one chunk."""
        raise NotImplementedError

    def close(self) -> int:
        """Finish the file and return the number of rows written."""
        raise NotImplementedError

    def discard(self) -> None:
        """Release resources and delete the partial file."""
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> TableWriter:
        """Use as a context manager."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Finish the file on success, delete it on error."""
        if exc_type is None:
            self.close()
        else:
            self.discard()


class ParquetTableWriter(TableWriter):
    """One zstd-compressed row group per chunk; the schema comes from the first chunk."""

    def __init__(self, path: Path) -> None:
        """Open lazily, at the first chunk."""
        super().__init__(path)
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        """Append the chunk as one row group."""
        table = frame.to_arrow()
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
        self.rows += frame.height

    def close(self) -> int:
        """Write the footer (a parquet file needs a schema, so at least one chunk)."""
        if self._writer is None:
            raise ValueError(f"{self.path}: no chunk was written")
        self._writer.close()
        return self.rows

    def discard(self) -> None:
        """Close the writer and delete the partial file."""
        if self._writer is not None:
            self._writer.close()
        super().discard()


class CsvTableWriter(TableWriter):
    """Comma-separated UTF-8 with one header line; later chunks append rows only."""

    def __init__(self, path: Path) -> None:
        """Create or truncate the file."""
        super().__init__(path)
        self._handle: BinaryIO = path.open("wb")

    def write(self, frame: pl.DataFrame) -> None:
        """Append the chunk's rows (with the header before the first chunk)."""
        frame.write_csv(self._handle, include_header=self.rows == 0)
        self.rows += frame.height

    def close(self) -> int:
        """Close the file."""
        self._handle.close()
        return self.rows

    def discard(self) -> None:
        """Close and delete the partial file."""
        self._handle.close()
        super().discard()


class DtaTableWriter(TableWriter):
    """Stata .dta with variable and value labels; collects all chunks and writes on close."""

    def __init__(self, path: Path, labels: TableLabels) -> None:
        """Remember the labels; nothing is written before close()."""
        super().__init__(path)
        self.labels = labels
        self._chunks: list[pl.DataFrame] = []

    def write(self, frame: pl.DataFrame) -> None:
        """Keep the chunk until close()."""
        self._chunks.append(frame)
        self.rows += frame.height

    def close(self) -> int:
        """Write the whole table at once (pyreadstat cannot append)."""
        import pyreadstat  # only the dta path needs it

        table = pl.concat(self._chunks)
        self._chunks = []
        value_labels: dict[str, dict[int | float, str]] = {
            column: {code: label for code, label in labels.items()}
            for column, labels in self.labels.values.items()
            if column in table.columns
        }
        pyreadstat.write_dta(
            table.to_pandas(),
            str(self.path),
            column_labels={c: self.labels.columns.get(c, "") for c in table.columns},
            variable_value_labels=value_labels,
        )
        return self.rows

    def discard(self) -> None:
        """Drop the collected chunks."""
        self._chunks = []
        super().discard()


def open_table_writer(
    path: Path, file_format: WriteFormat, *, labels: TableLabels | None = None
) -> TableWriter:
    """A chunked writer for one file of the given format."""
    if file_format == "parquet":
        return ParquetTableWriter(path)
    if file_format == "csv":
        return CsvTableWriter(path)
    if file_format == "dta":
        return DtaTableWriter(path, labels or TableLabels())
    raise ValueError(f"unsupported survey file format {file_format!r}: use parquet, csv or dta")


def write_table(
    frame: pl.DataFrame, path: Path, file_format: WriteFormat, *, labels: TableLabels | None = None
) -> int:
    """Write one small frame as a whole file; returns the rows written."""
    with open_table_writer(path, file_format, labels=labels) as writer:
        writer.write(frame)
    return writer.rows


@dataclass(frozen=True)
class SyntheticSurveySummary:
    """What write_synthetic_survey wrote: file paths and row counts by role, wall time (s)."""

    paths: dict[str, Path]
    rows: dict[str, int]
    seconds: float


def write_microdata(
    out_dir: Path,
    design: synthetic.SurveyDesign,
    *,
    seed: int,
    file_format: WriteFormat,
    chunk_households: int,
) -> tuple[dict[str, int], npt.NDArray[np.float64]]:
    """Stream households and members to disk chunk by chunk; return row counts and tallies."""
    tallies = np.zeros((len(synthetic.REGIONS), len(synthetic.TALLY_COLUMNS)))
    household_labels = TableLabels(
        synthetic.HOUSEHOLD_COLUMN_LABELS, synthetic.HOUSEHOLD_VALUE_LABELS
    )
    member_labels = TableLabels(synthetic.MEMBER_COLUMN_LABELS, synthetic.MEMBER_VALUE_LABELS)
    with (
        open_table_writer(
            out_dir / f"households.{file_format}", file_format, labels=household_labels
        ) as households,
        open_table_writer(
            out_dir / f"members.{file_format}", file_format, labels=member_labels
        ) as members,
    ):
        for household_chunk, member_chunk, chunk_tallies in synthetic.generate_chunks(
            seed, design, chunk_households
        ):
            households.write(household_chunk)
            members.write(member_chunk)
            tallies += chunk_tallies
    return {"households": households.rows, "members": members.rows}, tallies


def write_synthetic_survey(
    out_dir: Path,
    *,
    households: int,
    seed: int,
    file_format: WriteFormat,
    chunk_households: int = 250_000,
    output: dict[str, str] | None = None,
) -> SyntheticSurveySummary:
    """Write households, members, regions, projection, audit.toml and truth.json to out_dir.

    ``output`` sets the config's [output] section (warehouse and directory, relative to
    out_dir); by default welfare_audit.duckdb and output/ inside out_dir.
    Chunks are whole blocks of ~10,000 households, so parquet/csv memory is bounded by
    max(chunk_households, ~10,000) households; dta holds the whole table (see module doc).
    """
    if households < 1:
        raise ValueError(f"households must be at least 1, got {households}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    design = synthetic.build_design(seed, households)
    rows, tallies = write_microdata(
        out_dir, design, seed=seed, file_format=file_format, chunk_households=chunk_households
    )
    standards = synthetic.benefit_standards(seed)
    projection = synthetic.projection_frame(tallies)
    paths = {role: out_dir / f"{role}.{file_format}" for role in ("households", "members")}
    for role, frame in (
        ("regions", synthetic.regions_frame(standards)),
        ("projection", projection),
    ):
        paths[role] = out_dir / f"{role}.{file_format}"
        rows[role] = write_table(frame, paths[role], file_format)
    population = synthetic.targeting_summary(tallies)["population_persons"]
    config = synthetic.config_text(seed, households, file_format, population, output)
    truth = synthetic.truth_record(seed, rows, standards, tallies, projection)
    paths["config"] = out_dir / "audit.toml"
    paths["config"].write_text(config, encoding="utf-8")
    paths["truth"] = out_dir / "truth.json"
    paths["truth"].write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return SyntheticSurveySummary(paths, rows, time.perf_counter() - started)


def write_person_income_survey(
    out_dir: Path,
    *,
    persons: int,
    seed: int,
    file_format: WriteFormat,
    output: dict[str, str] | None = None,
) -> SyntheticSurveySummary:
    """Write a person-level income survey (persons.<format>) and its audit.toml to out_dir."""
    if persons < 10:
        raise ValueError(f"persons must be at least 10, got {persons}")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"persons.{file_format}"
    rows = {"persons": write_table(synthetic.person_income_frame(persons, seed), path, file_format)}
    config = out_dir / "audit.toml"
    config.write_text(
        synthetic.person_income_config(seed, persons, file_format, output), encoding="utf-8"
    )
    paths = {"persons": path, "config": config}
    return SyntheticSurveySummary(paths, rows, time.perf_counter() - started)
