"""The checks on the analysis frame: hand-made frames with known answers."""

from __future__ import annotations

from typing import Any

import polars as pl

from transforms.config import HouseholdInput, MemberInput, PovertyLine, Programme
from transforms.expectations import analysis_checks, over_quarantine_ceiling


def households(**columns: str) -> HouseholdInput:
    """A household file map (hh.csv) with hh_id, region, hh_size, welfare and ``columns``."""
    mapped = {"hh_id": "id", "region": "r", "hh_size": "n", "welfare": "y", **columns}
    return HouseholdInput.model_validate(
        {"path": "/survey/hh.csv", "columns": mapped}, context={"check_files": False}
    )


MEMBERS = MemberInput.model_validate(
    {"path": "/survey/members.csv", "columns": {"hh_id": "id", "person_id": "p", "age": "a"}},
    context={"check_files": False},
)
LINES = [
    PovertyLine(name="national", method="national", national_line=50.0),
    PovertyLine(name="high", method="national", national_line=1e6),
]
PROGRAMMES = [
    Programme(name="cash", receives="b"),
    Programme(name="pension", amount="pens", level="member"),
]


def frame(**overrides: list[Any]) -> pl.DataFrame:
    """Four households in three PSUs: two poor under the national line, all under 'high'; the
    cash programme reaches one, the pension none."""
    columns: dict[str, list[Any]] = {
        "psu": ["s1\u241fa", "s1\u241fa", "s1\u241fb", "s2\u241fa"],
        "person_weight": [2.0, 2.0, 3.0, 3.0],
        "is_poor__0": [True, False, True, False],
        "poverty_line__0": [50.0] * 4,
        "is_poor__1": [True] * 4,
        "poverty_line__1": [1e6] * 4,
        "receives_benefit__0": [False, True, False, False],
        "receives_benefit__1": [False] * 4,
    }
    return pl.DataFrame({**columns, **overrides})


def checked(data: pl.DataFrame, *, folds: int | None = 5) -> dict[str, dict[str, Any]]:
    """Each analysis check's row, by column (and line name for the poverty rates)."""
    rows = analysis_checks(
        data,
        households=households(strata="s", psu="ea"),
        members=MEMBERS,
        programmes=PROGRAMMES,
        lines=LINES,
        weight="person_weight",
        folds=folds,
    )
    assert {row["table_name"] for row in rows} == {"analysis"}
    assert {row["severity"] for row in rows} == {"error"}
    return {f"{row['column_name']}#{i}": row for i, row in enumerate(rows)}


def test_each_check_names_file_column_observed_and_threshold() -> None:
    rows = checked(frame())
    psu, national, high, cash, pension = rows.values()
    assert psu["expectation"] == "expect_psu_count_to_be_at_least_folds"
    assert not psu["success"]
    assert psu["observed"].startswith(
        "/survey/hh.csv: 3 PSUs (distinct strata x psu, columns 's' x 'ea'); models.folds = 5 "
        "needs at least 5: every cross-validation fold holds whole PSUs"
    )
    assert national["success"] and national["column_name"] == "welfare"
    assert national["observed"] == (
        "/survey/hh.csv: poverty line 'national' (national, 50.00 per person per year): 2 of 4 "
        "households have pre-transfer welfare (column 'y') below it, a poverty rate of 0.5"
    )
    assert not high["success"]
    assert "4 of 4 households have pre-transfer welfare (column 'y') below it" in high["observed"]
    assert (
        "a poverty rate of 1; it must be strictly between 0 and 1 (everybody is poor"
        in (high["observed"])
    )
    assert cash["success"] and cash["column_name"] == "programmes.cash.receives"
    assert cash["observed"] == (
        "/survey/hh.csv: programme 'cash': 1 of 4 households receive it (column 'b', true "
        "codes 1, '1', 'yes', 'true')"
    )
    assert not pension["success"] and pension["column_name"] == "programmes.pension.amount"
    assert pension["observed"].startswith(
        "/survey/members.csv: programme 'pension': 0 of 4 households receive it (column 'pens' "
        "> 0); it needs at least 1 recipient"
    )


def test_thresholds_are_exclusive_where_they_should_be() -> None:
    """Exactly folds PSUs pass; nobody poor fails like everybody poor; no model, no PSU check."""
    assert checked(frame(), folds=3)["psu#0"]["success"]
    assert not checked(frame(), folds=4)["psu#0"]["success"]
    nobody = checked(frame(is_poor__0=[False] * 4))["welfare#1"]
    assert not nobody["success"]
    assert "0 of 4 households" in nobody["observed"]
    assert (
        "a poverty rate of 0; it must be strictly between 0 and 1 (nobody is poor"
        in (nobody["observed"])
    )
    assert "psu#0" not in checked(frame(), folds=None)


def test_the_rate_is_weighted_by_the_unit() -> None:
    """Households 1 and 3 are poor: (2 + 3) / 10 persons."""
    rows = checked(frame())
    assert "2 of 4 households" in rows["welfare#1"]["observed"]
    assert rows["welfare#1"]["observed"].endswith("a poverty rate of 0.5")
    lopsided = checked(frame(person_weight=[1.0, 1.0, 7.0, 1.0]))
    assert lopsided["welfare#1"]["observed"].endswith("a poverty rate of 0.8")


def test_the_quarantine_ceiling_message_names_the_setting_without_brackets() -> None:
    """The CLI prints errors through rich, which reads '[validation]' as markup and drops it:
    the message said 'raise the ceiling in  if these rows are rightly left out'."""
    message = over_quarantine_ceiling(
        "/survey/hh.csv", 10, 2, {"weight: must be > 0": 2, "hh_size: must be >= 1": 1}, 0.05
    )
    assert message == (
        "/survey/hh.csv: 2 of 10 rows quarantined (20.0%), above "
        "validation.max_quarantine_share = 0.05. Commonest reasons: weight: must be > 0 "
        "(2 rows); hh_size: must be >= 1 (1 rows). Fix the data or the column map "
        "(`welfare-audit validate` lists every reason), or raise "
        "validation.max_quarantine_share if these rows are rightly left out."
    )
    assert over_quarantine_ceiling("/survey/hh.csv", 100, 5, {}, 0.05) is None


def test_each_check_states_what_it_requires_in_words() -> None:
    from transforms.expectations import Expectation, expected_text

    assert expected_text("ExpectColumnValuesToBeBetween", {"column": "n_psu", "min_value": 2}) == (
        "every value of n_psu at least 2"
    )
    assert expected_text(
        "ExpectColumnValuesToBeBetween", {"column": "x", "min_value": 0.9, "max_value": 1.1}
    ) == ("every value of x between 0.9 and 1.1")
    assert expected_text(
        "ExpectColumnValuesToBeBetween",
        {"column": "n_heads", "min_value": 1, "max_value": 1, "mostly": 0.95},
    ) == ("at least 95% of values of n_heads = 1")
    assert expected_text("ExpectTableRowCountToBeBetween", {"max_value": 10}) == (
        "a row count at most 10"
    )
    assert expected_text(
        "ExpectColumnDistinctValuesToContainSet", {"column": "region", "value_set": list("ab")}
    ) == ("region takes every value of {a, b}")
    assert expected_text(
        "ExpectColumnPairValuesToBeEqual", {"column_A": "hh_size", "column_B": "n_members"}
    ) == ("hh_size = n_members in every row")
    many = Expectation(
        "t", "ExpectColumnValuesToBeInSet", {"column": "c", "value_set": list(range(20))}
    )
    assert (
        many.expected == "every value of c in {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, … (20 in all)}"
    )
    assert expected_text("ExpectSomethingElse", {"b": 2, "a": 1}) == "a = 1; b = 2"


def test_the_analysis_checks_record_their_thresholds() -> None:
    psu, national, high, cash, pension = checked(frame(), folds=5).values()
    assert psu["expected"] == "at least 5 PSUs (models.folds)"
    assert national["expected"] == "under line 'national', a poverty rate strictly between 0 and 1"
    assert high["expected"] == "under line 'high', a poverty rate strictly between 0 and 1"
    assert cash["expected"] == "programme 'cash': at least 1 recipient"
    assert pension["expected"] == "programme 'pension': at least 1 recipient"
