"""A pre-processing hook: the household welfare aggregate derived from expenditure modules.

Surveys often deliver consumption as item-level modules (food over 7 days, non-food over
30 days, ...) instead of one aggregate. This hook sums them to an annual per-capita value
and adds it to the household file as ``consumption_pc_annual``, which the column map then
reads as ``welfare``. Reference it from the household input of the audit config:

    [inputs.households]
    path = "households.parquet"
    preprocess = ["welfare_from_expenditure.py:welfare_from_expenditure"]

    [inputs.households.columns]
    welfare = "consumption_pc_annual"

Households with no expenditure rows get no welfare and are quarantined by the row rules
with the reason "missing value (required)"; the hook never drops a row.
"""

from __future__ import annotations

import polars as pl

from transforms.io.hooks import HookContext

MODULE_FILE = "expenditure.parquet"
"""Item-level module next to the household file: HHID, item, amount, recall_days."""
HOUSEHOLD_ID = "HHID"
HOUSEHOLD_SIZE = "hhsize"
DAYS_PER_YEAR = 365.0


def welfare_from_expenditure(frame: pl.LazyFrame, context: HookContext) -> pl.LazyFrame:
    """Add consumption_pc_annual = Σ amount × 365 / recall_days ÷ household size."""
    modules = pl.scan_parquet(context.source.parent / MODULE_FILE)
    annual = modules.group_by(HOUSEHOLD_ID).agg(
        (pl.col("amount") * DAYS_PER_YEAR / pl.col("recall_days")).sum().alias("__annual")
    )
    return (
        frame.join(annual, on=HOUSEHOLD_ID, how="left", maintain_order="left")
        .with_columns(
            (pl.col("__annual") / pl.col(HOUSEHOLD_SIZE).cast(pl.Float64)).alias(
                "consumption_pc_annual"
            )
        )
        .drop("__annual")
    )
