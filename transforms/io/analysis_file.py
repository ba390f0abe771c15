"""The run's analysis file: the analysis frame every stage after the analysis reads.

Written as one row group, so that each column reads back as one memory chunk without a copy.
Polars copies a whole frame whose columns lie in different chunks at every expression over
it: a frame read in several chunks, then given a one-chunk column (a model's folds or
selections), would be copied once per estimator pass (at 1M households, one model's
targeting table peaked about 0.25 GiB higher for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl


def write_analysis(frame: pl.DataFrame, path: Path | str) -> None:
    """The analysis frame as a Parquet file of one row group."""
    frame.write_parquet(path, row_group_size=max(frame.height, 1))


def read_analysis(path: Path | str, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The analysis file (only ``columns`` when given), one memory chunk per column (a file
    written otherwise is rechunked: a copy, made once here)."""
    frame = pl.read_parquet(path, columns=list(columns) if columns is not None else None)
    return frame.rechunk()
