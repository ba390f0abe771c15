"""The run's Data Docs: static validation pages that open offline, from the validation rows.

One index page (``data_docs/index.html``: every suite with its checks held and failed) and one
page per suite (``data_docs/suites/TABLE.html``: every expectation with what it requires,
what was observed, and whether it held). A suite is a validated table: the staging tables and
helper tables Great Expectations checks inside DuckDB, and the analysis frame the project
checks itself (``table_name`` 'analysis'), which Great Expectations' own Data Docs never
showed. The pages are rendered from rows in the shape of ``audit.validation_results``, so the
run (from its checkpoint result) and ``welfare-audit report`` (from the warehouse) write the
same pages. Like the report: Jinja2 with autoescape, inline CSS, no scripts, fonts, images or
URLs, so they open offline, can be archived as they are, and take a few milliseconds to write
(GX's own Data Docs loaded 16 assets from CDNs, rendered an empty index offline, and copied
4.4 MB of fonts and images into every run).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transforms.definitions import plural
from transforms.expectations import ANALYSIS_TABLE, table_description
from transforms.report.definitions import DATA_DOCS_FOLDER, DATA_DOCS_INDEX
from transforms.report.formats import count, text
from transforms.report.html import environment
from transforms.report.words import expectation_words

GX = "Great Expectations"
"""Checks run by Great Expectations, as SQL inside the staging DuckDB."""
PROJECT = "welfare-audit"
"""Checks the project runs itself, on the analysis frame (polars)."""


@dataclass(frozen=True)
class CheckView:
    """One expectation as a suite page shows it: every value already text."""

    held: bool
    severity: str
    expectation: str
    """The check in words ('Column values to be between')."""
    kind: str
    """Its Great Expectations (or project) name, 'expect_column_values_to_be_between'."""
    column: str
    expected: str
    observed: str


@dataclass(frozen=True)
class SuiteView:
    """One validated table and its checks."""

    name: str
    href: str
    """The suite's page, relative to the index."""
    description: str
    checked_by: str
    checks: tuple[CheckView, ...]

    @property
    def held(self) -> int:
        """Checks that held."""
        return sum(check.held for check in self.checks)

    def failed(self, severity: str) -> int:
        """Checks of one severity that failed."""
        return sum(not check.held and check.severity == severity for check in self.checks)

    @property
    def status(self) -> str:
        """failed (an error failed: the run stops), warning (a warning failed), or passed."""
        if self.failed("error"):
            return "failed"
        return "warning" if self.failed("warning") else "passed"


@dataclass(frozen=True)
class DocsView:
    """What the pages show for one run."""

    audit_name: str
    run_id: str
    suites: tuple[SuiteView, ...]

    @property
    def checks(self) -> int:
        """Checks over every suite."""
        return sum(len(suite.checks) for suite in self.suites)

    def failed(self, severity: str) -> int:
        """Checks of one severity that failed, over every suite."""
        return sum(suite.failed(severity) for suite in self.suites)

    @property
    def failures(self) -> tuple[tuple[SuiteView, CheckView], ...]:
        """Every failed check with its suite, errors first."""
        found = [(s, c) for s in self.suites for c in s.checks if not c.held]
        return tuple(sorted(found, key=lambda pair: pair[1].severity != "error"))


def suite_page(table_name: str) -> str:
    """A suite's page, relative to the Data Docs folder: suites/TABLE.html (a name that is
    not a plain identifier is made one, so it is a safe file name)."""
    return f"suites/{re.sub(r'[^A-Za-z0-9_.-]', '_', table_name)}.html"


def check_view(row: Mapping[str, Any]) -> CheckView:
    """One validation row (audit.validation_results) as text."""
    kind = text(row.get("expectation"))
    return CheckView(
        held=bool(row.get("success")),
        severity=text(row.get("severity")),
        expectation=expectation_words(kind),
        kind=kind,
        column=row.get("column_name") or "(table)",
        expected=row.get("expected") or "not recorded by this run",
        observed=text(row.get("observed")),
    )


def docs_view(rows: Sequence[Mapping[str, Any]], *, audit_name: str, run_id: str) -> DocsView:
    """The pages' content: one suite per table, staged tables first, the analysis frame last
    (the order validation runs them); within a suite failed checks first, errors first."""
    names = sorted({str(row["table_name"]) for row in rows}, key=lambda n: (n == ANALYSIS_TABLE, n))
    suites = []
    for name in names:
        checks = [check_view(row) for row in rows if row["table_name"] == name]
        checks.sort(key=lambda c: (c.held, c.severity != "error"))
        suites.append(
            SuiteView(
                name=name,
                href=suite_page(name),
                description=table_description(name),
                checked_by=PROJECT if name == ANALYSIS_TABLE else GX,
                checks=tuple(checks),
            )
        )
    return DocsView(audit_name, run_id, tuple(suites))


def render_data_docs(
    rows: Sequence[Mapping[str, Any]], *, audit_name: str, run_id: str
) -> dict[str, str]:
    """Every page of the Data Docs as HTML text, by path relative to the Data Docs folder:
    index.html and one suites/TABLE.html per validated table."""
    view = docs_view(rows, audit_name=audit_name, run_id=run_id)
    env = environment()
    env.globals["count"] = count
    env.globals["plural"] = plural
    pages = {DATA_DOCS_INDEX: env.get_template("data_docs_index.html.j2").render(docs=view)}
    suite = env.get_template("data_docs_suite.html.j2")
    for item in view.suites:
        pages[item.href] = suite.render(docs=view, suite=item)
    return pages


def write_data_docs(
    directory: Path, rows: Sequence[Mapping[str, Any]], *, audit_name: str, run_id: str
) -> Path:
    """Write the Data Docs pages into ``directory`` (the run's output folder, beside
    report.html); return the index page."""
    for name, html in render_data_docs(rows, audit_name=audit_name, run_id=run_id).items():
        path = directory / DATA_DOCS_FOLDER / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    return directory / DATA_DOCS_INDEX
