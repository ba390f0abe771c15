"""The ADePT-style workbook (standard_tables.xlsx) of a real run, read back from the .xlsx.

One shared audit (the ``audit_run`` session fixture), its workbook written once; the cells are
read back with the standard library (tests/xlsx.py) and compared with the warehouse's rows.
Hand-made frames check the disclosure rule and the number formats on their own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.audit_run import AuditRun
from tests.xlsx import CellValue, Sheet, excel_tables, read_workbook
from transforms.catalogue import FISCAL, MATCHING, TARGETING, lookup
from transforms.io.warehouse import connect
from transforms.report.contents import CONTENTS
from transforms.report.crosstabs import TOTAL
from transforms.report.data import ReportData, empty_frame, load_report_data
from transforms.report.disclosure import configured_min_cell_n, disclosure_rule
from transforms.report.number_formats import money_format, number_format, unit_text
from transforms.report.workbook import SHEETS, write_standard_tables

FAMILIES = ("Coverage", "Incidence", "Adequacy", "Targeting", "Poverty impact", "Budgets")
"""The cross-tab sheets every run with programmes and fiscal indicators has, one per family."""
FORMULA = '=HYPERLINK("http://example.com","x")'


@dataclass(frozen=True)
class Written:
    """A run's data, its workbook as read back, and a connection-free copy of the run id."""

    data: ReportData
    sheets: dict[str, Sheet]
    path: Path
    warehouse: Path


@pytest.fixture(scope="module")
def written(audit_run: AuditRun, tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The workbook of the shared run, written and read back once."""
    with connect(audit_run.warehouse, read_only=True) as con:
        data = load_report_data(con, audit_run.run_id)
    path = tmp_path_factory.mktemp("workbook") / "standard_tables.xlsx"
    write_standard_tables(data, path)
    return Written(data, read_workbook(path), path, audit_run.warehouse)


def warehouse_row(written: Written, sql: str, params: list[object]) -> dict[str, Any]:
    """The one row a query of the run's warehouse returns, by column name."""
    with connect(written.warehouse, read_only=True) as con:
        frame = con.sql(sql, params=params).pl()
    assert frame.height == 1, (sql, params, frame)
    return frame.row(0, named=True)


def column_a(sheet: Sheet) -> dict[int, str]:
    """Row number -> the text in column A."""
    return {n: str(row["A"].value) for n, row in sheet.rows().items() if "A" in row}


def table_cell(
    sheet: Sheet, title: str, row_label: str, heading: str, offset: int = 0
) -> CellValue:
    """A cell of the cross-tab whose title starts with ``title``: the row labelled
    ``row_label``, the column headed ``heading`` (a programme's first column; ``offset`` 1 and
    2 for its CI bounds)."""
    texts = column_a(sheet)
    top = next(
        n for n, text in texts.items() if re.match(rf"Table \d+\.\d+ {re.escape(title)}", text)
    )
    header = top + 2  # title, unit line, then the headings
    columns = [c for c, cell in sheet.rows()[header].items() if cell.value == heading]
    assert columns, f"{sheet.name}: no heading {heading!r} in row {header}"
    row = next(n for n, text in texts.items() if n > header and text == row_label)
    letter = chr(ord(columns[0]) + offset)
    return sheet.cells[f"{letter}{row}"]


def first_programme_and_line(written: Written) -> tuple[str, str]:
    """The run's first programme and first line, as the warehouse published them."""
    row = warehouse_row(
        written,
        "SELECT programme, poverty_line FROM audit.targeting_errors WHERE run_id = ? "
        "AND method = 'program' ORDER BY rowid LIMIT 1",
        [written.data.run["run_id"]],
    )
    return str(row["programme"]), str(row["poverty_line"])


# ---------------------------------------------------------------- contents


def test_contents_comes_first_and_lists_every_sheet_with_a_title(written: Written) -> None:
    names = list(written.sheets)
    assert names[0] == CONTENTS
    assert names[-len(SHEETS) :] == list(SHEETS)  # the data sheets last
    contents = written.sheets[CONTENTS]
    listed = {row["A"].value: row for row in contents.rows().values() if "A" in row}
    for name in names:
        assert name in listed, f"{name} is not listed on the Contents sheet"
        title, holds = listed[name].get("B"), listed[name].get("C")
        assert title is not None and title.value and holds is not None and holds.value, name


def test_contents_defines_the_indicators_from_the_catalogue(written: Written) -> None:
    contents = written.sheets[CONTENTS]
    rows = {row["A"].value: row for row in contents.rows().values() if "A" in row}
    for table_name, name in ((MATCHING, "coverage"), (TARGETING, "exclusion_error")):
        row, item = rows[f"{table_name}.{name}"], lookup(table_name, name)
        assert [row[c].value for c in "BCE"] == [item.label, item.definition, item.source]
        assert row["D"].value == unit_text(item.unit, item.display, "XOF")
    spending = rows[f"{FISCAL}.spending"]
    assert spending["D"].value == "XOF per year"  # the currency named, from poverty_lines
    assert spending["F"].value == "Budgets"  # the sheet that shows it


def test_contents_states_lines_programmes_and_the_disclosure_rule(written: Written) -> None:
    contents = written.sheets[CONTENTS]
    texts = contents.texts()
    for line in written.data.poverty_lines["poverty_line"].unique().to_list():
        assert line in texts
    for programme in ("dibao", "child_grant", "social_pension", "any (at least one)"):
        assert programme in texts
    rule = contents.rows()[int(contents.find("disclosure.min_cell_n")[1:])]
    assert rule["B"].value == 10.0  # min_cell_n of the run's configuration file, read back
    assert str(rule["C"].value).startswith("A cell resting on fewer than 10 unweighted households")
    matching = written.data.matching_indicators
    suppressed = int(matching["suppressed"].sum())
    complementary = int((matching["suppression"] == "complementary").sum())
    assert complementary, "the shared run withholds complements"
    said = str(rule["C"].value)
    assert f"matching_indicators {suppressed} ({complementary} complementary)" in said
    assert "Suppression 'complementary', 'suppressed (complementary)'" in said


# ---------------------------------------------------------------- cross-tabs


def test_at_least_six_cross_tabs_each_with_title_unit_and_notes(written: Written) -> None:
    every_title = []
    for name in FAMILIES:
        texts = list(column_a(written.sheets[name]).values())
        titles = [t for t in texts if re.match(r"Table \d+\.\d+ ", t)]
        assert titles, f"{name}: no table"
        every_title += titles
        assert len([t for t in texts if t.startswith("Unit")]) >= 2 * len(titles), name
        assert len([t for t in texts if t.startswith("Source: audit.")]) == len(titles), name
        assert len([t for t in texts if t.startswith("Poverty line")]) == len(titles), name
    assert len(every_title) >= 6
    for name in ("Coverage", "Incidence", "Targeting"):
        texts = column_a(written.sheets[name]).values()
        assert any(t.startswith("'suppressed': the cell rests on fewer than 10") for t in texts)


def test_coverage_of_the_poorest_quintile_is_the_warehouse_value(written: Written) -> None:
    programme, line = first_programme_and_line(written)
    published = warehouse_row(
        written,
        "SELECT value, ci_low, ci_high FROM audit.matching_indicators WHERE run_id = ? "
        "AND indicator = 'coverage' AND group_type = 'quintile' AND group_value = '1' "
        "AND programme = ? AND poverty_line = ?",
        [written.data.run["run_id"], programme, line],
    )
    sheet = written.sheets["Coverage"]
    title = "Coverage, by quintile of pre-transfer welfare"
    for offset, column in enumerate(("value", "ci_low", "ci_high")):
        cell = table_cell(sheet, title, "Q1\u00a0(poorest)", programme, offset)
        assert cell.value == pytest.approx(published[column], rel=1e-12)
        assert cell.number_format == "0.0%"
    total = table_cell(sheet, title, TOTAL, programme)
    assert isinstance(total.value, float) and 0 < total.value < 1


def test_targeting_shows_each_programme_against_each_line(written: Written) -> None:
    programme, line = first_programme_and_line(written)
    published = warehouse_row(
        written,
        "SELECT exclusion_error, n_obs FROM audit.targeting_errors WHERE run_id = ? "
        "AND method = 'program' AND group_type = 'all' AND programme = ? AND poverty_line = ?",
        [written.data.run["run_id"], programme, line],
    )
    sheet = written.sheets["Targeting"]
    heading = lookup(TARGETING, "exclusion_error").label
    cell = table_cell(
        sheet, f"Targeting accuracy by method, line {line}", f"Programme {programme}", heading
    )
    assert cell.value == pytest.approx(published["exclusion_error"], rel=1e-12)
    households = table_cell(
        sheet,
        f"Targeting accuracy by method, line {line}",
        f"Programme {programme}",
        "Households surveyed",
    )
    assert (households.value, households.number_format) == (published["n_obs"], "#,##0")
    lines = written.data.poverty_lines["poverty_line"].unique().to_list()
    assert len([t for t in column_a(sheet).values() if t.startswith("Table 4.")]) == len(lines)


def test_a_suppressed_cell_reads_suppressed_and_says_when_it_is_complementary(
    written: Written,
) -> None:
    _, line = first_programme_and_line(written)
    hidden = written.data.matching_indicators.filter(
        (pl.col("indicator") == "benefit_incidence")
        & (pl.col("group_type") == "quintile")
        & (pl.col("poverty_line") == line)
        & pl.col("suppressed")
    )
    assert set(hidden["suppression"]) == {"primary", "complementary"}, "the shared run has both"
    marks = {"primary": "suppressed", "complementary": "suppressed (complementary)"}
    for row in hidden.iter_rows(named=True):
        cell = table_cell(
            written.sheets["Incidence"],
            "Benefit incidence (share of all benefit money), by quintile of pre-transfer",
            f"Q{row['group_value']}" + ("\u00a0(poorest)" if row["group_value"] == "1" else ""),
            row["programme"],
        )
        assert cell.value == marks[row["suppression"]]


def test_money_percent_year_and_count_cells_have_their_formats(written: Written) -> None:
    programme, line = first_programme_and_line(written)
    run_id = written.data.run["run_id"]
    spending = warehouse_row(
        written,
        "SELECT value FROM audit.fiscal_indicators WHERE run_id = ? AND indicator = 'spending' "
        "AND scenario = 'current' AND programme = ? AND poverty_line = ?",
        [run_id, programme, line],
    )["value"]
    budgets = written.sheets["Budgets"]
    money = table_cell(
        budgets, "Spending, leakage and effectiveness", "Programme spending", programme
    )
    assert money.value == pytest.approx(spending, rel=1e-12)
    assert money.number_format == '#,##0 "XOF"'  # thousands, no decimals, the currency
    impact = written.sheets["Poverty impact"]
    headcount = table_cell(
        impact, "Poverty and inequality", lookup(FISCAL, "fgt0_pre").label, programme
    )
    assert headcount.number_format == "0.0%"
    gini = table_cell(impact, "Poverty and inequality", lookup(FISCAL, "gini_pre").label, programme)
    assert gini.number_format == "0.000"
    projection = written.sheets["Projection"]
    first_year = warehouse_row(
        written,
        "SELECT min(year) AS year FROM audit.fiscal_indicators WHERE run_id = ? "
        "AND indicator = 'projected_cost'",
        [run_id],
    )["year"]
    year = projection.cells[f"A{int(projection.find('Year')[1:]) + 2}"]
    assert (year.value, year.number_format) == (first_year, "0")  # 2025, not 2,025.000
    crossings = written.data.fiscal_indicators.filter(
        (pl.col("indicator") == "threshold_crossed_year")
        & pl.col("value").is_not_null()
        & (pl.col("poverty_line") == line)  # the projection shows the first line
    )
    assert crossings.height, "the shared run crosses the threshold in some scenario"
    row = crossings.row(0, named=True)
    title = lookup(FISCAL, "threshold_crossed_year").label
    programme_heading = "any (at least one)" if row["programme"] == "any" else row["programme"]
    crossed = table_cell(projection, title, row["scenario"], programme_heading, offset=1)
    assert (crossed.value, crossed.number_format) == (row["value"], "0")


# ---------------------------------------------------------------- data sheets


def test_data_sheets_are_filterable_frozen_and_formatted_per_column(written: Written) -> None:
    tables = excel_tables(written.path)
    for name in SHEETS:
        assert written.sheets[name].frozen == "A2", name  # header row frozen
        assert tables[name][1], f"{name}: no autofilter"
    fiscal = written.sheets["fiscal_indicators"]
    headers = {cell.value: column for column, cell in fiscal.rows()[1].items()}
    formats: dict[str, set[str]] = {}
    for number, row in fiscal.rows().items():
        if number > 1:
            formats.setdefault(str(row[headers["Indicator"]].value), set()).add(
                row[headers["Value"]].number_format
            )
            assert row[headers["Year"]].number_format == "0"
    assert formats["spending"] == {'#,##0 "XOF"'}
    assert formats["leakage_share"] == {"0.0%"}
    assert formats["gini_pre"] == {"0.000"}
    assert formats["projected_beneficiaries"] == {"#,##0"}  # persons: a count


# ---------------------------------------------------------------- hand-made


def frame(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as a frame with the published columns (missing values NULL)."""
    return pl.DataFrame([{"run_id": "r", **row} for row in rows], schema=empty_frame(name).schema)


def coverage_rows(n_obs: dict[str, int]) -> pl.DataFrame:
    """Coverage of one programme by region, cells under 5 households suppressed."""
    return frame(
        MATCHING,
        [
            {"programme": "dibao", "poverty_line": "national", "group_type": "region"}
            | {"group_value": region, "indicator": "coverage", "unit": "fraction"}
            | {"value": None if n < 5 else 0.2, "n_obs": n, "suppressed": n < 5}
            for region, n in n_obs.items()
        ],
    )


def test_the_disclosure_rule_is_kept_only_when_the_rows_agree() -> None:
    data = ReportData(run={"run_id": "r"}, matching_indicators=coverage_rows({"A": 4, "B": 9}))
    assert disclosure_rule(data, 5).min_cell_n == 5
    assert disclosure_rule(data, 12).min_cell_n is None  # B (9 households) would be hidden
    unknown = disclosure_rule(data)
    assert (unknown.min_cell_n, unknown.bounds) == (None, (5, 9))
    assert "from 5 to 9" in unknown.statement()
    assert unknown.suppressed == {"targeting_errors": 0, MATCHING: 1, "programme_overlap": 0}


def test_the_threshold_is_read_back_only_from_the_unchanged_configuration(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text("[disclosure]\nmin_cell_n = 7\n")
    digest = hashlib.sha256(config.read_bytes()).hexdigest()
    run = {"config_path": str(config), "config_sha256": digest}
    assert configured_min_cell_n(run) == 7
    config.write_text("[disclosure]\nmin_cell_n = 3\n")  # edited since the run
    assert configured_min_cell_n(run) is None
    assert configured_min_cell_n({"config_path": str(tmp_path / "gone.toml")}) is None


def test_number_formats_follow_display_unit_and_currency() -> None:
    assert number_format("percent") == number_format("points") == "0.0%"
    assert number_format("money", "currency/year", "XOF") == '#,##0 "XOF"'
    assert number_format("money", "currency/year") == "#,##0"  # no currency published
    assert money_format('L"C\\U') == '#,##0 "LCU"'  # a quote cannot end the literal
    assert number_format("year", "year") == "0"
    assert number_format("number", "persons") == "#,##0"
    assert number_format("number", "index") == "0.000"
    assert unit_text("currency/person/year", "money", "XOF") == "XOF per person per year"


def test_cross_tabs_write_data_text_as_text(tmp_path: Path) -> None:
    rows = coverage_rows({FORMULA: 40, "Tiny": 3})
    path = tmp_path / "tables.xlsx"
    write_standard_tables(ReportData(run={"run_id": "r"}, matching_indicators=rows), path)
    sheet = read_workbook(path)["Coverage"]
    assert sheet.value(sheet.find(FORMULA)) == FORMULA
    assert not any(cell.is_formula for cell in sheet.cells.values())
    assert table_cell(sheet, "Coverage, by region", "Tiny", "dibao").value == "suppressed"
    assert table_cell(sheet, "Coverage, by region", FORMULA, "dibao").value == 0.2
