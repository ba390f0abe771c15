"""The workbook's Contents sheet: the run, every sheet, the definitions of what the cross-tabs
show, the run's poverty lines and programmes, and the disclosure rule.

Built as :class:`~transforms.report.crosstabs.Crosstab` tables, laid out like any other sheet.
Labels, units, definitions and sources come from the indicator catalogue
(:mod:`transforms.catalogue`) and, for plain columns (households surveyed, overlap shares), from
the output contract (:mod:`transforms.contract`); nothing here restates a definition.
"""

from __future__ import annotations

from collections.abc import Sequence

from transforms.catalogue import display_of, lookup
from transforms.contract import SCHEMA, table
from transforms.report import dimensions as dims
from transforms.report.crosstabs import (
    NOT_PUBLISHED,
    Crosstab,
    CrosstabSheet,
    Header,
    Number,
    Text,
    Value,
    count_cell,
)
from transforms.report.data import ReportData
from transforms.report.disclosure import SETTING, DisclosureRule
from transforms.report.formats import text, timestamp
from transforms.report.number_formats import money_format, unit_text
from transforms.report.sheet_headers import readable_header

CONTENTS = "Contents"
"""The name of the first sheet."""


def labelled(*pairs: tuple[str, Value]) -> tuple[tuple[Value, ...], ...]:
    """Rows of a two-column table: a label and its value."""
    return tuple((Text(label), value) for label, value in pairs)


def run_table(data: ReportData, currency: str) -> Crosstab:
    """The run the workbook shows: its id, audit, status, times, configuration and code."""
    run = data.run
    rows = labelled(
        ("Run ID", Text(text(run.get("run_id")))),
        ("Audit", Text(text(run.get("config_name")))),
        ("Status", Text(text(run.get("status")))),
        ("Started", Text(timestamp(run.get("started_at")))),
        ("Finished", Text(timestamp(run.get("finished_at")))),
        ("Configuration", Text(text(run.get("config_path")))),
        ("Configuration SHA-256", Text(text(run.get("config_sha256")))),
        ("Code version", Text(text(run.get("code_version")))),
        ("Currency of amounts", Text(currency or "not published")),
    )
    return Crosstab(
        title="Run",
        unit="",
        stub="",
        headers=(),
        rows=rows,
        notes=(f"Every table is read from the warehouse's schema {SCHEMA} for this run only.",),
    )


def data_sheet_entry(name: str) -> tuple[str, str, str]:
    """A data sheet as the Contents lists it: name, title, the contract's description."""
    spec = table(name)
    return name, f"Data: {SCHEMA}.{name}", f"{spec.description} Grain: {spec.grain}."


def sheets_table(crosstabs: Sequence[CrosstabSheet], data_sheets: Sequence[str]) -> Crosstab:
    """Every sheet of the workbook, in order, with its title and what it holds."""
    entries = [
        (
            CONTENTS,
            "Contents",
            "This sheet: the run, the sheets, definitions, lines, "
            "programmes and the disclosure rule.",
        )
    ]
    entries += [(s.name, s.title, s.description) for s in crosstabs]
    entries += [data_sheet_entry(name) for name in data_sheets]
    rows = tuple((Text(name, "sheet"), Text(title), Text(words)) for name, title, words in entries)
    return Crosstab(
        title="Sheets",
        unit="",
        stub="Sheet",
        headers=(Header("Title"), Header("Holds")),
        rows=rows,
        notes=(
            "Cross-tabs: formatted tables (groups, methods or years down; programmes across), "
            "notes under each. Data sheets: the published rows as numbers, filterable.",
        ),
    )


def definition_row(table_name: str, name: str, currency: str, sheets: str) -> tuple[Value, ...]:
    """One quantity shown: from the catalogue when it is an indicator, else its contract
    column."""
    try:
        item = lookup(table_name, name)
    except KeyError:
        column = next(c for c in table(table_name).columns if c.name == name)
        return (
            Text(f"{table_name}.{name}"),
            Text(readable_header(name)),
            Text(column.description),
            Text(unit_text(column.unit, display_of(column.unit), currency) or "—"),
            Text(f"output contract ({SCHEMA}.{table_name})"),
            Text(sheets),
        )
    return (
        Text(f"{table_name}.{name}"),
        Text(item.label_for(name)),
        Text(item.definition),
        Text(unit_text(item.unit, item.display, currency)),
        Text(item.source),
        Text(sheets),
    )


def definitions_table(crosstabs: Sequence[CrosstabSheet], currency: str) -> Crosstab:
    """The definition of every quantity the cross-tabs show, in the order they first appear."""
    shown: dict[tuple[str, str], list[str]] = {}
    for sheet in crosstabs:
        for crosstab in sheet.tables:
            for key in crosstab.shows:
                sheets = shown.setdefault(key, [])
                if sheet.name not in sheets:
                    sheets.append(sheet.name)
    rows = tuple(
        definition_row(table_name, name, currency, ", ".join(sheets))
        for (table_name, name), sheets in shown.items()
    )
    return Crosstab(
        title="Definitions of the indicators shown",
        unit="",
        stub="Published as",
        headers=(
            Header("Label"),
            Header("Definition"),
            Header("Unit"),
            Header("Source"),
            Header("Sheets"),
        ),
        rows=rows,
        notes=(
            "From the indicator catalogue (transforms/catalogue.py) and the output contract "
            "(transforms/contract.py), as in docs/data-dictionary.md. Notation: household "
            "weight w, size n, persons ω = w·n, welfare per person y after and y⁰ before the "
            "transfer, benefit T, beneficiary B, line z, poor P = 1[y⁰ < z], gap g = "
            "max(z − y⁰, 0); d = ω (persons) or w (households).",
        ),
    )


def lines_table(data: ReportData, currency: str) -> Crosstab:
    """The value of every poverty line of the run, per region where it varies."""
    money = money_format(currency)
    body = tuple(
        (
            Text(dims.line_label(r.get("poverty_line"))),
            Text(text(r.get("method"))),
            Text(text(r.get("source"))),
            Text(r.get("region") or "national"),
            NOT_PUBLISHED if r.get("value") is None else Number(float(r["value"]), money),
            Text(r.get("unit") or "—"),
        )
        for r in data.poverty_lines.to_dicts()  # the run's order of lines
    )
    value = table("poverty_lines").columns
    unit = next(c.unit for c in value if c.name == "value")
    return Crosstab(
        title="Poverty lines",
        unit="",
        stub="Line",
        headers=(
            Header("Method"),
            Header("Source"),
            Header("Region"),
            Header(f"Value ({unit_text(unit, 'money', currency)})"),
            Header("Relative to"),
        ),
        rows=body,
        notes=(
            f"From {SCHEMA}.poverty_lines. Tables that depend on the line come once per line, "
            "in this order; the first is the line the HTML report leads with.",
        ),
    )


def programmes_table(data: ReportData) -> Crosstab:
    """The programmes of the run, in the order the tables show them."""
    programmes = dims.programme_order(data)
    rows = tuple(
        (
            Text(dims.programme_label(p)),
            Text(
                "receipt of at least one of the programmes"
                if p == dims.ANY
                else "receipt of this programme"
                if p is not None
                else "the survey's one programme (unnamed)"
            ),
        )
        for p in programmes
    )
    return Crosstab(
        title="Programmes",
        unit="",
        stub="Programme",
        headers=(Header("Measured as"),),
        rows=rows,
        notes=("Columns of the cross-tabs follow this order.",),
    )


def disclosure_table(rule: DisclosureRule) -> Crosstab:
    """The disclosure rule of the run and what it suppressed."""
    threshold: Value = (
        count_cell(rule.min_cell_n) if rule.min_cell_n is not None else Text("not recorded")
    )
    return Crosstab(
        title="Disclosure control",
        unit="",
        stub="Setting",
        headers=(Header("Households"), Header("Rule")),
        rows=((Text(SETTING), threshold, Text(rule.statement())),),
        notes=(
            "Applied once, at publication (transforms/contract.py, publishable); the workbook "
            "shows the published rows as they are.",
        ),
    )


def notes_table(data: ReportData) -> Crosstab | None:
    """What the run itself skipped or assumed, and tables the warehouse lacks."""
    if not data.notes:
        return None
    return Crosstab(
        title="Notes of the run",
        unit="",
        stub="",
        headers=(),
        rows=tuple((Text(str(i)), Text(note)) for i, note in enumerate(data.notes, start=1)),
        notes=(f"From {SCHEMA}.run_notes.",),
    )


def contents_sheet(
    data: ReportData,
    crosstabs: Sequence[CrosstabSheet],
    data_sheets: Sequence[str],
    *,
    currency: str,
    rule: DisclosureRule,
) -> CrosstabSheet:
    """The Contents sheet of a run's workbook."""
    tables: list[Crosstab | None] = [
        run_table(data, currency),
        sheets_table(crosstabs, data_sheets),
        definitions_table(crosstabs, currency),
        lines_table(data, currency),
        programmes_table(data),
        disclosure_table(rule),
        notes_table(data),
    ]
    name = str(data.run.get("config_name") or "welfare audit")
    return CrosstabSheet(
        CONTENTS,
        f"Standard tables: {name}",
        "The run, the sheets, definitions, lines, programmes and the disclosure rule.",
        tuple(t for t in tables if t is not None),
    )
