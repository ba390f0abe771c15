"""The run's PMT scores file (transforms.io.scores): what tasks on Dask workers read."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from transforms.io.scores import read_model_scores, write_model_scores
from transforms.pmt_evaluation import ModelScores


def scores(name: str, seed: int, *, in_sample: bool) -> ModelScores:
    """A model's scores with awkward values: subnormal, 1 - 2^-53, NaN AUC, numpy integers."""
    rng = np.random.default_rng(seed)
    p_poor = rng.random(50)
    p_poor[:2] = [5e-324, 1.0 - 2.0**-53]
    return ModelScores(
        model=name,
        p_poor=p_poor,
        fold=rng.integers(0, 5, 50),
        auc=float("nan") if in_sample else 0.1 + 0.2,
        n_train=np.int64(40),  # type: ignore[arg-type]  # as numpy hands it over
        cv_scheme="5-fold by PSU",
        artifact_sha256="ab" * 32,
        in_sample_p_poor=rng.random(50) if in_sample else None,
        final_n_train=50 if in_sample else None,
        in_sample_auc=0.75 if in_sample else None,
    )


def same(first: ModelScores, second: ModelScores) -> bool:
    """Every field equal, arrays bit for bit, NaN equal to NaN."""
    for name, value in vars(first).items():
        other = getattr(second, name)
        if isinstance(value, np.ndarray):
            if not (isinstance(other, np.ndarray) and value.tobytes() == other.tobytes()):
                return False
            if value.dtype != other.dtype:
                return False
        elif isinstance(value, float) and math.isnan(value):
            if not (isinstance(other, float) and math.isnan(other)):
                return False
        elif value != other:
            return False
    return True


def test_scores_come_back_bit_for_bit_in_the_asked_order(tmp_path: Path) -> None:
    written = [scores("ols", 1, in_sample=True), scores("rf", 2, in_sample=False)]
    path = tmp_path / "model_scores.parquet"
    write_model_scores(path, written)
    assert all(same(a, b) for a, b in zip(written, read_model_scores(path), strict=True))
    (rf,) = read_model_scores(path, ["rf"])
    assert same(rf, written[1]) and rf.in_sample_p_poor is None
    backwards = read_model_scores(path, ["rf", "ols"])
    assert [s.model for s in backwards] == ["rf", "ols"] and same(backwards[1], written[0])


def test_no_models_and_unknown_models(tmp_path: Path) -> None:
    path = tmp_path / "model_scores.parquet"
    write_model_scores(path, [])
    assert read_model_scores(path) == []
    write_model_scores(path, [scores("ols", 1, in_sample=False)])
    with pytest.raises(ValueError, match=r"no scores for models \['hgb'\]"):
        read_model_scores(path, ["ols", "hgb"])
