"""The report's "Definitions" section: what every number below rests on, stated once.

The poverty lines with their values (audit.poverty_lines), the welfare concept and unit, the
equivalence scale, whose shares the rates count, the survey design behind every standard error
(strata, PSUs, degrees of freedom), the disclosure threshold and what a suppressed cell means,
the currency of the money, and links to the run's other outputs. The welfare, the scale, the
design and the threshold are read from the run's notes (:mod:`transforms.definitions`); a
warehouse older than those notes says so, item by item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from transforms.definitions import DesignSummary, RecordedDefinitions, plural, read_definitions
from transforms.report import dimensions as dims
from transforms.report.blocks import Cell, Facts, Link, Links, Section
from transforms.report.cells import currency_code, section
from transforms.report.data import ReportData
from transforms.report.formats import COMPLEMENTARY, MISSING, SUPPRESSED, count, money
from transforms.report.words import line_method_words

WORKBOOK = "standard_tables.xlsx"
"""The run's workbook, written beside report.html (transforms.report.workbook)."""
DATA_DOCS_FOLDER = "data_docs"
"""The run's validation pages (:mod:`transforms.report.validation_docs`), beside report.html."""
DATA_DOCS_INDEX = "index.html"
DATA_DOCS = f"{DATA_DOCS_FOLDER}/{DATA_DOCS_INDEX}"
"""The Data Docs' index page, relative to report.html."""
NOT_RECORDED = "not recorded by this run (its warehouse predates these notes)"


def recorded_definitions(data: ReportData) -> RecordedDefinitions:
    """What the run's notes state about its welfare, scale, design and threshold."""
    return read_definitions(data.run_notes["note"].drop_nulls().to_list())


def output_links(data: ReportData) -> tuple[Link, ...]:
    """Relative links to the workbook and, when the run validated its inputs, the Data Docs."""
    links = [Link(WORKBOOK, WORKBOOK, "every published table of this run, one sheet each")]
    if data.validation_results.height:
        docs = "every validation check of the inputs, expectation by expectation"
        links.append(Link("Data Docs", DATA_DOCS, docs))
    return tuple(links)


def line_value_words(rows: Sequence[dict[str, Any]], currency: str) -> str:
    """A line's value per person per year, or its range across regions, with its currency."""
    values = [r["value"] for r in rows if r.get("value") is not None]
    if not values:
        return "value not published"
    per = f"{currency + ' ' if currency else ''}per person per year"
    regions = [r for r in rows if r.get("region") is not None]
    low, high = min(values), max(values)
    if not regions or low == high:
        return f"{money(low)} {per}" + (
            f" in {plural(len(regions), 'region', 'regions')}" if regions else ""
        )
    return f"{money(low)} to {money(high)} {per} across {plural(len(regions), 'region', 'regions')}"


def sentence(words: str) -> str:
    """Words as a sentence: first letter upper-cased, a full stop at the end."""
    words = words[:1].upper() + words[1:]
    return words if words.endswith(".") else words + "."


def line_fact(line: dims.Key, rows: Sequence[dict[str, Any]], currency: str) -> tuple[str, str]:
    """One poverty line: its method in words, its value with the currency, its source."""
    first = rows[0] if rows else {}
    method = line_method_words(first.get("method"))
    over = f" over {first['unit']}" if first.get("unit") else ""
    source = f"; source: {first['source']}" if first.get("source") else ""
    words = f"{method}{over}: {line_value_words(rows, first.get('currency') or currency)}{source}"
    return f"Poverty line {dims.line_label(line)}", words


def line_facts(data: ReportData, currency: str) -> list[tuple[str, str]]:
    """Every line the run published with its value; the lines only rows name, without one."""
    published = data.poverty_lines
    facts = [
        line_fact(line, dims.select(published, poverty_line=line).to_dicts(), currency)
        for line in dims.first_seen(published["poverty_line"].to_list())
    ]
    if facts:
        return facts
    named = [dims.line_label(line) for line in dims.line_order(data) if line is not None]
    measured = ", ".join(named) if named else "one unnamed line"
    return [("Poverty lines", f"{measured}: values not published (audit.poverty_lines)")]


def poor_words(data: ReportData) -> str:
    """What poor means, and which line the report leads with."""
    order = dims.line_order(data)
    first = dims.line_label(order[0] if order else None)
    return (
        "pre-transfer welfare strictly below the line (a household exactly on the line is not "
        f"poor); the headline and the tables by group use the first line, {first}"
    )


def counted_unit(data: ReportData) -> str | None:
    """Whose shares the rates are: persons or households, as the rows say."""
    for frame, column in ((data.targeting_errors, "unit"), (data.model_metrics, "unit")):
        named = frame[column].drop_nulls() if column in frame.columns else pl.Series([])
        if named.len():
            return str(named[0])
    return None


def unit_fact(unit: str | None) -> str:
    """The unit of rates and shares in words."""
    if unit == "households":
        return "households: each household counts with its sampling weight"
    if unit == "persons":
        return "persons: each household counts with its sampling weight × its members"
    return MISSING


def design_words(design: DesignSummary) -> str:
    """The design behind every standard error, in words."""
    df = design.degrees_of_freedom
    words = (
        f"{plural(design.strata, 'stratum', 'strata')}, {plural(design.psus, 'PSU', 'PSUs')} "
        f"(primary sampling units) and {plural(df, 'degree', 'degrees')} of freedom "
        f"(PSUs − strata), over {plural(design.households, 'household', 'households')} "
        "surveyed. Standard errors are design-based (Taylor linearisation); 95 % CIs use "
        f"Student's t with {count(df)} degrees of freedom, logit-transformed for shares so they "
        "stay between 0 and 100 %"
    )
    if not design.has_strata:
        words += "; the survey has no strata column: one stratum"
    if not design.has_psus:
        words += "; the survey has no PSU column: each household is its own PSU"
    return words + "."


def design_fact(data: ReportData, recorded: RecordedDefinitions) -> str:
    """The recorded design, else the PSUs the cross-validation folds count, else why not."""
    if recorded.design is not None:
        return design_words(recorded.design)
    psus = data.pmt_folds["psus"].drop_nulls() if "psus" in data.pmt_folds.columns else None
    if psus is not None and psus.len():
        return (
            f"{count(int(psus.sum()))} PSUs (counted by the cross-validation folds); strata and "
            f"degrees of freedom {NOT_RECORDED}."
        )
    return f"{NOT_RECORDED}."


def suppression_fact(threshold: int | None) -> str:
    """The disclosure threshold and what a suppressed cell means."""
    fewer = (
        f"fewer than {plural(threshold, 'household', 'households')} surveyed"
        if threshold is not None
        else "fewer households surveyed than the disclosure threshold (disclosure.min_cell_n, "
        "which this run did not record)"
    )
    return (
        f"an estimate resting on {fewer} is withheld: its cell reads “{SUPPRESSED}” and the "
        "warehouse holds NULL (suppression 'primary'). Where such a group would otherwise be "
        "the whole less the other groups of its kind (the regions add up to the whole "
        "population, incidence shares to 100 %), the group with the fewest households "
        f"among the others is withheld too and reads “{COMPLEMENTARY}” (suppression "
        "'complementary'), so neither can be found by subtraction. That protects populations, "
        "counts, amounts and shares, and rates through their numerators and denominators; it "
        "does not hide bounds (a withheld value lies between 0 and what the others leave) or "
        "what combining different tables gives. The count is the households in the group, "
        "except that benefit incidence counts the households paid a benefit and beneficiary "
        "incidence the beneficiary households, so a quintile's benefit incidence can be "
        "suppressed while its coverage is shown. National fiscal values and model metrics "
        "are not suppressed."
    )


def money_fact(currency: str) -> str:
    """The currency of every amount, and how large amounts are written."""
    named = currency or "the audit's currency (not recorded by this run)"
    return (
        f"amounts are in {named}: per year for spending, costs and budgets, per person per year "
        "for poverty lines, standards and benefits per person; from 100,000 up they are "
        "written in thousands, millions or billions, as named."
    )


def definitions_section(data: ReportData) -> Section:
    """What every number of the report rests on: lines, welfare, unit, design, suppression,
    money, and the run's other outputs."""
    recorded = recorded_definitions(data)
    currency = currency_code(data.run, data.poverty_lines)
    items: list[tuple[str, str]] = [
        *line_facts(data, currency),
        ("Poor", poor_words(data)),
        ("Welfare", recorded.welfare or NOT_RECORDED),
        ("Equivalence scale", recorded.equivalence_scale or NOT_RECORDED),
        ("Rates count", unit_fact(counted_unit(data))),
        ("Survey design", design_fact(data, recorded)),
        ("Suppressed cells", suppression_fact(recorded.min_cell_n)),
        ("Money", money_fact(currency)),
    ]
    links = Links(output_links(data))
    facts = Facts(tuple((term, Cell(sentence(words))) for term, words in items), css="definitions")
    return section("definitions", "Definitions", "Definitions", facts, links)
