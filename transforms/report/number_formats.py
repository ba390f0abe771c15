"""Excel number formats of the workbook: one format code per display kind and unit.

The display kind of an indicator comes from :mod:`transforms.catalogue` (``percent``,
``points``, ``number``, ``money``, ``year``), as in the HTML report's
:mod:`transforms.report.formats`; here it becomes an Excel format code, so cells stay numbers
an analyst can recompute with: fractions as ``0.0%``, money with thousands separators, no
decimals and the run's currency (``#,##0 "LCU"``), years as ``0``, counts (persons,
households, rows) as ``#,##0``, other plain numbers (indices, ratios) as ``0.000``.
"""

from __future__ import annotations

from transforms.catalogue import Display

PERCENT = "0.0%"
"""A fraction as a percentage; also a difference of fractions (-3.2% reads 3.2 points down)."""
COUNT = "#,##0"
YEAR = "0"
NUMBER = "0.000"
"""Indices (Gini, concentration, Kakwani) and ratios: three decimals."""
COUNT_UNITS = frozenset({"persons", "households", "persons or households", "rows", "bytes", "PSUs"})
"""Units whose values are counts, even when estimated (weighted persons are not whole)."""


def money_format(currency: str) -> str:
    """Thousands separators, no decimals, the currency after the amount: '#,##0 "XOF"'."""
    code = "".join(c for c in currency if c not in '"\\')  # a quote would end the literal
    return f'#,##0 "{code}"' if code.strip() else COUNT


def number_format(display: Display, unit: str = "", currency: str = "") -> str:
    """The Excel format code of a value of a display kind and unit (see the module doc)."""
    if display in ("percent", "points"):
        return PERCENT
    if display == "money":
        return money_format(currency)
    if display == "year":
        return YEAR
    return COUNT if unit in COUNT_UNITS else NUMBER


def unit_text(unit: str, display: Display, currency: str = "") -> str:
    """A catalogue or contract unit as a reader sees it, the currency named:
    'currency/person/year' -> 'LCU per person per year'; 'fraction' -> 'fraction, shown as %'."""
    if unit.startswith("currency"):
        words = unit.replace("currency", currency or "currency units", 1)
        return words.replace("/", " per ")
    if display in ("percent", "points"):
        return f"{unit}, shown as %"
    return unit
