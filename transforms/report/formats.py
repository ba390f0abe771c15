"""Numbers as the report shows them: one small pure function per display kind.

The display kind of an indicator (``percent``, ``points``, ``number``, ``money``, ``year``)
comes from :func:`transforms.catalogue.display`; :func:`formatted` turns a value of that kind
into text. Missing values read as a dash, never as "None" or "nan". No markup here: the
templates escape and lay out what these functions return.
"""

from __future__ import annotations

import math
from datetime import datetime

from transforms.catalogue import Display

MISSING = "—"
SUPPRESSED = "suppressed (n < threshold)"
"""A cell withheld for resting on too few households (primary suppression)."""
COMPLEMENTARY = "suppressed (complementary)"
"""A cell with enough households, withheld so that a primary one cannot be found by
subtraction from its whole (complementary suppression, transforms.suppression)."""


def text(value: object) -> str:
    """Any value as text, None as a dash."""
    return MISSING if value is None else str(value)


def pct(value: float | None, digits: int = 1, *, signed: bool = False) -> str:
    """A fraction as a percentage, one decimal by default: 0.562 -> '56.2 %'."""
    if value is None or math.isnan(value):
        return MISSING
    return f"{value * 100:{'+' if signed else ''}.{digits}f} %"


def pct_ci(low: float | None, high: float | None, digits: int = 1) -> str:
    """A 95 % CI of fractions: '54.3–58.1 %'."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return MISSING
    return f"{low * 100:.{digits}f}–{high * 100:.{digits}f} %"


def points(value: float | None, *, signed: bool = True) -> str:
    """A difference of fractions in percentage points: 0.123 -> '+12.3 pp'."""
    if value is None or math.isnan(value):
        return MISSING
    return f"{value * 100:{'+' if signed else ''}.1f} pp"


def number(value: float | None, digits: int | None = None, *, signed: bool = False) -> str:
    """A plain number with thousands separators, to about three significant digits by default:
    0.476, 2.14, 17,075,554."""
    if value is None or math.isnan(value):
        return MISSING
    if digits is None:
        digits = 0 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    return f"{value:{'+' if signed else ''},.{digits}f}"


SCALES = ((1e9, "billion"), (1e6, "million"), (1e3, "thousand"))
"""Money from 100,000 up is written in the largest of these that keeps a number >= 1."""
SCALE_FROM = 1e5


def scaled(value: float) -> tuple[float, str]:
    """An amount and its scale word: 4.2e9 -> (4.2, 'billion'); below 100,000 -> (value, '')."""
    if abs(value) < SCALE_FROM:
        return value, ""
    divisor, word = next((d, w) for d, w in SCALES if abs(value) >= d)
    return value / divisor, word


def money(value: float | None, currency: str = "", *, signed: bool = False) -> str:
    """An amount of money in the run's currency, scaled from 100,000 up with its scale named
    and three significant digits: '7,025 LCU', '216 thousand LCU', '4.20 billion XOF'.

    ``currency`` is the run's currency code (``cells.run_currency``), '' when unknown.
    """
    if value is None or math.isnan(value):
        return MISSING
    amount, word = scaled(value)
    sign = "+" if signed else ""
    if not word:
        digits = f"{amount:{sign},.0f}"
    else:
        decimals = 2 if abs(amount) < 10 else 1 if abs(amount) < 100 else 0
        digits = f"{amount:{sign},.{decimals}f} {word}"
    return f"{digits} {currency}" if currency else digits


def year(value: float | None) -> str:
    """A calendar year as an integer: 2035.0 -> '2035'."""
    return MISSING if value is None or math.isnan(value) else str(round(value))


def count(value: int | None) -> str:
    """An integer count with thousands separators."""
    return MISSING if value is None else f"{value:,}"


def timestamp(value: object) -> str:
    """A timestamp to the second, with its zone."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return text(value)


def formatted(
    kind: Display, value: float | None, *, digits: int | None = None, currency: str = ""
) -> str:
    """A value of a display kind as text: percent '56.2 %', points '+12.3 pp', money
    '4.20 billion XOF', year '2035', number '0.476'."""
    if kind == "percent":
        return pct(value, 1 if digits is None else digits)
    if kind == "points":
        return points(value)
    if kind == "money":
        return money(value, currency)
    if kind == "year":
        return year(value)
    return number(value, digits)


def interval(kind: Display, low: float | None, high: float | None, *, currency: str = "") -> str:
    """A 95 % CI with both bounds in the value's display: '41.8 % to 45.6 %'."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return MISSING
    bounds = (formatted(kind, bound, currency=currency) for bound in (low, high))
    return " to ".join(bounds)


def rate_interval(kind: Display, low: float | None, high: float | None) -> str:
    """A targeting rate's 95 % CI, compact where signs allow: '54.3–58.1 %', '2.09–2.18',
    '+32.7 pp to +36.6 pp'."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return MISSING
    if kind == "percent":
        return pct_ci(low, high)
    if kind == "number":
        return f"{number(low)}–{number(high)}"
    return interval(kind, low, high)


def standard_error(kind: Display, value: float | None) -> str:
    """A standard error in its value's unit, unsigned: '1.0 %', '1.0 pp', '0.020'."""
    if kind == "points":
        return points(value, signed=False)
    return formatted(kind, value)


def change(kind: Display, value: float | None, *, currency: str = "") -> str:
    """A change between runs: fractions in points '+8.0 pp', others signed in their unit."""
    if kind in ("percent", "points"):
        return points(value)
    if kind == "money":
        return money(value, currency, signed=True)
    return number(value, 0 if kind == "year" else None, signed=True)
