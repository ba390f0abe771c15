"""The definitions a run records in its notes (welfare, scale, design, threshold) and reads back."""

from __future__ import annotations

import polars as pl

from transforms.config import Disclosure, PovertyLine, Targeting, WelfareDefinition
from transforms.definitions import (
    DesignSummary,
    analysis_notes,
    disclosure_note,
    is_definition,
    read_definitions,
)
from transforms.household import prepare_households

NATIONAL = PovertyLine.model_validate(
    {"name": "national", "method": "national"} | {"national_line": 10.0}
)


def households(**design: list[str]) -> pl.DataFrame:
    """Six staged households, welfare 5..30 per person, optionally with strata and PSUs."""
    frame = pl.DataFrame(
        {
            "hh_id": [f"h{i}" for i in range(6)],
            "region": ["A"] * 6,
            "hh_size": [1, 2, 3, 1, 2, 3],
            "welfare": [5.0, 10, 15, 20, 25, 30],
        }
    )
    return frame.with_columns(pl.Series(name, values) for name, values in design.items())


def test_the_design_counts_strata_and_psus_nested_in_strata() -> None:
    """Strata a (PSUs 1, 2) and b (PSU 1, another PSU than a's 1): 2 strata, 3 PSUs, df 1."""
    staged = households(strata=["a", "a", "a", "b", "b", "b"], psu=["1", "1", "2", "1", "1", "1"])
    notes = prepare_households(
        staged,
        None,
        None,
        welfare=WelfareDefinition(currency="XOF"),
        programmes=[],
        poverty_lines=[NATIONAL],
        targeting=Targeting(),
    ).notes
    recorded = read_definitions(notes)
    assert recorded.design == DesignSummary(strata=2, psus=3, households=6)
    assert recorded.design.degrees_of_freedom == 1
    assert recorded.welfare == (
        "consumption per person per year, in XOF (the welfare column as delivered, per person)"
    )
    assert recorded.equivalence_scale == "none: every member counts as one person"
    assert (
        "survey design: 2 strata and 3 PSUs over 6 households, so 1 degree of freedom" in notes[-1]
    )


def test_without_design_columns_each_household_is_its_own_psu() -> None:
    notes = prepare_households(
        households(),
        None,
        None,
        welfare=WelfareDefinition(basis="adult_equivalent", equivalence_scale="oecd_modified"),
        programmes=[],
        poverty_lines=[NATIONAL],
        targeting=Targeting(),
    ).notes
    recorded = read_definitions(notes)
    assert recorded.design == DesignSummary(1, 6, 6, has_strata=False, has_psus=False)
    assert recorded.design.degrees_of_freedom == 5  # n − 1, as section 7.4 of the methodology
    assert recorded.welfare is not None and "per adult equivalent per year" in recorded.welfare
    assert recorded.equivalence_scale is not None
    assert recorded.equivalence_scale.startswith("OECD-modified: 1 for the first adult, 0.5")
    design = next(note for note in notes if note.startswith("survey design"))
    assert design.endswith(
        "; no strata column: one stratum; no PSU column: each household is its own PSU"
    )


def test_the_threshold_and_the_design_read_back_from_their_notes() -> None:
    design = DesignSummary(strata=1, psus=12_345, households=20_000, has_strata=False)
    welfare = WelfareDefinition(basis="household", concept="income", currency="MWK")
    notes = [
        "no region column: the audit is national only (region 'national')",
        *analysis_notes(welfare, design),
        disclosure_note(Disclosure(min_cell_n=1)),
        disclosure_note(Disclosure(min_cell_n=25)),  # the first of a term counts
    ]
    recorded = read_definitions(notes)
    assert recorded.design == design
    assert recorded.min_cell_n == 1
    assert recorded.welfare == (
        "income per person per year, in MWK (the household total divided by the number of members)"
    )
    assert notes[-1] == (
        "disclosure threshold: 25 households: an estimate resting on fewer households surveyed "
        "is suppressed (disclosure.min_cell_n)"
    )
    assert [is_definition(note) for note in notes] == [False, True, True, True, True, True]
    assert read_definitions(["welfare:", "survey design: unknown"]).design is None
    assert read_definitions([]).min_cell_n is None
