"""The definitions a run states about itself: its welfare concept and unit, the equivalence
scale, the survey design behind every standard error, and the disclosure threshold.

No published table holds them, so the stages that know them record each as one run note in
words, ``<term>: <definition>`` (``audit.run_notes``): the analysis stage the welfare, the
scale and the design (:func:`analysis_notes`, from ``transforms.household.prepare_households``),
the matching stage, which every run has, the threshold (:func:`disclosure_note`). The report
reads them back with :func:`read_definitions`; the format of a note and its reader live here
together, so they cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from transforms.config import Disclosure, WelfareDefinition

WELFARE = "welfare"
EQUIVALENCE_SCALE = "equivalence scale"
SURVEY_DESIGN = "survey design"
DISCLOSURE_THRESHOLD = "disclosure threshold"
TERMS = (WELFARE, EQUIVALENCE_SCALE, SURVEY_DESIGN, DISCLOSURE_THRESHOLD)

BASIS_WORDS = {
    "per_capita": "the welfare column as delivered, per person",
    "household": "the household total divided by the number of members",
    "adult_equivalent": "the welfare column as delivered, per adult equivalent",
}
SCALE_WORDS = {
    None: "none: every member counts as one person",
    "oecd_modified": "OECD-modified: 1 for the first adult, 0.5 for each other adult, 0.3 for "
    "each child aged 0–14",
    "oecd": "OECD (Oxford): 1 for the first adult, 0.7 for each other adult, 0.5 for each child "
    "aged 0–14",
    "square_root": "square root of the number of members",
}
DESIGN_PATTERN = re.compile(
    r"^(?P<strata>[\d,]+) strat(?:um|a) and (?P<psus>[\d,]+) PSUs? over (?P<households>[\d,]+) "
    r"households?, so (?P<df>-?[\d,]+) degrees? of freedom"
)
THRESHOLD_PATTERN = re.compile(r"^(?P<n>[\d,]+) households?\b")


@dataclass(frozen=True)
class DesignSummary:
    """The survey design every standard error uses: strata, PSUs (nested in strata) and
    households; whether the survey mapped its own strata and PSU columns."""

    strata: int
    psus: int
    households: int
    has_strata: bool = True
    has_psus: bool = True

    @property
    def degrees_of_freedom(self) -> int:
        """PSUs − strata, as R survey's ``degf(design)``: the df of every t quantile."""
        return self.psus - self.strata


@dataclass(frozen=True)
class RecordedDefinitions:
    """What a run's notes state about its definitions; None where a run did not record it (a
    warehouse older than these notes)."""

    welfare: str | None = None
    equivalence_scale: str | None = None
    design: DesignSummary | None = None
    min_cell_n: int | None = None


def plural(n: int, one: str, many: str) -> str:
    """'1 stratum', '14 strata': a count with its noun."""
    return f"{n:,} {one if n == 1 else many}"


def welfare_words(welfare: WelfareDefinition) -> str:
    """The welfare concept and unit in words: 'consumption per person per year, in LCU (…)'."""
    per = "adult equivalent" if welfare.basis == "adult_equivalent" else "person"
    return (
        f"{welfare.concept} per {per} per year, in {welfare.currency} "
        f"({BASIS_WORDS[welfare.basis]})"
    )


def design_summary(frame: pl.DataFrame, *, has_strata: bool, has_psus: bool) -> DesignSummary:
    """Strata, PSUs and households of an analysis frame with its design columns (``strata``,
    ``psu`` nested in strata: :func:`transforms.household.add_design_columns`)."""
    return DesignSummary(
        strata=frame["strata"].n_unique(),
        psus=frame["psu"].n_unique(),
        households=frame.height,
        has_strata=has_strata,
        has_psus=has_psus,
    )


def design_words(design: DesignSummary) -> str:
    """The design in words: '14 strata and 280 PSUs over 1,500 households, so 266 degrees of
    freedom (PSUs − strata) …', naming a column the survey did not map."""
    words = (
        f"{plural(design.strata, 'stratum', 'strata')} and {plural(design.psus, 'PSU', 'PSUs')} "
        f"over {plural(design.households, 'household', 'households')}, so "
        f"{plural(design.degrees_of_freedom, 'degree', 'degrees')} of freedom (PSUs − strata) "
        "for every standard error and 95 % confidence interval"
    )
    if not design.has_strata:
        words += "; no strata column: one stratum"
    if not design.has_psus:
        words += "; no PSU column: each household is its own PSU"
    return words


def analysis_notes(welfare: WelfareDefinition, design: DesignSummary) -> list[str]:
    """The analysis stage's definition notes: welfare, equivalence scale, survey design."""
    scale = welfare.equivalence_scale if welfare.basis == "adult_equivalent" else None
    return [
        f"{WELFARE}: {welfare_words(welfare)}",
        f"{EQUIVALENCE_SCALE}: {SCALE_WORDS[scale]}",
        f"{SURVEY_DESIGN}: {design_words(design)}",
    ]


def disclosure_note(disclosure: Disclosure) -> str:
    """The disclosure threshold as a note: '10 households: an estimate resting on fewer …'."""
    return (
        f"{DISCLOSURE_THRESHOLD}: {plural(disclosure.min_cell_n, 'household', 'households')}: "
        "an estimate resting on fewer households surveyed is suppressed (disclosure.min_cell_n)"
    )


def term_of(note: str) -> tuple[str, str] | None:
    """A definition note split into (term, definition); None for any other note."""
    term, _, definition = note.partition(": ")
    return (term, definition) if term in TERMS and definition else None


def is_definition(note: str) -> bool:
    """Whether a note is one of the definition notes written here."""
    return term_of(note) is not None


def number(text: str) -> int:
    """An integer written with thousands separators: '1,500' -> 1500."""
    return int(text.replace(",", ""))


def read_design(words: str) -> DesignSummary | None:
    """The design back from :func:`design_words` (None when the words do not match)."""
    found = DESIGN_PATTERN.match(words)
    if found is None:
        return None
    return DesignSummary(
        strata=number(found["strata"]),
        psus=number(found["psus"]),
        households=number(found["households"]),
        has_strata="no strata column" not in words,
        has_psus="no PSU column" not in words,
    )


def read_definitions(notes: Iterable[str]) -> RecordedDefinitions:
    """The definitions stated by a run's notes (the note text, without its stage); the first
    note of each term counts."""
    found: dict[str, str] = {}
    for note in notes:
        split = term_of(note)
        if split is not None:
            found.setdefault(*split)
    threshold = THRESHOLD_PATTERN.match(found.get(DISCLOSURE_THRESHOLD, ""))
    design = found.get(SURVEY_DESIGN)
    return RecordedDefinitions(
        welfare=found.get(WELFARE),
        equivalence_scale=found.get(EQUIVALENCE_SCALE),
        design=None if design is None else read_design(design),
        min_cell_n=None if threshold is None else number(threshold["n"]),
    )
