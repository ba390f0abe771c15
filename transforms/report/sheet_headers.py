"""Readable column headers of the workbook's data sheets, and labels of contract columns.

Targeting rates carry their catalogue label (with ', SE', ', 95% CI low', … for their
uncertainty columns); the few other columns whose names do not read well are spelled out in
:data:`HEADERS`; every other name reads as words ('rows_read' -> 'Rows read').
"""

from __future__ import annotations

from transforms.catalogue import TARGETING, indicators_of

HEADERS = {
    "run_id": "Run ID",
    "n_obs": "Households surveyed (unweighted)",
    "n_train": "Training households per fold",
    "auc": "AUC",
    "se": "SE",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "cv_scheme": "Cross-validation scheme",
    "programmes": "Programmes received",
    "psus": "PSUs",
    "started_at": "Started at (UTC)",
    "finished_at": "Finished at (UTC)",
}
SUFFIXES = (("_se", ", SE"), ("_ci_low", ", 95% CI low"), ("_ci_high", ", 95% CI high"))


def rate_labels() -> dict[str, str]:
    """Each targeting rate's catalogue label, by column name."""
    return {item.name: item.label for item in indicators_of(TARGETING)}


def readable_header(name: str) -> str:
    """A column name as a header: 'exclusion_error_ci_low' -> 'Exclusion error (share of the
    poor missed), 95% CI low'; targeting rates carry their catalogue label."""
    labels = rate_labels()
    if name in HEADERS or name in labels:
        return HEADERS.get(name) or labels[name]
    for suffix, words in SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in labels:
            return labels[name.removesuffix(suffix)] + words
    text = name.replace("_", " ").replace("sha256", "SHA-256").replace(" gdp", " GDP")
    return text[:1].upper() + text[1:]
