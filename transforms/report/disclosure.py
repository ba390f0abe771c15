"""The disclosure rule as the workbook states it: the run's threshold and what it suppressed.

The threshold is the one the run recorded in ``audit.run_notes`` (the same note the report's
Definitions read, :mod:`transforms.definitions`). A run from before that note existed has it
read back from its configuration file, only when that file is still there unchanged (its
SHA-256 equals ``runs.config_sha256``). Either way it is kept only when it agrees with the
published rows (every cell suppressed for its count below it, every published cell at or
above it; a complementary cell, withheld to protect another, has any count); otherwise the
rule is stated without a number, with the bounds the published rows imply.
The rule itself is applied once, at publication (:func:`transforms.contract.publishable`).
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError

from transforms.config import Disclosure
from transforms.definitions import read_definitions
from transforms.report.data import ReportData
from transforms.suppression import COMPLEMENTARY

SUPPRESSIBLE_TABLES = ("targeting_errors", "matching_indicators", "programme_overlap")
"""The published tables with an ``n_obs`` and a ``suppressed`` column."""
SETTING = "disclosure.min_cell_n"
DEFAULT_MIN_CELL_N = Disclosure.model_fields["min_cell_n"].default


@dataclass(frozen=True)
class DisclosureRule:
    """The threshold of one run (None when it cannot be stated) and its suppressed cells."""

    min_cell_n: int | None
    suppressed: dict[str, int]
    """Suppressed cells per published table."""
    bounds: tuple[int, int] | None = None
    """(lowest, highest) threshold the published rows allow, when min_cell_n is unknown."""
    complementary: dict[str, int] = field(default_factory=dict)
    """Of the suppressed cells, those withheld to protect another (complementary)."""

    def threshold_words(self) -> str:
        """'fewer than 10 unweighted households' (or the setting's name when unknown)."""
        if self.min_cell_n is not None:
            return f"fewer than {self.min_cell_n} unweighted households"
        return f"fewer than {SETTING} unweighted households"

    def cell_note(self) -> str:
        """What a suppressed cell of a cross-tab shows, and why (a note under each table)."""
        return (
            f"'suppressed': the cell rests on {self.threshold_words()} (disclosure control); "
            "its value is withheld. 'suppressed (complementary)': withheld too, so that the "
            "other cannot be found by subtraction from the total. '—': not published for this "
            "cell."
        )

    def statement(self) -> str:
        """The rule in full, for the Contents sheet."""
        source = (
            f"{SETTING} = {self.min_cell_n} in this run's configuration"
            if self.min_cell_n is not None
            else f"{SETTING}, default {DEFAULT_MIN_CELL_N}; this run's value could not be read "
            "back from its configuration file"
            + (
                f" (its published cells imply a value from {self.bounds[0]} to {self.bounds[1]})"
                if self.bounds
                else ""
            )
        )
        counts = ", ".join(
            f"{table} {n}"
            + (
                f" ({self.complementary[table]} complementary)"
                if self.complementary.get(table)
                else ""
            )
            for table, n in self.suppressed.items()
        )
        return (
            f"A cell resting on {self.threshold_words()} is suppressed ({source}): in the data "
            "sheets its values are empty, Suppressed is TRUE and Suppression 'primary'; in the "
            "cross-tabs it reads 'suppressed'. Where it would otherwise be the total less the "
            "other groups of its kind (regions, quintiles, combinations: parts of the group "
            "'all', shares of 1), the published group with the fewest households is suppressed "
            "too (Suppression 'complementary', 'suppressed (complementary)'), so neither can be "
            "found by subtraction. This protects totals, counts and shares, and rates through "
            "their numerators and denominators; it does not stop bounds (a suppressed value is "
            "between 0 and what the others leave) or combining different tables (see "
            "docs/methodology.md). Values from tables rather than sample cells (regional "
            "standards, fiscal indicators) have no household count and are never suppressed. "
            f"Suppressed cells in this run: {counts or 'none'}."
        )


def suppressed_counts(data: ReportData, *, why: str | None = None) -> dict[str, int]:
    """Suppressed cells per suppressible table of the run (``why``: only those suppressed
    for that reason)."""
    counted = {}
    for name in SUPPRESSIBLE_TABLES:
        frame = getattr(data, name)
        hidden = frame["suppressed"].fill_null(False)
        if why is not None:
            hidden = hidden & (frame["suppression"] == why).fill_null(False)
        counted[name] = int(hidden.sum())
    return counted


def cell_counts(data: ReportData) -> tuple[pl.Series, pl.Series]:
    """The household counts of the cells suppressed for their count (not the complementary
    ones, which have any) and of the published ones (with a count)."""
    frames = [
        getattr(data, name).select(
            "n_obs",
            pl.col("suppressed").fill_null(False),
            (pl.col("suppression") == COMPLEMENTARY).fill_null(False).alias("complementary"),
        )
        for name in SUPPRESSIBLE_TABLES
    ]
    cells = pl.concat(frames).drop_nulls("n_obs")
    hidden = cells.filter(pl.col("suppressed") & ~pl.col("complementary"))["n_obs"]
    return hidden, cells.filter(~pl.col("suppressed"))["n_obs"]


def implied_bounds(data: ReportData) -> tuple[int, int] | None:
    """The thresholds the published rows allow: above every suppressed count, at or below
    every published count (None when no cell was suppressed: nothing bounds it from below)."""
    hidden, shown = (counts.to_list() for counts in cell_counts(data))
    if not hidden:
        return None
    low = int(max(hidden)) + 1
    return low, int(min(shown)) if shown else low


def agrees(min_cell_n: int, data: ReportData) -> bool:
    """Whether a threshold reproduces the published suppression of the run."""
    hidden, shown = cell_counts(data)
    return bool((hidden < min_cell_n).all() and (shown >= min_cell_n).all())


def recorded_min_cell_n(data: ReportData) -> int | None:
    """The threshold the run recorded in its notes, or None (a run from before the note)."""
    notes = data.run_notes["note"].to_list() if "note" in data.run_notes.columns else []
    return read_definitions(notes).min_cell_n


def configured_min_cell_n(run: dict[str, Any]) -> int | None:
    """``disclosure.min_cell_n`` of the run's configuration file, when that file is still at
    ``runs.config_path`` with the bytes ``runs.config_sha256`` recorded; None otherwise."""
    path, digest = run.get("config_path"), run.get("config_sha256")
    if not path or not digest:
        return None
    try:
        content = Path(str(path)).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(content).hexdigest() != digest:
        return None
    try:
        settings = tomllib.loads(content.decode("utf-8")).get("disclosure", {})
        return Disclosure.model_validate(settings).min_cell_n
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError):
        return None


def disclosure_rule(data: ReportData, min_cell_n: int | None = None) -> DisclosureRule:
    """The run's disclosure rule: ``min_cell_n`` as given, else as configured (see the module
    doc), kept only when the published rows agree with it."""
    threshold = min_cell_n
    if threshold is None:
        threshold = recorded_min_cell_n(data)
    if threshold is None:
        threshold = configured_min_cell_n(data.run)
    if threshold is not None and not agrees(threshold, data):
        threshold = None
    bounds = None if threshold is not None else implied_bounds(data)
    return DisclosureRule(
        threshold,
        suppressed_counts(data),
        bounds,
        suppressed_counts(data, why=COMPLEMENTARY),
    )
