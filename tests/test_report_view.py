"""The report's layers on their own: number formats, view models from tiny hand-made rows, the
templates' escaping, the charts' escaping, and the workbook's cells and formats read back from
the xlsx XML."""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import polars as pl
import pytest

from transforms.catalogue import FISCAL, MATCHING, TARGETING, label, targeting_rates
from transforms.report import charts, html
from transforms.report.blocks import (
    COMPLEMENTARY_CELL,
    SUPPRESSED_CELL,
    Cell,
    Figure,
    Table,
    Unavailable,
)
from transforms.report.data import ReportData, empty_frame
from transforms.report.formats import (
    MISSING,
    SUPPRESSED,
    change,
    formatted,
    money,
    number,
    pct,
    points,
    rate_interval,
    year,
)
from transforms.report.html import environment, render_report, summary_markdown
from transforms.report.view import (
    described,
    indicator_cell,
    indicator_table,
    rate_cell,
    section,
)
from transforms.report.workbook import write_standard_tables

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = '<Nord & "Sud">'
FORMULA = '=HYPERLINK("http://x","y")'
NS = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def rows_of(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as a frame with the published columns of ``audit.<name>``."""
    return pl.DataFrame([{"run_id": "r", **row} for row in rows], schema=empty_frame(name).schema)


# ---------------------------------------------------------------- formats


def test_each_display_kind_has_its_format() -> None:
    assert pct(0.562) == "56.2 %"
    assert formatted("percent", 0.00791, digits=2) == "0.79 %"
    assert formatted("points", 0.347) == "+34.7 pp"
    assert points(0.0139, signed=False) == "1.4 pp"
    assert formatted("money", 4.2e9) == "4.20 billion"
    assert formatted("money", 1860.25) == "1,860"
    assert money(4.2e9, "XOF") == "4.20 billion XOF"  # the currency of audit.poverty_lines
    assert money(99_999.4, "LCU") == "99,999 LCU"  # in full below 100,000
    assert money(215_700.0, "LCU") == "216 thousand LCU"
    assert money(-47_280_086_600.0, "LCU", signed=True) == "-47.3 billion LCU"
    assert money(2.5e7) == "25.0 million"
    assert formatted("year", 2035.0) == "2035" and year(2035) == "2035"
    assert formatted("number", 0.47554) == "0.476"
    assert formatted("number", 2.1371) == "2.14"
    assert formatted("number", 17075554.3) == "17,075,554"
    assert number(0.824, 3) == "0.824"


def test_missing_and_undefined_values_read_as_a_dash() -> None:
    for kind in ("percent", "points", "number", "money", "year"):
        assert formatted(kind, None) == MISSING
        assert formatted(kind, math.nan) == MISSING
    assert rate_interval("percent", 0.1, None) == MISSING


def test_intervals_and_changes_follow_the_display() -> None:
    assert rate_interval("percent", 0.543, 0.581) == "54.3–58.1 %"
    assert rate_interval("number", 2.09, 2.18) == "2.09–2.18"
    assert rate_interval("points", 0.327, 0.366) == "+32.7 pp to +36.6 pp"
    assert change("percent", 0.08) == "+8.0 pp"
    assert change("money", -1500.0) == "-1,500"
    assert change("year", 5.0) == "+5"


# ---------------------------------------------------------------- view models


def test_a_suppressed_cell_says_so_and_shows_no_number() -> None:
    row = {"exclusion_error": None, "suppressed": True}
    assert rate_cell(row, "exclusion_error") == SUPPRESSED_CELL
    assert Cell(SUPPRESSED, suppressed=True) == SUPPRESSED_CELL
    matching = {"indicator": "coverage", "value": None, "suppressed": True}
    assert indicator_cell(MATCHING, matching) == SUPPRESSED_CELL


def test_a_complementary_cell_says_it_protects_another() -> None:
    row = {"exclusion_error": None, "suppressed": True, "suppression": "complementary"}
    assert rate_cell(row, "exclusion_error") == COMPLEMENTARY_CELL
    assert COMPLEMENTARY_CELL.text == "suppressed (complementary)"
    matching = {"indicator": "coverage", "value": None} | row
    assert indicator_cell(MATCHING, matching) == COMPLEMENTARY_CELL
    older = {"exclusion_error": None, "suppressed": True, "suppression": None}  # before it
    assert rate_cell(older, "exclusion_error") == SUPPRESSED_CELL


def test_rate_cells_carry_their_ci_and_fall_back_to_the_model_estimate() -> None:
    row = {"exclusion_error": 0.562, "exclusion_error_ci_low": 0.543}
    row |= {"exclusion_error_ci_high": 0.581, "suppressed": False}
    assert rate_cell(row, "exclusion_error") == Cell("56.2 %", ci="54.3–58.1 %")
    assert rate_cell(None, "inclusion_error", 0.465) == Cell("46.5 %")


def test_indicator_cells_use_the_catalogue_display() -> None:
    money_row = {"indicator": "benefit_standard", "value": 3300.0, "unit": "currency/person/year"}
    assert indicator_cell(MATCHING, money_row) == Cell("3,300")
    ratio = {"indicator": "adequacy", "value": 0.305, "ci_low": 0.287, "ci_high": 0.322}
    assert indicator_cell(MATCHING, ratio) == Cell("30.5 %", ci="28.7 % to 32.2 %")  # ratio, as %
    crossed = {"indicator": "threshold_crossed_year", "value": 2035.0, "unit": "year"}
    assert indicator_cell(FISCAL, crossed) == Cell("2035")
    spending = {"indicator": "spending", "value": 4.2e9}
    assert indicator_cell(FISCAL, spending, "XOF") == Cell("4.20 billion XOF")


def test_labels_come_from_the_catalogue_and_unknown_names_show_as_themselves() -> None:
    facts = described(FISCAL, "budget_pmt:ols")
    assert facts.label == label(FISCAL, "budget_pmt:ols")
    assert (facts.unit, facts.display) == ("currency/year", "money")
    old = described(FISCAL, "retired_indicator", "fraction")  # an older warehouse's name
    assert (old.label, old.unit, old.display) == ("retired indicator", "fraction", "percent")
    quintiles = rows_of(
        "matching_indicators",
        [
            {"group_type": "quintile", "group_value": "1", "indicator": "benefit_incidence"}
            | {"value": 0.62, "n_obs": 400},
        ],
    )
    table = indicator_table(quintiles, ("coverage", "benefit_incidence"), caption="c")
    assert table.headers == (
        "Welfare quintile",
        label(MATCHING, "coverage"),
        label(MATCHING, "benefit_incidence"),
        "Households surveyed",
    )
    assert table.rows == ((Cell("Q1\u00a0(poorest)"), Cell(MISSING), Cell("62.0 %"), Cell("400")),)


def test_the_headline_table_lists_every_targeting_rate_in_its_display() -> None:
    national = {"method": "program", "decision_rule": "actual", "group_type": "all"}
    national |= {"group_value": "all", "unit": "persons", "n_obs": 10, "poverty_rate": 0.2}
    national |= {"targeting_differential": 0.347, "targeting_differential_ci_low": 0.327}
    national |= {"targeting_differential_ci_high": 0.366, "targeting_differential_se": 0.01}
    national |= {"cgh": 2.137, "cgh_ci_low": 2.09, "cgh_ci_high": 2.18}
    data = ReportData(run={"run_id": "r"}, targeting_errors=rows_of("targeting_errors", [national]))
    document = render_report(data)
    headline = re.search(r'<section id="headline">(.*?)</section>', document, re.S)
    assert headline is not None
    rows = [
        re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", headline[1])
    ]
    assert [row[0] for row in rows[1:]] == [label(TARGETING, rate) for rate in targeting_rates()]
    differential = label(TARGETING, "targeting_differential")
    assert [differential, "+34.7 pp", "+32.7 pp to +36.6 pp", "1.0 pp"] in rows
    assert [label(TARGETING, "cgh"), "2.14", "2.09–2.18", "—"] in rows
    assert [label(TARGETING, "poverty_rate"), "20.0 %", "—", "—"] in rows


def test_the_run_summary_uses_the_catalogue_labels_and_escapes_pipes() -> None:
    targeting = rows_of(
        "targeting_errors",
        [
            {"method": "pmt:ols", "decision_rule": "line", "poverty_line": "national"}
            | {"group_type": "all", "coverage": 0.2, "exclusion_error": 0.4},
            {"method": "program", "decision_rule": "actual", "group_type": "all"}
            | {"programme": "dibao", "poverty_line": "a|b"}
            | {"coverage": 0.163, "exclusion_error": 0.562, "inclusion_error": 0.443},
        ],
    )
    run = {"run_id": "r", "config_name": "pilot"}
    text = summary_markdown(ReportData(run=run, targeting_errors=targeting), report_path="x.html")
    assert f"| {label(TARGETING, 'exclusion_error')} |" in text
    assert "| method | rule | programme | poverty line |" in text
    rows = [line for line in text.splitlines() if line.startswith(("| p", "| P"))]
    assert rows == [  # the programmes first
        "| programme (actual receipt) | actual receipt | dibao | a\\|b "
        "| 16.3 % | 56.2 % | 44.3 % |",
        "| PMT (OLS) | predicted poor | — | national | 20.0 % | 40.0 % | — |",
    ]  # methods and rules in words, as in the report (no keys such as pmt:ols)
    assert text.endswith("Full report: `x.html`")


# ---------------------------------------------------------------- templates


def render_blocks(*blocks: Any) -> str:
    """One section of the given blocks, rendered through the report's macros."""
    macros = environment().get_template("blocks.html.j2").module
    return str(macros.section(section("probe", "Probe", f"Probe {HOSTILE}", *blocks)))


def test_the_templates_escape_every_string_from_data() -> None:
    assert environment().autoescape is True
    table = Table(
        headers=(f"Region {HOSTILE}", "Value"),
        rows=((Cell(HOSTILE), Cell("1 %", ci=HOSTILE)), (Cell(HOSTILE, style="code"), Cell("x"))),
        caption=HOSTILE,
        css="compact",
    )
    rendered = render_blocks(table, Unavailable(HOSTILE))
    assert HOSTILE not in rendered
    escaped = "&lt;Nord &amp; &#34;Sud&#34;&gt;"
    assert rendered.count(escaped) == 7  # title, header, caption, cell, CI, code cell, reason
    assert f"<td>{escaped}</td>" in rendered
    assert f"<code>{escaped}</code>" in rendered
    assert f"Not available in this run: {escaped}." in rendered


def test_chart_svg_is_inserted_as_markup_and_its_caption_escaped() -> None:
    svg = '<svg role="img"><text>&lt;b&gt;</text></svg>'
    rendered = render_blocks(Figure("probe-chart", svg, caption=HOSTILE))
    assert '<figure id="chart-probe-chart" data-chart="probe-chart">\n' + svg in rendered
    assert "<figcaption>&lt;Nord &amp; &#34;Sud&#34;&gt;</figcaption>" in rendered


def test_charts_escape_text_from_data() -> None:
    regions = rows_of(
        "targeting_errors",
        [
            {"group_type": "region", "group_value": name, "exclusion_error": 0.5}
            | {"inclusion_error": 0.3, "suppressed": False}
            for name in (HOSTILE, "Ouest $2$")
        ],
    )
    svg = charts.errors_by_region(regions, national=None)
    assert HOSTILE not in svg and "&lt;Nord &amp; " in svg
    assert "Ouest $2$" in svg  # literal text, not mathtext
    assert label(TARGETING, "exclusion_error") in svg  # the legend: catalogue labels


def test_no_module_of_the_report_builds_html_itself() -> None:
    tags = ("<td", "<tr", "<th", "<table", "<p>", "<p ", "<span", "<section", "<figure", "<dl")
    for path in sorted((ROOT / "transforms" / "report").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "html.escape" not in source and "import html\n" not in source, path.name
        assert [tag for tag in tags if tag in source] == [], path.name
    assert html.TEMPLATES.joinpath(html.REPORT_TEMPLATE).is_file()


# ---------------------------------------------------------------- workbook


def read_sheet(path: Path, sheet: str) -> dict[str, tuple[ElementTree.Element, str | None]]:
    """Cell reference -> (the <c> element, its number format code) of one sheet of an xlsx."""
    with zipfile.ZipFile(path) as archive:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        relations = archive.read("xl/_rels/workbook.xml.rels").decode()
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
        targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', relations))
        rid = next(
            str(s.get(f"{{{RELATIONSHIPS}}}id"))
            for s in workbook.iterfind("x:sheets/x:sheet", NS)
            if s.get("name") == sheet
        )
        root = ElementTree.fromstring(archive.read(f"xl/{targets[rid]}"))
    codes: dict[int, str | None] = {1: "0", 3: "#,##0"}  # built-in formats xlsxwriter uses
    codes |= {
        int(f.get("numFmtId", 0)): f.get("formatCode") for f in styles.iter(f"{{{NS['x']}}}numFmt")
    }
    xfs = [int(xf.get("numFmtId", 0)) for xf in styles.iterfind("x:cellXfs/x:xf", NS)]
    return {
        str(c.get("r")): (c, codes.get(xfs[int(c.get("s", 0))]))
        for c in root.iterfind(".//x:c", NS)
    }


def shared_strings(path: Path) -> list[str]:
    """The workbook's shared strings, in index order."""
    with zipfile.ZipFile(path) as archive:
        root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iter(f"{{{NS['x']}}}t")) for si in root]


def cell_text(cell: ElementTree.Element, strings: list[str]) -> str | None:
    """The text of a shared-string cell (None for any other cell)."""
    return strings[int(cell.findtext("x:v", "", NS))] if cell.get("t") == "s" else None


def columns_by_header(
    cells: dict[str, tuple[ElementTree.Element, str | None]], strings: list[str]
) -> dict[str | None, str]:
    """Header text -> column letters, from row 1."""
    return {
        cell_text(cell, strings): re.sub(r"\d", "", ref)
        for ref, (cell, _) in cells.items()
        if re.fullmatch(r"[A-Z]+1", ref)
    }


def test_workbook_writes_a_formula_looking_string_as_text(tmp_path: Path) -> None:
    targeting = rows_of(
        "targeting_errors",
        [
            {"method": "program", "decision_rule": "actual", "group_type": "region"}
            | {"group_value": FORMULA, "exclusion_error": 0.5, "suppressed": False},
        ],
    )
    path = tmp_path / "tables.xlsx"
    write_standard_tables(ReportData(run={"run_id": "r"}, targeting_errors=targeting), path)
    cells = read_sheet(path, "targeting_errors")
    strings = shared_strings(path)
    column = columns_by_header(cells, strings)["Group value"]
    region, _ = cells[f"{column}2"]
    assert region.get("t") == "s" and cell_text(region, strings) == FORMULA  # a string, as is
    assert [ref for ref, (c, _) in cells.items() if c.find("x:f", NS) is not None] == []
    with zipfile.ZipFile(path) as archive:
        for part in (n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")):
            assert "<f>" not in archive.read(part).decode(), part  # no formula on any sheet


def test_workbook_formats_follow_the_catalogue(tmp_path: Path) -> None:
    fiscal = rows_of(
        "fiscal_indicators",
        [
            {"scenario": "current", "year": 2025, "indicator": "spending", "value": 4.2e9},
            {"scenario": "current", "year": 2025, "indicator": "leakage_share", "value": 0.31},
            {"scenario": "fast", "indicator": "threshold_crossed_year", "value": 2035.0},
            {"scenario": "current", "year": 2025, "indicator": "gini_pre", "value": 0.4755},
        ],
    )
    targeting = rows_of(
        "targeting_errors",
        [{"method": "program", "group_type": "all", "exclusion_error": 0.5, "cgh": 2.1}],
    )
    path = tmp_path / "tables.xlsx"
    data = ReportData(run={"run_id": "r"}, fiscal_indicators=fiscal, targeting_errors=targeting)
    write_standard_tables(data, path)
    strings = shared_strings(path)
    cells = read_sheet(path, "fiscal_indicators")
    columns = columns_by_header(cells, strings)
    values = [cells[f"{columns['Value']}{row}"][1] for row in range(2, 6)]
    assert values == ["#,##0", "0.0%", "0", "0.000"]  # money (no currency known), %, year, index
    first_label = cells[f"{columns['Label']}2"][0]
    assert cell_text(first_label, strings) == label(FISCAL, "spending")
    cells = read_sheet(path, "targeting_errors")
    columns = columns_by_header(cells, strings)
    assert cells[f"{columns[label(TARGETING, 'exclusion_error')]}2"][1] == "0.0%"
    assert cells[f"{columns[label(TARGETING, 'cgh')]}2"][1] == "0.00"


@pytest.mark.parametrize(
    "name",
    ["ReportData", "load_report_data", "render_report", "empty_frame", "pct", "summary_markdown"],
)
def test_the_report_entry_points_stay_importable_from_html(name: str) -> None:
    assert hasattr(html, name)


def test_published_keys_read_as_words() -> None:
    from transforms.catalogue import suffix_words
    from transforms.report import words

    assert words.method_text("pmt:ols") == "PMT\u00a0(OLS)"
    assert words.method_text("pmt:my_forest") == "PMT\u00a0(my_forest)"  # a custom model's name
    assert words.rule_words("rate:programme_coverage", "dibao") == "coverage equal to dibao's"
    assert words.rule_words("line") == "predicted poor"
    assert words.group_type_words("quintile_post") == "Welfare quintile after the transfer"
    assert words.group_type_words("female_headed") == "Female headed"  # a configured group
    assert words.quantile_words("decile_post", "1") == "D1\u00a0(poorest)"
    assert words.tier_words("extreme_poor|band0") == (
        "Extreme poor (below half the line)",
        "No benefit",
    )
    assert words.tier_words("near_poor|band3") == (
        "Near-poor (below 1.5 × the line)",
        "Benefit band 3",
    )
    assert words.unit_text("currency/person/year", "XOF") == "XOF per person per year"
    assert words.unit_text("fraction") == "share"
    assert words.unit_text("difference of fractions") == "percentage points"
    assert words.line_method_words("relative_median").startswith("Relative: a share of the median")
    assert words.expectation_words("expect_column_values_to_be_between") == (
        "Column values to be between"
    )
    assert label(FISCAL, "budget_pmt_flat:ols") == (
        "Budget needed to close the poverty gap, PMT (OLS): flat transfer to those selected"
    )
    assert label(FISCAL, "poverty_reduction_with_current_budget:perfect_targeting").endswith(
        "allocated by perfect targeting"
    )
    assert label(FISCAL, "age_beneficiary_rate:0-14") == (
        "Share of people aged 0–14 in beneficiary households"
    )
    assert suffix_words("<group>", "all") == "of all ages"
    assert suffix_words("<source>", "central_transfer") == "central_transfer"  # configured
