"""The programmes and poverty lines of one run: which there are, in which order, and their rows.

Every published row names its ``programme`` and its ``poverty_line`` (NULL in an older
warehouse, and ``programme`` NULL for a survey without programme data or a PMT row not compared
with a programme). The report states every line and shows every programme, in the order the
run published them: lines as ``audit.poverty_lines`` lists them (the configured order; the
first is the line the headline and the sections below measure against), programmes as
``audit.targeting_errors`` lists them, with ``any`` (receiving at least one) last.

A key is a name or None; None matches NULL (:func:`select`), so a run that names neither
reads as one unnamed programme against one unnamed line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

from transforms.report.data import ReportData

Key = str | None
"""A programme or poverty-line name as published; None for NULL."""
ANY = "any"
"""The programme value of rows measuring receipt of at least one programme."""
PROGRAM = "program"
"""The method of rows measuring actual receipt."""
PMT_PREFIX = "pmt:"
ACTUAL = "actual"
POVERTY_RATE_RULE = "rate:poverty_rate"
PROGRAMME_COVERAGE_RULE = "rate:programme_coverage"
ANY_LABEL = "any (at least one)"
OUT_OF_FOLD = "out_of_fold"
IN_SAMPLE = "in_sample"


def first_seen(values: Iterable[Key]) -> list[Key]:
    """Distinct values in order of first appearance (None kept as a value)."""
    return list(dict.fromkeys(values))


def named_first(keys: list[Key]) -> list[Key]:
    """The keys without None when any is named (None then only stands for a column an older
    table lacks); the one unnamed key otherwise."""
    named: list[Key] = [key for key in keys if key is not None]
    return named if named else keys


def column_values(frame: pl.DataFrame, column: str) -> list[Key]:
    """A frame's values of one column, in row order ([] when it lacks the column)."""
    return frame[column].to_list() if column in frame.columns else []


def by_order(keys: Iterable[Key], order: Sequence[Key]) -> list[Key]:
    """Distinct keys sorted by their position in ``order``; keys it lacks after, as found."""
    found = first_seen(keys)
    rank = {key: index for index, key in enumerate(order)}
    return sorted(found, key=lambda key: rank.get(key, len(order) + found.index(key)))


def select(frame: pl.DataFrame, **keys: Key) -> pl.DataFrame:
    """The rows whose columns equal the keys (None selects NULL): select(f, programme='any')."""
    return frame.filter(
        *(pl.col(column).eq_missing(pl.lit(key, dtype=pl.String)) for column, key in keys.items())
    )


def actual_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of a targeting frame measuring actual receipt of a programme."""
    return frame.filter(pl.col("method") == PROGRAM)


def programme_rows(data: ReportData) -> pl.DataFrame:
    """Targeting rows of actual receipt (every programme, line and group)."""
    return actual_rows(data.targeting_errors)


def records_programmes(data: ReportData) -> bool:
    """Whether the run measured a programme's actual receipt (a survey without programme data
    has only model rows)."""
    return programme_rows(data).height > 0 or data.programme_overlap.height > 0


def model_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of a targeting frame measuring a PMT model."""
    return frame.filter(pl.col("method").str.starts_with(PMT_PREFIX))


def line_order(data: ReportData) -> list[Key]:
    """Every poverty line of the run: audit.poverty_lines order, then lines only rows name."""
    sources = (
        data.poverty_lines,
        data.targeting_errors,
        data.model_metrics,
        data.matching_indicators,
        data.fiscal_indicators,
    )
    found = first_seen(line for frame in sources for line in column_values(frame, "poverty_line"))
    return named_first(found)


def programme_order(data: ReportData) -> list[Key]:
    """Every programme of the run in published order, ``any`` last."""
    sources = (programme_rows(data), data.matching_indicators, data.fiscal_indicators)
    found = named_first(first_seen(p for f in sources for p in column_values(f, "programme")))
    return [p for p in found if p != ANY] + ([ANY] if ANY in found else [])


def lines_in(frame: pl.DataFrame, data: ReportData) -> list[Key]:
    """The lines a frame's rows name, in the run's line order."""
    return by_order(column_values(frame, "poverty_line"), line_order(data))


def programmes_in(frame: pl.DataFrame, data: ReportData) -> list[Key]:
    """The programmes a frame's rows name, in the run's programme order."""
    return by_order(column_values(frame, "programme"), programme_order(data))


def first_line_of(frame: pl.DataFrame, data: ReportData) -> pl.DataFrame:
    """A frame's rows against the first line it has (in the run's order)."""
    lines = lines_in(frame, data)
    return select(frame, poverty_line=lines[0]) if lines else frame


def models_line(data: ReportData) -> Key:
    """The line the models learn: the line of the model rows, else the run's first line."""
    sources = (data.model_metrics, model_rows(data.targeting_errors))
    for lines in (column_values(frame, "poverty_line") for frame in sources):
        if lines:
            return lines[0]
    order = line_order(data)
    return order[0] if order else None


def out_of_fold(metrics: pl.DataFrame) -> pl.DataFrame:
    """Model metric rows of the cross-validated scores (the published rates); an older warehouse
    without the ``sample`` column has only those."""
    return metrics.filter(pl.col("sample").is_null() | (pl.col("sample") == OUT_OF_FOLD))


def in_sample(metrics: pl.DataFrame) -> pl.DataFrame:
    """Model metric rows of the final model scored on the households it was fitted on."""
    return metrics.filter(pl.col("sample") == IN_SAMPLE)


def programme_label(programme: Key) -> str:
    """A programme as a reader sees it: its name, 'any (at least one)', or 'programme'."""
    if programme is None:
        return "programme"
    return ANY_LABEL if programme == ANY else programme


def line_label(line: Key) -> str:
    """A poverty line as a reader sees it: its name, or 'the poverty line' when unnamed."""
    return "the poverty line" if line is None else line


def is_named(keys: Sequence[Key]) -> bool:
    """Whether the keys name something (not only the one unnamed key of an older run)."""
    return any(key is not None for key in keys)
