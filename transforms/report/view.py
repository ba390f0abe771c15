"""The report's view layer: one run's published rows as formatted text in small view models.

Pure and markup-free: :func:`report_view` turns a :class:`ReportData` into a ``ReportView``
of sections, each a sequence of blocks (tables of already formatted cells, charts, one-line
notices; :mod:`transforms.report.blocks`); ``templates/report.html.j2`` lays them out and
escapes every string. The sections live by topic: targeting (headline, poverty lines,
programme overlap, models, groups, curves) in :mod:`transforms.report.targeting_sections`,
resource matching and the fiscal balance in :mod:`transforms.report.resource_sections`, the
run's own record (validation, alerts, provenance, notes) here. Which programmes and lines a
run has, and in which order, is :mod:`transforms.report.dimensions`; the cell helpers they
share are :mod:`transforms.report.cells`. Indicator labels, units and display kinds come from
:mod:`transforms.catalogue`, the names read from :mod:`transforms.report.names`.

Every section shows a one-line "Not available in this run: <reason>." instead of failing
when its data is missing; cells withheld by disclosure control read
"suppressed (n < threshold)".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import polars as pl

from transforms.catalogue import TARGETING
from transforms.contract import SCHEMA
from transforms.definitions import is_definition
from transforms.report import charts
from transforms.report import dimensions as dims
from transforms.report.blocks import (
    Block,
    Bullets,
    Cell,
    Facts,
    Paragraph,
    ReportView,
    Section,
    Table,
    Unavailable,
)
from transforms.report.cells import (
    cells,
    currency_code,
    described,
    group_text,
    indicator_cell,
    rate_cell,
    rate_text,
    rule_text,
    section,
)
from transforms.report.data import ReportData
from transforms.report.definitions import definitions_section, output_links
from transforms.report.formats import change as change_text
from transforms.report.formats import count, formatted, text, timestamp
from transforms.report.names import COVERAGE, EXCLUSION_ERROR, INCLUSION_ERROR
from transforms.report.resource_sections import fiscal_section, indicator_table, matching_section
from transforms.report.targeting_sections import (
    curves_section,
    groups_section,
    headline_section,
    lines_section,
    models_section,
    overlap_section,
    profile_section,
)
from transforms.report.words import expectation_words, method_text, rule_words

__all__ = [
    "described",
    "indicator_cell",
    "indicator_table",
    "national_summary",
    "rate_cell",
    "report_view",
    "section",
]


def validation_section(data: ReportData) -> Section:
    """Expectation counts by severity and outcome; failed expectations with what was seen."""
    title = "Data validation"
    frame = data.validation_results
    if frame.height == 0:
        reason = "no validation results were recorded"
        return section("validation", "Validation", title, Unavailable(reason))
    rows = []
    for severity in sorted(frame["severity"].unique().to_list(), key=lambda s: (s != "error", s)):
        part = frame.filter(pl.col("severity") == severity)
        held = int(part["success"].sum())
        rows.append(
            cells(text(severity), count(held), count(part.height - held), count(part.height))
        )
    caption = "Great Expectations checks on the staging tables."
    blocks: list[Block] = [
        Table(("Severity", "Held", "Failed", "Checked"), tuple(rows), caption=caption)
    ]
    failed = frame.filter(~pl.col("success"))
    if failed.height:
        listed = tuple(
            (
                Cell(text(r["severity"])),
                Cell(text(r["table_name"]), style="code"),
                Cell(r.get("column_name") or "", style="code" if r.get("column_name") else ""),
                Cell(expectation_words(text(r["expectation"]))),
                Cell(text(r.get("observed"))),
            )
            for r in failed.sort(["severity", "table_name"]).to_dicts()
        )
        headers = ("Severity", "Table", "Column", "Expectation", "Observed")
        caption = f"{count(failed.height)} expectation{'s' if failed.height > 1 else ''} failed."
        blocks.append(Table(headers, listed, numeric_from=9, caption=caption, css="compact"))
    else:
        blocks.append(Paragraph(f"All {count(frame.height)} expectations held."))
    return section("validation", "Validation", title, *blocks)


def alert_method(row: dict[str, Any]) -> str:
    """Where an alert's indicator moved: 'programme dibao', 'PMT (OLS) (predicted poor)'."""
    method = row.get("method") or ""
    if method == dims.PROGRAM:
        programme = row.get("programme")
        return "programme" + ("" if programme is None else f" {dims.programme_label(programme)}")
    rule = row.get("decision_rule")
    described_rule = f" ({rule_text(rule, row.get('programme'))})" if rule else ""
    return charts.method_label(method) + described_rule


def alert_row(row: dict[str, Any], currency: str) -> tuple[Cell, ...]:
    """One alert: the indicator, where it moved, its values before and now, and the rule."""
    facts = described(TARGETING, row.get("indicator") or "")
    threshold = row.get("threshold")
    return cells(
        facts.label,
        alert_method(row),
        text(row.get("poverty_line")),
        group_text(row.get("group_type") or "", row.get("group_value")),
        formatted(facts.display, row.get("previous"), currency=currency),
        formatted(facts.display, row.get("current"), currency=currency),
        change_text(facts.display, row.get("change"), currency=currency),
        formatted("number", threshold) if isinstance(threshold, float) else text(threshold),
    )


def alerts_section(data: ReportData) -> Section:
    """Headline indicators that moved beyond their thresholds since the previous run."""
    title = "Alerts"
    if data.alerts.height == 0:
        return section("alerts", "Alerts", title, Paragraph("No alerts were raised for this run."))
    currency = currency_code(data.run, data.poverty_lines)
    rows = tuple(alert_row(r, currency) for r in data.alerts.to_dicts())
    headers = ("Indicator", "Method", "Line", "Group", "Previous", "Current", "Change", "Rule")
    previous: list[str] = []
    if "previous_run_id" in data.alerts.columns:
        previous = sorted({str(p) for p in data.alerts["previous_run_id"].drop_nulls()})
    caption = "Changes beyond the configured thresholds since the previous successful run" + (
        f" ({', '.join(previous)})." if previous else "."
    )
    table = Table(headers, rows, numeric_from=4, numeric_to=7, caption=caption, css="compact")
    return section("alerts", "Alerts", title, table)


RUN_COUNTS = ("rows_read", "rows_loaded", "rows_quarantined")


def provenance_facts(run: dict[str, Any]) -> Facts:
    """The run's identity: id, status, configuration and its hash, code version, row counts."""
    items = [
        ("Run id", Cell(text(run.get("run_id")), style="code")),
        ("Status", Cell(text(run.get("status")))),
        ("Audit", Cell(text(run.get("config_name")))),
        ("Started", Cell(timestamp(run.get("started_at")))),
        ("Finished", Cell(timestamp(run.get("finished_at")))),
        ("Configuration", Cell(text(run.get("config_path")), style="code")),
        ("Configuration SHA-256", Cell(text(run.get("config_sha256")), style="hash")),
        ("Code version", Cell(text(run.get("code_version")), style="code")),
        ("Seed", Cell(text(run.get("seed")))),
        (
            "Rows read / loaded / quarantined",
            Cell(" / ".join(count(run.get(c)) for c in RUN_COUNTS)),
        ),
    ]
    if run.get("error"):
        items.append(("Error", Cell(str(run["error"]))))
    return Facts(tuple(items))


def provenance_section(data: ReportData) -> Section:
    """The run's identity and every input file with its hash."""
    files = data.input_files
    if files.height == 0:
        listed: Block = Unavailable("no input files were recorded")
    else:
        rows = tuple(
            (
                Cell(text(f["role"])),
                Cell(text(f.get("path")), style="code"),
                Cell(text(f.get("sha256")), style="hash"),
                Cell(count(f.get("bytes"))),
                *(Cell(count(f.get(c))) for c in RUN_COUNTS),
            )
            for f in files.sort("role").to_dicts()
        )
        headers = ("Role", "Path", "SHA-256", "Bytes", "Rows read", "Loaded", "Quarantined")
        caption = "Input files as read by this run."
        listed = Table(headers, rows, numeric_from=3, caption=caption, css="compact files")
    return section("provenance", "Provenance", "Provenance", provenance_facts(data.run), listed)


def notes_section(data: ReportData) -> Section | None:
    """Free-text notes attached to the report (absent tables, caveats); None without notes.
    The notes that record a definition are stated in the Definitions section instead."""
    notes = tuple(note for note in data.notes if not is_definition(note.partition(": ")[2]))
    if not notes:
        return None
    return section("notes", "Notes", "Notes", Bullets(notes))


SECTIONS: tuple[Callable[[ReportData], Section | None], ...] = (
    headline_section,
    definitions_section,
    lines_section,
    profile_section,
    overlap_section,
    models_section,
    groups_section,
    matching_section,
    curves_section,
    fiscal_section,
    validation_section,
    alerts_section,
    provenance_section,
    notes_section,
)


def present(sections: Iterable[Section | None]) -> tuple[Section, ...]:
    """The sections that have something to show."""
    return tuple(s for s in sections if s is not None)


def report_view(data: ReportData) -> ReportView:
    """The whole report of one run as formatted text, section by section."""
    run = data.run
    return ReportView(
        name=str(run.get("config_name") or "welfare audit"),
        run_id=str(run.get("run_id") or "unknown run"),
        status=text(run.get("status")),
        succeeded=run.get("status") == "succeeded",
        error=str(run.get("error") or ""),
        finished=timestamp(run.get("finished_at")),
        code_version=text(run.get("code_version")),
        schema=SCHEMA,
        sections=present(build(data) for build in SECTIONS),
        links=output_links(data),
    )


def national_summary(data: ReportData) -> list[tuple[str, ...]]:
    """Per method, rule, programme and line, the national coverage and errors in words (for
    the run summary): the programmes first, line by line in the run's order; then the models as
    published."""
    national = data.targeting_errors.filter(pl.col("group_type") == "all")
    programmes, lines = dims.programme_order(data), dims.line_order(data)

    def order(row: dict[str, Any]) -> tuple[int, int]:
        if row["method"] != dims.PROGRAM:
            return (len(lines) + 1, 0)  # after every programme row; sorted() is stable
        programme, line = row.get("programme"), row.get("poverty_line")
        return (
            lines.index(line) if line in lines else len(lines),
            programmes.index(programme) if programme in programmes else len(programmes),
        )

    return [
        (
            method_text(row["method"]).replace("\u00a0", " "),
            rule_words(row["decision_rule"], row.get("programme")),
            text(row.get("programme")),
            text(row.get("poverty_line")),
            rate_text(COVERAGE, row[COVERAGE]),
            rate_text(EXCLUSION_ERROR, row[EXCLUSION_ERROR]),
            rate_text(INCLUSION_ERROR, row[INCLUSION_ERROR]),
        )
        for row in sorted(national.to_dicts(), key=order)
    ]
