"""The vocabulary of a raw input table, shared by readers, hooks and row rules.

Every raw frame carries ``__source_row`` (1-based data row number in the file) and
``__row_problem`` (why the row as a whole cannot be used, null when it can); an
:class:`IngestError` is a file that cannot be read as configured. This module imports
nothing of the project, so every layer can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

SOURCE_ROW = "__source_row"
"""1-based data row number in the raw file (every raw frame carries it)."""
ROW_PROBLEM = "__row_problem"
"""Why a raw row as a whole cannot be used (null when it can)."""


class IngestError(Exception):
    """A file that cannot be read as configured; the message names file, column and expectation."""


@dataclass(frozen=True)
class RawTable:
    """A raw file opened lazily, with its source-row index and row-problem column."""

    path: Path
    frame: pl.LazyFrame
    columns: tuple[str, ...]


def as_text(expression: pl.Expr) -> pl.Expr:
    """Raw value as text; whole-number floats print without '.0' (Stata ids, codes)."""
    whole = expression.cast(pl.Float64, strict=False)
    is_whole_float = whole.is_finite() & (whole == whole.round()) & (whole.abs() < 2**53)
    as_int_text = whole.cast(pl.Int64, strict=False).cast(pl.String)
    text = expression.cast(pl.String, strict=False).str.strip_chars()
    return (
        pl.when(is_whole_float & text.str.contains(r"^-?\d+\.0*$"))
        .then(as_int_text)
        .otherwise(text)
    )


STREAMING_LABELS = 64
"""Up to this many labels become a when-chain, which streams; more go through
``Expr.replace``, which holds the column (a long when-chain costs far more to plan)."""


def relabelled(text: pl.Expr, labels: Mapping[str, str]) -> pl.Expr:
    """Codes replaced by their labels, other values kept (a when-chain for a few labels: it
    streams, where ``Expr.replace`` makes polars hold the whole column)."""
    if not labels:
        return text
    if len(labels) > STREAMING_LABELS:
        return text.replace(list(labels), list(labels.values()))
    value = text
    for code, label in reversed(list(labels.items())):
        value = pl.when(text == code).then(pl.lit(label)).otherwise(value)
    return value
