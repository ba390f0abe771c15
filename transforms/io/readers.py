"""Read raw survey files (CSV, Parquet, Stata, SPSS) into polars LazyFrames, losing nothing.

Every frame carries ``__source_row`` (1-based data row number in the file) and
``__row_problem`` (why the row as a whole cannot be used, e.g. a wrong number of
fields or bytes that are not valid text), so that later steps can quarantine a
row with its reason instead of dropping it. Text files are read as strings:
casting happens in :mod:`transforms.io.ingest`, where a failed cast becomes a
quarantined value rather than a crash.
"""

from __future__ import annotations

import codecs
import csv
import shutil
from pathlib import Path

import polars as pl

from transforms.config import CsvOptions, InputFile
from transforms.raw import ROW_PROBLEM, SOURCE_ROW, IngestError, RawTable, as_text

OVERFLOW = "__overflow"
REPLACEMENT_CHARACTER = "\ufffd"
DELIMITER_CANDIDATES = ",;\t|"


def sniff_delimiter(sample: str, *, path: Path) -> str:
    """Guess the delimiter of a text sample among , ; tab and |."""
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        raise IngestError(f"{path}: the file is empty (expected a header line)")
    try:
        return csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITER_CANDIDATES).delimiter
    except csv.Error:
        counts = {candidate: lines[0].count(candidate) for candidate in DELIMITER_CANDIDATES}
        best = max(counts, key=lambda candidate: counts[candidate])
        return best if counts[best] > 0 else ","


def transcode_to_utf8(path: Path, encoding: str, work_dir: Path) -> Path:
    """Stream a file in a declared encoding into a UTF-8 copy (undecodable bytes become U+FFFD)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / f"{path.stem}.utf8{path.suffix}"
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as sink:
        while block := source.read(16 * 1024 * 1024):
            sink.write(decoder.decode(block))
        sink.write(decoder.decode(b"", final=True))
    return target


CSV_CODECS = {"gbk": "gbk", "latin1": "latin-1", "cp1252": "cp1252", "utf16": "utf-16"}
"""Python codecs of the csv.encoding values other than UTF-8."""


def header_fields(first_line: str, delimiter: str) -> list[str]:
    """The column names of a header line, trimmed and without a byte-order mark."""
    names = next(csv.reader([first_line], delimiter=delimiter))
    return [name.strip().lstrip("\ufeff") for name in names]


def _text_path(spec: InputFile, work_dir: Path) -> Path:
    """The file to parse as UTF-8: the original or a transcoded copy."""
    if spec.csv.encoding in {"utf8", "utf8-lossy"}:
        return spec.path
    return transcode_to_utf8(spec.path, CSV_CODECS[spec.csv.encoding], work_dir)


def _header(path: Path, options: CsvOptions, *, source: Path) -> tuple[str, list[str]]:
    """Read the header line: the delimiter and the column names."""
    with path.open("rb") as handle:
        raw = handle.read(64 * 1024)
    if b"\n" not in raw:  # a header longer than the block: read on to its end
        raw = first_line_bytes(path) or raw
    sample = raw.decode("utf-8", errors="replace")
    if not sample.strip():
        raise IngestError(f"{source}: the file is empty (expected a header line)")
    delimiter = options.delimiter or sniff_delimiter(sample, path=source)
    names = header_fields(sample.splitlines()[0], delimiter)
    if len(set(names)) != len(names):
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise IngestError(f"{source}: the header repeats column name(s) {duplicated}")
    return delimiter, names


def _field_count_problems(path: Path, delimiter: str, expected: int) -> pl.LazyFrame:
    """Per data line, a problem text when its number of fields differs from the header's."""
    quoted = r'"(?:[^"]|"")*"'
    line = pl.col("line")
    fields = line.str.replace_all(quoted, "").str.count_matches(delimiter, literal=True) + 1
    return (
        pl.scan_lines(path, row_index_name=SOURCE_ROW, row_index_offset=0)
        .filter(pl.col(SOURCE_ROW) > 0)
        .select(
            pl.col(SOURCE_ROW).cast(pl.Int64),
            pl.when(line.str.strip_chars() == "")
            .then(pl.lit("blank line"))
            .when(fields != expected)
            .then(pl.format("line has {} field(s) but the header has {}", fields, pl.lit(expected)))
            .otherwise(None)
            .alias("__fields_problem"),
        )
        .filter(pl.col("__fields_problem").is_not_null())  # only bad lines are joined back
    )


def _has_multiline_fields(path: Path) -> bool:
    """True when some line has an odd number of quotes (a quoted field spans lines)."""
    odd = pl.scan_lines(path).select(
        (pl.col("line").str.count_matches('"', literal=True) % 2 == 1).any()
    )
    return bool(odd.collect().item())


GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
UTF16_BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff")


def text_file_problem(spec: InputFile) -> str | None:
    """What makes a file configured as text unreadable as such, from its first bytes: gzip or
    zip compression, or UTF-16 without csv.encoding = "utf16"; None when it looks fine."""
    with spec.path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(GZIP_MAGIC):
        return (
            f"{spec.path}: the file is gzip-compressed; decompress it (gunzip) and point the "
            "config at the text file"
        )
    if head.startswith(ZIP_MAGIC):
        return (
            f"{spec.path}: the file is a zip archive (or an Excel workbook); extract it, or "
            "export the sheet as CSV, and point the config at that file"
        )
    if head[:2] in UTF16_BYTE_ORDER_MARKS and spec.csv.encoding != "utf16":
        return (
            f"{spec.path}: the file is UTF-16 (it starts with a UTF-16 byte-order mark); set "
            'csv.encoding = "utf16" for this file'
        )
    return None


def read_csv_raw(spec: InputFile, work_dir: Path) -> RawTable:
    """Open a delimited text file as all-string columns plus row problems."""
    problem = text_file_problem(spec)
    if problem:
        raise IngestError(problem)
    path = _text_path(spec, work_dir)
    try:
        multiline = _has_multiline_fields(path)
    except pl.exceptions.ComputeError:  # invalid UTF-8: mark bad bytes as U+FFFD, row by row
        path = transcode_to_utf8(path, "utf-8", work_dir)
        multiline = _has_multiline_fields(path)
    delimiter, names = _header(path, spec.csv, source=spec.path)
    schema = dict.fromkeys(names, pl.String) | {OVERFLOW: pl.String}
    frame = pl.scan_csv(
        path,
        has_header=False,
        skip_rows=1,
        separator=delimiter,
        schema=schema,
        missing_columns="insert",
        truncate_ragged_lines=True,
        empty_string_is_null=False,
        encoding="utf8-lossy",
        raise_if_empty=False,
    ).with_row_index(SOURCE_ROW, offset=1)
    frame = frame.with_columns(pl.col(SOURCE_ROW).cast(pl.Int64))
    problems = [
        pl.when(pl.col(OVERFLOW).is_not_null() & (pl.col(OVERFLOW) != "")).then(
            pl.lit("line has more fields than the header")
        )
    ]
    if not multiline:
        frame = frame.join(
            _field_count_problems(path, delimiter, len(names)),
            on=SOURCE_ROW,
            how="left",
            maintain_order="left",
        )
        problems.insert(
            0, pl.when(pl.col("__fields_problem").is_not_null()).then(pl.col("__fields_problem"))
        )
    bad_text = pl.any_horizontal(
        pl.col(name).str.contains(REPLACEMENT_CHARACTER, literal=True) for name in names
    )
    problems.append(
        pl.when(bad_text).then(
            pl.lit(f"bytes that are not valid {spec.csv.encoding} text (set csv.encoding)")
        )
    )
    empty_to_null = [
        pl.when(pl.col(name).str.strip_chars().is_in(spec.csv.null_values))
        .then(None)
        .otherwise(pl.col(name))
        .alias(name)
        for name in names
    ]
    frame = frame.with_columns(pl.coalesce(problems).alias(ROW_PROBLEM)).with_columns(empty_to_null)
    return RawTable(spec.path, frame.select(SOURCE_ROW, ROW_PROBLEM, *names), tuple(names))


def read_parquet_raw(spec: InputFile, files: list[Path] | None = None) -> RawTable:
    """Open a Parquet file (or the parts ``files``, in order) lazily; paths are never globs."""
    frame = pl.scan_parquet(files or spec.path, glob=False)
    names = tuple(frame.collect_schema().names())
    frame = frame.with_row_index(SOURCE_ROW, offset=1).with_columns(
        pl.col(SOURCE_ROW).cast(pl.Int64), pl.lit(None, dtype=pl.String).alias(ROW_PROBLEM)
    )
    return RawTable(spec.path, frame.select(SOURCE_ROW, ROW_PROBLEM, *names), names)


LABELLED_CHUNK_ROWS = 250_000
"""Rows of a Stata or SPSS file read at a time (a file larger than memory is never read whole)."""


def code_text(code: object) -> str:
    """A value label's code as text, as ``as_text`` prints it (1.0 -> "1")."""
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code).strip()


def labelled_chunk_schema(chunk: pl.DataFrame, *, text_columns: set[str]) -> dict[str, pl.DataType]:
    """Column types every chunk is cast to: text for strings and labelled codes, Float64 for
    numbers (Stata's byte/int/long and SPSS numbers fit exactly), others as read."""
    schema: dict[str, pl.DataType] = {}
    for name, dtype in chunk.schema.items():
        if name in text_columns or dtype in (pl.String, pl.Categorical, pl.Enum):
            schema[name] = pl.String()
        elif dtype.is_numeric() or dtype == pl.Null:
            schema[name] = pl.Float64()
        else:
            schema[name] = dtype
    return schema


def labelled_to_parquet(
    spec: InputFile, work_dir: Path, *, chunk_rows: int = LABELLED_CHUNK_ROWS
) -> Path:
    """Copy a Stata .dta or SPSS .sav file to Parquet parts, chunk by chunk, value labels
    applied (labelled codes become their labels, unlabelled ones stay as code text);
    returns the parts' folder."""
    import pyreadstat

    reader = pyreadstat.read_dta if spec.resolved_format == "dta" else pyreadstat.read_sav
    _, meta = reader(str(spec.path), metadataonly=True)
    labels = {
        name: {code_text(code): str(label) for code, label in mapping.items()}
        for name, mapping in meta.variable_value_labels.items()
    }
    text_columns = set(labels) | {
        name for name, kind in meta.readstat_variable_types.items() if kind == "string"
    }
    parts = work_dir / f"{spec.path.name}.parts"
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    schema: dict[str, pl.DataType] | None = None
    chunks = pyreadstat.read_file_in_chunks(
        reader, str(spec.path), chunksize=chunk_rows, output_format="polars"
    )
    for index, (codes, _meta) in enumerate(chunks):
        assert isinstance(codes, pl.DataFrame)
        chunk = codes.with_columns(  # a chunk is in memory anyway: replace is fine here
            as_text(pl.col(name)).replace(list(labels[name]), list(labels[name].values()))
            for name in labels
            if name in codes.columns
        )
        schema = schema or labelled_chunk_schema(chunk, text_columns=text_columns)
        chunk.cast(schema).write_parquet(parts / f"part-{index:06d}.parquet")  # type: ignore[arg-type]
    if schema is None:  # no rows: one empty part with the file's columns
        empty = {name: pl.String() for name in meta.column_names}
        pl.DataFrame(schema=empty).write_parquet(parts / "part-000000.parquet")
    return parts


def read_labelled_raw(spec: InputFile, work_dir: Path) -> RawTable:
    """Open a Stata .dta or SPSS .sav file through its Parquet copy (read in chunks)."""
    parts = labelled_to_parquet(spec, work_dir)
    return read_parquet_raw(spec, sorted(parts.glob("part-*.parquet")))


HEADER_LIMIT = 16 * 1024 * 1024
"""Bytes read to find the end of a CSV header (exports with thousands of columns)."""


def first_line_bytes(path: Path, *, limit: int = HEADER_LIMIT) -> bytes | None:
    """The file's bytes up to and including its first line break (in 64 KiB blocks); None
    when there is none within ``limit``."""
    read = b""
    with path.open("rb") as handle:
        while len(read) < limit:
            block = handle.read(64 * 1024)
            if not block:
                return read
            read += block
            if b"\n" in block:
                return read
    return None


def header_names(spec: InputFile) -> list[str] | None:
    """A file's column names from its header or metadata alone (nothing copied or decoded
    beyond the first block); None for what cannot be read that cheaply (a folder of parts,
    an unreadable file: ingest reports those)."""
    if not spec.path.is_file() or spec.path.stat().st_size == 0:
        return None
    fmt = spec.resolved_format
    try:
        if fmt == "parquet":
            return list(pl.read_parquet_schema(spec.path))
        if fmt in {"dta", "sav"}:
            import pyreadstat

            reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
            _, meta = reader(str(spec.path), metadataonly=True)
            return list(meta.column_names)
        block = first_line_bytes(spec.path)
        if block is None:
            return None
        text = block.decode(CSV_CODECS.get(spec.csv.encoding, "utf-8"), errors="replace")
        delimiter = spec.csv.delimiter or sniff_delimiter(text, path=spec.path)
        return header_fields(text.splitlines()[0], delimiter)
    except Exception:  # corrupt or odd files: the ingest reads them and names the problem
        return None


def read_raw(spec: InputFile, work_dir: Path) -> RawTable:
    """Open any supported raw file; unreadable files raise IngestError naming the file."""
    if spec.path.stat().st_size == 0:
        raise IngestError(f"{spec.path}: the file is empty (expected a header line)")
    fmt = spec.resolved_format
    try:
        if fmt == "csv":
            return read_csv_raw(spec, work_dir)
        if fmt == "parquet":
            return read_parquet_raw(spec)
        return read_labelled_raw(spec, work_dir)
    except IngestError:
        raise
    except Exception as error:  # polars/pyreadstat/arrow raise many types for corrupt files
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise IngestError(f"{spec.path}: cannot be read as {fmt} ({first_line})") from error
