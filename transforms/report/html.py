"""The per-run audit report: one self-contained HTML page for a programme manager.

Three layers: :mod:`transforms.report.data` reads one run's published tables
(:func:`load_report_data`, the only DuckDB access); :mod:`transforms.report.view` turns
them into formatted text and table view models, with labels and display rules from the
indicator catalogue and inline SVG charts from :mod:`transforms.report.charts`; this module
renders the view through the Jinja2 templates in ``templates/`` with autoescape on, so every
string from data is HTML-escaped by the template engine. No external CSS, scripts, fonts or
URLs: the file opens offline and can be mailed or archived as it is.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from transforms.catalogue import TARGETING, label
from transforms.report.data import ReportData, conform, empty_frame, load_report_data
from transforms.report.formats import pct
from transforms.report.names import COVERAGE, EXCLUSION_ERROR, INCLUSION_ERROR
from transforms.report.view import national_summary, report_view

TEMPLATES = Path(__file__).parent / "templates"
REPORT_TEMPLATE = "report.html.j2"

__all__ = [
    "ReportData",
    "conform",
    "empty_frame",
    "environment",
    "load_report_data",
    "pct",
    "render_report",
    "summary_markdown",
]


def environment() -> jinja2.Environment:
    """The report's template environment: HTML autoescaped, undefined names an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(data: ReportData) -> str:
    """The whole report as one self-contained HTML document (UTF-8 text)."""
    template = environment().get_template(REPORT_TEMPLATE)
    return template.render(report=report_view(data))


def markdown_cell(value: str) -> str:
    """Text safe inside a Markdown table cell (a '|' would split the cell)."""
    return value.replace("|", "\\|").replace("\n", " ")


def summary_markdown(data: ReportData, *, report_path: str) -> str:
    """A short Markdown summary of the run for the Prefect UI (headline errors, where to look)."""
    name = markdown_cell(str(data.run.get("config_name") or ""))
    lines = [f"# Welfare audit {name}: run {data.run['run_id']}", ""]
    rates = (COVERAGE, EXCLUSION_ERROR, INCLUSION_ERROR)
    headers = ["method", "rule", "programme", "poverty line"]
    headers += [markdown_cell(label(TARGETING, rate)) for rate in rates]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in national_summary(data):
        lines.append("| " + " | ".join(markdown_cell(cell) for cell in row) + " |")
    failed = data.validation_results.filter(~data.validation_results["success"]).height
    lines += ["", f"Validation: {data.validation_results.height} checks, {failed} failed."]
    lines += [f"Alerts: {data.alerts.height}.", "", f"Full report: `{report_path}`"]
    return "\n".join(lines)
