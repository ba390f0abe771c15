"""The run's PMT scores as files beside its analysis file.

Tasks that run on Dask workers read them there (as they read the analysis file) instead of
receiving every household's scores in their arguments, which Dask would ship inside the task
graph (76 MiB for four models at 1M households, with a warning). Parquet for the per-household
arrays, in the analysis file's row order; JSON for each model's few numbers. Floats round-trip
exactly in both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

from transforms.pmt_evaluation import ModelScores

ARRAYS = ("p_poor", "fold", "in_sample_p_poor")
"""The per-household fields of ModelScores; the others are the model's numbers."""


def sidecar(path: Path) -> Path:
    """The JSON file holding each model's numbers beside the scores' Parquet file."""
    return path.with_suffix(".json")


def write_model_scores(path: Path, scores: Sequence[ModelScores]) -> None:
    """Every model's per-household arrays as columns ``<k>.<field>`` of one Parquet file, its
    other fields in the JSON sidecar, in the given model order."""
    columns = {
        f"{k}.{field}": getattr(model, field)
        for k, model in enumerate(scores)
        for field in ARRAYS
        if getattr(model, field) is not None
    }
    numbers = [
        {name: plain(value) for name, value in vars(model).items() if name not in ARRAYS}
        for model in scores
    ]
    pl.DataFrame(columns).write_parquet(path)
    sidecar(path).write_text(json.dumps(numbers))


def plain(value: object) -> object:
    """A numpy scalar as the Python number it holds (JSON writes those); others unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def read_model_scores(path: Path, models: Sequence[str] | None = None) -> list[ModelScores]:
    """The scores written by :func:`write_model_scores` (only ``models``, in their order, when
    given); the arrays as the numpy arrays they were."""
    numbers = json.loads(sidecar(path).read_text())
    order = [entry["model"] for entry in numbers]
    wanted = list(models) if models is not None else order
    unknown = sorted(set(wanted) - set(order))
    if unknown:
        raise ValueError(f"no scores for models {unknown} in {path}")
    indices = [order.index(name) for name in wanted]
    present = set(pl.read_parquet_schema(path))
    read = [f"{k}.{field}" for k in indices for field in ARRAYS if f"{k}.{field}" in present]
    frame = pl.read_parquet(path, columns=read) if read else pl.DataFrame()

    def array(k: int, field: str) -> np.ndarray | None:
        name = f"{k}.{field}"
        return frame[name].to_numpy() if name in frame.columns else None

    return [
        ModelScores(
            **{
                **numbers[k],
                "p_poor": array(k, "p_poor"),
                "fold": array(k, "fold"),
                "in_sample_p_poor": array(k, "in_sample_p_poor"),
            }
        )
        for k in indices
    ]
