"""Bad input never crashes and never loses a row: quarantined with a reason, or one clear error."""

from __future__ import annotations

import gzip
import re
import unicodedata
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from transforms.config import AuditConfig, ConfigError, parse_config
from transforms.io.ingest import (
    CheckedTable,
    check_headers,
    ingest_households,
    ingest_members,
    ingest_table,
)
from transforms.io.readers import labelled_to_parquet, read_raw
from transforms.io.staging import read_staged, stage_loaded, stage_member_features
from transforms.raw import IngestError

HEADER = "HHID,prov,wt,size,pcexp,recv"


def config_for(
    tmp_path: Path, households: dict[str, Any] | None = None, **extra: Any
) -> AuditConfig:
    """A config over hh.csv in tmp_path with the standard raw names."""
    spec: dict[str, Any] = {
        "path": "hh.csv",
        "columns": {
            "hh_id": "HHID",
            "region": "prov",
            "weight": "wt",
            "hh_size": "size",
            "welfare": "pcexp",
            "receives_benefit": "recv",
        },
    }
    spec.update(households or {})
    data = {
        "inputs": {"households": spec, **extra},
        "poverty_line": {"method": "relative_percentile", "percentile": 0.2},
    }
    return parse_config(data, base_dir=tmp_path, source="test")


def households_of(tmp_path: Path, text: str | bytes, **spec: Any) -> CheckedTable:
    """Write hh.csv and run the household row rules over it."""
    path = tmp_path / "hh.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    config = config_for(tmp_path, spec)
    raw = read_raw(config.inputs.households, tmp_path / "work")
    return ingest_households(
        raw,
        config.inputs.households,
        known_regions=None,
        work_dir=tmp_path / "ingest",
        programmes=config.programmes,
        negative_welfare=config.welfare.negative_policy,
    )


def reasons(checked: CheckedTable) -> dict[tuple[int, str], str]:
    """(source_row, column) -> reason."""
    q = checked.read_quarantine()
    return {
        (r, c): why
        for r, c, why in zip(q["source_row"], q["column_name"], q["reason"], strict=True)
    }


def assert_conserved(checked: CheckedTable) -> None:
    assert checked.rows_read == checked.read_loaded().height + checked.rows_quarantined
    loaded_rows = set(checked.read_loaded()["__source_row"].to_list())
    quarantined_rows = set(checked.read_quarantine()["source_row"].to_list())
    assert not loaded_rows & quarantined_rows
    assert loaded_rows | quarantined_rows == set(range(1, checked.rows_read + 1))


def test_valid_rows_are_typed(tmp_path: Path) -> None:
    checked = households_of(tmp_path, f"{HEADER}\n1,A,10.5,3,1200.5,1\n2,B,2,1,0,0\n")
    assert checked.rows_quarantined == 0
    row = checked.read_loaded().row(0, named=True)
    assert row == {
        "__source_row": 1,
        "hh_id": "1",
        "region": "A",
        "weight": 10.5,
        "hh_size": 3,
        "welfare": 1200.5,
        "receives__0": True,  # the first programme's receipt, staged by position
    }


def test_every_bad_value_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    text = "\n".join(
        [
            HEADER,
            "1,A,10,3,100,1",  # fine
            "2,A,0,3,100,1",  # zero weight
            "3,A,-2,3,100,1",  # negative weight
            "4,A,1,3,NaN,1",  # NaN welfare (a null marker): missing
            "5,A,1,3,inf,1",  # infinite welfare
            "6,A,1,3,-1,1",  # negative welfare
            "7,A,1,three,100,1",  # text in a numeric column
            "8,A,1,0,100,1",  # hh_size 0
            "9,A,1,2.5,100,1",  # hh_size not whole
            "10,A,1,2,100,maybe",  # unknown code
            "10,A,1,2,100,0",  # duplicate id (both rows go)
        ]
    )
    checked = households_of(tmp_path, text + "\n")
    got = reasons(checked)
    assert got[(2, "weight")] == "must be > 0"
    assert got[(3, "weight")] == "must be > 0"
    assert got[(4, "welfare")] == "missing value (required)"
    assert got[(5, "welfare")] == "not a finite number"
    assert got[(6, "welfare")] == (
        "must be >= 0 (welfare.negative = 'quarantine'; 'keep' or 'bottom_code' keep such rows)"
    )
    assert got[(7, "hh_size")] == "not a number"
    assert got[(8, "hh_size")] == "must be >= 1"
    assert got[(9, "hh_size")] == "not a whole number"
    assert got[(10, "programmes.programme.receives")].startswith("not one of the configured codes")
    assert got[(10, "hh_id")] == "hh_id occurs 2 times in the file"
    assert got[(11, "hh_id")] == "hh_id occurs 2 times in the file"
    assert checked.read_loaded()["hh_id"].to_list() == ["1"]
    raw_values = dict(
        zip(
            checked.read_quarantine()["source_row"],
            checked.read_quarantine()["raw_value"],
            strict=False,
        )
    )
    assert raw_values[7] == "three"
    assert_conserved(checked)


def test_truncated_last_line_and_extra_fields(tmp_path: Path) -> None:
    checked = households_of(tmp_path, f"{HEADER}\n1,A,10,3,100,1\n2,A,1,3,100,1,EXTRA\n3,A,1,3")
    got = reasons(checked)
    assert got[(2, "(row)")] == "line has 7 field(s) but the header has 6"
    assert got[(3, "(row)")] == "line has 4 field(s) but the header has 6"
    assert checked.read_loaded().height == 1
    assert_conserved(checked)


def test_quoted_delimiters_are_not_counted_as_fields(tmp_path: Path) -> None:
    checked = households_of(tmp_path, f'{HEADER}\n"1,a",A,10,3,100,1\n')
    assert checked.rows_quarantined == 0
    assert checked.read_loaded()["hh_id"].to_list() == ["1,a"]


def test_non_utf8_bytes_quarantine_the_row(tmp_path: Path) -> None:
    text = f"{HEADER}\n1,A,10,3,100,1\n2,S\xe3o Paulo,1,3,100,1\n".encode("latin-1")
    checked = households_of(tmp_path, text)
    got = reasons(checked)
    assert got[(2, "(row)")] == "bytes that are not valid utf8 text (set csv.encoding)"
    assert_conserved(checked)


def test_declared_encoding_reads_the_same_bytes(tmp_path: Path) -> None:
    text = f"{HEADER}\n2,S\xe3o Paulo,1,3,100,1\n".encode("latin-1")
    checked = households_of(tmp_path, text, csv={"encoding": "latin1"})
    assert checked.read_loaded()["region"].to_list() == ["São Paulo"]


def test_delimiter_is_sniffed_and_decimal_comma_read(tmp_path: Path) -> None:
    text = "HHID;prov;wt;size;pcexp;recv\n1;A;10,5;3;1.200,5;1\n"
    checked = households_of(tmp_path, text, csv={"decimal_comma": True})
    assert checked.read_loaded().select("weight", "welfare").row(0) == (10.5, 1200.5)


def test_wrong_delimiter_is_one_clear_error(tmp_path: Path) -> None:
    text = "HHID;prov;wt;size;pcexp;recv\n1;A;10;3;100;1\n"
    with pytest.raises(IngestError) as caught:
        households_of(tmp_path, text, csv={"delimiter": ","})
    message = str(caught.value)
    assert "hh.csv" in message
    assert "hh_id -> 'HHID'" in message
    assert "is csv.delimiter right?" in message


def test_mapped_column_missing_from_the_file(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        households_of(tmp_path, "HHID,prov,wt,size,pcexp\n1,A,1,1,1\n")
    assert "programmes.programme.receives -> 'recv'" in str(caught.value)
    assert "Columns found: 'HHID', 'prov'" in str(caught.value)


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"hh\.csv: the file is empty"):
        households_of(tmp_path, "")
    checked = households_of(tmp_path, HEADER + "\n")
    assert (checked.rows_read, checked.read_loaded().height) == (0, 0)


def test_blank_lines_are_quarantined_not_dropped(tmp_path: Path) -> None:
    checked = households_of(tmp_path, f"{HEADER}\n1,A,10,3,100,1\n\n2,A,10,3,100,1\n")
    assert reasons(checked)[(2, "(row)")] == "blank line"
    assert checked.read_loaded()["hh_id"].to_list() == ["1", "2"]
    assert checked.read_loaded()["__source_row"].to_list() == [1, 3]
    assert_conserved(checked)


def test_mixed_types_in_a_parquet_numeric_column(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "HHID": [1.0, 2.0, 3.0],
            "prov": ["A", "A", "B"],
            "wt": ["1", "2,5", "x"],  # a text column mixing numbers and text
            "size": [1, 2, 3],
            "pcexp": [10.0, 20.0, 30.0],
            "recv": [True, False, True],
        }
    )
    frame.write_parquet(tmp_path / "hh.parquet")
    config = config_for(tmp_path, {"path": "hh.parquet"})
    checked = ingest_households(
        read_raw(config.inputs.households, tmp_path),
        config.inputs.households,
        known_regions=None,
        work_dir=tmp_path / "ingest",
    )
    assert checked.read_loaded()["hh_id"].to_list() == [
        "1"
    ]  # whole-number float ids print as integers
    assert reasons(checked) == {(2, "weight"): "not a number", (3, "weight"): "not a number"}


def test_typed_parquet_numbers_are_checked_as_numbers(tmp_path: Path) -> None:
    """decimal_comma is about text: a typed 1234.5 stays 1234.5; NaN, -1 and nulls get reasons."""
    frame = pl.DataFrame(
        {
            "HHID": [1, 2, 3, 4],
            "prov": ["A", "A", "B", "B"],
            "wt": [1.5, float("nan"), 2.0, 3.0],
            "size": [1, 2, None, -1],
            "pcexp": [1234.5, 20.0, 30.0, 40.0],
            "recv": [True, False, True, False],
        }
    )
    frame.write_parquet(tmp_path / "hh.parquet")
    config = config_for(tmp_path, {"path": "hh.parquet", "csv": {"decimal_comma": True}})
    checked = ingest_households(
        read_raw(config.inputs.households, tmp_path),
        config.inputs.households,
        known_regions=None,
        work_dir=tmp_path / "ingest",
    )
    assert checked.read_loaded()["welfare"].to_list() == [1234.5]
    assert checked.read_loaded()["weight"].to_list() == [1.5]
    assert reasons(checked) == {
        (2, "weight"): "not a finite number",
        (3, "hh_size"): "missing value (required)",
        (4, "hh_size"): "must be >= 1",
    }
    quarantined = checked.read_quarantine().filter(pl.col("source_row") == 4)
    assert quarantined["raw_value"].to_list() == ["-1"]  # the raw value, as text, once quarantined
    assert_conserved(checked)


def test_stata_value_labels_become_categories(tmp_path: Path) -> None:
    import pyreadstat

    frame = pl.DataFrame(
        {
            "HHID": [101, 102, 103],
            "prov": [1, 2, 2],
            "wt": [1.5, 2.0, 1.0],
            "size": [2, 3, 9],
            "pcexp": [100.0, 200.0, 300.0],
            "recv": [1, 0, 1],
            "area": [1, 2, 3],
        }
    )
    pyreadstat.write_dta(
        frame.to_pandas(),
        str(tmp_path / "hh.dta"),
        variable_value_labels={
            "prov": {1: "North", 2: "South"},
            "area": {1: "Urban", 2: "Rural", 3: "Unknown"},
        },
    )
    spec = {
        "path": "hh.dta",
        "booleans": {"urban": {"true": ["Urban"], "false": ["Rural"]}},
    }
    config = config_for(tmp_path, spec)
    columns = config.inputs.households.columns.model_copy(update={"urban": "area"})
    households = config.inputs.households.model_copy(update={"columns": columns})
    checked = ingest_households(
        read_raw(households, tmp_path), households, known_regions=None, work_dir=tmp_path / "ingest"
    )
    assert checked.read_loaded()["region"].to_list() == ["North", "South"]
    assert checked.read_loaded()["urban"].to_list() == [True, False]
    assert reasons(checked)[(3, "urban")].startswith(
        "not one of the configured codes (urban, rural"
    )


def test_a_stata_file_read_in_chunks_equals_the_whole_file(tmp_path: Path) -> None:
    import pyreadstat

    frame = pl.DataFrame(
        {
            "HHID": list(range(101, 111)),
            "prov": [1, 2, 2, 1, 3, 1, 2, None, 1, 2],  # 3 has no label; one code missing
            "name": ["a", "b", "", "d", "e", "f", "g", "h", "i", "j"],
            "pcexp": [100.5, None, 300.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.25],
        }
    )
    path = tmp_path / "hh.dta"
    pyreadstat.write_dta(
        frame.to_pandas(), str(path), variable_value_labels={"prov": {1: "North", 2: "South"}}
    )
    config = config_for(tmp_path, {"path": "hh.dta"})
    parts = labelled_to_parquet(config.inputs.households, tmp_path / "work", chunk_rows=3)
    assert len(list(parts.glob("*.parquet"))) == 4  # 3 + 3 + 3 + 1 rows
    chunked = pl.read_parquet(parts / "*.parquet")
    whole, _meta = pyreadstat.read_dta(str(path), output_format="polars")
    assert isinstance(whole, pl.DataFrame)
    assert chunked["HHID"].to_list() == [float(i) for i in range(101, 111)]  # in file order
    assert chunked["prov"].to_list() == [
        "North", "South", "South", "North", "3", "North", "South", None, "North", "South"
    ]  # fmt: skip
    assert chunked["pcexp"].to_list() == whole["pcexp"].cast(pl.Float64).to_list()
    assert chunked["name"].to_list() == whole["name"].to_list()


def test_a_malformed_key_does_not_make_a_good_row_a_duplicate(tmp_path: Path) -> None:
    (tmp_path / "hh.csv").write_text(f"{HEADER}\n1,A,1,2,10,1\n")
    (tmp_path / "proj.csv").write_text("year,age,pop\n2022,0-4,10\n2022.5,0-4,11\n2023,0-4,12\n")
    projection = {
        "path": "proj.csv",
        "columns": {"year": "year", "age_group": "age", "population": "pop"},
    }
    config = config_for(tmp_path, projection=projection)
    assert config.inputs.projection is not None
    checked = ingest_table(
        read_raw(config.inputs.projection, tmp_path),
        config.inputs.projection,
        role="projection",
        work_dir=tmp_path / "ingest",
    )
    assert checked.read_loaded()["year"].to_list() == [2022, 2023]  # 2022.5 is not 2022's twin
    assert reasons(checked) == {(2, "year"): "not a whole number"}


def test_an_output_folder_with_glob_characters_is_just_a_folder(tmp_path: Path) -> None:
    (tmp_path / "hh.csv").write_text(f"{HEADER}\n1,A,1,2,10,1\n1,A,1,2,10,1\n2,B,1,1,5,0\n")
    config = config_for(tmp_path)
    work = tmp_path / "runs [2024]*?"
    checked = ingest_households(
        read_raw(config.inputs.households, work),
        config.inputs.households,
        known_regions=None,
        work_dir=work / "ingest",
    )
    assert checked.read_loaded()["hh_id"].to_list() == ["2"]
    assert set(reasons(checked)) == {(1, "hh_id"), (2, "hh_id")}


def test_members_of_unknown_households_are_quarantined(tmp_path: Path) -> None:
    (tmp_path / "hh.csv").write_text(f"{HEADER}\n1,A,1,2,10,1\n")
    (tmp_path / "mem.csv").write_text("HHID,PID,age\n1,1,40\n1,2,12\n9,1,30\n1,2,13\n1,3,130\n")
    members = {"path": "mem.csv", "columns": {"hh_id": "HHID", "person_id": "PID", "age": "age"}}
    config = config_for(tmp_path, members=members)
    assert config.inputs.members is not None
    checked = ingest_members(
        read_raw(config.inputs.members, tmp_path),
        config.inputs.members,
        household_ids=pl.Series(["1"]),
        work_dir=tmp_path / "ingest",
    )
    got = reasons(checked)
    assert got[(3, "hh_id")] == "household not loaded (unknown or quarantined hh_id)"
    assert got[(2, "person_id")] == "person_id within its household occurs 2 times in the file"
    assert got[(5, "age")] == "must be <= 120"
    assert checked.read_loaded()["person_id"].to_list() == ["1"]
    assert_conserved(checked)


def test_a_categorical_proxy_unique_per_household_is_refused(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},A,1,2,10,1,Person {i} Street {i}" for i in range(1, 151))
    with pytest.raises(IngestError, match="distinct values in 150 households: an identifier"):
        households_of(
            tmp_path,
            f"{HEADER},descr\n{rows}\n",
            proxies={"description": {"column": "descr", "kind": "categorical"}},
        )


FIRST_NAMES = ["Ana", "José", "Marie", "Nguyễn Văn", "Fatima", "Kwame", "Olga", "Ravi", "Li"]
FAMILY_NAMES = ["Lopez", "Mensah", "Diallo", "Kumar", "Okafor", "Ivanova", "O'Brien"]


def head_names(households: int) -> list[str]:
    """Names that repeat (a few dozen distinct, far fewer than households), as head names do."""
    return [
        f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {FAMILY_NAMES[i // 5 % len(FAMILY_NAMES)]}"
        for i in range(households)
    ]


def test_names_mapped_as_a_categorical_proxy_are_refused_unless_allowed(tmp_path: Path) -> None:
    """63 distinct head names in 600 households pass the uniqueness check (before, they went
    into every model file); nearly all are words of letters, so they are refused, naming the
    escape. With allow_identifier_proxy they load."""
    names = head_names(600)
    assert len(set(names)) == 63
    rows = "\n".join(f"{i},A,1,2,10,1,{name}" for i, name in enumerate(names, start=1))
    text = f"{HEADER},jefe\n{rows}\n"
    proxy = {"column": "jefe", "kind": "categorical"}
    with pytest.raises(IngestError, match="look like names or free text") as refused:
        households_of(tmp_path, text, proxies={"head": proxy})
    assert "allow_identifier_proxy" in str(refused.value)
    allowed = households_of(
        tmp_path, text, proxies={"head": {**proxy, "allow_identifier_proxy": True}}
    )
    assert allowed.read_loaded()["head"].n_unique() == 63


def test_a_categorical_proxy_of_few_words_is_not_mistaken_for_names(tmp_path: Path) -> None:
    roofs = ["iron sheets", "thatch", "tiles", "concrete", "other"]
    rows = "\n".join(f"{i},A,1,2,10,1,{roofs[i % 5]}" for i in range(1, 301))
    loaded = households_of(
        tmp_path,
        f"{HEADER},roof\n{rows}\n",
        proxies={"roof": {"column": "roof", "kind": "categorical"}},
    )
    assert loaded.read_loaded()["roof"].n_unique() == 5


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (gzip.compress(f"{HEADER}\n1,A,1,2,10,1\n".encode(), mtime=0), "gzip-compressed"),
        (f"{HEADER}\n1,A,1,2,10,1\n".encode("utf-16"), 'csv.encoding = "utf16"'),
        (b"PK\x03\x04" + b"\0" * 60, "zip archive"),
    ],
    ids=["gzip", "utf-16", "zip"],  # the same test ids in every process (pytest-xdist)
)
def test_compressed_or_utf16_files_are_named_not_misread(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    """Gzip, zip and UTF-16 files were read as mojibake; their first bytes name the problem,
    at ingest and in the header check before any work."""
    with pytest.raises(IngestError, match=re.escape(expected)):
        households_of(tmp_path, content)
    with pytest.raises(IngestError, match=re.escape(expected)):
        check_headers(config_for(tmp_path))


def test_a_folder_given_as_the_file_is_named_a_folder(tmp_path: Path) -> None:
    (tmp_path / "hh.csv").mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        config_for(tmp_path)


def test_a_header_longer_than_one_block_is_read_whole(tmp_path: Path) -> None:
    """LSMS exports have thousands of columns; neither the header check nor the ingest may
    cut the header at its first 64 KiB block and call the columns after it missing."""
    extra = ",".join(f"q{i:05d}_a_long_question_name" for i in range(4000))
    (tmp_path / "hh.csv").write_text(
        f"{extra},{HEADER}\n" + ",".join(["0"] * 4000) + ",1,A,1,2,10,1\n"
    )
    assert (tmp_path / "hh.csv").stat().st_size > 64 * 1024
    check_headers(config_for(tmp_path))  # every mapped column is found
    assert households_of(tmp_path, (tmp_path / "hh.csv").read_text()).rows_loaded == 1


NFC_REGION = unicodedata.normalize("NFC", "región")
NFD_REGION = unicodedata.normalize("NFD", "región")


def write_survey(frame: pl.DataFrame, path: Path) -> None:
    """Write a frame in the format its suffix names (CSV, Parquet, Stata 118, SPSS)."""
    import pyreadstat

    if path.suffix == ".csv":
        frame.write_csv(path)
    elif path.suffix == ".parquet":
        frame.write_parquet(path)
    elif path.suffix == ".dta":
        pyreadstat.write_dta(frame.to_pandas(), str(path), version=15)
    else:
        pyreadstat.write_sav(frame.to_pandas(), str(path))


def region_mapped_to(config: AuditConfig, name: str) -> AuditConfig:
    """The config with the household file's region mapped to the raw column ``name``."""
    households = config.inputs.households
    columns = households.columns.model_copy(update={"region": name})
    inputs = config.inputs.model_copy(
        update={"households": households.model_copy(update={"columns": columns})}
    )
    return config.model_copy(update={"inputs": inputs})


def ingest_configured(config: AuditConfig, tmp_path: Path) -> CheckedTable:
    """Read the config's household file and apply its row rules."""
    households = config.inputs.households
    return ingest_households(
        read_raw(households, tmp_path / "work"),
        households,
        known_regions=None,
        work_dir=tmp_path / "ingest",
        programmes=config.programmes,
    )


@pytest.mark.parametrize("suffix", ["csv", "parquet", "dta", "sav"])
@pytest.mark.parametrize(
    ("mapped", "in_file"), [(NFC_REGION, NFD_REGION), (NFD_REGION, NFC_REGION)]
)
def test_column_names_match_after_unicode_normalisation(
    tmp_path: Path, suffix: str, mapped: str, in_file: str
) -> None:
    """A config typed with a composed 'ó' reads a header written with 'o' plus a combining
    accent (macOS file names, some Stata exports), and the other way round: in the header
    check and in the ingest, in every format."""
    assert mapped != in_file and len(mapped) != len(in_file)
    frame = pl.DataFrame(
        {
            "HHID": ["1", "2"],
            in_file: ["Norte", "Sur"],
            "wt": [1.0, 2.0],
            "size": [2.0, 3.0],
            "pcexp": [100.0, 200.0],
            "recv": [1.0, 0.0],
        }
    )
    write_survey(frame, tmp_path / f"hh.{suffix}")
    config = region_mapped_to(config_for(tmp_path, {"path": f"hh.{suffix}"}), mapped)
    check_headers(config)
    checked = ingest_configured(config, tmp_path)
    assert checked.read_loaded()["region"].to_list() == ["Norte", "Sur"]
    assert checked.read_loaded()["welfare"].to_list() == [100.0, 200.0]
    assert checked.rows_quarantined == 0


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_two_headers_one_name_after_normalisation_is_one_clear_error(
    tmp_path: Path, suffix: str
) -> None:
    """Two columns that differ only in how 'ó' is encoded: no column map can say which it
    means, so the file is refused, naming both spellings (not one picked at random), in the
    header check and in the ingest."""
    frame = pl.DataFrame(
        {
            "HHID": ["1"],
            NFC_REGION: ["Norte"],
            NFD_REGION: ["Sur"],
            "wt": [1.0],
            "size": [2],
            "pcexp": [100.0],
            "recv": [1],
        }
    )
    write_survey(frame, tmp_path / f"hh.{suffix}")
    config = region_mapped_to(config_for(tmp_path, {"path": f"hh.{suffix}"}), NFC_REGION)
    for attempt in (check_headers, lambda c: ingest_configured(c, tmp_path)):
        with pytest.raises(IngestError) as caught:
            attempt(config)
        message = str(caught.value)
        assert f"hh.{suffix}: columns {NFC_REGION!r} and {NFD_REGION!r}" in message
        assert "regi\\xf3n" in message and "regio\\u0301n" in message


def test_absurd_magnitudes_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    """One welfare of 1e308 (or Stata's missing code 8.99e307), a weight of 1e300 or inf:
    each row is quarantined with the contract's bound as its reason, and the other rows
    load (a weight of 1.7e308 used to pass ingest and crash the analysis with a polars
    traceback; 1e300 silently made one household the whole population)."""
    text = (
        "HHID,prov,wt,size,pcexp,recv,amt\n"
        "1,A,10,3,100,1,50\n"
        "2,A,10,3,1e308,1,50\n"
        "3,A,1e300,3,100,1,50\n"
        "4,A,inf,3,100,1,50\n"
        "5,A,10,3,8.98846567431158e307,1,50\n"
        "6,A,10,3,100,1,1e300\n"
        "7,A,10,3,100,0,0\n"
    )
    columns = {
        "hh_id": "HHID",
        "region": "prov",
        "weight": "wt",
        "hh_size": "size",
        "welfare": "pcexp",
        "receives_benefit": "recv",
        "benefit_amount": "amt",
    }
    checked = households_of(tmp_path, text, columns=columns)
    assert reasons(checked) == {
        (2, "welfare"): "must be <= 1e+15",
        (3, "weight"): "must be <= 1e+09",
        (4, "weight"): "not a finite number",
        (5, "welfare"): "must be <= 1e+15",
        (6, "programmes.programme.amount"): "must be <= 1e+15",
    }
    assert checked.read_loaded()["hh_id"].to_list() == ["1", "7"]
    assert_conserved(checked)


def test_the_staged_files_are_the_staging_tables(tmp_path: Path) -> None:
    """The analysis reads the loaded rows and the member aggregates from their Parquet files:
    the same frames, types and row order as DuckDB's staging tables give."""
    checked = households_of(
        tmp_path, f"{HEADER}\n3,A,10.5,3,1200.5,1\n1,B,2,1,0,0\n2,,1e3,2,-5.25,\n4,C,x,2,1,1\n"
    )
    with duckdb.connect() as staging:
        stage_loaded(staging, checked, "stg_households")
        staged = staging.sql("SELECT * FROM stg_households").pl()
        assert read_staged(checked.loaded_path).equals(staged, null_equal=True)
        assert read_staged(checked.loaded_path).schema == staged.schema
        assert read_staged(checked.loaded_path, exclude=["weight"]).equals(staged.drop("weight"))
        staging.execute(
            """CREATE TABLE stg_members AS SELECT * FROM (VALUES
                ('3', 30, true, 'F', 1, true, 10.25), ('3', 70, false, 'M', 2, false, NULL),
                ('1', 5, NULL, NULL, 3, NULL, 0.1)
            ) AS t(hh_id, age, is_head, sex, __source_row, receives__1, amount__1)"""
        )
        exported = tmp_path / "member_features.parquet"
        stage_member_features(staging, export=exported)
        features = staging.sql("SELECT * FROM stg_member_features").pl()
    assert features.height == 2
    assert read_staged(exported).equals(features, null_equal=True)
    assert read_staged(exported).schema == features.schema


def test_a_staged_file_reads_back_one_chunk_per_column(tmp_path: Path) -> None:
    """The loaded rows are written in many row groups; read back, each column is one memory
    chunk (a frame chunked unlike a column added to it is copied by polars), same values."""
    frame = pl.DataFrame({"hh_id": [str(i) for i in range(1000)], "weight": range(1000)})
    path = tmp_path / "households.loaded.parquet"
    frame.write_parquet(path, row_group_size=100)
    assert pl.read_parquet(path)["weight"].n_chunks() > 1
    staged = read_staged(path)
    assert [staged[name].n_chunks() for name in staged.columns] == [1, 1]
    assert staged.equals(frame)
