"""Published keys as a reader reads them: methods, decision rules, groups and their values,
poverty-line methods, units, need tiers and benefit bands, validation expectations.

The warehouse keeps its keys (``pmt:ols``, ``rate:poverty_rate``, ``quintile_post``,
``extreme_poor|band0``, ``currency/year``); the report shows these words. Indicator labels
come from the catalogue (:func:`transforms.catalogue.label`), which puts a name's suffix in
words the same way (:func:`transforms.catalogue.suffix_words`). Names the analyst configured
(programmes, lines, regions, scenarios, financing sources) are shown as configured.
"""

from __future__ import annotations

import re

from transforms.catalogue import method_words

PROGRAMME_METHOD = "program"
DECISION_RULES = {
    "actual": "actual receipt",
    "rate:poverty_rate": "coverage equal to the poverty rate",
    "rate:programme_coverage": "coverage equal to the programme's",
    "line": "predicted poor",
}
"""The decision rules of targeting_errors and model_metrics, in words."""
GROUP_TYPES = {
    "region": "Region",
    "urban": "Urban",
    "quintile": "Welfare quintile",
    "quintile_post": "Welfare quintile after the transfer",
    "decile": "Welfare decile",
    "decile_post": "Welfare decile after the transfer",
    "head_sex": "Sex of household head",
    "has_elderly": "Has a member aged 65+",
    "has_disabled": "Has a member with disability",
}
"""The breakdown groups, in their order in the report."""
QUANTILE_LETTERS = {"quintile": "Q", "quintile_post": "Q", "decile": "D", "decile_post": "D"}
LINE_METHODS = {
    "national": "National line",
    "regional": "Regional lines, from the regions file",
    "national_price_index": "National line × regional price index",
    "relative_percentile": "Relative: a percentile of pre-transfer welfare",
    "relative_median": "Relative: a share of the median pre-transfer welfare",
    "relative_mean": "Relative: a share of the mean pre-transfer welfare",
    "international": "International line (PPP dollars a day in local currency)",
}
NEED_TIERS = {
    "extreme_poor": "Extreme poor (below half the line)",
    "poor": "Poor (below the line)",
    "near_poor": "Near-poor (below 1.5 × the line)",
    "non_poor": "Non-poor",
}
"""The need tiers of tier matching, poorest first."""
BAND = re.compile(r"^band(\d+)$")


def method_text(method: str) -> str:
    """A method in words: 'pmt:ols' -> 'PMT (OLS)' (a no-break space keeps it on one line),
    'program' -> 'programme (actual receipt)'."""
    if method == PROGRAMME_METHOD:
        return "programme (actual receipt)"
    return method_words(method).replace("PMT (", "PMT\u00a0(")


def rule_words(rule: str | None, programme: str | None = None) -> str:
    """A decision rule in words; the programme-coverage rule names its programme when known:
    'coverage equal to dibao's'."""
    if rule == "rate:programme_coverage" and programme is not None:
        return f"coverage equal to {programme}'s"
    if rule is None:
        return "—"
    return DECISION_RULES.get(rule, key_words(rule))


def key_words(key: str) -> str:
    """Any other key in words: 'coverage_female_headed' -> 'coverage female headed'."""
    return re.sub(r"[_:|]+", " ", key).strip()


def group_type_words(kind: str) -> str:
    """A group type in words: 'quintile_post' -> 'Welfare quintile after the transfer'."""
    words = GROUP_TYPES.get(kind) or key_words(kind)
    return words[:1].upper() + words[1:]


def quantile_words(kind: str, value: str) -> str | None:
    """A quintile or decile value in words: '1' -> 'Q1 (poorest)'; None for other groups."""
    letter = QUANTILE_LETTERS.get(kind)
    if letter is None or not value.isdigit():
        return None
    return f"{letter}{value}" + ("\u00a0(poorest)" if value == "1" else "")


def line_method_words(method: str | None) -> str:
    """A poverty line's method in words: 'relative_median' -> 'relative: a share of …'."""
    return "—" if method is None else LINE_METHODS.get(method) or key_words(method).capitalize()


def unit_text(unit: str | None, currency: str = "") -> str:
    """A catalogue unit in words: 'currency/year' -> 'LCU per year', 'fraction' -> 'share'."""
    if not unit:
        return ""
    money = currency or "currency units"
    if unit.startswith("currency"):
        return " per ".join([money, *unit.split("/")[1:]])
    if unit.startswith("fraction"):
        return "share" + unit.removeprefix("fraction")
    return {"difference of fractions": "percentage points"}.get(unit, unit)


def band_words(band: str) -> str:
    """A benefit band in words: 'band0' -> 'No benefit', 'band2' -> 'Benefit band 2'."""
    found = BAND.match(band)
    if found is None:
        return key_words(band)
    return "No benefit" if found[1] == "0" else f"Benefit band {found[1]}"


def tier_words(tier: str) -> tuple[str, str]:
    """A tier cell 'extreme_poor|band0' as (need tier, benefit band) in words."""
    need, _, band = tier.partition("|")
    return NEED_TIERS.get(need, key_words(need)), band_words(band)


def expectation_words(expectation: str) -> str:
    """A Great Expectations check in words: 'expect_column_values_to_be_between' ->
    'Column values to be between'; 'expect_psu_count_…' -> 'PSU count …'."""
    words = re.sub(r"\bpsu\b", "PSU", key_words(expectation.removeprefix("expect_")))
    return words[:1].upper() + words[1:]
